import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';

/** A square matrix: row-major `Float64Array`/`Float32Array` of length n² (host), or a `tf.Tensor2D` [n, n]. */
export type SquareMatrix = Float64Array | Float32Array | tf.Tensor2D;

/**
 * Where the arithmetic runs:
 * - `'float64'`: on the host, in float64 on typed arrays (exact reference; ~2 GFLOP/s single-threaded JS).
 * - `'float32'`: the blocked float32 path whose O(n³) parts are tfjs `matMul`s on the active backend (wasm, webgpu,
 *   cuda); diagonal blocks are factored on the host in float64.
 * - `'auto'`: float64 when n <= `float64MaxN`, else float32.
 */
export type LinalgPrecision = 'auto' | 'float64' | 'float32';

/** Options of `cholesky`, `spdInverse` and `choleskyInverseUpper` (and their async forms). */
export interface LinalgOptions {
  /**
   * Damping λ >= 0: λ · mean(diag A) is added to the diagonal before factoring, as SparseGPT and GPTQ do with
   * `percdamp` (0.01 there). Default 0.
   */
  damp: number;
  /** What the matrix is, for error messages, e.g. `"h.3.attn.c_attn Hessian"`. Default `'matrix'`. */
  name: string;
  /** Where the arithmetic runs. Default `'auto'`. */
  precision: LinalgPrecision;
  /** The largest n that `'auto'` computes in float64 on the host. Default 2048 (about 1.5 s for a Cholesky there). */
  float64MaxN: number;
  /** Block size of the float32 path: the diagonal blocks factored on the host in float64. Default 256. */
  blockSize: number;
  /**
   * Float64Array input on the float64 path only: compute in the input's own buffer, which then holds the result (the
   * function returns that same array), instead of in a copy. Saves n² · 8 bytes (128 MB at n = 4096). Default false.
   */
  overwrite: boolean;
}

/** Defaults of `LinalgOptions`. */
export const LINALG_DEFAULTS: Readonly<LinalgOptions> = Object.freeze({
  damp: 0,
  name: 'matrix',
  precision: 'auto',
  float64MaxN: 2048,
  blockSize: 256,
  overwrite: false,
});

/** Options of `triangularSolve` (left side: op(T) X = B). */
export interface TriangularSolveOptions extends Omit<LinalgOptions, 'damp'> {
  /** T is lower triangular (its lower triangle is read); false: upper. Default true. */
  lower: boolean;
  /** Solve Tᵀ X = B instead of T X = B. Default false. */
  transpose: boolean;
  /** Take T's diagonal as all ones (it is not read). Default false. */
  unitDiagonal: boolean;
}

/** Defaults of `TriangularSolveOptions`. */
export const TRIANGULAR_SOLVE_DEFAULTS: Readonly<TriangularSolveOptions> = Object.freeze({
  name: 'matrix',
  precision: 'auto',
  float64MaxN: 2048,
  blockSize: 256,
  overwrite: false,
  lower: true,
  transpose: false,
  unitDiagonal: false,
});

const PRECISIONS: readonly LinalgPrecision[] = ['auto', 'float64', 'float32'];

function checkCommon(o: Omit<LinalgOptions, 'damp'>, where: string): void {
  if (typeof o.name !== 'string') throw new SiftError('E_CONFIG', `${where}: name must be a string, got ${typeof o.name}.`);
  if (!PRECISIONS.includes(o.precision)) {
    throw new SiftError('E_CONFIG', `${where}: precision must be one of ${PRECISIONS.join(', ')}, got ${JSON.stringify(o.precision)}.`);
  }
  if (!Number.isInteger(o.float64MaxN) || o.float64MaxN < 0) {
    throw new SiftError('E_CONFIG', `${where}: float64MaxN must be a non-negative integer, got ${o.float64MaxN}.`);
  }
  if (!Number.isInteger(o.blockSize) || o.blockSize < 8) {
    throw new SiftError('E_CONFIG', `${where}: blockSize must be an integer >= 8, got ${o.blockSize}. 256 suits wasm and GPUs.`);
  }
  if (typeof o.overwrite !== 'boolean') throw new SiftError('E_CONFIG', `${where}: overwrite must be a boolean, got ${typeof o.overwrite}.`);
}

/** Merges `input` over `LINALG_DEFAULTS` and validates every field (SiftError 'E_CONFIG' naming the field). */
export function parseLinalgOptions(input: Partial<LinalgOptions> = {}, where = 'linalg'): LinalgOptions {
  const o: LinalgOptions = { ...LINALG_DEFAULTS, ...input };
  if (!(Number.isFinite(o.damp) && o.damp >= 0)) {
    throw new SiftError('E_CONFIG', `${where}: damp must be a finite number >= 0 (a fraction of mean(diag), e.g. 0.01), got ${o.damp}.`);
  }
  checkCommon(o, where);
  return o;
}

/** Merges `input` over `TRIANGULAR_SOLVE_DEFAULTS` and validates it. */
export function parseTriangularSolveOptions(input: Partial<TriangularSolveOptions> = {}): TriangularSolveOptions {
  const o: TriangularSolveOptions = { ...TRIANGULAR_SOLVE_DEFAULTS, ...input };
  checkCommon(o, 'triangularSolve');
  for (const key of ['lower', 'transpose', 'unitDiagonal'] as const) {
    if (typeof o[key] !== 'boolean') throw new SiftError('E_CONFIG', `triangularSolve: ${key} must be a boolean, got ${typeof o[key]}.`);
  }
  return o;
}

/** n of a square matrix input, or SiftError('E_SHAPE'). */
export function squareSize(a: SquareMatrix, name: string, where: string): number {
  if (a instanceof tf.Tensor) {
    if (a.rank !== 2 || a.shape[0] !== a.shape[1]) {
      throw new SiftError('E_SHAPE', `${where}: ${name} must be a square [n, n] tensor, got ${fmtShape(a.shape)}.`);
    }
    return a.shape[0];
  }
  const n = Math.round(Math.sqrt(a.length));
  if (n * n !== a.length) {
    throw new SiftError('E_SHAPE', `${where}: ${name} must be a row-major n×n typed array, got length ${a.length}, which is not a square number.`);
  }
  return n;
}

/** Whether a computation of size n runs on the float64 host path. */
export function useFloat64(precision: LinalgPrecision, n: number, float64MaxN: number): boolean {
  return precision === 'float64' || (precision === 'auto' && n <= float64MaxN);
}

/** Short number format for messages. */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(3) : String(Number(v.toPrecision(6)));
}
