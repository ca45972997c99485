/**
 * The pthread worker of tfjs-backend-wasm's threaded-SIMD binary, as a real `.cjs` file that Node's `Worker` accepts.
 * Node only: imported lazily by `wasm.ts`, never in a browser.
 *
 * tfjs hands Emscripten a `blob:` URL for the worker (`init()` → `locateFile('*.worker.js')`), which Node's
 * `worker_threads.Worker` refuses (`ERR_WORKER_PATH`), and it sends each worker its main script as a Blob that the
 * worker's `importScripts` (a `fs.readFileSync`) cannot read. The file written here is tfjs's own worker source
 * (`wasmWorkerContents`, escaped exactly as tfjs escapes it for the Blob) followed by a short postlude that makes the
 * worker load the pristine Emscripten glue `wasm-out/tfjs-backend-wasm-threaded-simd.js` by absolute path instead.
 * See TOOLCHAIN.md, "Threads do work in Node", fixes 2 and 3.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The `BroadcastChannel` a pthread worker uses to report that loading the glue failed, so the main thread can fall
 * back at once instead of waiting for a worker that will never say "loaded". Process-local (Node's BroadcastChannel
 * reaches the threads of one process only).
 */
export const WORKER_ERROR_CHANNEL = 'sift-backend:wasm-pthread-load-error';

/** What a worker posts on `WORKER_ERROR_CHANNEL`. */
export interface WorkerLoadError {
  kind: 'sift-wasm-pthread-load-error';
  message: string;
}

/**
 * The worker's source: tfjs's worker (as it would put it in the Blob) plus a postlude that (1) replaces the `load`
 * message's `urlOrBlob` (a Blob holding the rollup-bundled factory, unusable in a worker) with `gluePath`, and (2)
 * turns a failure while loading into a message on `WORKER_ERROR_CHANNEL` and a quiet worker exit, instead of an error
 * event that Emscripten rethrows on the main thread as an uncaught exception.
 *
 * @param blobSource `wasmWorkerContents` with `\n` escaped, i.e. the exact text tfjs puts in the worker Blob
 * @param gluePath absolute path of `wasm-out/tfjs-backend-wasm-threaded-simd.js` from the same package
 */
export function pthreadWorkerSource(blobSource: string, gluePath: string): string {
  // The worker source starts with "use strict": keep it first (comments may precede a directive prologue).
  // Under `(0, eval)` the glue's top-level `var WasmBackendModuleThreadedSimd` becomes a global of the worker,
  // which is what the worker's `load` handler calls next.
  const postlude = `
;(function () {
  "use strict";
  var gluePath = ${JSON.stringify(gluePath)};
  var channelName = ${JSON.stringify(WORKER_ERROR_CHANNEL)};
  var tfjsOnMessage = globalThis.onmessage;
  globalThis.onmessage = function (e) {
    if (!e || !e.data || e.data.cmd !== "load") return tfjsOnMessage.call(this, e);
    e.data.urlOrBlob = gluePath;
    try {
      return tfjsOnMessage.call(this, e);
    } catch (err) {
      var message = String(err && err.message ? err.message : err);
      try {
        var channel = new BroadcastChannel(channelName);
        channel.postMessage({ kind: "sift-wasm-pthread-load-error", message: message });
        channel.close();
      } finally {
        process.exit(1);
      }
    }
  };
})();
`;
  return `// Written by @sift/backend (src/backends/wasm-worker-file.ts): tfjs-backend-wasm's pthread worker as a file,
// because Node's Worker refuses blob: URLs. Safe to delete; it is rewritten when needed.
${blobSource}${postlude}`;
}

/** The short content hash that names a worker file. */
export function workerFileName(source: string): string {
  return `tfjs-wasm-pthread-${createHash('sha256').update(source).digest('hex').slice(0, 16)}.worker.cjs`;
}

/**
 * A private cache directory under `os.tmpdir()`: `sift-backend-<uid>`, mode 0700, used only when it is a real
 * directory owned by this user and writable by no one else; otherwise a fresh `mkdtemp` directory for this process.
 */
export async function workerCacheDir(base: string = tmpdir()): Promise<string> {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const dir = join(base, `sift-backend-${uid === undefined ? 'user' : String(uid)}`);
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch(() => undefined);
  const st = await lstat(dir).catch(() => undefined);
  // Another user could have created the directory (or a symlink) first in a shared /tmp: do not run code from it.
  const safe = st !== undefined && st.isDirectory() && (uid === undefined || (st.uid === uid && (st.mode & 0o022) === 0));
  return safe ? dir : mkdtemp(join(base, 'sift-backend-'));
}

/**
 * Writes `source` to `<dir>/<workerFileName(source)>` atomically (a unique temporary file renamed into place) and
 * returns its absolute path. An existing file with identical content is reused as is.
 */
export async function writeWorkerFile(source: string, dir?: string): Promise<string> {
  const folder = dir ?? await workerCacheDir();
  const file = join(folder, workerFileName(source));
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing === source) return file;
  const tmp = `${file}.${String(process.pid)}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, source, { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return file;
}
