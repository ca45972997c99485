// GPTQ with k salient columns (QUIK layout) on one [256, 1024] layer: Sift's float64 host loop (its gemm on the
// WebAssembly SIMD tile) vs a PyTorch float32 implementation of the same algorithm (tools/crosscheck/gift_gptq_bench.py)
// on the same machine, in the same run.
import { initBackend } from '@sift/backend';
import { Rng } from '@sift/tensor-core';
import { medianMs, runPython, type BenchRow } from '../../../tools/bench/harness.js';
import { quantizeGptq } from '../src/index.js';
import { GPTQ_LAYER } from './config.js';

export default async function bench(): Promise<BenchRow[]> {
  await initBackend({ prefer: ['wasm'] });
  const { rows, cols, k, bits, blockSize, tokens, repeats } = GPTQ_LAYER;
  const rng = new Rng(0);
  const w = Float32Array.from({ length: rows * cols }, () => rng.normal());
  const x = Float64Array.from({ length: tokens * cols }, () => rng.normal());
  const h = new Float64Array(cols * cols);
  for (let t = 0; t < tokens; t++) {
    const off = t * cols;
    for (let a = 0; a < cols; a++) {
      const xa = x[off + a];
      for (let b = 0; b <= a; b++) h[a * cols + b] += xa * x[off + b];
    }
  }
  for (let a = 0; a < cols; a++) for (let b = 0; b <= a; b++) h[b * cols + a] = h[a * cols + b] = (2 / tokens) * h[a * cols + b];
  const salient = Array.from({ length: k }, (_, i) => i * Math.floor(cols / k));
  // One untimed run first, as the PyTorch side does (JIT warm-up), then the median of `repeats`.
  const ms = await medianMs(() => quantizeGptq({ data: w, rows, cols }, h, salient, { bits, blockSize }), { warmup: 1, repeats });
  const script = new URL('../../../tools/crosscheck/gift_gptq_bench.py', import.meta.url).pathname;
  const ref = await runPython<{ ms: number; threads: number }>(script, [rows, cols, k, bits, blockSize, repeats].map(String));
  return [{
    name: `GPTQ + ${k} salient columns, [${rows}, ${cols}] at ${bits} bits (float64 host)`, value: ms, unit: 'ms',
    reference: ref.ok ? `PyTorch float32, ${ref.value.threads} threads` : ref.reason, referenceValue: ref.ok ? ref.value.ms : Number.NaN,
    higherIsBetter: false,
  }];
}
