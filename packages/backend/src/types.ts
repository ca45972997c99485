/**
 * The backends Sift knows how to start.
 * - `cuda`: `@tensorflow/tfjs-node-gpu` (libtensorflow with CUDA), Node only.
 * - `tensorflow`: `@tensorflow/tfjs-node` (libtensorflow on the CPU), Node only.
 * - `webgpu`: the browser's `navigator.gpu`, or in Node the `webgpu` package (Dawn).
 * - `wasm`: `@tensorflow/tfjs-backend-wasm` (XNNPACK, SIMD); the default on Node.
 * - `cpu`: `@tensorflow/tfjs-backend-cpu` (plain JavaScript); the last resort, ~30x slower than wasm.
 */
export type BackendName = 'cuda' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** Every backend name, in the order `describeEnvironment()` reports them. */
export const BACKEND_NAMES: readonly BackendName[] = ['cuda', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/** What `initBackend` started. */
export interface BackendInfo {
  /** The Sift backend name that is now active. */
  name: BackendName;
  /** The name tfjs uses for it (`tf.getBackend()`): `tensorflow` for both `cuda` and `tensorflow`. */
  tfjsName: string;
  /** A human-readable device description (CPU model, GPU adapter, ...). */
  device: string;
  /** Whether the device can compute in float16 (a WebGPU adapter with `shader-f16`). tfjs itself still computes in float32. */
  float16: boolean;
  /** Whether the wasm backend runs its SIMD binary (always false for other backends). */
  simd: boolean;
  /** Worker threads the backend computes with (1 for single-threaded wasm and cpu). */
  threads: number;
  /**
   * wasm only: why `threads` is lower than asked for (or than the default), e.g. the threaded binary could not start
   * and the single-threaded SIMD binary runs instead, tfjs's cap of 8 threads, a browser page that is not
   * cross-origin isolated, or a wasm backend already started earlier in this process. Absent when there is nothing to say.
   */
  threadsReason?: string;
  /** Whether the device is a software emulation of a GPU (e.g. SwiftShader): correct but slow. */
  software: boolean;
  /** Backends tried before this one, in order, each with the reason it did not start. Empty when the first choice started. */
  fallbacks: BackendAttempt[];
}

/** One backend that was tried and did not start. */
export interface BackendAttempt {
  name: BackendName;
  /** Why it did not start, in words. */
  reason: string;
  /** What to install or change to make it start, when something can be done. */
  fix?: string;
}

/** Options of `initBackend`. */
export interface InitBackendOptions {
  /**
   * Backends to try, in order; the first that starts wins. Defaults: Node `['cuda', 'webgpu', 'wasm', 'cpu']`,
   * browser `['webgpu', 'wasm', 'cpu']`.
   */
  prefer?: readonly BackendName[];
  /**
   * Whether a software WebGPU adapter (SwiftShader, `isFallbackAdapter`) may be used. Default: only when `webgpu` is
   * the one backend asked for, since a software adapter is ~60x slower than wasm.
   */
  allowSoftwareAdapter?: boolean;
  /**
   * Node only: path of a Vulkan ICD manifest to use for the `webgpu` backend, e.g. the SwiftShader one that Debian's
   * chromium ships (`/usr/lib/chromium/vk_swiftshader_icd.json`). Sets `VK_ICD_FILENAMES` before Dawn starts.
   */
  vulkanIcd?: string;
  /**
   * wasm only: where the `.wasm` binaries are served from (a URL prefix ending in `/`), for bundled browser apps.
   * Node finds them inside the package.
   */
  wasmPaths?: string;
  /**
   * wasm only: threads for XNNPACK's pool, an integer from 1 to 64 (tfjs-backend-wasm uses at most 8).
   * `1` runs the single-threaded SIMD binary with no workers. Default: in Node, `min(logical CPUs, 8)` on the
   * threaded-SIMD binary (Sift makes it start under Node; if it cannot, the single-threaded binary runs and
   * `BackendInfo.threadsReason` says why); in the browser, tfjs's own choice, which needs a cross-origin isolated page.
   * The count is fixed when the wasm backend first starts in a process (or after `disposeBackend('wasm')`).
   */
  threads?: number;
  /**
   * wasm only: replace tfjs-backend-wasm's `BatchMatMul` kernel with Sift's (`installWasmBatchMatMul`), which sends
   * batched, transposed and broadcast products to XNNPACK instead of the original's scalar loop (6–40× faster on
   * attention and Gram shapes; equal up to float32 summation order), and single-token decoding's few-row `x Wᵀ`
   * products to a WebAssembly SIMD kernel; it also registers the `SiftGram` kernel (`installWasmGram`: XᵀX of
   * calibration batches on the lower triangle only, on the backend's threads). Default true; false restores tfjs's
   * kernel and unregisters `SiftGram`.
   */
  fastBatchMatMul?: boolean;
  /**
   * wasm only: replace tfjs-backend-wasm's `Slice`, `Unpack` and `SplitV` kernels with Sift's (`installWasmSlice`),
   * which copy only the selected elements; the originals first copy the whole input out of the wasm heap, once per
   * piece (64 MB to cut a [4096, 128] block from a [4096, 4096] matrix; T copies to unstack T steps). Bit-identical
   * results. Default true; false restores tfjs's kernels.
   */
  fastSlice?: boolean;
}

/** One row of `describeEnvironment()`. */
export interface BackendStatus {
  name: BackendName;
  /** Whether the backend started when tried. */
  available: boolean;
  /** The device it reports when it starts. */
  device?: string;
  /** Why it cannot start. */
  reason?: string;
  /** What to install or change. */
  fix?: string;
  simd?: boolean;
  threads?: number;
  float16?: boolean;
  software?: boolean;
}

/** The whole environment as `sift doctor` prints it. */
export interface EnvironmentReport {
  runtime: 'node' | 'browser';
  /** `process.version` or the browser's user agent. */
  runtimeVersion: string;
  platform: string;
  /** Logical CPU cores (Node `os.cpus()`, browser `navigator.hardwareConcurrency`). */
  cpus: number;
  /** `@tensorflow/tfjs-core` version. */
  tfjsVersion: string;
  /** The backend the default `initBackend()` picks, if any. */
  defaultBackend?: BackendName;
  backends: BackendStatus[];
}
