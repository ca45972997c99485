/**
 * Padded batches (ptls `PaddedBatch`, MLEM `collate`): sequences right-padded to a common length T, with the shapes
 * spelled out. Built on the host as typed arrays; `batchToTensors` uploads them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, type Rng } from '@sift/tensor-core';
import { PAD_CODE, timeRange } from './encoder.js';
import type { SequenceStore } from './store.js';

/**
 * A batch of B sequences padded to T events, row-major `[B, T]` typed arrays. Event `t` of row `b` is at `b * T + t`;
 * valid events come first (`t < lengths[b]`), padding after (`mask` 0, codes 0, values/time/dt 0).
 */
export interface PaddedBatch {
  /** B. */
  batchSize: number;
  /** T. */
  maxLen: number;
  /** [B] store index of each row's entity. */
  entities: Int32Array;
  /** [B] valid events per row. */
  lengths: Int32Array;
  /** [B, T] 1 for a valid event, 0 for padding. */
  mask: Float32Array;
  /** Int32 [B, T] per categorical field (0 = padding, 1 = OOV). */
  codes: Record<string, Int32Array>;
  /** Float32 [B, T] per numeric field (encoded). */
  values: Record<string, Float32Array>;
  /** Float32 [B, T] min-max normalised time (MLEM `(t − min)/(max − min)`). */
  time: Float32Array;
  /** Float32 [B, T] Δt between consecutive kept events in normalised time; 0 for each row's first event. */
  dt: Float32Array;
  /** Int32 [B, T] index of the event in the store, −1 at padding (for targets such as the next event). */
  eventIndex: Int32Array;
}

/** A contiguous run of one entity's events: events `start .. start + length − 1` of the sequence (0-based). */
export interface SequenceSlice {
  /** Store index of the entity. */
  entity: number;
  start: number;
  length: number;
}

/** Options of `batchFromSlices` and `batchForEntities`. */
export interface BatchOptions {
  /** Keep only the last `maxLen` events of each row, as ptls does (after dropout). Default 1000 (MLEM's Age setting). */
  maxLen?: number;
  /**
   * Event dropout in [0, 1): each row keeps `floor(n·(1 − p) + 1)` of its n events, drawn without replacement (ptls
   * `DropoutTrx`; MLEM trains with p = 0.01). Needs `rng`. Default 0.
   */
  dropout?: number;
  /** The generator for dropout. */
  rng?: Rng;
  /** Pad to this T instead of the longest row (must be ≥ every kept length). */
  padTo?: number;
}

/** Defaults of `BatchOptions`. */
export const BATCH_DEFAULTS: Readonly<{ maxLen: number; dropout: number }> = { maxLen: 1000, dropout: 0 };

/**
 * Builds a batch from arbitrary slices of sequences (CoLES sub-sequences, a prefix for next-event targets, or whole
 * sequences). Per row: the slice's events, then event dropout, then the last `maxLen`; Δt is recomputed over the
 * events kept.
 * @example
 * const views = batchFromSlices(store, [{ entity: 0, start: 10, length: 40 }, { entity: 0, start: 60, length: 25 }]);
 * views.maxLen; // 40
 */
export function batchFromSlices(store: SequenceStore, slices: readonly SequenceSlice[], options: BatchOptions = {}): PaddedBatch {
  const maxLen = options.maxLen ?? BATCH_DEFAULTS.maxLen;
  const dropout = options.dropout ?? BATCH_DEFAULTS.dropout;
  if (!Number.isInteger(maxLen) || maxLen < 1) throw new SiftError('E_CONFIG', `batch: maxLen must be an integer >= 1, got ${maxLen}.`);
  if (!(dropout >= 0 && dropout < 1)) throw new SiftError('E_CONFIG', `batch: dropout must be in [0, 1), got ${dropout}.`);
  if (dropout > 0 && options.rng === undefined) {
    throw new SiftError('E_CONFIG', 'batch: dropout > 0 needs an `rng` (new Rng(seed)) so that batches are reproducible.');
  }
  // Event indices of each row, in time order.
  const rows: Int32Array[] = slices.map((s, b) => {
    if (!Number.isInteger(s.entity) || s.entity < 0 || s.entity >= store.numEntities) {
      throw new SiftError('E_CONFIG', `batch: slice ${b} names entity ${s.entity}, outside [0, ${store.numEntities}).`);
    }
    const n = store.length(s.entity);
    if (!Number.isInteger(s.start) || !Number.isInteger(s.length) || s.start < 0 || s.length < 0 || s.start + s.length > n) {
      throw new SiftError('E_CONFIG', `batch: slice ${b} (start ${s.start}, length ${s.length}) does not fit entity ` +
        `${s.entity} ("${store.entityIds[s.entity]}") of ${n} events.`);
    }
    const first = store.start(s.entity) + s.start;
    let idx: Int32Array;
    if (dropout > 0 && s.length > 0) {
      const k = Math.min(s.length, Math.floor(s.length * (1 - dropout) + 1));
      idx = options.rng!.sample(s.length, k).sort();
      for (let j = 0; j < k; j++) idx[j] += first;
    } else {
      idx = new Int32Array(s.length);
      for (let j = 0; j < s.length; j++) idx[j] = first + j;
    }
    return idx.length > maxLen ? idx.subarray(idx.length - maxLen) : idx;
  });
  let longest = 1;
  for (const r of rows) longest = Math.max(longest, r.length);
  const T = options.padTo ?? longest;
  if (!Number.isInteger(T) || T < longest) {
    throw new SiftError('E_CONFIG', `batch: padTo ${String(options.padTo)} is shorter than the longest row (${longest} events).`);
  }
  const B = slices.length;
  const enc = store.encoder;
  const tMin = enc.time.min;
  const tRange = timeRange(enc.time);
  const batch: PaddedBatch = {
    batchSize: B, maxLen: T,
    entities: Int32Array.from(slices, (s) => s.entity),
    lengths: Int32Array.from(rows, (r) => r.length),
    mask: new Float32Array(B * T),
    codes: Object.fromEntries(Object.keys(store.codes).map((k) => [k, new Int32Array(B * T).fill(PAD_CODE)])),
    values: Object.fromEntries(Object.keys(store.values).map((k) => [k, new Float32Array(B * T)])),
    time: new Float32Array(B * T),
    dt: new Float32Array(B * T),
    eventIndex: new Int32Array(B * T).fill(-1),
  };
  const codeSrc = Object.entries(store.codes).map(([k, a]) => [a, batch.codes[k]] as const);
  const valueSrc = Object.entries(store.values).map(([k, a]) => [a, batch.values[k]] as const);
  rows.forEach((idx, b) => {
    let prev = 0;
    for (let t = 0; t < idx.length; t++) {
      const e = idx[t];
      const at = b * T + t;
      const nt = (store.times[e] - tMin) / tRange;
      batch.mask[at] = 1;
      batch.time[at] = nt;
      batch.dt[at] = t === 0 ? 0 : nt - prev;
      batch.eventIndex[at] = e;
      prev = nt;
      for (const [src, dst] of codeSrc) dst[at] = src[e]!;
      for (const [src, dst] of valueSrc) dst[at] = src[e]!;
    }
  });
  return batch;
}

/**
 * A batch of whole sequences (their last `maxLen` events after dropout) for a list of entities, given as store indices
 * (numbers) or entity ids (strings).
 * @example
 * const batch = batchForEntities(store, [0, 1, 2, 3], { maxLen: 200, dropout: 0.01, rng: new Rng(1) });
 */
export function batchForEntities(store: SequenceStore, entities: readonly (number | string)[], options: BatchOptions = {}): PaddedBatch {
  const slices = entities.map((e): SequenceSlice => {
    const i = typeof e === 'number' ? e : store.indexOf(e);
    if (i < 0) throw new SiftError('E_CONFIG', `batch: no entity "${String(e)}" in the store (${store.numEntities} entities).`);
    if (!Number.isInteger(i) || i >= store.numEntities) throw new SiftError('E_CONFIG', `batch: entity index ${i} is outside [0, ${store.numEntities}).`);
    return { entity: i, start: 0, length: store.length(i) };
  });
  return batchFromSlices(store, slices, options);
}

/** A `PaddedBatch` on the tfjs backend. Call `dispose()` when done. */
export interface PaddedBatchTensors {
  /** int32 [B, T] per categorical field. */
  codes: Record<string, tf.Tensor2D>;
  /** float32 [B, T] per numeric field. */
  values: Record<string, tf.Tensor2D>;
  /** float32 [B, T]. */
  time: tf.Tensor2D;
  /** float32 [B, T]. */
  dt: tf.Tensor2D;
  /** float32 [B, T], 1 valid / 0 padding. */
  mask: tf.Tensor2D;
  /** int32 [B]. */
  lengths: tf.Tensor1D;
  /** Frees every tensor above. */
  dispose(): void;
}

/**
 * Uploads a batch to the active tfjs backend (inside `tf.tidy`, so nothing but the returned tensors survives).
 * @example
 * const t = batchToTensors(batch);
 * try { model.forward(t); } finally { t.dispose(); }
 */
export function batchToTensors(batch: PaddedBatch): PaddedBatchTensors {
  const shape: [number, number] = [batch.batchSize, batch.maxLen];
  const parts = tf.tidy(() => ({
    codes: Object.fromEntries(Object.entries(batch.codes).map(([k, a]) => [k, tf.tensor2d(a, shape, 'int32')])),
    values: Object.fromEntries(Object.entries(batch.values).map(([k, a]) => [k, tf.tensor2d(a, shape, 'float32')])),
    time: tf.tensor2d(batch.time, shape, 'float32'),
    dt: tf.tensor2d(batch.dt, shape, 'float32'),
    mask: tf.tensor2d(batch.mask, shape, 'float32'),
    lengths: tf.tensor1d(batch.lengths, 'int32'),
  }));
  return {
    ...parts,
    dispose(): void {
      tf.dispose([...Object.values(parts.codes), ...Object.values(parts.values), parts.time, parts.dt, parts.mask, parts.lengths]);
    },
  };
}

/** Options of `colesSlices` (ptls `SampleSlices`). */
export interface ColesSliceOptions {
  /** Slices (views) per entity. Default 5. */
  count: number;
  /** Shortest slice. Default 25 (MLEM Age). */
  minLength: number;
  /** Longest slice. Default 200 (MLEM Age). */
  maxLength: number;
}

/** Defaults of `ColesSliceOptions` (MLEM's Age training setting: 5 slices of 25–200 events). */
export const COLES_SLICE_DEFAULTS: Readonly<ColesSliceOptions> = { count: 5, minLength: 25, maxLength: 200 };

/**
 * CoLES views: for each entity, `count` random contiguous slices. A slice length is uniform in
 * [minLength, min(maxLength, n)] and its start uniform; a sequence of n ≤ minLength events is repeated whole
 * (ptls `SampleSlices`). Slices come entity by entity, so row `i * count + j` is view j of `entities[i]`.
 * @example
 * const views = batchFromSlices(store, colesSlices(store, [0, 1, 2], { count: 5, minLength: 10, maxLength: 50 }, rng));
 */
export function colesSlices(store: SequenceStore, entities: readonly number[], options: Partial<ColesSliceOptions>, rng: Rng): SequenceSlice[] {
  const o = { ...COLES_SLICE_DEFAULTS, ...options };
  if (!Number.isInteger(o.count) || o.count < 1) throw new SiftError('E_CONFIG', `colesSlices: count must be an integer >= 1, got ${o.count}.`);
  if (!Number.isInteger(o.minLength) || o.minLength < 1 || !Number.isInteger(o.maxLength) || o.maxLength < o.minLength) {
    throw new SiftError('E_CONFIG', `colesSlices: need integers 1 <= minLength <= maxLength, got ${o.minLength} and ${o.maxLength}.`);
  }
  const out: SequenceSlice[] = [];
  for (const entity of entities) {
    if (!Number.isInteger(entity) || entity < 0 || entity >= store.numEntities) {
      throw new SiftError('E_CONFIG', `colesSlices: entity ${entity} is outside [0, ${store.numEntities}).`);
    }
    const n = store.length(entity);
    for (let j = 0; j < o.count; j++) {
      if (n <= o.minLength) {
        out.push({ entity, start: 0, length: n });
        continue;
      }
      const hi = Math.min(o.maxLength, n);
      const length = o.minLength + rng.int(hi - o.minLength + 1);
      out.push({ entity, start: rng.int(n - length + 1), length });
    }
  }
  return out;
}

/**
 * Length bucketing: shuffles the entities, sorts each window of `batchSize · bucketWindow` by sequence length and cuts
 * it into batches, then shuffles the batch order. Sequences of similar length share a batch, so padding is small,
 * while every epoch still differs. Returns lists of store indices.
 * @example
 * for (const ids of lengthBuckets(store, allIds, 64, rng)) train(batchForEntities(store, ids, { maxLen: 200 }));
 */
export function lengthBuckets(store: SequenceStore, entities: readonly number[], batchSize: number, rng: Rng, bucketWindow = 20): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new SiftError('E_CONFIG', `lengthBuckets: batchSize must be an integer >= 1, got ${batchSize}.`);
  if (!Number.isInteger(bucketWindow) || bucketWindow < 1) throw new SiftError('E_CONFIG', `lengthBuckets: bucketWindow must be an integer >= 1, got ${bucketWindow}.`);
  const ids = rng.shuffle([...entities]);
  const window = batchSize * bucketWindow;
  const batches: number[][] = [];
  for (let w = 0; w < ids.length; w += window) {
    const chunk = ids.slice(w, w + window).sort((a, b) => store.length(a) - store.length(b));
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  return rng.shuffle(batches);
}
