// Gram accumulation throughput (ActivationStats with gram: true) over a stream of [2048, 4096] activation batches,
// against one tf.matMul of the same size ([4096, 2048] · [2048, 4096]) measured in the same run. Both count 2·T·d²
// flops per batch; the accumulator's figure includes the read-back and the float64 fold (host-float64) or the
// device-side add (device-float32), and the per-channel statistics are switched off.
import { initBackend } from '@sift/backend';
import * as tf from '@tensorflow/tfjs-core';
import { medianMs, type BenchRow } from '../../../tools/bench/harness.js';
import { Rng } from '../src/random/index.js';
import { ActivationStats } from '../src/stats/index.js';
import { plainGram } from '../src/stats/activation-stats.js';
import { GRAM_STREAM } from './config.js';

export default async function bench(): Promise<BenchRow[]> {
  const info = await initBackend({ prefer: ['wasm'] });
  const backend = `${info.name}, ${String(info.threads)} thread${info.threads === 1 ? '' : 's'}`;
  const { tokens, d, batches } = GRAM_STREAM;
  const rng = new Rng('gram-bench');
  const stream = Array.from({ length: batches }, () => rng.normalTensor([tokens, d]));
  const flopsPerBatch = 2 * tokens * d * d;

  const xt = tf.transpose(stream[0]);
  const refMs = await medianMs(() => {
    const g = tf.matMul(xt, stream[0]);
    g.dataSync();
    g.dispose();
  }, { warmup: 1, repeats: 1 });
  xt.dispose();
  const reference = flopsPerBatch / (refMs * 1e6);

  const rows: BenchRow[] = [];
  for (const gramAccumulator of ['host-float64', 'device-float32'] as const) {
    const stats = new ActivationStats({ gram: true, gramAccumulator, sqNorm: false, maxAbs: false, moments: false });
    stats.update(stream[0]); // warm-up (allocation, kernels)
    const t0 = performance.now();
    for (const x of stream) stats.update(x);
    if (gramAccumulator === 'device-float32') stats.gram(); // include the final read of the device accumulator
    const ms = performance.now() - t0;
    stats.dispose();
    rows.push({
      name: `Gram XᵀX stream ${String(batches)} × [${String(tokens)}, ${String(d)}] (${gramAccumulator}, ${backend})`,
      value: (batches * flopsPerBatch) / (ms * 1e6), unit: 'GFLOP/s',
      reference: `tfjs matMul [${String(d)}, ${String(tokens)}]·[${String(tokens)}, ${String(d)}]`, referenceValue: reference, higherIsBetter: true,
    });
  }
  tf.dispose(stream);
  rows.push(await kernelRow(backend));
  return rows;
}

/**
 * One calibration batch of SparseGPT's bench ([16384, 768]): @sift/backend's SiftGram kernel (lower triangle only,
 * on the backend's threads) against plainGram (tfjs matMuls in 2048-row chunks), alternating, median of 3 each.
 * Both in full-product GFLOP/s (2·T·d²).
 */
async function kernelRow(backend: string): Promise<BenchRow> {
  const [T, d] = [16_384, 768];
  const x = new Rng('gram-kernel').normalTensor([T, d]) as tf.Tensor2D;
  const run = (f: () => tf.Tensor) => (): void => {
    const g = f();
    g.dataSync();
    g.dispose();
  };
  const kernel = run(() => tf.engine().runKernel('SiftGram', { x }));
  const plain = run(() => plainGram(x, T, d));
  const k: number[] = [];
  const p: number[] = [];
  for (let r = 0; r < 4; r++) {
    k.push(await medianMs(kernel, { warmup: 0, repeats: 1 }));
    p.push(await medianMs(plain, { warmup: 0, repeats: 1 }));
  }
  x.dispose();
  const median = (v: number[]): number => v.slice(1).sort((a, b) => a - b)[1]; // the first run is a warm-up
  const flops = 2 * T * d * d;
  return {
    name: `Gram XᵀX [${String(T)}, ${String(d)}] (SiftGram kernel: lower triangle, ${backend})`, value: flops / (median(k) * 1e6), unit: 'GFLOP/s',
    reference: 'tfjs matMul XᵀX in 2048-row chunks (plainGram)', referenceValue: flops / (median(p) * 1e6), higherIsBetter: true,
  };
}
