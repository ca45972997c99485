import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { skipBecause } from '@sift/testkit';
import { describe, expect, it } from 'vitest';
import { BackendError } from './errors.js';
import { initBackend } from './init.js';
import type { BackendName, InitBackendOptions } from './types.js';

/**
 * The same checks on every backend that can start here, against the cpu backend (tfjs's reference kernels).
 * Backends that cannot start are skipped with their reason printed.
 */

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Deterministic inputs (an LCG), so every backend sees the same numbers. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 * 4 - 2;
  }
  return out;
}

type Case = readonly [string, () => tf.Tensor];
const CASES: readonly Case[] = [
  ['matMul [65,130]x[130,33]', () => tf.matMul(tf.tensor2d(values(65 * 130, 1), [65, 130]), tf.tensor2d(values(130 * 33, 2), [130, 33]))],
  ['batched matMul with transposeB', () => tf.matMul(tf.tensor3d(values(2 * 17 * 40, 3), [2, 17, 40]), tf.tensor3d(values(2 * 9 * 40, 4), [2, 9, 40]), false, true)],
  ['softmax over the last axis', () => tf.softmax(tf.mul(tf.tensor2d(values(31 * 257, 5), [31, 257]), 3))],
  ['mean and variance', () => { const m = tf.moments(tf.tensor2d(values(64 * 96, 6), [64, 96]), 1); return tf.concat([m.mean, m.variance]); }],
  ['exp, log1p, tanh, sqrt(abs)', () => { const x = tf.tensor1d(values(1000, 7)); return tf.concat([tf.exp(x), tf.log1p(tf.abs(x)), tf.tanh(x), tf.sqrt(tf.abs(x))]); }],
  ['gather rows and topk values', () => { const x = tf.tensor2d(values(50 * 16, 8), [50, 16]); return tf.concat([tf.reshape(tf.gather(x, tf.tensor1d([3, 1, 49, 0], 'int32')), [-1]), tf.reshape(tf.topk(x, 4).values, [-1])]); }],
];

async function reference(): Promise<Float32Array[]> {
  await initBackend({ prefer: ['cpu'] });
  const out: Float32Array[] = [];
  for (const [, f] of CASES) {
    const t = tf.tidy(f);
    out.push((await t.data()) as Float32Array);
    t.dispose();
  }
  return out;
}

function startOptions(name: BackendName): InitBackendOptions {
  const opts: InitBackendOptions = { prefer: [name] };
  if (name === 'webgpu' && process.env.VK_ICD_FILENAMES === undefined && existsSync(SWIFTSHADER_ICD)) {
    opts.vulkanIcd = SWIFTSHADER_ICD;
  }
  return opts;
}

describe.each(['wasm', 'webgpu', 'cuda', 'tensorflow'] as const)('backend %s agrees with cpu', (name) => {
  it('on matmul, softmax, reductions, elementwise and gather within 1e-4', async (ctx) => {
    const ref = await reference();
    try {
      await initBackend(startOptions(name));
    } catch (err) {
      if (!(err instanceof BackendError)) throw err;
      skipBecause(ctx, `${name} cannot start here: ${err.attempts[0]?.reason ?? err.message}`);
    }
    expect(tf.getBackend()).toBe(name === 'cuda' ? 'tensorflow' : name);
    const before = tf.memory().numTensors;
    for (const [i, [label, f]] of CASES.entries()) {
      const t = tf.tidy(f);
      const got = (await t.data()) as Float32Array;
      t.dispose();
      const want = ref[i] ?? new Float32Array();
      expect(got.length, label).toBe(want.length);
      let worst = 0;
      for (let j = 0; j < got.length; j++) {
        const w = want[j] ?? 0;
        worst = Math.max(worst, Math.abs((got[j] ?? 0) - w) / Math.max(1, Math.abs(w)));
      }
      expect(worst, `${label}: max relative error`).toBeLessThan(1e-4);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
