/**
 * A self-contained HTML report: inline CSS, tables and inline SVG figures, no scripts and nothing fetched, so the one
 * file can be mailed, archived or opened offline. Written atomically (temporary file, then rename).
 */
import { writeFileAtomic } from '@sift/tensor-core';

/** A table: a header and rows of cells (already formatted). Numeric-looking cells are right-aligned. */
export interface ReportTable {
  caption?: string;
  header: readonly string[];
  rows: readonly (readonly string[])[];
}

/** A figure: a standalone SVG string (e.g. from `@sift/eval`'s plots) and its caption. */
export interface ReportFigure {
  svg: string;
  caption: string;
}

/** A section: a heading, paragraphs (plain text), tables and figures, in that order. */
export interface ReportSection {
  heading: string;
  paragraphs?: readonly string[];
  tables?: readonly ReportTable[];
  figures?: readonly ReportFigure[];
}

/** A whole report. */
export interface HtmlReport {
  title: string;
  /** One line under the title. */
  subtitle?: string;
  /** Key-value facts shown first (machine, backend, settings, times). */
  facts?: readonly (readonly [string, string])[];
  sections: readonly ReportSection[];
}

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #1b1f24; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } .subtitle { color: #57606a; margin-top: 0; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: 0.8rem 0 1.2rem; font-size: 0.92rem; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; }
th { background: #f6f8fa; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fbfcfd; }
table.facts th { width: 14rem; }
figure { display: inline-block; margin: 0.5rem 1.5rem 1rem 0; vertical-align: top; }
figure svg { max-width: 100%; height: auto; } figcaption { color: #57606a; font-size: 0.88rem; max-width: 520px; }
footer { color: #57606a; font-size: 0.85rem; margin-top: 3rem; }
`;

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/gu, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const NUMERIC = /^[-+]?(\d[\d,]*(\.\d+)?|\.\d+)(e[-+]?\d+)?( ?(%|s|x|bits?))?$/iu;

function renderTable(t: ReportTable, className?: string): string {
  const cls = className === undefined ? '' : ` class="${className}"`;
  const head = `<tr>${t.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = t.rows.map((r) => `<tr>${r.map((c) => `<td${NUMERIC.test(c.trim()) ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table${cls}>${t.caption === undefined ? '' : `<caption>${escapeHtml(t.caption)}</caption>`}\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody></table>`;
}

/** Strips an XML declaration or doctype so that an SVG document can sit inline in HTML. */
function inlineSvg(svg: string): string {
  return svg.replace(/^\s*<\?xml[^>]*>\s*/u, '').replace(/^\s*<!DOCTYPE[^>]*>\s*/iu, '');
}

/**
 * Renders the report as one HTML document.
 * @example
 * const html = renderHtmlReport({ title: 'Run', sections: [{ heading: 'Results', tables: [{ header: ['a'], rows: [['1']] }] }] });
 */
export function renderHtmlReport(r: HtmlReport): string {
  const parts = [
    '<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">', `<title>${escapeHtml(r.title)}</title>`,
    `<style>${CSS}</style>`, '</head>', '<body>', `<h1>${escapeHtml(r.title)}</h1>`,
  ];
  if (r.subtitle !== undefined) parts.push(`<p class="subtitle">${escapeHtml(r.subtitle)}</p>`);
  if (r.facts !== undefined && r.facts.length > 0) {
    parts.push(renderTable({ header: ['', ''], rows: r.facts }, 'facts').replace(/<thead>.*?<\/thead>/u, ''));
  }
  for (const s of r.sections) {
    parts.push(`<section>`, `<h2>${escapeHtml(s.heading)}</h2>`);
    for (const p of s.paragraphs ?? []) parts.push(`<p>${escapeHtml(p)}</p>`);
    for (const t of s.tables ?? []) parts.push(renderTable(t));
    for (const f of s.figures ?? []) parts.push(`<figure>${inlineSvg(f.svg)}<figcaption>${escapeHtml(f.caption)}</figcaption></figure>`);
    parts.push('</section>');
  }
  parts.push(`<footer>Written by Sift (${escapeHtml(new Date().toISOString())}).</footer>`, '</body>', '</html>', '');
  return parts.join('\n');
}

/** Renders and writes the report atomically; returns the path. */
export async function writeHtmlReport(path: string, report: HtmlReport): Promise<string> {
  await writeFileAtomic(path, renderHtmlReport(report));
  return path;
}
