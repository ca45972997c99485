import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '../random/rng.js';
import { expectNoLeak, expectTensorsClose } from '../testing.js';
import { KVCache, MultiHeadAttention } from './attention.js';

// Reference: a naive float64 per-(batch, head, query) loop written from the definitions (Vaswani et al. 2017;
// RoPE in Llama's rotate-half layout; GQA head h uses kv head floor(h / (H / Hkv))). Tolerance 1e-5.

interface Naive {
  B: number; T: number; D: number; H: number; Hkv: number; Dh: number;
  x: Float32Array; wq: Float32Array; wk: Float32Array; wv: Float32Array; wo: Float32Array;
  bq: Float32Array | null; bk: Float32Array | null; bv: Float32Array | null; bo: Float32Array | null;
  causal: boolean; mask: number[][] | null; positions: number[][] | null; theta: number | null;
}

function project(x: Float32Array, row: number, D: number, w: Float32Array, b: Float32Array | null, out: number): Float64Array {
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b === null ? 0 : b[o];
    for (let i = 0; i < D; i++) s += w[o * D + i] * x[row * D + i];
    y[o] = s;
  }
  return y;
}

function rope(v: Float64Array, off: number, Dh: number, pos: number, theta: number): void {
  const half = Dh / 2;
  for (let i = 0; i < half; i++) {
    const ang = pos * Math.pow(theta, (-2 * i) / Dh);
    const x1 = v[off + i], x2 = v[off + i + half];
    v[off + i] = x1 * Math.cos(ang) - x2 * Math.sin(ang);
    v[off + i + half] = x2 * Math.cos(ang) + x1 * Math.sin(ang);
  }
}

function naiveAttention(n: Naive): Float64Array {
  const { B, T, D, H, Hkv, Dh } = n;
  const rep = H / Hkv;
  const out = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) {
    const q: Float64Array[] = [], k: Float64Array[] = [], v: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      q.push(project(n.x, b * T + t, D, n.wq, n.bq, H * Dh));
      k.push(project(n.x, b * T + t, D, n.wk, n.bk, Hkv * Dh));
      v.push(project(n.x, b * T + t, D, n.wv, n.bv, Hkv * Dh));
      if (n.theta !== null) {
        const pos = n.positions === null ? t : n.positions[b][t];
        for (let h = 0; h < H; h++) rope(q[t], h * Dh, Dh, pos, n.theta);
        for (let h = 0; h < Hkv; h++) rope(k[t], h * Dh, Dh, pos, n.theta);
      }
    }
    for (let t = 0; t < T; t++) {
      const merged = new Float64Array(H * Dh);
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / rep);
        const allowed: number[] = [];
        for (let j = 0; j < T; j++) {
          if (n.causal && j > t) continue;
          if (n.mask !== null && n.mask[b][j] === 0) continue;
          allowed.push(j);
        }
        const s = allowed.map((j) => {
          let dot = 0;
          for (let d = 0; d < Dh; d++) dot += q[t][h * Dh + d] * k[j][g * Dh + d];
          return dot / Math.sqrt(Dh);
        });
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const z = e.reduce((a, c) => a + c, 0);
        allowed.forEach((j, ai) => {
          for (let d = 0; d < Dh; d++) merged[h * Dh + d] += (e[ai] / z) * v[j][g * Dh + d];
        });
      }
      for (let o = 0; o < D; o++) {
        let s = n.bo === null ? 0 : n.bo[o];
        for (let i = 0; i < H * Dh; i++) s += n.wo[o * H * Dh + i] * merged[i];
        out[(b * T + t) * D + o] = s;
      }
    }
  }
  return out;
}

function data(t: tf.Tensor | null): Float32Array | null {
  return t === null ? null : (t.dataSync() as Float32Array);
}

function naiveOf(attn: MultiHeadAttention, x: tf.Tensor, mask: number[][] | null, positions: number[][] | null): Float64Array {
  const [B, T, D] = x.shape as [number, number, number];
  return naiveAttention({
    B, T, D, H: attn.nHeads, Hkv: attn.nKvHeads, Dh: attn.headDim,
    x: x.dataSync() as Float32Array,
    wq: data(attn.q_proj.weight)!, wk: data(attn.k_proj.weight)!, wv: data(attn.v_proj.weight)!, wo: data(attn.o_proj.weight)!,
    bq: data(attn.q_proj.bias), bk: data(attn.k_proj.bias), bv: data(attn.v_proj.bias), bo: data(attn.o_proj.bias),
    causal: attn.causal, mask, positions, theta: attn.rope?.theta ?? null,
  });
}

describe('MultiHeadAttention vs a naive per-head loop', () => {
  it('causal multi-head with biases', () => {
    const rng = new Rng(1);
    const attn = new MultiHeadAttention({ dModel: 12, nHeads: 3, rng });
    const x = rng.normalTensor([2, 5, 12]);
    expectTensorsClose(attn.forward(x).dataSync(), naiveOf(attn, x, null, null));
    expect(attn.q_proj.weight.shape).toEqual([12, 12]);
    x.dispose();
    attn.dispose();
  });

  it('grouped-query heads + RoPE + a padding mask (right padding)', () => {
    const rng = new Rng(2);
    const attn = new MultiHeadAttention({ dModel: 16, nHeads: 4, nKvHeads: 2, headDim: 6, bias: false, rope: { theta: 10000 }, rng });
    expect(attn.k_proj.weight.shape).toEqual([12, 16]);
    expect(attn.o_proj.weight.shape).toEqual([16, 24]);
    expect(attn.o_proj.bias).toBe(null);
    const x = rng.normalTensor([2, 6, 16]);
    const mask = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]];
    const y = attn.forward(x, { attentionMask: tf.tensor2d(mask) });
    expectTensorsClose(y.dataSync(), naiveOf(attn, x, mask, null), { atol: 2e-5, rtol: 1e-5 });
    x.dispose();
    attn.dispose();
  });

  it('multi-query (1 kv head), non-causal, explicit positions', () => {
    const rng = new Rng(3);
    const attn = new MultiHeadAttention({ dModel: 8, nHeads: 4, nKvHeads: 1, causal: false, rope: { theta: 500000 }, rng });
    const x = rng.normalTensor([2, 4, 8]);
    const mask = [[1, 1, 0, 1], [0, 1, 1, 1]];
    const positions = [[3, 4, 5, 6], [0, 0, 1, 2]];
    const y = attn.forward(x, { attentionMask: tf.tensor2d(mask, [2, 4], 'int32'), positions: tf.tensor2d(positions, [2, 4], 'int32') });
    expectTensorsClose(y.dataSync(), naiveOf(attn, x, mask, positions), { atol: 2e-5, rtol: 1e-5 });
    x.dispose();
    attn.dispose();
  });

  it('rejects a bad configuration or mask with the sizes in the message', () => {
    expect(() => new MultiHeadAttention({ dModel: 8, nHeads: 4, nKvHeads: 3, rng: new Rng(0) })).toThrow(/nKvHeads \(3\) must divide nHeads \(4\)/);
    expect(() => new MultiHeadAttention({ dModel: 10, nHeads: 4, rng: new Rng(0) })).toThrow(/pass headDim/);
    const attn = new MultiHeadAttention({ dModel: 8, nHeads: 2, rng: new Rng(0) });
    expect(() => attn.forward(tf.zeros([1, 3, 8]), { attentionMask: tf.ones([1, 4]) })).toThrow(/attentionMask must be \[B, S\] = \[1, 3\]/);
    attn.dispose();
  });
});

describe('KV cache', () => {
  it('incremental decoding equals the full-sequence forward (GQA + RoPE + padding mask)', () => {
    const rng = new Rng(4);
    const attn = new MultiHeadAttention({ dModel: 16, nHeads: 4, nKvHeads: 2, bias: false, rope: {}, rng }).eval();
    const T = 7;
    const x = rng.normalTensor([2, T, 16]);
    const mask = tf.tensor2d([[0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]]); // batch 0 is left-padded
    const full = attn.forward(x, { attentionMask: mask });
    const cache = new KVCache();
    const parts: tf.Tensor[] = [];
    const prompt = 3;
    parts.push(tf.tidy(() => attn.forward(tf.slice(x, [0, 0, 0], [2, prompt, 16]), { cache, attentionMask: tf.slice(mask, [0, 0], [2, prompt]) })));
    expect(cache.length).toBe(prompt);
    for (let t = prompt; t < T; t++) {
      parts.push(tf.tidy(() => attn.forward(tf.slice(x, [0, t, 0], [2, 1, 16]), { cache, attentionMask: tf.slice(mask, [0, 0], [2, t + 1]) })));
    }
    expect(cache.length).toBe(T);
    expect(cache.k!.shape).toEqual([2, 2, T, 4]);
    // Rows of batch 0's padded position 0 attend to nothing valid in either run; compare everything else.
    const inc = tf.concat(parts, 1);
    const keep = [1, 2, 3, 4, 5, 6].map((t) => t * 16);
    const fullD = full.dataSync(), incD = inc.dataSync();
    const pick = (d: ArrayLike<number>): number[] => [
      ...keep.flatMap((o) => Array.from({ length: 16 }, (_, i) => d[o + i])),
      ...Array.from({ length: T * 16 }, (_, i) => d[T * 16 + i]),
    ];
    expectTensorsClose(pick(incD), pick(fullD), { atol: 1e-5, rtol: 1e-5 });
    cache.dispose();
    expect(cache.length).toBe(0);
    tf.dispose([x, mask, full, inc, ...parts]);
    attn.dispose();
  });

  it('a cache of another batch size is refused', () => {
    const attn = new MultiHeadAttention({ dModel: 8, nHeads: 2, rng: new Rng(5) });
    const cache = new KVCache();
    tf.dispose(attn.forward(tf.zeros([2, 2, 8]), { cache }));
    expect(() => attn.forward(tf.zeros([1, 1, 8]), { cache })).toThrow(/do not match the cache/);
    cache.dispose();
    attn.dispose();
  });
});

describe('attention memory', () => {
  it('forward, backward and cached decoding do not leak', async () => {
    const rng = new Rng(6);
    const attn = new MultiHeadAttention({ dModel: 16, nHeads: 4, nKvHeads: 2, rope: {}, attnDropout: 0.1, rng });
    const x = rng.normalTensor([2, 5, 16]);
    const mask = tf.ones([2, 5]);
    await expectNoLeak(() => attn.forward(x, { attentionMask: mask }), { label: 'attention forward' });
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(attn.forward(x, { attentionMask: mask }))), attn.parameters());
      tf.dispose([value, grads]);
    }, { label: 'attention backward' });
    attn.eval();
    await expectNoLeak(() => {
      const cache = new KVCache();
      tf.dispose(attn.forward(x, { cache }));
      tf.tidy(() => {
        attn.forward(tf.slice(x, [0, 0, 0], [2, 1, 16]), { cache });
      });
      cache.dispose();
    }, { label: 'cached decoding' });
    tf.dispose([x, mask]);
    attn.dispose();
  });
});
