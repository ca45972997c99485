import * as tf from '@tensorflow/tfjs-core';
import { Rng, SiftError, type RngState } from '@sift/tensor-core';

/** `[n, L]` token windows, row-major int32, with where each window starts in the stream. */
export interface TokenWindows {
  /** `[n * L]` ids; row i is `data.subarray(i * L, (i + 1) * L)`. */
  data: Int32Array;
  /** `[n, L]`. */
  shape: [number, number];
  /** `[n]` start offset of each window in the stream. */
  starts: Int32Array;
}

/** A training batch: inputs and next-token targets, both `[B, L]`. */
export interface TokenBatch {
  /** `[B * L]` ids: `stream[s .. s + L)` per row. */
  inputs: Int32Array;
  /** `[B * L]` ids shifted by one: `stream[s + 1 .. s + L + 1)` per row. */
  targets: Int32Array;
  /** `[B, L]`. */
  shape: [number, number];
  /** `[B]` start offsets. */
  starts: Int32Array;
}

function checkPositiveInt(what: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new SiftError('E_CONFIG', `${what}: ${name} must be a positive integer, got ${String(v)}.`);
  }
  return v;
}

function checkStream(what: string, stream: Int32Array, need: number, length: number): void {
  if (!(stream instanceof Int32Array)) throw new SiftError('E_DATA', `${what}: the stream must be an Int32Array of token ids.`);
  if (stream.length === 0) throw new SiftError('E_EMPTY', `${what}: the token stream is empty.`);
  if (stream.length < need) {
    throw new SiftError('E_SHAPE', `${what}: a window of ${length} tokens needs a stream of at least ${need} tokens, ` +
      `got ${stream.length}. Use a shorter window or more text.`);
  }
}

/** Options of `sampleWindows`. */
export interface SampleWindowsOptions {
  /** Number of windows n (SparseGPT's `nsamples`, 128 in the paper). */
  count: number;
  /** Tokens per window L (`seqlen`, 2048 for OPT/LLaMA). */
  length: number;
  /** Seed of the start positions. */
  seed: number;
}

/**
 * Calibration data as SparseGPT's `get_loaders` draws it: n windows of L tokens at random starts, each start uniform
 * in [0, N - L - 1] (`random.randint(0, len - seqlen - 1)`), independent (windows may overlap). Needs N > L.
 * @example
 * const calib = sampleWindows(stream, { count: 128, length: 256, seed: 0 });
 * const ids = windowsToTensor(calib); // tf.Tensor2D [128, 256] int32
 */
export function sampleWindows(stream: Int32Array, options: SampleWindowsOptions): TokenWindows {
  const n = checkPositiveInt('sampleWindows', 'count', options.count);
  const L = checkPositiveInt('sampleWindows', 'length', options.length);
  if (!Number.isFinite(options.seed)) throw new SiftError('E_CONFIG', `sampleWindows: seed must be a finite number, got ${String(options.seed)}.`);
  checkStream('sampleWindows', stream, L + 1, L);
  const rng = new Rng(options.seed);
  const data = new Int32Array(n * L);
  const starts = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = rng.int(stream.length - L);
    starts[i] = s;
    data.set(stream.subarray(s, s + L), i * L);
  }
  return { data, shape: [n, L], starts };
}

/** `[n, L]` int32 ids as a `tf.Tensor2D` (the caller disposes it). */
export function windowsToTensor(windows: { data: Int32Array; shape: readonly [number, number] }): tf.Tensor2D {
  const [n, L] = windows.shape;
  if (windows.data.length !== n * L) {
    throw new SiftError('E_SHAPE', `windowsToTensor: data has ${windows.data.length} ids, expected ${n} x ${L} = ${n * L}.`);
  }
  return tf.tensor2d(windows.data, [n, L], 'int32');
}

/** Options of `RandomBatches`. */
export interface RandomBatchesOptions {
  /** Rows per batch B. */
  batchSize: number;
  /** Tokens per row L (targets need L + 1 tokens per window). */
  length: number;
  /** Seed of the start positions. */
  seed: number;
}

/**
 * An endless, seeded iterator of training batches: B random windows of L + 1 tokens per batch, inputs = the first L
 * and targets = the last L (next-token prediction). Epoch-free (nanoGPT's `get_batch`): starts are uniform in
 * [0, N - L - 1]. `state()` / `fromState` resume the exact sequence after a checkpoint.
 * @example
 * const batches = new RandomBatches(stream, { batchSize: 8, length: 128, seed: 1 });
 * const { inputs, targets, shape } = batches.next().value; // [8, 128] each
 */
export class RandomBatches implements IterableIterator<TokenBatch> {
  readonly batchSize: number;
  readonly length: number;
  private readonly stream: Int32Array;
  private readonly rng: Rng;

  constructor(stream: Int32Array, options: RandomBatchesOptions, state?: RngState) {
    this.batchSize = checkPositiveInt('RandomBatches', 'batchSize', options.batchSize);
    this.length = checkPositiveInt('RandomBatches', 'length', options.length);
    if (!Number.isFinite(options.seed)) throw new SiftError('E_CONFIG', `RandomBatches: seed must be a finite number, got ${String(options.seed)}.`);
    checkStream('RandomBatches', stream, this.length + 1, this.length + 1);
    this.stream = stream;
    this.rng = state === undefined ? new Rng(options.seed) : Rng.fromState(state, options.seed);
  }

  /** The next batch; never done. */
  next(): IteratorYieldResult<TokenBatch> {
    const B = this.batchSize;
    const L = this.length;
    const inputs = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    const starts = new Int32Array(B);
    for (let i = 0; i < B; i++) {
      const s = this.rng.int(this.stream.length - L);
      starts[i] = s;
      inputs.set(this.stream.subarray(s, s + L), i * L);
      targets.set(this.stream.subarray(s + 1, s + L + 1), i * L);
    }
    return { done: false, value: { inputs, targets, shape: [B, L], starts } };
  }

  [Symbol.iterator](): this {
    return this;
  }

  /** Generator state to save with a checkpoint; pass it back to the constructor to continue. */
  state(): RngState {
    return this.rng.state();
  }
}

/**
 * Evaluation windows: the stream cut into floor(N / L) consecutive, non-overlapping windows of L tokens (the
 * remainder is dropped), as SparseGPT's and GPTQ's perplexity loop (`testenc[:, i*seqlen:(i+1)*seqlen]`).
 * @example
 * const evalSet = sequentialWindows(stream, { length: 256 }); // shape [floor(N / 256), 256]
 */
export function sequentialWindows(stream: Int32Array, options: { length: number }): TokenWindows {
  const L = checkPositiveInt('sequentialWindows', 'length', options.length);
  checkStream('sequentialWindows', stream, L, L);
  const n = Math.floor(stream.length / L);
  const starts = Int32Array.from({ length: n }, (_, i) => i * L);
  return { data: stream.slice(0, n * L), shape: [n, L], starts };
}

/**
 * Splits `[n, L]` windows into batches of at most `batchSize` rows (views, no copies), for evaluation loops.
 * @example
 * for (const batch of windowBatches(sequentialWindows(stream, { length: 256 }), 8)) { ... }
 */
export function* windowBatches(windows: TokenWindows, batchSize: number): Generator<TokenWindows> {
  const B = checkPositiveInt('windowBatches', 'batchSize', batchSize);
  const [n, L] = windows.shape;
  for (let i = 0; i < n; i += B) {
    const rows = Math.min(B, n - i);
    yield { data: windows.data.subarray(i * L, (i + rows) * L), shape: [rows, L], starts: windows.starts.subarray(i, i + rows) };
  }
}
