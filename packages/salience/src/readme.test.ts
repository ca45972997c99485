import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readmeOptionsTable, runReadmeExample } from '@sift/testkit';
import { GENERALIZED_METRIC_DEFAULTS } from './index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

describe('README', () => {
  it('the first example runs as written', async () => {
    const mod = await runReadmeExample(pkgDir);
    const summary = mod.summary as { shape: number[]; salient: number[]; quikTop: number[] };
    expect(summary.shape).toEqual([32, 64]);
    expect(summary.salient).toHaveLength(4);
    expect(summary.salient).toContain(7);
    expect(summary.quikTop).toEqual([7]);
  });

  it('the options table lists GENERALIZED_METRIC_DEFAULTS with the same defaults', () => {
    const readme = readFileSync(`${pkgDir}/README.md`, 'utf8');
    const rows = readmeOptionsTable(readme, 'GENERALIZED_METRIC_DEFAULTS');
    for (const [k, v] of Object.entries(GENERALIZED_METRIC_DEFAULTS)) {
      expect(rows.get(k), k).toBe(typeof v === 'string' ? `'${v}'` : String(v));
    }
  });
});
