/**
 * The float64 host kernels with small panel widths (nb = 4, 16) so that sizes up to 70 cross many blocks, against
 * the textbook references in reference.ts. Well-conditioned inputs (B Bᵀ/k + I): tolerances 1e-12 relative.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../random/rng.js';
import { lauumLower, mirrorLower, potrf, trsmLeft, trtriLower, zeroUpper } from './host.js';
import { naiveCholesky, naiveInverse, naiveMatMul, randomGramSpd, relMaxDiff, transpose } from './reference.js';

const SIZES = [1, 2, 5, 17, 33, 70];
const BLOCKS = [4, 16, 128];

describe('host kernels (float64)', () => {
  for (const n of SIZES) {
    for (const nb of BLOCKS) {
      it(`potrf, trtri, lauum at n = ${n}, nb = ${nb} match the textbook Cholesky and Gauss-Jordan inverse`, () => {
        const a = randomGramSpd(n, `host-${n}`);
        const l = a.slice();
        // Poison the strict upper triangle: only the lower one may be read.
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) l[i * n + j] = Number.NaN;
        potrf(l, n, nb);
        zeroUpper(l, n);
        expect(relMaxDiff(l, naiveCholesky(a, n)!)).toBeLessThan(1e-12);

        const x = l.slice();
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) x[i * n + j] = Number.NaN;
        trtriLower(x, n, nb);
        zeroUpper(x, n);
        expect(relMaxDiff(x, naiveInverse(l, n))).toBeLessThan(1e-12);

        const c = x.slice();
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) c[i * n + j] = Number.NaN;
        lauumLower(c, n, nb);
        mirrorLower(c, n);
        expect(relMaxDiff(c, naiveMatMul(x, x, n, n, n, true, false))).toBeLessThan(1e-12);
        expect(relMaxDiff(c, naiveInverse(a, n))).toBeLessThan(1e-11);
      });
    }
  }

  for (const [lower, trans] of [[true, false], [true, true], [false, false], [false, true]] as const) {
    for (const unit of [false, true]) {
      it(`trsmLeft: lower ${lower}, transpose ${trans}, unit diagonal ${unit}, matrix right-hand side`, () => {
        const rng = new Rng(`trsm-${lower}-${trans}-${unit}`);
        const n = 37;
        const k = 6;
        const l = naiveCholesky(randomGramSpd(n, 'trsm'), n)!;
        const t = lower ? l.slice() : transpose(l, n, n);
        // The other triangle holds garbage that must not be read.
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (lower ? j > i : j < i) t[i * n + j] = Number.NaN;
        if (unit) for (let i = 0; i < n; i++) t[i * n + i] = Number.NaN;
        const b = new Float64Array(n * k).map(() => rng.normal());
        for (const nb of [4, 16, 128]) {
          const x = b.slice();
          trsmLeft(t, n, x, k, lower, trans, unit, nb);
          // Check op(T) X = B with the structural zeros and the unit diagonal applied.
          const dense = new Float64Array(n * n);
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < n; j++) {
              if (i === j) dense[i * n + j] = unit ? 1 : t[i * n + j];
              else if (lower ? j < i : j > i) dense[i * n + j] = t[i * n + j];
            }
          }
          expect(relMaxDiff(naiveMatMul(dense, x, n, n, k, trans, false), b)).toBeLessThan(1e-12);
        }
      });
    }
  }
});
