// Multi-threaded wasm in Node against the single-threaded binary, measured in the same run. tfjs starts its wasm
// binary once per process, so each thread count runs in its own child `node` process (on the built dist/, which
// `pnpm bench` builds first) and prints one JSON line.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from '../../../tools/bench/harness.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

interface ChildFigures {
  threads: number;
  initMs: number;
  /** GFLOP/s per case label. */
  gflops: Record<string, number>;
}

const CASES: readonly (readonly [string, number, number, number, number])[] = [
  // label, m, k, n, repeats
  ['matmul 1024^3', 1024, 1024, 1024, 7],
  ['matmul 256^3', 256, 256, 256, 21],
  ['matvec [1,4096]x[4096,4096]', 1, 4096, 4096, 21],
];

// `node --input-type=module -e` from the package folder: '@sift/backend' resolves to its own dist/.
const CHILD = `
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@sift/backend';
const { threads, cases } = JSON.parse(process.env.SIFT_BENCH_CHILD);
const t0 = performance.now();
const info = await initBackend({ prefer: ['wasm'], threads });
const initMs = performance.now() - t0;
const gflops = {};
for (const [label, m, k, n, repeats] of cases) {
  const a = tf.randomNormal([m, k], 0, 1, 'float32', 1);
  const b = tf.randomNormal([k, n], 0, 1, 'float32', 2);
  const once = () => { const c = tf.matMul(a, b); c.dataSync(); c.dispose(); };
  once(); once();
  const times = [];
  for (let i = 0; i < repeats; i++) { const t = performance.now(); once(); times.push(performance.now() - t); }
  times.sort((x, y) => x - y);
  gflops[label] = (2 * m * k * n) / (times[Math.floor(times.length / 2)] * 1e6);
  tf.dispose([a, b]);
}
process.stdout.write('FIGURES ' + JSON.stringify({ threads: info.threads, reason: info.threadsReason, initMs, gflops }) + '\\n');
`;

function runChild(threads: number): ChildFigures {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], {
    cwd: pkgDir,
    encoding: 'utf8',
    env: { ...process.env, SIFT_BENCH_CHILD: JSON.stringify({ threads, cases: CASES }) },
    timeout: 300_000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('FIGURES '));
  if (r.status !== 0 || line === undefined) {
    throw new Error(`threads bench child (threads: ${String(threads)}) failed with status ${String(r.status)}:\n${r.stdout}\n${r.stderr}`);
  }
  const figures = JSON.parse(line.slice('FIGURES '.length)) as ChildFigures & { reason?: string };
  if (figures.threads !== threads) {
    throw new Error(`asked for ${String(threads)} wasm threads, got ${String(figures.threads)}: ${figures.reason ?? 'no reason given'}`);
  }
  return figures;
}

export default function bench(): Promise<BenchRow[]> {
  // Node's default thread count (min(logical CPUs, 8)), and at least 2 so that the comparison means something.
  const n = Math.max(2, Math.min(availableParallelism(), 8));
  const one = runChild(1);
  const many = runChild(n);
  const rows: BenchRow[] = CASES.map(([label]) => ({
    name: `${label} (wasm, ${String(n)} threads)`,
    value: many.gflops[label] ?? Number.NaN,
    unit: 'GFLOP/s',
    reference: 'wasm, 1 thread',
    referenceValue: one.gflops[label] ?? Number.NaN,
    higherIsBetter: true,
  }));
  rows.push({
    name: `wasm init (${String(n)} threads)`,
    value: many.initMs,
    unit: 'ms',
    reference: 'wasm init, 1 thread',
    referenceValue: one.initMs,
    higherIsBetter: false,
  });
  return Promise.resolve(rows);
}
