import { SiftError } from '@sift/tensor-core';
import { summarize } from '../internal/summary.js';
import type { MultipleChoiceReport } from '../lm/multiple-choice.js';
import type { ProbeReport } from '../probes/evaluate.js';

/** A cell: text, a number, a mean ± spread (shown as "m ± s"), or empty (null, shown as "—"). */
export type TableCell = string | number | null | { mean: number; std: number };

/** A column: `key` into each row, its header, and the decimals numbers get. */
export interface TableColumn {
  key: string;
  label: string;
  /** Decimals for numbers and mean ± std cells; default 4. */
  digits?: number;
}

/** A results table, rendered by `renderMarkdown` and `renderJson`. */
export interface Table {
  title?: string;
  columns: TableColumn[];
  rows: Record<string, TableCell>[];
}

function fmtNumber(v: number, digits: number, keepIntegers = true): string {
  if (Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  return keepIntegers && Number.isInteger(v) && Math.abs(v) < 1e15 ? String(v) : v.toFixed(digits);
}

function fmtCell(c: TableCell | undefined, digits: number): string {
  if (c === null || c === undefined) return '—';
  if (typeof c === 'string') return c.replace(/\|/gu, '\\|').replace(/\r?\n/gu, ' ');
  if (typeof c === 'number') return fmtNumber(c, digits);
  return `${fmtNumber(c.mean, digits, false)} ± ${fmtNumber(c.std, digits, false)}`;
}

/**
 * A GitHub-flavoured Markdown table (title as a bold line above it); numbers right-aligned.
 * @example
 * renderMarkdown({ columns: [{ key: 'm', label: 'method' }, { key: 'ppl', label: 'ppl', digits: 2 }],
 *   rows: [{ m: 'dense', ppl: 21.5 }] });
 */
export function renderMarkdown(table: Table): string {
  if (table.columns.length === 0) throw new SiftError('E_CONFIG', 'renderMarkdown: the table has no columns.');
  const cells = table.rows.map((r) => table.columns.map((c) => fmtCell(r[c.key], c.digits ?? 4)));
  const numeric = table.columns.map((c) => table.rows.length > 0 && table.rows.every((r) => {
    return !Object.hasOwn(r, c.key) || typeof r[c.key] !== 'string';
  }));
  const header = `| ${table.columns.map((c) => c.label.replace(/\|/gu, '\\|')).join(' | ')} |`;
  const rule = `|${numeric.map((isNum) => (isNum ? '---:' : '---')).join('|')}|`;
  const body = cells.map((r) => `| ${r.join(' | ')} |`);
  return [...(table.title === undefined ? [] : [`**${table.title}**`, '']), header, rule, ...body].join('\n') + '\n';
}

/** The table as pretty JSON: `{ title, columns, rows }` with mean ± std cells as `{ mean, std }`; NaN becomes null. */
export function renderJson(table: Table): string {
  return JSON.stringify(table, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

/** One perplexity measurement set: a sparsity pattern (or "dense"), a method, and one value per seed/run. */
export interface PerplexityEntry {
  /** E.g. "2:4", "8:16", "unstructured", "dense". */
  pattern: string;
  /** E.g. "wanda", "sparsegpt", "magnitude". */
  method: string;
  /** Perplexity per run (calibration seed). */
  perplexity: readonly number[];
}

/** Perplexity per pattern and method, mean ± std over runs. */
export function perplexityTable(entries: readonly PerplexityEntry[], title?: string): Table {
  return {
    ...(title === undefined ? {} : { title }),
    columns: [{ key: 'pattern', label: 'pattern' }, { key: 'method', label: 'method' }, { key: 'ppl', label: 'perplexity', digits: 2 }, { key: 'runs', label: 'runs' }],
    rows: entries.map((e) => {
      const s = summarize(e.perplexity);
      return { pattern: e.pattern, method: e.method, ppl: { mean: s.mean, std: s.std }, runs: e.perplexity.length };
    }),
  };
}

/** Multiple-choice accuracy per task, ± lm-eval's standard error. */
export function multipleChoiceTable(report: MultipleChoiceReport, title?: string): Table {
  return {
    ...(title === undefined ? {} : { title }),
    columns: [{ key: 'task', label: 'task' }, { key: 'n', label: 'n' }, { key: 'acc', label: 'acc' }, { key: 'accNorm', label: 'acc_norm' }],
    rows: report.tasks.map((t) => ({
      task: t.name, n: t.n, acc: { mean: t.acc, std: t.accStderr }, accNorm: { mean: t.accNorm, std: t.accNormStderr },
    })),
  };
}

/**
 * Probe scores, one row per report, one column per metric (mean ± std over runs). `metrics` defaults to every metric
 * the first report has.
 */
export function probeTable(reports: readonly ProbeReport[], metrics?: readonly string[], title?: string): Table {
  const keys = metrics ?? (reports.length > 0 ? Object.keys(reports[0].metrics) : []);
  return {
    ...(title === undefined ? {} : { title }),
    columns: [
      { key: 'label', label: 'method' }, { key: 'probe', label: 'probe' }, { key: 'protocol', label: 'protocol' },
      ...keys.map((k) => ({ key: `m:${k}`, label: k })),
    ],
    rows: reports.map((r) => {
      const row: Record<string, TableCell> = {
        label: r.label, probe: r.probe, protocol: r.protocol === 'kfold' ? `${r.folds}-fold × ${r.seeds.length}` : `split × ${r.seeds.length}`,
      };
      for (const k of keys) {
        row[`m:${k}`] = Object.hasOwn(r.metrics, k) ? { mean: r.metrics[k].mean, std: r.metrics[k].std } : null;
      }
      return row;
    }),
  };
}
