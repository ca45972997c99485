"""PyTorch reference throughput for @sift/lm's bench/train.bench.ts: the same Llama-style architecture as the `small`
preset (RMSNorm, RoPE, SwiGLU, GQA, tied head), AdamW training steps and greedy generation with a KV cache, on CPU.

Usage: /usr/bin/python3 tools/crosscheck/lm_train_bench.py '<json>'  with json = {"config": <HF config>, "batch": B,
"seq": T, "steps": n, "warmup": w, "prompt": P, "new_tokens": N, "gen_warmup": gw, "gen_repeats": gr, "threads": k}
(generation: gw untimed runs, then the median of gr). Prints one JSON line:
{"train_tokens_per_second": ..., "generate_tokens_per_second": ..., "threads": k}.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, pos, theta):
    dh = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=torch.float32) / dh))
    f = pos[:, None].float() * inv[None, :]
    emb = torch.cat([f, f], -1)
    x1, x2 = x[..., : dh // 2], x[..., dh // 2:]
    return x * emb.cos() + torch.cat([-x2, x1], -1) * emb.sin()


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, kv = c['hidden_size'], c['num_attention_heads'], c['num_key_value_heads']
        self.h, self.kv, self.dh, self.theta = h, kv, d // h, c['rope_theta']
        self.ln1 = RMSNorm(d, c['rms_norm_eps'])
        self.ln2 = RMSNorm(d, c['rms_norm_eps'])
        self.q = nn.Linear(d, h * self.dh, bias=False)
        self.k = nn.Linear(d, kv * self.dh, bias=False)
        self.v = nn.Linear(d, kv * self.dh, bias=False)
        self.o = nn.Linear(h * self.dh, d, bias=False)
        f = c['intermediate_size']
        self.gate = nn.Linear(d, f, bias=False)
        self.up = nn.Linear(d, f, bias=False)
        self.down = nn.Linear(f, d, bias=False)

    def forward(self, x, pos, cache=None):
        b, t, _ = x.shape
        hx = self.ln1(x)
        q = self.q(hx).view(b, t, self.h, self.dh).transpose(1, 2)
        k = self.k(hx).view(b, t, self.kv, self.dh).transpose(1, 2)
        v = self.v(hx).view(b, t, self.kv, self.dh).transpose(1, 2)
        q, k = rope(q, pos, self.theta), rope(k, pos, self.theta)
        if cache is not None:
            if 'k' in cache:
                k = torch.cat([cache['k'], k], 2)
                v = torch.cat([cache['v'], v], 2)
            cache['k'], cache['v'] = k, v
        rep = self.h // self.kv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        s = q @ k.transpose(-1, -2) / math.sqrt(self.dh)
        S = k.shape[2]
        if t > 1:
            mask = torch.ones(t, S, dtype=torch.bool).tril(S - t)
            s = s.masked_fill(~mask, float('-inf'))
        a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(b, t, -1)
        x = x + self.o(a)
        hx = self.ln2(x)
        return x + self.down(F.silu(self.gate(hx)) * self.up(hx))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.emb = nn.Embedding(c['vocab_size'], c['hidden_size'])
        self.layers = nn.ModuleList([Block(c) for _ in range(c['num_hidden_layers'])])
        self.norm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])

    def forward(self, ids, caches=None, past=0):
        pos = torch.arange(past, past + ids.shape[1])
        x = self.emb(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, pos, None if caches is None else caches[i])
        return self.norm(x) @ self.emb.weight.T  # tied head


def main():
    a = json.loads(sys.argv[1])
    torch.set_num_threads(a['threads'])
    torch.manual_seed(0)
    c = a['config']
    model = Llama(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    V, B, T = c['vocab_size'], a['batch'], a['seq']
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))

    def step():
        loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(a['warmup']):
        step()
    times = []
    for _ in range(a['steps']):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    train_tps = B * T / times[len(times) // 2]

    with torch.no_grad():
        def gen():
            caches = [{} for _ in model.layers]
            ids = torch.randint(0, V, (1, a['prompt']))
            logits = model(ids, caches, 0)
            past = a['prompt']
            for _ in range(a['new_tokens'] - 1):
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                logits = model(nxt, caches, past)
                past += 1
        for _ in range(a.get('gen_warmup', 1)):
            gen()
        gen_times = []
        for _ in range(a.get('gen_repeats', 1)):
            t0 = time.perf_counter()
            gen()
            gen_times.append(time.perf_counter() - t0)
        gen_times.sort()
        gen_tps = a['new_tokens'] / gen_times[len(gen_times) // 2]
    print(json.dumps({'train_tokens_per_second': train_tps, 'generate_tokens_per_second': gen_tps, 'threads': a['threads']}))


if __name__ == '__main__':
    main()
