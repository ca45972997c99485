import * as tf from '@tensorflow/tfjs-core';
import { SiftError } from '../errors.js';
import type { NamedParams } from './grads.js';
import { Optimizer, type OptimizerBaseOptions, type ParamEntry } from './optimizer.js';

/** Options of `AdamW`. */
export interface AdamWOptions extends OptimizerBaseOptions {
  /** Exponential decay of the first and second moment estimates. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator. Default 1e-8. */
  eps?: number;
}

/** Defaults of `AdamWOptions` (PyTorch's `torch.optim.AdamW`). */
export const ADAMW_DEFAULTS: { lr: number; betas: readonly [number, number]; eps: number; weightDecay: number } = {
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 1e-2,
};

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter 2019), step for step as PyTorch's `torch.optim.AdamW`:
 *   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps),
 * t counting this parameter's steps. Slots `exp_avg`, `exp_avg_sq`.
 * @example
 * const opt = new AdamW(model, { lr: warmupCosine({ baseLr: 3e-4, warmupSteps: 100, totalSteps: 5000 }),
 *   weightDecay: 0.1, noDecay: noDecayRank1 });
 * tf.tidy(() => opt.step(valueAndGrads(model, loss).grads));
 */
export class AdamW extends Optimizer {
  /** β1, β2 */
  readonly betas: readonly [number, number];
  /** eps */
  readonly eps: number;
  protected readonly slotNames: readonly string[] = ['exp_avg', 'exp_avg_sq'];
  protected readonly kind: string = 'adamw';

  constructor(params: NamedParams, options: AdamWOptions = {}) {
    super(params, { lr: ADAMW_DEFAULTS.lr, ...options }, ADAMW_DEFAULTS.weightDecay);
    const betas = options.betas ?? ADAMW_DEFAULTS.betas;
    const eps = options.eps ?? ADAMW_DEFAULTS.eps;
    if (!betas.every((b) => b >= 0 && b < 1)) throw new SiftError('E_CONFIG', `AdamW: betas must be in [0, 1), got [${betas.join(', ')}].`);
    if (!(eps > 0)) throw new SiftError('E_CONFIG', `AdamW: eps must be > 0, got ${eps}.`);
    this.betas = betas;
    this.eps = eps;
  }

  protected update(
    e: ParamEntry, g: tf.Tensor, slots: ReadonlyMap<string, tf.Tensor>, lr: number, t: number,
  ): { value: tf.Tensor; slots: Map<string, tf.Tensor> } {
    const [b1, b2] = this.betas;
    const m0 = slots.get('exp_avg') ?? tf.zerosLike(g);
    const v0 = slots.get('exp_avg_sq') ?? tf.zerosLike(g);
    const m = tf.add(tf.mul(m0, b1), tf.mul(g, 1 - b1));
    const v = tf.add(tf.mul(v0, b2), tf.mul(tf.square(g), 1 - b2));
    const stepSize = lr / (1 - Math.pow(b1, t));
    const bc2Sqrt = Math.sqrt(1 - Math.pow(b2, t));
    const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), this.eps);
    const decayed = e.weightDecay === 0 ? e.param : tf.mul(e.param, 1 - lr * e.weightDecay);
    const value = tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize));
    return { value, slots: new Map([['exp_avg', m], ['exp_avg_sq', v]]) };
  }
}
