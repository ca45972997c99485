import { BackendError } from '../errors.js';

/** The largest `threads` value `initBackend` accepts. */
export const WASM_THREADS_LIMIT = 64;

/**
 * The most threads tfjs-backend-wasm 4.22.0 computes with: its binary pre-creates 8 pthread workers and its C++
 * `init_with_threads_count` caps the XNNPACK pool at 8 (and at half the logical cores, which Sift works around in Node).
 */
export const TFJS_WASM_MAX_THREADS = 8;

/**
 * Checks the `threads` option of `initBackend`: an integer from 1 to `WASM_THREADS_LIMIT`, or `undefined`.
 * @throws BackendError `E_BACKEND_OPTION` naming the value and the valid range.
 */
export function checkThreadsOption(threads: unknown): void {
  if (threads === undefined) return;
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > WASM_THREADS_LIMIT) {
    const got = typeof threads === 'number' ? String(threads)
      : typeof threads === 'string' ? `the string ${JSON.stringify(threads)}` : `a value of type ${typeof threads}`;
    throw new BackendError('E_BACKEND_OPTION',
      `initBackend: threads must be an integer from 1 to ${String(WASM_THREADS_LIMIT)}, got ${got}; ` +
      `pass e.g. threads: 4, threads: 1 for the single-threaded wasm binary, or leave it unset ` +
      `(Node: min(logical CPUs, ${String(TFJS_WASM_MAX_THREADS)}))`);
  }
}
