/** Shared checks for the streaming accumulators: token shapes, finiteness, empty state. */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';

/** Rows (tokens) and channels of an activation batch [..., d]: leading dimensions are flattened. */
export function tokenShape(x: tf.Tensor, what: string, dim: number | null): { n: number; d: number } {
  if (!(x instanceof tf.Tensor)) throw new SiftError('E_SHAPE', `${what}: expected a tf.Tensor [tokens, d] or [B, T, d], got ${typeof x}.`);
  if (x.rank < 1) throw new SiftError('E_SHAPE', `${what}: expected a tensor [tokens, d] or [B, T, d], got a scalar.`);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new SiftError('E_DTYPE', `${what}: expected float32 activations, got ${x.dtype}.`);
  }
  const d = x.shape[x.rank - 1];
  if (dim !== null && d !== dim) {
    throw new SiftError('E_SHAPE', `${what}: batch ${fmtShape(x.shape)} has ${d} channels, but earlier batches had ${dim}. ` +
      'Feed one accumulator per layer input.');
  }
  return { n: d === 0 ? 0 : x.size / d, d };
}

/** Throws SiftError('E_NAN') at the first non-finite value, naming the statistic, the source and the batch. */
export function assertFinite(
  values: ArrayLike<number>, from: number, to: number, stat: string, what: string, batch: number, d: number,
): void {
  for (let i = from; i < to; i++) {
    if (!Number.isFinite(values[i])) {
      const k = i - from;
      const where = d > 0 && to - from > d ? `entry [${Math.floor(k / d)}, ${k % d}]` : `channel ${k}`;
      throw new SiftError('E_NAN', `${what}: batch ${batch} has non-finite activations (NaN or ±Inf) — ${stat} is ` +
        `${values[i]} at ${where}. The statistics were left as they were before this batch. Check the layer's input ` +
        'for overflow (e.g. float16 weights) or NaN in the model or the data.');
    }
  }
}

/** SiftError('E_EMPTY') for a result asked of an accumulator that has seen no samples. */
export function emptyError(what: string, result: string): SiftError {
  return new SiftError('E_EMPTY', `${what}: no samples were seen (count 0), so ${result} is undefined. Feed calibration ` +
    'batches with update(x) (e.g. from a forward hook) before asking for results, or merge in non-empty accumulators.');
}
