import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '@sift/tensor-core';

/**
 * A dense row-major matrix on a typed array: the input of every probe and metric (`[rows, cols]`, element (i, j) at
 * `data[i * cols + j]`). Float32 embeddings can be passed as they come; probes compute in float64.
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array | Float32Array;
}

/**
 * Builds a `Matrix` from nested arrays (`number[][]`) or wraps a flat typed array.
 * @example
 * const x = matrix([[1, 2], [3, 4]]); // rows 2, cols 2
 */
export function matrix(rows: readonly (readonly number[])[]): Matrix;
export function matrix(data: Float64Array | Float32Array, rows: number, cols: number): Matrix;
export function matrix(src: readonly (readonly number[])[] | Float64Array | Float32Array, rows?: number, cols?: number): Matrix {
  if (src instanceof Float64Array || src instanceof Float32Array) {
    if (rows === undefined || cols === undefined || !Number.isInteger(rows) || !Number.isInteger(cols) || rows * cols !== src.length) {
      throw new SiftError('E_SHAPE', `matrix: a flat array of ${src.length} values cannot be ${fmtShape([rows ?? -1, cols ?? -1])}; pass rows * cols === data.length.`);
    }
    return { rows, cols, data: src };
  }
  const r = src.length;
  const c = r === 0 ? 0 : src[0].length;
  const data = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    const row = src[i];
    if (row.length !== c) {
      throw new SiftError('E_SHAPE', `matrix: row ${i} has ${row.length} values but row 0 has ${c}; every row needs the same length.`);
    }
    for (let j = 0; j < c; j++) data[i * c + j] = row[j]!;
  }
  return { rows: r, cols: c, data };
}

/**
 * Downloads a `[rows, cols]` tensor (embeddings from an encoder) into a `Matrix`. Does not dispose the tensor.
 * @example
 * const x = await matrixFromTensor(embeddings); // embeddings: tf.Tensor2D [N, 512]
 */
export async function matrixFromTensor(t: tf.Tensor): Promise<Matrix> {
  if (t.rank !== 2) throw new SiftError('E_SHAPE', `matrixFromTensor: expected a rank-2 tensor [rows, cols], got shape ${fmtShape(t.shape)}.`);
  const data = await t.data();
  const copy = data instanceof Float32Array ? new Float32Array(data) : Float64Array.from(data as ArrayLike<number>);
  return { rows: t.shape[0], cols: t.shape[1]!, data: copy };
}

/** Rows `idx` of `x` as a new float64 matrix (train/test subsets). */
export function takeRows(x: Matrix, idx: ArrayLike<number>): Matrix {
  const c = x.cols;
  const out = new Float64Array(idx.length * c);
  for (let k = 0; k < idx.length; k++) {
    const src = idx[k] * c;
    for (let j = 0; j < c; j++) out[k * c + j] = x.data[src + j]!;
  }
  return { rows: idx.length, cols: c, data: out };
}

/** Elements `idx` of `y`, as float64. */
export function takeValues(y: ArrayLike<number>, idx: ArrayLike<number>): Float64Array {
  const out = new Float64Array(idx.length);
  for (let k = 0; k < idx.length; k++) out[k] = y[idx[k]]!;
  return out;
}

/** Throws `E_SHAPE` unless `x` is a valid matrix with `y.length` rows (when `y` is given) and only finite values. */
export function checkMatrix(where: string, x: Matrix, y?: ArrayLike<number>): void {
  if (!Number.isInteger(x.rows) || !Number.isInteger(x.cols) || x.rows * x.cols !== x.data.length) {
    throw new SiftError('E_SHAPE', `${where}: matrix says ${fmtShape([x.rows, x.cols])} but holds ${x.data.length} values.`);
  }
  if (x.rows === 0 || x.cols === 0) throw new SiftError('E_EMPTY', `${where}: the matrix is empty (${fmtShape([x.rows, x.cols])}); pass at least one row and one column.`);
  if (y !== undefined && y.length !== x.rows) {
    throw new SiftError('E_SHAPE', `${where}: x has ${x.rows} rows but y has ${y.length} values; they must match.`);
  }
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i])) {
      throw new SiftError('E_NAN', `${where}: x[${Math.floor(i / x.cols)}, ${i % x.cols}] is ${x.data[i]}; probes need finite features (impute or drop the row).`);
    }
  }
}

/**
 * Checks class labels 0..K-1 and returns K (`numClasses` when given, else max + 1).
 */
export function checkLabels(where: string, y: ArrayLike<number>, numClasses?: number): number {
  let max = -1;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isInteger(v) || v < 0) {
      throw new SiftError('E_DATA', `${where}: label y[${i}] = ${v} is not a class index; encode classes as integers 0..K-1.`);
    }
    if (v > max) max = v;
  }
  const k = numClasses ?? max + 1;
  if (max >= k) throw new SiftError('E_DATA', `${where}: label ${max} is out of range for numClasses = ${k}.`);
  if (k < 2) throw new SiftError('E_DATA', `${where}: classification needs at least 2 classes, got ${k} (labels seen up to ${max}).`);
  return k;
}
