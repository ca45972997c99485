import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readmeOptionsTable, runReadmeExample } from '@sift/testkit';
import * as evalApi from './index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

describe('README', () => {
  it('the first example runs as written', async () => {
    const mod = await runReadmeExample(pkgDir);
    expect(String(mod.svg)).toMatch(/^<svg[\s\S]*<\/svg>$/u);
    expect(mod.perplexityValue).toBeGreaterThan(1);
    expect(mod.perplexityValue).toBeLessThan(64);
    expect(mod.probeAccuracy).toBe(1);
  });

  it('every options table lists exactly the fields of its *_DEFAULTS constant, with the same defaults', () => {
    const readme = readFileSync(`${pkgDir}/README.md`, 'utf8');
    const constants: Record<string, object> = {
      PERPLEXITY_DEFAULTS: evalApi.PERPLEXITY_DEFAULTS, MULTIPLE_CHOICE_DEFAULTS: evalApi.MULTIPLE_CHOICE_DEFAULTS,
      NEXT_SENTENCE_DEFAULTS: evalApi.NEXT_SENTENCE_DEFAULTS, PROBE_EVAL_DEFAULTS: evalApi.PROBE_EVAL_DEFAULTS,
      LOGISTIC_DEFAULTS: evalApi.LOGISTIC_DEFAULTS, RIDGE_DEFAULTS: evalApi.RIDGE_DEFAULTS, GBDT_DEFAULTS: evalApi.GBDT_DEFAULTS,
      ANISOTROPY_DEFAULTS: evalApi.ANISOTROPY_DEFAULTS, TWO_NN_DEFAULTS: evalApi.TWO_NN_DEFAULTS,
    };
    for (const [name, defaults] of Object.entries(constants)) {
      const rows = readmeOptionsTable(readme, name);
      for (const [key, value] of Object.entries(defaults)) {
        expect(rows.has(key), `${name}.${key} is documented`).toBe(true);
        const shown = rows.get(key)!;
        if (typeof value === 'number') expect(Number(shown), `${name}.${key}`).toBe(value);
        else expect(shown, `${name}.${key}`).toBe(typeof value === 'string' ? `'${value}'` : JSON.stringify(value).replace(/,/gu, ', '));
      }
    }
  });
});
