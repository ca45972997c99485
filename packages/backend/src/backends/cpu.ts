import * as tf from '@tensorflow/tfjs-core';
import { cpuSummary } from '../platform.js';
import type { BackendLoader, DeviceFacts } from './loader.js';

/** `@tensorflow/tfjs-backend-cpu`: plain JavaScript kernels, always available, the slowest choice. */
export const cpuLoader: BackendLoader = {
  name: 'cpu',
  tfjsName: 'cpu',
  supported: () => true,
  async prepare(): Promise<void> {
    await import('@tensorflow/tfjs-backend-cpu');
  },
  onActive(): void {
    // tfjs-backend-cpu prints a banner ("install our node backend") on its first tensor in Node. initBackend already
    // reports why cpu was chosen and what else could start, so mark the banner as shown.
    (tf.backend() as { firstUse?: boolean }).firstUse = false;
  },
  async describe(): Promise<DeviceFacts> {
    const { model } = await cpuSummary();
    return { device: `${model} (JavaScript kernels)`, float16: false, simd: false, threads: 1, software: false };
  },
};
