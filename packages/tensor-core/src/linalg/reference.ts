/**
 * Textbook float64 references and matrix generators for linalg's tests (not exported from the package): triple-loop
 * Cholesky–Banachiewicz, Gauss–Jordan inversion with partial pivoting, naive products, and random SPD matrices with a
 * chosen condition number. Deliberately unblocked and independent of gemm.ts/host.ts.
 */
import { Rng } from '../random/rng.js';

/** C = op(A) op(B) for row-major [m, k] · [k, n] (after the optional transposes). */
export function naiveMatMul(
  a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number, transA = false, transB = false,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  }
  return c;
}

/** Lower Cholesky factor, Cholesky–Banachiewicz (row by row), or null at a non-positive pivot. */
export function naiveCholesky(a: ArrayLike<number>, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let p = 0; p < j; p++) s -= l[i * n + p] * l[j * n + p];
      if (i === j) {
        if (!(s > 0)) return null;
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
  }
  return l;
}

/** Inverse by Gauss–Jordan elimination with partial pivoting. */
export function naiveInverse(a: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[piv * n + c])) piv = r;
    if (piv !== c) {
      for (let j = 0; j < n; j++) {
        [m[c * n + j], m[piv * n + j]] = [m[piv * n + j], m[c * n + j]];
        [inv[c * n + j], inv[piv * n + j]] = [inv[piv * n + j], inv[c * n + j]];
      }
    }
    const d = m[c * n + c];
    for (let j = 0; j < n; j++) {
      m[c * n + j] /= d;
      inv[c * n + j] /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        m[r * n + j] -= f * m[c * n + j];
        inv[r * n + j] -= f * inv[c * n + j];
      }
    }
  }
  return inv;
}

/** Row-major transpose of [r, c]. */
export function transpose(a: ArrayLike<number>, r: number, c: number): Float64Array {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
  return t;
}

/** max |a - b| / max(max |b|, tiny). */
export function relMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-300);
}

/** max |A - I|. */
export function distToIdentity(a: ArrayLike<number>, n: number): number {
  let d = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) d = Math.max(d, Math.abs(a[i * n + j] - (i === j ? 1 : 0)));
  return d;
}

/** A random orthogonal [n, n] matrix: modified Gram–Schmidt on a Gaussian matrix (twice, for orthogonality to ~1e-15). */
export function randomOrthogonal(n: number, rng: Rng): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) q[i] = rng.normal();
  for (let pass = 0; pass < 2; pass++) {
    for (let c = 0; c < n; c++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let r = 0; r < n; r++) dot += q[r * n + c] * q[r * n + p];
        for (let r = 0; r < n; r++) q[r * n + c] -= dot * q[r * n + p];
      }
      let norm = 0;
      for (let r = 0; r < n; r++) norm += q[r * n + c] ** 2;
      norm = Math.sqrt(norm);
      for (let r = 0; r < n; r++) q[r * n + c] /= norm;
    }
  }
  return q;
}

/**
 * A random symmetric positive definite [n, n] matrix Q diag(λ) Qᵀ with eigenvalues log-spaced from 1 down to 1/cond
 * (so its 2-norm condition number is `cond`), symmetrised exactly.
 */
export function randomSpd(n: number, cond: number, seed: number | string): Float64Array {
  const rng = new Rng(seed);
  const q = randomOrthogonal(n, rng);
  const lam = new Float64Array(n);
  for (let i = 0; i < n; i++) lam[i] = n === 1 ? 1 : Math.pow(cond, -i / (n - 1));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let p = 0; p < n; p++) s += q[i * n + p] * lam[p] * q[j * n + p];
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}

/** A well-conditioned random SPD matrix, cheaply: B Bᵀ / k + I with B [n, k] Gaussian. */
export function randomGramSpd(n: number, seed: number | string, k: number = n): Float64Array {
  const rng = new Rng(seed);
  const b = new Float64Array(n * k);
  for (let i = 0; i < b.length; i++) b[i] = rng.normal();
  const a = naiveMatMul(b, b, n, k, n, false, true);
  for (let i = 0; i < n * n; i++) a[i] /= k;
  for (let i = 0; i < n; i++) a[i * n + i] += 1;
  return a;
}
