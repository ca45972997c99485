/**
 * The calibration statistics a score reads: tensor-core's `ActivationStats` (a calibration hook's accumulator), or a
 * plain structure of per-input-channel norms for callers that computed them elsewhere (a JSON file, another tool).
 */
import { ActivationStats, SiftError } from '@sift/tensor-core';

/**
 * Per-input-channel norms of the calibration activations X [tokens, in], as plain arrays of length `in`. Give the
 * ones the score needs: Wanda and ρ = 2 read `l2`, ρ = ∞ reads `maxAbs`, ρ = 1 reads `l1`.
 * @example
 * const stats: ColumnNorms = { l2: [3.1, 0.4, 12.0], maxAbs: [1.2, 0.1, 6.5] };
 */
export interface ColumnNorms {
  /** ‖X_j‖₂ = √(Σ_t x_tj²), [in]. */
  l2?: ArrayLike<number>;
  /** ‖X_j‖_∞ = max_t |x_tj|, [in]. */
  maxAbs?: ArrayLike<number>;
  /** ‖X_j‖₁ = Σ_t |x_tj|, [in]. */
  l1?: ArrayLike<number>;
}

/** What every score accepts as calibration statistics. */
export type StatsLike = ActivationStats | ColumnNorms;

/** A vector norm order: 1, 2 or `'inf'` (max |·|). */
export type NormOrder = 1 | 2 | 'inf';

const KEY: Record<string, keyof ColumnNorms> = { '1': 'l1', '2': 'l2', inf: 'maxAbs' };

/**
 * ‖X_j‖_ρ for every input channel j, [in], from either kind of statistics.
 * @param stats   `ActivationStats` (ρ = 2 from `sqNorm`, ρ = ∞ from `maxAbs`; ρ = 1 is not collected there) or
 *                `ColumnNorms`.
 * @param rho     the norm order.
 * @param where   a label for error messages.
 * @throws SiftError 'E_CONFIG' when the statistic is not available, 'E_NAN' for a negative or non-finite norm.
 */
export function columnNorm(stats: StatsLike, rho: NormOrder, where = 'columnNorm'): Float64Array {
  let out: Float64Array;
  if (stats instanceof ActivationStats) {
    if (rho === 2) out = stats.l2Norm();
    else if (rho === 'inf') out = stats.maxAbs();
    else {
      throw new SiftError('E_CONFIG', `${where}: ActivationStats has no ‖X_j‖₁ (it collects sqNorm and maxAbs); pass ` +
        'ColumnNorms { l1 } computed elsewhere, or use rho 2 or \'inf\'.');
    }
  } else {
    const key = KEY[String(rho)] as keyof ColumnNorms | undefined;
    if (key === undefined) throw new SiftError('E_CONFIG', `${where}: rho must be 1, 2 or 'inf', got ${JSON.stringify(rho)}.`);
    const v = stats[key];
    if (v === undefined) {
      throw new SiftError('E_CONFIG', `${where}: the statistics have no '${key}' (needed for the ℓ${rho === 'inf' ? '∞' : rho} ` +
        `norm of X_j); give ColumnNorms { ${key}: [...] } or an ActivationStats.`);
    }
    out = Float64Array.from(v);
  }
  for (let j = 0; j < out.length; j++) {
    if (!(Number.isFinite(out[j]) && out[j] >= 0)) {
      throw new SiftError('E_NAN', `${where}: the norm of input channel ${j} is ${out[j]}; norms must be finite and >= 0. ` +
        'Check the calibration activations for NaN/Inf.');
    }
  }
  return out;
}

/** Throws E_SHAPE unless a per-column vector has `inFeatures` entries. */
export function checkColumns(len: number, inFeatures: number, what: string, where: string): void {
  if (len !== inFeatures) {
    throw new SiftError('E_SHAPE', `${where}: ${what} has ${len} entries but the weight has ${inFeatures} input columns ` +
      '(weights are [out, in], PyTorch layout; statistics are per input channel). Collect the statistics on this layer\'s input.');
  }
}
