// Multi-threaded wasm in Node against the single-threaded binary, measured in the same run. tfjs starts its wasm
// binary once per process, so each thread count runs in its own child `node` process (on the built dist/, which
// `pnpm bench` builds first) and prints one JSON line. The children alternate (1, N, 1, N, 1, N) and each figure is the
// median over its rounds, so a burst of load from another process hits both sides instead of one; each timed sample
// repeats a product until it lasts >= 20 ms, so small products are not at the timer's resolution.
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
  ['matmul 1024^3', 1024, 1024, 1024, 5],
  ['matmul 256^3', 256, 256, 256, 7],
  ['matvec [1,4096]x[4096,4096]', 1, 4096, 4096, 7],
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
  let inner = 1;
  for (;;) { const t = performance.now(); for (let i = 0; i < inner; i++) once(); if (performance.now() - t >= 20) break; inner *= 2; }
  const times = [];
  for (let i = 0; i < repeats; i++) { const t = performance.now(); for (let j = 0; j < inner; j++) once(); times.push((performance.now() - t) / inner); }
  times.sort((x, y) => x - y);
  gflops[label] = (2 * m * k * n) / (times[Math.floor(times.length / 2)] * 1e6);
  tf.dispose([a, b]);
}
process.stdout.write('FIGURES ' + JSON.stringify({ threads: info.threads, reason: info.threadsReason, initMs, gflops }) + '\\n');
`;

/** Alternating 1-thread / N-thread child runs; each figure is the median over rounds. */
const ROUNDS = 3;

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
  const ones: ChildFigures[] = [];
  const manys: ChildFigures[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    ones.push(runChild(1));
    manys.push(runChild(n));
  }
  const med = (fs: ChildFigures[], pick: (f: ChildFigures) => number | undefined): number => {
    const v = fs.map((f) => pick(f) ?? Number.NaN).sort((x, y) => x - y);
    return v[Math.floor(v.length / 2)];
  };
  const rows: BenchRow[] = CASES.map(([label]) => ({
    name: `${label} (wasm, ${String(n)} threads, median of ${String(ROUNDS)} alternating runs)`,
    value: med(manys, (f) => f.gflops[label]),
    unit: 'GFLOP/s',
    reference: 'wasm, 1 thread',
    referenceValue: med(ones, (f) => f.gflops[label]),
    higherIsBetter: true,
  }));
  rows.push({
    name: `wasm init (${String(n)} threads)`,
    value: med(manys, (f) => f.initMs),
    unit: 'ms',
    reference: 'wasm init, 1 thread',
    referenceValue: med(ones, (f) => f.initMs),
    higherIsBetter: false,
  });
  return Promise.resolve(rows);
}
