import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '@sift/testkit';

describe('README', () => {
  it('the first example runs as written', async () => {
    const mod = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
    expect(mod.summary).toMatchObject({
      documents: 25, vocabSize: 1024, merges: 1023 - 256, calibShape: [8, 128], batchShape: [4, 64],
      logitsShape: [1, 4, 1024], newTokens: 8, valLossBelowUniform: true,
    });
  });
});
