/**
 * `@sift/tensor-core/testing`: assertions for numeric tests, usable with any test runner (they throw plain `Error`s
 * with the details). Sift's own tests use them; so can tests of user code built on Sift.
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from './random/rng.js';

/** Tolerances: an element passes when |a - e| <= atol + rtol * |e|. */
export interface CloseOptions {
  /** Absolute tolerance. Default 1e-5. */
  atol?: number;
  /** Relative tolerance. Default 1e-5 (tfjs uses 1e-3 for float32 across backends). */
  rtol?: number;
  /** A label for the failure message. */
  label?: string;
}

type Numeric = tf.Tensor | ArrayLike<number> | number;

function toArray(x: Numeric): { data: ArrayLike<number>; shape: number[] | null } {
  if (x instanceof tf.Tensor) return { data: x.dataSync(), shape: x.shape };
  if (typeof x === 'number') return { data: [x], shape: null };
  return { data: x, shape: null };
}

/**
 * Throws unless `actual` and `expected` have the same shape (when both are tensors) and every element is close.
 * NaN equals NaN; +-Infinity must match exactly. Reports the worst element.
 */
export function expectTensorsClose(actual: Numeric, expected: Numeric, options: CloseOptions = {}): void {
  const { atol = 1e-5, rtol = 1e-5, label = 'tensors' } = options;
  const a = toArray(actual);
  const e = toArray(expected);
  if (a.shape !== null && e.shape !== null && a.shape.join(',') !== e.shape.join(',')) {
    throw new Error(`${label}: shape [${a.shape.join(', ')}] != expected [${e.shape.join(', ')}]`);
  }
  if (a.data.length !== e.data.length) {
    throw new Error(`${label}: ${a.data.length} elements != expected ${e.data.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.data.length; i++) {
    const av = a.data[i];
    const ev = e.data[i];
    if (Number.isNaN(av) && Number.isNaN(ev)) continue;
    if (!Number.isFinite(ev) || !Number.isFinite(av)) {
      if (av !== ev) {
        worst = i;
        break;
      }
      continue;
    }
    const excess = Math.abs(av - ev) - (atol + rtol * Math.abs(ev));
    if (excess > worstExcess || (Number.isNaN(excess) && worst < 0)) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    throw new Error(`${label}: element ${worst} is ${a.data[worst]} but expected ${e.data[worst]} ` +
      `(|diff| ${Math.abs(a.data[worst] - e.data[worst])} > atol ${atol} + rtol ${rtol} * |expected|)`);
  }
}

/**
 * Runs `fn` once to warm up (kernels may allocate constants), then `repeats` more times, and throws if the number of
 * live tensors grew. `fn`'s own return value is disposed each time when it is a tensor or a list of tensors.
 */
export async function expectNoLeak(fn: () => unknown, options: { repeats?: number; label?: string } = {}): Promise<void> {
  const { repeats = 3, label = 'function' } = options;
  const once = async (): Promise<void> => {
    const out = await fn();
    if (out instanceof tf.Tensor) out.dispose();
    else if (Array.isArray(out)) for (const t of out) if (t instanceof tf.Tensor) t.dispose();
  };
  await once();
  const before = tf.memory().numTensors;
  for (let i = 0; i < repeats; i++) await once();
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`${label} leaks tensors: ${before} live before ${repeats} calls, ${after} after ` +
      `(${(after - before) / repeats} per call). Wrap its ops in tf.tidy or dispose them.`);
  }
}

/** A seeded `Rng` for a test; the same name gives the same stream. */
export function seeded(seed: number | string = 0): Rng {
  return new Rng(seed);
}
