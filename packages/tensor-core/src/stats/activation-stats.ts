/**
 * Streaming, mergeable statistics of a layer's input activations X [tokens, d], collected during calibration:
 * - Gram matrix XᵀX and the Hessian H = 2/n XᵀX of the layer-wise reconstruction loss (SparseGPT, Frantar & Alistarh
 *   2023, §3; GPTQ, Frantar et al. 2023, §2), and its diagonal (OWQ's λ_j = H_jj);
 * - per-channel sum of squares Σ_t x_tj² and norm ‖X_j‖₂ (Wanda, Sun et al. 2023: |W_ij|·‖X_j‖₂);
 * - per-channel max_t |x_tj| (QUIK/GIFT-SW outlier channels, SmoothQuant's s_j);
 * - per-channel mean and variance (Welford/Chan);
 * - optionally the per-output moments of X Wᵀ (variance correction), see `OutputMoments`.
 *
 * Precision: each batch is reduced on the device in float32 (one matMul for the Gram matrix, column reductions for
 * the rest) and folded into float64 host accumulators, so the error of a statistic over many batches is that of one
 * batch (~√T·ε32 for T tokens per batch), not that of a float32 running sum over all tokens. SparseGPT keeps H in
 * float32 on the GPU; `gramAccumulator: 'device-float32'` does that too (no per-batch read of the d×d matrix, which
 * is what a GPU wants), at float32 accuracy of the running sum.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError } from '../errors.js';
import { assertFinite, emptyError, tokenShape } from './batch.js';
import { Moments } from './moments.js';
import { OutputMoments, type OutputMomentsJSON } from './output-moments.js';

/** Which statistics an `ActivationStats` collects, and how. */
export interface ActivationStatsOptions {
  /** Source name for messages, e.g. `"h.3.attn.c_attn input"`. Default `'activations'`. */
  name: string;
  /** Collect the Gram matrix XᵀX (d² float64 numbers: 128 MB at d = 4096, hence opt-in). Default false. */
  gram: boolean;
  /**
   * Where the Gram matrix sums up: `'host-float64'` (each batch's float32 XᵀX is read back and added in float64) or
   * `'device-float32'` (a float32 tensor on the active backend, as SparseGPT does; read back only when asked for).
   * Default `'host-float64'`.
   */
  gramAccumulator: 'host-float64' | 'device-float32';
  /** Collect Σ_t x_tj² per channel (Wanda's ‖X_j‖₂², OWQ's H_jj). Default true. */
  sqNorm: boolean;
  /** Collect max_t |x_tj| per channel. Default true. */
  maxAbs: boolean;
  /** Collect the per-channel mean and variance. Default true. */
  moments: boolean;
  /** Collect per-output moments of X Wᵀ; then `update(x, weight)` needs the layer's weight [out, d]. Default false. */
  outputMoments: boolean;
  /**
   * Where the per-channel reductions (sums, norms, max, moments) run: `'host'` (one float64 pass over a copy of X),
   * `'device'` (tfjs ops on the active backend, read back), or `'auto'` (host on the CPU-resident wasm and cpu
   * backends, where tfjs's axis-0 reductions transpose X first and cost ~4x more; device elsewhere, e.g. WebGPU, so X
   * never travels). The Gram matrix is always a matMul on the active backend. Default `'auto'`.
   */
  reduceOn: 'auto' | 'host' | 'device';
}

/** Defaults of `ActivationStatsOptions`. */
export const ACTIVATION_STATS_DEFAULTS: Readonly<ActivationStatsOptions> = Object.freeze({
  name: 'activations',
  gram: false,
  gramAccumulator: 'host-float64',
  sqNorm: true,
  maxAbs: true,
  moments: true,
  outputMoments: false,
  reduceOn: 'auto',
});

/** Plain-JSON form of an `ActivationStats` (see `toJSON`); arrays are absent for statistics not collected. */
export interface ActivationStatsJSON {
  format: 'sift.activation-stats';
  version: 1;
  options: ActivationStatsOptions;
  /** Channels, or null before the first batch. */
  dim: number | null;
  /** Tokens seen. */
  count: number;
  /** Batches folded in. */
  batches: number;
  sqNorm?: number[];
  maxAbs?: number[];
  mean?: number[];
  m2?: number[];
  /** XᵀX's lower triangle, row by row (d(d+1)/2 numbers). */
  gramLower?: number[];
  output?: OutputMomentsJSON;
}

const BOOL_KEYS = ['gram', 'sqNorm', 'maxAbs', 'moments', 'outputMoments'] as const;

function parseOptions(input: Partial<ActivationStatsOptions>): ActivationStatsOptions {
  const o: ActivationStatsOptions = { ...ACTIVATION_STATS_DEFAULTS, ...input };
  if (typeof o.name !== 'string') throw new SiftError('E_CONFIG', `ActivationStats: name must be a string, got ${typeof o.name}.`);
  for (const k of BOOL_KEYS) {
    if (typeof o[k] !== 'boolean') throw new SiftError('E_CONFIG', `ActivationStats '${o.name}': ${k} must be a boolean, got ${JSON.stringify(o[k])}.`);
  }
  const acc: string = o.gramAccumulator; // options may come from JSON or untyped callers
  if (acc !== 'host-float64' && acc !== 'device-float32') {
    throw new SiftError('E_CONFIG', `ActivationStats '${o.name}': gramAccumulator must be 'host-float64' or 'device-float32', got ${JSON.stringify(o.gramAccumulator)}.`);
  }
  const where: string = o.reduceOn;
  if (where !== 'auto' && where !== 'host' && where !== 'device') {
    throw new SiftError('E_CONFIG', `ActivationStats '${o.name}': reduceOn must be 'auto', 'host' or 'device', got ${JSON.stringify(o.reduceOn)}.`);
  }
  if (!(o.gram || o.sqNorm || o.maxAbs || o.moments || o.outputMoments)) {
    throw new SiftError('E_CONFIG', `ActivationStats '${o.name}': every statistic is switched off; enable at least one of ${BOOL_KEYS.join(', ')}.`);
  }
  return o;
}

/** One batch reduced on the device, waiting to be read. */
interface Pending {
  n: number;
  /** Concatenated per-channel vectors, in `layout` order: a tensor to read, or already on the host. */
  packed: tf.Tensor | Float64Array;
  layout: ('sum' | 'mean' | 'm2' | 'sqNorm' | 'maxAbs')[];
  /** This batch's XᵀX (host accumulator) to read, or the next device accumulator to swap in. */
  gram: tf.Tensor2D | null;
}

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** Backends whose tensors live in host memory: there `dataSync` is a copy, not a device transfer. */
const HOST_REDUCE_BACKENDS: ReadonlySet<string> = new Set(['wasm', 'cpu']);

/** Rows per product of `gramProduct`. */
const GRAM_CHUNK = 2048;

/**
 * A kernel a backend package may register (inputs `{ x }`, X [n, d] float32; output XᵀX [d, d] float32):
 * `@sift/backend` registers one for wasm (`GRAM_KERNEL` there), which computes only the lower triangle, on the
 * backend's threads.
 */
const GRAM_KERNEL = 'SiftGram';

/**
 * XᵀX of X [n, d] in float32: the backend's `SiftGram` kernel where one is registered, else products summed over
 * row chunks of 2048 when n is large. XNNPACK packs the right-hand matrix of every product, and packing all of a tall
 * X costs more than the chunks' extra additions: 16k × 768 took 0.90 s in one product and 0.66 s in chunks on
 * 2-thread wasm. Each chunk's partial sum is freed as soon as it is added.
 */
function gramProduct(x2: tf.Tensor2D, n: number, d: number): tf.Tensor2D {
  if ((tf.getKernel(GRAM_KERNEL, tf.getBackend()) as tf.KernelConfig | undefined) !== undefined) {
    return tf.engine().runKernel<tf.Tensor2D>(GRAM_KERNEL, { x: x2 });
  }
  return plainGram(x2, n, d);
}

/** `gramProduct` with plain ops (the reference of the `SiftGram` kernels). */
export function plainGram(x2: tf.Tensor2D, n: number, d: number): tf.Tensor2D {
  // Explicit transposes: tfjs-backend-wasm's own matMul with transposeA is ~30x slower than a plain one.
  if (n <= 2 * GRAM_CHUNK) return tf.matMul(tf.transpose(x2), x2);
  let acc: tf.Tensor2D | null = null;
  for (let s = 0; s < n; s += GRAM_CHUNK) {
    const p = tf.tidy(() => {
      const xc = tf.slice(x2, [s, 0], [Math.min(GRAM_CHUNK, n - s), d]);
      return tf.matMul<tf.Tensor2D>(tf.transpose(xc), xc);
    });
    if (acc === null) acc = p;
    else {
      const sum: tf.Tensor2D = tf.add(acc, p);
      tf.dispose([acc, p]);
      acc = sum;
    }
  }
  return acc!;
}

/**
 * X's values for one host pass. On wasm, `dataSync()` copies the tensor out of the wasm heap (35 ms for 16k × 768,
 * more than the float64 pass itself): a float32 tensor is read through a view of the heap instead. The view is only
 * valid until the next wasm allocation, so the caller must consume it before running any op.
 */
function hostValues(x: tf.Tensor): ArrayLike<number> {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array };
  // Only for data that lives on the wasm backend now (a tensor made on another backend moves on dataSync()).
  const home = tf.engine().state.tensorInfo.get(x.dataId)?.backend;
  if (x.dtype === 'float32' && tf.getBackend() === 'wasm' && home === tf.backend() && typeof backend.typedArrayFromHeap === 'function') {
    return backend.typedArrayFromHeap({ dataId: x.dataId, shape: x.shape, dtype: x.dtype });
  }
  return x.dataSync();
}

/**
 * The packed per-channel vectors of one batch X [n, d] (row-major) in `layout` order, in float64: sum, sum of squares
 * and max |x| in one pass, the squared deviations from the batch mean in a second pass when moments are on. NaN and
 * ±Inf propagate into the sum, so the same sentinel checks apply. `sq` (Σ x² per channel) comes back when `alwaysSq`
 * or the layout asks for it.
 */
function hostReductions(x: ArrayLike<number>, n: number, d: number, layout: readonly Pending['layout'][number][],
  alwaysSq = false): { packed: Float64Array; sq: Float64Array | null } {
  // Rows go four at a time: one load and store of each accumulator per four values (~3x faster in V8 than per row).
  const n4 = n - (n % 4);
  const sum = new Float64Array(d);
  const wantSq = alwaysSq || layout.includes('sqNorm');
  const wantMax = layout.includes('maxAbs');
  const sq = new Float64Array(wantSq ? d : 0);
  const mx = new Float64Array(wantMax ? d : 0);
  for (let i = 0; i < n4; i += 4) {
    const o0 = i * d;
    const o1 = o0 + d;
    const o2 = o1 + d;
    const o3 = o2 + d;
    for (let j = 0; j < d; j++) {
      const a = x[o0 + j];
      const b = x[o1 + j];
      const c = x[o2 + j];
      const e = x[o3 + j];
      sum[j] += a + b + (c + e);
      if (wantSq) sq[j] += a * a + b * b + (c * c + e * e);
      if (wantMax) mx[j] = Math.max(mx[j], Math.abs(a), Math.abs(b), Math.abs(c), Math.abs(e));
    }
  }
  for (let i = n4; i < n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) {
      const a = x[o + j];
      sum[j] += a;
      if (wantSq) sq[j] += a * a;
      if (wantMax) mx[j] = Math.max(mx[j], Math.abs(a));
    }
  }
  const out = new Float64Array(layout.length * d);
  for (const [k, what] of layout.entries()) {
    const at = k * d;
    if (what === 'sum') out.set(sum, at);
    else if (what === 'sqNorm') out.set(sq, at);
    else if (what === 'maxAbs') out.set(mx, at);
    else if (what === 'mean') for (let j = 0; j < d; j++) out[at + j] = sum[j] / n;
    else {
      const mean = sum.map((v) => v / n);
      const m2 = out.subarray(at, at + d);
      for (let i = 0; i < n4; i += 4) {
        const o0 = i * d;
        const o1 = o0 + d;
        const o2 = o1 + d;
        const o3 = o2 + d;
        for (let j = 0; j < d; j++) {
          const mu = mean[j];
          const a = x[o0 + j] - mu;
          const b = x[o1 + j] - mu;
          const c = x[o2 + j] - mu;
          const e = x[o3 + j] - mu;
          m2[j] += a * a + b * b + (c * c + e * e);
        }
      }
      for (let i = n4; i < n; i++) {
        for (let j = 0; j < d; j++) {
          const e = x[i * d + j] - mean[j];
          m2[j] += e * e;
        }
      }
    }
  }
  return { packed: out, sq: wantSq ? sq : null };
}

/**
 * A calibration hook's accumulator for one layer input. Synchronous `update(x)` so it can run inside a forward hook
 * (which runs inside the caller's `tf.tidy`); `updateAsync` for WebGPU. Mergeable (`ActivationStats.merge`) and
 * serialisable (`toJSON` / `ActivationStats.fromJSON`), so calibration can be split into shards.
 *
 * @example
 * const stats = new ActivationStats({ name: 'h.0.attn.c_attn input', gram: true });
 * const remove = linear.registerForwardHook((_m, [x]) => stats.update(x)); // x [B, T, d]
 * for (const ids of calibration) tf.tidy(() => model.forward(ids));
 * remove();
 * const norms = stats.l2Norm();     // Wanda's ‖X_j‖₂, [d]
 * const h = stats.hessian();        // SparseGPT's H = 2/n XᵀX, [d, d] Float64Array
 * stats.dispose();
 */
export class ActivationStats {
  /** The parsed options. */
  readonly options: ActivationStatsOptions;
  private d: number | null = null;
  private n = 0;
  private nBatches = 0;
  private sq: Float64Array | null = null;
  private mx: Float64Array | null = null;
  private mom: Moments | null = null;
  /** Packed lower triangle of XᵀX (host accumulator). */
  private gramLow: Float64Array | null = null;
  /** XᵀX as a float32 tensor (device accumulator). */
  private gramDev: tf.Tensor2D | null = null;
  private out: OutputMoments | null;

  constructor(options: Partial<ActivationStatsOptions> = {}) {
    this.options = parseOptions(options);
    this.out = this.options.outputMoments ? new OutputMoments({ name: `${this.options.name} · Wᵀ` }) : null;
  }

  private get what(): string {
    return `ActivationStats '${this.options.name}'`;
  }

  /** Tokens (rows of X) seen. */
  get count(): number {
    return this.n;
  }

  /** Batches folded in. */
  get batches(): number {
    return this.nBatches;
  }

  /** Channels d, or null before the first batch. */
  get dim(): number | null {
    return this.d;
  }

  private allocate(d: number): void {
    this.d = d;
    const o = this.options;
    if (o.sqNorm) this.sq = new Float64Array(d);
    if (o.maxAbs) this.mx = new Float64Array(d);
    if (o.moments) this.mom = new Moments(d);
    if (o.gram && o.gramAccumulator === 'host-float64') this.gramLow = new Float64Array((d * (d + 1)) / 2);
  }

  private prepare(x: tf.Tensor): Pending | null {
    const { n, d } = tokenShape(x, this.what, this.d);
    if (this.d === null) this.allocate(d);
    if (n === 0) return null;
    const o = this.options;
    const layout: Pending['layout'] = ['sum'];
    if (o.moments) layout.push('mean', 'm2');
    if (o.sqNorm) layout.push('sqNorm');
    if (o.maxAbs) layout.push('maxAbs');
    // On CPU-resident backends the per-channel reductions run on the host in float64: tfjs reduces over axis 0 by
    // transposing X first (about 100 ms per reduction for 16k × 768 on wasm), one host pass over a copy is ~4x faster.
    const onHost = o.reduceOn === 'host' || (o.reduceOn === 'auto' && HOST_REDUCE_BACKENDS.has(tf.getBackend()));
    const deviceGram = o.gram && o.gramAccumulator === 'device-float32';
    const reduced = onHost ? hostReductions(hostValues(x), n, d, layout, deviceGram) : null;
    const host = reduced?.packed ?? null;
    if (host !== null && !o.gram) return { n, packed: host, layout, gram: null };
    if (reduced?.sq != null && deviceGram) {
      // The device accumulator is never read per batch: catch a float32 overflow of XᵀX here (|G_jk| <= G_jj by
      // Cauchy-Schwarz, so the diagonal bounds every entry), as the float32 reductions on the device would have.
      const j = reduced.sq.findIndex((v) => v > FLOAT32_MAX);
      if (j >= 0) {
        throw new SiftError('E_NAN', `${this.what}: batch ${String(this.nBatches)}: the Gram matrix XᵀX overflows float32 at channel ${String(j)} ` +
          `(Σx² = ${reduced.sq[j].toExponential(3)}); use gramAccumulator 'host-float64' or rescale the activations.`);
      }
    }
    // Kept explicitly: update() usually runs inside a forward hook, i.e. inside the caller's tf.tidy.
    const kept = tf.tidy((): tf.Tensor[] => {
      const x2 = tf.reshape<tf.Rank.R2>(x.dtype === 'float32' ? x : tf.cast(x, 'float32'), [n, d]); // a float32 cast would copy X
      const out: tf.Tensor[] = [];
      if (host === null) {
        const sum = tf.sum(x2, 0); // always: a cheap NaN/Inf sentinel
        const parts: tf.Tensor[] = [sum];
        if (o.moments) {
          const mean = tf.div(sum, n);
          parts.push(mean, tf.sum(tf.square(tf.sub(x2, mean)), 0));
        }
        if (o.sqNorm) parts.push(tf.sum(tf.square(x2), 0));
        if (o.maxAbs) parts.push(tf.max(tf.abs(x2), 0));
        out.push(tf.keep(tf.concat(parts, 0)));
      }
      if (o.gram) {
        const g = gramProduct(x2, n, d); // [d, d]
        out.push(tf.keep(o.gramAccumulator === 'device-float32' && this.gramDev !== null ? tf.add(this.gramDev, g) : g));
      }
      return out;
    });
    const packed = host ?? kept.shift()!;
    return { n, packed, layout, gram: kept.length > 0 ? (kept[0] as tf.Tensor2D) : null };
  }

  private discard(p: Pending): void {
    if (p.packed instanceof tf.Tensor) p.packed.dispose();
    if (p.gram !== null && p.gram !== this.gramDev) p.gram.dispose();
  }

  /** Checks every value of the batch, then (only then) folds it in. */
  private commit(p: Pending, packed: ArrayLike<number>, gram: ArrayLike<number> | null): void {
    const d = this.d!;
    const label: Record<Pending['layout'][number], string> = {
      sum: 'the per-channel sum', mean: 'the per-channel mean', m2: 'the per-channel variance',
      sqNorm: 'the per-channel sum of squares (sqNorm)', maxAbs: 'the per-channel max |x| (maxAbs)',
    };
    // Name the statistic the user asked for where possible: check the requested ones before the sum sentinel.
    const order = [...p.layout.keys()].sort((a, b) => Number(p.layout[a] === 'sum') - Number(p.layout[b] === 'sum'));
    if (gram !== null) assertFinite(gram, 0, d * d, 'the Gram matrix XᵀX', this.what, this.nBatches, d);
    for (const k of order) assertFinite(packed, k * d, (k + 1) * d, label[p.layout[k]], this.what, this.nBatches, d);
    const at = (name: Pending['layout'][number]): number => p.layout.indexOf(name) * d;
    if (this.sq !== null) {
      const o = at('sqNorm');
      for (let j = 0; j < d; j++) this.sq[j] += packed[o + j];
    }
    if (this.mx !== null) {
      const o = at('maxAbs');
      for (let j = 0; j < d; j++) this.mx[j] = Math.max(this.mx[j], packed[o + j]);
    }
    if (this.mom !== null) {
      const om = at('mean');
      const o2 = at('m2');
      this.mom.add(p.n, Array.prototype.slice.call(packed, om, om + d) as number[], Array.prototype.slice.call(packed, o2, o2 + d) as number[]);
    }
    if (gram !== null && this.gramLow !== null) {
      // Symmetrise while folding in: the lower triangle of (G + Gᵀ)/2.
      const g = this.gramLow;
      let k = 0;
      for (let i = 0; i < d; i++) {
        const row = i * d;
        for (let j = 0; j <= i; j++, k++) g[k] += 0.5 * (gram[row + j] + gram[j * d + i]);
      }
    }
    if (this.options.gram && this.options.gramAccumulator === 'device-float32' && p.gram !== null) {
      this.gramDev?.dispose();
      this.gramDev = p.gram;
    }
    this.n += p.n;
    this.nBatches += 1;
  }

  private checkWeight(weight: tf.Tensor2D | undefined): void {
    if (this.out !== null && weight === undefined) {
      throw new SiftError('E_CONFIG', `${this.what}: outputMoments is on, so update(x, weight) needs the layer's weight [out, in].`);
    }
  }

  /**
   * Folds in one batch of activations. Synchronous (reads the batch's reductions with `dataSync`), so it can run in a
   * forward hook.
   *
   * @param x       [tokens, d] or [B, T, d] (leading dimensions are flattened), float32.
   * @param weight  [out, d], the layer's weight, when `outputMoments` is on (y = x Wᵀ).
   * @throws SiftError 'E_SHAPE' (channel count changed), 'E_NAN' (non-finite values; the state is left unchanged).
   */
  update(x: tf.Tensor, weight?: tf.Tensor2D): void {
    this.checkWeight(weight);
    // Outputs first: a bad weight shape, or NaN (which reaches X Wᵀ too), then leaves everything unchanged.
    if (this.out !== null && weight !== undefined) this.out.update(x, weight);
    const p = this.prepare(x);
    if (p !== null) {
      try {
        const gram = p.gram !== null && this.gramLow !== null ? p.gram.dataSync() : null;
        // The device accumulator is checked through the sum sentinel (NaN/Inf in X make the column sums non-finite).
        this.commit(p, p.packed instanceof tf.Tensor ? p.packed.dataSync() : p.packed, gram);
      } catch (err) {
        this.discard(p);
        throw err;
      }
      if (p.packed instanceof tf.Tensor) p.packed.dispose();
      if (p.gram !== null && p.gram !== this.gramDev) p.gram.dispose();
    }
  }

  /** `update` with asynchronous reads (`await data()`), for WebGPU. */
  async updateAsync(x: tf.Tensor, weight?: tf.Tensor2D): Promise<void> {
    this.checkWeight(weight);
    if (this.out !== null && weight !== undefined) await this.out.updateAsync(x, weight);
    const p = this.prepare(x);
    if (p !== null) {
      try {
        const [packed, gram] = await Promise.all([
          p.packed instanceof tf.Tensor ? p.packed.data() : Promise.resolve(p.packed),
          p.gram !== null && this.gramLow !== null ? p.gram.data() : Promise.resolve(null),
        ]);
        this.commit(p, packed, gram);
      } catch (err) {
        this.discard(p);
        throw err;
      }
      if (p.packed instanceof tf.Tensor) p.packed.dispose();
      if (p.gram !== null && p.gram !== this.gramDev) p.gram.dispose();
    }
  }

  private need<T>(value: T | null, option: string, result: string): T {
    if (value === null && !(this.options as unknown as Record<string, unknown>)[option]) {
      throw new SiftError('E_CONFIG', `${this.what}: ${result} needs { ${option}: true } when the collector is created; it was not collected.`);
    }
    if (value === null || this.n === 0) throw emptyError(this.what, result);
    return value;
  }

  /** Σ_t x_tj² per channel, [d]. */
  sqNorm(): Float64Array {
    return this.need(this.sq, 'sqNorm', 'sqNorm()').slice();
  }

  /** ‖X_j‖₂ = √(Σ_t x_tj²) per channel, [d]: Wanda's activation norm (Sun et al. 2023, Eq. 1). */
  l2Norm(): Float64Array {
    return this.need(this.sq, 'sqNorm', 'l2Norm()').map(Math.sqrt);
  }

  /** max_t |x_tj| per channel, [d]. */
  maxAbs(): Float64Array {
    return this.need(this.mx, 'maxAbs', 'maxAbs()').slice();
  }

  /** Mean per channel, [d]. */
  mean(): Float64Array {
    return this.need(this.mom, 'moments', 'mean()').mean.slice();
  }

  /** Variance per channel, [d]: population (÷n) by default, ÷(n−1) with `unbiased`. */
  variance(options: { unbiased?: boolean } = {}): Float64Array {
    return this.need(this.mom, 'moments', 'variance()').variance(options.unbiased ?? false);
  }

  /** The Gram matrix XᵀX, [d, d] row-major float64 (symmetric). */
  gram(): Float64Array {
    const d = this.d ?? 0;
    if (this.gramDev !== null && this.n > 0) return Float64Array.from(this.gramDev.dataSync());
    const low = this.need(this.gramLow, 'gram', 'gram()');
    const g = new Float64Array(d * d);
    let k = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++, k++) {
        g[i * d + j] = low[k];
        g[j * d + i] = low[k];
      }
    }
    return g;
  }

  /**
   * SparseGPT's/GPTQ's Hessian H = 2/n XᵀX of the layer-wise loss ‖W X − Ŵ X‖², [d, d] float64 (n = tokens seen;
   * the same matrix as sparsegpt.py's running `H *= n/(n+m); H += 2/(n+m)·XᵀX`). Dampen and factor it with
   * `choleskyInverseUpper(h, { damp: 0.01 })` after `fixDeadInputs(h)`.
   */
  hessian(): Float64Array {
    if (this.n === 0) this.need(null, 'gram', 'hessian()');
    const g = this.gram();
    const s = 2 / this.n;
    for (let i = 0; i < g.length; i++) g[i] *= s;
    return g;
  }

  /** diag(H) = 2/n Σ_t x_tj², [d] (OWQ's λ_j): from sqNorm, or from the Gram matrix if sqNorm is off. */
  hessianDiag(): Float64Array {
    const s = 2 / Math.max(1, this.n);
    if (this.sq !== null || !this.options.gram) return this.need(this.sq, 'sqNorm', 'hessianDiag()').map((v) => v * s);
    const g = this.gram();
    const d = this.d!;
    return Float64Array.from({ length: d }, (_, j) => g[j * d + j] * s);
  }

  /** The per-output moments of X Wᵀ (when `outputMoments` is on). Owned by this collector. */
  outputMoments(): OutputMoments {
    if (this.out === null) throw new SiftError('E_CONFIG', `${this.what}: outputMoments() needs { outputMoments: true } when the collector is created.`);
    return this.out;
  }

  /** Plain JSON with number arrays (float64 values round-trip exactly through `JSON.stringify`). */
  toJSON(): ActivationStatsJSON {
    const json: ActivationStatsJSON = {
      format: 'sift.activation-stats', version: 1, options: { ...this.options }, dim: this.d, count: this.n, batches: this.nBatches,
    };
    if (this.sq !== null) json.sqNorm = Array.from(this.sq);
    if (this.mx !== null) json.maxAbs = Array.from(this.mx);
    if (this.mom !== null) {
      json.mean = Array.from(this.mom.mean);
      json.m2 = Array.from(this.mom.m2);
    }
    if (this.options.gram && this.d !== null) json.gramLower = Array.from(this.lowerPacked());
    if (this.out !== null) json.output = this.out.toJSON();
    return json;
  }

  private lowerPacked(): Float64Array {
    if (this.gramLow !== null) return this.gramLow;
    const d = this.d!;
    const low = new Float64Array((d * (d + 1)) / 2);
    if (this.gramDev === null) return low;
    const g = this.gramDev.dataSync();
    let k = 0;
    for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++, k++) low[k] = g[i * d + j];
    return low;
  }

  /** Restores `toJSON()`'s output (a device Gram accumulator is uploaded again). */
  static fromJSON(json: ActivationStatsJSON): ActivationStats {
    const format: string = json.format; // files from elsewhere may say anything
    const version: number = json.version;
    if (format !== 'sift.activation-stats' || version !== 1) {
      throw new SiftError('E_DATA', `ActivationStats.fromJSON: expected format 'sift.activation-stats' version 1, got ${JSON.stringify(json.format)} version ${String(json.version)}.`);
    }
    const s = new ActivationStats(json.options);
    if (json.dim === null) return s;
    const d = json.dim;
    s.allocate(d);
    const fill = (dst: Float64Array | null, src: number[] | undefined, key: string, len: number): void => {
      if (dst === null) return;
      if (src?.length !== len) {
        throw new SiftError('E_DATA', `ActivationStats.fromJSON '${json.options.name}': ${key} must have ${len} numbers, got ${src?.length ?? 'none'}.`);
      }
      dst.set(src);
    };
    fill(s.sq, json.sqNorm, 'sqNorm', d);
    fill(s.mx, json.maxAbs, 'maxAbs', d);
    if (s.mom !== null) {
      fill(s.mom.mean, json.mean, 'mean', d);
      fill(s.mom.m2, json.m2, 'm2', d);
      s.mom.count = json.count;
    }
    if (s.options.gram) {
      const low = new Float64Array((d * (d + 1)) / 2);
      fill(low, json.gramLower, 'gramLower', low.length);
      if (s.gramLow !== null) s.gramLow.set(low);
      else if (json.count > 0) s.gramDev = fullFromLower(low, d);
    }
    if (json.output !== undefined && s.out !== null) s.out = OutputMoments.fromJSON(json.output);
    s.n = json.count;
    s.nBatches = json.batches;
    return s;
  }

  /**
   * A new collector equal to one that saw every part's batches: sums add, maxima take the max, moments merge with
   * Chan's update, Gram matrices add (in float64 when any part holds a host accumulator). Empty parts are neutral;
   * the parts are unchanged. All parts must collect the same statistics.
   */
  static merge(...parts: ActivationStats[]): ActivationStats {
    if (parts.length === 0) throw new SiftError('E_EMPTY', 'ActivationStats.merge: give at least one collector.');
    const first = parts[0];
    for (const p of parts) {
      for (const k of BOOL_KEYS) {
        if (p.options[k] !== first.options[k]) {
          throw new SiftError('E_CONFIG', `ActivationStats.merge: '${p.options.name}' has ${k}: ${p.options[k]}, '${first.options.name}' has ${k}: ${first.options[k]}; merge collectors that collect the same statistics.`);
        }
      }
      if (p.d !== null && first.d !== null && p.d !== first.d) {
        throw new SiftError('E_SHAPE', `ActivationStats.merge: '${p.options.name}' has ${p.d} channels, '${first.options.name}' has ${first.d}.`);
      }
    }
    const anyHost = parts.some((p) => p.options.gramAccumulator === 'host-float64');
    const out = new ActivationStats({ ...first.options, gramAccumulator: anyHost ? 'host-float64' : 'device-float32' });
    const outs: OutputMoments[] = [];
    for (const p of parts) {
      if (p.out !== null) outs.push(p.out);
      if (p.d === null) continue;
      if (out.d === null) out.allocate(p.d);
      const d = p.d;
      if (out.sq !== null) for (let j = 0; j < d; j++) out.sq[j] += p.sq![j];
      if (out.mx !== null) for (let j = 0; j < d; j++) out.mx[j] = Math.max(out.mx[j], p.mx![j]);
      if (out.mom !== null) out.mom.add(p.mom!.count, p.mom!.mean, p.mom!.m2);
      if (out.gramLow !== null) {
        const low = p.lowerPacked();
        for (let k = 0; k < low.length; k++) out.gramLow[k] += low[k];
      } else if (p.gramDev !== null) {
        const prev = out.gramDev;
        out.gramDev = prev === null ? tf.keep(tf.clone(p.gramDev)) : tf.keep(tf.add(prev, p.gramDev));
        prev?.dispose();
      }
      out.n += p.n;
      out.nBatches += p.nBatches;
    }
    if (out.out !== null) {
      const merged = OutputMoments.merge(...outs);
      out.out.dispose();
      out.out = merged;
    }
    return out;
  }

  /** Frees the device Gram accumulator and cached tensors. The collector is unusable afterwards. */
  dispose(): void {
    this.gramDev?.dispose();
    this.gramDev = null;
    this.out?.dispose();
  }
}

function fullFromLower(low: Float64Array, d: number): tf.Tensor2D {
  const g = new Float32Array(d * d);
  let k = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++, k++) {
      g[i * d + j] = low[k];
      g[j * d + i] = low[k];
    }
  }
  return tf.keep(tf.tensor2d(g, [d, d]));
}
