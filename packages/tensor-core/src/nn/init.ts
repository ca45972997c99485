import * as tf from '@tensorflow/tfjs-core';
import { SiftError } from '../errors.js';
import type { Rng } from '../random/rng.js';

/**
 * How a parameter is initialised. Random ones draw from the layer's `Rng`, so the same seed gives bit-identical
 * weights on every backend.
 * - `'zeros'`, `'ones'`
 * - `{ std, mean? }`: N(mean, std²)
 * - `{ bound }`: U(-bound, bound)
 * - `{ truncatedStd, mean? }`: N(mean, std²) resampled outside mean ± 2 std (`trunc_normal_`)
 */
export type Init = 'zeros' | 'ones' | { std: number; mean?: number } | { bound: number } | { truncatedStd: number; mean?: number };

/**
 * PyTorch's default for `nn.Linear`: `kaiming_uniform_(a=√5)`, i.e. U(-1/√fan_in, 1/√fan_in) for the weight; its bias
 * uses the same bound.
 */
export function kaimingUniform(fanIn: number): Init {
  return { bound: 1 / Math.sqrt(Math.max(1, fanIn)) };
}

function checkInit(where: string, init: Init): void {
  const bad = (why: string): never => {
    throw new SiftError('E_CONFIG', `${where}: invalid init ${JSON.stringify(init)}: ${why}. Use 'zeros', 'ones', ` +
      '{ std }, { bound } or { truncatedStd }.');
  };
  if (init === 'zeros' || init === 'ones') return;
  if (typeof init !== 'object') bad('unknown kind');
  if ('std' in init && !(init.std >= 0 && Number.isFinite(init.std))) bad('std must be a finite number >= 0');
  if ('bound' in init && !(init.bound >= 0 && Number.isFinite(init.bound))) bad('bound must be a finite number >= 0');
  if ('truncatedStd' in init && !(init.truncatedStd >= 0 && Number.isFinite(init.truncatedStd))) bad('truncatedStd must be a finite number >= 0');
  if (!('std' in init) && !('bound' in init) && !('truncatedStd' in init)) bad('unknown kind');
}

/**
 * A float32 tensor of `shape` initialised by `init`.
 * @param where the layer and parameter, for error messages (`'Linear.weight'`)
 * @throws SiftError `E_CONFIG` for a bad init, or a random init without an `rng`
 */
export function initTensor(shape: readonly number[], init: Init, rng: Rng | undefined, where: string): tf.Tensor {
  checkInit(where, init);
  if (init === 'zeros') return tf.zeros([...shape], 'float32');
  if (init === 'ones') return tf.ones([...shape], 'float32');
  if (rng === undefined) {
    throw new SiftError('E_CONFIG', `${where}: a random init (${JSON.stringify(init)}) needs an Rng: pass { rng: new Rng(seed) } ` +
      "(or init 'zeros' when weights will be loaded from a checkpoint).");
  }
  if ('bound' in init) return rng.uniformTensor(shape, -init.bound, init.bound);
  if ('truncatedStd' in init) return rng.truncatedNormalTensor(shape, init.mean ?? 0, init.truncatedStd);
  return rng.normalTensor(shape, init.mean ?? 0, init.std);
}

/**
 * `{ ...defaults, ...options }`, except that options explicitly set to `undefined` keep the default (a plain spread
 * would let `{ bias: undefined }` erase it).
 */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O): D & O {
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[k] = v;
  return out as D & O;
}

/** Throws `E_CONFIG` unless `n` is a positive integer. */
export function checkPositiveInt(where: string, field: string, n: unknown): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
    throw new SiftError('E_CONFIG', `${where}: ${field} must be a positive integer, got ${String(n)}.`);
  }
}

/** Throws `E_CONFIG` unless `p` is a probability in [0, 1). */
export function checkProbability(where: string, field: string, p: unknown): void {
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) {
    throw new SiftError('E_CONFIG', `${where}: ${field} must be in [0, 1), got ${String(p)}.`);
  }
}
