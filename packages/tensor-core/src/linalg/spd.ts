/**
 * Symmetric positive definite (SPD) matrices: Cholesky factor, inverse, and the upper Cholesky factor of the inverse
 * that SparseGPT (Frantar & Alistarh 2023, Alg. 1) and GPTQ (Frantar et al. 2023, §3 "Cholesky reformulation") use as
 * `Hinv`. Each runs on the float64 host path or the blocked float32 tfjs path (see `LinalgPrecision`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import { type PanelFactor, assemblePanels, cholPanels, invertPanels, lauumPanels, uploadLowerPanels } from './device.js';
import { PivotError, flip, lauumLower, mirrorLower, potrf, trtriLower, zeroUpper } from './host.js';
import {
  type LinalgOptions, type SquareMatrix, fmtNum, parseLinalgOptions, squareSize, useFloat64,
} from './options.js';
import { readAndDispose, runAsync, runSync, type Steps } from './steps.js';

type SpdOp = 'cholesky' | 'spdInverse' | 'choleskyInverseUpper';

/** The SiftError for a failed pivot, in words a caller can act on. */
function pivotFailure(
  op: SpdOp, o: LinalgOptions, n: number, err: PivotError, meanDiag: number, precision: 'float64' | 'float32', reversed: boolean,
): SiftError {
  const index = reversed ? n - 1 - err.index : err.index;
  const where = `${op}: ${o.name} ${fmtShape([n, n])}`;
  if (Number.isNaN(err.value)) {
    return new SiftError('E_NAN', `${where} contains NaN or ±Inf entries (pivot at row/column ${index} is NaN). ` +
      'Check the statistics it was built from (e.g. calibration activations) for overflow or NaN.');
  }
  const added = o.damp * meanDiag;
  const next = o.damp === 0 ? 0.01 : Math.min(1, o.damp * 10);
  return new SiftError('E_NOT_PD',
    `${where} is not positive definite: the pivot at row/column ${index}${reversed ? ' (factored in reversed order)' : ''} ` +
    `is ${fmtNum(err.value)}, must be > 0, after adding damping ${o.damp} × mean(diag) = ${fmtNum(added)} to the diagonal ` +
    `(${precision}). Raise the damping, e.g. { damp: ${next} } (SparseGPT and GPTQ use 0.01)` +
    `${precision === 'float32' ? `, or compute in float64 with { precision: 'float64' }` : ''}. A Hessian 2XᵀX/n is singular ` +
    'when there are fewer calibration tokens than columns (use more samples) or when inputs are dead (zero diagonal ' +
    'entries: fixDeadInputs() sets them to 1, as SparseGPT does).');
}

/** First non-finite entry of the lower triangle, as a SiftError('E_NAN'), or null. */
function checkFinite(a: Float64Array | Float32Array, n: number, op: SpdOp, name: string): SiftError | null {
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let j = 0; j <= i; j++) {
      if (!Number.isFinite(a[row + j])) {
        return new SiftError('E_NAN', `${op}: ${name} ${fmtShape([n, n])} has a non-finite entry ${a[row + j]} at [${i}, ${j}]. ` +
          'Check the statistics it was built from (e.g. calibration activations) for overflow or NaN.');
      }
    }
  }
  return null;
}

/** Adds λ·mean(diag) to the diagonal in place; returns mean(diag). */
function dampHost(a: Float64Array | Float32Array, n: number, damp: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i * n + i];
  const mean = n === 0 ? 0 : s / n;
  if (damp > 0) {
    const add = damp * mean;
    for (let i = 0; i < n; i++) a[i * n + i] += add;
  }
  return mean;
}

/** The float64 host computation of `op`, in place on `w` (lower triangle read). */
function hostOp(op: SpdOp, w: Float64Array, n: number): void {
  if (op === 'cholesky') {
    potrf(w, n);
    zeroUpper(w, n);
  } else if (op === 'spdInverse') {
    potrf(w, n);
    trtriLower(w, n);
    lauumLower(w, n);
    mirrorLower(w, n);
  } else {
    // U = J · chol(J A J)⁻¹ · J: J A J = L'L'ᵀ gives A = R Rᵀ with R = J L' J upper, so A⁻¹ = R⁻ᵀ R⁻¹ and U = R⁻¹ is
    // upper with a positive diagonal: the (unique) upper Cholesky factor of A⁻¹. 2n³/3 flops instead of the 4n³/3 of
    // torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(A)), upper=True), and no second
    // factorisation of a squared-condition matrix.
    mirrorLower(w, n);
    flip(w);
    potrf(w, n);
    trtriLower(w, n);
    zeroUpper(w, n);
    flip(w);
  }
}

function* spdSteps(op: SpdOp, a: SquareMatrix, o: LinalgOptions): Steps<Float64Array | tf.Tensor2D> {
  const n = squareSize(a, o.name, op);
  const reversed = op === 'choleskyInverseUpper';
  if (n === 0) return a instanceof tf.Tensor ? tf.zeros([0, 0]) : new Float64Array(0);
  if (useFloat64(o.precision, n, o.float64MaxN)) {
    let w: Float64Array;
    if (a instanceof tf.Tensor) w = Float64Array.from(yield* readAndDispose(tf.cast(a, 'float32')));
    else w = a instanceof Float64Array && o.overwrite ? a : Float64Array.from(a);
    const bad = checkFinite(w, n, op, o.name);
    if (bad !== null) throw bad;
    const meanDiag = dampHost(w, n, o.damp);
    try {
      hostOp(op, w, n);
    } catch (err) {
      if (err instanceof PivotError) throw pivotFailure(op, o, n, err, meanDiag, 'float64', reversed);
      throw err;
    }
    return a instanceof tf.Tensor ? tf.tensor2d(Float32Array.from(w), [n, n]) : w;
  }

  // float32 path: A comes to the host once, is damped (and, for the inverse factor, mirrored and reversed) there, goes
  // up as block-column panels, and every O(n³) part runs as matMuls on the active backend (see device.ts).
  const w = a instanceof tf.Tensor ? yield* readAndDispose(tf.cast(a, 'float32')) : Float32Array.from(a);
  const bad = checkFinite(w, n, op, o.name);
  if (bad !== null) throw bad;
  const meanDiag = dampHost(w, n, o.damp);
  if (reversed) {
    mirrorLower(w, n);
    flip(w);
  }
  let factor: PanelFactor;
  try {
    factor = yield* cholPanels(uploadLowerPanels(w, n, o.blockSize), n, o.blockSize);
  } catch (err) {
    if (err instanceof PivotError) throw pivotFailure(op, o, n, err, meanDiag, 'float32', reversed);
    throw err;
  }
  let out: tf.Tensor2D;
  try {
    if (op === 'cholesky') {
      out = assemblePanels(factor.panels, n, o.blockSize);
    } else {
      const xp = invertPanels(factor);
      try {
        out = op === 'spdInverse' ? lauumPanels(xp, n, o.blockSize) : assemblePanels(xp, n, o.blockSize);
      } finally {
        tf.dispose(xp);
      }
    }
  } finally {
    tf.dispose(factor.panels);
  }
  if (op === 'choleskyInverseUpper') {
    // U = J X J: reversed on the host (tf.reverse is slow on wasm), then back up for tensor inputs.
    const u = yield* readAndDispose(out);
    flip(u);
    return a instanceof tf.Tensor ? tf.tensor2d(u, [n, n]) : Float64Array.from(u);
  }
  if (a instanceof tf.Tensor) return out;
  return Float64Array.from(yield* readAndDispose(out));
}

/**
 * Lower Cholesky factor L of a symmetric positive definite A = L Lᵀ (LAPACK dpotrf; Golub & Van Loan §4.2). Only
 * A's lower triangle is read.
 *
 * @param a  [n, n] SPD: a row-major `Float64Array`/`Float32Array` (n² entries) or a `tf.Tensor2D`.
 * @returns  L [n, n] lower triangular (zeros above the diagonal), of the input's kind: `Float64Array` for typed arrays,
 *           a new float32 `tf.Tensor2D` for tensors (the caller disposes it).
 * @throws   SiftError 'E_NOT_PD' (names `options.name`, the pivot and its value, and suggests more damping),
 *           'E_NAN' for non-finite entries, 'E_SHAPE' for a non-square input, 'E_CONFIG' for bad options.
 * @example
 * const l = cholesky(new Float64Array([4, 2, 2, 3]));           // [2, 0, 1, √2]
 * const lt = cholesky(h, { damp: 0.01, name: 'h.0.mlp.c_fc Hessian' }); // h: tf.Tensor2D
 */
export function cholesky(a: tf.Tensor2D, options?: Partial<LinalgOptions>): tf.Tensor2D;
export function cholesky(a: Float64Array | Float32Array, options?: Partial<LinalgOptions>): Float64Array;
export function cholesky(a: SquareMatrix, options?: Partial<LinalgOptions>): Float64Array | tf.Tensor2D;
export function cholesky(a: SquareMatrix, options: Partial<LinalgOptions> = {}): Float64Array | tf.Tensor2D {
  return runSync(spdSteps('cholesky', a, parseLinalgOptions(options, 'cholesky')));
}

/** `cholesky` with asynchronous device reads (`await data()`): use it on WebGPU. Same arguments and result. */
export function choleskyAsync(a: tf.Tensor2D, options?: Partial<LinalgOptions>): Promise<tf.Tensor2D>;
export function choleskyAsync(a: Float64Array | Float32Array, options?: Partial<LinalgOptions>): Promise<Float64Array>;
export function choleskyAsync(a: SquareMatrix, options?: Partial<LinalgOptions>): Promise<Float64Array | tf.Tensor2D>;
export function choleskyAsync(a: SquareMatrix, options: Partial<LinalgOptions> = {}): Promise<Float64Array | tf.Tensor2D> {
  return runAsync(spdSteps('cholesky', a, parseLinalgOptions(options, 'choleskyAsync')));
}

/**
 * Inverse of a symmetric positive definite matrix through its Cholesky factor: A⁻¹ = L⁻ᵀ L⁻¹ (LAPACK dpotrf + dpotri:
 * triangular inverse, then LAUUM). Only A's lower triangle is read; the result is symmetric (both triangles filled).
 *
 * @param a  [n, n] SPD (typed array, row-major, or `tf.Tensor2D`).
 * @returns  A⁻¹ [n, n], of the input's kind (see `cholesky`).
 * @throws   as `cholesky`.
 * @example
 * const inv = spdInverse(new Float64Array([4, 2, 2, 3])); // [0.375, -0.25, -0.25, 0.5]
 */
export function spdInverse(a: tf.Tensor2D, options?: Partial<LinalgOptions>): tf.Tensor2D;
export function spdInverse(a: Float64Array | Float32Array, options?: Partial<LinalgOptions>): Float64Array;
export function spdInverse(a: SquareMatrix, options?: Partial<LinalgOptions>): Float64Array | tf.Tensor2D;
export function spdInverse(a: SquareMatrix, options: Partial<LinalgOptions> = {}): Float64Array | tf.Tensor2D {
  return runSync(spdSteps('spdInverse', a, parseLinalgOptions(options, 'spdInverse')));
}

/** `spdInverse` with asynchronous device reads (WebGPU). */
export function spdInverseAsync(a: tf.Tensor2D, options?: Partial<LinalgOptions>): Promise<tf.Tensor2D>;
export function spdInverseAsync(a: Float64Array | Float32Array, options?: Partial<LinalgOptions>): Promise<Float64Array>;
export function spdInverseAsync(a: SquareMatrix, options?: Partial<LinalgOptions>): Promise<Float64Array | tf.Tensor2D>;
export function spdInverseAsync(a: SquareMatrix, options: Partial<LinalgOptions> = {}): Promise<Float64Array | tf.Tensor2D> {
  return runAsync(spdSteps('spdInverse', a, parseLinalgOptions(options, 'spdInverseAsync')));
}

/**
 * The upper Cholesky factor U of A⁻¹ (Uᵀ U = A⁻¹, U upper triangular with a positive diagonal): SparseGPT's and
 * GPTQ's `Hinv`, equal to IST-DASLab/sparsegpt's
 * `torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)`.
 *
 * Computed without forming A⁻¹: with J the order-reversing permutation, J A J = L' L'ᵀ, and U = J L'⁻¹ J (one
 * Cholesky and one triangular inverse, 2n³/3 flops against torch's 4n³/3, and no second factorisation of a matrix
 * with squared condition number). Only A's lower triangle is read; `damp` adds λ·mean(diag) first, as
 * SparseGPT's `percdamp` does.
 *
 * @param a  [n, n] SPD, e.g. the Hessian H = 2/n XᵀX from `ActivationStats.hessian()`.
 * @returns  U [n, n] upper triangular (zeros below the diagonal), of the input's kind (see `cholesky`).
 * @throws   as `cholesky` (a failed pivot is reported at its row/column of A).
 * @example
 * const { h } = fixDeadInputs(stats.hessian());                       // Float64Array, in place
 * const hinv = choleskyInverseUpper(h, { damp: 0.01, name: 'h.3.attn.c_attn Hessian' });
 */
export function choleskyInverseUpper(a: tf.Tensor2D, options?: Partial<LinalgOptions>): tf.Tensor2D;
export function choleskyInverseUpper(a: Float64Array | Float32Array, options?: Partial<LinalgOptions>): Float64Array;
export function choleskyInverseUpper(a: SquareMatrix, options?: Partial<LinalgOptions>): Float64Array | tf.Tensor2D;
export function choleskyInverseUpper(a: SquareMatrix, options: Partial<LinalgOptions> = {}): Float64Array | tf.Tensor2D {
  return runSync(spdSteps('choleskyInverseUpper', a, parseLinalgOptions(options, 'choleskyInverseUpper')));
}

/** `choleskyInverseUpper` with asynchronous device reads (WebGPU). */
export function choleskyInverseUpperAsync(a: tf.Tensor2D, options?: Partial<LinalgOptions>): Promise<tf.Tensor2D>;
export function choleskyInverseUpperAsync(a: Float64Array | Float32Array, options?: Partial<LinalgOptions>): Promise<Float64Array>;
export function choleskyInverseUpperAsync(a: SquareMatrix, options?: Partial<LinalgOptions>): Promise<Float64Array | tf.Tensor2D>;
export function choleskyInverseUpperAsync(a: SquareMatrix, options: Partial<LinalgOptions> = {}): Promise<Float64Array | tf.Tensor2D> {
  return runAsync(spdSteps('choleskyInverseUpper', a, parseLinalgOptions(options, 'choleskyInverseUpperAsync')));
}
