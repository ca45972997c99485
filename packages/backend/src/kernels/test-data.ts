/** Deterministic test inputs and the shared set-up of the kernel tests, without a generator dependency. */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '../init.js';

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

/** max |got − want| / max |want|: the relative error of a result against a reference. */
export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return err / Math.max(scale, 1e-30);
}

/**
 * Runs `once` (a warm-up: first allocations, kernel set-up), then three more times, and expects as many tensors and
 * wasm buffers as after the warm-up: every temporary freed, nothing freed twice.
 */
export function expectNoGrowth(once: () => void): void {
  const backend = tf.backend() as unknown as { numDataIds(): number };
  once();
  const tensors = tf.memory().numTensors;
  const buffers = backend.numDataIds();
  for (let r = 0; r < 3; r++) once();
  expect(tf.memory().numTensors).toBe(tensors);
  expect(backend.numDataIds()).toBe(buffers);
}

/**
 * The set-up both kernel suites share: wasm on one thread, and a test that `initBackend` installs the kernel and that
 * `{ [option]: false }` restores tfjs's own. Call inside the suite's `describe`.
 */
export function kernelInstallTests(option: 'fastSlice' | 'fastBatchMatMul', installed: () => boolean): void {
  beforeAll(async () => {
    const info = await initBackend({ prefer: ['wasm'], threads: 1 });
    expect(info.name).toBe('wasm');
  });

  it(`initBackend installs it; ${option}: false restores tfjs's kernel`, async () => {
    expect(installed()).toBe(true);
    await initBackend({ prefer: ['wasm'], threads: 1, [option]: false });
    expect(installed()).toBe(false);
    await initBackend({ prefer: ['wasm'], threads: 1 });
    expect(installed()).toBe(true);
  });
}
