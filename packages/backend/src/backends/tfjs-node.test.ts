import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoaderFailure } from '../errors.js';
import { tfjsNodeLoader } from './tfjs-node.js';

describe('tfjs-node loaders (cuda, tensorflow)', () => {
  it('a package that is not installed: says so and how to install it', async () => {
    const loader = tfjsNodeLoader('cuda', () => Promise.reject(new Error('unreachable')), () => Promise.resolve(undefined));
    const err = await loader.prepare({}, true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoaderFailure);
    expect((err as LoaderFailure).message).toBe('the optional package @tensorflow/tfjs-node-gpu is not installed');
    expect((err as LoaderFailure).fix).toMatch(/pnpm add @tensorflow\/tfjs-node-gpu@4\.22\.0.*CUDA/);
  });

  it('a package installed without its native binding: says the binding is missing, without importing it', async () => {
    let imported = false;
    const loader = tfjsNodeLoader('tensorflow', () => {
      imported = true;
      return Promise.resolve({});
    }, () => Promise.resolve('/nonexistent/tfjs-node'));
    const err = await loader.prepare({}, true).catch((e: unknown) => e);
    expect((err as LoaderFailure).message).toMatch(/@tensorflow\/tfjs-node is installed but its native binding .* is missing/);
    expect(imported).toBe(false);
    // The failure is remembered: a second attempt does not look again.
    await expect(loader.prepare({}, true)).rejects.toBe(err);
  });

  it('an import that throws anyway: reports the first line of the error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sift-tfjs-node-'));
    mkdirSync(join(dir, 'lib', 'napi-v8'), { recursive: true });
    writeFileSync(join(dir, 'lib', 'napi-v8', 'tfjs_binding.node'), '');
    const loader = tfjsNodeLoader('cuda', () => Promise.reject(new Error('libcudart.so.11.0: cannot open shared object file\nstack')), () => Promise.resolve(dir));
    await expect(loader.prepare({}, true)).rejects.toThrow(/^@tensorflow\/tfjs-node-gpu failed to load: libcudart\.so\.11\.0: cannot open shared object file$/);
  });

  it('the real packages in this workspace', async () => {
    // On this project's machines both packages are installed with their install scripts denied, so the binding is
    // missing; on a machine where they were built, prepare() succeeds and the agreement suite covers them.
    for (const name of ['cuda', 'tensorflow'] as const) {
      const loader = tfjsNodeLoader(name);
      const result = await loader.prepare({}, true).then(() => 'started', (e: unknown) => e);
      if (result === 'started') {
        console.log(`[info] ${name}: libtensorflow binding present`);
        continue;
      }
      expect(result).toBeInstanceOf(LoaderFailure);
      expect((result as LoaderFailure).message).toMatch(/not installed|native binding .* is missing|failed to load/);
      expect((result as LoaderFailure).fix).toMatch(/pnpm add/);
    }
  });
});
