import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AdamW } from '../optim/adamw.js';
import { clipGradNorm } from '../optim/clip.js';
import { SGD } from '../optim/sgd.js';
import { expectTensorsClose } from '../testing.js';
import { MultiHeadAttention } from './attention.js';
import { Embedding } from './embedding.js';
import { gelu, geluTanh, silu } from './functional.js';
import { GRU } from './gru.js';
import { Linear } from './linear.js';
import { LayerNorm, RMSNorm } from './norm.js';

// PyTorch 1.13 cross-check: tools/crosscheck/nn_fixtures.py writes test/fixtures/nn/torch-nn.json. Tolerances:
// outputs, gradients and optimizer steps atol/rtol 1e-5 (float32 on both sides).

interface J { shape: number[]; data: number[] }
type Fx = Record<string, Record<string, unknown>>;
const fx = JSON.parse(readFileSync(new URL('../../test/fixtures/nn/torch-nn.json', import.meta.url), 'utf8')) as Fx;

const T = (j: unknown): tf.Tensor => tf.tensor((j as J).data, (j as J).shape, 'float32');
const I = (j: unknown): tf.Tensor => tf.tensor((j as J).data, (j as J).shape, 'int32');
const close = (a: tf.Tensor | ArrayLike<number>, e: unknown, label: string, tol = 1e-5): void => {
  const want = Array.isArray(e) || ArrayBuffer.isView(e) ? (e as ArrayLike<number>) : T(e);
  expectTensorsClose(a instanceof tf.Tensor && !(want instanceof tf.Tensor) ? a.dataSync() : a, want, { atol: tol, rtol: tol, label });
};
const OUT = 1e-5;
const GRAD = 1e-5;

describe('PyTorch cross-check (tools/crosscheck/nn_fixtures.py)', () => {
  it('Linear, LayerNorm, RMSNorm, GELU (both), SiLU', () => {
    tf.tidy(() => {
      const l = fx.linear;
      const fc = Linear.fromWeights(T(l.weight), T(l.bias));
      close(fc.forward(T(l.x)), l.y, 'linear');
      fc.dispose();
      const n = fx.layer_norm;
      const ln = new LayerNorm({ dim: 6, eps: n.eps as number });
      ln.loadStateDict({ weight: T(n.weight), bias: T(n.bias) });
      close(ln.forward(T(n.x)), n.y, 'layer_norm');
      ln.dispose();
      const r = fx.rms_norm;
      const rms = new RMSNorm({ dim: 6, eps: r.eps as number });
      rms.loadStateDict({ weight: T(r.weight) });
      close(rms.forward(T(r.x)), r.y, 'rms_norm');
      rms.dispose();
      const a = fx.activations;
      close(gelu(T(a.x)), a.gelu, 'gelu');
      close(geluTanh(T(a.x)), a.gelu_tanh, 'gelu_tanh');
      close(silu(T(a.x)), a.silu, 'silu');
    });
  });

  it('Embedding with padding_idx: output and weight gradient', () => {
    const e = fx.embedding;
    const emb = new Embedding({ numEmbeddings: 7, embeddingDim: 3, paddingIdx: 0, init: 'zeros' });
    emb.loadStateDict({ weight: T(e.weight) });
    const ids = I(e.ids);
    close(emb.forward(ids), e.y, 'embedding');
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(emb.forward(ids), T(e.r))), [emb.weight]);
    close(grads[emb.weight.name], e.grad_weight, 'embedding grad', GRAD);
    tf.dispose([ids, grads]);
    emb.dispose();
  });

  it('torch.nn.MultiheadAttention (causal + key padding): output and gradients', () => {
    const m = fx.mha;
    const attn = new MultiHeadAttention({ dModel: m.d_model as number, nHeads: m.n_heads as number, weightInit: 'zeros', biasInit: 'zeros' });
    attn.loadStateDict(Object.fromEntries(Object.entries(m.weights as Record<string, J>).map(([k, v]) => [k, T(v)])));
    const x = T(m.x);
    const mask = I(m.attention_mask);
    close(attn.forward(x, { attentionMask: mask }), m.y, 'mha output', OUT);
    const grads = m.grads as Record<string, J>;
    const r = T(m.r);
    const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(attn.forward(xx, { attentionMask: mask }), r)))(x);
    close(gx, grads.x, 'mha dx', GRAD);
    const { grads: gw } = tf.variableGrads(() => tf.sum(tf.mul(attn.forward(x, { attentionMask: mask }), r)), attn.parameters());
    for (const [name, v] of attn.namedParameters()) close(gw[v.name], grads[name], `mha d${name}`, GRAD);
    tf.dispose([x, mask, r, gx, gw]);
    attn.dispose();
  });

  it('Llama attention (GQA + RoPE + left padding, explicit positions): valid rows and gradients', () => {
    const m = fx.llama_attn;
    const attn = new MultiHeadAttention({
      dModel: m.d_model as number, nHeads: m.n_heads as number, nKvHeads: m.n_kv_heads as number, headDim: m.head_dim as number,
      bias: false, rope: { theta: m.theta as number }, weightInit: 'zeros',
    });
    attn.loadStateDict(Object.fromEntries(Object.entries(m.weights as Record<string, J>).map(([k, v]) => [k, T(v)])));
    const x = T(m.x);
    const call = { attentionMask: I(m.attention_mask), positions: I(m.positions) };
    const valid = I(m.valid);
    const keep = tf.expandDims(tf.cast(valid, 'float32'), 2);
    close(tf.mul(attn.forward(x, call), keep), tf.mul(T(m.y), keep).dataSync(), 'llama attention', OUT);
    const r = T(m.r); // zero on padded rows
    const grads = m.grads as Record<string, J>;
    close(tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(attn.forward(xx, call), r)))(x), grads.x, 'llama dx', GRAD);
    const { grads: gw } = tf.variableGrads(() => tf.sum(tf.mul(attn.forward(x, call), r)), attn.parameters());
    for (const [name, v] of attn.namedParameters()) close(gw[v.name], grads[name], `llama d${name}`, GRAD);
    tf.dispose([x, call, valid, keep, r, gw]);
    attn.dispose();
  });

  it('torch.nn.GRU, two layers, packed lengths: output, h_n and gradients', () => {
    const g = fx.gru;
    const gru = new GRU({ inputSize: g.input_size as number, hiddenSize: g.hidden_size as number, numLayers: g.num_layers as number, init: 'zeros' });
    const weights = g.weights as Record<string, J>;
    gru.loadStateDict(Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, T(v)])));
    const x = T(g.x);
    const lengths = g.lengths as number[];
    const { output, hN, last } = gru.forward(x, { lengths });
    close(output, g.output, 'gru output');
    close(hN, g.h_n, 'gru h_n');
    close(last, (g.h_n as J).data.slice(lengths.length * (g.hidden_size as number)), 'gru last');
    const r1 = T(g.r1), r2 = T(g.r2);
    const { grads } = tf.variableGrads(() => {
      const o = gru.forward(x, { lengths });
      return tf.add(tf.sum(tf.mul(o.output, r1)), tf.sum(tf.mul(o.hN, r2)));
    }, gru.parameters());
    const want = g.grads as Record<string, J>;
    for (const [name, v] of gru.namedParameters()) close(grads[v.name], want[name], `gru d${name}`, GRAD);
    tf.dispose([x, output, hN, last, r1, r2, grads]);
    gru.dispose();
  });

  it('torch.optim.AdamW over 5 steps, with a no-decay group', () => {
    const a = fx.adamw;
    const init = a.init as Record<string, J>;
    const p1 = tf.variable(T(init.p1)), p2 = tf.variable(T(init.p2));
    const opt = new AdamW([['p1', p1], ['p2', p2]], {
      lr: a.lr as number, betas: a.betas as [number, number], eps: a.eps as number, weightDecay: 0.1, noDecay: 'p2',
    });
    expect(opt.entry('p2')!.weightDecay).toBe(0);
    for (const [i, s] of (a.steps as { grads: Record<string, J>; params: Record<string, J> }[]).entries()) {
      tf.tidy(() => { opt.step({ p1: T(s.grads.p1), p2: T(s.grads.p2) }); });
      close(p1, s.params.p1, `adamw p1 step ${i + 1}`);
      close(p2, s.params.p2, `adamw p2 step ${i + 1}`);
    }
    opt.dispose();
    tf.dispose([p1, p2]);
  });

  it('torch.optim.SGD with Nesterov momentum and weight decay over 4 steps', () => {
    const s = fx.sgd;
    const p1 = tf.variable(T((s.init as Record<string, J>).p1));
    const opt = new SGD([['p1', p1]], { lr: s.lr as number, momentum: s.momentum as number, nesterov: true, weightDecay: s.weight_decay as number });
    for (const [i, st] of (s.steps as { grads: Record<string, J>; params: Record<string, J> }[]).entries()) {
      tf.tidy(() => { opt.step({ p1: T(st.grads.p1) }); });
      close(p1, st.params.p1, `sgd step ${i + 1}`);
    }
    opt.dispose();
    p1.dispose();
  });

  it('clip_grad_norm_: the pre-clip norm and the clipped gradients', () => {
    const c = fx.clip;
    tf.tidy(() => {
      const grads = Object.fromEntries((c.grads as J[]).map((g, i) => [`g${i}`, T(g)]));
      const { grads: clipped, norm } = clipGradNorm(grads, c.max_norm as number);
      expect(Math.abs(norm.dataSync()[0] - (c.norm as number))).toBeLessThan(1e-5 * (c.norm as number));
      (c.clipped as J[]).forEach((g, i) => { close(clipped[`g${i}`], g, `clipped g${i}`); });
    });
  });
});
