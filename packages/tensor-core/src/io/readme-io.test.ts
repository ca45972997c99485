import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const PKG = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The first ```ts block of the "## safetensors I/O" section of README.md (the same
 * extraction as @sift/testkit's runReadmeExample, which only reads a README's first block).
 */
function ioExample(): string {
  for (const name of ['README.md']) {
    const path = join(PKG, name);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8');
    const at = text.indexOf('## safetensors I/O');
    if (at < 0) continue;
    const match = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
    if (match?.[1] !== undefined) return match[1];
  }
  throw new Error('no "## safetensors I/O" section with a ```ts block in README.md');
}

describe('README safetensors section', () => {
  it('the first example runs as written', async () => {
    const dir = join(PKG, '.readme');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `io-example-${process.env.SIFT_TEST_BACKEND ?? 'wasm'}.ts`); // one per project: they run in parallel
    writeFileSync(file, ioExample());
    const mod = (await import(/* @vite-ignore */ `${pathToFileURL(file).href}?t=${Date.now()}`)) as Record<string, unknown>;
    expect(mod.names).toEqual(['w', 'b']);
    expect(mod.sum).toBe(10);
    expect(mod.stored).toEqual({ dtype: 'BF16', shape: [2, 2], data: new Uint16Array([0x3f80, 0x4000, 0x4040, 0x4080]) });
    expect((mod.header as { tensors: Map<string, unknown> }).tensors.get('w')).toEqual({ dtype: 'BF16', shape: [2, 2], dataOffsets: [0, 8] });
    expect(mod.one).toEqual(mod.stored);
  });
});
