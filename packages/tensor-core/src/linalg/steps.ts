/**
 * Device algorithms need a few host reads (diagonal blocks to factor in float64). They are written once as
 * generators that `yield` the tensor they need and receive its values; `runSync` answers with `dataSync()` (wasm, cpu,
 * tensorflow/cuda) and `runAsync` with `await data()` (needed on WebGPU, whose synchronous reads are slow or absent).
 */
import * as tf from '@tensorflow/tfjs-core';

/** A computation that reads device tensors: yields a float32 tensor, is resumed with its values. */
export type Steps<T> = Generator<tf.Tensor, T, Float32Array>;

/**
 * A fresh Float32Array of the values: always a copy, since the cpu backend's reads return its own backing store
 * (shared by clones of the tensor), which the host code then changes in place.
 */
function asFloat32(v: tf.DataTypeMap[keyof tf.DataTypeMap]): Float32Array {
  if (v instanceof Float32Array) return v.slice();
  if (v instanceof Int32Array || v instanceof Uint8Array) return Float32Array.from(v);
  throw new TypeError('linalg: expected a numeric tensor');
}

/** Drives `steps` with synchronous reads. The generator's own cleanup runs if a read throws. */
export function runSync<T>(steps: Steps<T>): T {
  let r = steps.next(new Float32Array(0));
  while (r.done !== true) {
    let values: Float32Array;
    try {
      values = asFloat32(r.value.dataSync());
    } catch (err) {
      steps.return(undefined as never);
      throw err;
    }
    r = steps.next(values);
  }
  return r.value;
}

/** Drives `steps` with asynchronous reads (`await tensor.data()`). */
export async function runAsync<T>(steps: Steps<T>): Promise<T> {
  let r = steps.next(new Float32Array(0));
  while (r.done !== true) {
    let values: Float32Array;
    try {
      values = asFloat32(await r.value.data());
    } catch (err) {
      steps.return(undefined as never);
      throw err;
    }
    r = steps.next(values);
  }
  return r.value;
}

/** Reads `t` (a float32 tensor the caller owns) inside a generator and disposes it afterwards. */
export function* readAndDispose(t: tf.Tensor): Steps<Float32Array> {
  try {
    return yield t;
  } finally {
    t.dispose();
  }
}
