import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ActivationStats, SiftError } from '@sift/tensor-core';
import { expectNoLeak, expectTensorsClose, seeded } from '@sift/tensor-core/testing';
import { magnitudeScore, sparsegptScore, wandaScore } from './element.js';

/** Naive references, written from the formulas with plain loops in float64. */
function naive(w: Float32Array, out: number, inF: number, f: (v: number, j: number) => number): Float64Array {
  const r = new Float64Array(out * inF);
  for (let i = 0; i < out; i++) for (let j = 0; j < inF; j++) r[i * inF + j] = f(w[i * inF + j], j);
  return r;
}

describe('element scores', () => {
  const rng = seeded('element');
  const out = 6, inF = 10, T = 50;
  const wData = rng.fillNormal(new Float32Array(out * inF));
  const xData = rng.fillNormal(new Float32Array(T * inF));
  for (let t = 0; t < T; t++) xData[t * inF + 3] *= 20; // an outlier channel

  it('magnitude is |W| and wanda is |W_ij|·‖X_j‖₂ (naive loops; ActivationStats and plain norms agree)', () => {
    const w = tf.tensor2d(wData, [out, inF]);
    const x = tf.tensor2d(xData, [T, inF]);
    const stats = new ActivationStats({ name: 'test' });
    stats.update(x);
    const norms = new Float64Array(inF);
    for (let j = 0; j < inF; j++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += xData[t * inF + j] ** 2;
      norms[j] = Math.sqrt(s);
    }
    const m = magnitudeScore(w);
    const a = wandaScore(w, stats);
    const b = wandaScore(w, { l2: norms });
    // float32 device arithmetic against float64 loops: rtol 1e-5.
    expectTensorsClose(m, naive(wData, out, inF, (v) => Math.abs(v)), { rtol: 1e-6, atol: 0 });
    expectTensorsClose(a, naive(wData, out, inF, (v, j) => Math.abs(v) * norms[j]), { rtol: 1e-5, atol: 1e-6 });
    expectTensorsClose(b, a, { rtol: 1e-5, atol: 1e-6 });
    tf.dispose([w, x, m, a, b]);
    stats.dispose();
  });

  it('sparsegpt is W²/U_jj²', () => {
    const w = tf.tensor2d(wData, [out, inF]);
    const diag = Float64Array.from({ length: inF }, (_, j) => 0.5 + j / 7);
    const s = sparsegptScore(w, diag);
    expectTensorsClose(s, naive(wData, out, inF, (v, j) => (v * v) / (diag[j] * diag[j])), { rtol: 1e-5, atol: 1e-7 });
    const diagT = tf.tensor1d(Float32Array.from(diag));
    const s2 = sparsegptScore(w, diagT);
    expectTensorsClose(s2, s);
    tf.dispose([w, s, s2, diagT]);
  });

  it('bad inputs throw SiftErrors that name the problem', () => {
    const w = tf.zeros<tf.Rank.R2>([4, 8]);
    expect(() => wandaScore(w, { l2: [1, 2, 3] })).toThrow(/3 entries but the weight has 8 input columns/u);
    expect(() => wandaScore(w, { maxAbs: new Float64Array(8) })).toThrow(/no 'l2'/u);
    expect(() => sparsegptScore(w, new Float64Array(8))).toThrow(SiftError);
    expect(() => magnitudeScore(tf.zeros([8]) as unknown as tf.Tensor2D)).toThrow(/\[out, in\]/u);
    expect(() => wandaScore(w, { l2: [1, 1, 1, Number.NaN, 1, 1, 1, 1] })).toThrow(/channel 3/u);
    w.dispose();
  });

  it('does not leak', async () => {
    const w = tf.tensor2d(wData, [out, inF]);
    const norms = { l2: new Float64Array(inF).fill(2) };
    await expectNoLeak(() => [magnitudeScore(w), wandaScore(w, norms), sparsegptScore(w, norms.l2)], { label: 'element scores' });
    w.dispose();
  });
});
