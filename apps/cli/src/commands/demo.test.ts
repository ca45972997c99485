import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCacheDir, type DemoSummary } from './demo.js';
import { sift } from '../cli.test-util.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-cli-demo-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('sift demo --quick', () => {
  it('trains, prunes, evaluates, probes and writes one self-contained HTML report; a second run reuses the model', async () => {
    const cache = join(dir, 'cache');
    const out = join(dir, 'report');
    const tensorsBefore = tf.memory().numTensors;
    const first = await sift('demo', '--quick', '--cache', cache, '--out', out);
    expect(first.code, first.err).toBe(0);
    expect(tf.memory().numTensors, 'tensors leaked by the demo').toBe(tensorsBefore);

    // The terminal summary: both tables, the findings, the time per stage and in all.
    expect(first.out).toMatch(/^pattern\s+method\s+perplexity\s+bits\/byte/mu);
    expect(first.out).toMatch(/^dense\s+dense\s+\d+\.\d\d/mu);
    for (const p of ['2:4', '8:16', 'unstructured']) for (const m of ['wanda', 'sparsegpt']) expect(first.out).toMatch(new RegExp(`^${p}\\s+${m}\\s+\\d`, 'mu'));
    expect(first.out).toMatch(/^method\s+target\s+probe\s+accuracy/mu);
    expect(first.out).toMatch(/^MLEM\s+composition\s+logistic\s+\d\.\d{3}/mu);
    expect(first.out).toMatch(/^dense perplexity \d+\.\d\d; best at 50% sparsity: /mu);
    expect(first.out).toMatch(/^train tiny \(60 steps\)\s+\d+:\d\d$/mu);
    expect(first.out).toMatch(/sift demo --quick finished in \d+:\d\d \(\d+\.\d s\)/u);
    expect(first.out).toMatch(/model trained and cached in /u);

    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as DemoSummary;
    expect(s.model).toMatchObject({ preset: 'tiny', steps: 60, reused: false });
    expect(s.lm.map((r) => `${r.pattern} ${r.method}`)).toEqual([
      'dense dense', '2:4 wanda', '2:4 sparsegpt', '8:16 wanda', '8:16 sparsegpt', 'unstructured wanda', 'unstructured sparsegpt',
    ]);
    const dense = s.lm[0];
    for (const r of s.lm) {
      expect(Number.isFinite(r.perplexity) && r.perplexity > 1 && r.perplexity < 257, `${r.pattern} ${r.method}: ${String(r.perplexity)}`).toBe(true);
      expect(r.bitsPerByte).toBeCloseTo(Math.log2(r.perplexity), 1); // byte tokenizer: one token per byte (but separators)
      if (r.pattern === 'dense') continue;
      expect(r.sparsity).toBeCloseTo(0.5, 6);
      // Mask metadata of the packed format: ceil(log2 C(4,2)) / 4 and ceil(log2 C(16,8)) / 16; a 1-bit mask unstructured.
      const metadata = { '2:4': 0.75, '8:16': 0.875, unstructured: 1 }[r.pattern];
      expect(r.metadataBits).toBeCloseTo(metadata ?? Number.NaN, 12);
      expect(r.bitsPerWeight).toBeCloseTo(8 + (metadata ?? Number.NaN), 12); // fp16 values of half the weights
      expect(r.modelBitsPerWeight).toBeGreaterThan(r.bitsPerWeight);
      expect(r.modelBitsPerWeight).toBeLessThan(16);
      expect(r.perplexity / dense.perplexity).toBeLessThan(2);
    }
    expect(s.eventseq.rows.map((r) => r.method)).toEqual(expect.arrayContaining(['random encoder', 'CoLES', 'MLEM']));
    for (const r of s.eventseq.rows) expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(s.stages.reduce((a, st) => a + st.seconds, 0)).toBeLessThanOrEqual(s.seconds + 1e-6);

    // One self-contained HTML file: tables, inline SVG plots, no scripts or external resources.
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<table');
    expect(html).toContain('<td>unstructured</td><td>sparsegpt</td>');
    expect(html).toContain('<td>MLEM</td><td>composition</td>');
    expect(html).toContain('Bits per weight vs perplexity');
    expect((html.match(/<svg/gu) ?? []).length).toBeGreaterThanOrEqual(3);
    expect(html).not.toMatch(/<script|<link |src="http/u);
    expect(html).toContain(s.machine.backend);

    // A second run reuses the cached model (and says so) and gives the same dense perplexity.
    const out2 = join(dir, 'report2');
    const second = await sift('--json', 'demo', '--quick', '--cache', cache, '--out', out2);
    expect(second.code, second.err).toBe(0);
    const s2 = JSON.parse(second.out) as DemoSummary;
    expect(s2.model.reused).toBe(true);
    expect(s2.stages[0]?.name).toMatch(/reused/u);
    expect(s2.lm[0]?.perplexity).toBe(dense.perplexity);
    expect(existsSync(join(out2, 'report.html'))).toBe(true);
  });

  it('usage errors exit 2; --help names the cache and the report', async () => {
    const bad = await sift('demo', '--steps', '0');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--steps must be at least 1/u);
    expect((await sift('demo', '--steps', 'many')).err).toMatch(/--steps must be an integer/u);
    const help = await sift('demo', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--quick[\s\S]*--cache <dir>[\s\S]*--out <dir>/u);
  });

  it('caches under $XDG_CACHE_HOME/sift, else .sift-cache in the current folder', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' }, '/work')).toBe(join('/x/cache', 'sift'));
    expect(defaultCacheDir({}, '/work')).toBe(join('/work', '.sift-cache'));
  });
});
