"""Training throughput (events/s) of the eventseq-ssl CoLES and generative models in PyTorch, the reference of
packages/eventseq-ssl/bench/train.bench.ts (same architecture, sizes and losses, same machine, same run).

Usage: /usr/bin/python3 tools/crosscheck/eventseq_bench.py '<json config>'   -> prints one JSON line
Config: {"vocab", "catDim", "numDim", "hidden", "colesEntities", "colesViews", "colesLen", "genBatch", "genLen",
         "steps", "threads"}.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
V, CD, ND, H = cfg["vocab"], cfg["catDim"], cfg["numDim"], cfg["hidden"]
FEAT = CD + ND + 2


class Features(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, CD, padding_idx=0)
        self.num = nn.Linear(1, ND)

    def forward(self, codes, amount, dt, t):
        return torch.cat([self.emb(codes), self.num(amount[..., None]), dt[..., None], t[..., None]], -1)


class Encoder(nn.Module):
    def __init__(self, norm=False):
        super().__init__()
        self.features = Features()
        self.gru = nn.GRU(FEAT, H, batch_first=True)
        self.norm = nn.LayerNorm(H) if norm else nn.Identity()

    def forward(self, codes, amount, dt, t, lengths):
        x = self.features(codes, amount, dt, t)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        return self.norm(h[-1])


class Generative(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder(norm=True)
        self.x0 = nn.Linear(H, FEAT)
        self.h0 = nn.Linear(H, H)
        self.decoder = nn.GRU(FEAT + H, H, batch_first=True)
        self.cat = nn.Linear(H, V)
        self.num = nn.Linear(H, 1)
        self.dt = nn.Linear(H, 1)

    def loss(self, codes, amount, dt, t, lengths, mask):
        h = self.encoder(codes, amount, dt, t, lengths)
        feats = self.encoder.features(codes, amount, dt, t)
        B, T, _ = feats.shape
        prev = torch.cat([self.x0(h)[:, None], feats[:, :-1]], 1)
        inp = torch.cat([prev, h[:, None].expand(B, T, H)], -1)
        packed = nn.utils.rnn.pack_padded_sequence(inp, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.decoder(packed, torch.tanh(self.h0(h))[None])
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
        ce = F.cross_entropy(self.cat(out).reshape(-1, V), codes.reshape(-1), ignore_index=0, reduction="sum") / B
        num = (((self.num(out)[..., 0] - amount) ** 2) * mask).sum() / B
        dtl = (((self.dt(out)[..., 0] - dt) ** 2) * mask).sum() / mask.sum()
        return ce + num + 10 * dtl + 1e-4 * h.abs().sum(1).mean()


def batch(B, T):
    lengths = torch.randint(T // 2, T + 1, (B,))
    lengths[0] = T
    mask = (torch.arange(T)[None] < lengths[:, None]).float()
    codes = (torch.randint(2, V, (B, T)) * mask).long()
    return codes, torch.randn(B, T) * mask, torch.rand(B, T) * mask, torch.rand(B, T) * mask, lengths, mask


def margin_loss(z, groups, margin=0.5, neg_count=5):
    z = F.normalize(z, dim=1)
    d = torch.cdist(z, z)
    same = groups[:, None] == groups[None, :]
    pos = torch.triu(same, 1)
    pos_loss = (d[pos] ** 2).sum()
    dn = d.detach().clone()
    dn[same] = float("inf")
    idx = dn.topk(neg_count, dim=1, largest=False).indices
    neg = d.gather(1, idx)
    return pos_loss + (F.relu(margin - neg) ** 2).sum()


def throughput(step, events, steps):
    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return events * steps / (time.perf_counter() - t0)


enc = Encoder()
opt = torch.optim.AdamW(enc.parameters(), lr=1e-3, weight_decay=0)
N, K, L = cfg["colesEntities"], cfg["colesViews"], cfg["colesLen"]
cb = batch(N * K, L)
groups = torch.arange(N).repeat_interleave(K)


def coles_step():
    opt.zero_grad()
    loss = margin_loss(enc(*cb[:5]), groups)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(enc.parameters(), 5)
    opt.step()


gen = Generative()
gopt = torch.optim.AdamW(gen.parameters(), lr=3e-3, weight_decay=1e-3)
gb = batch(cfg["genBatch"], cfg["genLen"])


def gen_step():
    gopt.zero_grad()
    loss = gen.loss(*gb)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(gen.parameters(), 5)
    gopt.step()


print(json.dumps({
    "coles": throughput(coles_step, int(cb[4].sum()), cfg["steps"]),
    "generative": throughput(gen_step, int(gb[4].sum()), cfg["steps"]),
    "torch": torch.__version__,
}))
