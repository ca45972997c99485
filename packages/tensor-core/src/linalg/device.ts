/**
 * The blocked float32 path: every O(n³) part is a tfjs `matMul`, so it runs on whichever backend is active (wasm,
 * webgpu, cuda); nb×nb diagonal blocks are factored/inverted on the host in float64.
 *
 * - Cholesky: left-looking by block columns (Golub & Van Loan §4.2.9; the hybrid dpotrf of MAGMA): for block column
 *   j, P = A[j0:, J] - L[j0:, :j0] · L[J, :j0]ᵀ (one matMul, exactly the lower part), factor P's top block on the host,
 *   L[j0+jb:, J] = P[jb:] · L_JJ⁻ᵀ (one matMul with the host-inverted diagonal block).
 * - Triangular inverse: block columns right to left, X21 = -(X22 · L21) · X11 (LAPACK dtrtri's order).
 * - XᵀX (LAUUM): one matMul per block column, C[j0:, J] = X[j0:, j0:]ᵀ · X[j0:, J], then C = C_low + C_lowᵀ.
 * - Triangular solve: left-looking blocked substitution, X_I = op(T)_II⁻¹ (B_I - op(T)[I, :i0] X[:i0]).
 *
 * Shaped by what is fast on tfjs-backend-wasm 4.22 (measured at n = 2048): `concat` is a memcpy (~1 ms for 8 MB),
 * while `slice`/`gather` copy their whole input out of the wasm heap first (~16 ms on a 16 MB tensor, whatever the
 * slice), `where`/`bandPart`/`reverse` take ~200-800 ms, and `matMul` with transposeA/B is ~30x slower than without.
 * So the input comes to the host once and goes up as block-column panels, only small tensors are sliced, transposes
 * are explicit and small, and nothing uses a transposed matMul. The triangular inverse and LAUUM multiply by squares
 * that are half zeros (2n³/3 flops each, against LAPACK's n³/3) in exchange for few, large matMuls.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PivotError, flip, potrf, trtriLower, zeroUpper } from './host.js';
import { readAndDispose, type Steps } from './steps.js';

/** The lower Cholesky factor kept as block columns, with the host-inverted diagonal blocks. */
export interface PanelFactor {
  n: number;
  nb: number;
  /** Block column j: L[j0:n, j0:j0+jb], [n - j0, jb] float32. */
  panels: tf.Tensor2D[];
  /** inv(L_jj), [jb, jb] row-major float64 (lower triangular). */
  diagInv: Float64Array[];
}

/** Block-column panels X[j0:, J] ([n - j0, jb] each) of the lower triangle of a host row-major [n, n] matrix. */
export function uploadLowerPanels(a: Float32Array | Float64Array, n: number, nb: number): tf.Tensor2D[] {
  const panels: tf.Tensor2D[] = [];
  for (let j0 = 0; j0 < n; j0 += nb) {
    const jb = Math.min(nb, n - j0);
    const m = n - j0;
    const p = new Float32Array(m * jb);
    for (let i = 0; i < m; i++) {
      const src = (j0 + i) * n + j0;
      for (let c = 0; c < jb; c++) p[i * jb + c] = a[src + c];
    }
    panels.push(tf.tensor2d(p, [m, jb]));
  }
  return panels;
}

/** Row-major transpose of a [r, c] host block, as float32 for upload. */
function transposed32(a: Float64Array, r: number, c: number): Float32Array {
  const t = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
  return t;
}

/**
 * Left-looking blocked Cholesky from the lower block-column panels of A (`aPanels`, consumed: disposed as used).
 * Throws `PivotError` (global index) at a non-positive pivot; then every tensor it made is disposed.
 */
export function* cholPanels(aPanels: tf.Tensor2D[], n: number, nb: number): Steps<PanelFactor> {
  const panels: tf.Tensor2D[] = [];
  const diagInv: Float64Array[] = [];
  let ok = false;
  try {
    for (let j = 0, j0 = 0; j0 < n; j++, j0 += nb) {
      const jb = Math.min(nb, n - j0);
      const m = n - j0;
      const aj = aPanels[j];
      // P = A[j0:, J] - L[j0:, :j0] · L[J, :j0]ᵀ
      const p = j === 0 ? aj : tf.tidy(() => {
        const left = tf.concat(panels.map((q, i) => tf.slice(q, [j0 - i * nb, 0], [m, q.shape[1]])), 1); // [m, j0]
        const topT = tf.transpose(tf.slice(left, [0, 0], [jb, j0])); // [j0, jb]
        return tf.sub(aj, tf.matMul(left, topT));
      });
      if (p !== aj) aj.dispose();
      try {
        const ljj = Float64Array.from(yield* readAndDispose(tf.slice(p, [0, 0], [jb, jb])));
        try {
          potrf(ljj, jb);
        } catch (err) {
          if (err instanceof PivotError) throw new PivotError(err.index + j0, err.value);
          throw err;
        }
        zeroUpper(ljj, jb);
        const inv = ljj.slice();
        trtriLower(inv, jb);
        zeroUpper(inv, jb);
        diagInv.push(inv);
        panels.push(tf.tidy(() => {
          const top = tf.tensor2d(Float32Array.from(ljj), [jb, jb]);
          if (m === jb) return top;
          const below = tf.slice(p, [jb, 0], [m - jb, jb]);
          return tf.concat([top, tf.matMul(below, tf.tensor2d(transposed32(inv, jb, jb), [jb, jb]))], 0);
        }));
      } finally {
        p.dispose();
      }
    }
    ok = true;
    return { n, nb, panels, diagInv };
  } finally {
    if (!ok) tf.dispose([...panels, ...aPanels.filter((t) => !t.isDisposed)]);
  }
}

/** The full [n, n] matrix whose lower part is given by block-column panels (zeros above). */
export function assemblePanels(panels: readonly tf.Tensor2D[], n: number, nb: number): tf.Tensor2D {
  return tf.tidy(() => {
    const cols = panels.map((p, j): tf.Tensor2D => (j === 0 ? p : tf.concat([tf.zeros([j * nb, p.shape[1]]), p], 0)));
    return cols.length === 1 ? tf.clone(cols[0]) : tf.concat(cols, 1);
  });
}

/** The trailing block X[r0:, r0:] [n - r0, n - r0] (lower) from X's panels c (c0 >= r0), by concat only. */
function trailingLower(xp: readonly (tf.Tensor2D | undefined)[], from: number, nb: number): tf.Tensor2D {
  const r0 = from * nb;
  const cols: tf.Tensor2D[] = [];
  for (let c = from; c < xp.length; c++) {
    const c0 = c * nb;
    const x = xp[c]!;
    cols.push(c0 > r0 ? tf.concat([tf.zeros([c0 - r0, x.shape[1]]), x], 0) : x);
  }
  return cols.length === 1 ? cols[0] : tf.concat(cols, 1);
}

/** X = L⁻¹ as block-column panels X[j0:, J], right to left: X21 = -(X22 · L21) · X11. Owned by the caller. */
export function invertPanels(f: PanelFactor): tf.Tensor2D[] {
  const { n, nb, panels, diagInv } = f;
  const xp: (tf.Tensor2D | undefined)[] = new Array<tf.Tensor2D | undefined>(panels.length).fill(undefined);
  try {
    for (let j = panels.length - 1; j >= 0; j--) {
      const jb = panels[j].shape[1];
      const m = n - j * nb - jb;
      xp[j] = tf.tidy(() => {
        const xjj = tf.tensor2d(Float32Array.from(diagInv[j]), [jb, jb]);
        if (m === 0) return xjj;
        const x22 = trailingLower(xp, j + 1, nb); // [m, m]
        const l21 = tf.slice(panels[j], [jb, 0], [m, jb]);
        return tf.concat([xjj, tf.neg(tf.matMul(tf.matMul(x22, l21), xjj))], 0);
      });
    }
    return xp as tf.Tensor2D[];
  } catch (err) {
    tf.dispose(xp.filter((t) => t !== undefined));
    throw err;
  }
}

/**
 * C = Xᵀ X [n, n] (symmetric, both triangles) for the lower X given by block-column panels. Lower block columns
 * C[j0:, J] = (X[j0:, j0:])ᵀ X[j0:, J], with (X[j0:, j0:])ᵀ built from transposed panels by concat; each diagonal
 * block keeps its strict lower part and half its diagonal, so that C = C_low + C_lowᵀ.
 */
export function lauumPanels(xp: readonly tf.Tensor2D[], n: number, nb: number): tf.Tensor2D {
  return tf.tidy(() => {
    const xt = xp.map((p) => tf.transpose(p)); // [jb, n - j0]
    const cols: tf.Tensor2D[] = [];
    for (let j = 0; j < xp.length; j++) {
      const j0 = j * nb;
      const jb = xp[j].shape[1];
      const m = n - j0;
      const rows: tf.Tensor2D[] = [];
      for (let c = j; c < xp.length; c++) {
        const c0 = c * nb;
        rows.push(c0 > j0 ? tf.concat([tf.zeros([xt[c].shape[0], c0 - j0]), xt[c]], 1) : xt[c]);
      }
      const trailT = rows.length === 1 ? rows[0] : tf.concat(rows, 0); // (X[j0:, j0:])ᵀ, [m, m]
      const cj = tf.matMul(trailT, xp[j]); // C[j0:, J], [m, jb]
      const top: tf.Tensor2D = tf.mul(tf.slice(cj, [0, 0], [jb, jb]), halfLowerMask(jb));
      const col: tf.Tensor2D = m === jb ? top : tf.concat([top, tf.slice(cj, [jb, 0], [m - jb, jb])], 0) as tf.Tensor2D;
      cols.push(j0 === 0 ? col : tf.concat([tf.zeros([j0, jb]), col], 0));
    }
    const low = cols.length === 1 ? cols[0] : tf.concat(cols, 1);
    return tf.add(low, tf.transpose(low));
  });
}

/** [k, k] with 1 below the diagonal, 0.5 on it, 0 above: a symmetric block S = M⊙S + (M⊙S)ᵀ. */
function halfLowerMask(k: number): tf.Tensor2D {
  const m = new Float32Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < i; j++) m[i * k + j] = 1;
    m[i * k + i] = 0.5;
  }
  return tf.tensor2d(m, [k, k]);
}

/**
 * Inverse of a small triangular block given row-major (op already applied): `lower` says which triangle; `unit`
 * treats the diagonal as ones. Upper blocks go through J·U·J (lower). Throws `PivotError` (block-relative) at a zero
 * diagonal entry.
 */
export function invertTriangularBlock(d: Float64Array, nb: number, lower: boolean, unit: boolean): Float64Array {
  const x = d.slice();
  if (!lower) flip(x);
  zeroUpper(x, nb);
  for (let i = 0; i < nb; i++) {
    if (unit) x[i * nb + i] = 1;
    const v = x[i * nb + i];
    if (v === 0 || !Number.isFinite(v)) throw new PivotError(lower ? i : nb - 1 - i, v);
  }
  trtriLower(x, nb);
  zeroUpper(x, nb);
  if (!lower) flip(x);
  return x;
}

/**
 * Solves op(T) X = B for X [n, k] with matMuls: T and B given on the host (row-major [n, n] and [n, k]). Left-looking blocked substitution in the order op(T) is triangular: X_I = op(T)_II⁻¹ (B_I -
 * op(T)[I, done] X[done]), where op(T)'s row blocks are cut on the host and uploaded, and op(T)_II⁻¹ is computed on
 * the host in float64. Throws `PivotError` (global index) at a zero diagonal entry.
 */
export function trsmPanels(
  t: Float32Array | Float64Array, n: number, b: Float32Array | Float64Array, k: number, lower: boolean, trans: boolean,
  unit: boolean, nb: number,
): tf.Tensor2D {
  const forward = lower !== trans;
  const opT = trans ? (i: number, q: number): number => t[q * n + i] : (i: number, q: number): number => t[i * n + q];
  const starts: number[] = [];
  for (let i0 = 0; i0 < n; i0 += nb) starts.push(i0);
  if (!forward) starts.reverse();
  const xs: tf.Tensor2D[] = []; // solved blocks, in solve order
  try {
    for (const i0 of starts) {
      const ib = Math.min(nb, n - i0);
      const diag = new Float64Array(ib * ib);
      for (let r = 0; r < ib; r++) for (let c = 0; c < ib; c++) diag[r * ib + c] = opT(i0 + r, i0 + c);
      let inv: Float64Array;
      try {
        inv = invertTriangularBlock(diag, ib, forward, unit);
      } catch (err) {
        if (err instanceof PivotError) throw new PivotError(err.index + i0, err.value);
        throw err;
      }
      const [q0, q1] = forward ? [0, i0] : [i0 + ib, n]; // columns of op(T) already solved
      const w = q1 - q0;
      let off: Float32Array | null = null;
      if (w > 0) {
        off = new Float32Array(ib * w);
        for (let r = 0; r < ib; r++) for (let q = 0; q < w; q++) off[r * w + q] = opT(i0 + r, q0 + q);
      }
      xs.push(tf.tidy(() => {
        let rhs: tf.Tensor2D = tf.tensor2d(Float32Array.from(b.subarray(i0 * k, (i0 + ib) * k)), [ib, k]);
        if (off !== null) {
          const done = xs.length === 1 ? xs[0] : tf.concat(forward ? xs : [...xs].reverse(), 0); // X[q0:q1]
          rhs = tf.sub(rhs, tf.matMul(tf.tensor2d(off, [ib, w]), done));
        }
        return tf.matMul(tf.tensor2d(Float32Array.from(inv), [ib, ib]), rhs);
      }));
    }
    return tf.tidy(() => (xs.length === 1 ? tf.clone(xs[0]) : tf.concat(forward ? xs : [...xs].reverse(), 0)));
  } finally {
    tf.dispose(xs);
  }
}
