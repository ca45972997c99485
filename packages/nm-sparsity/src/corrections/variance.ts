/**
 * Variance correction after pruning (the sparsity brief §2.4; the weight analogue of `variance_factor` in the 8:16
 * group's activation-sparsity code): scale each output row of the pruned weight W̃ by γ_i so its output spread matches
 * the dense layer's. It folds into the weights: the mask and the packed metadata do not change.
 *   (a) data-free, per output row:      γ_i = √(Var_j(W_ij) / Var_j(W̃_ij))   (variance over all `in` entries, zeros included)
 *   (b) data-driven, per output channel: γ_i = std_t(Y_ti) / std_t(Ỹ_ti), Y = X Wᵀ, Ỹ = X W̃ᵀ on the calibration set,
 *       computed exactly from the input moments: Var_t(Y_ti) = w_i Σ w_iᵀ with Σ = XᵀX/n − μμᵀ;
 *       optional mean fix b_i += μ·w_i − γ_i μ·w̃_i.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError } from '@sift/tensor-core';

/** Moments of the calibration inputs X [n, in] that data-driven correction needs. */
export interface InputMoments {
  /** XᵀX [in, in], row-major float64. */
  gram: Float64Array;
  /** μ = mean_t x_t, [in]. */
  mean: Float64Array;
  /** n, tokens. */
  count: number;
}

/** γ per row, (a): √(Var_j W_ij / Var_j W̃_ij); 1 where the pruned row is constant. */
export function dataFreeGamma(dense: Float32Array, pruned: Float32Array, rows: number, cols: number): Float64Array {
  const g = new Float64Array(rows);
  const v = (a: Float32Array, o: number): number => {
    let s = 0;
    let s2 = 0;
    for (let j = 0; j < cols; j++) {
      s += a[o + j];
      s2 += a[o + j] * a[o + j];
    }
    const m = s / cols;
    return Math.max(0, s2 / cols - m * m);
  };
  for (let r = 0; r < rows; r++) {
    const vp = v(pruned, r * cols);
    g[r] = vp > 0 ? Math.sqrt(v(dense, r * cols) / vp) : 1;
  }
  return g;
}

/** Per-row w Σ wᵀ and μ·w for two weights, on the active backend (one matMul each). */
function rowForms(ws: Float32Array[], rows: number, cols: number, m: InputMoments): { q: Float64Array[]; mu: Float64Array[] } {
  const n = m.count;
  const sigma = new Float32Array(cols * cols);
  for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) sigma[i * cols + j] = m.gram[i * cols + j] / n - m.mean[i] * m.mean[j];
  const out = tf.tidy(() => {
    const s = tf.tensor2d(sigma, [cols, cols]);
    const mu = tf.tensor2d(Float32Array.from(m.mean), [cols, 1]);
    return ws.map((w) => {
      const wt = tf.tensor2d(w, [rows, cols]);
      return [tf.sum(tf.mul(tf.matMul(wt, s), wt), 1), tf.reshape(tf.matMul(wt, mu), [rows])];
    });
  });
  const q = out.map(([a]) => Float64Array.from(a.dataSync()));
  const mu = out.map(([, b]) => Float64Array.from(b.dataSync()));
  tf.dispose(out.flat());
  return { q, mu };
}

/**
 * γ per output channel, (b), and the mean fix Δb_i = μ·w_i − γ_i μ·w̃_i.
 * @throws SiftError 'E_SHAPE' when the moments do not match `cols`
 */
export function dataDrivenGamma(dense: Float32Array, pruned: Float32Array, rows: number, cols: number, m: InputMoments):
  { gamma: Float64Array; meanShift: Float64Array } {
  if (m.gram.length !== cols * cols || m.mean.length !== cols || !(m.count > 0)) {
    throw new SiftError('E_SHAPE', `variance correction: the input moments are for ${m.mean.length} channels (${m.count} tokens), the weight has ${cols} input columns.`);
  }
  const { q, mu } = rowForms([dense, pruned], rows, cols, m);
  const gamma = new Float64Array(rows);
  const meanShift = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const vd = Math.max(0, q[0][r]);
    const vp = Math.max(0, q[1][r]);
    gamma[r] = vp > 0 ? Math.sqrt(vd / vp) : 1;
    meanShift[r] = mu[0][r] - gamma[r] * mu[1][r];
  }
  return { gamma, meanShift };
}

/** Scales row r of `w` [rows, cols] by γ_r in place. */
export function scaleRows(w: Float32Array, rows: number, cols: number, gamma: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const g = gamma[r];
    for (let j = 0; j < cols; j++) w[r * cols + j] *= g;
  }
}

/** What `varianceCorrect` returns. */
export interface VarianceCorrectionResult {
  /** γ W̃, [out, in] (a new tensor). */
  weight: tf.Tensor2D;
  /** γ per output row, [out]. */
  gamma: Float64Array;
  /** Δb to add to the bias (data-driven with `meanFix`), or null. */
  biasShift: Float64Array | null;
}

/**
 * Variance correction of a pruned weight, folded into it.
 * @param dense   W [out, in] before pruning
 * @param pruned  W̃ [out, in] after pruning (and SparseGPT's updates)
 * @param mode    `'data-free'` (a) or `'data-driven'` (b, needs `moments`)
 * @example
 * const { weight, gamma } = varianceCorrect({ dense: w, pruned: wp, mode: 'data-free' });
 */
export function varianceCorrect(args: { dense: tf.Tensor2D; pruned: tf.Tensor2D; mode: 'data-free' | 'data-driven'; moments?: InputMoments; meanFix?: boolean }): VarianceCorrectionResult {
  const { dense, pruned, mode } = args;
  if (dense.rank !== 2 || dense.shape.join() !== pruned.shape.join()) {
    throw new SiftError('E_SHAPE', `varianceCorrect: dense and pruned must be the same [out, in] shape, got [${dense.shape.join(', ')}] and [${pruned.shape.join(', ')}].`);
  }
  const [rows, cols] = dense.shape;
  const d = dense.dataSync() as Float32Array;
  const p = Float32Array.from(pruned.dataSync());
  let gamma: Float64Array;
  let biasShift: Float64Array | null = null;
  if (mode === 'data-free') gamma = dataFreeGamma(d, p, rows, cols);
  else {
    if (args.moments === undefined) throw new SiftError('E_CONFIG', "varianceCorrect: mode 'data-driven' needs the input moments { gram, mean, count } of the calibration data.");
    const r = dataDrivenGamma(d, p, rows, cols, args.moments);
    gamma = r.gamma;
    if (args.meanFix === true) biasShift = r.meanShift;
  }
  scaleRows(p, rows, cols, gamma);
  return { weight: tf.tensor2d(p, [rows, cols]), gamma, biasShift };
}
