#!/usr/bin/python3
"""PyTorch cross-check fixture for @sift/tensor-core's nn layers and optimizers.

Builds small examples with fixed (seeded) weights in PyTorch 1.13 and writes inputs, weights, outputs and gradients
to packages/tensor-core/test/fixtures/nn/torch-nn.json; src/nn/crosscheck.test.ts loads it and compares outputs,
gradients and optimizer steps within atol/rtol 1e-5 (float32 on both sides).

Run with Debian's interpreter (torch 1.13, numpy), from the repository root:

    /usr/bin/python3 tools/crosscheck/nn_fixtures.py

Cases (all float32, batch-first):
  linear        nn.Linear(4, 5) on x [2, 3, 4]
  layer_norm    nn.LayerNorm(6) with non-trivial weight/bias, eps 1e-5
  rms_norm      Llama's LlamaRMSNorm, written out (x * rsqrt(mean(x^2) + eps) * weight), eps 1e-6
  activations   F.gelu (exact and approximate='tanh'), F.silu on 24 points in [-4, 4]
  embedding     nn.Embedding(7, 3, padding_idx=0) on ids with duplicates; grad of sum(out * r)
  mha           nn.MultiheadAttention(8, 2 heads, batch_first) with a causal attn_mask and a key_padding_mask
                (right padding); outputs and gradients of sum(y * r) w.r.t. x and every weight. Sift's q/k/v_proj are
                the three row blocks of in_proj_weight, o_proj is out_proj.
  llama_attn    Llama-style attention written out as in HF transformers 4.x modeling_llama: 4 query heads, 2 kv
                heads (GQA, repeat_kv), head dim 4, RoPE (rotate_half, theta 10000), no bias, causal + left-padding
                mask, positions = cumsum(mask) - 1. Rows of padded queries are fully masked (HF fills them with
                garbage), so the fixture lists the valid (b, t) rows and the test compares only those.
  gru           nn.GRU(3, 4, num_layers=2, batch_first) on a packed batch with lengths [5, 3, 1]: padded output,
                h_n, and gradients of sum(out * r1) + sum(h_n * r2) w.r.t. every weight.
  adamw         torch.optim.AdamW, two param groups (weight_decay 0.1 and 0.0), lr 1e-2, betas (0.9, 0.99), 5 steps
                with fixed gradients; parameters after every step.
  sgd           torch.optim.SGD(lr 0.1, momentum 0.9, nesterov, weight_decay 0.01), 4 steps.
  clip          torch.nn.utils.clip_grad_norm_(max_norm 1.0) on three gradients: total norm and clipped values.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'tensor-core', 'test', 'fixtures', 'nn', 'torch-nn.json')

torch.manual_seed(1234)
torch.set_default_dtype(torch.float32)


def t2j(t):
    """A tensor as {shape, data} with float32 values printed with 9 significant digits (exact for float32)."""
    t = t.detach().to(torch.float32).contiguous()
    return {'shape': list(t.shape), 'data': [float('%.9g' % v) for v in t.reshape(-1).tolist()]}


def i2j(t):
    return {'shape': list(t.shape), 'data': [int(v) for v in t.reshape(-1).tolist()]}


def randn(*shape, scale=1.0):
    return torch.randn(*shape) * scale


fx = {'torch': torch.__version__}

# ---------------------------------------------------------------- linear
lin = nn.Linear(4, 5)
x = randn(2, 3, 4)
fx['linear'] = {'x': t2j(x), 'weight': t2j(lin.weight), 'bias': t2j(lin.bias), 'y': t2j(lin(x))}

# ---------------------------------------------------------------- layer norm / rms norm
ln = nn.LayerNorm(6, eps=1e-5)
with torch.no_grad():
    ln.weight.copy_(1 + 0.3 * randn(6))
    ln.bias.copy_(0.2 * randn(6))
x = randn(2, 3, 6) * 2 + 0.5
fx['layer_norm'] = {'x': t2j(x), 'weight': t2j(ln.weight), 'bias': t2j(ln.bias), 'eps': 1e-5, 'y': t2j(ln(x))}

w = 1 + 0.3 * randn(6)
x = randn(2, 3, 6)
eps = 1e-6
y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w
fx['rms_norm'] = {'x': t2j(x), 'weight': t2j(w), 'eps': eps, 'y': t2j(y)}

# ---------------------------------------------------------------- activations
x = torch.linspace(-4, 4, 24)
fx['activations'] = {
    'x': t2j(x),
    'gelu': t2j(F.gelu(x)),
    'gelu_tanh': t2j(F.gelu(x, approximate='tanh')),
    'silu': t2j(F.silu(x)),
}

# ---------------------------------------------------------------- embedding
emb = nn.Embedding(7, 3, padding_idx=0)
ids = torch.tensor([[1, 2, 2, 0], [6, 1, 0, 3]])
r = randn(2, 4, 3)
out = emb(ids)
(out * r).sum().backward()
fx['embedding'] = {'weight': t2j(emb.weight), 'ids': i2j(ids), 'r': t2j(r), 'y': t2j(out), 'grad_weight': t2j(emb.weight.grad)}

# ---------------------------------------------------------------- torch.nn.MultiheadAttention
D, H = 8, 2
mha = nn.MultiheadAttention(D, H, batch_first=True, bias=True)
with torch.no_grad():
    mha.in_proj_bias.copy_(0.1 * randn(3 * D))
    mha.out_proj.bias.copy_(0.1 * randn(D))
B, T = 2, 5
x = randn(B, T, D).requires_grad_(True)
causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True = not allowed
key_pad = torch.tensor([[False] * T, [False, False, False, True, True]])  # True = padding
y, _ = mha(x, x, x, attn_mask=causal, key_padding_mask=key_pad, need_weights=False)
r = randn(B, T, D)
(y * r).sum().backward()
wq, wk, wv = mha.in_proj_weight.detach().chunk(3, 0)
bq, bk, bv = mha.in_proj_bias.detach().chunk(3, 0)
gq, gk, gv = mha.in_proj_weight.grad.chunk(3, 0)
gbq, gbk, gbv = mha.in_proj_bias.grad.chunk(3, 0)
fx['mha'] = {
    'd_model': D, 'n_heads': H,
    'x': t2j(x), 'attention_mask': i2j((~key_pad).int()), 'r': t2j(r), 'y': t2j(y),
    'weights': {
        'q_proj.weight': t2j(wq), 'q_proj.bias': t2j(bq), 'k_proj.weight': t2j(wk), 'k_proj.bias': t2j(bk),
        'v_proj.weight': t2j(wv), 'v_proj.bias': t2j(bv),
        'o_proj.weight': t2j(mha.out_proj.weight), 'o_proj.bias': t2j(mha.out_proj.bias),
    },
    'grads': {
        'x': t2j(x.grad),
        'q_proj.weight': t2j(gq), 'q_proj.bias': t2j(gbq), 'k_proj.weight': t2j(gk), 'k_proj.bias': t2j(gbk),
        'v_proj.weight': t2j(gv), 'v_proj.bias': t2j(gbv),
        'o_proj.weight': t2j(mha.out_proj.weight.grad), 'o_proj.bias': t2j(mha.out_proj.bias.grad),
    },
}

# ---------------------------------------------------------------- Llama attention (HF modeling_llama, written out)
D, NH, NKV, HD, theta = 16, 4, 2, 4, 10000.0
B, T = 2, 6
q_w = nn.Parameter(randn(NH * HD, D, scale=0.3))
k_w = nn.Parameter(randn(NKV * HD, D, scale=0.3))
v_w = nn.Parameter(randn(NKV * HD, D, scale=0.3))
o_w = nn.Parameter(randn(D, NH * HD, scale=0.3))
x = randn(B, T, D).requires_grad_(True)
mask = torch.tensor([[1] * T, [0, 0] + [1] * (T - 2)])  # batch 1 is left-padded
positions = (mask.cumsum(-1) - 1).clamp(min=0)


def rotate_half(t):
    t1, t2 = t[..., : t.shape[-1] // 2], t[..., t.shape[-1] // 2:]
    return torch.cat((-t2, t1), dim=-1)


inv_freq = 1.0 / (theta ** (torch.arange(0, HD, 2).float() / HD))
freqs = positions[:, :, None].float() * inv_freq[None, None, :]  # [B, T, HD/2]
emb_ = torch.cat((freqs, freqs), dim=-1)
cos, sin = emb_.cos()[:, None], emb_.sin()[:, None]  # [B, 1, T, HD]
q = (x @ q_w.T).view(B, T, NH, HD).transpose(1, 2)
k = (x @ k_w.T).view(B, T, NKV, HD).transpose(1, 2)
v = (x @ v_w.T).view(B, T, NKV, HD).transpose(1, 2)
q = q * cos + rotate_half(q) * sin
k = k * cos + rotate_half(k) * sin
k = k.repeat_interleave(NH // NKV, dim=1)  # repeat_kv
v = v.repeat_interleave(NH // NKV, dim=1)
scores = q @ k.transpose(2, 3) / math.sqrt(HD)
allowed = torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None] & mask.bool()[:, None, None, :]
scores = scores.masked_fill(~allowed, torch.finfo(torch.float32).min)
probs = scores.softmax(-1)
o = (probs @ v).transpose(1, 2).reshape(B, T, NH * HD)
y = o @ o_w.T
valid = mask.bool()  # a padded query sees only padded keys: its row is garbage, compare valid rows only
r = randn(B, T, D) * valid[..., None]
(y * r).sum().backward()
fx['llama_attn'] = {
    'd_model': D, 'n_heads': NH, 'n_kv_heads': NKV, 'head_dim': HD, 'theta': theta,
    'x': t2j(x), 'attention_mask': i2j(mask), 'positions': i2j(positions), 'r': t2j(r), 'y': t2j(y),
    'valid': i2j(valid.int()),
    'weights': {'q_proj.weight': t2j(q_w), 'k_proj.weight': t2j(k_w), 'v_proj.weight': t2j(v_w), 'o_proj.weight': t2j(o_w)},
    'grads': {'x': t2j(x.grad), 'q_proj.weight': t2j(q_w.grad), 'k_proj.weight': t2j(k_w.grad),
              'v_proj.weight': t2j(v_w.grad), 'o_proj.weight': t2j(o_w.grad)},
}

# ---------------------------------------------------------------- GRU (packed)
F_, Hh, L = 3, 4, 2
gru = nn.GRU(F_, Hh, num_layers=L, batch_first=True)
B, T = 3, 5
lengths = torch.tensor([5, 3, 1])
x = randn(B, T, F_)
packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
out_p, h_n = gru(packed)
out, _ = nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=T)
r1 = randn(B, T, Hh)
r2 = randn(L, B, Hh)
((out * r1).sum() + (h_n * r2).sum()).backward()
fx['gru'] = {
    'input_size': F_, 'hidden_size': Hh, 'num_layers': L,
    'x': t2j(x), 'lengths': lengths.tolist(), 'r1': t2j(r1), 'r2': t2j(r2),
    'output': t2j(out), 'h_n': t2j(h_n),
    'weights': {n: t2j(p) for n, p in gru.named_parameters()},
    'grads': {n: t2j(p.grad) for n, p in gru.named_parameters()},
}

# ---------------------------------------------------------------- AdamW
p1 = nn.Parameter(randn(3, 4))
p2 = nn.Parameter(randn(4))
init = {'p1': t2j(p1), 'p2': t2j(p2)}
opt = torch.optim.AdamW([{'params': [p1], 'weight_decay': 0.1}, {'params': [p2], 'weight_decay': 0.0}],
                        lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
steps = []
for s in range(5):
    g1, g2 = randn(3, 4), randn(4)
    p1.grad, p2.grad = g1.clone(), g2.clone()
    opt.step()
    steps.append({'grads': {'p1': t2j(g1), 'p2': t2j(g2)}, 'params': {'p1': t2j(p1), 'p2': t2j(p2)}})
fx['adamw'] = {'lr': 1e-2, 'betas': [0.9, 0.99], 'eps': 1e-8, 'weight_decay': {'p1': 0.1, 'p2': 0.0}, 'init': init, 'steps': steps}

# ---------------------------------------------------------------- SGD (nesterov)
p1 = nn.Parameter(randn(3, 4))
init = {'p1': t2j(p1)}
opt = torch.optim.SGD([p1], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
steps = []
for s in range(4):
    g1 = randn(3, 4)
    p1.grad = g1.clone()
    opt.step()
    steps.append({'grads': {'p1': t2j(g1)}, 'params': {'p1': t2j(p1)}})
fx['sgd'] = {'lr': 0.1, 'momentum': 0.9, 'nesterov': True, 'weight_decay': 0.01, 'init': init, 'steps': steps}

# ---------------------------------------------------------------- clip_grad_norm_
ps = [nn.Parameter(torch.zeros(3, 4)), nn.Parameter(torch.zeros(5)), nn.Parameter(torch.zeros(2, 2))]
gs = [randn(3, 4), randn(5), randn(2, 2)]
for p, g in zip(ps, gs):
    p.grad = g.clone()
norm = torch.nn.utils.clip_grad_norm_(ps, max_norm=1.0)
fx['clip'] = {'max_norm': 1.0, 'grads': [t2j(g) for g in gs], 'norm': float(norm), 'clipped': [t2j(p.grad) for p in ps]}

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as f:
    json.dump(fx, f, separators=(',', ':'))
    f.write('\n')
print(f'wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)')
