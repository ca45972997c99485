// Matmul and matvec throughput of the default backend (wasm) against the cpu backend and against numpy/PyTorch
// (OpenBLAS) on the same machine, all measured in the same run.
import { fileURLToPath } from 'node:url';
import { initBackend, installWasmBatchMatMul, installWasmSlice, uninstallWasmBatchMatMul, uninstallWasmSlice, type BackendName } from '@sift/backend';
import * as tf from '@tensorflow/tfjs-core';
import { medianMs, runPython, type BenchRow } from '../../../tools/bench/harness.js';

const MATMUL_REF = fileURLToPath(new URL('../../../tools/bench/matmul_ref.py', import.meta.url));

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

const threadsLabel = (n: number): string => `${String(n)} thread${n === 1 ? '' : 's'}`;

/** Batched, transposed, broadcast and few-row products: Sift's wasm BatchMatMul kernel against tfjs-backend-wasm's own. */
const KERNEL_CASES: readonly (readonly [string, number[], number[], boolean, boolean])[] = [
  ['attention scores [32,512,32]x[32,256,32]^T', [32, 512, 32], [32, 256, 32], false, true],
  ['attention values [32,512,256]x[32,256,32]', [32, 512, 256], [32, 256, 32], false, false],
  ['Gram X^T X [2048,256]', [2048, 256], [2048, 256], true, false],
  ['x W^T [2048,256]x[1024,256]^T', [2048, 256], [1024, 256], false, true],
  ['broadcast [8,256,256]x[256,1024]', [8, 256, 256], [256, 1024], false, false],
  ['decoding x W^T [1,768]x[256,768]^T (few-rows SIMD kernel)', [1, 768], [256, 768], false, true],
  ['decoding LM head [1,256]x[4096,256]^T (few-rows SIMD kernel)', [1, 256], [4096, 256], false, true],
];

/** Multiply-adds x 2 of a (broadcast) batched product. */
function productFlops(sa: number[], sb: number[], ta: boolean, tb: boolean): number {
  const batch = tf.broadcast_util.assertAndGetBroadcastShape(sa.slice(0, -2), sb.slice(0, -2)).reduce((p, d) => p * d, 1);
  const [ra, rb] = [sa.length, sb.length];
  return 2 * batch * (ta ? sa[ra - 1] : sa[ra - 2]) * (ta ? sa[ra - 2] : sa[ra - 1]) * (tb ? sb[rb - 2] : sb[rb - 1]);
}

async function kernelRows(): Promise<BenchRow[]> {
  const info = await initBackend({ prefer: ['wasm'] });
  const rows: BenchRow[] = [];
  for (const [label, sa, sb, ta, tb] of KERNEL_CASES) {
    const a = tf.randomNormal(sa, 0, 1, 'float32', 3);
    const b = tf.randomNormal(sb, 0, 1, 'float32', 4);
    const run = (): void => {
      const c = tf.matMul(a, b, ta, tb);
      c.dataSync();
      c.dispose();
    };
    const flops = productFlops(sa, sb, ta, tb);
    const small = flops < 1e8; // sub-millisecond products: more repeats for a stable median
    uninstallWasmBatchMatMul();
    const orig = await medianMs(run, { warmup: small ? 5 : 1, repeats: small ? 31 : 3 });
    installWasmBatchMatMul();
    const fast = await medianMs(run, { warmup: small ? 5 : 1, repeats: small ? 31 : 5 });
    tf.dispose([a, b]);
    rows.push({
      name: `${label} (wasm, ${threadsLabel(info.threads)}, Sift BatchMatMul kernel)`, value: flops / (fast * 1e6), unit: 'GFLOP/s',
      reference: "tfjs-backend-wasm's own BatchMatMul kernel", referenceValue: flops / (orig * 1e6), higherIsBetter: true,
    });
  }
  return rows;
}

/** Sift's wasm Slice against tfjs's on SparseGPT's per-block cut: a [4096, 128] column block of a [4096, 4096] matrix. */
async function sliceRow(): Promise<BenchRow> {
  const info = await initBackend({ prefer: ['wasm'] });
  const x = tf.randomNormal([4096, 4096], 0, 1, 'float32', 5);
  const run = (): void => {
    const y = tf.slice(x, [0, 1024], [4096, 128]);
    y.dataSync();
    y.dispose();
  };
  uninstallWasmSlice();
  const orig = await medianMs(run, { warmup: 1, repeats: 5 });
  installWasmSlice();
  const fast = await medianMs(run, { warmup: 1, repeats: 9 });
  x.dispose();
  return {
    name: `slice [4096,128] of [4096,4096] (wasm, ${threadsLabel(info.threads)}, Sift Slice kernel)`, value: fast, unit: 'ms',
    reference: "tfjs-backend-wasm's own Slice kernel", referenceValue: orig, higherIsBetter: false,
  };
}

export default async function bench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = await kernelRows();
  rows.push(await sliceRow());
  for (const [label, m, k, n] of [['matmul 512^3', 512, 512, 512], ['matvec [1,2048]x[2048,2048]', 1, 2048, 2048]] as const) {
    const wasm = await gflops('wasm', m, k, n);
    const cpu = await gflops('cpu', m, k, n);
    // wasm runs with its default thread count (Node: min(logical CPUs, 8)); threads.bench.ts compares thread counts.
    rows.push({
      name: `${label} (wasm, ${threadsLabel(wasm.threads)})`, value: wasm.gflops, unit: 'GFLOP/s',
      reference: 'tfjs cpu backend', referenceValue: cpu.gflops, higherIsBetter: true,
    });
  }
  // Against OpenBLAS on the same cores (wasm on its default thread count; threads.bench.ts compares 1 vs N threads).
  const size = 1024;
  const all = await gflops('wasm', size, size, size);
  const ref = await runPython<{ numpy: number; torch: number; torchVersion: string }>(MATMUL_REF, [String(size), String(size), String(size), '7']);
  const name = `matmul ${String(size)}^3 (wasm, ${threadsLabel(all.threads)})`;
  if (ref.ok) {
    rows.push({ name, value: all.gflops, unit: 'GFLOP/s', reference: `PyTorch ${ref.value.torchVersion} (OpenBLAS, all cores)`, referenceValue: ref.value.torch, higherIsBetter: true });
    rows.push({ name, value: all.gflops, unit: 'GFLOP/s', reference: 'numpy (OpenBLAS, all cores)', referenceValue: ref.value.numpy, higherIsBetter: true });
  } else {
    rows.push({ name, value: all.gflops, unit: 'GFLOP/s', reference: ref.reason, referenceValue: Number.NaN, higherIsBetter: true });
  }
  return rows;
}
