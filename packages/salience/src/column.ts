/**
 * Column scores: one number per input column j of a weight W [out, in] (an input feature), larger means more salient.
 * GIFT-SW (Zhelnin et al. 2024, arXiv:2408.15300, Eq. 4) writes the prior metrics as one family,
 *
 *     s_j = ‖D_j‖_τ^δ · ‖X_j‖_ρ^γ,
 *
 * with D a perturbation matrix [out, in] (GIFT-SW: the quantization error W − Q(W); pruning: W itself) and X_j input
 * channel j over the calibration tokens. δ (`dPower`) is this library's name for the exponent on the D term: δ = 0
 * drops D (QUIK), δ = 2 gives OWQ's squared quantities.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ActivationStats, SiftError } from '@sift/tensor-core';
import { checkWeight } from './element.js';
import { checkColumns, columnNorm, type NormOrder, type StatsLike } from './stats.js';

/** The four exponents and norms of GIFT-SW's generalized metric s_j = ‖D_j‖_τ^δ · ‖X_j‖_ρ^γ. */
export interface GeneralizedMetricOptions {
  /** τ: the norm of the perturbation column D_j over the output dimension. */
  tau: NormOrder;
  /** δ >= 0: the exponent on ‖D_j‖_τ; 0 drops the D term (then `perturbation` may be null). */
  dPower: number;
  /** ρ: the norm of input channel X_j over the calibration tokens. */
  rho: NormOrder;
  /** γ >= 0: the exponent on ‖X_j‖_ρ (GIFT-SW uses γ ∈ {1/2, 1, 2}). */
  gamma: number;
}

/** Named points of the generalized metric (GIFT-SW §3.1, Table 5). */
export type MetricPresetName = 'gift-sw' | 'quik' | 'owq' | 'wanda';

/**
 * The named special cases:
 * - `'gift-sw'`: ‖D_j‖_∞ · ‖X_j‖_∞, the metric GIFT-SW uses (§6.1);
 * - `'quik'`: ‖X_j‖_∞, the max |activation| per channel (QUIK, SmoothQuant), D dropped;
 * - `'owq'`: ‖D_j‖₂² · ‖X_j‖₂², OWQ's λ_j‖ΔW_j‖₂² up to the constant 2/n of λ_j = H_jj (see `owqScore`);
 * - `'wanda'`: ‖D_j‖₁ · ‖X_j‖₂ with D = W, the sum over the column of Wanda's element scores |W_ij|·‖X_j‖₂.
 */
export const METRIC_PRESETS: Readonly<Record<MetricPresetName, Readonly<GeneralizedMetricOptions>>> = Object.freeze({
  'gift-sw': Object.freeze({ tau: 'inf', dPower: 1, rho: 'inf', gamma: 1 }),
  quik: Object.freeze({ tau: 'inf', dPower: 0, rho: 'inf', gamma: 1 }),
  owq: Object.freeze({ tau: 2, dPower: 2, rho: 2, gamma: 2 }),
  wanda: Object.freeze({ tau: 1, dPower: 1, rho: 2, gamma: 1 }),
});

/** Defaults of `GeneralizedMetricOptions`: GIFT-SW's own choice τ = ρ = ∞, δ = γ = 1. */
export const GENERALIZED_METRIC_DEFAULTS: Readonly<GeneralizedMetricOptions> = METRIC_PRESETS['gift-sw'];

const NORMS: readonly NormOrder[] = [1, 2, 'inf'];

/** Merges a preset name or partial options over the defaults and validates every field (E_CONFIG naming it). */
export function parseMetricOptions(input: MetricPresetName | Partial<GeneralizedMetricOptions> = {}): GeneralizedMetricOptions {
  if (typeof input === 'string') {
    const preset = (METRIC_PRESETS as Record<string, GeneralizedMetricOptions | undefined>)[input];
    if (preset === undefined) {
      throw new SiftError('E_CONFIG', `generalizedScore: unknown preset ${JSON.stringify(input)}; choose one of ${Object.keys(METRIC_PRESETS).map((k) => `'${k}'`).join(', ')}.`);
    }
    return { ...preset };
  }
  const o: GeneralizedMetricOptions = { ...GENERALIZED_METRIC_DEFAULTS, ...input };
  for (const k of ['tau', 'rho'] as const) {
    if (!NORMS.includes(o[k])) throw new SiftError('E_CONFIG', `generalizedScore: ${k} must be 1, 2 or 'inf', got ${JSON.stringify(o[k])}.`);
  }
  for (const k of ['dPower', 'gamma'] as const) {
    if (!(typeof o[k] === 'number' && Number.isFinite(o[k]) && o[k] >= 0)) {
      throw new SiftError('E_CONFIG', `generalizedScore: ${k} must be a finite number >= 0, got ${JSON.stringify(o[k])}.`);
    }
  }
  return o;
}

/**
 * ‖D_j‖_τ for every column j of D [out, in], [in] (reduced on the device, read back in float64).
 * @param perturbation [out, in]
 */
export function perturbationNorm(perturbation: tf.Tensor2D, tau: NormOrder): Float64Array {
  checkWeight(perturbation, 'perturbationNorm');
  const t = tf.tidy(() => {
    if (tau === 1) return tf.sum(tf.abs(perturbation), 0);
    if (tau === 2) return tf.sqrt(tf.sum(tf.square(perturbation), 0));
    return tf.max(tf.abs(perturbation), 0);
  });
  try {
    return Float64Array.from(t.dataSync());
  } finally {
    t.dispose();
  }
}

function pow(x: number, p: number): number {
  return p === 1 ? x : p === 0 ? 1 : x ** p;
}

/**
 * GIFT-SW's generalized sensitivity s_j = ‖D_j‖_τ^δ · ‖X_j‖_ρ^γ (arXiv:2408.15300, Eq. 4) for every input column.
 *
 * @param perturbation  D [out, in]: the quantization error W − Q(W) (GIFT-SW), W itself (pruning), or null when
 *                      δ = 0 (QUIK).
 * @param stats         the layer input's `ActivationStats` or `ColumnNorms`.
 * @param options       a preset name (`'gift-sw'`, `'quik'`, `'owq'`, `'wanda'`) or options; default `'gift-sw'`.
 * @returns             [in] scores, float64; rank them with `topColumns`.
 * @throws SiftError 'E_CONFIG' (bad options, a missing statistic, D missing while δ > 0), 'E_SHAPE'.
 * @example
 * const err = tf.sub(w, quantized);                      // D = W − Q(W), [out, in]
 * const s = generalizedScore(err, stats);                // ‖D_j‖_∞ · ‖X_j‖_∞
 * const salient = topColumns(s, 128);
 */
export function generalizedScore(
  perturbation: tf.Tensor2D | null,
  stats: StatsLike,
  options: MetricPresetName | Partial<GeneralizedMetricOptions> = {},
): Float64Array {
  const o = parseMetricOptions(options);
  const xNorm = o.gamma === 0 ? null : columnNorm(stats, o.rho, 'generalizedScore');
  let dNorm: Float64Array | null = null;
  if (o.dPower !== 0) {
    if (perturbation === null) {
      throw new SiftError('E_CONFIG', `generalizedScore: dPower is ${o.dPower}, so the perturbation D [out, in] is needed ` +
        '(e.g. W − Q(W)); pass it, or use dPower 0 (the \'quik\' preset) for an activation-only score.');
    }
    dNorm = perturbationNorm(perturbation, o.tau);
  }
  const n = dNorm?.length ?? xNorm?.length ?? perturbation?.shape[1];
  if (n === undefined) {
    throw new SiftError('E_CONFIG', 'generalizedScore: with dPower 0 and gamma 0 the score is constant and has no size; give D or a gamma > 0.');
  }
  if (xNorm !== null) checkColumns(xNorm.length, n, `the activation norm ‖X_j‖_${o.rho === 'inf' ? '∞' : o.rho}`, 'generalizedScore');
  if (perturbation !== null) checkColumns(perturbation.shape[1], n, 'the perturbation D', 'generalizedScore');
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    out[j] = (dNorm === null ? 1 : pow(dNorm[j], o.dPower)) * (xNorm === null ? 1 : pow(xNorm[j], o.gamma));
  }
  return out;
}

/**
 * OWQ's column sensitivity λ_j · ‖ΔW_j‖₂² with λ_j = H_jj = (2/n) Σ_t x_tj² (Lee et al. 2024, "OWQ", §3.2): the
 * OBD-style loss increase when column j is perturbed by ΔW_j. Equals `generalizedScore(D, stats, 'owq')` times 2/n.
 * @param perturbation ΔW = D [out, in], e.g. W − Q(W)
 * @param hessianDiag  `ActivationStats` (its `hessianDiag()`) or diag(H) [in] directly
 * @returns            [in], float64
 */
export function owqScore(perturbation: tf.Tensor2D, hessianDiag: ActivationStats | ArrayLike<number>): Float64Array {
  checkWeight(perturbation, 'owqScore');
  const h = hessianDiag instanceof ActivationStats ? hessianDiag.hessianDiag() : Float64Array.from(hessianDiag);
  checkColumns(h.length, perturbation.shape[1], 'diag(H)', 'owqScore');
  const d = perturbationNorm(perturbation, 2);
  return d.map((v, j) => h[j] * v * v);
}

/**
 * SpQR/OBS-style column sensitivity Σ_i D_ij² / U_jj², with U the upper Cholesky factor of H⁻¹ (the diagonal that
 * `sparsegptScore` divides by): the summed OBS error of perturbing every weight of column j by D_ij (Dettmers et al.
 * 2023, "SpQR", §4.1, per-weight (w − q(w))² / [H⁻¹]_jj, summed over the column).
 * @param perturbation D [out, in]
 * @param hinvDiag     U_jj, [in], positive
 * @returns            [in], float64
 */
export function spqrColumnScore(perturbation: tf.Tensor2D, hinvDiag: ArrayLike<number>): Float64Array {
  checkWeight(perturbation, 'spqrColumnScore');
  checkColumns(hinvDiag.length, perturbation.shape[1], 'hinvDiag', 'spqrColumnScore');
  const sq = perturbationNorm(perturbation, 2);
  return sq.map((v, j) => {
    const u = hinvDiag[j];
    if (!(Number.isFinite(u) && u > 0)) {
      throw new SiftError('E_NAN', `spqrColumnScore: hinvDiag[${j}] is ${u}; it must be finite and > 0 (damp the Hessian).`);
    }
    return (v * v) / (u * u);
  });
}
