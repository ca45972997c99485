/**
 * Property-based checks (fast-check, fixed seed, bounded runs) over random SPD matrices A = B Bᵀ + s·I with B's
 * entries in [-1, 1], n in [1, 24], s in [0.05, 2]: λmin(A) >= s, so κ(A) <= ‖A‖_F / s =: κ̂, and tolerances scale
 * with it: reconstruction 20·n·ε64 (κ-free), residuals of inverses and solves n·κ̂·ε64 (float64) and
 * 0.05·n·κ̂·ε32 (float32 path, random block size).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cholesky, choleskyInverseUpper, spdInverse } from './spd.js';
import { triangularSolve } from './triangular.js';
import { distToIdentity, naiveMatMul, relMaxDiff } from './reference.js';

const EPS64 = 2.2e-16;
const EPS32 = 1.19e-7;
const RUNS = { seed: 20240611, numRuns: 40 };

const spdArb = fc.integer({ min: 1, max: 24 }).chain((n) => fc.record({
  n: fc.constant(n),
  b: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n * n, maxLength: n * n }),
  s: fc.double({ min: 0.05, max: 2, noNaN: true }),
  blockSize: fc.constantFrom(8, 16),
}));

function build({ n, b, s }: { n: number; b: number[]; s: number }): { a: Float64Array; kappa: number } {
  const a = naiveMatMul(b, b, n, n, n, false, true);
  let fro = 0;
  for (let i = 0; i < n; i++) a[i * n + i] += s;
  for (const v of a) fro += v * v;
  return { a, kappa: Math.sqrt(fro) / s };
}

describe('linalg properties (fast-check)', () => {
  it('L Lᵀ = A, L lower with a positive diagonal (float64)', () => {
    fc.assert(fc.property(spdArb, (c) => {
      const { a } = build(c);
      const { n } = c;
      const l = cholesky(a);
      for (let i = 0; i < n; i++) {
        if (!(l[i * n + i] > 0)) return false;
        for (let j = i + 1; j < n; j++) if (l[i * n + j] !== 0) return false;
      }
      return relMaxDiff(naiveMatMul(l, l, n, n, n, false, true), a) <= 20 * n * EPS64;
    }), RUNS);
  });

  it('A A⁻¹ = I and Uᵀ U A = I, with U upper (float64)', () => {
    fc.assert(fc.property(spdArb, (c) => {
      const { a, kappa } = build(c);
      const { n } = c;
      const tol = n * kappa * EPS64 + 1e-14;
      const u = choleskyInverseUpper(a);
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) if (u[i * n + j] !== 0) return false;
      return distToIdentity(naiveMatMul(a, spdInverse(a), n, n, n), n) <= tol &&
        distToIdentity(naiveMatMul(naiveMatMul(u, u, n, n, n, true, false), a, n, n, n), n) <= tol;
    }), RUNS);
  });

  it('solving through the factor: L (Lᵀ X) = A X = B', () => {
    fc.assert(fc.property(spdArb, fc.integer({ min: 1, max: 5 }), (c, k) => {
      const { a, kappa } = build(c);
      const { n } = c;
      const rhs = Float64Array.from({ length: n * k }, (_, i) => Math.sin(i + 1));
      const l = cholesky(a);
      const x = triangularSolve(l, triangularSolve(l, rhs), { transpose: true });
      return relMaxDiff(naiveMatMul(a, x, n, n, k), rhs) <= n * kappa * EPS64 + 1e-14;
    }), RUNS);
  });

  it('the blocked float32 path agrees with float64 to within its own error bound', () => {
    fc.assert(fc.property(spdArb, (c) => {
      const { a, kappa } = build(c);
      const { n, blockSize } = c;
      const o = { precision: 'float32' as const, blockSize };
      const l32 = cholesky(a, o);
      const u32 = choleskyInverseUpper(a, o);
      const tol = 0.05 * n * kappa * EPS32 + 1e-6;
      expect(relMaxDiff(naiveMatMul(l32, l32, n, n, n, false, true), a)).toBeLessThan(n * EPS32 + 1e-6);
      expect(distToIdentity(naiveMatMul(naiveMatMul(u32, u32, n, n, n, true, false), a, n, n, n), n)).toBeLessThan(tol);
    }), { ...RUNS, numRuns: 20 });
  });
});
