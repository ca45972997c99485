import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readmeOptionsTable, runReadmeExample } from '@sift/testkit';
import * as api from './index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

describe('README', () => {
  it('the first example runs as written', async () => {
    const mod = await runReadmeExample(pkgDir);
    const s = mod.summary as { trainable: number; loraRankAtSameBudget: number; lossBefore: number; lossAfter: number; gptqError: number[] };
    expect(s.trainable).toBe(384);
    expect(s.loraRankAtSameBudget).toBe(3);
    expect(s.lossAfter).toBeLessThan(s.lossBefore);
    expect(s.gptqError).toHaveLength(2);
    for (const e of s.gptqError) expect(e).toBeGreaterThan(0);
  });

  it('every options table lists exactly the fields of its *_DEFAULTS constant, with the same defaults', () => {
    const readme = readFileSync(`${pkgDir}/README.md`, 'utf8');
    const constants: Record<string, object> = {
      QUANTIZE_MODEL_DEFAULTS: api.QUANTIZE_MODEL_DEFAULTS, GIFT_DEFAULTS: api.GIFT_DEFAULTS, SALIENT_SELECT_DEFAULTS: api.SALIENT_SELECT_DEFAULTS,
      LORA_DEFAULTS: api.LORA_DEFAULTS, FULL_FT_DEFAULTS: api.FULL_FT_DEFAULTS, STE_DEFAULTS: api.STE_DEFAULTS, FINE_TUNE_DEFAULTS: api.FINE_TUNE_DEFAULTS,
    };
    for (const [name, defaults] of Object.entries(constants)) {
      const rows = readmeOptionsTable(readme, name);
      expect([...rows.keys()].sort(), name).toEqual(Object.keys(defaults).sort());
      for (const [key, value] of Object.entries(defaults)) {
        const shown = rows.get(key)!;
        if (typeof value === 'number') expect(Number(shown), `${name}.${key}`).toBe(value);
        else expect(shown, `${name}.${key}`).toBe(typeof value === 'string' ? `'${value}'` : JSON.stringify(value).replace(/,/gu, ', '));
      }
    }
  });
});
