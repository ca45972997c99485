/**
 * Triangular solve with a matrix right-hand side, left side: op(T) X = B with op(T) = T or Tᵀ (BLAS/LAPACK dtrsm,
 * side 'L'). Used for Cholesky-based solves (A X = B as L Y = B, Lᵀ X = Y) and by callers that keep factors around.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import { trsmPanels } from './device.js';
import { PivotError, trsmLeft } from './host.js';
import {
  type SquareMatrix, type TriangularSolveOptions, fmtNum, parseTriangularSolveOptions, squareSize, useFloat64,
} from './options.js';
import { readAndDispose, runAsync, runSync, type Steps } from './steps.js';

/** A right-hand side: row-major typed array [n, k] (length n·k), or a `tf.Tensor2D` [n, k]. */
export type RightHandSide = Float64Array | Float32Array | tf.Tensor2D;

function rhsColumns(b: RightHandSide, n: number, name: string): number {
  if (b instanceof tf.Tensor) {
    if (b.rank !== 2 || b.shape[0] !== n) {
      throw new SiftError('E_SHAPE', `triangularSolve: the right-hand side for ${name} ${fmtShape([n, n])} must be [${n}, k], got ${fmtShape(b.shape)}.`);
    }
    return b.shape[1];
  }
  if (n === 0 ? b.length !== 0 : b.length % n !== 0) {
    throw new SiftError('E_SHAPE', `triangularSolve: the right-hand side for ${name} ${fmtShape([n, n])} must be a row-major [${n}, k] ` +
      `typed array (length a multiple of ${n}), got length ${b.length}.`);
  }
  return n === 0 ? 0 : b.length / n;
}

function singular(o: TriangularSolveOptions, n: number, err: PivotError, precision: string): SiftError {
  if (Number.isNaN(err.value)) {
    return new SiftError('E_NAN', `triangularSolve: ${o.name} ${fmtShape([n, n])} has a NaN diagonal entry at ${err.index} (${precision}).`);
  }
  return new SiftError('E_NOT_PD', `triangularSolve: ${o.name} ${fmtShape([n, n])} is singular: diagonal entry ${err.index} is ` +
    `${fmtNum(err.value)} (${precision}). A Cholesky factor never has one; if T came from elsewhere, damp the matrix it ` +
    'was factored from, or pass unitDiagonal: true if its diagonal is implicitly 1.');
}

function checkFiniteTri(t: Float64Array | Float32Array, n: number, o: TriangularSolveOptions): void {
  for (let i = 0; i < n; i++) {
    const [lo, hi] = o.lower ? [0, i + 1] : [i, n];
    for (let j = lo; j < hi; j++) {
      if (j === i && o.unitDiagonal) continue;
      if (!Number.isFinite(t[i * n + j])) {
        throw new SiftError('E_NAN', `triangularSolve: ${o.name} ${fmtShape([n, n])} has a non-finite entry ${t[i * n + j]} at [${i}, ${j}].`);
      }
    }
  }
}

function* trsmSteps(t: SquareMatrix, b: RightHandSide, o: TriangularSolveOptions): Steps<Float64Array | tf.Tensor2D> {
  const n = squareSize(t, o.name, 'triangularSolve');
  const k = rhsColumns(b, n, o.name);
  if (n === 0 || k === 0) return b instanceof tf.Tensor ? tf.zeros([n, k]) : new Float64Array(0);
  if (useFloat64(o.precision, n, o.float64MaxN)) {
    const tv = t instanceof tf.Tensor ? Float64Array.from(yield* readAndDispose(tf.cast(t, 'float32')))
      : t instanceof Float64Array ? t : Float64Array.from(t);
    const x = b instanceof tf.Tensor ? Float64Array.from(yield* readAndDispose(tf.cast(b, 'float32')))
      : b instanceof Float64Array && o.overwrite ? b : Float64Array.from(b);
    checkFiniteTri(tv, n, o);
    try {
      trsmLeft(tv, n, x, k, o.lower, o.transpose, o.unitDiagonal);
    } catch (err) {
      if (err instanceof PivotError) throw singular(o, n, err, 'float64');
      throw err;
    }
    return b instanceof tf.Tensor ? tf.tensor2d(Float32Array.from(x), [n, k]) : x;
  }
  // float32 path: T and B come to the host once; blocks go up, the products run as matMuls (see device.ts).
  const tv = t instanceof tf.Tensor ? yield* readAndDispose(tf.cast(t, 'float32')) : t;
  const bv = b instanceof tf.Tensor ? yield* readAndDispose(tf.cast(b, 'float32')) : b;
  checkFiniteTri(tv, n, o);
  let x: tf.Tensor2D;
  try {
    x = trsmPanels(tv, n, bv, k, o.lower, o.transpose, o.unitDiagonal, o.blockSize);
  } catch (err) {
    if (err instanceof PivotError) throw singular(o, n, err, 'float32');
    throw err;
  }
  if (b instanceof tf.Tensor) return x;
  return Float64Array.from(yield* readAndDispose(x));
}

/**
 * Solves op(T) X = B for X (left side; op(T) = T, or Tᵀ with `transpose`), T triangular [n, n], B [n, k]
 * (BLAS dtrsm; blocked forward/back substitution, Golub & Van Loan §3.1). Only the triangle named by `lower` is read.
 *
 * @param t  [n, n] triangular: row-major typed array or `tf.Tensor2D`.
 * @param b  [n, k]: row-major typed array (length n·k; a vector is k = 1) or `tf.Tensor2D`.
 * @returns  X [n, k], of `b`'s kind: `Float64Array` for typed arrays, a new float32 `tf.Tensor2D` for tensors.
 * @throws   SiftError 'E_NOT_PD' for a zero diagonal entry (singular T), 'E_NAN', 'E_SHAPE', 'E_CONFIG'.
 * @example
 * // A x = b with A = L Lᵀ: L y = b, then Lᵀ x = y
 * const l = cholesky(a);
 * const x = triangularSolve(l, triangularSolve(l, b), { transpose: true });
 */
export function triangularSolve(t: SquareMatrix, b: tf.Tensor2D, options?: Partial<TriangularSolveOptions>): tf.Tensor2D;
export function triangularSolve(t: SquareMatrix, b: Float64Array | Float32Array, options?: Partial<TriangularSolveOptions>): Float64Array;
export function triangularSolve(t: SquareMatrix, b: RightHandSide, options?: Partial<TriangularSolveOptions>): Float64Array | tf.Tensor2D;
export function triangularSolve(t: SquareMatrix, b: RightHandSide, options: Partial<TriangularSolveOptions> = {}): Float64Array | tf.Tensor2D {
  return runSync(trsmSteps(t, b, parseTriangularSolveOptions(options)));
}

/** `triangularSolve` with asynchronous device reads (WebGPU). */
export function triangularSolveAsync(t: SquareMatrix, b: tf.Tensor2D, options?: Partial<TriangularSolveOptions>): Promise<tf.Tensor2D>;
export function triangularSolveAsync(t: SquareMatrix, b: Float64Array | Float32Array, options?: Partial<TriangularSolveOptions>): Promise<Float64Array>;
export function triangularSolveAsync(t: SquareMatrix, b: RightHandSide, options?: Partial<TriangularSolveOptions>): Promise<Float64Array | tf.Tensor2D>;
export function triangularSolveAsync(t: SquareMatrix, b: RightHandSide, options: Partial<TriangularSolveOptions> = {}): Promise<Float64Array | tf.Tensor2D> {
  return runAsync(trsmSteps(t, b, parseTriangularSolveOptions(options)));
}
