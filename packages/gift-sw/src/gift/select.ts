/**
 * Salient-column choice: GIFT-SW's generalized metric s_j = ‖D_j‖_τ · ‖X_j‖_ρ^γ (arXiv:2408.15300, Eq. 4; scores from
 * `@sift/salience`) with D = W − Q_b(W) on the per-row grid searched over the whole row (the brief's reading of §6.1),
 * then the top-k columns; and calibration statistics of every target linear's input via forward hooks.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ActivationStats, SiftError, findLinears, type Linear, type Module, type NameFilter, type Rng,
} from '@sift/tensor-core';
import {
  generalizedScore, parseMetricOptions, topColumns, type GeneralizedMetricOptions, type MetricPresetName, type StatsLike,
} from '@sift/salience';
import { fakeQuantize, rowScales, type QuantBits } from '../quant/grid.js';

/** Options of `selectSalientColumns`. */
export interface SalientSelectOptions {
  /** Columns to keep, 0 <= k < in. */
  k: number;
  /** Bits of Q in the perturbation D = W − Q_b(W). */
  bits: QuantBits;
  /** A metric preset (`'gift-sw'`, `'quik'`, `'owq'`, `'wanda'`) or the metric's exponents and norms. */
  metric: MetricPresetName | Partial<GeneralizedMetricOptions>;
  /** MSE clip search for the grid of Q (else α = max|w|). */
  clipSearch: boolean;
}

/** Defaults of `SalientSelectOptions`: GIFT-SW's metric ‖D_j‖_∞ · ‖X_j‖_∞ at 4 bits, k = 8. */
export const SALIENT_SELECT_DEFAULTS: Readonly<SalientSelectOptions> = Object.freeze({ k: 8, bits: 4, metric: 'gift-sw', clipSearch: true });

/** What `selectSalientColumns` returns. */
export interface SalientSelection {
  /** The k chosen input columns, ascending. */
  columns: Int32Array;
  /** s_j for every input column [in]. */
  scores: Float64Array;
}

/**
 * Scores every input column of W [out, in] by the generalized metric and returns the top k.
 * Wanda's preset takes D = W (pruning as the perturbation, §3.1); the others D = W − Q_b(W).
 * @example
 * const { columns } = selectSalientColumns(layer.weight, stats, { k: 8, metric: 'gift-sw', bits: 4 });
 */
export function selectSalientColumns(weight: tf.Tensor2D, stats: StatsLike, options: Partial<SalientSelectOptions> = {}): SalientSelection {
  const o: SalientSelectOptions = { ...SALIENT_SELECT_DEFAULTS, ...options };
  const metric = parseMetricOptions(o.metric);
  const [rows, cols] = weight.shape;
  if (!(Number.isInteger(o.k) && o.k >= 0 && o.k < cols)) {
    throw new SiftError('E_CONFIG', `selectSalientColumns: k must be an integer in [0, ${cols}) (in_features ${cols}), got ${o.k}.`);
  }
  let d: tf.Tensor2D | null = null;
  if (metric.dPower !== 0) {
    if (o.metric === 'wanda') d = tf.clone(weight);
    else {
      const w = weight.dataSync();
      const q = fakeQuantize(w, rows, cols, rowScales(w, rows, cols, null, { bits: o.bits, clipSearch: o.clipSearch }), o.bits);
      d = tf.tidy(() => tf.sub(weight, tf.tensor2d(q, [rows, cols])));
    }
  }
  try {
    const scores = generalizedScore(d, stats, metric);
    return { columns: topColumns(scores, o.k), scores };
  } finally {
    d?.dispose();
  }
}

/** k distinct random columns of [0, cols), ascending (the random-column control). */
export function randomColumns(cols: number, k: number, rng: Rng): Int32Array {
  return Int32Array.from(rng.sample(cols, k)).sort();
}

/**
 * Hooks an `ActivationStats` on the input of every target linear, runs `calibrate` (your forward passes over the
 * calibration data), and returns the statistics by linear name (dispose each when done). `gram: true` also collects
 * the Hessian GPTQ needs.
 * @example
 * const stats = await collectLinearStats(model, { include: ['**.mlp.*'] }, () => { for (const b of calib) tf.tidy(() => model.forward(b)); });
 */
export async function collectLinearStats(model: Module, targets: NameFilter, calibrate: () => void | Promise<void>,
  options: { gram?: boolean } = {}): Promise<Map<string, ActivationStats>> {
  const linears: [string, Linear][] = findLinears(model, targets);
  if (linears.length === 0) {
    throw new SiftError('E_CONFIG', `collectLinearStats: no Linear matches the targets ${JSON.stringify(targets)}; the model's linears are ` +
      `${findLinears(model).slice(0, 12).map(([n]) => n).join(', ')}.`);
  }
  const stats = new Map<string, ActivationStats>();
  const removers: (() => void)[] = [];
  for (const [name, lin] of linears) {
    const s = new ActivationStats({ name: `${name} input`, gram: options.gram ?? false, moments: false });
    stats.set(name, s);
    removers.push(lin.registerForwardHook((_m, [x]) => {
      s.update(x);
    }));
  }
  try {
    await calibrate();
  } finally {
    for (const r of removers) r();
  }
  for (const [name, s] of stats) {
    if (s.count === 0) {
      throw new SiftError('E_EMPTY', `collectLinearStats: "${name}" saw no input while calibrating; make sure calibrate() runs the model's forward.`);
    }
  }
  return stats;
}
