/**
 * SmoothQuant-like weight equalization (Xiao et al. 2023, Eq. 4; the sparsity brief §2.5): per input channel j,
 * s_j = max_t|X_tj|^α / max_i|W_ij|^(1−α), Ŵ = W·diag(s), X̂ = X·diag(s)⁻¹, with s⁻¹ folded into what produces X:
 * the preceding LayerNorm/RMSNorm gain (and LayerNorm bias), or the preceding linear's output rows (v_proj for o_proj,
 * up_proj for down_proj). The dense function is unchanged. Wanda's score |W_ij s_j|·‖X_j‖/s_j is unchanged too, so
 * equalization changes masks only for magnitude-type selection.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Linear, RMSNorm, SiftError } from '@sift/tensor-core';

/** What `equalize` did. */
export interface EqualizeReport {
  /** s_j per input channel, [in]. */
  scales: Float64Array;
  /** The kind of module s⁻¹ was folded into. */
  foldedInto: 'layernorm' | 'rmsnorm' | 'linear';
  /** max_j s_j / min_j s_j. */
  spread: number;
}

/**
 * Equalizes the consumers of one activation and folds s⁻¹ into its producer, in place.
 * @param previous   the module producing X: `LayerNorm`, `RMSNorm` (with a gain) or a `Linear` whose outputs are X
 *                   (through a per-channel-linear path such as attention's value mixing or SwiGLU's `up` branch)
 * @param consumers  the linears that read X (e.g. q, k, v), all with `in` = X's width
 * @param maxAbsX    max_t|X_tj|, [in] (`ActivationStats.maxAbs()`)
 * @param alpha      migration strength α in [0, 1]; 0.5 in SmoothQuant and the 8:16 paper
 * @example
 * equalize(block.ln_1, [block.attn.q_proj, block.attn.k_proj, block.attn.v_proj], stats.maxAbs(), 0.5);
 */
export function equalize(previous: LayerNorm | RMSNorm | Linear, consumers: readonly Linear[], maxAbsX: ArrayLike<number>, alpha = 0.5): EqualizeReport {
  if (!(alpha >= 0 && alpha <= 1)) throw new SiftError('E_CONFIG', `equalize: alpha must be in [0, 1], got ${alpha}.`);
  if (consumers.length === 0) throw new SiftError('E_CONFIG', 'equalize: give at least one consumer linear.');
  const d = maxAbsX.length;
  for (const c of consumers) {
    if (c.inFeatures !== d) throw new SiftError('E_SHAPE', `equalize: a consumer has in_features ${c.inFeatures}, the activation statistics have ${d} channels.`);
  }
  const width = previous instanceof Linear ? previous.outFeatures : previous.dim;
  if (width !== d) throw new SiftError('E_SHAPE', `equalize: the previous module produces ${width} channels, the consumers read ${d}; fold into the module that produces exactly this activation.`);
  if (!(previous instanceof Linear) && previous.weight === null) {
    throw new SiftError('E_CONFIG', 'equalize: the previous norm has no gain (elementwiseAffine: false) to fold s⁻¹ into.');
  }
  // max_i |W_ij| over all consumers.
  const wmax = new Float64Array(d);
  for (const c of consumers) {
    const m = tf.tidy(() => tf.max(tf.abs(c.weight), 0));
    const v = m.dataSync();
    m.dispose();
    for (let j = 0; j < d; j++) wmax[j] = Math.max(wmax[j], v[j]);
  }
  const scales = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const x = maxAbsX[j];
    const s = x > 0 && wmax[j] > 0 ? x ** alpha / wmax[j] ** (1 - alpha) : 1;
    scales[j] = Number.isFinite(s) && s > 0 ? s : 1;
  }
  const s32 = Float32Array.from(scales);
  const inv32 = Float32Array.from(scales, (v) => 1 / v);
  tf.tidy(() => {
    const sRow = tf.tensor2d(s32, [1, d]);
    for (const c of consumers) c.weight.assign(tf.mul(c.weight, sRow));
    const inv = tf.tensor1d(inv32);
    if (previous instanceof Linear) {
      previous.weight.assign(tf.mul(previous.weight, tf.reshape(inv, [d, 1])));
      const b = previous.bias;
      if (b !== null) b.assign(tf.mul(b, inv));
    } else {
      previous.weight!.assign(tf.mul(previous.weight!, inv));
      if (previous instanceof LayerNorm && previous.bias !== null) previous.bias.assign(tf.mul(previous.bias, inv));
    }
  });
  let lo = Infinity;
  let hi = 0;
  for (const s of scales) {
    lo = Math.min(lo, s);
    hi = Math.max(hi, s);
  }
  return { scales, foldedInto: previous instanceof Linear ? 'linear' : previous instanceof LayerNorm ? 'layernorm' : 'rmsnorm', spread: hi / lo };
}
