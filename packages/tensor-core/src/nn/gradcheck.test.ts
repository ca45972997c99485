import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '../random/rng.js';
import { valueAndGrads } from '../optim/grads.js';
import { MultiHeadAttention } from './attention.js';
import { Embedding } from './embedding.js';
import { geluTanh, silu } from './functional.js';
import { GRU } from './gru.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { LayerNorm, RMSNorm } from './norm.js';

/** Embedding -> LayerNorm -> attention (GQA, RoPE, padding) -> MLP -> RMSNorm -> GRU (lengths) -> head. */
class Composite extends Module<[tf.Tensor], tf.Scalar> {
  readonly wte: Embedding;
  readonly ln: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly fc: Linear;
  readonly proj: Linear;
  readonly norm: RMSNorm;
  readonly gru: GRU;
  readonly head: Linear;
  constructor(rng: Rng) {
    super();
    this.wte = this.addModule('wte', new Embedding({ numEmbeddings: 11, embeddingDim: 8, rng, init: { std: 0.5 } }));
    this.ln = this.addModule('ln', new LayerNorm({ dim: 8 }));
    this.attn = this.addModule('attn', new MultiHeadAttention({ dModel: 8, nHeads: 4, nKvHeads: 2, rope: {}, rng }));
    this.fc = this.addModule('fc', new Linear({ inFeatures: 8, outFeatures: 12, rng }));
    this.proj = this.addModule('proj', new Linear({ inFeatures: 12, outFeatures: 8, rng }));
    this.norm = this.addModule('norm', new RMSNorm({ dim: 8 }));
    this.gru = this.addModule('gru', new GRU({ inputSize: 8, hiddenSize: 5, rng }));
    this.head = this.addModule('head', new Linear({ inFeatures: 5, outFeatures: 3, rng }));
    // non-trivial norm parameters so their gradients are not special
    this.ln.loadStateDict({ weight: rng.normalTensor([8], 1, 0.2), bias: rng.normalTensor([8], 0, 0.2) });
    this.norm.loadStateDict({ weight: rng.normalTensor([8], 1, 0.2) });
  }
  override forward(ids: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const mask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
      let h = this.wte.forward(ids);
      h = tf.add(h, this.attn.forward(this.ln.forward(h), { attentionMask: mask }));
      h = tf.add(h, this.proj.forward(geluTanh(this.fc.forward(h))));
      const { last } = this.gru.forward(silu(this.norm.forward(h)), { lengths: [5, 3] });
      return tf.sum(tf.square(this.head.forward(last)));
    });
  }
}

describe('gradients of a composite model vs central finite differences', () => {
  it('every parameter: directional derivative along a random direction (float32, eps 1e-2, rtol 1e-2)', () => {
    // For each parameter θ_p and a random unit direction u (same shape), compare the autodiff directional derivative
    // <∇L, u> with (L(θ + εu) − L(θ − εu)) / 2ε. Float32 forward passes: with ε = 1e-2 the truncation error is
    // O(ε²) ~ 1e-4 relative and rounding ~1e-7/ε ~ 1e-5, so rtol 1e-2 (+ atol 1e-4 for tiny derivatives) is honest.
    const rng = new Rng(42);
    const model = new Composite(rng);
    const ids = tf.tensor2d([[1, 5, 2, 9, 3], [4, 4, 7, 0, 0]], [2, 5], 'int32');
    const { value, grads } = valueAndGrads(model, () => model.forward(ids));
    expect(value.dataSync()[0]).toBeGreaterThan(0);
    const names = model.namedParameters().map(([n]) => n);
    expect(Object.keys(grads).sort()).toEqual([...names].sort());
    const eps = 1e-2;
    for (const [name, p] of model.namedParameters()) {
      const u = tf.tidy(() => {
        const r = rng.normalTensor(p.shape);
        return tf.div(r, tf.norm(r));
      });
      const analytic = tf.tidy(() => tf.sum(tf.mul(grads[name], u)).dataSync()[0]);
      const original = tf.clone(p);
      const lossAt = (sign: number): number => {
        tf.tidy(() => { p.assign(tf.add(original, tf.mul(u, sign * eps))); });
        return tf.tidy(() => model.forward(ids).dataSync()[0]);
      };
      const numeric = (lossAt(1) - lossAt(-1)) / (2 * eps);
      p.assign(original);
      tf.dispose([u, original]);
      const tol = 1e-4 + 1e-2 * Math.abs(numeric);
      expect(Math.abs(analytic - numeric), `${name}: autodiff ${analytic} vs finite differences ${numeric}`).toBeLessThan(tol);
    }
    tf.dispose([ids, value, grads]);
    model.dispose();
  });
});
