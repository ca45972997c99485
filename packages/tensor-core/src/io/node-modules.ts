/**
 * Node's file-system modules, loaded on first use with a dynamic `import()`. The safetensors byte functions are
 * browser-safe and `@sift/tensor-core` re-exports the file functions beside them, so no `node:` module may be
 * imported at the top level: a bundler for the demo site would otherwise pull `node:fs` into the browser build.
 */
import type * as FsPromises from 'node:fs/promises';
import type * as NodePath from 'node:path';
import type * as NodeCrypto from 'node:crypto';
import { SiftError } from '../errors.js';

/** The Node modules the file functions use. */
export interface NodeModules {
  fs: typeof FsPromises;
  path: typeof NodePath;
  crypto: typeof NodeCrypto;
}

let cached: Promise<NodeModules> | undefined;

/** Loads `node:fs/promises`, `node:path` and `node:crypto` once; a clear `E_UNSUPPORTED` outside Node. */
export function nodeModules(): Promise<NodeModules> {
  cached ??= Promise.all([import('node:fs/promises'), import('node:path'), import('node:crypto')]).then(
    ([fs, path, crypto]) => ({ fs, path, crypto }),
    (err: unknown) => {
      cached = undefined;
      throw new SiftError('E_UNSUPPORTED', 'safetensors file functions need Node.js (node:fs); in a browser, read the ' +
        'file into an ArrayBuffer and call parseSafetensors(new Uint8Array(buffer)).', { cause: err });
    },
  );
  return cached;
}
