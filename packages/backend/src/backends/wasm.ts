import * as tf from '@tensorflow/tfjs-core';
import { LoaderFailure, messageOf } from '../errors.js';
import { cpuSummary } from '../platform.js';
import type { InitBackendOptions } from '../types.js';
import type { BackendLoader, DeviceFacts } from './loader.js';

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

let wasmModule: WasmModule | undefined;
let pathsSet = false;

async function loadWasm(): Promise<WasmModule> {
  wasmModule ??= await import('@tensorflow/tfjs-backend-wasm');
  return wasmModule;
}

/** `@tensorflow/tfjs-backend-wasm`: XNNPACK kernels compiled to WebAssembly with SIMD; the fast default on Node. */
export const wasmLoader: BackendLoader = {
  name: 'wasm',
  tfjsName: 'wasm',
  supported: () => typeof WebAssembly === 'object',
  async prepare(options: InitBackendOptions): Promise<void> {
    let mod: WasmModule;
    try {
      mod = await loadWasm();
    } catch (err) {
      throw new LoaderFailure('wasm', `could not import @tensorflow/tfjs-backend-wasm: ${messageOf(err)}`,
        'install it: pnpm add @tensorflow/tfjs-backend-wasm@4.22.0');
    }
    if (options.wasmPaths !== undefined && !pathsSet) {
      mod.setWasmPaths(options.wasmPaths);
      pathsSet = true;
    }
  },
  async describe(): Promise<DeviceFacts> {
    const mod = await loadWasm();
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
    const threads = mod.getThreadsCount();
    const { model } = await cpuSummary();
    const kind = `${simd ? 'SIMD' : 'no SIMD'}, ${String(threads)} thread${threads === 1 ? '' : 's'}`;
    return { device: `${model} (WebAssembly, ${kind})`, float16: false, simd, threads, software: false };
  },
};
