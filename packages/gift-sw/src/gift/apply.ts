/**
 * Applying GIFT-SW to a model: pick k salient columns in every target linear (same k everywhere, §5 of the brief),
 * swap each target for a `GiftLinear`, freeze everything else (embeddings, norms, head), and say what was done.
 * Plus the adapter checkpoint (only salient columns, their indices and Δ) and merging back to plain linears.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  Linear, Rng, SiftError, readSafetensorsFile, writeFileAtomic, writeSafetensorsFile, type Module, type SafeTensor,
} from '@sift/tensor-core';
import type { GeneralizedMetricOptions, MetricPresetName, StatsLike } from '@sift/salience';
import { QUANT_BITS, type QuantBits } from '../quant/grid.js';
import { TARGET_DEFAULTS, countParams, targetLinears, type TargetOptions } from '../targets.js';
import { GiftLinear, type NoiseType } from './gift-linear.js';
import { randomColumns, selectSalientColumns } from './select.js';

/** How the salient columns are chosen. */
export type ColumnChoice = 'metric' | 'random';

/** Options of `applyGiftSw`. */
export interface GiftOptions extends TargetOptions {
  /** Salient columns per target linear (the same k in every one). */
  k: number;
  /** `'metric'`: top-k by the generalized metric; `'random'`: k random columns (the control). */
  columns: ColumnChoice;
  /** The metric (preset name or exponents/norms). */
  metric: MetricPresetName | Partial<GeneralizedMetricOptions>;
  /** Bits of Q in the metric's D = W − Q_b(W). */
  metricBits: QuantBits;
  /** Noise on the frozen columns in training mode. */
  noise: boolean;
  /** Bits of the grid that sets the noise's Δ. */
  noiseBits: QuantBits;
  /** Noise distribution. */
  noiseType: NoiseType;
  /** Seed of the noise streams and of random columns (each layer forks its own stream by name). */
  seed: number;
}

/** Defaults of `GiftOptions` (the paper's recipe: ‖D‖∞‖X‖∞ at 4 bits, 4-bit Gaussian noise; k scaled to small models). */
export const GIFT_DEFAULTS: Readonly<GiftOptions> = Object.freeze({
  ...TARGET_DEFAULTS, k: 8, columns: 'metric', metric: 'gift-sw', metricBits: 4, noise: true, noiseBits: 4, noiseType: 'normal', seed: 0,
});

/** The recovery modes of GIFT-SW §6.3 plus the controls. */
export type GiftMode = 'gift-sw' | 'pre-gift-sw' | 'post-gift-sw' | 'salient-ft' | 'random-columns';

/**
 * The option changes of a mode. `targetBits` is the bit width the model will be (or was) quantized to.
 * - `'gift-sw'` / `'pre-gift-sw'`: metric columns, noise at `targetBits` (pre: train, then quantize);
 * - `'post-gift-sw'`: quantize first, then train with 4-bit noise (pass the quantizer's salient columns);
 * - `'salient-ft'`: metric columns, no noise;
 * - `'random-columns'`: random columns with noise (the control).
 * @example
 * applyGiftSw(model, { ...giftModeOptions('pre-gift-sw', 3), k: 8 }, { stats });
 */
export function giftModeOptions(mode: GiftMode, targetBits: QuantBits = 4): Partial<GiftOptions> {
  switch (mode) {
    case 'gift-sw':
    case 'pre-gift-sw':
      return { columns: 'metric', noise: true, noiseBits: targetBits, metricBits: targetBits };
    case 'post-gift-sw':
      return { columns: 'metric', noise: true, noiseBits: 4, metricBits: targetBits };
    case 'salient-ft':
      return { columns: 'metric', noise: false, metricBits: targetBits };
    case 'random-columns':
      return { columns: 'random', noise: true, noiseBits: targetBits };
    default:
      throw new SiftError('E_CONFIG', `giftModeOptions: unknown mode ${JSON.stringify(mode)}; choose gift-sw, pre-gift-sw, post-gift-sw, salient-ft or random-columns.`);
  }
}

/** Merges `input` over `GIFT_DEFAULTS` and validates it. */
export function parseGiftOptions(input: Partial<GiftOptions> = {}): GiftOptions {
  const o: GiftOptions = { ...GIFT_DEFAULTS, ...input };
  if (!(Number.isInteger(o.k) && o.k >= 1)) throw new SiftError('E_CONFIG', `applyGiftSw: k must be a positive integer, got ${o.k}.`);
  const columns: string = o.columns; // options may come from JSON
  if (columns !== 'metric' && columns !== 'random') throw new SiftError('E_CONFIG', `applyGiftSw: columns must be 'metric' or 'random', got ${JSON.stringify(o.columns)}.`);
  for (const key of ['metricBits', 'noiseBits'] as const) {
    if (!QUANT_BITS.includes(o[key])) throw new SiftError('E_CONFIG', `applyGiftSw: ${key} must be one of ${QUANT_BITS.join(', ')}, got ${o[key]}.`);
  }
  if (!Number.isInteger(o.seed)) throw new SiftError('E_CONFIG', `applyGiftSw: seed must be an integer, got ${o.seed}.`);
  return o;
}

/** Inputs of `applyGiftSw` that are not serializable options. */
export interface GiftInputs {
  /** Calibration statistics by linear name (from `collectLinearStats`); needed when columns come from the metric. */
  stats?: ReadonlyMap<string, StatsLike>;
  /** Salient columns by linear name, overriding the choice (e.g. the quantizer's columns for Post-GIFT-SW). */
  salient?: Readonly<Record<string, ArrayLike<number>>>;
}

/** One layer of a `GiftReport`. */
export interface GiftLayerReport {
  name: string;
  inFeatures: number;
  outFeatures: number;
  /** The salient input columns. */
  salient: number[];
  /** Mean Δ_i of the noise grid. */
  meanDelta: number;
}

/** What `applyGiftSw` did. */
export interface GiftReport {
  options: GiftOptions;
  layers: GiftLayerReport[];
  /** Trainable scalars after the swap (k · out summed over the targets). */
  trainableParams: number;
  /** All scalars of the model. */
  totalParams: number;
}

/**
 * Swaps every target linear for a `GiftLinear` with k salient columns and freezes the rest of the model. Build the
 * optimizer afterwards. Columns come from `inputs.salient`, else the metric on `inputs.stats`, else random.
 * @example
 * const stats = await collectLinearStats(model, { include: ['**'] }, calibrate);
 * const report = applyGiftSw(model, { k: 8 }, { stats });
 * // ... fineTune(model, ...), then
 * mergeAdapters(model);
 */
export function applyGiftSw(model: Module, options: Partial<GiftOptions> = {}, inputs: GiftInputs = {}): GiftReport {
  const o = parseGiftOptions(options);
  const linears = targetLinears(model, o, 'applyGiftSw');
  const root = new Rng(o.seed);
  const plans: [string, Linear, Int32Array][] = [];
  for (const [name, lin] of linears) {
    if (lin instanceof GiftLinear) throw new SiftError('E_CONFIG', `applyGiftSw: "${name}" is already a GiftLinear; merge first (mergeAdapters).`);
    if (o.k >= lin.inFeatures) throw new SiftError('E_CONFIG', `applyGiftSw: k = ${o.k} must be below in_features ${lin.inFeatures} of "${name}".`);
    let cols: Int32Array;
    const given = inputs.salient?.[name];
    if (given !== undefined) cols = Int32Array.from(given);
    else if (o.columns === 'random') cols = randomColumns(lin.inFeatures, o.k, root.fork(`columns:${name}`));
    else {
      const s = inputs.stats?.get(name);
      if (s === undefined) {
        throw new SiftError('E_CONFIG', `applyGiftSw: no calibration statistics for "${name}"; collect them with collectLinearStats(model, ` +
          '{ include: targets }, calibrate), pass salient columns, or use columns: \'random\'.');
      }
      cols = selectSalientColumns(lin.weight as tf.Variable<tf.Rank.R2>, s, { k: o.k, bits: o.metricBits, metric: o.metric }).columns;
    }
    plans.push([name, lin, cols]);
  }
  model.freeze();
  const layers: GiftLayerReport[] = [];
  for (const [name, lin, cols] of plans) {
    const g = GiftLinear.fromLinear(lin, {
      salient: cols, noise: o.noise, noiseBits: o.noiseBits, noiseType: o.noiseType, rng: root.fork(`noise:${name}`),
    });
    g.train(lin.training);
    model.replace(name, g).dispose();
    const delta = g.delta();
    layers.push({
      name, inFeatures: g.inFeatures, outFeatures: g.outFeatures, salient: Array.from(cols),
      meanDelta: delta.reduce((a, b) => a + b, 0) / Math.max(1, delta.length),
    });
  }
  const counts = countParams(model);
  return { options: o, layers, trainableParams: counts.trainable, totalParams: counts.total };
}

/** The sidecar path of an adapter file: `x.safetensors` -> `x.gift.json`. */
export function giftAdapterSidecarPath(path: string): string {
  return `${path.replace(/\.safetensors$/u, '')}.gift.json`;
}

/** The JSON sidecar of a GIFT-SW adapter. */
export interface GiftAdapterSidecar {
  format: 'sift.gift-sw.adapter';
  version: 1;
  layers: Record<string, { inFeatures: number; outFeatures: number; k: number; noiseBits: QuantBits; noiseType: NoiseType; noise: boolean }>;
  metadata: Record<string, unknown>;
}

/**
 * Saves the adapter: per `GiftLinear`, only `<name>.salient_weight` [out, k], `<name>.salient_idx` [k] and
 * `<name>.delta` [out] (not the frozen weights), plus a JSON sidecar; both atomically.
 * @returns the bytes of the safetensors file
 */
export async function saveGiftAdapter(path: string, model: Module, metadata: Record<string, unknown> = {}): Promise<{ path: string; sidecar: string; bytes: number }> {
  const tensors: Record<string, SafeTensor> = {};
  const layers: GiftAdapterSidecar['layers'] = {};
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof GiftLinear)) continue;
    tensors[`${name}.salient_weight`] = { dtype: 'F32', shape: [m.outFeatures, m.k], data: Float32Array.from(m.salientWeight.dataSync()) };
    tensors[`${name}.salient_idx`] = { dtype: 'I32', shape: [m.k], data: Int32Array.from(m.salient) };
    tensors[`${name}.delta`] = { dtype: 'F32', shape: [m.outFeatures], data: m.delta() };
    layers[name] = { inFeatures: m.inFeatures, outFeatures: m.outFeatures, k: m.k, noiseBits: m.noiseBits, noiseType: m.noiseType, noise: m.noise };
  }
  if (Object.keys(layers).length === 0) throw new SiftError('E_CONFIG', 'saveGiftAdapter: the model has no GiftLinear; apply GIFT-SW first (applyGiftSw).');
  const w = await writeSafetensorsFile(path, tensors, { format: 'sift.gift-sw.adapter' });
  const sidecar: GiftAdapterSidecar = { format: 'sift.gift-sw.adapter', version: 1, layers, metadata };
  const sc = giftAdapterSidecarPath(path);
  await writeFileAtomic(sc, `${JSON.stringify(sidecar, null, 2)}\n`);
  return { path, sidecar: sc, bytes: w.bytes };
}

/**
 * Loads an adapter into a model holding the base weights: each named linear becomes a `GiftLinear` with the stored
 * columns, Δ and trained salient weights. Returns the layer names.
 * @param options.seed the noise streams' seed (for further training); default 0
 */
export async function loadGiftAdapter(path: string, model: Module, options: { seed?: number } = {}): Promise<string[]> {
  const { readFile } = await import('node:fs/promises');
  const scPath = giftAdapterSidecarPath(path);
  let sidecar: GiftAdapterSidecar;
  try {
    sidecar = JSON.parse(await readFile(scPath, 'utf8')) as GiftAdapterSidecar;
  } catch (err) {
    throw new SiftError('E_IO', `loadGiftAdapter: cannot read "${scPath}" (${(err as Error).message}); saveGiftAdapter writes it next to the safetensors file.`, { cause: err });
  }
  if ((sidecar.format as string) !== 'sift.gift-sw.adapter') throw new SiftError('E_DATA', `loadGiftAdapter: "${scPath}" is not a GIFT-SW adapter sidecar.`);
  const file = await readSafetensorsFile(path, { copy: true });
  const root = new Rng(options.seed ?? 0);
  const names: string[] = [];
  for (const [name, meta] of Object.entries(sidecar.layers)) {
    const lin = model.getModule(name, Linear);
    if (lin.inFeatures !== meta.inFeatures || lin.outFeatures !== meta.outFeatures) {
      throw new SiftError('E_STATE_DICT', `loadGiftAdapter: "${name}" is [${lin.outFeatures}, ${lin.inFeatures}] in the model but ` +
        `[${meta.outFeatures}, ${meta.inFeatures}] in the adapter; load it into the base model it was trained from.`);
    }
    const idx = file.get(`${name}.salient_idx`);
    const delta = file.get(`${name}.delta`);
    const sw = file.get(`${name}.salient_weight`);
    if (idx.dtype !== 'I32' || delta.dtype !== 'F32' || sw.dtype !== 'F32') throw new SiftError('E_DATA', `loadGiftAdapter: "${name}" has tensors of unexpected dtypes.`);
    const g = GiftLinear.fromLinear(lin, {
      salient: idx.data, delta: delta.data, noise: meta.noise, noiseBits: meta.noiseBits, noiseType: meta.noiseType, rng: root.fork(`noise:${name}`),
    });
    tf.tidy(() => {
      g.salientWeight.assign(tf.tensor2d(sw.data, [meta.outFeatures, meta.k]));
    });
    g.train(lin.training);
    model.replace(name, g).dispose();
    names.push(name);
  }
  return names;
}
