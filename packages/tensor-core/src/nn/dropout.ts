import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../random/rng.js';
import { checkProbability } from './init.js';
import { Module } from './module.js';

/**
 * An inverted-dropout mask: each entry is 1/(1−p) with probability 1−p, else 0. Drawn from `rng` (one 32-bit draw
 * per entry), so the same seed gives the same mask on every backend.
 */
export function dropoutMask(shape: readonly number[], p: number, rng: Rng): tf.Tensor {
  const n = shape.reduce((a, d) => a * d, 1);
  const out = new Float32Array(n);
  const threshold = (1 - p) * 4294967296; // keep when u < (1 - p) * 2^32
  const scale = 1 / (1 - p);
  for (let i = 0; i < n; i++) out[i] = rng.nextUint32() < threshold ? scale : 0;
  return tf.tensor(out, [...shape], 'float32');
}

/**
 * Inverted dropout, always active (the functional form; `Dropout` checks training mode).
 * @param x any shape; @param p drop probability in [0, 1)
 */
export function dropout(x: tf.Tensor, p: number, rng: Rng): tf.Tensor {
  checkProbability('dropout', 'p', p);
  if (p === 0) return x;
  return tf.tidy(() => tf.mul(x, dropoutMask(x.shape, p, rng)));
}

/** Options of `Dropout`. */
export interface DropoutOptions {
  /** Drop probability in [0, 1). */
  p: number;
  /** The stream masks are drawn from (give each Dropout its own `rng.fork(name)` for stable streams). */
  rng: Rng;
}

/**
 * Inverted dropout (PyTorch's `nn.Dropout`): active only in training mode; in eval mode `forward` returns `x` itself.
 * Forward: any shape -> same shape.
 * @example
 * const drop = new Dropout({ p: 0.1, rng: rng.fork('drop') });
 * drop.eval(); drop.forward(x) === x; // true
 */
export class Dropout extends Module<[tf.Tensor], tf.Tensor> {
  /** Drop probability. */
  readonly p: number;
  /** The mask stream. */
  readonly rng: Rng;

  constructor(options: DropoutOptions) {
    super();
    checkProbability('Dropout', 'p', options.p);
    this.p = options.p;
    this.rng = options.rng;
  }

  /** x -> x ⊙ mask / (1−p) in training, x in eval */
  override forward(x: tf.Tensor): tf.Tensor {
    if (!this.training || this.p === 0) return x;
    return dropout(x, this.p, this.rng);
  }
}
