import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIR = fileURLToPath(new URL('.', import.meta.url));

describe('io is browser-safe at import time', () => {
  it('no library file imports a node: module except as a type (file functions load node:fs with import())', () => {
    const offenders: string[] = [];
    for (const f of readdirSync(DIR).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))) {
      const text = readFileSync(`${DIR}${f}`, 'utf8');
      for (const m of text.matchAll(/^\s*(import|export)\s+(?!type\b)[^;]*?from\s+['"](node:[^'"]+|fs|path|os|crypto)['"]/gm)) {
        offenders.push(`${f}: ${m[0].trim()}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
