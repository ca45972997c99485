#!/usr/bin/python3
"""PyTorch cross-check fixture for @sift/tensor-core's linalg (and the Hessian of its stats).

Writes packages/tensor-core/test/fixtures/linalg/torch-linalg.json; src/linalg/crosscheck.test.ts loads it.

Run with Debian's interpreter (torch 1.13, numpy), from the repository root:

    /usr/bin/python3 tools/crosscheck/linalg_fixtures.py

Cases (float64 unless stated; every matrix is stored row-major as a flat list):
  spd_8         random SPD (A Aᵀ/8 + 0.1 I), n = 8: L = torch.linalg.cholesky, inv = torch.cholesky_inverse(L),
                U = torch.linalg.cholesky(inv, upper=True)
  spd_33        n = 33 (not a multiple of any block size), condition number ~1e3 (Q diag(λ) Qᵀ, λ log-spaced)
  sparsegpt     IST-DASLab/sparsegpt's Hinv, verbatim (sparsegpt.py, SparseGPT.fasterprune): calibration inputs
                X [20 tokens, 24 channels] with channel 5 dead (all zero), so H = 2/n XᵀX is rank-deficient.
                Accumulated as SparseGPT.add_batch does (two batches of 12 and 8 tokens, running rescale), then
                dead = diag(H) == 0; H[dead, dead] = 1; H += 0.01·mean(diag H)·I; Hinv = chol(cholinv(chol(H)), upper).
                Stores X, the raw H, the dead list and Hinv.
  sparsegpt_f32 the same computation in float32 on spd_33's matrix (PyTorch's own precision in SparseGPT).
"""
import json
import os

import torch

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'tensor-core', 'test', 'fixtures', 'linalg', 'torch-linalg.json')


def flat(t):
    return [float(v) for v in t.reshape(-1).tolist()]


def chol_route(a):
    l = torch.linalg.cholesky(a)
    inv = torch.cholesky_inverse(l)
    u = torch.linalg.cholesky(inv, upper=True)
    return l, inv, u


cases = {}

a = torch.randn(8, 8, dtype=torch.float64)
a8 = a @ a.T / 8 + 0.1 * torch.eye(8, dtype=torch.float64)
l, inv, u = chol_route(a8)
cases['spd_8'] = {'n': 8, 'a': flat(a8), 'l': flat(l), 'inv': flat(inv), 'u': flat(u)}

n = 33
q, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64))
lam = torch.logspace(0, -3, n, dtype=torch.float64)
a33 = q @ torch.diag(lam) @ q.T
a33 = (a33 + a33.T) / 2
l, inv, u = chol_route(a33)
cases['spd_33'] = {'n': n, 'cond': 1e3, 'a': flat(a33), 'l': flat(l), 'inv': flat(inv), 'u': flat(u)}

# SparseGPT, verbatim from IST-DASLab/sparsegpt sparsegpt.py (add_batch with a running rescale, then fasterprune).
d = 24
x = torch.randn(20, d, dtype=torch.float64).round(decimals=3)
x[:, 5] = 0
H = torch.zeros((d, d), dtype=torch.float64)
nsamples = 0
for inp in (x[:12], x[12:]):
    tmp = inp.shape[0]
    H *= nsamples / (nsamples + tmp)
    nsamples += tmp
    inp = (2 / nsamples) ** 0.5 * inp.t()
    H += inp.matmul(inp.t())
h_raw = H.clone()
dead = torch.diag(H) == 0
H[dead, dead] = 1
percdamp = 0.01
damp = percdamp * torch.mean(torch.diag(H))
diag = torch.arange(d)
H[diag, diag] += damp
H = torch.linalg.cholesky(H)
H = torch.cholesky_inverse(H)
H = torch.linalg.cholesky(H, upper=True)
cases['sparsegpt'] = {
    'n': d, 'tokens': 20, 'x': flat(x), 'h': flat(h_raw), 'dead': torch.nonzero(dead).reshape(-1).tolist(),
    'percdamp': percdamp, 'hinv': flat(H),
}

h32 = a33.float()
damp32 = percdamp * torch.mean(torch.diag(h32))
h32[torch.arange(n), torch.arange(n)] += damp32
_, _, u32 = chol_route(h32)
cases['sparsegpt_f32'] = {'n': n, 'percdamp': percdamp, 'a': flat(a33), 'hinv': flat(u32.double())}

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as f:
    json.dump({'generator': 'tools/crosscheck/linalg_fixtures.py', 'torch': torch.__version__, 'cases': cases}, f)
print(f'wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)')
