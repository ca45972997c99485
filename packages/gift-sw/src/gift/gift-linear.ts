/**
 * `GiftLinear`: a linear layer split into frozen non-salient columns and k trainable salient columns, with GIFT-SW's
 * noise on the frozen part during training (arXiv:2408.15300, §3, Eq. 5–6):
 *
 *     W̃ = [ W_s ,  W_ns + ½ · diag(Δ) · Ω ],  Ω_ij ~ N(0, 1),  Δ_i = α_i / (2^{b−1} − 1).
 *
 * Forward (no concat-and-permute as in the reference repo): y = x W̃_nsᵀ + x[:, s] W_sᵀ + b, where `weight` holds W
 * with the salient columns set to zero, frozen (backward skips its gradient), and `salient_weight` [out, k] is the
 * only trainable tensor, so gradients and optimizer state touch only the k columns.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Linear, SiftError, fmtShape, linear, type Parameter, type Rng } from '@sift/tensor-core';
import { columnMask, rowScales, type QuantBits } from '../quant/grid.js';
import { mergedLinear } from '../targets.js';

/** The noise distribution: GIFT-SW's ½Δ·N(0, 1) (`'normal'`), or the reference repo's (U[0,1) − ½)·Δ (`'uniform'`). */
export type NoiseType = 'normal' | 'uniform';

/** Options of `GiftLinear.fromLinear`. */
export interface GiftLinearOptions {
  /** Salient input columns (k distinct indices in [0, in)); they train, in full precision, without noise. */
  salient: ArrayLike<number>;
  /** Add noise to the frozen columns in training mode. Default true. */
  noise?: boolean;
  /** Bits b of the grid that sets Δ (GIFT-SW: the target bit width before quantization, 4 after). Default 4. */
  noiseBits?: QuantBits;
  /** Distribution of the noise. Default `'normal'`. */
  noiseType?: NoiseType;
  /** Δ per output row [out], e.g. from a checkpoint; default: searched on the non-salient columns (MSE clip search). */
  delta?: ArrayLike<number>;
  /** The noise stream (required when `noise` is on). */
  rng?: Rng;
}

/**
 * A `Linear` whose trainable part is k salient input columns (GIFT-SW). Build it with `GiftLinear.fromLinear`; put it
 * in a model with `applyGiftSw` (or `model.replace`). `merge()` gives back a plain `Linear`.
 * @example
 * const g = GiftLinear.fromLinear(fc, { salient: [3, 17], rng: new Rng(0) });
 * g.train();   // forward adds ½Δ·N(0,1) to the frozen columns
 * g.eval();    // no noise
 * const plain = g.merge();
 */
export class GiftLinear extends Linear {
  /** Salient input columns, ascending. */
  readonly salient: Int32Array;
  /** Whether training-mode forwards add noise. */
  readonly noise: boolean;
  /** The noise grid's bit width. */
  readonly noiseBits: QuantBits;
  /** The noise distribution. */
  readonly noiseType: NoiseType;
  /** The noise generator, or null without noise (saved and restored by `fineTune` checkpoints). */
  readonly rng: Rng | null;

  /**
   * Splits a `Linear` (its current weights are copied; the original is left as is). Same as `GiftLinear.fromLinear`.
   * @throws SiftError 'E_CONFIG' for bad salient indices, a missing `rng` with noise on, or a bad `delta`
   */
  constructor(layer: Linear, options: GiftLinearOptions) {
    const plan = GiftLinear.plan(layer, options);
    super({ inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, bias: layer.bias !== null, weightInit: 'zeros', biasInit: 'zeros' });
    const { salient, delta } = plan;
    this.salient = salient;
    this.noise = plan.noise;
    this.noiseBits = plan.noiseBits;
    this.noiseType = plan.noiseType;
    this.rng = options.rng ?? null;
    const inF = layer.inFeatures;
    const out = layer.outFeatures;
    const w = layer.weight.dataSync();
    const frozen = Float32Array.from(w);
    const k = salient.length;
    const sw = new Float32Array(out * k);
    for (let i = 0; i < out; i++) {
      for (let t = 0; t < k; t++) {
        sw[i * k + t] = w[i * inF + salient[t]];
        frozen[i * inF + salient[t]] = 0;
      }
    }
    tf.tidy(() => {
      this.weight.assign(tf.tensor2d(frozen, [out, inF]));
      if (layer.bias !== null) this.bias!.assign(layer.bias);
    });
    this.weight.trainable = false;
    if (this.bias !== null) this.bias.trainable = false;
    this.addParameter('salient_weight', tf.tensor2d(sw, [out, k]), { trainable: true });
    this.addBuffer('salient_idx', tf.tensor1d(salient, 'int32'));
    this.addBuffer('delta', tf.tensor1d(delta));
    const nsMask = new Float32Array(inF).fill(1);
    for (const j of salient) nsMask[j] = 0;
    this.addBuffer('noise_mask', tf.tensor2d(nsMask, [1, inF]), { persistent: false });
    // P [k, in] one-hot, P[t, salient[t]] = 1: W_s · P scatters the salient columns back (built on the host: tfjs-wasm's
    // oneHot with a float32 dtype writes integer bits).
    const p = new Float32Array(k * inF);
    for (let t = 0; t < k; t++) p[t * inF + salient[t]] = 1;
    this.addBuffer('scatter', tf.tensor2d(p, [k, inF]), { persistent: false });
  }

  /** Validates the options before anything is allocated. */
  private static plan(layer: Linear, options: GiftLinearOptions):
  { salient: Int32Array; delta: Float32Array; noise: boolean; noiseBits: QuantBits; noiseType: NoiseType } {
    const inF = layer.inFeatures;
    const out = layer.outFeatures;
    const mask = columnMask(inF, options.salient, 'GiftLinear');
    const salient = Int32Array.from(options.salient).sort();
    const noise = options.noise ?? true;
    const noiseBits = options.noiseBits ?? 4;
    const noiseType = options.noiseType ?? 'normal';
    const nt: string = noiseType; // options may come from JSON
    if (nt !== 'normal' && nt !== 'uniform') {
      throw new SiftError('E_CONFIG', `GiftLinear: noiseType must be 'normal' or 'uniform', got ${JSON.stringify(noiseType)}.`);
    }
    if (noise && options.rng === undefined) {
      throw new SiftError('E_CONFIG', 'GiftLinear: noise is on, so an rng is needed (pass rng: new Rng(seed).fork(name)), or set noise: false.');
    }
    let delta: Float32Array;
    if (options.delta === undefined) delta = rowScales(layer.weight.dataSync(), out, inF, mask, { bits: noiseBits });
    else {
      delta = Float32Array.from(options.delta);
      if (delta.length !== out || delta.some((d) => !(d >= 0 && Number.isFinite(d)))) {
        throw new SiftError('E_CONFIG', `GiftLinear: delta must hold ${out} finite values >= 0 (one per output row), got ${delta.length}.`);
      }
    }
    return { salient, delta, noise, noiseBits, noiseType };
  }

  /** Splits a `Linear` (see the constructor). */
  static fromLinear(layer: Linear, options: GiftLinearOptions): GiftLinear {
    return new GiftLinear(layer, options);
  }

  /** The trainable salient columns W_s [out, k] (column t is input column `salient[t]`). */
  get salientWeight(): Parameter {
    return this.param('salient_weight');
  }

  /** Δ per output row [out] (a copy). */
  delta(): Float32Array {
    return Float32Array.from(this.buffer('delta').dataSync());
  }

  /** Number of salient columns k. */
  get k(): number {
    return this.salient.length;
  }

  /** Host copies of the `delta` and `noise_mask` buffers for `sampleNoise`, refreshed when a buffer is replaced. */
  private noiseScale: { deltaT: tf.Tensor; maskT: tf.Tensor; delta: Float32Array; mask: Float32Array } | null = null;

  /**
   * ½Δ_i·Ω_ij (or (U − ½)·Δ_i) on the non-salient columns, 0 on the salient ones: [out, in]. Drawn and scaled on the
   * host, then uploaded once, with no [out, in] temporaries on the backend. On IEEE float32 backends (wasm, cpu, WebGPU)
   * this is bit-identical to multiplying on the device: the mask is 0/1, ½Δ_i is exact, and a product of two float32
   * values computed in float64 and rounded once to float32 is the float32 product.
   */
  private sampleNoise(): tf.Tensor {
    const rng = this.rng!;
    const out = this.outFeatures;
    const inF = this.inFeatures;
    const deltaT = this.buffer('delta');
    const maskT = this.buffer('noise_mask');
    let c = this.noiseScale;
    if (c?.deltaT !== deltaT || c.maskT !== maskT) {
      c = { deltaT, maskT, delta: Float32Array.from(deltaT.dataSync()), mask: Float32Array.from(maskT.dataSync()) };
      this.noiseScale = c;
    }
    const v = new Float32Array(out * inF);
    const normal = this.noiseType === 'normal';
    if (normal) rng.fillNormal(v);
    else rng.fillUniform(v, -0.5, 0.5);
    const { delta, mask } = c;
    for (let i = 0; i < out; i++) {
      const s = normal ? delta[i] * 0.5 : delta[i];
      const o = i * inF;
      for (let j = 0; j < inF; j++) v[o + j] = v[o + j] * s * mask[j];
    }
    return tf.tensor2d(v, [out, inF]);
  }

  /** The full weight [out, in] with the salient columns in place and no noise (what `merge()` stores). */
  override effectiveWeight(): tf.Tensor {
    return tf.tidy(() => {
      const k = this.k;
      if (k === 0) return tf.clone(this.weight);
      // Scatter W_s [out, k] into [out, in] as W_s · P with P [k, in] one-hot (differentiable w.r.t. W_s).
      return tf.add(this.weight, tf.matMul(this.salientWeight, this.buffer('scatter')));
    });
  }

  /** [..., in] -> [..., out]: x W̃_nsᵀ + x[..., s] W_sᵀ + b, noise only in training mode. */
  override forward(x: tf.Tensor): tf.Tensor {
    const inF = this.inFeatures;
    if (x.rank < 1 || x.shape[x.rank - 1] !== inF) {
      throw new SiftError('E_SHAPE', `GiftLinear: input ${fmtShape(x.shape)} must end in in_features ${inF}.`);
    }
    return tf.tidy(() => {
      const w = this.training && this.noise ? tf.add(this.weight, this.sampleNoise()) : this.weight;
      const frozenGrad = this.weight.trainable || this.bias?.trainable === true;
      const y = linear(x, w, this.bias, { weightGrad: frozenGrad });
      if (this.k === 0) return y;
      const lead = x.shape.slice(0, -1);
      const xs = tf.gather(tf.reshape(x, [-1, inF]), this.buffer('salient_idx'), 1);
      const ys = linear(xs, this.salientWeight, null, { weightGrad: this.salientWeight.trainable });
      return tf.add(y, tf.reshape(ys, [...lead, this.outFeatures]));
    });
  }

  /** A plain `Linear` with the salient columns written back (noise is never written back). */
  merge(): Linear {
    return mergedLinear(this);
  }
}
