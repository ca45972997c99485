// GBDT training time on 50k x 512 synthetic embeddings against sklearn's HistGradientBoostingClassifier with the same
// settings, measured in the same run (tools/crosscheck/eval_gbdt_bench.py times only sklearn's fit).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@sift/tensor-core';
import { accuracy, fitGbdt, matrix, predictGbdt, type GbdtOptions } from '@sift/eval';
import type { BenchRow } from '../../../tools/bench/harness.js';

/** Sizes and settings, kept as data. LightGBM defaults = sklearn HGB defaults (31 leaves, 20 rows, lr 0.1, 255 bins). */
const CONFIG = {
  nTrain: 50_000,
  nTest: 10_000,
  d: 512,
  seed: 7,
  params: { objective: 'binary', nEstimators: 100, learningRate: 0.1, numLeaves: 31, maxDepth: -1, minDataInLeaf: 20, lambdaL2: 0, maxBin: 255 } satisfies Partial<GbdtOptions>,
};

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Embedding-like features (normal, a few informative directions) and a nonlinear label. */
function data(): { x: Float32Array; y: Uint8Array } {
  const n = CONFIG.nTrain + CONFIG.nTest, d = CONFIG.d;
  const rng = new Rng(CONFIG.seed);
  const x = rng.fillNormal(new Float32Array(n * d));
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = i * d;
    const f = x[r] * x[r + 1] + Math.sin(2 * x[r + 2]) - 0.5 * x[r + 3] * x[r + 3] + 0.3 * x[r + 4] + 0.2;
    y[i] = f + 0.3 * rng.normal() > 0 ? 1 : 0;
  }
  return { x, y };
}

function sklearn(x: Float32Array, y: Uint8Array): { fitS: number; accuracy: number; threads: string } | { error: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sift-gbdt-bench-'));
  try {
    writeFileSync(join(dir, 'x.f32'), x);
    writeFileSync(join(dir, 'y.u8'), y);
    const r = spawnSync('/usr/bin/python3', [join(root, 'tools/crosscheck/eval_gbdt_bench.py'), join(dir, 'x.f32'), join(dir, 'y.u8'),
      String(CONFIG.nTrain), String(CONFIG.nTest), String(CONFIG.d), JSON.stringify(CONFIG.params)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.error) return { error: `cannot run /usr/bin/python3 (${r.error.message})` };
    if (r.status !== 0) {
      const last = (r.stderr || r.stdout).trim().split('\n').at(-1) ?? '';
      return { error: last.includes('No module named') ? `python deps missing: ${last}` : `python failed: ${last}` };
    }
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { fit_s: number; accuracy: number; threads: string };
    return { fitS: out.fit_s, accuracy: out.accuracy, threads: out.threads };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function bench(): Promise<BenchRow[]> {
  await Promise.resolve();
  const { x, y } = data();
  const { nTrain, nTest, d } = CONFIG;
  const xTrain = matrix(x.subarray(0, nTrain * d), nTrain, d);
  const xTest = matrix(x.subarray(nTrain * d), nTest, d);
  // fitGbdt's default in Node: histograms on min(CPUs, 8) threads; the 1-thread fit is timed too, for the scaling row.
  const histThreads = Math.min(availableParallelism(), 8);
  const timeFit = (threads: number): { s: number; model: ReturnType<typeof fitGbdt> } => {
    const t0 = performance.now();
    const model = fitGbdt(xTrain, y.subarray(0, nTrain), { ...CONFIG.params, threads });
    return { s: (performance.now() - t0) / 1000, model };
  };
  const { s: siftS, model } = timeFit(histThreads);
  const oneS = timeFit(1).s;
  const siftAcc = accuracy(y.subarray(nTrain), predictGbdt(model, xTest));
  const ref = sklearn(x, y);
  const scaling: BenchRow = { name: `GBDT fit, histograms on ${histThreads} threads`, value: siftS, unit: 's', reference: 'the same fit on 1 thread (identical model)', referenceValue: oneS, higherIsBetter: false };
  const label = `GBDT fit ${nTrain / 1000}k x ${d}, ${CONFIG.params.nEstimators} trees, ${CONFIG.params.numLeaves} leaves (histograms on ${histThreads} threads)`;
  if ('error' in ref) {
    return [scaling, { name: label, value: siftS, unit: 's', reference: `sklearn HGB: ${ref.error}`, referenceValue: Number.NaN, higherIsBetter: false }];
  }
  return [
    scaling,
    { name: label, value: siftS, unit: 's', reference: `sklearn HistGradientBoosting (${ref.threads} threads)`, referenceValue: ref.fitS, higherIsBetter: false },
    { name: `GBDT test accuracy (${nTest / 1000}k held out)`, value: siftAcc, unit: 'acc', reference: 'sklearn HistGradientBoosting', referenceValue: ref.accuracy, higherIsBetter: true },
  ];
}
