import type { BackendName } from '../types.js';
import { cpuLoader } from './cpu.js';
import type { BackendLoader } from './loader.js';
import { tfjsNodeLoader } from './tfjs-node.js';
import { wasmLoader } from './wasm.js';
import { webgpuLoader } from './webgpu.js';

/** One loader per backend name: the explicit registry `initBackend` consults. */
export const LOADERS: Readonly<Record<BackendName, BackendLoader>> = {
  cuda: tfjsNodeLoader('cuda'),
  tensorflow: tfjsNodeLoader('tensorflow'),
  webgpu: webgpuLoader(),
  wasm: wasmLoader,
  cpu: cpuLoader,
};
