#!/usr/bin/python3
"""PyTorch cross-check fixture for @sift/gift-sw's quantizers (RTN grid and GPTQ with salient columns, QUIK-style).

Writes packages/gift-sw/test/fixtures/gptq-torch.json; packages/gift-sw/src/quant/crosscheck.test.ts loads it.

Run with Debian's interpreter (torch 1.13), from the repository root:

    /usr/bin/python3 tools/crosscheck/gift_gptq.py

Written from the algorithms, in float64 (weights are float32 values):
  - grid: symmetric per-row, Δ_i = α_i / (2^{b-1} - 1), codes clamp(round(w/Δ), -2^{b-1}, 2^{b-1}-1) (torch.round:
    half to even), α_i = p·max|w_i| over the non-salient columns, p = 1.00, 0.99, ... (80 points), min Σ(w - Q(w))²
    (GIFT-SW App. A); Δ rounded to float32 as the TypeScript side stores it.
  - GPTQ (Frantar et al. 2023, Alg. 1 / IST-DASLab/gptq `fasterquant`): dead inputs (H_jj = 0) -> H_jj = 1, W[:, j] = 0;
    H += percdamp·mean(diag H)·I; Hinv = chol(cholesky_inverse(chol(H)), upper); blocks of `blocksize` columns with
    the lazy update W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:].
  - QUIK (IST-DASLab/QUIK): the salient columns are permuted to the end (W and H alike) and never quantized; only the
    first in - k columns run through the loop, so their errors flow into the salient columns; permuted back at the end.
Cases: rows 12, cols 40, k 4 salient columns, block size 16 (three blocks, the last partial), bits 2, 3, 4 and 8;
calibration X [64 tokens, 40] with heavy-tailed channels and one dead channel.
"""
import json
import os

import torch

torch.manual_seed(7)
OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'gift-sw', 'test', 'fixtures', 'gptq-torch.json')


def flat(t):
    return [float(v) for v in t.reshape(-1).tolist()]


def row_scales(w, bits, skip, points=80):
    hi = 2 ** (bits - 1) - 1
    keep = ~skip
    out = torch.zeros(w.shape[0], dtype=torch.float64)
    for i in range(w.shape[0]):
        row = w[i, keep]
        mx = float(row.abs().max())
        if mx == 0:
            continue
        best, best_d = float('inf'), None
        for s in range(points):
            d = float(torch.tensor((mx * (1 - 0.01 * s)) / hi, dtype=torch.float32))
            q = torch.clamp(torch.round(row / d), -hi - 1, hi) * d
            err = float(((row - q) ** 2).sum())
            if err < best:
                best, best_d = err, d
        out[i] = best_d
    return out


def quant(x, scale, bits):
    hi = 2 ** (bits - 1) - 1
    s = torch.where(scale == 0, torch.ones_like(scale), scale)
    q = torch.clamp(torch.round(x / s), -hi - 1, hi)
    return torch.where(scale == 0, torch.zeros_like(x), q * scale)


def gptq_quik(w0, h0, salient, bits, blocksize=16, percdamp=0.01):
    rows, cols = w0.shape
    skip = torch.zeros(cols, dtype=torch.bool)
    skip[salient] = True
    scale = row_scales(w0, bits, skip)
    w = w0.clone()
    h = h0.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    perm = torch.cat([torch.nonzero(~skip).flatten(), torch.tensor(sorted(salient))])
    w = w[:, perm]
    h = h[perm][:, perm]
    n = cols - len(salient)
    h = h + percdamp * torch.mean(torch.diag(h)) * torch.eye(cols, dtype=torch.float64)
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q_all = w.clone()
    for i1 in range(0, n, blocksize):
        i2 = min(i1 + blocksize, n)
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = w1[:, i]
            d = hinv1[i, i]
            q = quant(col, scale, bits)
            q_all[:, i1 + i] = q
            e = (col - q) / d
            w1[:, i:] -= e.unsqueeze(1).matmul(hinv1[i, i:].unsqueeze(0))
            err1[:, i] = e
        w[:, i1:i2] = q_all[:, i1:i2]
        w[:, i2:] -= err1.matmul(hinv[i1:i2, i2:])
    q_all[:, n:] = w[:, n:]
    inv = torch.argsort(perm)
    return q_all[:, inv], scale


def rtn(w0, salient, bits):
    skip = torch.zeros(w0.shape[1], dtype=torch.bool)
    skip[salient] = True
    scale = row_scales(w0, bits, skip)
    q = quant(w0, scale.unsqueeze(1), bits)
    q[:, skip] = w0[:, skip]
    return q, scale


def main():
    rows, cols, tokens = 12, 40, 64
    w = torch.randn(rows, cols).float().double()
    w[:, 3] *= 6  # an outlier column the salient set includes
    x = torch.randn(tokens, cols, dtype=torch.float64) * (torch.rand(cols, dtype=torch.float64) * 3 + 0.2)
    x[:, 11] = 0  # a dead input channel
    x[:5, 20] *= 25  # rare large activations
    x = x.float().double()
    h = 2 / tokens * x.T.matmul(x)
    salient = [3, 20, 27, 39]
    cases = []
    for bits in (2, 3, 4, 8):
        qg, sg = gptq_quik(w, h, salient, bits)
        qr, sr = rtn(w, salient, bits)
        cases.append({'bits': bits, 'gptq': flat(qg), 'gptqScales': flat(sg), 'rtn': flat(qr), 'rtnScales': flat(sr)})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump({'rows': rows, 'cols': cols, 'tokens': tokens, 'blockSize': 16, 'damp': 0.01, 'salient': salient,
                   'weight': flat(w), 'x': flat(x), 'torch': torch.__version__, 'cases': cases}, f)
        f.write('\n')
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
