import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '@sift/testkit';

describe('README', () => {
  it('the first example runs as written', async () => {
    const mod = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
    expect(mod.shape).toEqual([32, 200]);
    expect(mod.labels).toEqual(['composition', 'dynamics']);
  });
});
