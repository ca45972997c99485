#!/usr/bin/env python3
"""PyTorch reference timings for packages/nm-sparsity/bench/sparsity.bench.ts, measured in the same bench run.

SparseGPT: H = 2/n XᵀX, damping, Hinv = chol(chol_inverse(chol(H)))ᵀ and `fasterprune` (blocks of 128, lazy batch
updates, 8:16 masks on the updated weights), written from the algorithm as in tools/crosscheck/nm_sparsegpt.py, in
float32 like IST-DASLab/sparsegpt. Wanda: ‖X_j‖₂, |W|·‖X‖₂ and the reference's per-group topk loop (locuslab/wanda
`prune_wanda`). Mask selection: the same topk loop over given scores. Matvec: dense float32 W @ x.

Usage: /usr/bin/python3 nm_bench.py '<config json>'   -> one JSON line of median seconds.
"""
import json
import os
import sys
import time

import torch


def median_time(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def sparsegpt_layer(W, X, n, m, blocksize=128, percdamp=0.01):
    W = W.clone()
    rows, cols = W.shape
    H = X.t().matmul(X) * (2.0 / X.shape[0])
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += percdamp * torch.mean(torch.diag(H)) * torch.eye(cols)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        mask1 = torch.zeros_like(W1, dtype=torch.bool)
        for i in range(i2 - i1):
            w = W1[:, i]
            d = Hinv1[i, i]
            if i % m == 0:
                tmp = W1[:, i:(i + m)] ** 2 / (torch.diag(Hinv1)[i:(i + m)].reshape((1, -1))) ** 2
                mask1.scatter_(1, i + torch.topk(tmp, m - n, dim=1, largest=False)[1], True)
            q = w.clone()
            q[mask1[:, i]] = 0
            Q1[:, i] = q
            err1 = (w - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1
        W[:, i1:i2] = Q1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    return W


def nm_mask(metric, n, m):
    mask = torch.zeros_like(metric, dtype=torch.bool)  # True = pruned, as in wanda's W_mask
    for ii in range(metric.shape[1]):
        if ii % m == 0:
            tmp = metric[:, ii:(ii + m)].float()
            mask.scatter_(1, ii + torch.topk(tmp, m - n, dim=1, largest=False)[1], True)
    return mask


def wanda_layer(W, X, n, m):
    norm = torch.sqrt((X ** 2).sum(0))
    metric = W.abs() * norm.reshape((1, -1))
    mask = nm_mask(metric, n, m)
    W = W.clone()
    W[mask] = 0
    return W


def main():
    cfg = json.loads(sys.argv[1])
    threads = int(cfg.get('threads', os.cpu_count() or 1))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = {'torch': torch.__version__, 'threads': threads, 'layers': [], 'mask': [], 'matvec': None}
    for layer in cfg['layers']:
        rows, cols, tokens, reps = layer['rows'], layer['cols'], layer['tokens'], layer['repeats']
        W = torch.randn(rows, cols)
        X = torch.randn(tokens, cols)
        n, m = layer['n'], layer['m']
        sg = median_time(lambda: sparsegpt_layer(W, X, n, m), reps, warmup=layer.get('warmup', 1))
        wd = median_time(lambda: wanda_layer(W, X, n, m), reps, warmup=layer.get('warmup', 1))
        out['layers'].append({'rows': rows, 'cols': cols, 'tokens': tokens, 'sparsegpt_s': sg, 'wanda_s': wd})
    for mk in cfg['mask']:
        S = torch.rand(mk['rows'], mk['cols'])
        out['mask'].append({**mk, 'seconds': median_time(lambda: nm_mask(S, mk['n'], mk['m']), mk['repeats'])})
    mv = cfg.get('matvec')
    if mv is not None:
        W = torch.randn(mv['rows'], mv['cols'])
        x = torch.randn(mv['cols'])
        out['matvec'] = {**mv, 'seconds': median_time(lambda: torch.mv(W, x), mv['repeats'], warmup=3)}
    print(json.dumps(out))


if __name__ == '__main__':
    main()
