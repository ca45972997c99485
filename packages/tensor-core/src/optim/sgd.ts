import * as tf from '@tensorflow/tfjs-core';
import { SiftError } from '../errors.js';
import { withDefaults } from '../nn/init.js';
import type { NamedParams } from './grads.js';
import { Optimizer, type OptimizerBaseOptions, type ParamEntry } from './optimizer.js';

/** Options of `SGD`. */
export interface SGDOptions extends OptimizerBaseOptions {
  /** Momentum factor. Default 0. */
  momentum?: number;
  /** Dampening of the momentum. Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
}

/** Defaults of `SGDOptions` (PyTorch's `torch.optim.SGD`, with lr 1e-2). */
export const SGD_DEFAULTS: { lr: number; momentum: number; dampening: number; nesterov: boolean; weightDecay: number } = {
  lr: 1e-2,
  momentum: 0,
  dampening: 0,
  nesterov: false,
  weightDecay: 0,
};

/**
 * Stochastic gradient descent with momentum, step for step as PyTorch's `torch.optim.SGD` (weight decay is L2, added
 * to the gradient): d = g + wd·p; buf ← d (first step) or μ·buf + (1−dampening)·d; d ← d + μ·buf (Nesterov) or buf;
 * p ← p − lr·d. Slot `momentum_buffer`.
 * @example
 * const opt = new SGD(model, { lr: 0.1, momentum: 0.9, nesterov: true });
 */
export class SGD extends Optimizer {
  /** μ */
  readonly momentum: number;
  /** Dampening. */
  readonly dampening: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  protected readonly slotNames: readonly string[] = ['momentum_buffer'];
  protected readonly kind: string = 'sgd';

  constructor(params: NamedParams, options: SGDOptions = {}) {
    super(params, { lr: SGD_DEFAULTS.lr, ...options }, SGD_DEFAULTS.weightDecay);
    const o = withDefaults(SGD_DEFAULTS, options);
    if (!(o.momentum >= 0)) throw new SiftError('E_CONFIG', `SGD: momentum must be >= 0, got ${o.momentum}.`);
    if (!(o.dampening >= 0 && o.dampening <= 1)) throw new SiftError('E_CONFIG', `SGD: dampening must be in [0, 1], got ${o.dampening}.`);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw new SiftError('E_CONFIG', 'SGD: nesterov needs momentum > 0 and dampening 0.');
    }
    this.momentum = o.momentum;
    this.dampening = o.dampening;
    this.nesterov = o.nesterov;
  }

  protected update(
    e: ParamEntry, g: tf.Tensor, slots: ReadonlyMap<string, tf.Tensor>, lr: number,
  ): { value: tf.Tensor; slots: Map<string, tf.Tensor> } {
    let d = e.weightDecay === 0 ? g : tf.add(g, tf.mul(e.param, e.weightDecay));
    const out = new Map<string, tf.Tensor>();
    if (this.momentum !== 0) {
      const prev = slots.get('momentum_buffer');
      const buf = prev === undefined ? tf.clone(d) : tf.add(tf.mul(prev, this.momentum), tf.mul(d, 1 - this.dampening));
      out.set('momentum_buffer', buf);
      d = this.nesterov ? tf.add(d, tf.mul(buf, this.momentum)) : buf;
    }
    return { value: tf.sub(e.param, tf.mul(d, lr)), slots: out };
  }
}
