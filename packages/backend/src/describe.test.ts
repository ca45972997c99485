import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeEnvironment } from './describe.js';
import { initBackend } from './init.js';
import { BACKEND_NAMES } from './types.js';

describe('describeEnvironment', () => {
  it('reports every backend, why the unavailable ones cannot start, and restores the active backend', async () => {
    await initBackend({ prefer: ['cpu'] });
    const env = await describeEnvironment();
    expect(env.backends.map((b) => b.name)).toEqual([...BACKEND_NAMES]);
    const byName = new Map(env.backends.map((b) => [b.name, b]));
    expect(byName.get('cpu')?.available).toBe(true);
    expect(byName.get('wasm')?.available).toBe(true);
    expect(byName.get('wasm')?.simd).toBe(true);
    for (const b of env.backends) {
      if (!b.available) expect(b.reason, b.name).toMatch(/\w+/);
    }
    expect(env.runtime).toBe('node');
    expect(env.tfjsVersion).toBe('4.22.0');
    expect(env.cpus).toBeGreaterThan(0);
    expect(env.defaultBackend).toBeDefined();
    expect(tf.getBackend()).toBe('cpu');
  });
});
