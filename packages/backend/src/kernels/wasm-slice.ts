/**
 * A `Slice` for tfjs's wasm backend that reads its input in place, and `Unpack` / `SplitV` built on it. tfjs-backend-wasm 4.22's kernel starts with
 * `backend.readSync(x)`, which copies the **whole** input out of the wasm heap before taking the slice: cutting a
 * [4096, 128] block out of a [4096, 4096] matrix copies 64 MB. SparseGPT's blocked loop (three slices per block)
 * spent 5.8 s of 18 s there on a 4096 × 4096 layer. This kernel copies only the selected elements, from a view of the
 * heap: one `set` for a contiguous slice, one per innermost run otherwise. String tensors keep the original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmKernelOverride } from './override.js';

/** The parts of tfjs-backend-wasm's `BackendWasm` this kernel uses. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

interface SliceArgs {
  inputs: { x: tf.TensorInfo };
  attrs: { begin: number | number[]; size: number | number[] };
  backend: WasmBackendLike;
}

type KernelFn = (args: SliceArgs) => tf.TensorInfo;

/** Innermost runs shorter than this are copied element by element (a `set` per run costs more). */
const MIN_RUN_FOR_SET = 16;

/**
 * Copies x[begin : begin + size] (row-major, any rank) from `src` into `dst`.
 * Exported for the tests, which compare it with a naive index computation.
 */
export function sliceInto<T extends Float32Array | Int32Array | Uint8Array>(src: T, shape: readonly number[], begin: readonly number[], size: readonly number[], dst: T): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  // Merge trailing dimensions taken whole into one longer innermost run.
  let inner = rank - 1;
  let run = size[rank - 1];
  while (inner > 0 && size[inner] === shape[inner] && begin[inner] === 0) {
    inner--;
    run *= size[inner];
  }
  // Dimensions [0, inner) are iterated; dimension `inner` starts each run at begin[inner].
  const outer = size.slice(0, inner).reduce((p, s) => p * s, 1);
  let base = 0;
  for (let d = 0; d <= inner; d++) base += begin[d] * strides[d];
  const idx = new Array<number>(inner).fill(0);
  let srcOff = base;
  let dstOff = 0;
  for (let o = 0; o < outer; o++) {
    if (run >= MIN_RUN_FOR_SET) dst.set(src.subarray(srcOff, srcOff + run), dstOff);
    else for (let k = 0; k < run; k++) dst[dstOff + k] = src[srcOff + k];
    dstOff += run;
    // Odometer over the outer dimensions.
    for (let d = inner - 1; d >= 0; d--) {
      idx[d]++;
      srcOff += strides[d];
      if (idx[d] < size[d]) break;
      srcOff -= idx[d] * strides[d];
      idx[d] = 0;
    }
  }
}

/** x[begin : begin + size] as a new tensor of the wasm backend, copied from a view of the heap. */
function slicePiece(backend: WasmBackendLike, x: tf.TensorInfo, begin: readonly number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (size.some((s) => s === 0)) return out;
  // Views after the allocation: a growing wasm memory detaches older ones.
  sliceInto(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

function fastSlice(original: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    if (x.dtype === 'string') return original(args);
    const [begin, size] = tf.slice_util.parseSliceParams(x, args.attrs.begin, args.attrs.size);
    for (let d = 0; d < x.shape.length; d++) {
      // tfjs's op does not check this, and reading a view past the input would return other tensors' memory.
      if (begin[d] < 0 || size[d] < 0 || begin[d] + size[d] > x.shape[d]) {
        throw new Error(`slice: begin [${begin.join(', ')}] + size [${size.join(', ')}] is outside the input shape [${x.shape.join(', ')}] at axis ${String(d)}.`);
      }
    }
    return slicePiece(args.backend, x, begin, size);
  };
}

interface UnpackArgs {
  inputs: { value: tf.TensorInfo };
  attrs: { axis: number };
  backend: WasmBackendLike;
}

/**
 * `Unpack` (tf.unstack) without tfjs-backend-wasm's whole-input copy per piece: its kernel calls its own `slice` once
 * per output, and each call copies all of the input out of the heap (T copies to unstack T steps).
 */
function fastUnpack(original: (args: UnpackArgs) => tf.TensorInfo[]): (args: UnpackArgs) => tf.TensorInfo[] {
  return (args) => {
    const { value } = args.inputs;
    if (value.dtype === 'string') return original(args);
    const rank = value.shape.length;
    const axis = args.attrs.axis < 0 ? args.attrs.axis + rank : args.attrs.axis;
    const outShape = value.shape.filter((_, d) => d !== axis);
    const begin = new Array<number>(rank).fill(0);
    const size = value.shape.slice();
    size[axis] = 1;
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < value.shape[axis]; i++) {
      begin[axis] = i;
      const piece = slicePiece(args.backend, value, begin, size);
      outs.push({ dataId: piece.dataId, dtype: piece.dtype, shape: outShape });
    }
    return outs;
  };
}

interface SplitArgs {
  inputs: { x: tf.TensorInfo };
  attrs: { numOrSizeSplits: number | number[]; axis: number | number[] };
  backend: WasmBackendLike;
}

/** `SplitV` (tf.split) without the whole-input copy per piece, as `fastUnpack`. */
function fastSplit(original: (args: SplitArgs) => tf.TensorInfo[]): (args: SplitArgs) => tf.TensorInfo[] {
  return (args) => {
    const { x } = args.inputs;
    if (x.dtype === 'string') return original(args);
    const axis = tf.util.parseAxisParam(args.attrs.axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x, args.attrs.numOrSizeSplits, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = x.shape.slice();
      size[axis] = s;
      const piece = slicePiece(args.backend, x, begin, size);
      begin[axis] += s;
      return piece;
    });
  };
}

const overrides = [
  wasmKernelOverride('Slice', (original) => fastSlice(original.kernelFunc as unknown as KernelFn) as unknown as tf.KernelFunc),
  wasmKernelOverride('Unpack', (original) => fastUnpack(original.kernelFunc as unknown as (args: UnpackArgs) => tf.TensorInfo[]) as unknown as tf.KernelFunc),
  wasmKernelOverride('SplitV', (original) => fastSplit(original.kernelFunc as unknown as (args: SplitArgs) => tf.TensorInfo[]) as unknown as tf.KernelFunc),
];

/**
 * Puts Sift's `Slice`, `Unpack` and `SplitV` in place of tfjs-backend-wasm's (idempotent; `initBackend` does it unless
 * `fastSlice: false`). A no-op when `@tensorflow/tfjs-backend-wasm` is not imported.
 * @example
 * installWasmSlice();   // tf.slice(big, [0, 0], [4096, 128]) copies 2 MB, not 64 MB; tf.unstack(x) copies x once
 * uninstallWasmSlice(); // tfjs's own kernels again
 */
export function installWasmSlice(): void {
  for (const o of overrides) o.install();
}

/** Whether Sift's wasm `Slice` (and with it `Unpack` and `SplitV`) is the registered one. */
export function wasmSliceInstalled(): boolean {
  return overrides[0].installed();
}

/** Restores tfjs's own wasm `Slice`, `Unpack` and `SplitV` kernels (the references the tests compare with). */
export function uninstallWasmSlice(): void {
  for (const o of overrides) o.uninstall();
}
