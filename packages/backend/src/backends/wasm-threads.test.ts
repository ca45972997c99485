import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError } from '../errors.js';
import { initBackend } from '../init.js';
import type { BackendInfo } from '../types.js';
import { tfjsWasmFiles, workerBlobSource } from './wasm-threads.js';
import { pthreadWorkerSource, WORKER_ERROR_CHANNEL, workerCacheDir, workerFileName, writeWorkerFile, type WorkerLoadError } from './wasm-worker-file.js';

/**
 * Multi-threaded wasm in Node. tfjs starts its wasm binary once per process, and the vitest worker may hold one
 * already, so every start here runs in a child `node` process (TypeScript sources through tsx) that prints one
 * `RESULT {json}` line and must then exit on its own.
 */

const pkgDir = fileURLToPath(new URL('../..', import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const tfjsCoreUrl = pathToFileURL(createRequire(join(pkgDir, 'package.json')).resolve('@tensorflow/tfjs-core')).href;
const indexUrl = pathToFileURL(join(pkgDir, 'src', 'index.ts')).href;
const batchMatMulUrl = pathToFileURL(join(pkgDir, 'src', 'kernels', 'wasm-batch-matmul.ts')).href;
const gramUrl = pathToFileURL(join(pkgDir, 'src', 'kernels', 'wasm-gram.ts')).href;

/** The child: starts wasm with `threads`, runs fixed matmul/conv/softmax cases, prints their float32 bits. */
const CHILD = `
import * as tf from ${JSON.stringify(tfjsCoreUrl)};
import os from 'node:os';
import { initBackend } from ${JSON.stringify(indexUrl)};
import { matVecOf } from ${JSON.stringify(batchMatMulUrl)};
import { gramThreadsRunning } from ${JSON.stringify(gramUrl)};

const cfg = JSON.parse(process.env.SIFT_CHILD ?? '{}');
if (cfg.sabotageCpus) {
  // A host whose os.cpus cannot be changed and reports 1 CPU: tfjs's threaded binary then starts with 1 thread.
  const one = os.cpus().slice(0, 1);
  Object.defineProperty(os, 'cpus', { configurable: false, get: () => () => one, set: () => undefined });
}
const info = await initBackend({ prefer: ['wasm'], ...(cfg.threads === undefined ? {} : { threads: cfg.threads }) });

function values(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out[i] = s / 2 ** 32 * 4 - 2; }
  return out;
}
const t = (shape, seed) => tf.tensor(values(shape.reduce((a, b) => a * b, 1), seed), shape);
const CASES = {
  'matMul [64,200]x[200,96]': () => tf.matMul(t([64, 200], 1), t([200, 96], 2)),
  'matMul [1,512]x[512,300]': () => tf.matMul(t([1, 512], 3), t([512, 300], 4)),
  'matMul [257,129]x[129,65]': () => tf.matMul(t([257, 129], 5), t([129, 65], 6)),
  'matMul [384,384]x[384,384]': () => tf.matMul(t([384, 384], 7), t([384, 384], 8)),
  'batched matMul [4,65,70]x[4,33,70]^T': () => tf.matMul(t([4, 65, 70], 9), t([4, 33, 70], 10), false, true),
  'conv2d [2,24,24,8]*[3,3,8,16] same': () => tf.conv2d(t([2, 24, 24, 8], 11), t([3, 3, 8, 16], 12), 1, 'same'),
  'conv2d [1,33,33,3]*[5,5,3,12] stride 2 valid': () => tf.conv2d(t([1, 33, 33, 3], 13), t([5, 5, 3, 12], 14), 2, 'valid'),
  'softmax [64,1000]': () => tf.softmax(tf.mul(t([64, 1000], 15), 3)),
  'decoding x W^T [1,256]x[302,256]^T (few-rows SIMD kernel)': () => tf.matMul(t([1, 256], 16), t([302, 256], 17), false, true),
  'Gram X^T X [300,64] (SiftGram kernel, block rows on the threads)': () => tf.engine().runKernel('SiftGram', { x: t([300, 64], 18) }),
};
const results = {};
for (const [name, f] of Object.entries(CASES)) {
  const y = tf.tidy(f);
  results[name] = Buffer.from((await y.data()).buffer).toString('base64');
  y.dispose();
}
const pthread = tf.backend().wasm.PThread;
const facts = {
  info,
  flag: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
  pthread: pthread !== undefined,
  runningWorkers: pthread?.runningWorkers.length ?? 0,
  matVec: matVecOf(tf.backend()) !== null,
  gramThreads: gramThreadsRunning(),
  numTensors: tf.memory().numTensors,
  cpusAfter: os.cpus().length,
};
process.stdout.write('RESULT ' + JSON.stringify({ ...facts, results }) + '\\n');
// No process.exit: the process must end by itself (the pool's running workers are unref()ed).
`;

interface ChildResult {
  info: BackendInfo;
  flag: boolean;
  pthread: boolean;
  runningWorkers: number;
  matVec: boolean;
  gramThreads: number;
  numTensors: number;
  cpusAfter: number;
  results: Record<string, string>;
}

interface ChildRun { result: ChildResult; exitMs: number; stderr: string }

const CHILD_TIMEOUT_MS = 60_000;

let childDir: string | undefined;

/** Runs CHILD with the given config; rejects unless it prints a result and exits 0 on its own within the timeout. */
async function runChild(cfg: { threads?: number; sabotageCpus?: boolean; evalScript?: boolean }): Promise<ChildRun> {
  let args: string[];
  if (cfg.evalScript === true) {
    // `node --input-type=module -e`: worker threads inherit the parent's flags, and --input-type makes a worker
    // started from a file fail at once, so this passes only if Sift starts its pthread workers without them.
    args = ['--max-old-space-size=2048', '--import', tsxLoader, '--input-type=module', '-e', CHILD];
  } else {
    childDir ??= await mkdtemp(join(tmpdir(), 'sift-wasm-threads-child-'));
    const script = join(childDir, 'child.mjs');
    await writeFile(script, CHILD);
    args = ['--import', tsxLoader, script];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: pkgDir,
      env: { ...process.env, SIFT_CHILD: JSON.stringify(cfg) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let resultAt: number | undefined;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (resultAt === undefined && stdout.includes('RESULT ')) resultAt = performance.now();
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, CHILD_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`child ${JSON.stringify(cfg)} ended with code ${String(code)} signal ${String(signal)}` +
          `${signal === 'SIGKILL' ? ` (did not exit within ${String(CHILD_TIMEOUT_MS / 1000)} s)` : ''}\n${stdout}\n${stderr}`));
        return;
      }
      resolve({
        result: JSON.parse(line.slice('RESULT '.length)) as ChildResult,
        exitMs: performance.now() - (resultAt ?? performance.now()),
        stderr,
      });
    });
  });
}

/** Largest |a - b| over two base64-encoded float32 arrays (for the failure message). */
function maxAbsDiff(a: string, b: string): number {
  const x = new Float32Array(new Uint8Array(Buffer.from(a, 'base64')).buffer);
  const y = new Float32Array(new Uint8Array(Buffer.from(b, 'base64')).buffer);
  if (x.length !== y.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

describe('initBackend threads option', () => {
  it.each([0, -1, 2.5, 65, Number.NaN, Number.POSITIVE_INFINITY])('threads: %s is a clear E_BACKEND_OPTION error', async (threads) => {
    const err = await initBackend({ prefer: ['wasm'], threads }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).code).toBe('E_BACKEND_OPTION');
    expect((err as Error).message).toMatch(new RegExp(`threads must be an integer from 1 to 64, got ${String(threads)}`));
  });

  it('a non-number threads value names its type', async () => {
    const err = await initBackend({ prefer: ['cpu'], threads: '4' as unknown as number }).catch((e: unknown) => e);
    expect((err as BackendError).code).toBe('E_BACKEND_OPTION');
    expect((err as Error).message).toMatch(/got the string "4"/);
  });
});

describe('the pthread worker file', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'sift-wasm-worker-test-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('is tfjs\'s worker source, escaped as tfjs escapes it, then the glue redirect', () => {
    const files = tfjsWasmFiles();
    expect(files.version).toBe('4.22.0');
    const blob = workerBlobSource(files.workerContents);
    expect(blob).not.toMatch(/\n/); // the one "\n" inside a string literal is escaped again, as in tfjs's init()
    const source = pthreadWorkerSource(blob, files.gluePath);
    // "use strict" stays the first statement (only comment lines precede it).
    expect(source.split('\n').find((l) => !l.startsWith('//'))).toMatch(/^"use strict";var Module=\{\};/);
    expect(source).toContain(blob);
    expect(source).toContain(`var gluePath = ${JSON.stringify(files.gluePath)};`);
  });

  it('is written atomically, named by its content, and reused when identical', async () => {
    const a = await writeWorkerFile('// a\n', dir);
    const again = await writeWorkerFile('// a\n', dir);
    expect(again).toBe(a);
    expect(a.endsWith(workerFileName('// a\n'))).toBe(true);
    const before = await stat(a);
    await writeWorkerFile('// a\n', dir);
    expect((await stat(a)).mtimeMs).toBe(before.mtimeMs);
    expect((await stat(a)).ino).toBe(before.ino);
    const b = await writeWorkerFile('// b\n', dir);
    expect(b).not.toBe(a);
    expect(await readFile(b, 'utf8')).toBe('// b\n');
    // No temporary files are left behind.
    expect((await readdir(dir)).filter((f) => /\.(cjs|tmp)$/.test(f)).sort()).toEqual([workerFileName('// a\n'), workerFileName('// b\n')].sort());
  });

  it('the cache folder is private; one that others could write to is not used', async () => {
    const uid = process.getuid?.();
    const own = await workerCacheDir(dir);
    expect(own).toBe(join(dir, `sift-backend-${uid === undefined ? 'user' : String(uid)}`));
    expect((await stat(own)).mode & 0o077).toBe(0);
    if (uid === undefined) return; // no owner or mode checks without POSIX ids (Windows)
    await chmod(own, 0o777);
    const other = await workerCacheDir(dir);
    expect(other).not.toBe(own);
    expect(other.startsWith(join(dir, 'sift-backend-'))).toBe(true);
    await chmod(own, 0o700);
  });

  it('a worker that cannot load the glue reports why on the channel and exits, instead of throwing', async () => {
    const files = tfjsWasmFiles();
    const file = await writeWorkerFile(pthreadWorkerSource(workerBlobSource(files.workerContents), join(dir, 'missing-glue.js')), dir);
    const channel = new BroadcastChannel(WORKER_ERROR_CHANNEL);
    const reported = new Promise<WorkerLoadError>((resolve) => {
      channel.onmessage = (ev: MessageEvent<WorkerLoadError>) => { resolve(ev.data); };
    });
    const worker = new Worker(file);
    const exited = new Promise<number>((resolve) => { worker.on('exit', resolve); });
    const errors: unknown[] = [];
    worker.on('error', (e) => errors.push(e));
    worker.postMessage({ cmd: 'load', handlers: [], urlOrBlob: 'ignored', wasmMemory: { buffer: new ArrayBuffer(8) }, wasmModule: null });
    try {
      const report = await reported;
      expect(report.kind).toBe('sift-wasm-pthread-load-error');
      expect(report.message).toMatch(/ENOENT.*missing-glue\.js/);
      expect(await exited).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      channel.close();
    }
  });
});

describe('threaded wasm in a child process', () => {
  let one: ChildRun;
  let two: ChildRun;
  beforeAll(async () => {
    one = await runChild({ threads: 1 });
    two = await runChild({ threads: 2, evalScript: true });
  }, 2 * CHILD_TIMEOUT_MS + 10_000);
  afterAll(async () => {
    if (childDir !== undefined) await rm(childDir, { recursive: true, force: true });
  });

  it('threads: 1 is tfjs\'s single-threaded SIMD binary with no workers', () => {
    const r = one.result;
    expect(r.info).toMatchObject({ name: 'wasm', simd: true, threads: 1 });
    expect(r.info.threadsReason).toBeUndefined();
    expect(r.flag).toBe(false);
    expect(r.pthread).toBe(false);
  });

  it('threads: 2 runs the threaded-SIMD binary with 2 threads, whatever the host\'s CPU count', () => {
    const r = two.result;
    expect(r.info).toMatchObject({ name: 'wasm', simd: true, threads: 2, fallbacks: [] });
    expect(r.info.device).toMatch(/WebAssembly, SIMD, 2 threads/);
    expect(r.info.threadsReason).toBeUndefined();
    expect(r.flag).toBe(true);
    expect(r.pthread).toBe(true);
    expect(r.runningWorkers).toBe(1); // XNNPACK's pool: the main thread plus n - 1 workers
    expect(r.matVec).toBe(true); // the few-rows kernel imports the shared memory
    expect(r.gramThreads).toBe(2); // the Gram kernel ran on a worker beside the calling thread
    expect(r.numTensors).toBe(0);
  });

  it('os.cpus is restored after the start', async () => {
    const { cpus } = await import('node:os');
    expect(two.result.cpusAfter).toBe(cpus().length);
  });

  it('matmul, conv2d, softmax and the Gram kernel are bit-identical on 1 and 2 threads', () => {
    expect(one.result.matVec).toBe(true);
    expect(one.result.gramThreads).toBe(1);
    const names = Object.keys(one.result.results);
    expect(names.length).toBe(10);
    for (const name of names) {
      const a = one.result.results[name];
      const b = two.result.results[name];
      expect(b === a ? 0 : maxAbsDiff(a, b), name).toBe(0);
    }
  });

  it('a `node --input-type=module -e` process that started threaded wasm exits on its own', () => {
    // runChild rejects when the child has to be killed; the gap between its result and its exit is event-loop teardown.
    expect(two.exitMs).toBeLessThan(CHILD_TIMEOUT_MS);
    expect(two.stderr).not.toMatch(/worker sent an error|ERR_WORKER_PATH/);
  });

  it('when the threaded binary cannot get its threads, the single-threaded SIMD binary runs and says why', async () => {
    const r = (await runChild({ threads: 2, sabotageCpus: true })).result;
    expect(r.info).toMatchObject({ name: 'wasm', simd: true, threads: 1, fallbacks: [] });
    expect(r.info.threadsReason).toMatch(/threaded wasm binary could not start \(tfjs-backend-wasm started with 1 thread instead of 2\), so the single-threaded SIMD binary runs/);
    expect(r.flag).toBe(false);
    expect(r.pthread).toBe(false);
    expect(r.results).toEqual(one.result.results);
  }, CHILD_TIMEOUT_MS + 10_000);
});
