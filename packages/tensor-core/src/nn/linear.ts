import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import type { Rng } from '../random/rng.js';
import { linear } from './functional.js';
import { checkPositiveInt, type Init, initTensor, kaimingUniform, withDefaults } from './init.js';
import { Module, type Parameter } from './module.js';

/** Options of `Linear`. */
export interface LinearOptions {
  /** Input features (`in`). */
  inFeatures: number;
  /** Output features (`out`). */
  outFeatures: number;
  /** Learn a bias [out]. Default true. */
  bias?: boolean;
  /** Generator for random inits (required unless both inits are deterministic). */
  rng?: Rng;
  /** Weight init. Default PyTorch's: U(-1/√in, 1/√in) (`kaiming_uniform_(a=√5)`). GPT-2 uses `{ std: 0.02 }`. */
  weightInit?: Init;
  /** Bias init. Default PyTorch's: U(-1/√in, 1/√in). GPT-2 uses `'zeros'`. */
  biasInit?: Init;
}

/** Defaults of `LinearOptions` (`undefined` inits mean PyTorch's kaiming-uniform bound 1/√in). */
export const LINEAR_DEFAULTS: { bias: boolean } = { bias: true };

/**
 * A fully connected layer, y = x Wᵀ + b, with PyTorch's layout: `weight` [out, in], `bias` [out]. The unit every
 * compression method works on: find them with `findLinears`, swap them with `Module.replace`.
 *
 * Forward: [..., in] -> [..., out]. It calls forward hooks (`registerForwardHook`), so calibration can collect
 * inputs/outputs.
 *
 * Subclassing (MaskedLinear, GiftLinear, LoraLinear): override `effectiveWeight()` to change the weight used in the
 * product (gradients follow it: W ⊙ M masks the gradient too), or override `forward` entirely; `weight` stays the
 * [out, in] variable either way. Use the functional `linear(x, w, b)` inside custom forwards.
 *
 * @example
 * const fc = new Linear({ inFeatures: 256, outFeatures: 1024, rng: new Rng(0) });
 * const y = fc.forward(x);              // x: [B, T, 256] -> [B, T, 1024]
 * fc.weight.shape;                      // [1024, 256]
 */
export class Linear extends Module<[tf.Tensor], tf.Tensor> {
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;

  constructor(options: LinearOptions) {
    super();
    const o = withDefaults(LINEAR_DEFAULTS, options);
    checkPositiveInt('Linear', 'inFeatures', o.inFeatures);
    checkPositiveInt('Linear', 'outFeatures', o.outFeatures);
    this.inFeatures = o.inFeatures;
    this.outFeatures = o.outFeatures;
    const defaultInit = kaimingUniform(o.inFeatures);
    this.addParameter('weight', initTensor([o.outFeatures, o.inFeatures], o.weightInit ?? defaultInit, o.rng, 'Linear.weight'));
    if (o.bias) this.addParameter('bias', initTensor([o.outFeatures], o.biasInit ?? defaultInit, o.rng, 'Linear.bias'));
  }

  /**
   * A Linear holding copies of the given tensors (the caller keeps its own).
   * @param weight [out, in]
   * @param bias [out] or null
   */
  static fromWeights(weight: tf.Tensor, bias: tf.Tensor | null = null): Linear {
    if (weight.rank !== 2) throw new SiftError('E_SHAPE', `Linear.fromWeights: weight must be [out, in], got ${fmtShape(weight.shape)}.`);
    const [out, inF] = weight.shape as [number, number];
    const layer = new Linear({ inFeatures: inF, outFeatures: out, bias: bias !== null, weightInit: 'zeros', biasInit: 'zeros' });
    const sd: Record<string, tf.Tensor> = { weight };
    if (bias !== null) sd.bias = bias;
    layer.loadStateDict(sd);
    return layer;
  }

  /** The weight variable, [out, in]. */
  get weight(): Parameter {
    return this.param('weight');
  }

  /** The bias variable [out], or null. */
  get bias(): Parameter | null {
    return this.hasParameter('bias') ? this.param('bias') : null;
  }

  /**
   * The weight used by `forward`, [out, in]. Override to mask, quantize or add noise; what it returns must be
   * differentiable w.r.t. the variables that should train (it is called inside the forward's tidy).
   */
  effectiveWeight(): tf.Tensor {
    return this.weight;
  }

  /** The bias used by `forward`, [out] or null. */
  effectiveBias(): tf.Tensor | null {
    return this.bias;
  }

  /**
   * Whether backward must compute the weight's gradient: false skips the `dyᵀx` product for frozen weights.
   * Default: `weight.trainable` (and the bias's flag when there is one).
   */
  protected weightNeedsGrad(): boolean {
    const b = this.bias;
    return this.weight.trainable || b?.trainable === true;
  }

  /** [..., in] -> [..., out] */
  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => linear(x, this.effectiveWeight(), this.effectiveBias(), { weightGrad: this.weightNeedsGrad() }));
  }
}
