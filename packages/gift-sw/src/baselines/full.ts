/**
 * Full fine-tuning baselines of GIFT-SW §4.4 and §4.2: every weight trains, optionally with the same pseudo-quantization
 * noise ½Δ·N(0, 1) on all weights of the target linears (`NoisyLinear`, Table 6's "full FT with noise"), and STE
 * quantization-aware training (`SteLinear`: the forward uses Q(W) on a fixed per-row grid, backward passes the
 * gradient straight through; salient columns train in full precision, as the paper's STE baseline).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Linear, Rng, SiftError, linear, type Module } from '@sift/tensor-core';
import { QUANT_BITS, columnMask, qmax, rowScales, type QuantBits } from '../quant/grid.js';
import { TARGET_DEFAULTS, countParams, mergedLinear, targetLinears, type TargetOptions } from '../targets.js';

function copyInto(dst: Linear, src: Linear): void {
  tf.tidy(() => {
    dst.weight.assign(src.weight);
    if (src.bias !== null) dst.bias!.assign(src.bias);
  });
}

/**
 * A fully trainable `Linear` that adds ½Δ_i·N(0, 1) to every weight in training mode (Δ per output row from the b-bit
 * grid of the initial weight, fixed), none in eval mode.
 */
export class NoisyLinear extends Linear {
  /** Bits of the noise grid. */
  readonly noiseBits: QuantBits;
  /** The noise generator (saved and restored by `fineTune` checkpoints). */
  readonly rng: Rng;

  constructor(base: Linear, options: { noiseBits: QuantBits; rng: Rng }) {
    super({ inFeatures: base.inFeatures, outFeatures: base.outFeatures, bias: base.bias !== null, weightInit: 'zeros', biasInit: 'zeros' });
    copyInto(this, base);
    this.noiseBits = options.noiseBits;
    this.rng = options.rng;
    const delta = rowScales(base.weight.dataSync(), base.outFeatures, base.inFeatures, null, { bits: options.noiseBits });
    this.addBuffer('delta', tf.tensor2d(delta, [base.outFeatures, 1]));
  }

  override effectiveWeight(): tf.Tensor {
    if (!this.training) return this.weight;
    return tf.tidy(() => tf.add(this.weight, tf.mul(this.rng.normalTensor([this.outFeatures, this.inFeatures]), tf.mul(this.buffer('delta'), 0.5))));
  }

  /** A plain `Linear` with the current weights. */
  merge(): Linear {
    return Linear.fromWeights(this.weight, this.bias);
  }
}

/**
 * Quantization-aware training with the straight-through estimator: forward with Q(W) (non-salient columns on the
 * b-bit per-row grid, Δ fixed from the initial weight; salient columns as they are), backward as if Q were the
 * identity. Eval mode uses Q(W) too; `merge()` stores Q(W).
 */
export class SteLinear extends Linear {
  /** Bits of the grid. */
  readonly bits: QuantBits;
  /** Salient (full-precision) columns, ascending. */
  readonly salient: Int32Array;

  constructor(base: Linear, options: { bits: QuantBits; salient?: ArrayLike<number>; clipSearch?: boolean }) {
    super({ inFeatures: base.inFeatures, outFeatures: base.outFeatures, bias: base.bias !== null, weightInit: 'zeros', biasInit: 'zeros' });
    copyInto(this, base);
    this.bits = options.bits;
    const mask = columnMask(base.inFeatures, options.salient ?? [], 'SteLinear');
    this.salient = Int32Array.from(options.salient ?? []).sort();
    const delta = rowScales(base.weight.dataSync(), base.outFeatures, base.inFeatures, mask, { bits: options.bits, clipSearch: options.clipSearch ?? true });
    // Δ' = Δ with 0 replaced by 1 (an all-zero row quantizes to 0 either way), and the 0/1 quantize mask [1, in].
    this.addBuffer('delta', tf.tensor2d(delta.map((d) => (d === 0 ? 1 : d)), [base.outFeatures, 1]));
    this.addBuffer('quant_mask', tf.tensor2d(Float32Array.from(mask, (m) => 1 - m), [1, base.inFeatures]), { persistent: false });
  }

  /** Q(W) with a straight-through gradient. */
  override effectiveWeight(): tf.Tensor {
    const delta = this.buffer('delta');
    const qm = this.buffer('quant_mask');
    const hi = qmax(this.bits);
    const ste = tf.customGrad((wIn: tf.Tensor | tf.GradSaveFunc) => {
      const w = wIn as tf.Tensor;
      const q = tf.mul(tf.clipByValue(tf.round(tf.div(w, delta)), -hi - 1, hi), delta);
      return { value: tf.add(tf.mul(q, qm), tf.mul(w, tf.sub(1, qm))), gradFunc: (dy: tf.Tensor) => dy };
    });
    return tf.tidy(() => ste(this.weight));
  }

  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => linear(x, this.effectiveWeight(), this.bias, { weightGrad: this.weightNeedsGrad() }));
  }

  /** A plain `Linear` holding Q(W). */
  merge(): Linear {
    return mergedLinear(this);
  }
}

/** Options of `applyFullFineTuning`. */
export interface FullFineTuneOptions extends TargetOptions {
  /** Add ½Δ·N(0,1) to the target linears' weights in training. */
  noise: boolean;
  /** Bits of the noise grid. */
  noiseBits: QuantBits;
  /** Seed of the noise streams. */
  seed: number;
}

/** Defaults of `FullFineTuneOptions`: no noise (4-bit grid when on). */
export const FULL_FT_DEFAULTS: Readonly<FullFineTuneOptions> = Object.freeze({ ...TARGET_DEFAULTS, noise: false, noiseBits: 4, seed: 0 });

/** What `applyFullFineTuning` / `applySte` did. */
export interface FullFineTuneReport {
  kind: 'full' | 'full-noise' | 'ste';
  layers: string[];
  trainableParams: number;
  totalParams: number;
}

/**
 * Unfreezes every parameter; with `noise`, target linears become `NoisyLinear`s.
 * @example
 * applyFullFineTuning(model, { noise: true, noiseBits: 4 });
 */
export function applyFullFineTuning(model: Module, options: Partial<FullFineTuneOptions> = {}): FullFineTuneReport {
  const o: FullFineTuneOptions = { ...FULL_FT_DEFAULTS, ...options };
  if (!QUANT_BITS.includes(o.noiseBits)) throw new SiftError('E_CONFIG', `applyFullFineTuning: noiseBits must be one of ${QUANT_BITS.join(', ')}, got ${o.noiseBits}.`);
  const layers: string[] = [];
  if (o.noise) {
    const root = new Rng(o.seed);
    for (const [name, lin] of targetLinears(model, o, 'applyFullFineTuning')) {
      const n = new NoisyLinear(lin, { noiseBits: o.noiseBits, rng: root.fork(`noise:${name}`) });
      n.train(lin.training);
      model.replace(name, n).dispose();
      layers.push(name);
    }
  }
  model.unfreeze();
  const c = countParams(model);
  return { kind: o.noise ? 'full-noise' : 'full', layers, trainableParams: c.trainable, totalParams: c.total };
}

/** Options of `applySte`. */
export interface SteOptions extends TargetOptions {
  /** Bits of the quantized (non-salient) weights. */
  bits: QuantBits;
  /** MSE clip search for the fixed grid. */
  clipSearch: boolean;
}

/** Defaults of `SteOptions`. */
export const STE_DEFAULTS: Readonly<SteOptions> = Object.freeze({ ...TARGET_DEFAULTS, bits: 4, clipSearch: true });

/**
 * STE quantization-aware training on all weights: target linears become `SteLinear`s (salient columns from
 * `salient` by name stay in full precision), and every parameter trains.
 */
export function applySte(model: Module, options: Partial<SteOptions> = {}, salient: Readonly<Record<string, ArrayLike<number>>> = {}): FullFineTuneReport {
  const o: SteOptions = { ...STE_DEFAULTS, ...options };
  if (!QUANT_BITS.includes(o.bits)) throw new SiftError('E_CONFIG', `applySte: bits must be one of ${QUANT_BITS.join(', ')}, got ${o.bits}.`);
  const layers: string[] = [];
  for (const [name, lin] of targetLinears(model, o, 'applySte')) {
    const s = new SteLinear(lin, { bits: o.bits, salient: salient[name] ?? [], clipSearch: o.clipSearch });
    s.train(lin.training);
    model.replace(name, s).dispose();
    layers.push(name);
  }
  model.unfreeze();
  const c = countParams(model);
  return { kind: 'ste', layers, trainableParams: c.trainable, totalParams: c.total };
}
