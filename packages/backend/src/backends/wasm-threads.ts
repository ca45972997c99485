/**
 * Starts tfjs-backend-wasm's threaded-SIMD binary under Node. Node only: `wasm.ts` imports this lazily.
 *
 * tfjs 4.22.0 never runs threads in Node (tfjs issue 3830), yet the binary works there once five things are fixed
 * (TOOLCHAIN.md, "Threads do work in Node"), all from Sift's side, without touching node_modules:
 *  1. the `WASM_HAS_MULTITHREAD_SUPPORT` flag is false under Node: set it to true;
 *  2. the pthread worker is a `blob:` URL that Node's `Worker` refuses: while tfjs initialises, `worker_threads.Worker`
 *     is a subclass that starts a real `.cjs` file (`wasm-worker-file.ts`) instead, for exactly the worker Blob;
 *  3. each worker is sent its main script as a Blob it cannot read: the worker file loads the pristine Emscripten glue
 *     `wasm-out/tfjs-backend-wasm-threaded-simd.js` by absolute path instead;
 *  4. C++ caps the pool at `os.cpus().length / 2`: `os.cpus` reports enough CPUs while tfjs initialises;
 *  5. Emscripten `ref()`s running workers, so the process would never exit: they are `unref()`ed after init.
 *
 * The interception point is the backend factory itself: `wasm.ts` registers a wrapper around tfjs's factory, and the
 * wrapper calls `startThreadedWasm`, so the global overrides (2, 4) live exactly as long as tfjs's `init()` and are
 * restored in a `finally`, whatever happens.
 */
import { createRequire } from 'node:module';
import { resolveObjectURL } from 'node:buffer';
import { dirname, join } from 'node:path';
import type { Worker as NodeWorker, WorkerOptions } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { messageOf } from '../errors.js';
import { TFJS_WASM_MAX_THREADS } from './wasm-options.js';
import { pthreadWorkerSource, WORKER_ERROR_CHANNEL, writeWorkerFile, type WorkerLoadError } from './wasm-worker-file.js';

/** The tfjs-backend-wasm version whose internals these fixes rely on. */
export const TFJS_WASM_THREADS_VERSION = '4.22.0';

/** How long the threaded init may take before Sift gives up on it (normally ~0.2 s). */
export const THREADED_INIT_TIMEOUT_MS = 30_000;

/** tfjs's wasm backend factory, as `tf.findBackendFactory('wasm')` returns it. */
export type WasmBackendFactory = () => tf.KernelBackend | Promise<tf.KernelBackend>;

/** The two thread functions of `@tensorflow/tfjs-backend-wasm`. */
export interface WasmThreadsApi {
  setThreadsCount(numThreads: number): void;
  getThreadsCount(): number;
}

/** What `startThreadedWasm` started. */
export interface ThreadedStart {
  backend: tf.KernelBackend;
  /** `getThreadsCount()` after init. */
  threads: number;
  /** Why `threads` is lower than asked for, if it is. */
  reason?: string;
}

/** The parts of Emscripten's Module that fix 5 needs (`tf.backend().wasm` on a threaded BackendWasm). */
interface PThreadOwner {
  wasm?: { PThread?: { runningWorkers: { unref(): void }[] } } | null;
}

interface NodeOsModule {
  cpus: () => { model: string; speed: number; times: Record<string, number> }[];
  availableParallelism?: () => number;
}

const nodeRequire = createRequire(import.meta.url);
// The very objects tfjs's bundle gets from `require('os')` and `require('worker_threads')`, so replacing `cpus` and
// `Worker` on them is seen by the Emscripten glue.
const nodeOs = nodeRequire('node:os') as NodeOsModule;
const workerThreads = nodeRequire('node:worker_threads') as { Worker: typeof NodeWorker };

/** Logical CPUs this process may use: `os.availableParallelism()` (respects CPU affinity), else `os.cpus().length`. */
export function logicalCpus(): number {
  const n = typeof nodeOs.availableParallelism === 'function' ? nodeOs.availableParallelism() : nodeOs.cpus().length;
  return Math.max(1, n);
}

/** The Node default: `min(logical CPUs, 8)`, with the reason when that is 1. */
export function defaultNodeThreads(): { threads: number; reason?: string } {
  const cpus = logicalCpus();
  const threads = Math.min(cpus, TFJS_WASM_MAX_THREADS);
  return threads > 1 ? { threads } : { threads, reason: 'only 1 logical CPU is available to this process' };
}

/** The files of the installed tfjs-backend-wasm that the threaded start needs. */
export interface TfjsWasmFiles {
  version: string;
  /** `wasm-out/tfjs-backend-wasm-threaded-simd.js`: the pristine Emscripten glue. */
  gluePath: string;
  /** `wasmWorkerContents` from `wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`. */
  workerContents: string;
}

/** Finds the files next to the `@tensorflow/tfjs-backend-wasm` that `wasm.ts` imports (same resolution base). */
export function tfjsWasmFiles(): TfjsWasmFiles {
  const pkgJson = nodeRequire.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  const root = dirname(pkgJson);
  const { version } = nodeRequire(pkgJson) as { version: string };
  const gluePath = join(root, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const worker = nodeRequire(join(root, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents?: unknown };
  if (typeof worker.wasmWorkerContents !== 'string') {
    throw new Error(`${join(root, 'wasm-out')}: tfjs-backend-wasm-threaded-simd.worker.js exports no wasmWorkerContents string`);
  }
  nodeRequire.resolve(gluePath); // throws a clear "Cannot find module" when the glue is missing
  return { version, gluePath, workerContents: worker.wasmWorkerContents };
}

/** The text tfjs puts in the worker Blob: its `init()` escapes `\n`, which the template literal had turned into newlines. */
export function workerBlobSource(workerContents: string): string {
  return workerContents.replace(/\n/g, '\\n');
}

/**
 * Fix 2: while installed, `new Worker(url)` from `worker_threads` runs `workerFile` instead when `url` is a `blob:`
 * URL of a Blob of type `application/javascript` whose size is exactly that of tfjs's worker source, and calls the
 * real constructor unchanged for anything else. The pthread worker gets `execArgv: []`: it needs none of the
 * parent's flags, and some break or slow it (`--input-type` makes every worker fail at startup, an `--import`ed
 * loader would run 8 more times). The matched Blobs are kept so their content can be checked once init is over.
 *
 * Emscripten reads `require('worker_threads').Worker` when tfjs's factory runs and stores it as `globalThis.Worker`,
 * which it uses for every pthread worker; that global therefore keeps this (transparent) subclass after `restore()`,
 * so a worker Emscripten might create later gets the same treatment.
 */
function routeWorkerBlob(blobSource: string, workerFile: string): { matched: Blob[]; restore: () => void } {
  const bytes = Buffer.byteLength(blobSource, 'utf8');
  const Real = workerThreads.Worker;
  const matched: Blob[] = [];
  const route = (filename: string | URL, options?: WorkerOptions): [string | URL, WorkerOptions?] => {
    const blob = typeof filename === 'string' && filename.startsWith('blob:') ? resolveObjectURL(filename) : undefined;
    if (blob?.type !== 'application/javascript' || blob.size !== bytes) return [filename, options];
    matched.push(blob as Blob);
    URL.revokeObjectURL(filename as string); // tfjs never revokes it
    return [workerFile, { ...options, execArgv: [] }];
  };
  class SiftPthreadWorker extends Real {
    constructor(filename: string | URL, options?: WorkerOptions) {
      super(...route(filename, options));
    }
  }
  workerThreads.Worker = SiftPthreadWorker;
  return {
    matched,
    restore: () => {
      workerThreads.Worker = Real;
    },
  };
}

/** Fix 4: `os.cpus()` reports at least `min` CPUs (copies of the last one) until `restore()`. */
function reportAtLeastCpus(min: number): () => void {
  const real = nodeOs.cpus;
  if (real().length >= min) return () => undefined;
  nodeOs.cpus = () => {
    const list = real();
    const pad = list.at(-1) ?? { model: 'unknown CPU', speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } };
    while (list.length < min) list.push(pad);
    return list;
  };
  return () => {
    nodeOs.cpus = real;
  };
}

/** Resolves never; rejects when a pthread worker reports a load failure (see `pthreadWorkerSource`). */
function workerFailure(): { failed: Promise<never>; close: () => void } {
  const channel = new BroadcastChannel(WORKER_ERROR_CHANNEL);
  (channel as unknown as { unref?: () => void }).unref?.();
  const failed = new Promise<never>((_, reject) => {
    channel.onmessage = (ev: MessageEvent) => {
      const data = ev.data as Partial<WorkerLoadError> | null;
      if (data?.kind === 'sift-wasm-pthread-load-error') {
        reject(new Error(`a pthread worker could not load the Emscripten glue: ${data.message ?? 'unknown error'}`));
      }
    };
  });
  failed.catch(() => undefined); // handled by the race below; never an unhandled rejection
  return { failed, close: () => { channel.close(); } };
}

function timeout(ms: number): { expired: Promise<never>; clear: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => { reject(new Error(`the threaded init did not finish within ${String(ms / 1000)} s`)); }, ms);
  });
  expired.catch(() => undefined);
  return { expired, clear: () => { clearTimeout(timer); } };
}

function runningWorkers(backend: tf.KernelBackend): { unref(): void }[] {
  return (backend as unknown as PThreadOwner).wasm?.PThread?.runningWorkers ?? [];
}

/**
 * Starts the threaded-SIMD binary with `threads` threads (capped at 8) by calling tfjs's own factory with fixes 1-5
 * in place. Throws (with the reason) when any step fails; the global overrides are restored either way, and the
 * `WASM_HAS_MULTITHREAD_SUPPORT` flag is set back to false on failure so that the caller can start the
 * single-threaded binary cleanly.
 */
export async function startThreadedWasm(factory: WasmBackendFactory, api: WasmThreadsApi, threads: number): Promise<ThreadedStart> {
  const effective = Math.min(threads, TFJS_WASM_MAX_THREADS);
  try {
    if ((globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer === undefined) {
      throw new Error('SharedArrayBuffer is not available');
    }
    const files = tfjsWasmFiles();
    if (files.version !== TFJS_WASM_THREADS_VERSION) {
      throw new Error(`threads in Node rely on tfjs-backend-wasm ${TFJS_WASM_THREADS_VERSION} internals, found ${files.version}`);
    }
    const blobSource = workerBlobSource(files.workerContents);
    const workerFile = await writeWorkerFile(pthreadWorkerSource(blobSource, files.gluePath));

    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true); // fix 1
    api.setThreadsCount(effective);
    const failure = workerFailure();
    const limit = timeout(THREADED_INIT_TIMEOUT_MS);
    const restores: (() => void)[] = [];
    let matched: Blob[] = [];
    let backend: tf.KernelBackend;
    try {
      restores.push(reportAtLeastCpus(2 * effective)); // fix 4: the C++ side caps at logical cores / 2
      const mapping = routeWorkerBlob(blobSource, workerFile); // fix 2 (fix 3 is inside the worker file)
      restores.push(mapping.restore);
      matched = mapping.matched;
      const init = Promise.resolve().then(factory);
      try {
        backend = await Promise.race([init, failure.failed, limit.expired]);
      } catch (err) {
        // A late success would leave its workers and a running pool behind: dispose it when it comes.
        init.then((late) => { late.dispose(); }, () => undefined);
        throw err;
      }
    } finally {
      for (const restore of restores.reverse()) restore();
      limit.clear();
      failure.close();
    }

    const actual = api.getThreadsCount();
    const first = matched.at(0);
    const blobText = first === undefined ? undefined : await first.text();
    if (actual < 2 || (blobText !== undefined && blobText !== blobSource)) {
      backend.dispose(); // BackendWasm.dispose also terminates its pthread workers
      throw new Error(actual < 2
        ? `tfjs-backend-wasm started with ${String(actual)} thread instead of ${String(effective)}`
        : 'the worker source tfjs put in its Blob differs from wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
    }
    for (const worker of runningWorkers(backend)) worker.unref(); // fix 5
    const start: ThreadedStart = { backend, threads: actual };
    if (actual < threads) {
      start.reason = actual === TFJS_WASM_MAX_THREADS && threads > TFJS_WASM_MAX_THREADS
        ? `tfjs-backend-wasm computes with at most ${String(TFJS_WASM_MAX_THREADS)} threads`
        : `tfjs-backend-wasm started ${String(actual)} of the ${String(threads)} threads asked for`;
    }
    return start;
  } catch (err) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    api.setThreadsCount(-1);
    throw new Error(messageOf(err), { cause: err });
  }
}
