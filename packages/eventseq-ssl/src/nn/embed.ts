/**
 * Embedding a store with a trained encoder, in batches, and saving/loading encoders (safetensors + JSON sidecar with
 * the options, the fitted `EventEncoder` and the input statistics).
 */
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensorsFile, Rng, safeTensorToTf, SiftError, tfToSafeTensorSync, writeFileAtomic, writeSafetensorsFile, type SafeTensor } from '@sift/tensor-core';
import { batchFromSlices, batchToTensors, type SequenceSlice } from '../data/batch.js';
import { EventEncoder, type EventEncoderJSON } from '../data/encoder.js';
import type { SequenceStore } from '../data/store.js';
import { resolveEncoderOptions, SequenceEncoder, type InputStats, type SequenceEncoderOptions } from './sequence-encoder.js';

/** Options of `embed`. */
export interface EmbedOptions {
  /** Sequences per forward pass. Default 128. */
  batchSize: number;
  /** Keep the last N events of each sequence. Default 1000. */
  maxLen: number;
  /** Drop this fraction of events at random first (robustness probes). Default 0. */
  dropout: number;
  /** Seed of the dropout. Default 0. */
  seed: number;
  /** Store indices to embed (whole sequences); default all. Ignored when `slices` is given. */
  entities: number[] | null;
  /** Embed these slices (e.g. prefixes for next-event probes) instead of whole sequences. */
  slices: SequenceSlice[] | null;
}

/** Defaults of `EmbedOptions`. */
export const EMBED_DEFAULTS: Readonly<EmbedOptions> = { batchSize: 128, maxLen: 1000, dropout: 0, seed: 0, entities: null, slices: null };

/** Progress of `embed`: rows done out of the total. */
export interface EmbedProgress {
  done: number;
  total: number;
}

/** What `embed` returns: a row-major `[rows, dim]` matrix (an `@sift/eval` `Matrix`). */
export interface EmbedResult {
  rows: number;
  cols: number;
  data: Float32Array;
  seconds: number;
}

/**
 * Embeddings of a store's sequences (or slices) in batches: the encoder's last valid state per row, in eval mode.
 * Rows whose sequence is empty get the encoder's output for an empty sequence.
 * @example
 * const emb = await embed(encoder, store, { batchSize: 256 });
 * const probe = evaluateProbeSplit({ train: { x: emb, y }, ... });
 */
export async function embed(encoder: SequenceEncoder, store: SequenceStore, options: Partial<EmbedOptions> & { onProgress?: (p: EmbedProgress) => void } = {}): Promise<EmbedResult> {
  const o = { ...EMBED_DEFAULTS, ...options };
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new SiftError('E_CONFIG', `embed: batchSize must be an integer >= 1, got ${o.batchSize}.`);
  const slices: SequenceSlice[] = o.slices ?? (o.entities ?? Array.from({ length: store.numEntities }, (_, i) => i))
    .map((entity) => ({ entity, start: 0, length: entity >= 0 && entity < store.numEntities ? store.length(entity) : 0 }));
  const n = slices.length;
  const d = encoder.dim;
  const data = new Float32Array(n * d);
  const rng = new Rng(o.seed).fork('embed-dropout');
  const wasTraining = encoder.training;
  encoder.eval();
  const t0 = performance.now();
  try {
    for (let i = 0; i < n; i += o.batchSize) {
      const chunk = slices.slice(i, i + o.batchSize);
      const batch = batchFromSlices(store, chunk, { maxLen: o.maxLen, dropout: o.dropout, rng });
      const t = batchToTensors(batch);
      let out: tf.Tensor;
      try {
        out = tf.tidy(() => {
          const { states, last } = encoder.forward(t);
          states.dispose();
          return last;
        });
      } finally {
        t.dispose();
      }
      try {
        data.set(await out.data(), i * d);
      } finally {
        out.dispose();
      }
      options.onProgress?.({ done: Math.min(n, i + o.batchSize), total: n });
    }
  } finally {
    encoder.train(wasTraining);
  }
  return { rows: n, cols: d, data, seconds: (performance.now() - t0) / 1000 };
}

/** The JSON sidecar of a saved encoder. */
export interface EncoderSidecar {
  format: 'sift.eventseq-encoder';
  version: 1;
  /** File name of the weights, relative to the sidecar. */
  tensors: string;
  options: SequenceEncoderOptions;
  stats: InputStats;
  eventEncoder: EventEncoderJSON;
}

function encoderPaths(path: string): { tensors: string; sidecar: string } {
  const base = path.replace(/\.(safetensors|json)$/, '');
  return { tensors: `${base}.safetensors`, sidecar: `${base}.json` };
}

/**
 * Saves an encoder as `<base>.safetensors` (its state dict) and `<base>.json` (options, input statistics and the
 * fitted `EventEncoder`, so inference encodes raw events exactly as training did). Both writes are atomic.
 * @example
 * await saveSequenceEncoder(encoder, 'models/coles');
 */
export async function saveSequenceEncoder(encoder: SequenceEncoder, path: string): Promise<{ tensors: string; sidecar: string }> {
  const paths = encoderPaths(path);
  const sd = encoder.stateDict();
  const tensors: Record<string, SafeTensor> = {};
  for (const [k, t] of Object.entries(sd)) tensors[k] = tfToSafeTensorSync(t);
  await writeSafetensorsFile(paths.tensors, tensors, { format: 'sift.eventseq-encoder', version: '1' });
  const nodePath = await import('node:path');
  const sidecar: EncoderSidecar = {
    format: 'sift.eventseq-encoder', version: 1, tensors: nodePath.basename(paths.tensors), options: encoder.options,
    stats: encoder.stats, eventEncoder: encoder.eventEncoder.toJSON(),
  };
  await writeFileAtomic(paths.sidecar, `${JSON.stringify(sidecar, null, 1)}\n`);
  return paths;
}

/**
 * Loads an encoder saved by `saveSequenceEncoder` (in eval mode).
 * @example
 * const encoder = await loadSequenceEncoder('models/coles');
 */
export async function loadSequenceEncoder(path: string): Promise<SequenceEncoder> {
  const paths = encoderPaths(path);
  const { readFile } = await import('node:fs/promises');
  let side: Partial<EncoderSidecar>;
  try {
    side = JSON.parse(await readFile(paths.sidecar, 'utf8')) as Partial<EncoderSidecar>;
  } catch (err) {
    throw new SiftError('E_IO', `loadSequenceEncoder: cannot read "${paths.sidecar}": ${(err as Error).message}. An encoder is ` +
      'two files, <base>.safetensors and <base>.json, written by saveSequenceEncoder.', { cause: err });
  }
  if (side.format !== 'sift.eventseq-encoder' || side.version !== 1 || side.stats === undefined || side.options === undefined) {
    throw new SiftError('E_DATA', `loadSequenceEncoder: "${paths.sidecar}" is not a version-1 Sift event-sequence encoder sidecar.`);
  }
  const eventEncoder = EventEncoder.fromJSON(side.eventEncoder, `encoder sidecar "${paths.sidecar}"`);
  const encoder = new SequenceEncoder(eventEncoder, side.stats, resolveEncoderOptions(side.options));
  const file = await readSafetensorsFile(paths.tensors, { copy: true });
  const sd: Record<string, tf.Tensor> = {};
  for (const name of file.names) sd[name] = safeTensorToTf(file.get(name));
  try {
    encoder.loadStateDict(sd);
  } finally {
    tf.dispose(Object.values(sd));
  }
  return encoder.eval();
}
