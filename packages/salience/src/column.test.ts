import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActivationStats } from '@sift/tensor-core';
import { expectNoLeak, expectTensorsClose, seeded } from '@sift/tensor-core/testing';
import { GENERALIZED_METRIC_DEFAULTS, METRIC_PRESETS, generalizedScore, owqScore, parseMetricOptions, spqrColumnScore } from './column.js';
import { wandaScore } from './element.js';
import { topColumns } from './top.js';

const out = 7, inF = 12, T = 64;
const rng = seeded('column');
const dData = rng.fillNormal(new Float32Array(out * inF));
const xData = rng.fillNormal(new Float32Array(T * inF));
for (let t = 0; t < T; t++) xData[t * inF + 5] *= 30;

/** Independent float64 references over the raw arrays. */
function colNorm(a: Float32Array, rows: number, cols: number, p: 1 | 2 | 'inf'): Float64Array {
  const r = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let i = 0; i < rows; i++) {
      const v = Math.abs(a[i * cols + j]);
      if (p === 'inf') s = Math.max(s, v);
      else s += p === 1 ? v : v * v;
    }
    r[j] = p === 2 ? Math.sqrt(s) : s;
  }
  return r;
}
const dNorm = { 1: colNorm(dData, out, inF, 1), 2: colNorm(dData, out, inF, 2), inf: colNorm(dData, out, inF, 'inf') };
const xNorm = { 1: colNorm(xData, T, inF, 1), 2: colNorm(xData, T, inF, 2), inf: colNorm(xData, T, inF, 'inf') };

function withStats<R>(fn: (d: tf.Tensor2D, stats: ActivationStats) => R): R {
  const d = tf.tensor2d(dData, [out, inF]);
  const x = tf.tensor2d(xData, [T, inF]);
  const stats = new ActivationStats({ name: 'col' });
  stats.update(x);
  try {
    return fn(d, stats);
  } finally {
    tf.dispose([d, x]);
    stats.dispose();
  }
}

describe('generalizedScore: GIFT-SW Eq. 4 reduces to the named metrics (closed forms)', () => {
  it("default and 'gift-sw': max_i |D_ij| · max_t |X_tj|", () => {
    expect(GENERALIZED_METRIC_DEFAULTS).toEqual({ tau: 'inf', dPower: 1, rho: 'inf', gamma: 1 });
    withStats((d, stats) => {
      const want = dNorm.inf.map((v, j) => v * xNorm.inf[j]);
      expectTensorsClose(generalizedScore(d, stats), want, { rtol: 1e-6, atol: 0 });
      expectTensorsClose(generalizedScore(d, stats, 'gift-sw'), want, { rtol: 1e-6, atol: 0 });
    });
  });

  it("'quik': max_t |X_tj| with no D term (D may be null)", () => {
    withStats((d, stats) => {
      expectTensorsClose(generalizedScore(null, stats, 'quik'), xNorm.inf, { rtol: 1e-6, atol: 0 });
      expectTensorsClose(generalizedScore(d, stats, 'quik'), xNorm.inf, { rtol: 1e-6, atol: 0 });
    });
  });

  it("'owq': ‖D_j‖₂²‖X_j‖₂² = owqScore · n/2 = λ_j‖D_j‖₂² · n/2", () => {
    withStats((d, stats) => {
      const want = dNorm[2].map((v, j) => v * v * xNorm[2][j] ** 2);
      const g = generalizedScore(d, stats, 'owq');
      expectTensorsClose(g, want, { rtol: 1e-5, atol: 0 });
      const o = owqScore(d, stats);
      expectTensorsClose(o.map((v) => (v * T) / 2), want, { rtol: 1e-5, atol: 0 });
      const hDiag = xNorm[2].map((v) => (2 / T) * v * v);
      expectTensorsClose(owqScore(d, hDiag), o, { rtol: 1e-5, atol: 0 });
    });
  });

  it("'wanda' with D = W is the column sum of Wanda's element scores |W_ij|·‖X_j‖₂", () => {
    withStats((w, stats) => {
      const el = wandaScore(w, stats);
      const colSum = tf.sum(el, 0);
      expectTensorsClose(generalizedScore(w, stats, 'wanda'), colSum, { rtol: 1e-5, atol: 0 });
      expectTensorsClose(generalizedScore(w, stats, 'wanda'), dNorm[1].map((v, j) => v * xNorm[2][j]), { rtol: 1e-5, atol: 0 });
      tf.dispose([el, colSum]);
    });
  });

  it('any (τ, δ, ρ, γ) matches the naive formula (property, plain ColumnNorms)', () => {
    const d = tf.tensor2d(dData, [out, inF]);
    const stats = { l1: xNorm[1], l2: xNorm[2], maxAbs: xNorm.inf };
    const norm = fc.constantFrom<1 | 2 | 'inf'>(1, 2, 'inf');
    fc.assert(fc.property(norm, norm, fc.constantFrom(0, 0.5, 1, 2, 3), fc.constantFrom(0, 0.5, 1, 2), (tau, rho, dPower, gamma) => {
      if (dPower === 0 && gamma === 0) return;
      const got = generalizedScore(d, stats, { tau, rho, dPower, gamma });
      const want = dNorm[tau].map((v, j) => v ** dPower * xNorm[rho][j] ** gamma);
      expectTensorsClose(got, want, { rtol: 2e-5, atol: 0 });
    }), { seed: 11, numRuns: 60 });
    d.dispose();
  });

  it('spqrColumnScore is Σ_i D_ij² / U_jj²', () => {
    const d = tf.tensor2d(dData, [out, inF]);
    const u = Float64Array.from({ length: inF }, (_, j) => 0.3 + 0.1 * j);
    expectTensorsClose(spqrColumnScore(d, u), dNorm[2].map((v, j) => (v * v) / (u[j] * u[j])), { rtol: 1e-5, atol: 0 });
    d.dispose();
  });

  it('options are validated; errors name the field and the fix', () => {
    expect(() => parseMetricOptions({ tau: 3 as never })).toThrow(/tau must be 1, 2 or 'inf'/u);
    expect(() => parseMetricOptions({ gamma: -1 })).toThrow(/gamma must be a finite number >= 0/u);
    expect(() => parseMetricOptions('awq' as never)).toThrow(/unknown preset "awq"; choose one of 'gift-sw', 'quik', 'owq', 'wanda'/u);
    expect(() => generalizedScore(null, { maxAbs: [1, 2] })).toThrow(/perturbation D \[out, in\] is needed/u);
    withStats((d, stats) => {
      expect(() => generalizedScore(d, stats, { rho: 1 })).toThrow(/no ‖X_j‖₁/u);
      expect(() => generalizedScore(d, { maxAbs: [1, 2, 3] })).toThrow(/3 entries but the weight has 12/u);
    });
    expect(Object.keys(METRIC_PRESETS)).toEqual(['gift-sw', 'quik', 'owq', 'wanda']);
  });

  it('does not leak', async () => {
    const d = tf.tensor2d(dData, [out, inF]);
    const stats = { l2: xNorm[2], maxAbs: xNorm.inf };
    await expectNoLeak(() => [generalizedScore(d, stats), owqScore(d, xNorm[2]), spqrColumnScore(d, new Float64Array(inF).fill(1))]);
    d.dispose();
  });
});

describe('topColumns', () => {
  it('returns the k largest, ascending, ties to the lower index', () => {
    expect(Array.from(topColumns([0.1, 5, 2, 7], 2))).toEqual([1, 3]);
    expect(Array.from(topColumns([1, 1, 1, 1], 2))).toEqual([0, 1]);
    expect(Array.from(topColumns([3, 1], 0))).toEqual([]);
    expect(() => topColumns([1, 2], 3)).toThrow(/k must be an integer in \[0, 2\]/u);
    expect(() => topColumns([1, Number.NaN], 1)).toThrow(/score 1 is NaN/u);
  });

  it('agrees with a sort-based reference (property)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 40 }), fc.nat(), (s, kk) => {
      const k = kk % (s.length + 1);
      const ref = s.map((v, j) => [v, j] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map(([, j]) => j).sort((a, b) => a - b);
      expect(Array.from(topColumns(s, k))).toEqual(ref);
    }), { seed: 3, numRuns: 200 });
  });
});
