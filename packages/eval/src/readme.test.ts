import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '@sift/testkit';
import * as evalApi from './index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

/** The `| option | default | meaning |` table under the heading that names `constant`, as option -> default text. */
function optionsTable(readme: string, constant: string): Map<string, string> {
  const at = readme.search(new RegExp(`^#+ .*\`${constant}\``, 'mu'));
  if (at < 0) throw new Error(`README has no heading naming ${constant}`);
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
      const rows = optionsTable(readme, name);
      for (const [key, value] of Object.entries(defaults)) {
        expect(rows.has(key), `${name}.${key} is documented`).toBe(true);
        const shown = rows.get(key)!;
        if (typeof value === 'number') expect(Number(shown), `${name}.${key}`).toBe(value);
        else expect(shown, `${name}.${key}`).toBe(typeof value === 'string' ? `'${value}'` : JSON.stringify(value).replace(/,/gu, ', '));
      }
    }
  });
});
