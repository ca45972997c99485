/**
 * `@sift/backend`: the one place in Sift that knows about devices. Libraries never import it; applications call
 * `initBackend()` once, before any tensor work.
 * @packageDocumentation
 */
export { initBackend, disposeBackend, defaultPreference } from './init.js';
export { describeEnvironment } from './describe.js';
export { BackendError, type BackendErrorCode } from './errors.js';
export { installWasmBatchMatMul, uninstallWasmBatchMatMul, wasmBatchMatMulInstalled } from './kernels/wasm-batch-matmul.js';
export { installWasmSlice, uninstallWasmSlice, wasmSliceInstalled } from './kernels/wasm-slice.js';
export { GRAM_KERNEL, installWasmGram, uninstallWasmGram, wasmGramInstalled } from './kernels/wasm-gram.js';
export {
  BACKEND_NAMES,
  type BackendName,
  type BackendInfo,
  type BackendAttempt,
  type BackendStatus,
  type EnvironmentReport,
  type InitBackendOptions,
} from './types.js';
