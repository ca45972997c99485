"""Reference logits for @sift/lm's GPT-2 and Llama, built from the published equations in PyTorch (no transformers).

Writes, for each architecture, a Hugging Face checkpoint folder (config.json + model.safetensors with HF tensor names
and layout, written by hand: Debian has no safetensors package) and reference.json (input ids, logits, mean
next-token loss) under packages/lm/test/fixtures/models/<name>/. Weights are fixed random draws (numpy seed), larger
than a trained model's so activations are O(1). The forward runs in float64 so the fixture's own error is negligible.

- gpt2-tiny:  GPT-2 (Radford et al. 2019): learned positions, pre-norm LayerNorm, GELU (tanh), tied head; Conv1D
  weights stored [in, out] as HF does. F32.
- llama-tiny: Llama (Touvron et al. 2023): RMSNorm, RoPE (rotate-half, as HF), SwiGLU, GQA with 4 query and 2 kv
  heads, untied lm_head. BF16 (the reference uses the bf16-rounded weights).

Run: /usr/bin/python3 tools/crosscheck/lm_reference.py
"""
import json
import math
import os
import struct

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'lm', 'test', 'fixtures', 'models')
V, D, L, T, B = 96, 64, 2, 10, 2


def bf16_round(a):
    """float32 -> bfloat16 bits (round to nearest even) and the values they hold."""
    bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    back = (rounded.astype(np.uint32) << 16).view(np.float32)
    return rounded, back


def write_safetensors(path, tensors):
    """tensors: name -> (dtype string, numpy array of the stored element type)."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        dtype, arr = tensors[name]
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def causal_softmax_attention(q, k, v):
    """q [B, H, T, Dh], k/v [B, H, T, Dh] -> [B, T, H*Dh]."""
    t, dh = q.shape[2], q.shape[3]
    s = q @ k.transpose(-1, -2) / math.sqrt(dh)
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    s = s.masked_fill(~mask, float('-inf'))
    o = torch.softmax(s, -1) @ v
    return o.transpose(1, 2).reshape(q.shape[0], t, -1)


def mean_next_token_loss(logits, ids):
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)).item()


def save(name, config, stored, ids, logits, loss):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, 'model.safetensors'), stored)
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    ref = {'ids': ids.tolist(), 'shape': list(logits.shape), 'logits': [float('%.9g' % x) for x in logits.reshape(-1).tolist()],
           'loss': loss}
    with open(os.path.join(d, 'reference.json'), 'w') as f:
        json.dump(ref, f)
        f.write('\n')


def gpt2(rng, ids):
    H, F, NPOS, EPS = 4, 128, 32, 1e-5
    config = {'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': V, 'n_positions': NPOS, 'n_embd': D,
              'n_layer': L, 'n_head': H, 'n_inner': F, 'activation_function': 'gelu_new', 'layer_norm_epsilon': EPS,
              'torch_dtype': 'float32'}
    w = {}

    def p(name, shape, std):
        w[name] = (rng.standard_normal(shape) * std).astype(np.float32)

    p('transformer.wte.weight', (V, D), 0.5)
    p('transformer.wpe.weight', (NPOS, D), 0.2)
    for i in range(L):
        pre = f'transformer.h.{i}.'
        for ln in ('ln_1', 'ln_2'):
            w[pre + ln + '.weight'] = (1 + 0.1 * rng.standard_normal(D)).astype(np.float32)
            p(pre + ln + '.bias', (D,), 0.1)
        p(pre + 'attn.c_attn.weight', (D, 3 * D), 0.15)  # Conv1D: [in, out]
        p(pre + 'attn.c_attn.bias', (3 * D,), 0.1)
        p(pre + 'attn.c_proj.weight', (D, D), 0.1)
        p(pre + 'attn.c_proj.bias', (D,), 0.1)
        p(pre + 'mlp.c_fc.weight', (D, F), 0.15)
        p(pre + 'mlp.c_fc.bias', (F,), 0.1)
        p(pre + 'mlp.c_proj.weight', (F, D), 0.1)
        p(pre + 'mlp.c_proj.bias', (D,), 0.1)
    w['transformer.ln_f.weight'] = (1 + 0.1 * rng.standard_normal(D)).astype(np.float32)
    p('transformer.ln_f.bias', (D,), 0.1)

    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in w.items()}
    x_ids = torch.tensor(ids)
    x = t['transformer.wte.weight'][x_ids] + t['transformer.wpe.weight'][torch.arange(T)]
    dh = D // H
    for i in range(L):
        pre = f'transformer.h.{i}.'
        h = layer_norm(x, t[pre + 'ln_1.weight'], t[pre + 'ln_1.bias'], EPS)
        qkv = h @ t[pre + 'attn.c_attn.weight'] + t[pre + 'attn.c_attn.bias']  # Conv1D: x W + b
        q, k, v = qkv.split(D, -1)
        heads = lambda z: z.reshape(B, T, H, dh).transpose(1, 2)
        a = causal_softmax_attention(heads(q), heads(k), heads(v))
        x = x + a @ t[pre + 'attn.c_proj.weight'] + t[pre + 'attn.c_proj.bias']
        h = layer_norm(x, t[pre + 'ln_2.weight'], t[pre + 'ln_2.bias'], EPS)
        m = gelu_tanh(h @ t[pre + 'mlp.c_fc.weight'] + t[pre + 'mlp.c_fc.bias'])
        x = x + m @ t[pre + 'mlp.c_proj.weight'] + t[pre + 'mlp.c_proj.bias']
    x = layer_norm(x, t['transformer.ln_f.weight'], t['transformer.ln_f.bias'], EPS)
    logits = x @ t['transformer.wte.weight'].T  # tied head
    stored = {k: ('F32', v) for k, v in w.items()}
    save('gpt2-tiny', config, stored, ids, logits.numpy(), mean_next_token_loss(logits, x_ids))


def rope(x, positions, theta):
    """HF LlamaRotaryEmbedding + apply_rotary_pos_emb (rotate_half). x [B, H, T, Dh]."""
    dh = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=torch.float64) / dh))
    freqs = positions[:, None].double() * inv[None, :]
    emb = torch.cat([freqs, freqs], -1)
    cos, sin = emb.cos(), emb.sin()
    x1, x2 = x[..., : dh // 2], x[..., dh // 2:]
    rotated = torch.cat([-x2, x1], -1)
    return x * cos + rotated * sin


def llama(rng, ids):
    H, KV, F, EPS, THETA = 4, 2, 128, 1e-5, 10000.0
    dh = D // H
    config = {'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'vocab_size': V, 'hidden_size': D,
              'intermediate_size': F, 'num_hidden_layers': L, 'num_attention_heads': H, 'num_key_value_heads': KV,
              'max_position_embeddings': 64, 'rms_norm_eps': EPS, 'rope_theta': THETA, 'tie_word_embeddings': False,
              'hidden_act': 'silu', 'attention_bias': False, 'mlp_bias': False, 'rope_scaling': None, 'torch_dtype': 'bfloat16'}
    w = {}

    def p(name, shape, std):
        w[name] = (rng.standard_normal(shape) * std).astype(np.float32)

    p('model.embed_tokens.weight', (V, D), 0.5)
    for i in range(L):
        pre = f'model.layers.{i}.'
        w[pre + 'input_layernorm.weight'] = (1 + 0.1 * rng.standard_normal(D)).astype(np.float32)
        w[pre + 'post_attention_layernorm.weight'] = (1 + 0.1 * rng.standard_normal(D)).astype(np.float32)
        p(pre + 'self_attn.q_proj.weight', (H * dh, D), 0.15)  # nn.Linear: [out, in]
        p(pre + 'self_attn.k_proj.weight', (KV * dh, D), 0.15)
        p(pre + 'self_attn.v_proj.weight', (KV * dh, D), 0.15)
        p(pre + 'self_attn.o_proj.weight', (D, H * dh), 0.1)
        p(pre + 'mlp.gate_proj.weight', (F, D), 0.15)
        p(pre + 'mlp.up_proj.weight', (F, D), 0.15)
        p(pre + 'mlp.down_proj.weight', (D, F), 0.1)
    w['model.norm.weight'] = (1 + 0.1 * rng.standard_normal(D)).astype(np.float32)
    p('lm_head.weight', (V, D), 0.2)

    stored, t = {}, {}
    for k, v in w.items():
        bits, back = bf16_round(v)
        stored[k] = ('BF16', bits)
        t[k] = torch.tensor(back, dtype=torch.float64)
    x_ids = torch.tensor(ids)
    pos = torch.arange(T)
    x = t['model.embed_tokens.weight'][x_ids]
    for i in range(L):
        pre = f'model.layers.{i}.'
        h = rms_norm(x, t[pre + 'input_layernorm.weight'], EPS)
        q = (h @ t[pre + 'self_attn.q_proj.weight'].T).reshape(B, T, H, dh).transpose(1, 2)
        k = (h @ t[pre + 'self_attn.k_proj.weight'].T).reshape(B, T, KV, dh).transpose(1, 2)
        v = (h @ t[pre + 'self_attn.v_proj.weight'].T).reshape(B, T, KV, dh).transpose(1, 2)
        q, k = rope(q, pos, THETA), rope(k, pos, THETA)
        k = k.repeat_interleave(H // KV, dim=1)  # HF repeat_kv: query head h uses kv head h // (H / KV)
        v = v.repeat_interleave(H // KV, dim=1)
        a = causal_softmax_attention(q, k, v)
        x = x + a @ t[pre + 'self_attn.o_proj.weight'].T
        h = rms_norm(x, t[pre + 'post_attention_layernorm.weight'], EPS)
        g = h @ t[pre + 'mlp.gate_proj.weight'].T
        m = (g * torch.sigmoid(g)) * (h @ t[pre + 'mlp.up_proj.weight'].T)
        x = x + m @ t[pre + 'mlp.down_proj.weight'].T
    x = rms_norm(x, t['model.norm.weight'], EPS)
    logits = x @ t['lm_head.weight'].T
    save('llama-tiny', config, stored, ids, logits.numpy(), mean_next_token_loss(logits, x_ids))


def main():
    rng = np.random.default_rng(20240607)
    ids = rng.integers(0, V, size=(B, T))
    gpt2(np.random.default_rng(1), ids)
    llama(np.random.default_rng(2), ids)
    print('wrote', os.path.abspath(OUT))


if __name__ == '__main__':
    main()
