/**
 * A faster `BatchMatMul` for tfjs's wasm backend. Its own kernel sends only one case to XNNPACK (batch 1 on both
 * sides, no transposes) and everything else (batched attention products, `transposeA`/`transposeB`, a batch
 * broadcast against a shared matrix) to a scalar triple loop that runs 5–10× slower. This kernel reduces every
 * float32 product to that fast case: a shared right-hand matrix becomes one tall product, transposes are
 * materialised once with the backend's Transpose kernel, and true batches run slice by slice. Products of fewer than
 * MIN_ROWS rows against a transposed B (single-token decoding) run in a WebAssembly SIMD dot-product kernel on the
 * backend's own memory instead (wasm-matvec.ts). Results equal the original kernel's up to float32 summation order
 * (tested against it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { matVecFor, type MatVecFn } from './wasm-matvec.js';
import { wasmKernel, wasmKernelOverride } from './override.js';
import { backendMemory, type WasmBackendLike } from './wasm-asm.js';

export type { WasmBackendLike } from './wasm-asm.js';

interface BatchMatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  attrs: { transposeA: boolean; transposeB: boolean };
  backend: WasmBackendLike;
}

type KernelFn = (args: BatchMatMulArgs) => tf.TensorInfo;

/** Below this many multiply-adds per slice, the original kernel's loop wins over per-slice XNNPACK set-up. */
const MIN_SLICE_FLOPS = 4096;
/**
 * Below this many rows per XNNPACK product, copying and packing the right-hand matrix (K·N per product) costs more
 * than the original loop's M·K·N (greedy generation of `small` ran 3x slower with every such product sent to
 * XNNPACK). Single-token decoding's `x Wᵀ` and one query's attention scores go to the SIMD few-rows kernel
 * (wasm-matvec.ts) instead: 4.6-15x faster than the original loop on [1, 256-768] x [256-4096, 256-768]ᵀ.
 */
const MIN_ROWS = 16;

function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** The SIMD few-rows kernel on the backend's memory, or null (no SIMD, or a Module without a reachable memory). */
export function matVecOf(backend: WasmBackendLike): MatVecFn | null {
  const m = backendMemory(backend);
  return m === null ? null : matVecFor(m);
}

/**
 * A[batchA][M, K] · B[batchB][N, K]ᵀ with M < MIN_ROWS by `mv` (wasm-matvec.ts) on the backend's heap: one call per
 * batch slice, the last N mod 4 columns in a scalar loop. batchA and batchB are equal or one of them is 1.
 */
function fewRowsTransposedB(mv: MatVecFn, a: tf.TensorInfo, b: tf.TensorInfo, batchA: number, batchB: number,
  M: number, K: number, N: number, outShape: number[], backend: WasmBackendLike): tf.TensorInfo {
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput(outShape, 'float32');
  // Views after the allocation (a growing memory detaches older ones); mv itself allocates nothing.
  const A = backend.typedArrayFromHeap(a);
  const B = backend.typedArrayFromHeap(b);
  const O = backend.typedArrayFromHeap(out);
  const nb = N >> 2;
  for (let q = 0; q < batch; q++) {
    const ao = (batchA === 1 ? 0 : q) * M * K;
    const bo = (batchB === 1 ? 0 : q) * N * K;
    const oo = q * M * N;
    if (nb > 0) mv(M, nb, K, A.byteOffset + 4 * ao, B.byteOffset + 4 * bo, O.byteOffset + 4 * oo, N);
    for (let i = 0; i < M; i++) {
      for (let j = 4 * nb; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[ao + i * K + k] * B[bo + j * K + k];
        O[oo + i * N + j] = s;
      }
    }
  }
  return out;
}

/** Wraps the wasm backend's `BatchMatMul` kernel function `original` (and its `Transpose` kernel) into the faster one. */
function fastBatchMatMul(original: KernelFn, transpose: (x: tf.TensorInfo, backend: WasmBackendLike) => tf.TensorInfo): KernelFn {
  return (args) => {
    const { a, b } = args.inputs;
    const { transposeA, transposeB } = args.attrs;
    const { backend } = args;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const ra = a.shape.length;
    const rb = b.shape.length;
    const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(b.shape.slice(0, -2));
    const batch = Math.max(batchA, batchB);
    const fast = batchA === 1 && batchB === 1 && !transposeA && !transposeB;
    const rows = batchB === 1 ? batchA * M : M; // rows of each XNNPACK product (one tall product when B is shared)
    const sameBatch = batchA === batchB || batchA === 1 || batchB === 1;
    if (transposeB && !transposeA && rows < MIN_ROWS && K === Kb && K > 0 && K % 4 === 0 && N > 0 && M > 0 && sameBatch) {
      const mv = matVecOf(backend);
      if (mv !== null) {
        const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), M, N];
        // A shared B: all of A's rows in one call (rows < MIN_ROWS here).
        return batchB === 1
          ? fewRowsTransposedB(mv, a, b, 1, 1, batchA * M, K, N, outShape, backend)
          : fewRowsTransposedB(mv, a, b, batchA, batchB, M, K, N, outShape, backend);
      }
    }
    if (fast || K !== Kb || !sameBatch || M * N * K < MIN_SLICE_FLOPS || rows < MIN_ROWS || N === 0 || K === 0) {
      return original(args); // tfjs's own checks and messages for bad shapes; its fast path as is
    }
    const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), M, N];
    const temps: tf.TensorInfo[] = [];
    const as3 = (x: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: x.dataId, shape, dtype: x.dtype });
    try {
      // [batchA, M, K] and [batchB, K, N], contiguous.
      let A = as3(a, transposeA ? [batchA, K, M] : [batchA, M, K]);
      if (transposeA) { A = transpose(A, backend); temps.push(A); }
      let B = as3(b, transposeB ? [batchB, N, K] : [batchB, K, N]);
      if (transposeB) { B = transpose(B, backend); temps.push(B); }
      const plain = (x: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo =>
        original({ inputs: { a: x, b: y }, attrs: { transposeA: false, transposeB: false }, backend });
      if (batchB === 1) {
        // One tall product: every batch of A against the shared B (batchA = batch here).
        return { ...plain(as3(A, [1, batchA * M, K]), as3(B, [1, K, N])), shape: outShape };
      }
      const out = backend.makeOutput([batch, M, N], 'float32');
      const aSlice = backend.makeOutput([1, M, K], 'float32');
      temps.push(aSlice);
      for (let i = 0; i < batch; i++) {
        const bSlice = backend.makeOutput([1, K, N], 'float32');
        // Views are taken after every allocation: a growing wasm memory detaches older ones. A broadcast A is copied once.
        if (batchA > 1 || i === 0) backend.typedArrayFromHeap(aSlice).set(backend.typedArrayFromHeap(A).subarray((batchA === 1 ? 0 : i) * M * K, ((batchA === 1 ? 0 : i) + 1) * M * K));
        backend.typedArrayFromHeap(bSlice).set(backend.typedArrayFromHeap(B).subarray(i * K * N, (i + 1) * K * N));
        const o = plain(aSlice, bSlice);
        backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(o), i * M * N);
        backend.disposeData(o.dataId);
        backend.disposeData(bSlice.dataId); // also frees XNNPACK's operator cached on it
      }
      return { ...out, shape: outShape };
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

const override = wasmKernelOverride('BatchMatMul', (original) => {
  const transposeKernel = wasmKernel('Transpose');
  if (transposeKernel === undefined) return null;
  const transpose = (x: tf.TensorInfo, backend: WasmBackendLike): tf.TensorInfo =>
    transposeKernel.kernelFunc({ inputs: { x }, attrs: { perm: [0, 2, 1] }, backend }) as tf.TensorInfo;
  return fastBatchMatMul(original.kernelFunc as unknown as KernelFn, transpose) as unknown as tf.KernelFunc;
});

/**
 * Puts Sift's `BatchMatMul` in place of tfjs-backend-wasm's (idempotent; `initBackend` does it unless
 * `fastBatchMatMul: false`). The original's setup function is kept, so it works before or after the backend starts.
 * A no-op when `@tensorflow/tfjs-backend-wasm` is not imported.
 * @example
 * installWasmBatchMatMul();   // tf.matMul(q, k, false, true) on [B·H, T, Dh] now runs on XNNPACK
 * uninstallWasmBatchMatMul(); // tfjs's own kernel again, e.g. to compare
 */
export function installWasmBatchMatMul(): void {
  override.install();
}

/** Whether Sift's wasm `BatchMatMul` is the registered one. */
export function wasmBatchMatMulInstalled(): boolean {
  return override.installed();
}

/** Restores tfjs's own wasm `BatchMatMul` kernel (the reference the tests compare with). */
export function uninstallWasmBatchMatMul(): void {
  override.uninstall();
}
