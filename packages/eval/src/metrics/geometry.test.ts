import { describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose, seeded } from '@sift/tensor-core/testing';
import { loadEvalFixtures } from '../internal/fixtures.js';
import { matrix } from '../probes/matrix.js';
import { symmetricEigenvalues } from './eigen.js';
import { anisotropy, singularValues, twoNN, twoNearestDistances } from './geometry.js';

const fx = loadEvalFixtures();

describe('symmetricEigenvalues', () => {
  it('recovers the spectrum of Q diag(λ) Qᵀ for a random orthogonal Q (1e-10)', () => {
    const n = 40;
    const rng = seeded('eig');
    // Q from Householder reflections of random vectors.
    const q = new Float64Array(n * n);
    for (let i = 0; i < n; i++) q[i * n + i] = 1;
    for (let r = 0; r < 5; r++) {
      const v = Float64Array.from({ length: n }, () => rng.normal());
      const vv = v.reduce((s, x) => s + x * x, 0);
      for (let c = 0; c < n; c++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += v[i] * q[i * n + c];
        for (let i = 0; i < n; i++) q[i * n + c] -= (2 * v[i] * dot) / vv;
      }
    }
    const lambda = Float64Array.from({ length: n }, (_, i) => (i - 12) * 0.37);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] * lambda[k] * q[j * n + k];
      a[i * n + j] = s;
    }
    expectTensorsClose(symmetricEigenvalues(a, n), lambda, { atol: 1e-10, rtol: 0 });
  });

  it('handles 1x1 and diagonal input', () => {
    expect(Array.from(symmetricEigenvalues(Float64Array.from([3]), 1))).toEqual([3]);
    expect(Array.from(symmetricEigenvalues(Float64Array.from([2, 0, 0, -1]), 2))).toEqual([-1, 2]);
  });
});

describe('anisotropy (numpy SVD reference)', () => {
  it('singular values match np.linalg.svd (rtol 1e-9) and anisotropy = σ₁/Σσ', () => {
    const x = matrix(fx.anisotropy.x);
    expectTensorsClose(singularValues(x), fx.anisotropy.singularValues, { atol: 1e-9, rtol: 1e-9, label: 'singular values' });
    const r = anisotropy(x);
    expectTensorsClose(r.anisotropy, fx.anisotropy.anisotropy, { atol: 1e-10, rtol: 1e-9 });
    expect(r.rows).toBe(200);
  });

  it('wide matrices use the N x N Gram and agree with the transpose', () => {
    const x = matrix(fx.anisotropy.x.slice(0, 10)); // 10 x 16
    const xt = matrix(Array.from({ length: 16 }, (_, j) => Array.from({ length: 10 }, (_, i) => x.data[i * 16 + j])));
    expectTensorsClose(singularValues(x), singularValues(xt), { atol: 1e-10, rtol: 1e-10 });
  });

  it('isotropic and rank-1 extremes; subsampling is seeded', () => {
    expect(anisotropy(matrix([[1, 0], [0, 1]])).anisotropy).toBeCloseTo(0.5, 12);
    expect(anisotropy(matrix([[1, 2], [2, 4], [-1, -2]])).anisotropy).toBeCloseTo(1, 7);
    const big = matrix(fx.anisotropy.x);
    const a = anisotropy(big, { maxRows: 50, seed: 3 });
    expect(a.rows).toBe(50);
    expect(anisotropy(big, { maxRows: 50, seed: 3 }).anisotropy).toBe(a.anisotropy);
    expect(anisotropy(big, { maxRows: 50, seed: 4 }).anisotropy).not.toBe(a.anisotropy);
    expect(() => anisotropy(big, { maxRows: 0 })).toThrow(/maxRows/);
  });
});

describe('twoNN (Facco et al. 2017, reference code of Ansuini et al. 2019)', () => {
  it('matches the numpy reference on a noisy 3-D manifold in 12-D (1e-9)', async () => {
    const r = await twoNN(matrix(fx.twoNN.x));
    expectTensorsClose(r.dimension, fx.twoNN.dimension, { atol: 1e-9, rtol: 1e-9, label: 'TwoNN dimension' });
    expect(r.points).toBe(500);
    expect(r.dropped).toBe(0);
    expect(r.fitted).toBe(450);
  });

  it('neighbour distances equal a float64 brute force, across block boundaries', async () => {
    const rng = seeded('nn');
    const rows = Array.from({ length: 70 }, () => Array.from({ length: 5 }, () => rng.normal() + 100)); // far from 0
    const x = matrix(rows);
    const { r1, r2 } = await twoNearestDistances(x, { blockRows: 16 });
    for (let i = 0; i < 70; i++) {
      const d = rows.map((r, j) => (j === i ? Infinity : Math.hypot(...r.map((v, t) => v - rows[i][t])))).sort((a, b) => a - b);
      expectTensorsClose([r1[i], r2[i]], [d[0], d[1]], { atol: 1e-12, rtol: 1e-12 });
    }
  });

  it('drops duplicates (r₁ = 0) as the reference does, and does not leak tensors', async () => {
    const rng = seeded('dup');
    const rows = Array.from({ length: 60 }, () => Array.from({ length: 3 }, () => rng.normal()));
    rows.push([...rows[0]]);
    const r = await twoNN(matrix(rows));
    // The two copies have r₁ = 0; a point whose nearest neighbour is the duplicated one sees it twice (r₁ = r₂).
    expect(r.dropped).toBe(3);
    await expectNoLeak(() => twoNN(matrix(rows)), { label: 'twoNN' });
  });

  it('a 2-D plane in 6-D has dimension near 2', async () => {
    const rng = seeded('plane');
    const rows = Array.from({ length: 1500 }, () => {
      const a = rng.float(), b = rng.float();
      return [a, b, a + b, a - b, 2 * a, 0.5 * b];
    });
    const { dimension } = await twoNN(matrix(rows));
    expect(dimension).toBeGreaterThan(1.8);
    expect(dimension).toBeLessThan(2.2);
  });
});
