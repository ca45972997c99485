"""PyTorch reference values of the eventseq-ssl losses (CoLES margin with hard negatives, InfoNCE, SigLIP).

Run: /usr/bin/python3 tools/crosscheck/eventseq_losses.py > packages/eventseq-ssl/test/fixtures/losses.json
Independent of the TypeScript code: the margin loss follows ptls ContrastiveLoss + HardNegativePairSelector, the
SigLIP loss follows MLEM trainer_sigmoid.py (logits = exp(t') * g @ c.T + b; -logsigmoid(labels * logits)).
Gradients are taken by autograd with respect to the embeddings.
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(0)
N, D = 8, 5
groups = torch.tensor([0, 0, 1, 1, 1, 2, 2, 3])
z = torch.randn(N, D, dtype=torch.float64)


def margin_loss(z, groups, margin=0.5, neg_count=2):
    zn = F.normalize(z, dim=1)
    n = zn.shape[0]
    same = groups[:, None] == groups[None, :]
    iu = torch.triu_indices(n, n, 1)
    pos = [(i.item(), j.item()) for i, j in zip(*iu) if same[i, j]]
    dist = torch.cdist(zn.detach(), zn.detach()) ** 2
    neg = []
    for i in range(n):
        others = [j for j in range(n) if not same[i, j]]
        others.sort(key=lambda j: (dist[i, j].item(), j))
        neg += [(i, j) for j in others[:neg_count]]
    pa, pb = zip(*pos)
    na, nb = zip(*neg)
    pos_loss = ((zn[list(pa)] - zn[list(pb)]) ** 2).sum(1)
    nd = torch.sqrt(((zn[list(na)] - zn[list(nb)]) ** 2).sum(1) + 1e-12)
    neg_loss = F.relu(margin - nd) ** 2
    return torch.cat([pos_loss, neg_loss]).sum()


def infonce(z, groups, tau=0.1, decoupled=True):
    zn = F.normalize(z, dim=1)
    s = zn @ zn.T / tau
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    same = (groups[:, None] == groups[None, :]) & ~eye
    den = ~same & ~eye if decoupled else ~eye
    losses = []
    for i in range(n):
        if same[i].any():
            losses.append(torch.logsumexp(s[i][den[i]], 0) - torch.logsumexp(s[i][same[i]], 0))
    return torch.stack(losses).mean()


def siglip(g, c, t, b):
    gn, cn = F.normalize(g, dim=1), F.normalize(c, dim=1)
    logits = torch.exp(t) * gn @ cn.T + b
    labels = 2 * torch.eye(g.shape[0], dtype=g.dtype) - 1
    return -F.logsigmoid(labels * logits).sum() / g.shape[0]


out = {"z": z.tolist(), "groups": groups.tolist()}
zz = z.clone().requires_grad_(True)
loss = margin_loss(zz, groups)
loss.backward()
out["margin"] = {"margin": 0.5, "negCount": 2, "loss": loss.item(), "grad": zz.grad.tolist()}
for dec in (True, False):
    zz = z.clone().requires_grad_(True)
    loss = infonce(zz, groups, 0.1, dec)
    loss.backward()
    out["infonce_decoupled" if dec else "infonce_classic"] = {"temperature": 0.1, "decoupled": dec, "loss": loss.item(), "grad": zz.grad.tolist()}
c = torch.randn(N, D, dtype=torch.float64)
g = z.clone().requires_grad_(True)
t = torch.tensor(float(torch.log(torch.tensor(10.0))), dtype=torch.float64, requires_grad=True)
b = torch.tensor(-10.0, dtype=torch.float64, requires_grad=True)
loss = siglip(g, c, t, b)
loss.backward()
out["siglip"] = {"c": c.tolist(), "loss": loss.item(), "grad": g.grad.tolist(), "gradT": t.grad.item(), "gradB": b.grad.item()}
print(json.dumps(out))
