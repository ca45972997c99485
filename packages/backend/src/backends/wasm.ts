import * as tf from '@tensorflow/tfjs-core';
import { LoaderFailure, messageOf } from '../errors.js';
import { cpuSummary, isNode } from '../platform.js';
import type { BackendInfo, InitBackendOptions } from '../types.js';
import { installWasmBatchMatMul, uninstallWasmBatchMatMul } from '../kernels/wasm-batch-matmul.js';
import { installWasmGram, uninstallWasmGram } from '../kernels/wasm-gram.js';
import { installWasmSlice, uninstallWasmSlice } from '../kernels/wasm-slice.js';
import type { BackendLoader, DeviceFacts } from './loader.js';
import { TFJS_WASM_MAX_THREADS } from './wasm-options.js';
import type { WasmBackendFactory } from './wasm-threads.js';

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');
type StartThreadedWasm = typeof import('./wasm-threads.js').startThreadedWasm;

/** tfjs-backend-wasm's own registration priority (`WASM_PRIORITY`), kept when Sift wraps its factory. */
const TFJS_WASM_PRIORITY = 2;

let wasmModule: WasmModule | undefined;
let pathsSet = false;

/** tfjs's factory and the wrapper Sift registered in its place (Node, threads > 1 asked for at least once). */
let factories: { original: WasmBackendFactory; wrapper: WasmBackendFactory } | undefined;
/** What the next start of the wasm backend should do; set by `prepare`, read by the wrapper. */
let plan: { threads: number; reason?: string } = { threads: 1 };
/** Why the running wasm backend has fewer threads than asked for, recorded when it started. */
let startReason: string | undefined;
/** A note about this `initBackend` call only (e.g. threads asked for after the backend had started). */
let callNote: string | undefined;

async function loadWasm(): Promise<WasmModule> {
  wasmModule ??= await import('@tensorflow/tfjs-backend-wasm');
  return wasmModule;
}

/** Whether tfjs has already initialised (or is initialising) its wasm backend in this process. */
function wasmStarted(): boolean {
  const engine = tf.engine() as unknown as { registry: Record<string, unknown>; pendingBackendInit?: unknown; backendName?: string };
  return 'wasm' in engine.registry || (engine.backendName === 'wasm' && engine.pendingBackendInit != null);
}

/**
 * The factory Sift registers for 'wasm' in Node: it runs `plan`. For more than one thread it starts the
 * threaded-SIMD binary (`startThreadedWasm`); if that fails at any step, it says why and starts tfjs's default
 * single-threaded SIMD binary explicitly, from a clean state. One thread is tfjs's own path, unchanged.
 */
async function startWasm(original: WasmBackendFactory, startThreadedWasm: StartThreadedWasm): Promise<tf.KernelBackend> {
  const mod = await loadWasm();
  const wanted = plan;
  startReason = wanted.reason;
  if (wanted.threads > 1) {
    try {
      const started = await startThreadedWasm(original, mod, wanted.threads);
      startReason = started.reason;
      return started.backend;
    } catch (err) {
      startReason = `the threaded wasm binary could not start (${messageOf(err)}), so the single-threaded SIMD binary runs`;
    }
  }
  // tfjs's own Node path: the flag's natural value under Node, and the default thread count (both may have been
  // changed by an earlier threaded start in this process).
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  mod.setThreadsCount(-1);
  return original();
}

/** Node: puts Sift's factory in place of tfjs's, once (it stays registered, also through `disposeBackend`). */
async function installFactory(): Promise<void> {
  const current = tf.findBackendFactory('wasm') as WasmBackendFactory | null;
  if (current === null) {
    throw new LoaderFailure('wasm', 'the tfjs backend "wasm" is not registered (was it removed with tf.removeBackend?)',
      "import '@tensorflow/tfjs-backend-wasm' once more, or restart the process");
  }
  if (current === factories?.wrapper) return;
  const { startThreadedWasm } = await import('./wasm-threads.js');
  const wrapper: WasmBackendFactory = () => startWasm(current, startThreadedWasm);
  factories = { original: current, wrapper };
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', wrapper, TFJS_WASM_PRIORITY);
}

/** Node: decides the thread count of the next start and installs the factory when threads are wanted. */
async function planNode(threads: number | undefined): Promise<void> {
  if (threads === undefined) {
    const { defaultNodeThreads } = await import('./wasm-threads.js');
    plan = defaultNodeThreads();
  } else {
    plan = { threads };
  }
  startReason = plan.reason; // when the wrapper is not installed, tfjs's factory starts as planned
  if (plan.threads > 1) await installFactory();
}

/** Browser: tfjs's own behaviour unless `threads` is given (1 = the single-threaded binary; n = `setThreadsCount`). */
function planBrowser(mod: WasmModule, threads: number | undefined): void {
  if (threads === 1) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  } else if (threads !== undefined) {
    mod.setThreadsCount(threads);
  }
}

/** Why the browser gave fewer threads than asked for. */
function browserReason(threads: number, asked: number | undefined): string | undefined {
  if (asked === undefined ? threads > 1 : threads >= asked) return undefined;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  if (!isolated) {
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and ' +
      'Cross-Origin-Embedder-Policy: require-corp), so SharedArrayBuffer and wasm threads are unavailable';
  }
  return `tfjs-backend-wasm started ${String(threads)} thread(s): it uses at most ${String(TFJS_WASM_MAX_THREADS)}, ` +
    'and at most half of navigator.hardwareConcurrency';
}

let browserAsked: number | undefined;

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
    callNote = undefined;
    if (options.fastBatchMatMul === false) {
      uninstallWasmBatchMatMul();
      uninstallWasmGram();
    } else {
      installWasmBatchMatMul();
      installWasmGram();
    }
    if (options.fastSlice === false) uninstallWasmSlice();
    else installWasmSlice();
    if (wasmStarted()) {
      // The thread count is fixed at the backend's first start: say so instead of ignoring the option silently.
      if (options.threads !== undefined) {
        let running: number | undefined;
        try { running = mod.getThreadsCount(); } catch { running = undefined; }
        if (running !== undefined && running !== Math.min(options.threads, TFJS_WASM_MAX_THREADS)) {
          callNote = `the wasm backend was already started in this process with ${String(running)} thread(s); ` +
            'threads apply at its first start (call initBackend before any tensor work, or disposeBackend(\'wasm\') first)';
        }
      }
      return;
    }
    if (isNode()) {
      await planNode(options.threads);
    } else {
      browserAsked = options.threads;
      planBrowser(mod, options.threads);
    }
  },
  async describe(): Promise<DeviceFacts> {
    const mod = await loadWasm();
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
    const threads = mod.getThreadsCount();
    const { model } = await cpuSummary();
    const kind = `${simd ? 'SIMD' : 'no SIMD'}, ${String(threads)} thread${threads === 1 ? '' : 's'}`;
    const reason = callNote ?? (isNode() ? startReason : browserReason(threads, browserAsked));
    // DeviceFacts (loader.ts) does not list threadsReason; initBackend spreads these facts into BackendInfo as is.
    const facts: DeviceFacts & Pick<BackendInfo, 'threadsReason'> = {
      device: `${model} (WebAssembly, ${kind})`, float16: false, simd, threads, software: false,
    };
    if (reason !== undefined) facts.threadsReason = reason;
    return facts;
  },
};
