import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarize } from '../internal/summary.js';
import type { MultipleChoiceReport } from '../lm/multiple-choice.js';
import type { ProbeReport } from '../probes/evaluate.js';
import { plotLossCurves, plotPerplexity, plotProbeScores } from './plots.js';
import { multipleChoiceTable, perplexityTable, probeTable, renderJson, renderMarkdown, type PerplexityEntry } from './table.js';
import { writeFileAtomic } from '@sift/tensor-core';

/**
 * A strict-enough XML well-formedness check: one root, every tag closed in order, attributes quoted, no stray '<' or
 * '&' in text or attribute values, only the XML declaration/comment/CDATA forms allowed. Returns the element names.
 */
function checkXml(xml: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  let roots = 0;
  let i = 0;
  const entity = /^&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);/u;
  const text = (s: string, where: string): void => {
    for (let k = 0; k < s.length; k++) {
      if (s[k] === '<') throw new Error(`stray '<' in ${where}`);
      if (s[k] === '&' && !entity.test(s.slice(k))) throw new Error(`bad entity in ${where}: ${s.slice(k, k + 10)}`);
    }
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) {
      text(xml.slice(i), 'trailing text');
      if (xml.slice(i).trim() !== '') throw new Error('text after the root element');
      break;
    }
    const between = xml.slice(i, lt);
    text(between, 'text');
    if (stack.length === 0 && between.trim() !== '') throw new Error('text outside the root element');
    if (xml.startsWith('<?', lt)) { i = xml.indexOf('?>', lt) + 2; continue; }
    if (xml.startsWith('<!--', lt)) { i = xml.indexOf('-->', lt) + 3; continue; }
    if (xml.startsWith('<![CDATA[', lt)) { i = xml.indexOf(']]>', lt) + 3; continue; }
    const m = /^<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/u.exec(xml.slice(lt));
    if (!m) throw new Error(`malformed tag at ${lt}: ${xml.slice(lt, lt + 40)}`);
    const [all, close, name, attrs, self] = m;
    for (const a of attrs.matchAll(/=\s*("[^"]*"|'[^']*')/gu)) text(a[1].slice(1, -1), `attribute of <${name}>`);
    if (close === '/') {
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element`);
    } else {
      if (stack.length === 0) roots++;
      names.push(name);
      if (self !== '/') stack.push(name);
    }
    i = lt + all.length;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.at(-1)}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return names;
}

const ppl: PerplexityEntry[] = [
  { pattern: 'dense', method: 'none', perplexity: [21.4] },
  { pattern: '2:4', method: 'magnitude', perplexity: [48.1, 50.3, 49.0] },
  { pattern: '2:4', method: 'wanda', perplexity: [31.2, 30.8, 31.5] },
  { pattern: '8:16', method: 'magnitude', perplexity: [35.0, 35.9, 34.2] },
  { pattern: '8:16', method: 'wanda <&>', perplexity: [26.1, 26.4, 25.9] },
];

function probe(label: string, kind: ProbeReport['probe'], acc: number[]): ProbeReport {
  return {
    label, probe: kind, task: 'classification', protocol: 'split', folds: 1, seeds: [0, 1, 2], scaling: 'maxabs', numClasses: 4,
    metrics: { accuracy: summarize(acc), rocAuc: summarize(acc.map((a) => a + 0.2)) }, fitSeconds: summarize([1, 1, 1]),
  };
}
const probes = [probe('CoLES', 'logistic', [0.6, 0.61, 0.62]), probe('CoLES', 'gbdt', [0.63, 0.64, 0.64]), probe('MLEM', 'gbdt', [0.65, 0.66, 0.64])];

describe('tables', () => {
  it('perplexity table: mean ± sample std, Markdown with right-aligned numbers, JSON with null for NaN', () => {
    const t = perplexityTable(ppl, 'WikiText-style perplexity');
    const md = renderMarkdown(t);
    expect(md).toContain('**WikiText-style perplexity**');
    expect(md).toContain('| pattern | method | perplexity | runs |');
    expect(md).toContain('|---|---|---:|---:|');
    expect(md).toContain('| 2:4 | wanda | 31.17 ± 0.35 | 3 |');
    expect(md).toContain('| dense | none | 21.40 ± 0.00 | 1 |');
    const json = JSON.parse(renderJson(t)) as { rows: { ppl: { mean: number; std: number } }[] };
    expect(json.rows[2].ppl.mean).toBeCloseTo(31.1667, 4);
  });

  it('probe and multiple-choice tables', () => {
    const md = renderMarkdown(probeTable(probes, ['accuracy']));
    expect(md).toContain('| CoLES | logistic | split × 3 | 0.6100 ± 0.0100 |');
    const mc: MultipleChoiceReport = { tasks: [{ name: 'next-sentence', n: 1, acc: 1, accStderr: Number.NaN, accNorm: 0, accNormStderr: Number.NaN, items: [] }] };
    expect(renderMarkdown(multipleChoiceTable(mc))).toContain('| next-sentence | 1 | 1.0000 ± — | 0.0000 ± — |');
    expect(JSON.parse(renderJson(multipleChoiceTable(mc))).rows[0].acc.std).toBeNull();
    expect(renderMarkdown({ columns: [{ key: 'a', label: 'a|b' }], rows: [{ a: 'x|y' }] })).toContain('| x\\|y |');
  });
});

describe('plots (Vega-Lite rendered headless to SVG)', () => {
  it('perplexity grouped bars: well-formed standalone SVG with a bar per entry and error bars', async () => {
    const svg = await plotPerplexity(ppl);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    const names = checkXml(svg);
    expect(names[0]).toBe('svg');
    expect(svg).toContain('Perplexity by sparsity pattern');
    expect(svg).toContain('wanda &lt;&amp;&gt;'); // escaped, not raw
    expect((svg.match(/role-mark[^"]*"/gu) ?? []).length).toBeGreaterThanOrEqual(2); // bars and rules layers
  });

  it('loss curves and probe scores render; bad input is refused', async () => {
    const loss = await plotLossCurves([
      { name: 'train', steps: [0, 10, 20, 30], values: [4, 3, 2.5, 2.2] },
      { name: 'valid', steps: [0, 10, 20, 30], values: [4.1, 3.2, 2.8, 2.7] },
    ], { logY: true, title: 'CoLES loss' });
    checkXml(loss);
    expect(loss).toContain('CoLES loss');
    const scores = await plotProbeScores(probes, { metric: 'rocAuc' });
    checkXml(scores);
    expect(scores).toContain('MLEM');
    await expect(plotProbeScores(probes, { metric: 'mse' })).rejects.toThrow(/has no metric "mse"; it has accuracy, rocAuc/);
    await expect(plotLossCurves([{ name: 'x', steps: [0], values: [0] }], { logY: true })).rejects.toThrow(/logY needs values > 0/);
    await expect(plotPerplexity([{ pattern: 'a', method: 'b', perplexity: [Number.NaN] }])).rejects.toThrow(/finite/);
  });
});

describe('writeFileAtomic (from tensor-core) for reports', () => {
  it('creates folders, replaces the file, and leaves no temporary files behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sift-eval-'));
    try {
      const path = join(dir, 'sub', 'plot.svg');
      await writeFileAtomic(path, '<svg/>');
      await writeFileAtomic(path, '<svg>2</svg>');
      expect(readFileSync(path, 'utf8')).toBe('<svg>2</svg>');
      expect(readdirSync(join(dir, 'sub'))).toEqual(['plot.svg']);
      await expect(writeFileAtomic(join(path, 'inside-a-file.txt'), 'x')).rejects.toThrow(/failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
