/**
 * Per-output-channel mean and variance of a linear layer's output Y = X Wᵀ over calibration tokens, for variance
 * correction after pruning (γ_i = std_t(Y_ti) / std_t(Ỹ_ti) with Ỹ = X (M⊙W)ᵀ; see the sparsity brief, §2.4 (b)).
 * Feed the same X to one accumulator per weight (dense and masked) and take the ratio of their `std()`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import { assertFinite, emptyError, tokenShape } from './batch.js';
import { Moments } from './moments.js';

/** Plain-JSON form of an `OutputMoments` (see `toJSON`). */
export interface OutputMomentsJSON {
  format: 'sift.output-moments';
  version: 1;
  name: string;
  /** Output channels (W's rows), or null before the first batch. */
  dim: number | null;
  /** Input channels (W's columns), or null before the first batch. */
  inDim: number | null;
  count: number;
  batches: number;
  mean: number[];
  m2: number[];
}

/** A batch prepared on the device: [2, out] = (batch mean; batch M2). */
interface Pending {
  packed: tf.Tensor;
  n: number;
}

/**
 * Streaming per-output moments of Y = X Wᵀ: mean and variance per output channel, merged across batches in float64
 * with Chan's parallel update. Each batch's Y is computed on the device (one matMul) and only 2·out numbers come back.
 *
 * @example
 * const dense = new OutputMoments({ name: 'h.0.mlp.c_fc dense' });
 * const pruned = new OutputMoments({ name: 'h.0.mlp.c_fc pruned' });
 * for (const x of batches) { dense.update(x, w); pruned.update(x, wMasked); }       // x [tokens, in], w [out, in]
 * const gamma = dense.std().map((s, i) => s / pruned.std()[i]!);                  // variance correction γ
 * dense.dispose(); pruned.dispose();
 */
export class OutputMoments {
  /** Source name used in messages, e.g. `"h.0.mlp.c_fc output"`. */
  readonly name: string;
  private moments: Moments | null = null;
  private inDim: number | null = null;
  private nBatches = 0;
  private cachedW: object | null = null; // the weight's dataId (a tf.Variable keeps its identity across assign())
  private cachedWT: tf.Tensor2D | null = null;

  constructor(options: { name?: string } = {}) {
    this.name = options.name ?? 'output';
  }

  private get what(): string {
    return `OutputMoments '${this.name}'`;
  }

  /** Tokens seen. */
  get count(): number {
    return this.moments?.count ?? 0;
  }

  /** Batches folded in. */
  get batches(): number {
    return this.nBatches;
  }

  /** Output channels, or null before the first batch. */
  get dim(): number | null {
    return this.moments?.mean.length ?? null;
  }

  private prepare(x: tf.Tensor, weight: tf.Tensor2D): Pending | null {
    if (!(weight instanceof tf.Tensor) || weight.rank !== 2) {
      throw new SiftError('E_SHAPE', `${this.what}: the weight must be a tf.Tensor2D [out, in], got ${weight instanceof tf.Tensor ? fmtShape(weight.shape) : typeof weight}.`);
    }
    const [out, inW] = weight.shape;
    const { n, d } = tokenShape(x, this.what, this.inDim);
    if (d !== inW) {
      throw new SiftError('E_SHAPE', `${this.what}: the weight ${fmtShape(weight.shape)} expects ${inW} input channels, the activations ${fmtShape(x.shape)} have ${d}.`);
    }
    if (this.moments !== null && this.moments.mean.length !== out) {
      throw new SiftError('E_SHAPE', `${this.what}: the weight ${fmtShape(weight.shape)} has ${out} outputs, earlier batches had ${this.moments.mean.length}.`);
    }
    this.inDim = d;
    this.moments ??= new Moments(out);
    if (n === 0) return null;
    // Wᵀ once per weight tensor: a transposed matMul is ~30x slower than a plain one on tfjs-backend-wasm 4.22.
    if (this.cachedW !== weight.dataId || this.cachedWT === null || this.cachedWT.isDisposed) {
      this.cachedWT?.dispose();
      this.cachedWT = tf.keep(tf.tidy(() => tf.transpose(weight)));
      this.cachedW = weight.dataId;
    }
    const wt = this.cachedWT;
    const packed = tf.tidy(() => {
      const y = tf.matMul(tf.reshape(tf.cast(x, 'float32'), [n, d]), wt); // [n, out]
      const mean = tf.div(tf.sum(y, 0), n);
      const m2 = tf.sum(tf.square(tf.sub(y, mean)), 0);
      return tf.keep(tf.concat([mean, m2], 0));
    });
    return { packed, n };
  }

  private commit(p: Pending, values: ArrayLike<number>): void {
    const out = this.moments!.mean.length;
    assertFinite(values, 0, 2 * out, 'the mean/variance of X Wᵀ', this.what, this.nBatches, out);
    this.moments!.add(p.n, Array.prototype.slice.call(values, 0, out) as number[], Array.prototype.slice.call(values, out, 2 * out) as number[]);
    this.nBatches += 1;
  }

  /**
   * Folds in one batch: `x` [tokens, in] or [B, T, in] (leading dimensions flattened), `weight` [out, in]. Synchronous
   * (reads 2·out numbers with `dataSync`), so it can run inside a forward hook.
   * @throws SiftError 'E_SHAPE' for mismatched shapes, 'E_NAN' for non-finite outputs (the state is unchanged).
   */
  update(x: tf.Tensor, weight: tf.Tensor2D): void {
    const p = this.prepare(x, weight);
    if (p === null) return;
    try {
      this.commit(p, p.packed.dataSync());
    } finally {
      p.packed.dispose();
    }
  }

  /** `update` with an asynchronous read (WebGPU). */
  async updateAsync(x: tf.Tensor, weight: tf.Tensor2D): Promise<void> {
    const p = this.prepare(x, weight);
    if (p === null) return;
    try {
      this.commit(p, await p.packed.data());
    } finally {
      p.packed.dispose();
    }
  }

  private nonEmpty(result: string): Moments {
    if (this.moments === null || this.moments.count === 0) throw emptyError(this.what, result);
    return this.moments;
  }

  /** Mean of Y = X Wᵀ per output channel, [out]. */
  mean(): Float64Array {
    return this.nonEmpty('mean()').mean.slice();
  }

  /** Variance of Y per output channel, [out]: population (÷n) by default, ÷(n−1) with `unbiased`. */
  variance(options: { unbiased?: boolean } = {}): Float64Array {
    return this.nonEmpty('variance()').variance(options.unbiased ?? false);
  }

  /** Standard deviation of Y per output channel, [out] (population). */
  std(): Float64Array {
    return this.nonEmpty('std()').variance(false).map(Math.sqrt);
  }

  /** Plain JSON (numbers round-trip exactly through `JSON.stringify`). */
  toJSON(): OutputMomentsJSON {
    return {
      format: 'sift.output-moments', version: 1, name: this.name, dim: this.dim, inDim: this.inDim, count: this.count,
      batches: this.nBatches, mean: Array.from(this.moments?.mean ?? []), m2: Array.from(this.moments?.m2 ?? []),
    };
  }

  /** Restores `toJSON()`'s output. */
  static fromJSON(json: OutputMomentsJSON): OutputMoments {
    const format: string = json.format; // files from elsewhere may say anything
    const version: number = json.version;
    if (format !== 'sift.output-moments' || version !== 1) {
      throw new SiftError('E_DATA', `OutputMoments.fromJSON: expected format 'sift.output-moments' version 1, got ${JSON.stringify(json.format)} version ${String(json.version)}.`);
    }
    const o = new OutputMoments({ name: json.name });
    if (json.dim !== null) {
      if (json.mean.length !== json.dim || json.m2.length !== json.dim) {
        throw new SiftError('E_DATA', `OutputMoments.fromJSON '${json.name}': mean/m2 have ${json.mean.length}/${json.m2.length} entries, dim is ${json.dim}.`);
      }
      const m = new Moments(json.dim);
      m.count = json.count;
      m.mean.set(json.mean);
      m.m2.set(json.m2);
      o.moments = m;
    }
    o.inDim = json.inDim;
    o.nBatches = json.batches;
    return o;
  }

  /**
   * A new accumulator equal to one that saw every part's batches (Chan's merge; empty parts are neutral). The parts
   * are unchanged; the result takes the first part's name.
   */
  static merge(...parts: OutputMoments[]): OutputMoments {
    const out = new OutputMoments({ name: parts.at(0)?.name ?? 'output' });
    for (const p of parts) {
      if (p.moments === null) continue;
      if (out.moments === null) {
        out.moments = p.moments.clone();
        out.inDim = p.inDim;
      } else {
        if (p.moments.mean.length !== out.moments.mean.length || p.inDim !== out.inDim) {
          throw new SiftError('E_SHAPE', `OutputMoments.merge: '${p.name}' is [${p.inDim} -> ${p.moments.mean.length}], '${out.name}' is [${out.inDim} -> ${out.moments.mean.length}].`);
        }
        out.moments.add(p.moments.count, p.moments.mean, p.moments.m2);
      }
      out.nBatches += p.nBatches;
    }
    return out;
  }

  /** Frees the cached Wᵀ. */
  dispose(): void {
    this.cachedWT?.dispose();
    this.cachedWT = null;
    this.cachedW = null;
  }
}
