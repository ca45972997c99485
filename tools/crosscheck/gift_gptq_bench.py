#!/usr/bin/python3
"""Same-run PyTorch reference for packages/gift-sw/bench/gptq.bench.ts: GPTQ with k salient columns (QUIK layout) on
one linear layer, timed the way the GPTQ reference runs it (float32 torch, CPU threads as set by OMP_NUM_THREADS).

Usage: /usr/bin/python3 tools/crosscheck/gift_gptq_bench.py ROWS COLS K BITS BLOCK REPEATS
Prints one JSON line: {"ms": median milliseconds per layer (scale search + Hessian inverse + the GPTQ loop), ...}.
The algorithm is gift_gptq.py's, with the clip search vectorised over rows (as GPTQ's Quantizer.find_params does).
"""
import json
import sys
import time

import torch


def row_scales(w, bits, keep, points=80):
    hi = 2 ** (bits - 1) - 1
    row = w[:, keep]
    mx = row.abs().amax(1)
    best = torch.full_like(mx, float('inf'))
    best_d = mx / hi
    for s in range(points):
        d = mx * (1 - 0.01 * s) / hi
        ds = torch.where(d == 0, torch.ones_like(d), d).unsqueeze(1)
        q = torch.clamp(torch.round(row / ds), -hi - 1, hi) * ds
        err = ((row - q) ** 2).sum(1)
        better = err < best
        best = torch.where(better, err, best)
        best_d = torch.where(better, d, best_d)
    return best_d


def gptq_quik(w0, h0, salient, bits, blocksize, percdamp=0.01):
    rows, cols = w0.shape
    hi = 2 ** (bits - 1) - 1
    keep = torch.ones(cols, dtype=torch.bool)
    keep[salient] = False
    scale = row_scales(w0, bits, keep)
    s = torch.where(scale == 0, torch.ones_like(scale), scale)
    w = w0.clone()
    h = h0.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    perm = torch.cat([torch.nonzero(keep).flatten(), torch.tensor(sorted(salient))])
    w = w[:, perm]
    h = h[perm][:, perm]
    n = cols - len(salient)
    h += percdamp * torch.mean(torch.diag(h)) * torch.eye(cols)
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    for i1 in range(0, n, blocksize):
        i2 = min(i1 + blocksize, n)
        w1 = w[:, i1:i2].clone()
        q1 = torch.zeros_like(w1)
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = w1[:, i]
            d = hinv1[i, i]
            q = torch.clamp(torch.round(col / s), -hi - 1, hi) * s
            q1[:, i] = q
            e = (col - q) / d
            w1[:, i:] -= e.unsqueeze(1).matmul(hinv1[i, i:].unsqueeze(0))
            err1[:, i] = e
        w[:, i1:i2] = q1
        w[:, i2:] -= err1.matmul(hinv[i1:i2, i2:])
    return w[:, torch.argsort(perm)]


def main():
    rows, cols, k, bits, block, repeats = (int(a) for a in sys.argv[1:7])
    torch.manual_seed(0)
    w = torch.randn(rows, cols)
    x = torch.randn(2048, cols)
    h = 2 / x.shape[0] * x.T.matmul(x)
    salient = list(range(0, cols, cols // k))[:k]
    gptq_quik(w, h, salient, bits, block)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gptq_quik(w, h, salient, bits, block)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(json.dumps({'ms': times[len(times) // 2], 'threads': torch.get_num_threads(), 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
