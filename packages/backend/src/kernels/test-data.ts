/** Deterministic test inputs for the kernel tests, without a generator dependency. */
import * as tf from '@tensorflow/tfjs-core';

/** Distinct values in [-1, 1) from an LCG. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** A float32 tensor of `values` with the given shape. */
export function tensor(shape: readonly number[], seed: number): tf.Tensor {
  return tf.tensor(values(shape.reduce((p, d) => p * d, 1), seed), [...shape]);
}
