import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { BackendLoader } from './backends/loader.js';
import { activate } from './init.js';

function fakeLoader(tfjsName: string): BackendLoader {
  return {
    name: 'wasm',
    tfjsName,
    supported: () => true,
    prepare: () => Promise.resolve(),
    describe: () => Promise.resolve({ device: 'fake', float16: false, simd: false, threads: 1, software: false }),
  };
}

describe('activate', () => {
  it('turns a tfjs init failure (setBackend -> false) into a reason, never a silent fallback', async () => {
    tf.registerBackend('broken-for-test', () => {
      throw new Error('the binary could not be fetched');
    });
    await expect(activate(fakeLoader('broken-for-test'))).rejects.toThrow(
      /could not initialise the "broken-for-test" backend: .*the binary could not be fetched/,
    );
  });
});
