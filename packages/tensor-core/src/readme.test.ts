import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '@sift/testkit';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

describe('README', () => {
  it('the first example runs as written', async () => {
    const { summary } = await runReadmeExample(pkgDir);
    expect(summary).toEqual({ out: [256, 32], hinv: [64, 64], code: 'E_SHAPE' });
  });
});
