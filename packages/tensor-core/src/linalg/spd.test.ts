/**
 * cholesky, spdInverse, choleskyInverseUpper on both paths, against the textbook references (reference.ts) and by
 * reconstruction, on random SPD matrices Q diag(λ) Qᵀ with a chosen condition number κ.
 *
 * Tolerances (ε64 = 2.2e-16, ε32 = 1.19e-7; measured errors are 30-1000x below them):
 * - float64: ‖L Lᵀ − A‖max/‖A‖max <= 10·n·ε64 (backward stable: independent of κ); L against the textbook
 *   Cholesky, ‖A A⁻¹ − I‖max and ‖Uᵀ U A − I‖max <= n·κ·ε64, for κ up to 1e8.
 * - float32 path: ‖L Lᵀ − A‖/‖A‖ <= n·ε32; L against the textbook Cholesky, ‖A A⁻¹ − I‖ and ‖UᵀUA − I‖ <=
 *   0.05·n·κ·ε32, for κ up to 1e3.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../testing.js';
import { SiftError } from '../errors.js';
import {
  cholesky, choleskyAsync, choleskyInverseUpper, choleskyInverseUpperAsync, spdInverse, spdInverseAsync,
} from './spd.js';
import {
  distToIdentity, naiveCholesky, naiveInverse, naiveMatMul, randomGramSpd, randomSpd, relMaxDiff, transpose,
} from './reference.js';

const EPS64 = 2.2e-16;
const EPS32 = 1.19e-7;

function expectSiftError(fn: () => unknown, code: string, ...patterns: RegExp[]): SiftError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SiftError);
    const e = err as SiftError;
    expect(e.code, e.message).toBe(code);
    for (const p of patterns) expect(e.message).toMatch(p);
    return e;
  }
  throw new Error(`expected SiftError ${code}, nothing was thrown`);
}

function checkAll(a: Float64Array, n: number, cond: number, precision: 'float64' | 'float32', blockSize: number): void {
  const o = { precision, blockSize };
  const tolRec = precision === 'float64' ? 10 * n * EPS64 : n * EPS32;
  const tolFwd = precision === 'float64' ? n * cond * EPS64 : 0.05 * n * cond * EPS32;
  const l = cholesky(a, o);
  expect(l).toBeInstanceOf(Float64Array);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(l[i * n + j]).toBe(0);
  expect(relMaxDiff(naiveMatMul(l, l, n, n, n, false, true), a)).toBeLessThan(tolRec);
  expect(relMaxDiff(l, naiveCholesky(a, n)!)).toBeLessThan(tolFwd);

  const inv = spdInverse(a, o);
  expect(distToIdentity(naiveMatMul(a, inv, n, n, n), n)).toBeLessThan(tolFwd);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(inv[i * n + j]).toBe(inv[j * n + i]);

  const u = choleskyInverseUpper(a, o);
  for (let i = 0; i < n; i++) {
    expect(u[i * n + i]).toBeGreaterThan(0);
    for (let j = 0; j < i; j++) expect(u[i * n + j]).toBe(0);
  }
  expect(distToIdentity(naiveMatMul(naiveMatMul(u, u, n, n, n, true, false), a, n, n, n), n)).toBeLessThan(tolFwd);
  if (cond <= 1e5) {
    // The literal SparseGPT route: upper Cholesky factor of the explicit inverse (its own error grows like κ²ε).
    const torchRoute = transpose(naiveCholesky(naiveInverse(a, n), n)!, n, n);
    expect(relMaxDiff(u, torchRoute)).toBeLessThan(tolFwd + n * cond * cond * (precision === 'float64' ? EPS64 : 0));
  }
}

describe('SPD routines, float64 host path', () => {
  for (const n of [1, 2, 7, 64, 127, 129, 200]) {
    it(`n = ${n}, κ = 100`, () => { checkAll(randomSpd(n, 100, `spd-${n}`), n, 100, 'float64', 256); });
  }
  for (const cond of [1e5, 1e8]) {
    for (const n of [60, 150]) {
      it(`ill-conditioned: n = ${n}, κ = ${cond.toExponential(0)}`, () => { checkAll(randomSpd(n, cond, `ill-${n}-${cond}`), n, cond, 'float64', 256); });
    }
  }

  it('accepts Float32Array and tensors; a tensor in gives a tensor out', () => {
    const n = 20;
    const a = randomGramSpd(n, 'kinds');
    const want = cholesky(a);
    const from32 = cholesky(Float32Array.from(a));
    expect(relMaxDiff(from32, want)).toBeLessThan(1e-6);
    const t = tf.tensor2d(Float32Array.from(a), [n, n]);
    const lt = cholesky(t, { precision: 'float64' });
    expect(lt.shape).toEqual([n, n]);
    expect(lt.dtype).toBe('float32');
    expect(relMaxDiff(lt.dataSync(), want)).toBeLessThan(1e-6);
    tf.dispose([t, lt]);
  });

  it('overwrite: computes in the input buffer and returns it', () => {
    const a = randomGramSpd(30, 'overwrite');
    const copy = a.slice();
    const l = cholesky(a, { overwrite: true });
    expect(l).toBe(a);
    expect(relMaxDiff(l, naiveCholesky(copy, 30)!)).toBeLessThan(1e-12);
    const b = copy.slice();
    expect(cholesky(b)).not.toBe(b);
    expect(b).toEqual(copy);
  });

  it('reads only the lower triangle', () => {
    const n = 9;
    const a = randomGramSpd(n, 'lower-only');
    const junk = a.slice();
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) junk[i * n + j] = 1e6 * (i + j);
    expect(cholesky(junk)).toEqual(cholesky(a));
    expect(spdInverse(junk)).toEqual(spdInverse(a));
    expect(choleskyInverseUpper(junk)).toEqual(choleskyInverseUpper(a));
  });

  it('the empty matrix gives an empty result', () => {
    expect(cholesky(new Float64Array(0))).toEqual(new Float64Array(0));
    const t = tf.zeros<tf.Rank.R2>([0, 0]);
    const r = spdInverse(t);
    expect(r.shape).toEqual([0, 0]);
    tf.dispose([t, r]);
  });
});

describe('SPD routines, blocked float32 path (tfjs matMul)', () => {
  for (const [n, bs] of [[1, 8], [33, 8], [100, 32], [130, 256]] as const) {
    for (const cond of [10, 1e3]) {
      it(`n = ${n}, blockSize = ${bs}, κ = ${cond}`, () => { checkAll(randomSpd(n, cond, `f32-${n}-${cond}`), n, cond, 'float32', bs); });
    }
  }

  it('tensor in, tensor out; the async forms agree with the sync ones', async () => {
    const n = 45;
    const a = randomSpd(n, 50, 'async');
    const t = tf.tensor2d(Float32Array.from(a), [n, n]);
    const o = { precision: 'float32' as const, blockSize: 16 };
    for (const [sync, async] of [[cholesky, choleskyAsync], [spdInverse, spdInverseAsync], [choleskyInverseUpper, choleskyInverseUpperAsync]] as const) {
      const s = sync(t, o);
      const p = await async(t, o);
      expect(s.shape).toEqual([n, n]);
      expect(Array.from(p.dataSync())).toEqual(Array.from(s.dataSync()));
      tf.dispose([s, p]);
    }
    t.dispose();
  });

  it("'auto' picks float64 up to float64MaxN and float32 above", () => {
    const n = 40;
    const a = randomSpd(n, 1e3, 'auto');
    const f64 = choleskyInverseUpper(a, { float64MaxN: 40 });
    const f32 = choleskyInverseUpper(a, { float64MaxN: 39, blockSize: 16 });
    const exact = choleskyInverseUpper(a, { precision: 'float64' });
    expect(f64).toEqual(exact);
    expect(relMaxDiff(f32, exact)).toBeGreaterThan(1e-12); // computed in float32
    expect(relMaxDiff(f32, exact)).toBeLessThan(1e-3);
  });
});

describe('damping, errors and memory', () => {
  /** blockdiag of [[1,0,1],[0,1,1],[1,1,2]] = XᵀX for X = [[1,0,1],[0,1,1]]: singular, with an exactly zero pivot. */
  function singularGram(copies: number): Float64Array {
    const n = 3 * copies;
    const blk = [1, 0, 1, 0, 1, 1, 1, 1, 2];
    const a = new Float64Array(n * n);
    for (let c = 0; c < copies; c++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) a[(3 * c + i) * n + 3 * c + j] = blk[i * 3 + j]!;
    return a;
  }

  for (const precision of ['float64', 'float32'] as const) {
    it(`${precision}: a singular Hessian throws E_NOT_PD naming the matrix, the pivot and the damping; damping fixes it`, () => {
      const a = singularGram(4);
      const e = expectSiftError(() => cholesky(a, { name: 'h.3.attn.c_attn Hessian', precision, blockSize: 8 }), 'E_NOT_PD',
        /h\.3\.attn\.c_attn Hessian \[12, 12\]/, /pivot at row\/column 2\b/, /is 0, must be > 0/, /damp: 0\.01/);
      if (precision === 'float32') expect(e.message).toMatch(/precision: 'float64'/);
      // With damping λ = 0.01: L Lᵀ = A + λ·mean(diag A)·I.
      const l = cholesky(a, { damp: 0.01, precision, blockSize: 8 });
      const damped = a.slice();
      const meanDiag = (4 * (1 + 1 + 2)) / 12;
      for (let i = 0; i < 12; i++) damped[i * 12 + i] += 0.01 * meanDiag;
      expect(relMaxDiff(naiveMatMul(l, l, 12, 12, 12, false, true), damped)).toBeLessThan(precision === 'float64' ? 1e-14 : 1e-6);
    });

    it(`${precision}: a rank-deficient Gram (fewer tokens than columns) factors after damping`, () => {
      const d = 40;
      const a = randomGramSpd(d, 'rank-def', 10); // B Bᵀ/10 + I with rank(B Bᵀ) = 10 ...
      for (let i = 0; i < d; i++) a[i * d + i] -= 1; // ... minus I: rank 10 < 40
      const u = choleskyInverseUpper(a, { damp: 0.01, precision, blockSize: 16 });
      const damped = a.slice();
      let meanDiag = 0;
      for (let i = 0; i < d; i++) meanDiag += a[i * d + i] / d;
      for (let i = 0; i < d; i++) damped[i * d + i] += 0.01 * meanDiag;
      const tol = precision === 'float64' ? 1e-10 : 2e-3; // κ(damped) ≈ 1e3
      expect(distToIdentity(naiveMatMul(naiveMatMul(u, u, d, d, d, true, false), damped, d, d, d), d)).toBeLessThan(tol);
    });
  }

  it('an indefinite matrix fails at the right pivot in both paths, also past the first block, without leaking', async () => {
    const n = 40;
    const a = randomGramSpd(n, 'indef');
    a[30 * n + 30] = -5; // leading minors are positive up to 30
    for (const precision of ['float64', 'float32'] as const) {
      expectSiftError(() => cholesky(a, { precision, blockSize: 8 }), 'E_NOT_PD', /pivot at row\/column 30\b/);
      expectSiftError(() => spdInverse(a, { precision, blockSize: 8 }), 'E_NOT_PD', /pivot at row\/column 30\b/);
    }
    // The inverse factor works in reversed order: the failing pivot is reported at a row of A.
    expectSiftError(() => choleskyInverseUpper(a, { precision: 'float64' }), 'E_NOT_PD', /reversed order/);
    const t = tf.tensor2d(Float32Array.from(a), [n, n]);
    await expectNoLeak(() => {
      expect(() => cholesky(t, { precision: 'float32', blockSize: 8 })).toThrow(SiftError);
      expect(() => choleskyInverseUpper(t, { precision: 'float32', blockSize: 8 })).toThrow(SiftError);
    }, { label: 'failing float32 factorisations' });
    t.dispose();
  });

  it('non-finite entries throw E_NAN; bad shapes E_SHAPE; bad options E_CONFIG naming the field', () => {
    const a = randomGramSpd(5, 'nan');
    a[3 * 5 + 1] = Number.NaN;
    expectSiftError(() => cholesky(a, { name: 'H' }), 'E_NAN', /H \[5, 5\] has a non-finite entry NaN at \[3, 1\]/);
    expectSiftError(() => cholesky(a, { name: 'H', precision: 'float32' }), 'E_NAN', /non-finite/);
    expectSiftError(() => cholesky(new Float64Array(5)), 'E_SHAPE', /length 5, which is not a square number/);
    const t = tf.zeros<tf.Rank.R2>([2, 3]);
    expectSiftError(() => spdInverse(t), 'E_SHAPE', /\[2, 3\]/);
    t.dispose();
    expectSiftError(() => cholesky(new Float64Array(4), { damp: -1 }), 'E_CONFIG', /damp must be/);
    expectSiftError(() => cholesky(new Float64Array(4), { precision: 'f16' as never }), 'E_CONFIG', /precision must be one of auto, float64, float32/);
    expectSiftError(() => cholesky(new Float64Array(4), { blockSize: 3 }), 'E_CONFIG', /blockSize/);
  });

  it('never changes its input (tensor or typed array), on either path', () => {
    const n = 20;
    const a = randomSpd(n, 10, 'immutable');
    const t = tf.tensor2d(Float32Array.from(a), [n, n]);
    const before = Array.from(t.dataSync());
    const typed = a.slice();
    for (const precision of ['float64', 'float32'] as const) {
      for (const op of [cholesky, spdInverse, choleskyInverseUpper]) {
        op(t, { precision, blockSize: 8, damp: 0.1 }).dispose();
        op(typed, { precision, blockSize: 8, damp: 0.1 });
      }
    }
    expect(Array.from(t.dataSync())).toEqual(before);
    expect(typed).toEqual(a);
    t.dispose();
  });

  it('no tensor leaks on either path, sync or async', async () => {
    const n = 36;
    const t = tf.tensor2d(Float32Array.from(randomSpd(n, 10, 'leak')), [n, n]);
    for (const precision of ['float64', 'float32'] as const) {
      const o = { precision, blockSize: 8 };
      await expectNoLeak(() => cholesky(t, o), { label: `cholesky ${precision}` });
      await expectNoLeak(() => spdInverse(t, o), { label: `spdInverse ${precision}` });
      await expectNoLeak(() => choleskyInverseUpper(t, o), { label: `choleskyInverseUpper ${precision}` });
      await expectNoLeak(() => choleskyInverseUpperAsync(t, o), { label: `choleskyInverseUpperAsync ${precision}` });
      await expectNoLeak(() => { choleskyInverseUpper(randomSpd(n, 10, 'leak'), o); }, { label: `typed input ${precision}` });
    }
    t.dispose();
  });
});
