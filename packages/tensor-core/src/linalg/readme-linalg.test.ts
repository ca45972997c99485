import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '@sift/testkit';

const PKG = fileURLToPath(new URL('../..', import.meta.url));

describe('README linear algebra section', () => {
  it('the example runs as written and its comments hold', async () => {
    const mod = (await runReadmeExample(PKG, { section: '## Linear algebra and streaming statistics' })) as Record<string, ArrayLike<number> | number>;
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
