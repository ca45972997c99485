// Cholesky, SPD inverse and the upper Cholesky factor of the inverse (SparseGPT's Hinv) at d = 768, 2048, 4096:
// the float64 host path (packed gemm on the WebAssembly SIMD tile) and the blocked float32 path on the active backend (wasm), in GFLOP/s, each beside tfjs matMul's
// GFLOP/s at the same d measured in the same run. First, the float64 gemm itself (bit-identical in every setting):
// the WebAssembly SIMD tile against the plain JavaScript reference on one thread, then host threads against one.
//
// Flop counts are the algorithms' nominal ones: Cholesky n³/3, SPD inverse n³ (LAPACK dpotrf + dpotri), upper
// Cholesky factor of the inverse 2n³/3 (one Cholesky and one triangular inverse, through J·A·J); matMul 2n³.
import { initBackend } from '@sift/backend';
import * as tf from '@tensorflow/tfjs-core';
import { medianMs, type BenchRow } from '../../../tools/bench/harness.js';
import { gemmF64, cholesky, choleskyInverseUpper, spdInverse } from '../src/linalg/index.js';
import { hostThreadsReady, setGemmKernel, setHostThreads } from '../src/linalg/gemm.js';
import { randomGramSpd } from '../src/linalg/reference.js';
import { FLOAT32_BLOCK, LINALG_SIZES, linalgRepeats } from './config.js';

/** A well-conditioned SPD matrix quickly: B Bᵀ/k + I with B [d, 64] (the O(d²·k) product stays cheap at d = 4096). */
function spd(d: number): Float64Array {
  return randomGramSpd(d, `bench-${d}`, 64);
}

export default async function bench(): Promise<BenchRow[]> {
  const info = await initBackend({ prefer: ['wasm'] });
  const backend = `${info.name}, ${String(info.threads)} thread${info.threads === 1 ? '' : 's'}`;
  const rows: BenchRow[] = [];
  {
    const n = 1024;
    const x = spd(n);
    const c = new Float64Array(n * n);
    const run = (): void => { gemmF64(n, n, n, 1, { data: x, off: 0, ld: n, trans: false }, { data: x, off: 0, ld: n, trans: true }, 0, { data: c, off: 0, ld: n }); };
    const gflop = (2 * n ** 3) / 1e9;
    const tile = (kernel: 'wasm' | 'js'): Promise<number> => {
      const used = setGemmKernel(kernel);
      if (used !== kernel) throw new Error(`linalg bench: the ${kernel} gemm tile is not available here`);
      return medianMs(run, { warmup: 1, repeats: 3 });
    };
    setHostThreads(1);
    const tJs = await tile('js');
    const tWasm = await tile('wasm');
    rows.push({
      name: `gemmF64 ${n}³ float64 (WebAssembly SIMD tile, 1 thread)`, value: gflop / (tWasm / 1000), unit: 'GFLOP/s',
      reference: 'the plain JavaScript tile (bit-identical results)', referenceValue: gflop / (tJs / 1000), higherIsBetter: true,
    });
    setHostThreads('auto');
    const threads = await hostThreadsReady();
    const tThreads = await medianMs(run, { warmup: 1, repeats: 3 });
    rows.push({
      name: `gemmF64 ${n}³ float64 (WebAssembly SIMD tile, ${String(threads)} host threads)`, value: gflop / (tThreads / 1000), unit: 'GFLOP/s',
      reference: 'the same on 1 thread (bit-identical results)', referenceValue: gflop / (tWasm / 1000), higherIsBetter: true,
    });
  }
  const hostThreads = await hostThreadsReady();
  for (const d of LINALG_SIZES) {
    const { warmup, repeats } = linalgRepeats(d);
    const a64 = spd(d);
    const a32 = tf.tensor2d(Float32Array.from(a64), [d, d]);

    const ms = await medianMs(() => {
      const c = tf.matMul(a32, a32);
      c.dataSync();
      c.dispose();
    }, { warmup: 1, repeats: d <= 2048 ? 3 : 1 });
    const matmul = (2 * d ** 3) / (ms * 1e6);

    const ops = [
      ['cholesky', cholesky, d ** 3 / 3],
      ['spdInverse', spdInverse, d ** 3],
      ['choleskyInverseUpper', choleskyInverseUpper, (2 * d ** 3) / 3],
    ] as const;
    for (const [label, op, flops] of ops) {
      const t64 = await medianMs(() => op(a64, { precision: 'float64' }), { warmup, repeats });
      rows.push({
        name: `${label} float64 host d=${d} (${String(hostThreads)} host threads)`, value: flops / (t64 * 1e6), unit: 'GFLOP/s',
        reference: `tfjs matMul d=${d} (${backend})`, referenceValue: matmul, higherIsBetter: true,
      });
      const t32 = await medianMs(() => {
        const r = op(a32, { precision: 'float32', blockSize: FLOAT32_BLOCK });
        r.dataSync();
        r.dispose();
      }, { warmup: 1, repeats: d <= 2048 ? 3 : 1 });
      rows.push({
        name: `${label} float32 blocked d=${d} (${backend})`, value: flops / (t32 * 1e6), unit: 'GFLOP/s',
        reference: `tfjs matMul d=${d} (${backend})`, referenceValue: matmul, higherIsBetter: true,
      });
    }
    a32.dispose();
  }
  return rows;
}
