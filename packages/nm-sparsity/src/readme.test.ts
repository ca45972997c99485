import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readmeOptionsTable, runReadmeExample } from '@sift/testkit';
import { PRUNE_DEFAULTS, PRUNE_MODEL_DEFAULTS } from './index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

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
      const rows = readmeOptionsTable(readme, name);
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
