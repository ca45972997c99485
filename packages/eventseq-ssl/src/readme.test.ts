import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '@sift/testkit';

describe('README', () => {
  it('the first example runs as written', async () => {
    const mod = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
    const summary = mod.summary as { rows: number; dim: number; epochs: number; accuracy: number };
    expect(summary.rows).toBe(80);
    expect(summary.dim).toBe(16);
    expect(summary.epochs).toBe(2);
    expect(summary.accuracy).toBeGreaterThan(0.25); // 4 balanced classes: above chance
  }, 60_000);
});
