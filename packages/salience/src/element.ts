/**
 * Element scores: one number per weight, [out, in], larger means more important (keep). The masks of
 * `@sift/nm-sparsity` keep the highest-scoring entries; any function of this shape plugs in.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '@sift/tensor-core';
import { checkColumns, columnNorm, type StatsLike } from './stats.js';

/** Throws E_SHAPE unless `w` is a float [out, in] matrix. */
export function checkWeight(w: tf.Tensor, where: string): asserts w is tf.Tensor2D {
  if (!((w as unknown) instanceof tf.Tensor) || w.isDisposed) throw new SiftError('E_SHAPE', `${where}: weight must be a live tf.Tensor2D [out, in].`);
  if (w.rank !== 2) throw new SiftError('E_SHAPE', `${where}: weight must be [out, in] (PyTorch layout), got ${fmtShape(w.shape)}.`);
  if (w.dtype !== 'float32') throw new SiftError('E_DTYPE', `${where}: weight must be float32, got ${w.dtype}. Cast it with tf.cast(w, 'float32').`);
}

function rowVector(v: ArrayLike<number>): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(v), [1, v.length]);
}

/**
 * Magnitude score |W_ij| (the classic pruning criterion; Han et al. 2015).
 * @param weight [out, in]
 * @returns      [out, in], a new tensor (the caller disposes it)
 * @example
 * const s = magnitudeScore(linear.weight);
 */
export function magnitudeScore(weight: tf.Tensor2D): tf.Tensor2D {
  checkWeight(weight, 'magnitudeScore');
  return tf.abs(weight);
}

/**
 * Wanda's score |W_ij| · ‖X_j‖₂ (Sun et al. 2023, "A Simple and Effective Pruning Approach for LLMs", Eq. 1): the
 * weight's magnitude times the ℓ2 norm of its input channel over all calibration tokens.
 * @param weight [out, in]
 * @param stats  `ActivationStats` of the layer's input (its `l2Norm()`), or `ColumnNorms { l2 }`, [in]
 * @returns      [out, in], a new tensor
 * @throws SiftError 'E_SHAPE' when the statistics do not have `in` channels
 * @example
 * const s = wandaScore(linear.weight, stats); // stats: ActivationStats collected on the layer's input
 */
export function wandaScore(weight: tf.Tensor2D, stats: StatsLike): tf.Tensor2D {
  checkWeight(weight, 'wandaScore');
  const norm = columnNorm(stats, 2, 'wandaScore');
  checkColumns(norm.length, weight.shape[1], 'the activation norm ‖X_j‖₂', 'wandaScore');
  return tf.tidy(() => tf.mul(tf.abs(weight), rowVector(norm)));
}

/**
 * SparseGPT's (OBS) saliency W_ij² / [H⁻¹]_jj² (Frantar & Alistarh 2023, Alg. 1, `W1 ** 2 / diag(Hinv1) ** 2`), where
 * `hinvDiag` is the diagonal of SparseGPT's `Hinv`: the upper Cholesky factor U of H⁻¹ (tensor-core's
 * `choleskyInverseUpper`). U_jj² is the OBS denominator [H_F⁻¹]_jj of column j once the columns before it are fixed,
 * which is why the reference divides by the squared factor diagonal. For the plain OBS score with the full inverse's
 * diagonal d_j = [H⁻¹]_jj, pass `Math.sqrt(d_j)`.
 * @param weight   [out, in] (SparseGPT scores the already-updated weights of the current block)
 * @param hinvDiag [in], positive
 * @returns        [out, in], a new tensor
 * @example
 * const u = choleskyInverseUpper(stats.hessian(), { damp: 0.01 });
 * const diag = Float64Array.from({ length: d }, (_, j) => u[j * d + j]);
 * const s = sparsegptScore(w, diag);
 */
export function sparsegptScore(weight: tf.Tensor2D, hinvDiag: ArrayLike<number> | tf.Tensor1D): tf.Tensor2D {
  checkWeight(weight, 'sparsegptScore');
  const d = hinvDiag instanceof tf.Tensor ? hinvDiag.dataSync() : hinvDiag;
  checkColumns(d.length, weight.shape[1], 'hinvDiag', 'sparsegptScore');
  const inv = new Float32Array(d.length);
  for (let j = 0; j < d.length; j++) {
    const v = d[j];
    if (!(Number.isFinite(v) && v > 0)) {
      throw new SiftError('E_NAN', `sparsegptScore: hinvDiag[${j}] is ${v}; the diagonal of the Cholesky factor of H⁻¹ must ` +
        'be finite and > 0. Damp the Hessian (choleskyInverseUpper(h, { damp: 0.01 })) and fix dead inputs first.');
    }
    inv[j] = 1 / (v * v);
  }
  return tf.tidy(() => tf.mul(tf.square(weight), tf.tensor2d(inv, [1, inv.length])));
}
