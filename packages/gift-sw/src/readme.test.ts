import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '@sift/testkit';
import * as api from './index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

/** The `| option | default | meaning |` table after the first mention of `constant` in a heading or line. */
function optionsTable(readme: string, constant: string): Map<string, string> {
  const at = readme.search(new RegExp(`\`${constant}\``, 'u'));
  if (at < 0) throw new Error(`README never names ${constant}`);
  const rest = readme.slice(at);
  const table = rest.slice(rest.indexOf('| option | default |'));
  const rows = new Map<string, string>();
  for (const line of table.split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    rows.set(cells[1].replace(/`/gu, ''), cells[2].replace(/`/gu, ''));
  }
  return rows;
}

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
      const rows = optionsTable(readme, name);
      expect([...rows.keys()].sort(), name).toEqual(Object.keys(defaults).sort());
      for (const [key, value] of Object.entries(defaults)) {
        const shown = rows.get(key)!;
        if (typeof value === 'number') expect(Number(shown), `${name}.${key}`).toBe(value);
        else expect(shown, `${name}.${key}`).toBe(typeof value === 'string' ? `'${value}'` : JSON.stringify(value).replace(/,/gu, ', '));
      }
    }
  });
});
