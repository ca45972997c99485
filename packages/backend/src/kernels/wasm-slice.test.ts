import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../init.js';
import { installWasmSlice, sliceInto, uninstallWasmSlice, wasmSliceInstalled } from './wasm-slice.js';
import { expectNoGrowth, kernelInstallTests, tensor, values } from './test-data.js';

/** The naive reference: every output index mapped back to its input index. */
function naiveSlice(src: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
  const total = size.reduce((p, d) => p * d, 1);
  const out: number[] = [];
  for (let f = 0; f < total; f++) {
    let rem = f;
    let off = 0;
    let stride = 1;
    const idx = new Array<number>(size.length);
    for (let d = size.length - 1; d >= 0; d--) {
      idx[d] = rem % size[d];
      rem = Math.floor(rem / size[d]);
    }
    for (let d = shape.length - 1; d >= 0; d--) {
      off += (begin[d] + idx[d]) * stride;
      stride *= shape[d];
    }
    out.push(src[off]);
  }
  return out;
}

// [shape, begin, size]: contiguous, whole trailing dimensions merged, short runs (element loop), long runs (set),
// rank 1 to 5, size -1, empty.
const CASES: [number[], number[], number[]][] = [
  [[7], [2], [4]],
  [[6, 9], [1, 0], [4, 9]],
  [[6, 9], [0, 3], [6, 5]],
  [[64, 40], [5, 17], [30, -1]],
  [[4, 5, 6], [1, 2, 3], [2, 3, 3]],
  [[4, 5, 6], [0, 1, 0], [4, 3, 6]],
  [[3, 4, 40, 24], [1, 0, 3, 0], [2, 4, 30, 24]],
  [[2, 3, 4, 5, 6], [1, 1, 0, 2, 1], [1, 2, 4, 3, 5]],
  [[5, 8], [2, 3], [0, 4]],
];

describe('wasm Slice (Sift kernel)', () => {
  kernelInstallTests('fastSlice', wasmSliceInstalled);

  it('sliceInto equals the naive index mapping on every case', () => {
    for (const [shape, begin, size] of CASES) {
      const sz = size.map((s, d) => (s === -1 ? shape[d] - begin[d] : s));
      const src = values(shape.reduce((p, d) => p * d, 1), 3);
      const dst = new Float32Array(sz.reduce((p, d) => p * d, 1));
      sliceInto(src, shape, begin, sz, dst);
      expect(Array.from(dst), JSON.stringify([shape, begin, size])).toEqual(naiveSlice(src, shape, begin, sz));
    }
  });

  it('is bit-identical to tfjs\'s own kernel for float32, int32 and bool tensors, and in gradients', () => {
    for (const [shape, begin, size] of CASES) {
      const label = JSON.stringify([shape, begin, size]);
      const f = tensor(shape, 7);
      const i = tf.cast(tf.mul(f, 1000), 'int32');
      const b = tf.greater(f, 0);
      for (const x of [f, i, b]) {
        const fast = tf.slice(x, begin, size);
        uninstallWasmSlice();
        const orig = tf.slice(x, begin, size);
        installWasmSlice();
        expect(fast.shape, label).toEqual(orig.shape);
        expect(fast.dtype, label).toBe(orig.dtype);
        expect(Array.from(fast.dataSync()), `${label} ${x.dtype}`).toEqual(Array.from(orig.dataSync()));
        tf.dispose([fast, orig]);
      }
      tf.dispose([f, i, b]);
    }
    const x = tensor([4, 6, 8], 9);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.slice(t, [1, 2, 3], [2, 3, 4]))))(x);
    uninstallWasmSlice();
    const r = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.slice(t, [1, 2, 3], [2, 3, 4]))))(x);
    installWasmSlice();
    expect(Array.from(g.dataSync())).toEqual(Array.from(r.dataSync()));
    tf.dispose([x, g, r]);
  });

  it('leaves no tensor and no wasm buffer behind across repeated calls', () => {
    const inputs = CASES.map(([shape]) => tensor(shape, 11));
    expectNoGrowth(() => {
      CASES.forEach(([, begin, size], k) => { tf.slice(inputs[k], begin, size).dispose(); });
    });
    tf.dispose(inputs);
  });

  it('refuses a slice outside the input (tfjs\'s kernel does not check; a heap view would read other memory)', () => {
    const x = tf.zeros([4, 4]);
    const tensors = tf.memory().numTensors;
    expect(() => tf.slice(x, [2, 0], [3, 4])).toThrow(/begin \[2, 0\] \+ size \[3, 4\] is outside the input shape \[4, 4\] at axis 0/);
    expect(tf.memory().numTensors).toBe(tensors);
    x.dispose();
  });
});

describe('wasm Unpack and SplitV (Sift kernels on the same slice)', () => {
  const shapes: number[][] = [[5], [6, 9], [4, 5, 6], [3, 4, 7, 2]];
  beforeAll(async () => {
    expect((await initBackend({ prefer: ['wasm'], threads: 1 })).name).toBe('wasm');
    expect(wasmSliceInstalled()).toBe(true);
  });

  it('tf.unstack and tf.split are bit-identical to tfjs\'s kernels on every axis, for float32, int32 and bool', () => {
    for (const shape of shapes) {
      const f = tensor(shape, 13);
      const i = tf.cast(tf.mul(f, 1000), 'int32');
      const b = tf.greater(f, 0);
      for (const x of [f, i, b]) {
        for (let axis = -shape.length; axis < shape.length; axis++) {
          const label = `${JSON.stringify(shape)} axis ${axis} ${x.dtype}`;
          const n = shape[axis < 0 ? axis + shape.length : axis];
          const sizes = n >= 3 ? [1, n - 3, 2] : [n];
          const run = (): tf.Tensor[] => [...tf.unstack(x, axis), ...tf.split(x, sizes, axis), ...tf.split(x, 1, axis)];
          const fast = run();
          uninstallWasmSlice();
          const orig = run();
          installWasmSlice();
          expect(fast.length, label).toBe(orig.length);
          fast.forEach((t, k) => {
            expect(t.shape, label).toEqual(orig[k].shape);
            expect(t.dtype, label).toBe(orig[k].dtype);
            expect(Array.from(t.dataSync()), `${label} piece ${k}`).toEqual(Array.from(orig[k].dataSync()));
          });
          tf.dispose([...fast, ...orig]);
        }
      }
      tf.dispose([f, i, b]);
    }
  });

  it('gradients through unstack and split equal tfjs\'s, and repeated calls leave nothing behind', () => {
    const x = tensor([6, 4, 5], 17);
    const loss = (t: tf.Tensor): tf.Scalar => {
      const steps = tf.unstack(t, 1);
      const [a, , c] = tf.split(t, [2, 1, 3], 0);
      return tf.add<tf.Scalar>(tf.sum(tf.square(tf.mul(steps[1], steps[3]))), tf.sum(tf.mul(a, tf.slice(c, [0, 0, 0], [2, 4, 5]))));
    };
    const g = tf.grad(loss)(x);
    uninstallWasmSlice();
    const r = tf.grad(loss)(x);
    installWasmSlice();
    expect(Array.from(g.dataSync())).toEqual(Array.from(r.dataSync()));
    expectNoGrowth(() => { tf.dispose([...tf.unstack(x, 2), ...tf.split(x, 3, 0)]); });
    tf.dispose([x, g, r]);
  });
});
