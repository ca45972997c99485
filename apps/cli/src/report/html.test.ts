import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { escapeHtml, renderHtmlReport, writeHtmlReport } from './html.js';
import { plotBitsVsPerplexity } from './plots.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-cli-report-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('HTML report', () => {
  it('escapes text, right-aligns numbers, inlines SVG without its XML declaration, and loads nothing external', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const html = renderHtmlReport({
      title: 'T <1>', subtitle: 'sub', facts: [['machine', '2 cores']],
      sections: [{
        heading: 'S & P', paragraphs: ['p <b>'],
        tables: [{ caption: 'cap', header: ['name', 'value'], rows: [['2:4', '12.50'], ['x', '8.75 s'], ['<script>', '-']] }],
        figures: [{ svg: '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', caption: 'fig' }],
      }],
    });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<title>T &lt;1&gt;</title>');
    expect(html).toContain('<h2>S &amp; P</h2>');
    expect(html).toContain('<p>p &lt;b&gt;</p>');
    expect(html).toContain('<td>2:4</td><td class="num">12.50</td>');
    expect(html).toContain('<td class="num">8.75 s</td>');
    expect(html).toContain('<td>&lt;script&gt;</td>');
    expect(html).toContain('<figure><svg xmlns="http://www.w3.org/2000/svg"><rect/></svg><figcaption>fig</figcaption></figure>');
    expect(html).not.toContain('<?xml');
    expect(html).not.toMatch(/<script|<link |src=/u);
    expect(html).toContain('<table class="facts">');
    expect(html).toContain('<td>machine</td><td>2 cores</td>');
  });

  it('writes atomically (no temporary file left) and plots bits per weight against perplexity as SVG', async () => {
    const svg = await plotBitsVsPerplexity([
      { label: '2:4 wanda', group: 'wanda', bitsPerWeight: 8.75, perplexity: 31 },
      { label: '8:16 sparsegpt', group: 'sparsegpt', bitsPerWeight: 8.875, perplexity: 29 },
    ]);
    expect(svg).toMatch(/^<svg/u);
    expect(svg).toContain('2:4 wanda');
    const path = join(dir, 'r.html');
    await writeHtmlReport(path, { title: 'r', sections: [{ heading: 'plot', figures: [{ svg, caption: 'c' }] }] });
    expect(readFileSync(path, 'utf8')).toContain('8:16 sparsegpt');
    expect(readdirSync(dir)).toEqual(['r.html']);
  });
});
