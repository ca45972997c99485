import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendError } from './errors.js';
import { defaultPreference, disposeBackend, initBackend } from './init.js';
import type { BackendName } from './types.js';

describe('initBackend', () => {
  it('on Node, the default order is cuda, webgpu, wasm, cpu and every skipped backend says why', async () => {
    expect(defaultPreference()).toEqual(['cuda', 'webgpu', 'wasm', 'cpu']);
    const info = await initBackend();
    const order = defaultPreference();
    const idx = order.indexOf(info.name);
    expect(idx).toBeGreaterThanOrEqual(0);
    // Exactly the backends before the winner were tried and failed, in order, each with a reason.
    expect(info.fallbacks.map((f) => f.name)).toEqual(order.slice(0, idx));
    for (const f of info.fallbacks) expect(f.reason.length).toBeGreaterThan(10);
    expect(tf.getBackend()).toBe(info.tfjsName);
    // Automatic choice never lands on a software GPU.
    expect(info.software).toBe(false);
  });

  it('honours the order given', async () => {
    const a = await initBackend({ prefer: ['cpu', 'wasm'] });
    expect(a.name).toBe('cpu');
    expect(a.fallbacks).toEqual([]);
    expect(tf.getBackend()).toBe('cpu');
    const b = await initBackend({ prefer: ['wasm', 'cpu'] });
    expect(b.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('reports wasm with SIMD and its thread count', async () => {
    const info = await initBackend({ prefer: ['wasm'] });
    expect(info.simd).toBe(true);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.device).toMatch(/WebAssembly, SIMD/);
  });

  it('a bad backend name is a clear error listing the valid names', async () => {
    const err = await initBackend({ prefer: ['tpu' as BackendName] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).code).toBe('E_BACKEND_UNKNOWN');
    expect((err as Error).message).toMatch(/unknown backend "tpu"; valid backends are cuda, tensorflow, webgpu, wasm, cpu/);
    await expect(initBackend({ prefer: [] })).rejects.toThrow(/prefer is empty/);
  });

  it('asking for exactly one backend that cannot start throws why and what to install', async () => {
    const err = await initBackend({ prefer: ['cuda'] }).catch((e: unknown) => e);
    if (!(err instanceof BackendError)) {
      // A machine with tfjs-node-gpu and its binding: nothing to check here.
      console.log('[skip reason] cuda started on this machine, so its error path cannot be exercised');
      return;
    }
    expect(err.code).toBe('E_BACKEND_UNAVAILABLE');
    expect(err.message).toMatch(/backend "cuda" cannot start/);
    expect(err.message).toMatch(/@tensorflow\/tfjs-node-gpu/);
    expect(err.attempts[0]?.fix).toMatch(/pnpm add @tensorflow\/tfjs-node-gpu/);
  });

  it('does not leak tensors across repeated init and dispose', async () => {
    await initBackend({ prefer: ['wasm'] });
    const run = (): void => {
      const y = tf.tidy(() => tf.sum(tf.matMul(tf.ones([8, 8]), tf.ones([8, 8]))));
      y.dataSync();
      y.dispose();
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await initBackend({ prefer: ['wasm'] });
      run();
      await initBackend({ prefer: ['cpu'] });
      run();
    }
    expect(tf.memory().numTensors).toBe(before);
    // A disposed backend can start again.
    disposeBackend('wasm');
    const again = await initBackend({ prefer: ['wasm'] });
    expect(again.name).toBe('wasm');
    run();
    expect(tf.memory().numTensors).toBe(0);
  });
});
