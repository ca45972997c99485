import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { describe, expect, it } from 'vitest';
import { installWasmBatchMatMul, matVecOf, uninstallWasmBatchMatMul, wasmBatchMatMulInstalled, type WasmBackendLike } from './wasm-batch-matmul.js';
import { expectNoGrowth, kernelInstallTests, maxRelErr, tensor } from './test-data.js';

/** float64 reference: a[..., M, K] · b[..., K, N] with transposes and batch broadcasting of rank-3 operands. */
function naive(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): { data: Float64Array; shape: number[] } {
  const A = a.dataSync();
  const B = b.dataSync();
  const ra = a.rank;
  const rb = b.rank;
  const M = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const N = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const batchB = b.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const batch = Math.max(batchA, batchB);
  const out = new Float64Array(batch * M * N);
  for (let q = 0; q < batch; q++) {
    const ao = (batchA === 1 ? 0 : q) * M * K;
    const bo = (batchB === 1 ? 0 : q) * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[ao + (ta ? k * M + i : i * K + k)] * B[bo + (tb ? j * K + k : k * N + j)];
        out[q * M * N + i * N + j] = s;
      }
    }
  }
  return { data: out, shape: [...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), M, N] };
}

// [a shape, b shape, transposeA, transposeB]: every path of the kernel (shared B -> one tall product; batches ->
// slices; a broadcast A; transposes materialised; few rows against Bᵀ -> the SIMD kernel) and the ones it leaves to
// tfjs (tiny products, plain 2-D).
const CASES: [number[], number[], boolean, boolean][] = [
  [[40, 24], [24, 36], false, false], // tfjs's own fast case, passed through
  [[40, 24], [36, 24], false, true],
  [[24, 40], [24, 36], true, false],
  [[24, 40], [36, 24], true, true],
  [[3, 40, 24], [3, 24, 36], false, false],
  [[3, 40, 24], [3, 36, 24], false, true],
  [[3, 24, 40], [3, 24, 36], true, false],
  [[3, 24, 40], [3, 36, 24], true, true],
  [[4, 40, 24], [1, 24, 36], false, false], // shared B: one tall product
  [[4, 24, 40], [36, 24], true, true],
  [[1, 40, 24], [4, 24, 36], false, false], // broadcast A
  [[40, 24], [4, 36, 24], false, true],
  [[2, 3, 20, 24], [2, 3, 24, 36], false, false], // rank 4
  [[1, 64, 256], [1, 256, 64], false, false],
  [[5, 3, 4], [5, 2, 4], false, true], // tiny: the original kernel
  [[6, 1, 48], [6, 48, 96], false, false], // matrix-vector rows: the original kernel (too few rows)
  [[2, 48], [96, 48], false, true], // decoding's x Wᵀ on 2 rows: the SIMD few-rows kernel
  [[1, 44], [97, 44], false, true], // few rows, N mod 4 = 1: kernel + scalar tail
  [[3, 12], [3, 12], false, true], // N < 4: the scalar tail only
  [[2, 46], [10, 46], false, true], // K mod 4 != 0: the original kernel
  [[6, 1, 32], [6, 20, 32], false, true], // one query's attention scores per head: a kernel call per slice
  [[1, 2, 32], [5, 7, 32], false, true], // broadcast A, N mod 4 = 3
  [[4, 3, 32], [1, 9, 32], false, true], // shared B, 12 rows in all: one kernel call
  [[2, 0, 8], [2, 5, 8], false, true], // no rows: the original kernel
  [[3, 40, 26], [3, 36, 26], false, true], // K mod 4 != 0 with a transposed B: XNNPACK slice by slice
  [[4, 8, 48], [96, 48], false, true], // 32 rows against a shared Wᵀ: one tall product
];

describe('wasm BatchMatMul (Sift kernel)', () => {
  kernelInstallTests('fastBatchMatMul', wasmBatchMatMulInstalled);

  it('equals a float64 reference and tfjs\'s own kernel on every path (rel. error < 2e-6)', () => {
    for (const [sa, sb, ta, tb] of CASES) {
      const label = `[${sa.join(',')}]${ta ? 'ᵀ' : ''} x [${sb.join(',')}]${tb ? 'ᵀ' : ''}`;
      const a = tensor(sa, 1);
      const b = tensor(sb, 2);
      const ref = naive(a, b, ta, tb);
      installWasmBatchMatMul();
      const fast = tf.matMul(a, b, ta, tb);
      uninstallWasmBatchMatMul();
      const orig = tf.matMul(a, b, ta, tb);
      installWasmBatchMatMul();
      expect(fast.shape, label).toEqual(ref.shape);
      expect(orig.shape, label).toEqual(ref.shape);
      expect(maxRelErr(fast.dataSync(), ref.data), label).toBeLessThan(2e-6);
      expect(maxRelErr(fast.dataSync(), orig.dataSync()), label).toBeLessThan(2e-6);
      tf.dispose([a, b, fast, orig]);
    }
  });

  it('the few-rows SIMD kernel is available on the single-threaded binary\'s memory', () => {
    expect(matVecOf(tf.backend() as unknown as WasmBackendLike)).not.toBeNull();
  });

  it('gradients through batched products with transposes equal the original kernel\'s', () => {
    const a = tensor([3, 24, 40], 3);
    const b = tensor([3, 36, 24], 4);
    const f = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.sum(tf.square(tf.matMul(x, y, true, true)));
    const [ga, gb] = tf.grads(f)([a, b]);
    uninstallWasmBatchMatMul();
    const [ra, rb] = tf.grads(f)([a, b]);
    installWasmBatchMatMul();
    expect(maxRelErr(ga.dataSync(), ra.dataSync())).toBeLessThan(2e-6);
    expect(maxRelErr(gb.dataSync(), rb.dataSync())).toBeLessThan(2e-6);
    tf.dispose([a, b, ga, gb, ra, rb]);
  });

  it('frees every temporary: no tensor and no wasm buffer left over across repeated calls', () => {
    const inputs = CASES.map(([sa, sb], i) => [tensor(sa, 10 + i), tensor(sb, 20 + i)] as const);
    expectNoGrowth(() => {
      CASES.forEach(([, , ta, tb], i) => { tf.matMul(inputs[i][0], inputs[i][1], ta, tb).dispose(); });
    });
    tf.dispose(inputs.flat());
  });

  it('bad shapes keep tfjs\'s own error', () => {
    const a = tensor([3, 8, 5], 5);
    const b = tensor([2, 6, 8], 6);
    expect(() => tf.matMul(a, b)).toThrow(/inner shapes|must match|broadcast/i);
    tf.dispose([a, b]);
  });
});
