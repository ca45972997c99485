/**
 * Float64 host linear algebra on row-major square `Float64Array`s, in place: Cholesky (LAPACK dpotrf, lower,
 * right-looking blocked), triangular inverse (dtrtri, lower), LAUUM (dlauum, XᵀX of a lower X), triangular solve with a
 * matrix right-hand side (dtrsm, left side) and the flat reversal used for the upper Cholesky factor of an inverse.
 * Block algorithms follow Golub & Van Loan, "Matrix Computations" (4th ed.), §4.2 and §3.1; every O(n³) part is a
 * `gemm` call (see gemm.ts), so the whole module runs at that kernel's speed.
 */
import { gemm } from './gemm.js';

/** Largest block the host algorithms handle unblocked (Cholesky and triangular inverse recurse down to it; LAUUM and the solves use it as their panel width): measured best of 64 ... 192 on V8 at n = 2048. */
export const HOST_BLOCK = 128;

/** Thrown by the host kernels at a non-positive (or zero, for solves) pivot; the public API turns it into a SiftError. */
export class PivotError extends Error {
  /** Row/column of the pivot (0-based). */
  readonly index: number;
  /** The pivot's value (the Schur complement's diagonal entry for Cholesky; the diagonal entry for solves). */
  readonly value: number;

  constructor(index: number, value: number) {
    super(`pivot ${index} is ${value}`);
    this.index = index;
    this.value = value;
  }
}

/**
 * In-place Cholesky A = L Lᵀ of the [n, n] row-major SPD matrix `a` (only its lower triangle is read). On return the
 * lower triangle holds L; the strict upper triangle is left as it was (call `zeroUpper`). Recursive (Gustavson,
 * "Recursive leads to automatic variable blocking", IBM J. Res. Dev. 1997): factor A11, solve L21 L11ᵀ = A21, update
 * A22 −= L21 L21ᵀ (one gemm of depth n/2), factor A22; blocks of at most `nb` are factored unblocked. The big gemms
 * pack and add back their operands once per n/2 steps of depth instead of once per `nb`, which keeps the threaded
 * gemm's serial part small. Throws `PivotError` at the first pivot that is not > 0 (or not finite).
 */
export function potrf(a: Float64Array, n: number, nb: number = HOST_BLOCK): void {
  potrfAt(a, n, 0, n, nb);
}

/** Cholesky of the diagonal block a[k0:k0+s, k0:k0+s] (leading dimension n), recursively. */
function potrfAt(a: Float64Array, n: number, k0: number, s: number, nb: number): void {
  if (s <= nb) {
    potf2(a, n, k0, s);
    return;
  }
  const h = halfSplit(s);
  potrfAt(a, n, k0, h, nb);
  const r0 = k0 + h;
  const m = s - h;
  trsmPanelRightLowerT(a, n, k0, 0, h, r0, m);
  // A22 -= L21 L21ᵀ, lower triangle only.
  const l21 = { data: a, off: r0 * n + k0, ld: n };
  gemm(m, m, h, -1, { ...l21, trans: false }, { ...l21, trans: true }, 1, { data: a, off: r0 * n + r0, ld: n }, { cLowerFrom: 0 });
  potrfAt(a, n, r0, m, nb);
}

/** The split point of a recursive step on s > 4 rows: about half, a multiple of 4 (the gemm tile). */
function halfSplit(s: number): number {
  return Math.max(4, (s >> 1) & ~3);
}

/** Unblocked Cholesky (Cholesky–Banachiewicz, row by row) of the diagonal block a[k0:k0+kb, k0:k0+kb]. */
function potf2(a: Float64Array, n: number, k0: number, kb: number): void {
  for (let j = 0; j < kb; j++) {
    const rj = (k0 + j) * n + k0;
    for (let c = 0; c < j; c++) {
      const rc = (k0 + c) * n + k0;
      let s = a[rj + c];
      for (let p = 0; p < c; p++) s -= a[rj + p] * a[rc + p];
      a[rj + c] = s / a[rc + c];
    }
    let d = a[rj + j];
    for (let p = 0; p < j; p++) d -= a[rj + p] * a[rj + p];
    if (!(d > 0) || d === Infinity) throw new PivotError(k0 + j, d);
    a[rj + j] = Math.sqrt(d);
  }
}

/**
 * Panel solve L21 L11ᵀ = A21 for the m rows below the diagonal block (rows r0.., columns k0+c0..k0+c0+cb of the
 * panel), recursively on column halves so that the bulk is a gemm: solve the left half, subtract its contribution
 * from the right half (gemm), solve the right half. Columns are solved by contiguous dot products below 16.
 */
function trsmPanelRightLowerT(a: Float64Array, n: number, k0: number, c0: number, cb: number, r0: number, m: number): void {
  if (cb > 16) {
    const h = (cb >> 1) & ~3;
    trsmPanelRightLowerT(a, n, k0, c0, h, r0, m);
    // A21[:, c0+h : c0+cb] -= L21[:, c0 : c0+h] · L11[c0+h : c0+cb, c0 : c0+h]ᵀ
    gemm(m, cb - h, h, -1, { data: a, off: r0 * n + k0 + c0, ld: n, trans: false },
      { data: a, off: (k0 + c0 + h) * n + k0 + c0, ld: n, trans: true }, 1, { data: a, off: r0 * n + k0 + c0 + h, ld: n });
    trsmPanelRightLowerT(a, n, k0, c0 + h, cb - h, r0, m);
    return;
  }
  // Unblocked: L21[i, c] = (A21[i, c] - Σ_{c0 <= p < c} L21[i, p] L11[c, p]) / L11[c, c].
  for (let i = r0; i < r0 + m; i++) {
    const ri = i * n + k0;
    for (let c = c0; c < c0 + cb; c++) {
      const rc = (k0 + c) * n + k0;
      let s = a[ri + c];
      for (let p = c0; p < c; p++) s -= a[ri + p] * a[rc + p];
      a[ri + c] = s / a[rc + c];
    }
  }
}

/** Sets the strict upper triangle of the [n, n] matrix to 0. */
export function zeroUpper(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) a.fill(0, i * n + i + 1, (i + 1) * n);
}

/** Copies the strict lower triangle onto the strict upper one (a symmetric result stored in the lower triangle). */
export function mirrorLower(a: Float64Array | Float32Array, n: number): void {
  const B = 64; // tiled transpose: keeps both the row and the column walk in cache
  for (let i0 = 0; i0 < n; i0 += B) {
    for (let j0 = 0; j0 <= i0; j0 += B) {
      const iEnd = Math.min(n, i0 + B);
      for (let i = i0; i < iEnd; i++) {
        const jEnd = Math.min(i, j0 + B);
        for (let j = j0; j < jEnd; j++) a[j * n + i] = a[i * n + j];
      }
    }
  }
}

/**
 * In-place inverse of the lower triangular [n, n] matrix in `a`'s lower triangle (LAPACK dtrtri, lower), recursive:
 * invert L11 and L22, then X21 = −X22 · L21 · X11 with two gemm calls that skip the zero triangles; blocks of at most
 * `nb` are inverted unblocked. Reads and writes the lower triangle only. `L` must have a non-zero diagonal (a
 * Cholesky factor has).
 */
export function trtriLower(a: Float64Array, n: number, nb: number = HOST_BLOCK): void {
  if (n === 0) return;
  const h = n > nb ? halfSplit(n) : 0;
  trtriAt(a, n, 0, n, nb, new Float64Array((n - h) * h));
}

/** Inverse of the lower triangular diagonal block a[j0:j0+s, j0:j0+s] (leading dimension n); `tmp` holds >= (s − h)·h. */
function trtriAt(a: Float64Array, n: number, j0: number, s: number, nb: number, tmp: Float64Array): void {
  if (s <= nb) {
    trti2Lower(a, n, j0, s);
    return;
  }
  const h = halfSplit(s);
  const r0 = j0 + h;
  const m = s - h;
  trtriAt(a, n, j0, h, nb, tmp);
  trtriAt(a, n, r0, m, nb, tmp);
  // tmp [m, h] = X22 [m, m] (lower) · L21 [m, h]
  gemm(m, h, m, 1, { data: a, off: r0 * n + r0, ld: n, trans: false }, { data: a, off: r0 * n + j0, ld: n, trans: false },
    0, { data: tmp, off: 0, ld: h }, { aTri: 'lower' });
  // X21 = -tmp · X11 (X11 lower)
  gemm(m, h, h, -1, { data: tmp, off: 0, ld: h, trans: false }, { data: a, off: j0 * n + j0, ld: n, trans: false },
    0, { data: a, off: r0 * n + j0, ld: n }, { bTri: 'lower' });
}

/** Unblocked inverse of the lower triangular diagonal block a[j0:j0+jb, j0:j0+jb], in place. */
function trti2Lower(a: Float64Array, n: number, j0: number, jb: number): void {
  const l = new Float64Array(jb * jb);
  for (let i = 0; i < jb; i++) for (let j = 0; j <= i; j++) l[i * jb + j] = a[(j0 + i) * n + j0 + j];
  const x = new Float64Array(jb * jb);
  for (let j = 0; j < jb; j++) {
    x[j * jb + j] = 1 / l[j * jb + j];
    for (let i = j + 1; i < jb; i++) {
      let s = 0;
      for (let p = j; p < i; p++) s += l[i * jb + p] * x[p * jb + j];
      x[i * jb + j] = -s / l[i * jb + i];
    }
  }
  for (let i = 0; i < jb; i++) for (let j = 0; j <= i; j++) a[(j0 + i) * n + j0 + j] = x[i * jb + j];
}

/**
 * In place C = Xᵀ X for the lower triangular X in `a`'s lower triangle; the lower triangle of the symmetric C replaces
 * it (LAPACK dlauum, lower). Block row I of C needs only block rows >= I of X, so ascending block rows can be
 * overwritten as they are done: C[I, :I+1] = X_IIᵀ X[I, :I+1] + X[I+1:, I]ᵀ X[I+1:, :I+1].
 */
export function lauumLower(a: Float64Array, n: number, nb: number = HOST_BLOCK): void {
  const tmp = new Float64Array(nb * n);
  for (let i0 = 0; i0 < n; i0 += nb) {
    const ib = Math.min(nb, n - i0);
    const w = i0 + ib;
    const below = n - w;
    const xiiT = { data: a, off: i0 * n + i0, ld: n, trans: true };
    if (i0 > 0) {
      gemm(ib, i0, ib, 1, xiiT, { data: a, off: i0 * n, ld: n, trans: false }, 0, { data: tmp, off: 0, ld: w }, { aTri: 'upper' });
    }
    gemm(ib, ib, ib, 1, xiiT, { data: a, off: i0 * n + i0, ld: n, trans: false }, 0, { data: tmp, off: i0, ld: w },
      { aTri: 'upper', bTri: 'lower', cLowerFrom: 0 });
    if (below > 0) {
      gemm(ib, w, below, 1, { data: a, off: w * n + i0, ld: n, trans: true }, { data: a, off: w * n, ld: n, trans: false },
        1, { data: tmp, off: 0, ld: w }, { cLowerFrom: i0 });
    }
    for (let r = 0; r < ib; r++) {
      const dst = (i0 + r) * n;
      const src = r * w;
      for (let j = 0; j <= i0 + r; j++) a[dst + j] = tmp[src + j];
    }
  }
}

/**
 * Solves op(T) X = B in place of `x` (B on entry, [n, k] row-major), T [n, n] triangular (`lower` says which
 * triangle holds it; the other is not read), op(T) = T or Tᵀ. Blocked substitution: an off-diagonal gemm per block row,
 * then unblocked substitution on rows (axpy on contiguous rows of X). Throws `PivotError` at a zero diagonal entry.
 */
export function trsmLeft(
  t: Float64Array, n: number, x: Float64Array, k: number, lower: boolean, trans: boolean, unit: boolean, nb: number = HOST_BLOCK,
): void {
  const at = trans ? (i: number, q: number): number => t[q * n + i] : (i: number, q: number): number => t[i * n + q];
  const forward = lower !== trans; // op(T) is lower triangular
  const divide = (i: number): void => {
    if (unit) return;
    const d = at(i, i);
    if (d === 0 || !Number.isFinite(d)) throw new PivotError(i, d);
    const inv = 1 / d;
    const row = i * k;
    for (let c = 0; c < k; c++) x[row + c] *= inv;
  };
  const axpy = (i: number, q: number): void => {
    const f = at(i, q);
    if (f === 0) return;
    const ri = i * k;
    const rq = q * k;
    for (let c = 0; c < k; c++) x[ri + c] -= f * x[rq + c];
  };
  if (forward) {
    for (let i0 = 0; i0 < n; i0 += nb) {
      const ib = Math.min(nb, n - i0);
      if (i0 > 0) {
        // op(T)[I, 0:i0]: rows of T (no transpose) or T[0:i0, I]ᵀ.
        const opA = trans ? { data: t, off: i0, ld: n, trans: true } : { data: t, off: i0 * n, ld: n, trans: false };
        gemm(ib, k, i0, -1, opA, { data: x, off: 0, ld: k, trans: false }, 1, { data: x, off: i0 * k, ld: k });
      }
      for (let i = i0; i < i0 + ib; i++) {
        for (let q = i0; q < i; q++) axpy(i, q);
        divide(i);
      }
    }
  } else {
    for (let i0 = Math.floor((n - 1) / nb) * nb; i0 >= 0; i0 -= nb) {
      const ib = Math.min(nb, n - i0);
      const hi = i0 + ib;
      if (hi < n) {
        // op(T)[I, hi:n]: rows of T (no transpose) or T[hi:n, I]ᵀ.
        const opA = trans ? { data: t, off: hi * n + i0, ld: n, trans: true } : { data: t, off: i0 * n + hi, ld: n, trans: false };
        gemm(ib, k, n - hi, -1, opA, { data: x, off: hi * k, ld: k, trans: false }, 1, { data: x, off: i0 * k, ld: k });
      }
      for (let i = hi - 1; i >= i0; i--) {
        for (let q = i + 1; q < hi; q++) axpy(i, q);
        divide(i);
      }
    }
  }
}

/**
 * The exchange-matrix conjugation J A J (J reverses the order of rows and columns) of a row-major [n, n] matrix is
 * its flat reversal: (JAJ)[i, j] = A[n-1-i, n-1-j] sits at flat index n²-1-(i·n+j). In place.
 */
export function flip(a: Float64Array | Float32Array): void {
  a.reverse();
}
