import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SiftError } from '@sift/tensor-core';
import { expectNoLeak, seeded } from '@sift/tensor-core/testing';
import { nmMask, salientMask, unstructuredMask } from './nm-mask.js';
import { selectNM, selectUnstructured } from './select.js';

/** Scores with few ties: distinct integers in random order, or floats. */
const scoresArb = (rows: number, cols: number): fc.Arbitrary<Float32Array> =>
  fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: rows * cols, maxLength: rows * cols }).map((a) => Float32Array.from(a));

function retained(s: Float32Array, keep: Uint8Array): number {
  let t = 0;
  for (let i = 0; i < s.length; i++) if (keep[i] === 1) t += s[i];
  return t;
}

describe('N:M masks', () => {
  it('keep exactly N in every group of M, for any N < M (property)', () => {
    const pat = fc.constantFrom([1, 2], [2, 4], [3, 4], [4, 8], [8, 16], [5, 16], [16, 32]);
    fc.assert(fc.property(pat, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer(), ([n, m], rows, groups, seed) => {
      const cols = m * groups;
      const s = seeded(seed).fillNormal(new Float32Array(rows * cols));
      const keep = selectNM(s, rows, cols, n, m);
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g < cols; g += m) {
          let k = 0;
          let minKept = Infinity;
          let maxPruned = -Infinity;
          for (let j = 0; j < m; j++) {
            const i = r * cols + g + j;
            k += keep[i];
            if (keep[i] === 1) minKept = Math.min(minKept, s[i]);
            else maxPruned = Math.max(maxPruned, s[i]);
          }
          expect(k).toBe(n);
          expect(minKept).toBeGreaterThanOrEqual(maxPruned); // the kept ones are the top N
        }
      }
    }), { seed: 1, numRuns: 80 });
  });

  it('retained score: 2:4 <= 4:8 <= 8:16 <= 16:32 <= per-row 50% (property; masks nest)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer(), (rows, blocks, seed) => {
      const cols = 32 * blocks;
      const s = seeded(seed).fillNormal(new Float32Array(rows * cols)).map(Math.abs);
      const chain = [selectNM(s, rows, cols, 2, 4), selectNM(s, rows, cols, 4, 8), selectNM(s, rows, cols, 8, 16),
        selectNM(s, rows, cols, 16, 32), selectUnstructured(s, rows, cols, 0.5, 'row')].map((k) => retained(s, k));
      for (let i = 1; i < chain.length; i++) expect(chain[i]).toBeGreaterThanOrEqual(chain[i - 1] - 1e-4);
    }), { seed: 2, numRuns: 60 });
  });

  it('ties keep the lower index; the same scores give the same mask', () => {
    fc.assert(fc.property(scoresArb(2, 16), (s) => {
      expect(selectNM(s, 2, 16, 8, 16)).toEqual(selectNM(s.slice(), 2, 16, 8, 16));
    }), { seed: 3, numRuns: 30 });
    expect(Array.from(selectNM(new Float32Array(8).fill(1), 1, 8, 2, 4))).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
  });

  it('tensor API: nmMask, unstructuredMask (row and layer counts), salient masks included', () => {
    const rng = seeded('api');
    const s = rng.normalTensor([4, 32]) as tf.Tensor2D;
    const m = nmMask(s, '8:16');
    expect(m.shape).toEqual([4, 32]);
    expect(tf.sum(m).dataSync()[0]).toBe(64);
    const u = unstructuredMask(s, { sparsity: 0.25, scope: 'row' });
    expect(Array.from(tf.sum(u, 1).dataSync())).toEqual([24, 24, 24, 24]);
    const l = unstructuredMask(s, { sparsity: 0.75, scope: 'layer' });
    expect(tf.sum(l).dataSync()[0]).toBe(32);
    const sal = salientMask(s, { fraction: 1 / 16, pattern: 'structured', group: 16 });
    expect(Array.from(tf.sum(sal, 1).dataSync())).toEqual([2, 2, 2, 2]);
    const counted = nmMask(s, '8:16', { salient: sal });
    const extra = nmMask(s, '8:16', { salient: sal, countSalient: false });
    expect(tf.sum(counted).dataSync()[0]).toBe(64); // salient count toward N
    expect(tf.sum(extra).dataSync()[0]).toBe(64 + 8); // N besides them
    // salient entries are always in the mask
    expect(tf.sum(tf.mul(sal, counted)).dataSync()[0]).toBe(8);
    const salRow = salientMask(s, { fraction: 1 / 16, pattern: 'row' });
    const salLayer = salientMask(s, { fraction: 1 / 16, pattern: 'layer' });
    expect(tf.sum(salRow).dataSync()[0]).toBe(8);
    expect(tf.sum(salLayer).dataSync()[0]).toBe(8);
    tf.dispose([s, m, u, l, sal, counted, extra, salRow, salLayer]);
  });

  it('d_in not a multiple of M, bad patterns and NaN scores are SiftErrors that say what to do', () => {
    const s = tf.ones<tf.Rank.R2>([2, 24]);
    expect(() => nmMask(s, '8:16')).toThrow(/in_features 24 is not a multiple of M=16 \(pattern 8:16\)\. Use a pattern whose M divides it \(2:4, 4:8\)/u);
    expect(() => nmMask(s, '4:4')).toThrow(/0 < N < M <= 64, got 4:4/u);
    expect(() => nmMask(s, 'eight:16')).toThrow(/write it as 'N:M'/u);
    const bad = tf.tensor2d([[1, Number.NaN, 1, 1]]);
    expect(() => nmMask(bad, '2:4')).toThrow(SiftError);
    expect(() => salientMask(s, { fraction: 0.01, pattern: 'structured', group: 16 })).toThrow(/must be a whole number/u);
    tf.dispose([s, bad]);
  });

  it('does not leak', async () => {
    const s = seeded('leak').normalTensor([8, 64]) as tf.Tensor2D;
    await expectNoLeak(() => [nmMask(s, '2:4'), unstructuredMask(s, { sparsity: 0.5 }), salientMask(s, { fraction: 1 / 32, pattern: 'layer' })]);
    s.dispose();
  });
});
