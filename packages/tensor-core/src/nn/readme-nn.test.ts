import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const PKG = fileURLToPath(new URL('../..', import.meta.url));

/** The first ```ts block of the "## nn modules and optimizers" section, of README.md. */
function nnExample(): string {
  for (const name of ['README.md']) {
    const path = join(PKG, name);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8');
    const at = text.indexOf('## nn modules and optimizers');
    if (at < 0) continue;
    const match = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
    if (match?.[1] !== undefined) return match[1];
  }
  throw new Error('no "## nn modules and optimizers" section with a ```ts block in README.md');
}

describe('README nn section', () => {
  it('the first example runs as written', async () => {
    const dir = join(PKG, '.readme');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `nn-example-${process.env.SIFT_TEST_BACKEND ?? 'wasm'}.ts`); // one per project: they run in parallel
    writeFileSync(file, nnExample());
    const mod = (await import(/* @vite-ignore */ `${pathToFileURL(file).href}?t=${Date.now()}`)) as Record<string, unknown>;
    expect(mod.names).toEqual(['attn.q_proj', 'attn.k_proj', 'attn.v_proj', 'attn.o_proj', 'c_fc', 'c_proj']);
    const losses = mod.losses as number[];
    expect(losses).toHaveLength(40);
    expect(losses[39]).toBeLessThan(0.5 * losses[0]); // it learns
    expect(mod.lastLr as number).toBeCloseTo(3e-4 + 0.5 * 2.7e-3 * (1 + Math.cos((Math.PI * 34) / 35)), 12);
    expect(mod.hookSaw).toBe(2);
    expect(mod.sameOutput).toBe(0);
  });
});
