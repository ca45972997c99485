/**
 * Node modules loaded on first use with a dynamic `import()`, so that the browser-safe parts of `@sift/lm`
 * (tokenizers, samplers) can be bundled for the demo site without pulling in `node:fs`.
 */
import type * as FsPromises from 'node:fs/promises';
import type * as NodePath from 'node:path';
import type * as NodeModule from 'node:module';
import type * as NodeOs from 'node:os';
import { SiftError } from '@sift/tensor-core';

/** The Node modules the file functions of `@sift/lm` use. */
export interface LmNodeModules {
  fs: typeof FsPromises;
  path: typeof NodePath;
  module: typeof NodeModule;
  os: typeof NodeOs;
}

let cached: Promise<LmNodeModules> | undefined;

/** Loads `node:fs/promises`, `node:path`, `node:module` and `node:os` once; `E_UNSUPPORTED` outside Node. */
export function lmNodeModules(what: string): Promise<LmNodeModules> {
  cached ??= Promise.all([import('node:fs/promises'), import('node:path'), import('node:module'), import('node:os')]).then(
    ([fs, path, module, os]) => ({ fs, path, module, os }),
    (err: unknown) => {
      cached = undefined;
      throw new SiftError('E_UNSUPPORTED', `${what} needs Node.js (node:fs). In a browser, fetch the files yourself ` +
        'and use the in-memory functions (e.g. tokenizerFromJson, encodeDocuments).', { cause: err });
    },
  );
  return cached;
}
