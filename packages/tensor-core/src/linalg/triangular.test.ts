/**
 * triangularSolve on both paths for the four (lower/upper × transpose) cases, with unit diagonal, against the residual
 * op(T) X − B. T is a Cholesky factor of a well-conditioned SPD matrix (κ(T) <= ~10), so the tolerances are 1e-12
 * (float64) and 1e-5 (float32) relative to max |B|.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SiftError } from '../errors.js';
import { Rng } from '../random/rng.js';
import { expectNoLeak } from '../testing.js';
import { cholesky } from './spd.js';
import { triangularSolve, triangularSolveAsync } from './triangular.js';
import { naiveCholesky, naiveMatMul, randomGramSpd, relMaxDiff, transpose } from './reference.js';

function denseOp(t: Float64Array, n: number, lower: boolean, unit: boolean): Float64Array {
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) d[i * n + j] = unit ? 1 : t[i * n + j];
      else if (lower ? j < i : j > i) d[i * n + j] = t[i * n + j];
    }
  }
  return d;
}

describe('triangularSolve', () => {
  const n = 45;
  const k = 7;
  const l = naiveCholesky(randomGramSpd(n, 'tri'), n)!;
  const rng = new Rng('tri-rhs');
  const b = new Float64Array(n * k).map(() => rng.normal());
  for (const precision of ['float64', 'float32'] as const) {
    for (const [lower, transpose_] of [[true, false], [true, true], [false, false], [false, true]] as const) {
      for (const unitDiagonal of [false, true]) {
        it(`${precision}: lower ${lower}, transpose ${transpose_}, unit ${unitDiagonal}`, () => {
          const t = lower ? l.slice() : transpose(l, n, n);
          // Garbage in the unread triangle (and on a unit diagonal).
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (lower ? j > i : j < i) t[i * n + j] = 1e9;
          if (unitDiagonal) for (let i = 0; i < n; i++) t[i * n + i] = Number.NaN;
          const x = triangularSolve(t, b, { lower, transpose: transpose_, unitDiagonal, precision, blockSize: 16 });
          const residual = naiveMatMul(denseOp(t, n, lower, unitDiagonal), x, n, n, k, transpose_, false);
          // Unit-diagonal solves of L (not unit) grow like 2^n in the worst case; scale the tolerance by max |X|.
          let xs = 1;
          for (const v of x) xs = Math.max(xs, Math.abs(v));
          expect(relMaxDiff(residual, b)).toBeLessThan((precision === 'float64' ? 1e-12 : 1e-5) * xs);
        });
      }
    }
  }

  it('solves A X = B through the Cholesky factor, with tensors, sync and async', async () => {
    const a = randomGramSpd(30, 'solve');
    const at = tf.tensor2d(Float32Array.from(a), [30, 30]);
    const bt = tf.tensor2d(Float32Array.from(b.subarray(0, 30 * 3)), [30, 3]);
    for (const precision of ['float64', 'float32'] as const) {
      const lt = cholesky(at, { precision, blockSize: 8 });
      const y = triangularSolve(lt, bt, { precision, blockSize: 8 });
      const x = await triangularSolveAsync(lt, y, { transpose: true, precision, blockSize: 8 });
      expect(x.shape).toEqual([30, 3]);
      expect(relMaxDiff(naiveMatMul(a, x.dataSync(), 30, 30, 3), b.subarray(0, 90))).toBeLessThan(1e-5);
      tf.dispose([lt, y, x]);
    }
    await expectNoLeak(() => triangularSolve(at, bt, { precision: 'float32', blockSize: 8 }), { label: 'triangularSolve float32' });
    await expectNoLeak(() => triangularSolve(at, bt, { precision: 'float64' }), { label: 'triangularSolve float64' });
    tf.dispose([at, bt]);
  });

  it('a vector right-hand side (k = 1) and Float32Array inputs', () => {
    const l32 = Float32Array.from(l);
    const b32 = Float32Array.from(b.subarray(0, n));
    const x = triangularSolve(l32, b32);
    expect(x).toBeInstanceOf(Float64Array);
    expect(relMaxDiff(naiveMatMul(l32, x, n, n, 1), b32)).toBeLessThan(1e-12);
  });

  it('singular T throws E_NOT_PD naming the zero diagonal entry; shapes and options are checked', () => {
    const t = l.slice();
    t[20 * n + 20] = 0;
    for (const precision of ['float64', 'float32'] as const) {
      try {
        triangularSolve(t, b, { name: 'L of H', precision, blockSize: 16 });
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(SiftError);
        expect((err as SiftError).code).toBe('E_NOT_PD');
        expect((err as SiftError).message).toMatch(/L of H \[45, 45\] is singular: diagonal entry 20 is 0/);
      }
    }
    expect(() => triangularSolve(l, new Float64Array(n + 1))).toThrow(/length a multiple of 45\), got length 46/);
    const bad = tf.zeros<tf.Rank.R2>([n + 1, 2]);
    expect(() => triangularSolve(l, bad)).toThrow(/must be \[45, k\], got \[46, 2\]/);
    bad.dispose();
    expect(() => triangularSolve(l, b, { lower: 'yes' as never })).toThrow(/lower must be a boolean/);
  });
});
