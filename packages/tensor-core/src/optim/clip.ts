import * as tf from '@tensorflow/tfjs-core';
import { SiftError } from '../errors.js';
import type { GradMap } from './grads.js';

/**
 * The global L2 norm of a set of gradients, √(Σ_i ‖g_i‖²), as a scalar tensor (no device sync).
 * @throws SiftError `E_EMPTY` for an empty map
 */
export function globalNorm(grads: GradMap): tf.Scalar {
  const list = Object.values(grads);
  if (list.length === 0) throw new SiftError('E_EMPTY', 'globalNorm: no gradients.');
  return tf.tidy(() => tf.sqrt(tf.addN(list.map((g) => tf.sum(tf.square(g))))));
}

/**
 * Scales gradients so their global L2 norm is at most `maxNorm` (PyTorch's `clip_grad_norm_`: factor
 * min(1, maxNorm / (norm + 1e-6))). Returns NEW gradient tensors (the inputs are left alone) and the norm before
 * clipping, as a scalar tensor so no device sync is forced (`norm.dataSync()[0]` to log it).
 * @example
 * const { grads: clipped, norm } = clipGradNorm(grads, 1.0);
 */
export function clipGradNorm(grads: GradMap, maxNorm: number): { grads: GradMap; norm: tf.Scalar } {
  if (!(maxNorm > 0)) throw new SiftError('E_CONFIG', `clipGradNorm: maxNorm must be > 0, got ${maxNorm}.`);
  const names = Object.keys(grads);
  const out = tf.tidy(() => {
    const norm = globalNorm(grads);
    const factor = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return [norm, ...names.map((n) => tf.mul(grads[n], factor))];
  });
  const clipped: GradMap = {};
  names.forEach((n, i) => (clipped[n] = out[i + 1]!));
  return { grads: clipped, norm: out[0] as tf.Scalar };
}
