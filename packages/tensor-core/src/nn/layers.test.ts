import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose } from '../testing.js';
import { Rng } from '../random/rng.js';
import { Dropout, dropoutMask } from './dropout.js';
import { Embedding } from './embedding.js';
import { bmm, gelu, geluTanh, relu, silu, activation } from './functional.js';
import { Linear } from './linear.js';
import { LayerNorm, RMSNorm } from './norm.js';

// Independent references: plain float64 loops over Float32Array data. Tolerances: float32 forward passes against
// float64 loops, atol 1e-5 / rtol 1e-5 unless stated.

function arr(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

function naiveLinear(x: Float32Array, rows: number, inF: number, w: Float32Array, out: number, b: Float32Array | null): Float64Array {
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = b === null ? 0 : b[o];
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * out + o] = s;
    }
  }
  return y;
}

describe('Linear', () => {
  it('matches a naive float64 product on 1 to 9 rows, with and without bias (the few-row path uses the transpose flag)', () => {
    const rng = new Rng(11);
    for (const bias of [true, false]) {
      const fc = new Linear({ inFeatures: 5, outFeatures: 4, bias, rng: rng.fork(`init-${String(bias)}`) });
      const w = fc.weight.dataSync();
      const b = fc.bias?.dataSync() ?? new Float32Array(4);
      for (const rows of [1, 2, 3, 4, 5, 9]) {
        const x = rng.normalTensor([rows, 5]);
        const xs = x.dataSync();
        const want = new Float64Array(rows * 4);
        for (let r = 0; r < rows; r++) for (let o = 0; o < 4; o++) {
          let acc = b[o];
          for (let i = 0; i < 5; i++) acc += xs[r * 5 + i] * w[o * 5 + i];
          want[r * 4 + o] = acc;
        }
        const y = fc.forward(x);
        expectTensorsClose(y, want, { atol: 1e-5, rtol: 1e-5, label: `rows ${String(rows)}, bias ${String(bias)}` });
        tf.dispose([x, y]);
      }
      fc.dispose();
    }
  });

  it('matches a naive loop on [B, T, in] with and without bias; weight is [out, in]', () => {
    const rng = new Rng(1);
    for (const bias of [true, false]) {
      const fc = new Linear({ inFeatures: 7, outFeatures: 5, bias, rng });
      expect(fc.weight.shape).toEqual([5, 7]);
      expect(fc.bias === null).toBe(!bias);
      const x = rng.normalTensor([2, 3, 7]);
      const y = fc.forward(x);
      expect(y.shape).toEqual([2, 3, 5]);
      expectTensorsClose(arr(y), naiveLinear(arr(x), 6, 7, arr(fc.weight), 5, bias ? arr(fc.bias!) : null));
      tf.dispose([x, y]);
      fc.dispose();
    }
  });

  it('PyTorch default init: U(-1/sqrt(in), 1/sqrt(in)), same seed gives identical weights', () => {
    const a = new Linear({ inFeatures: 64, outFeatures: 32, rng: new Rng(5) });
    const b = new Linear({ inFeatures: 64, outFeatures: 32, rng: new Rng(5) });
    const c = new Linear({ inFeatures: 64, outFeatures: 32, rng: new Rng(6) });
    expect(Array.from(arr(a.weight))).toEqual(Array.from(arr(b.weight)));
    expect(Array.from(arr(a.bias!))).toEqual(Array.from(arr(b.bias!)));
    expect(Array.from(arr(a.weight))).not.toEqual(Array.from(arr(c.weight)));
    const w = arr(a.weight);
    const bound = 1 / 8;
    expect(Math.max(...w)).toBeLessThanOrEqual(bound);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-bound);
    expect(Math.max(...w)).toBeGreaterThan(0.9 * bound); // it fills the range (2048 draws)
    const g = new Linear({ inFeatures: 64, outFeatures: 64, rng: new Rng(1), weightInit: { std: 0.02 }, biasInit: 'zeros' });
    const gw = arr(g.weight);
    const std = Math.sqrt(gw.reduce((s, v) => s + v * v, 0) / gw.length);
    expect(Math.abs(std - 0.02)).toBeLessThan(0.02 * 5 / Math.sqrt(2 * gw.length)); // 5 sigma of the sample std
    expect(Array.from(arr(g.bias!)).every((v) => v === 0)).toBe(true);
    [a, b, c, g].forEach((m) => { m.dispose(); });
  });

  it('options set to undefined keep their defaults', () => {
    const fc = new Linear({ inFeatures: 2, outFeatures: 3, bias: undefined, rng: new Rng(0) });
    expect(fc.bias?.shape).toEqual([3]);
    fc.dispose();
  });

  it('a random init without an rng is a clear error; fromWeights copies', () => {
    expect(() => new Linear({ inFeatures: 2, outFeatures: 2 })).toThrow(/needs an Rng/);
    const w = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const fc = Linear.fromWeights(w, tf.tensor1d([0.5, 0, -0.5]));
    expect(fc.inFeatures).toBe(2);
    expect(fc.outFeatures).toBe(3);
    expectTensorsClose(fc.forward(tf.tensor2d([[1, 1]])), [3.5, 7, 10.5]);
    w.dispose();
    expect(fc.weight.isDisposed).toBe(false);
    fc.dispose();
  });

  it('rejects a wrong input size with the sizes in the message', () => {
    const fc = new Linear({ inFeatures: 4, outFeatures: 2, rng: new Rng(0) });
    expect(() => fc.forward(tf.zeros([3, 5]))).toThrow(/input \[3, 5\] must end in in_features 4/);
    fc.dispose();
  });

  it('the gradient of a frozen weight is skipped, the input gradient still flows', () => {
    const rng = new Rng(2);
    const fc = new Linear({ inFeatures: 3, outFeatures: 2, rng });
    fc.freeze();
    const x = rng.normalTensor([4, 3]);
    const gx = tf.grad((xx: tf.Tensor) => tf.sum(fc.forward(xx)))(x);
    // d/dx sum(x W^T + b) = column sums of W, broadcast over rows
    const w = arr(fc.weight);
    const colSum = [w[0] + w[3], w[1] + w[4], w[2] + w[5]];
    expectTensorsClose(gx, [...colSum, ...colSum, ...colSum, ...colSum]);
    tf.dispose([x, gx]);
    fc.dispose();
  });

  it('forward and backward do not leak', async () => {
    const rng = new Rng(3);
    const fc = new Linear({ inFeatures: 8, outFeatures: 4, rng });
    const x = rng.normalTensor([2, 5, 8]);
    await expectNoLeak(() => fc.forward(x), { label: 'Linear.forward' });
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(fc.forward(x))), fc.parameters());
      tf.dispose([value, grads]);
    }, { label: 'Linear backward' });
    x.dispose();
    fc.dispose();
  });
});

describe('bmm', () => {
  it('matches a naive batched product, with and without transposeB, and its gradient (vs finite differences)', () => {
    const rng = new Rng(4);
    const a = rng.normalTensor([2, 3, 4, 5]);
    const b = rng.normalTensor([2, 3, 5, 6]);
    const bt = tf.transpose(b, [0, 1, 3, 2]);
    const A = arr(a), Bv = arr(b);
    const want = new Float64Array(2 * 3 * 4 * 6);
    for (let n = 0; n < 6; n++) for (let i = 0; i < 4; i++) for (let j = 0; j < 6; j++) {
      let s = 0;
      for (let k = 0; k < 5; k++) s += A[n * 20 + i * 5 + k] * Bv[n * 30 + k * 6 + j];
      want[n * 24 + i * 6 + j] = s;
    }
    expectTensorsClose(arr(bmm(a, b)), want);
    expectTensorsClose(arr(bmm(a, bt, true)), want);
    // gradient w.r.t. a of sum(bmm(a, b) * r): r · bᵀ
    const r = rng.normalTensor([2, 3, 4, 6]);
    const ga = tf.grad((aa: tf.Tensor) => tf.sum(tf.mul(bmm(aa, bt, true), r)))(a);
    expectTensorsClose(ga, tf.matMul(r, b, false, true), { atol: 1e-5, rtol: 1e-5 });
    const gb = tf.grad((bb: tf.Tensor) => tf.sum(tf.mul(bmm(a, bb, true), r)))(bt);
    expectTensorsClose(gb, tf.matMul(r, a, true, false), { atol: 1e-5, rtol: 1e-5 });
    tf.dispose([a, b, bt, r, ga, gb]);
  });
});

describe('norms and activations', () => {
  it('LayerNorm matches the definition (biased variance, eps inside the sqrt)', () => {
    const rng = new Rng(7);
    const ln = new LayerNorm({ dim: 6 });
    ln.loadStateDict({ weight: rng.normalTensor([6], 1, 0.3), bias: rng.normalTensor([6], 0, 0.2) });
    const x = rng.normalTensor([2, 3, 6], 0.5, 2);
    const X = arr(x), W = arr(ln.weight!), Bb = arr(ln.bias!);
    const want = new Float64Array(36);
    for (let r = 0; r < 6; r++) {
      let m = 0, v = 0;
      for (let i = 0; i < 6; i++) m += X[r * 6 + i] / 6;
      for (let i = 0; i < 6; i++) v += (X[r * 6 + i] - m) ** 2 / 6;
      for (let i = 0; i < 6; i++) want[r * 6 + i] = ((X[r * 6 + i] - m) / Math.sqrt(v + 1e-5)) * W[i] + Bb[i];
    }
    expectTensorsClose(arr(ln.forward(x)), want, { atol: 1e-5, rtol: 1e-5 });
    expect(() => ln.forward(tf.zeros([2, 5]))).toThrow(/must end in 6/);
    x.dispose();
    ln.dispose();
  });

  it('RMSNorm matches the definition', () => {
    const rng = new Rng(8);
    const n = new RMSNorm({ dim: 5, eps: 1e-6 });
    n.loadStateDict({ weight: rng.normalTensor([5], 1, 0.3) });
    const x = rng.normalTensor([4, 5]);
    const X = arr(x), W = arr(n.weight!);
    const want = new Float64Array(20);
    for (let r = 0; r < 4; r++) {
      let ms = 0;
      for (let i = 0; i < 5; i++) ms += X[r * 5 + i] ** 2 / 5;
      for (let i = 0; i < 5; i++) want[r * 5 + i] = (X[r * 5 + i] / Math.sqrt(ms + 1e-6)) * W[i];
    }
    expectTensorsClose(arr(n.forward(x)), want);
    x.dispose();
    n.dispose();
  });

  it('GELU (erf and tanh), SiLU and ReLU match their formulas; lookup by name', () => {
    const xs = Array.from({ length: 41 }, (_, i) => -5 + i * 0.25);
    const x = tf.tensor1d(xs);
    // erf by a 1e-13-accurate series/continued fraction is overkill; use the exact relation with a high-precision
    // erf (Abramowitz-Stegun 7.1.26 is what tfjs uses, error 1.5e-7), so compare to 3e-7.
    const erf = (v: number): number => {
      // Taylor series, converges for |v| <= 5 with 60 terms in float64
      let sum = 0, term = v, n = 0;
      while (Math.abs(term) > 1e-17 * Math.abs(sum) || n < 5) {
        sum += term / (2 * n + 1);
        n += 1;
        term *= (-v * v) / n;
        if (n > 200) break;
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    expectTensorsClose(arr(gelu(x)), xs.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))), { atol: 1e-6, rtol: 1e-6 });
    const k = Math.sqrt(2 / Math.PI);
    expectTensorsClose(arr(geluTanh(x)), xs.map((v) => 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v ** 3)))), { atol: 1e-6, rtol: 1e-5 });
    expectTensorsClose(arr(silu(x)), xs.map((v) => v / (1 + Math.exp(-v))), { atol: 1e-6, rtol: 1e-5 });
    expectTensorsClose(arr(relu(x)), xs.map((v) => Math.max(v, 0)));
    expect(activation('gelu_tanh')).toBe(geluTanh);
    expect(() => activation('swish')).toThrow(/valid: relu, gelu, gelu_tanh, silu/);
    x.dispose();
  });

  it('fused gradients of GELU, GELU-tanh, SiLU, LayerNorm, RMSNorm match autodiff of the plain formulas', () => {
    const rng = new Rng(9);
    const x = rng.normalTensor([3, 8], 0, 1.5);
    const w = rng.normalTensor([8], 1, 0.3);
    const b = rng.normalTensor([8], 0, 0.3);
    const r = rng.normalTensor([3, 8]);
    const k = Math.sqrt(2 / Math.PI);
    const plain: [string, (t: tf.Tensor) => tf.Tensor, (t: tf.Tensor) => tf.Tensor][] = [
      ['gelu', gelu, (t) => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2))))],
      ['gelu_tanh', geluTanh, (t) => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.tanh(tf.mul(k, tf.add(t, tf.mul(0.044715, tf.pow(t, 3)))))))],
      ['silu', silu, (t) => tf.mul(t, tf.sigmoid(t))],
      ['layerNorm', (t) => new LayerNorm({ dim: 8 }).forward(t), (t) => {
        const { mean, variance } = tf.moments(t, -1, true);
        return tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-5)));
      }],
    ];
    for (const [name, fast, ref] of plain) {
      const g1 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(fast(t), r)))(x);
      const g2 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ref(t), r)))(x);
      expectTensorsClose(g1, g2, { atol: 2e-5, rtol: 1e-4, label: name });
    }
    // affine norms: gradients w.r.t. x, weight and bias
    const ln = new LayerNorm({ dim: 8 });
    ln.loadStateDict({ weight: w, bias: b });
    const rms = new RMSNorm({ dim: 8, eps: 1e-6 });
    rms.loadStateDict({ weight: w });
    const lnRef = (t: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Tensor => {
      const { mean, variance } = tf.moments(t, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-5))), ww), bb);
    };
    const rmsRef = (t: tf.Tensor, ww: tf.Tensor): tf.Tensor => tf.mul(tf.mul(t, tf.rsqrt(tf.add(tf.mean(tf.square(t), -1, true), 1e-6))), ww);
    const [a1, a2, a3] = tf.grads((t: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(lnRef(t, ww, bb), r)))([x, w, b]);
    const fastLn = tf.variableGrads(() => tf.sum(tf.mul(ln.forward(x), r)), ln.parameters());
    expectTensorsClose(fastLn.grads[ln.weight!.name], a2, { atol: 2e-5, rtol: 1e-4, label: 'LayerNorm dW' });
    expectTensorsClose(fastLn.grads[ln.bias!.name], a3, { atol: 2e-5, rtol: 1e-4, label: 'LayerNorm db' });
    expectTensorsClose(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ln.forward(t), r)))(x), a1, { atol: 2e-5, rtol: 1e-4, label: 'LayerNorm dx' });
    const [c1, c2] = tf.grads((t: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(rmsRef(t, ww), r)))([x, w]);
    const fastRms = tf.variableGrads(() => tf.sum(tf.mul(rms.forward(x), r)), rms.parameters());
    expectTensorsClose(fastRms.grads[rms.weight!.name], c2, { atol: 2e-5, rtol: 1e-4, label: 'RMSNorm dW' });
    expectTensorsClose(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(rms.forward(t), r)))(x), c1, { atol: 2e-5, rtol: 1e-4, label: 'RMSNorm dx' });
    ln.dispose();
    rms.dispose();
  });
});

describe('Embedding', () => {
  it('looks rows up; the gradient scatter-adds duplicates and skips paddingIdx', () => {
    const rng = new Rng(10);
    const emb = new Embedding({ numEmbeddings: 5, embeddingDim: 3, paddingIdx: 0, rng });
    const W = arr(emb.weight);
    expect(Array.from(W.slice(0, 3))).toEqual([0, 0, 0]); // the padding row starts at zero
    const ids = tf.tensor2d([[1, 2, 2], [0, 4, 1]], [2, 3], 'int32');
    const y = emb.forward(ids);
    expect(y.shape).toEqual([2, 3, 3]);
    const flat = [1, 2, 2, 0, 4, 1];
    expectTensorsClose(arr(y), flat.flatMap((i) => Array.from(W.slice(i * 3, i * 3 + 3))));
    const r = rng.normalTensor([2, 3, 3]);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(emb.forward(ids), r)), [emb.weight]);
    const R = arr(r);
    const want = new Float64Array(15);
    flat.forEach((id, n) => {
      if (id === 0) return;
      for (let d = 0; d < 3; d++) want[id * 3 + d] += R[n * 3 + d];
    });
    expectTensorsClose(arr(grads[emb.weight.name]), want);
    expect(() => emb.forward(tf.tensor1d([1, 2]))).toThrow(/ids must be int32/);
    tf.dispose([ids, y, r, grads]);
    emb.dispose();
  });

  it('N(0, 1) by default, deterministic per seed', () => {
    const a = new Embedding({ numEmbeddings: 100, embeddingDim: 20, rng: new Rng(3) });
    const b = new Embedding({ numEmbeddings: 100, embeddingDim: 20, rng: new Rng(3) });
    expect(Array.from(arr(a.weight))).toEqual(Array.from(arr(b.weight)));
    const w = arr(a.weight);
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    const sd = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(w.length));
    expect(Math.abs(sd - 1)).toBeLessThan(5 / Math.sqrt(2 * w.length));
    a.dispose();
    b.dispose();
  });
});

describe('memory', () => {
  it('Embedding, LayerNorm, RMSNorm, Dropout and the activations do not leak forward or backward', async () => {
    const rng = new Rng(12);
    const emb = new Embedding({ numEmbeddings: 10, embeddingDim: 6, paddingIdx: 0, rng });
    const ln = new LayerNorm({ dim: 6 });
    const rms = new RMSNorm({ dim: 6 });
    const drop = new Dropout({ p: 0.2, rng });
    const ids = tf.tensor2d([[1, 2, 0], [3, 3, 9]], [2, 3], 'int32');
    const f = (): tf.Scalar => tf.sum(silu(gelu(geluTanh(drop.forward(rms.forward(ln.forward(emb.forward(ids))))))));
    const params = [...emb.parameters(), ...ln.parameters(), ...rms.parameters()];
    await expectNoLeak(() => tf.tidy(f), { label: 'forward' }); // a chain of layer calls belongs in the caller's tidy
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(f, params);
      tf.dispose([value, grads]);
    }, { label: 'backward' });
    ids.dispose();
    [emb, ln, rms, drop].forEach((m) => { m.dispose(); });
  });
});

describe('Dropout', () => {
  it('is active only in training; keeps E[x] (inverted scaling); same seed, same mask', () => {
    const drop = new Dropout({ p: 0.25, rng: new Rng(11) });
    const x = tf.ones([200, 50]);
    const y = drop.forward(x);
    const Y = arr(y);
    const kept = Y.filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    const frac = kept.length / Y.length;
    expect(Math.abs(frac - 0.75)).toBeLessThan(5 * Math.sqrt(0.75 * 0.25 / Y.length));
    drop.eval();
    expect(drop.forward(x)).toBe(x);
    drop.train();
    const a = dropoutMask([64], 0.5, new Rng(1));
    const b = dropoutMask([64], 0.5, new Rng(1));
    expect(Array.from(arr(a))).toEqual(Array.from(arr(b)));
    expect(() => new Dropout({ p: 1, rng: new Rng(0) })).toThrow(/p must be in \[0, 1\)/);
    tf.dispose([x, y, a, b]);
  });
});
