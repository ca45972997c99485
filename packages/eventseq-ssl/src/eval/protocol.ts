/**
 * The evaluation protocol of MLEM (brief §3) on top of `@sift/eval`: frozen-embedding probes (GBDT and logistic) on
 * each label, the few-label regime, the next-event (TPP) probe, robustness to dropped events, and embedding geometry.
 */
import {
  anisotropy, evaluateProbeSplit, GBDT_DEFAULTS, twoNN, type GbdtOptions, type Matrix, type ProbeReport,
} from '@sift/eval';
import { Rng, SiftError } from '@sift/tensor-core';
import type { SequenceSlice } from '../data/batch.js';
import type { SequenceStore } from '../data/store.js';
import { embed, type EmbedResult } from '../nn/embed.js';
import type { SequenceEncoder } from '../nn/sequence-encoder.js';

/** Options of the probes. */
export interface ProbeOptions {
  /** Probe kinds to fit. Default both. */
  probes: ('logistic' | 'gbdt')[];
  /** Probe seeds (GBDT bagging). Default [0]. */
  seeds: number[];
  /** GBDT options (MLEM uses `MLEM_GBDT_PARAMS`: 1000 trees; the default here is 100 trees, depth 4, for speed). */
  gbdt: Partial<Omit<GbdtOptions, 'objective' | 'seed' | 'onProgress'>>;
  /** Embedding batch size and sequence truncation. */
  batchSize: number;
  maxLen: number;
}

/** Defaults of `ProbeOptions`. */
export const PROBE_DEFAULTS: Readonly<ProbeOptions> = {
  probes: ['logistic', 'gbdt'], seeds: [0], gbdt: { nEstimators: 100, numLeaves: 15, maxDepth: 4, learningRate: 0.1, minDataInLeaf: 10, featureFraction: 0.75 }, batchSize: 128, maxLen: 1000,
};

function rowsOf(x: EmbedResult | Matrix, idx: readonly number[]): Matrix {
  const out = new Float32Array(idx.length * x.cols);
  idx.forEach((r, i) => { out.set(x.data.subarray(r * x.cols, (r + 1) * x.cols), i * x.cols); });
  return { rows: idx.length, cols: x.cols, data: out };
}

function labelsOf(store: SequenceStore, label: string, idx: readonly number[]): Float64Array {
  const y = store.label(label);
  const out = Float64Array.from(idx, (i) => y[i]);
  for (const v of out) {
    if (!Number.isInteger(v) || v < 0) throw new SiftError('E_DATA', `probe: label "${label}" has a non-class value ${v}; probes here classify class indices.`);
  }
  return out;
}

/**
 * Fits each probe on the training rows of an embedding matrix and scores the test rows, for one label.
 * @param x embeddings of every store entity (row i = entity i), e.g. from `embed`
 * @example
 * const reports = probeLabel(emb, store, 'composition', trainIds, testIds);
 */
export function probeLabel(x: EmbedResult | Matrix, store: SequenceStore, label: string, train: readonly number[], test: readonly number[],
  options: Partial<ProbeOptions> = {}): ProbeReport[] {
  const o = { ...PROBE_DEFAULTS, ...options, gbdt: { ...PROBE_DEFAULTS.gbdt, ...options.gbdt } };
  if (x.rows !== store.numEntities) throw new SiftError('E_SHAPE', `probeLabel: ${x.rows} embeddings for ${store.numEntities} entities; embed the whole store.`);
  const tr = { x: rowsOf(x, train), y: labelsOf(store, label, train) };
  const te = { x: rowsOf(x, test), y: labelsOf(store, label, test) };
  return o.probes.map((kind) => evaluateProbeSplit({
    train: tr, test: te, task: 'classification', label: `${label}/${kind}`, seeds: kind === 'logistic' ? [0] : o.seeds,
    probe: kind === 'logistic' ? { kind: 'logistic' } : { kind: 'gbdt', options: { ...GBDT_DEFAULTS, ...o.gbdt } },
  }));
}

/**
 * The few-label regime: `n` training entities drawn at random (seeded), stratification-free, as MLEM's
 * `FT_number_objects`. Returns store indices.
 */
export function fewLabelSubset(train: readonly number[], n: number, seed: number): number[] {
  if (!Number.isInteger(n) || n < 2) throw new SiftError('E_CONFIG', `fewLabelSubset: n must be an integer >= 2, got ${n}.`);
  const perm = new Rng(seed).fork('few-labels').permutation(train.length);
  return Array.from(perm.subarray(0, Math.min(n, train.length)), (i) => train[i]);
}

/** What `nextEventProbe` returns. */
export interface NextEventReport {
  /** GBDT accuracy (and other classification metrics) of the type of the cut event from the prefix embedding. */
  type: ProbeReport;
  /** GBDT MSE of the normalised time of the cut event (absolute, as MLEM `tpp_eval`). */
  time: ProbeReport;
}

/**
 * The local ("TPP") task: cut each sequence's last event, embed the prefix, and probe (GBDT) the cut event's code of
 * `field` (accuracy) and its normalised time (MSE). Entities with fewer than 2 events are left out.
 * @example
 * const r = await nextEventProbe(encoder, store, 'mcc', trainIds, testIds);
 * r.type.metrics.accuracy.mean;
 */
export async function nextEventProbe(encoder: SequenceEncoder, store: SequenceStore, field: string, train: readonly number[], test: readonly number[],
  options: Partial<ProbeOptions> = {}): Promise<NextEventReport> {
  const o = { ...PROBE_DEFAULTS, ...options, gbdt: { ...PROBE_DEFAULTS.gbdt, ...options.gbdt } };
  const codes = store.codes[field] as Int32Array | undefined;
  if (codes === undefined) throw new SiftError('E_CONFIG', `nextEventProbe: no categorical field "${field}"; fields: ${Object.keys(store.codes).join(', ')}.`);
  const tRange = store.encoder.time.max - store.encoder.time.min || 1;
  const part = async (ids: readonly number[]): Promise<{ x: Matrix; type: Float64Array; time: Float64Array }> => {
    const keep = ids.filter((i) => store.length(i) >= 2);
    const slices: SequenceSlice[] = keep.map((entity) => ({ entity, start: 0, length: store.length(entity) - 1 }));
    const x = await embed(encoder, store, { slices, batchSize: o.batchSize, maxLen: o.maxLen });
    const last = keep.map((i) => store.end(i) - 1);
    return {
      x, type: Float64Array.from(last, (e) => codes[e]),
      time: Float64Array.from(last, (e) => (store.times[e] - store.encoder.time.min) / tRange),
    };
  };
  const a = await part(train);
  const b = await part(test);
  // Class indices must be 0..K-1: remap codes seen in training; unseen test codes get an extra class.
  const classes = new Map<number, number>();
  for (const c of a.type) if (!classes.has(c)) classes.set(c, classes.size);
  const remap = (y: Float64Array): Float64Array => Float64Array.from(y, (c) => classes.get(c) ?? classes.size);
  const gbdt = { kind: 'gbdt' as const, options: { ...GBDT_DEFAULTS, ...o.gbdt } };
  return {
    type: evaluateProbeSplit({ train: { x: a.x, y: remap(a.type) }, test: { x: b.x, y: remap(b.type) }, task: 'classification', probe: gbdt, seeds: o.seeds, label: 'next type' }),
    time: evaluateProbeSplit({ train: { x: a.x, y: a.time }, test: { x: b.x, y: b.time }, task: 'regression', probe: gbdt, seeds: o.seeds, label: 'next time' }),
  };
}

/** One row of `robustnessProbe`. */
export interface RobustnessPoint {
  /** Fraction of events dropped. */
  drop: number;
  reports: ProbeReport[];
}

/**
 * Robustness: re-embed every sequence with a fraction of its events dropped at random (both train and test, seeded)
 * and probe the label again, for each rate (MLEM: 10/30/50/70%).
 * @example
 * const points = await robustnessProbe(encoder, store, 'composition', trainIds, testIds, [0.1, 0.3, 0.5, 0.7]);
 */
export async function robustnessProbe(encoder: SequenceEncoder, store: SequenceStore, label: string, train: readonly number[], test: readonly number[],
  rates: readonly number[] = [0.1, 0.3, 0.5, 0.7], options: Partial<ProbeOptions> & { seed?: number } = {}): Promise<RobustnessPoint[]> {
  const out: RobustnessPoint[] = [];
  for (const drop of rates) {
    if (!(drop >= 0 && drop < 1)) throw new SiftError('E_CONFIG', `robustnessProbe: drop rates must be in [0, 1), got ${drop}.`);
    const x = await embed(encoder, store, { dropout: drop, seed: options.seed ?? 0, batchSize: options.batchSize ?? PROBE_DEFAULTS.batchSize, maxLen: options.maxLen ?? PROBE_DEFAULTS.maxLen });
    out.push({ drop, reports: probeLabel(x, store, label, train, test, options) });
  }
  return out;
}

/** Embedding geometry. */
export interface GeometryReport {
  /** σ₁ / Σσ_k of the raw embeddings (MLEM). */
  anisotropy: number;
  /** TwoNN intrinsic dimension. */
  intrinsicDimension: number;
}

/**
 * Anisotropy and TwoNN intrinsic dimension of an embedding matrix (MLEM `model_utils.py`).
 * @example
 * const g = await embeddingGeometry(await embed(encoder, store));
 */
export async function embeddingGeometry(x: EmbedResult | Matrix, seed = 0): Promise<GeometryReport> {
  const m: Matrix = { rows: x.rows, cols: x.cols, data: x.data };
  return { anisotropy: anisotropy(m, { seed }).anisotropy, intrinsicDimension: (await twoNN(m, { seed })).dimension };
}

/**
 * A seeded train/test split of store indices (entities with at least one event), `testFraction` held out.
 * @example
 * const { train, test } = splitEntities(store, 0.3, 0);
 */
export function splitEntities(store: SequenceStore, testFraction: number, seed: number): { train: number[]; test: number[] } {
  if (!(testFraction > 0 && testFraction < 1)) throw new SiftError('E_CONFIG', `splitEntities: testFraction must be in (0, 1), got ${testFraction}.`);
  const ids = Array.from({ length: store.numEntities }, (_, i) => i).filter((i) => store.length(i) > 0);
  const perm = new Rng(seed).fork('split').permutation(ids.length);
  const nTest = Math.max(1, Math.round(ids.length * testFraction));
  const shuffled = Array.from(perm, (i) => ids[i]);
  return { test: shuffled.slice(0, nTest).sort((a, b) => a - b), train: shuffled.slice(nTest).sort((a, b) => a - b) };
}
