import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '@sift/testkit';

const PKG = fileURLToPath(new URL('../..', import.meta.url));

describe('README nn section', () => {
  it('the first example runs as written', async () => {
    const mod = (await runReadmeExample(PKG, { section: '## nn modules and optimizers' }));
    expect(mod.names).toEqual(['attn.q_proj', 'attn.k_proj', 'attn.v_proj', 'attn.o_proj', 'c_fc', 'c_proj']);
    const losses = mod.losses as number[];
    expect(losses).toHaveLength(40);
    expect(losses[39]).toBeLessThan(0.5 * losses[0]); // it learns
    expect(mod.lastLr as number).toBeCloseTo(3e-4 + 0.5 * 2.7e-3 * (1 + Math.cos((Math.PI * 34) / 35)), 12);
    expect(mod.hookSaw).toBe(2);
    expect(mod.sameOutput).toBe(0);
  });
});
