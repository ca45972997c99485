/**
 * Quantizing a model's target linears in place (the "mixed-precision" setting of GIFT-SW §4.2): k salient columns
 * per linear stay in full precision (chosen by the generalized metric, or given), the rest go to b bits by RTN or
 * GPTQ (QUIK layout). Each linear's weight is replaced by its dequantized value (fake quantization, what training and
 * evaluation use); the packed form is returned for `saveQuantized`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, type ActivationStats, type Module } from '@sift/tensor-core';
import type { GeneralizedMetricOptions, MetricPresetName, StatsLike } from '@sift/salience';
import { selectSalientColumns } from '../gift/select.js';
import { TARGET_DEFAULTS, targetLinears, type TargetOptions } from '../targets.js';
import { QUANT_BITS } from './grid.js';
import { QUANTIZE_DEFAULTS, dequantizeArray, layerError, quantizeGptq, quantizeRtn, type QuantizeOptions, type QuantizedWeight } from './quantize.js';

/** Options of `quantizeModel`. */
export interface QuantizeModelOptions extends QuantizeOptions, TargetOptions {
  /** `'rtn'` (round to nearest) or `'gptq'` (needs Hessians: statistics collected with `gram: true`). */
  method: 'rtn' | 'gptq';
  /** Salient columns kept in full precision per linear (0: none). */
  k: number;
  /** The metric that picks them (preset or exponents/norms); D = W − Q_b(W) at the same bits. */
  metric: MetricPresetName | Partial<GeneralizedMetricOptions>;
}

/** Defaults of `QuantizeModelOptions`: 4-bit GPTQ (block 128, damp 0.01, MSE clip search), k = 8 by GIFT-SW's metric. */
export const QUANTIZE_MODEL_DEFAULTS: Readonly<QuantizeModelOptions> = Object.freeze({
  ...QUANTIZE_DEFAULTS, ...TARGET_DEFAULTS, method: 'gptq', k: 8, metric: 'gift-sw',
});

/** One layer of a `QuantizeModelReport`. */
export interface QuantizeLayerReport {
  name: string;
  salient: number[];
  /** tr((W − Ŵ) H (W − Ŵ)ᵀ) on the calibration Hessian (NaN without a Hessian). */
  error: number;
  /** Input columns that were dead in calibration (GPTQ only). */
  dead: number[];
  ms: number;
}

/** What `quantizeModel` did; `layers` holds the packed weights for `saveQuantized`. */
export interface QuantizeModelReport {
  options: QuantizeModelOptions;
  report: QuantizeLayerReport[];
  layers: Record<string, QuantizedWeight>;
}

/** Progress of `quantizeModel`. */
export interface QuantizeProgress {
  stage: 'quantize';
  layer: string;
  index: number;
  of: number;
}

/** Inputs of `quantizeModel` that are not options. */
export interface QuantizeModelInputs {
  /** Calibration statistics by linear name (`collectLinearStats`, with `gram: true` for GPTQ). */
  stats?: ReadonlyMap<string, StatsLike | ActivationStats>;
  /** Salient columns by linear name (e.g. a GIFT-SW report's), overriding the metric. */
  salient?: Readonly<Record<string, ArrayLike<number>>>;
  /** Progress callback, once per layer. */
  onProgress?: (p: QuantizeProgress) => void;
}

function hessianOf(s: StatsLike | ActivationStats | undefined): Float64Array | null {
  if (s === undefined || !('hessian' in s) || !s.options.gram) return null;
  return s.hessian();
}

/**
 * Quantizes every target linear in place (weights become their dequantized values) and returns the packed layers.
 * Statistics are collected once on the unquantized model (not block by block as GPTQ's sequential mode does).
 * @example
 * const stats = await collectLinearStats(model, { include: ['**'] }, calibrate, { gram: true });
 * const { layers, report } = quantizeModel(model, { bits: 3, method: 'gptq', k: 8 }, { stats });
 * await saveQuantized('out/model.q3.safetensors', layers);
 */
export function quantizeModel(model: Module, options: Partial<QuantizeModelOptions> = {}, inputs: QuantizeModelInputs = {}): QuantizeModelReport {
  const o: QuantizeModelOptions = { ...QUANTIZE_MODEL_DEFAULTS, ...options };
  if (!QUANT_BITS.includes(o.bits)) throw new SiftError('E_CONFIG', `quantizeModel: bits must be one of ${QUANT_BITS.join(', ')}, got ${o.bits}.`);
  const method: string = o.method; // options may come from JSON
  if (method !== 'rtn' && method !== 'gptq') throw new SiftError('E_CONFIG', `quantizeModel: method must be 'rtn' or 'gptq', got ${JSON.stringify(o.method)}.`);
  if (!(Number.isInteger(o.k) && o.k >= 0)) throw new SiftError('E_CONFIG', `quantizeModel: k must be an integer >= 0, got ${o.k}.`);
  const linears = targetLinears(model, o, 'quantizeModel');
  const layers: Record<string, QuantizedWeight> = {};
  const report: QuantizeLayerReport[] = [];
  linears.forEach(([name, lin], index) => {
    inputs.onProgress?.({ stage: 'quantize', layer: name, index, of: linears.length });
    const t0 = performance.now();
    const stats = inputs.stats?.get(name);
    const w = lin.weight as unknown as tf.Tensor2D;
    let salient: ArrayLike<number> = [];
    const given = inputs.salient?.[name];
    if (given !== undefined) salient = given;
    else if (o.k > 0) {
      if (stats === undefined) {
        throw new SiftError('E_CONFIG', `quantizeModel: k = ${o.k} salient columns need calibration statistics for "${name}" ` +
          '(collectLinearStats), or pass salient columns, or k: 0.');
      }
      salient = selectSalientColumns(w, stats, { k: o.k, bits: o.bits, metric: o.metric, clipSearch: o.clipSearch }).columns;
    }
    const h = hessianOf(stats);
    let q: QuantizedWeight;
    let dead: number[] = [];
    if (o.method === 'gptq') {
      if (h === null) {
        throw new SiftError('E_CONFIG', `quantizeModel: GPTQ needs the Hessian of "${name}"; collect statistics with ` +
          'collectLinearStats(model, targets, calibrate, { gram: true }), or use method: \'rtn\'.');
      }
      const r = quantizeGptq(w, h, salient, o);
      q = r.quantized;
      dead = Array.from(r.dead);
    } else {
      q = quantizeRtn(w, salient, o);
    }
    const original = w.dataSync();
    const deq = dequantizeArray(q);
    const error = h === null ? NaN : layerError(original, deq, h, q.rows, q.cols);
    tf.tidy(() => {
      lin.weight.assign(tf.tensor2d(deq, [q.rows, q.cols]));
    });
    layers[name] = q;
    report.push({ name, salient: Array.from(q.salient), error, dead, ms: performance.now() - t0 });
  });
  return { options: o, report, layers };
}
