import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '@sift/testkit';
import { PRUNE_DEFAULTS, PRUNE_MODEL_DEFAULTS } from './index.js';

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
    const s = mod.summary as { sparsity: number; error: number; bits: { metadata: number; total: number }; rows: number };
    expect(s.sparsity).toBeCloseTo(0.5, 6);
    expect(s.error).toBeGreaterThan(0);
    expect(s.error).toBeLessThan(0.5);
    expect(s.bits.metadata).toBe(0.875);
    expect(s.bits.total).toBeCloseTo(8.875 + (16 + 5) / 32, 9);
    expect(s.rows).toBe(32);
  });

  it('the options tables list the *_DEFAULTS fields with the same defaults', () => {
    const readme = readFileSync(`${pkgDir}/README.md`, 'utf8');
    const check = (name: string, entries: [string, unknown][]): void => {
      const rows = optionsTable(readme, name);
      expect([...rows.keys()].sort(), name).toEqual(entries.map(([k]) => k).sort());
      for (const [key, value] of entries) {
        const shown = rows.get(key)!;
        if (typeof value === 'number') expect(Number(shown), `${name}.${key}`).toBe(value);
        else expect(shown, `${name}.${key}`).toBe(typeof value === 'string' ? `'${value}'` : JSON.stringify(value));
      }
    };
    check('PRUNE_DEFAULTS', Object.entries(PRUNE_DEFAULTS));
    check('PRUNE_MODEL_DEFAULTS', Object.entries(PRUNE_MODEL_DEFAULTS).filter(([k]) => !(k in PRUNE_DEFAULTS)));
  });
});
