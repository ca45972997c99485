// Matmul and matvec throughput of the default backend (wasm) against the cpu backend, measured in the same run.
import { initBackend, type BackendName } from '@sift/backend';
import * as tf from '@tensorflow/tfjs-core';
import { medianMs, type BenchRow } from '../../../tools/bench/harness.js';

async function gflops(backend: BackendName, m: number, k: number, n: number): Promise<{ gflops: number; threads: number }> {
  const info = await initBackend({ prefer: [backend] });
  const a = tf.randomNormal([m, k], 0, 1, 'float32', 1);
  const b = tf.randomNormal([k, n], 0, 1, 'float32', 2);
  const ms = await medianMs(() => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  }, { warmup: 2, repeats: backend === 'cpu' ? 3 : 7 });
  tf.dispose([a, b]);
  return { gflops: (2 * m * k * n) / (ms * 1e6), threads: info.threads };
}

export default async function bench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [label, m, k, n] of [['matmul 512^3', 512, 512, 512], ['matvec [1,2048]x[2048,2048]', 1, 2048, 2048]] as const) {
    const wasm = await gflops('wasm', m, k, n);
    const cpu = await gflops('cpu', m, k, n);
    // wasm runs with its default thread count (Node: min(logical CPUs, 8)); threads.bench.ts compares thread counts.
    rows.push({
      name: `${label} (wasm, ${String(wasm.threads)} thread${wasm.threads === 1 ? '' : 's'})`, value: wasm.gflops, unit: 'GFLOP/s',
      reference: 'tfjs cpu backend', referenceValue: cpu.gflops, higherIsBetter: true,
    });
  }
  return rows;
}
