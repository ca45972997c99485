// Cholesky, SPD inverse and the upper Cholesky factor of the inverse (SparseGPT's Hinv) at d = 768, 2048, 4096:
// the float64 JS path and the blocked float32 path on the active backend (wasm), in GFLOP/s, each beside tfjs matMul's
// GFLOP/s at the same d measured in the same run.
//
// Flop counts are the algorithms' nominal ones: Cholesky n³/3, SPD inverse n³ (LAPACK dpotrf + dpotri), upper
// Cholesky factor of the inverse 2n³/3 (one Cholesky and one triangular inverse, through J·A·J); matMul 2n³.
import { initBackend } from '@sift/backend';
import * as tf from '@tensorflow/tfjs-core';
import { medianMs, type BenchRow } from '../../../tools/bench/harness.js';
import { cholesky, choleskyInverseUpper, spdInverse } from '../src/linalg/index.js';
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
        name: `${label} float64 JS d=${d}`, value: flops / (t64 * 1e6), unit: 'GFLOP/s',
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
