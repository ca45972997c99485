/**
 * Dead inputs: input channels that were zero on every calibration token have H[i, i] = 0 in the Hessian 2/n XᵀX,
 * which is then singular. SparseGPT (IST-DASLab/sparsegpt, `sparsegpt.py`) and GPTQ set `H[dead, dead] = 1` and
 * `W[:, dead] = 0` before damping and factoring: the weights of a dead input never affect the output, so zeroing them
 * is free, and the unit diagonal decouples the column.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import { type SquareMatrix, squareSize } from './options.js';

/** What `fixDeadInputs` returns. */
export interface DeadInputs<M> {
  /** H with H[i, i] = 1 for every dead i: the input array itself (typed arrays, changed in place) or a new tensor. */
  h: M;
  /** Indices of the dead inputs (H[i, i] == 0), ascending. */
  dead: Int32Array;
}

/**
 * Finds the dead inputs of a Hessian (H[i, i] == 0 exactly, as SparseGPT tests) and sets their diagonal entries to 1.
 * Zero the matching weight columns with `zeroColumns(w, dead)`. Call it before damping (the damping mean then sees the
 * ones, as in SparseGPT).
 *
 * @param h  [n, n] Hessian: a typed array (changed in place, no copy of a 128 MB matrix) or a `tf.Tensor2D` (a new
 *           tensor is returned; the caller disposes both).
 * @example
 * const { h, dead } = fixDeadInputs(stats.hessian());
 * const w2 = zeroColumns(w, dead);   // W[:, dead] = 0
 */
export function fixDeadInputs(h: tf.Tensor2D): DeadInputs<tf.Tensor2D>;
export function fixDeadInputs<M extends Float64Array | Float32Array>(h: M): DeadInputs<M>;
export function fixDeadInputs(h: SquareMatrix): DeadInputs<SquareMatrix>;
export function fixDeadInputs(h: SquareMatrix): DeadInputs<SquareMatrix> {
  const n = squareSize(h, 'Hessian', 'fixDeadInputs');
  if (!(h instanceof tf.Tensor)) {
    const dead: number[] = [];
    for (let i = 0; i < n; i++) {
      if (h[i * n + i] === 0) {
        dead.push(i);
        h[i * n + i] = 1;
      }
    }
    return { h, dead: Int32Array.from(dead) };
  }
  const diagIdx = tf.range(0, n * n, n + 1, 'int32');
  try {
    const diag = tf.tidy(() => tf.gather(tf.reshape(h, [-1]), diagIdx));
    const values = diag.dataSync();
    diag.dispose();
    const dead: number[] = [];
    for (let i = 0; i < n; i++) if (values[i] === 0) dead.push(i);
    const fixed = tf.tidy(() => {
      if (dead.length === 0) return tf.clone(h);
      const bump = new Float32Array(n);
      for (const i of dead) bump[i] = 1;
      return tf.add<tf.Tensor2D>(h, tf.mul(tf.eye(n), tf.reshape(tf.tensor1d(bump), [1, n])));
    });
    return { h: fixed, dead: Int32Array.from(dead) };
  } finally {
    diagIdx.dispose();
  }
}

/**
 * W with the given input columns set to zero (SparseGPT's `W[:, dead] = 0`).
 *
 * @param w     [out, in] weight of a linear layer (y = x Wᵀ).
 * @param cols  column indices in [0, in).
 * @returns     a new [out, in] tensor.
 */
export function zeroColumns(w: tf.Tensor2D, cols: Int32Array | readonly number[]): tf.Tensor2D {
  if (w.rank !== 2) throw new SiftError('E_SHAPE', `zeroColumns: the weight must be [out, in], got ${fmtShape(w.shape)}.`);
  const d = w.shape[1];
  const keep = new Float32Array(d).fill(1);
  for (const c of cols) {
    if (!Number.isInteger(c) || c < 0 || c >= d) {
      throw new SiftError('E_SHAPE', `zeroColumns: column ${c} is out of range for a weight ${fmtShape(w.shape)} (in = ${d}).`);
    }
    keep[c] = 0;
  }
  return tf.tidy(() => tf.mul(w, tf.tensor2d(keep, [1, d])));
}
