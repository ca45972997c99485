import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const PKG = fileURLToPath(new URL('../..', import.meta.url));
const HEADING = '## Linear algebra and streaming statistics';

/**
 * The first ```ts block of the linear-algebra section of README.md (the same
 * extraction as @sift/testkit's runReadmeExample, which only reads a README's first block).
 */
function example(): string {
  for (const name of ['README.md']) {
    const path = join(PKG, name);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8');
    const at = text.indexOf(HEADING);
    if (at < 0) continue;
    const match = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
    if (match?.[1] !== undefined) return match[1];
  }
  throw new Error(`no "${HEADING}" section with a \`\`\`ts block in README.md`);
}

describe('README linear algebra section', () => {
  it('the example runs as written and its comments hold', async () => {
    const dir = join(PKG, '.readme');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `linalg-example-${process.env.SIFT_TEST_BACKEND ?? 'wasm'}.ts`); // one per project: they run in parallel
    writeFileSync(file, example());
    const mod = (await import(/* @vite-ignore */ `${pathToFileURL(file).href}?t=${Date.now()}`)) as Record<string, ArrayLike<number> | number>;
    const norms = Array.from(mod.norms as ArrayLike<number>);
    expect(norms[0]).toBeCloseTo(Math.sqrt(6), 6);
    expect(norms[1]).toBe(0);
    expect(norms[2]).toBeCloseTo(Math.sqrt(6), 6);
    expect(Array.from(mod.maxAbs as ArrayLike<number>)).toEqual([2, 0, 2]);
    expect(Array.from(mod.deadInputs as ArrayLike<number>)).toEqual([1]);
    expect((mod.hinv as ArrayLike<number>).length).toBe(9);
    const x = Array.from(mod.solution as ArrayLike<number>);
    expect(x[0]).toBeCloseTo(0.5, 14);
    expect(x[1]).toBeCloseTo(0, 14);
    expect(mod.mergedCount).toBe(8);
  });
});
