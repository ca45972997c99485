/**
 * LoRA (Hu et al. 2022) and DoRA (Liu et al. 2024) on tensor-core `Linear`s: the baselines of GIFT-SW §4.4, on the
 * same target modules, with the rank chosen for an equal budget (`loraRankForBudget`).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  Linear, Rng, SiftError, dropout, kaimingUniform, initTensor, linear, type Module, type Parameter,
} from '@sift/tensor-core';
import { TARGET_DEFAULTS, countParams, mergedLinear, targetLinears, type TargetOptions } from '../targets.js';

/** Options of `applyLora` / `applyDora`. */
export interface LoraOptions extends TargetOptions {
  /** Rank r of the update B·A. */
  rank: number;
  /** Scale numerator: the update is (alpha / r)·B·A. */
  alpha: number;
  /** Dropout on the adapter's input, in [0, 1). */
  dropout: number;
  /** Seed of A's init and of dropout (each layer forks by name). */
  seed: number;
}

/** Defaults of `LoraOptions` (the LoRA paper / PEFT: alpha = 2r is common; here alpha 16 at r 8, dropout 0.05). */
export const LORA_DEFAULTS: Readonly<LoraOptions> = Object.freeze({ ...TARGET_DEFAULTS, rank: 8, alpha: 16, dropout: 0.05, seed: 0 });

function parseLoraOptions(input: Partial<LoraOptions>, where: string): LoraOptions {
  const o: LoraOptions = { ...LORA_DEFAULTS, ...input };
  if (!(Number.isInteger(o.rank) && o.rank >= 1)) throw new SiftError('E_CONFIG', `${where}: rank must be a positive integer, got ${o.rank}.`);
  if (!(Number.isFinite(o.alpha) && o.alpha > 0)) throw new SiftError('E_CONFIG', `${where}: alpha must be > 0, got ${o.alpha}.`);
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new SiftError('E_CONFIG', `${where}: dropout must be in [0, 1), got ${o.dropout}.`);
  return o;
}

/**
 * LoRA's rank for the same number of trainable parameters as k salient columns: k·out = r·(in + out), so
 * r = round(k·out / (in + out)), at least 1 (r ≈ k/2 for square layers).
 * @example
 * loraRankForBudget(8, 256, 256); // 4
 */
export function loraRankForBudget(k: number, outFeatures: number, inFeatures: number): number {
  if (!(k > 0 && outFeatures > 0 && inFeatures > 0)) throw new SiftError('E_CONFIG', `loraRankForBudget: k, out and in must be > 0, got ${k}, ${outFeatures}, ${inFeatures}.`);
  return Math.max(1, Math.round((k * outFeatures) / (inFeatures + outFeatures)));
}

/**
 * y = x Wᵀ + b + (α/r) · drop(x) Aᵀ Bᵀ with W, b frozen, A [r, in] (kaiming-uniform init) and B [out, r] (zeros), so
 * the layer equals the base layer at initialisation.
 */
export class LoraLinear extends Linear {
  /** Rank r. */
  readonly rank: number;
  /** α / r. */
  readonly scaling: number;
  /** Dropout probability on the adapter path. */
  readonly dropoutP: number;
  /** The dropout generator (saved and restored by `fineTune` checkpoints). */
  readonly rng: Rng;

  constructor(base: Linear, options: { rank: number; alpha: number; dropout: number; rng: Rng }) {
    super({ inFeatures: base.inFeatures, outFeatures: base.outFeatures, bias: base.bias !== null, weightInit: 'zeros', biasInit: 'zeros' });
    this.rank = options.rank;
    this.scaling = options.alpha / options.rank;
    this.dropoutP = options.dropout;
    this.rng = options.rng;
    tf.tidy(() => {
      this.weight.assign(base.weight);
      if (base.bias !== null) this.bias!.assign(base.bias);
    });
    this.weight.trainable = false;
    if (this.bias !== null) this.bias.trainable = false;
    this.addParameter('lora_A', initTensor([options.rank, base.inFeatures], kaimingUniform(base.inFeatures), options.rng.fork('A'), 'LoraLinear.lora_A'));
    this.addParameter('lora_B', tf.zeros([base.outFeatures, options.rank]));
  }

  /** A [r, in]. */
  get loraA(): Parameter {
    return this.param('lora_A');
  }

  /** B [out, r]. */
  get loraB(): Parameter {
    return this.param('lora_B');
  }

  /** W + (α/r)·B·A [out, in]. */
  override effectiveWeight(): tf.Tensor {
    return tf.tidy(() => tf.add(this.weight, tf.mul(tf.matMul(this.loraB, this.loraA), this.scaling)));
  }

  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = linear(x, this.weight, this.bias, { weightGrad: this.weightNeedsGrad() });
      const xd = this.training && this.dropoutP > 0 ? dropout(x, this.dropoutP, this.rng) : x;
      const u = linear(linear(xd, this.loraA), this.loraB);
      return tf.add(y, tf.mul(u, this.scaling));
    });
  }

  /** A plain `Linear` with the update folded in. */
  merge(): Linear {
    return mergedLinear(this);
  }
}

/**
 * DoRA (Liu et al. 2024, Eq. 5): W' = m ⊙ V / ‖V‖ with V = W + (α/r)·B·A and the norm per output row (PEFT's
 * `weight_norm` over the input axis for a [out, in] weight), m [out] trainable and initialised to ‖W‖, so W' = W at
 * init. The norm is treated as a constant in backward, as the DoRA paper (§4.3) and PEFT do.
 */
export class DoraLinear extends LoraLinear {
  constructor(base: Linear, options: { rank: number; alpha: number; dropout: number; rng: Rng }) {
    super(base, options);
    this.addParameter('magnitude', tf.tidy(() => tf.sqrt(tf.sum(tf.square(base.weight), 1))));
  }

  /** m [out]. */
  get magnitude(): Parameter {
    return this.param('magnitude');
  }

  /** m / ‖V‖_row as [out, 1], the norm detached (a customGrad with a zero gradient). */
  private magnitudeScale(v: tf.Tensor): tf.Tensor {
    const shape = v.shape;
    const norm = tf.customGrad((t: tf.Tensor | tf.GradSaveFunc) => ({
      value: tf.sqrt(tf.sum(tf.square(t as tf.Tensor), 1, true)), gradFunc: () => tf.zeros(shape),
    }))(v);
    return tf.div(tf.reshape(this.magnitude, [this.outFeatures, 1]), norm);
  }

  /** m ⊙ V / ‖V‖_row [out, in]. */
  override effectiveWeight(): tf.Tensor {
    return tf.tidy(() => {
      const v = super.effectiveWeight();
      return tf.mul(v, this.magnitudeScale(v));
    });
  }

  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      // PEFT's DoRA applies dropout to the adapter path only; with dropout 0 this is x W'ᵀ + b exactly.
      if (!(this.training && this.dropoutP > 0)) return linear(x, this.effectiveWeight(), this.bias);
      const mScale = tf.reshape(this.magnitudeScale(super.effectiveWeight()), [1, this.outFeatures]);
      const base = linear(x, this.weight, null, { weightGrad: false });
      const xd = dropout(x, this.dropoutP, this.rng);
      const u = tf.mul(linear(linear(xd, this.loraA), this.loraB), this.scaling);
      const y = tf.mul(tf.add(base, u), mScale);
      return this.bias === null ? y : tf.add(y, this.bias);
    });
  }
}

/** What `applyLora` / `applyDora` did. */
export interface LoraReport {
  options: LoraOptions;
  kind: 'lora' | 'dora';
  layers: { name: string; inFeatures: number; outFeatures: number; rank: number }[];
  trainableParams: number;
  totalParams: number;
}

function applyAdapter(kind: 'lora' | 'dora', model: Module, options: Partial<LoraOptions>): LoraReport {
  const where = kind === 'lora' ? 'applyLora' : 'applyDora';
  const o = parseLoraOptions(options, where);
  const linears = targetLinears(model, o, where);
  model.freeze();
  const root = new Rng(o.seed);
  const layers: LoraReport['layers'] = [];
  for (const [name, lin] of linears) {
    if (lin instanceof LoraLinear) throw new SiftError('E_CONFIG', `${where}: "${name}" already has an adapter; merge first (mergeAdapters).`);
    const opts = { rank: o.rank, alpha: o.alpha, dropout: o.dropout, rng: root.fork(name) };
    const a = kind === 'lora' ? new LoraLinear(lin, opts) : new DoraLinear(lin, opts);
    a.train(lin.training);
    model.replace(name, a).dispose();
    layers.push({ name, inFeatures: a.inFeatures, outFeatures: a.outFeatures, rank: o.rank });
  }
  const c = countParams(model);
  return { options: o, kind, layers, trainableParams: c.trainable, totalParams: c.total };
}

/**
 * Wraps every target linear in a `LoraLinear` and freezes the rest of the model.
 * @example
 * const r = applyLora(model, { rank: loraRankForBudget(8, 256, 256), targets: ['h.*.**'] });
 */
export function applyLora(model: Module, options: Partial<LoraOptions> = {}): LoraReport {
  return applyAdapter('lora', model, options);
}

/** Wraps every target linear in a `DoraLinear` and freezes the rest of the model. */
export function applyDora(model: Module, options: Partial<LoraOptions> = {}): LoraReport {
  return applyAdapter('dora', model, options);
}
