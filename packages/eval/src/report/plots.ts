import { SiftError } from '@sift/tensor-core';
import type { TopLevelSpec } from 'vega-lite';
import { summarize } from '../internal/summary.js';
import type { ProbeReport } from '../probes/evaluate.js';
import type { PerplexityEntry } from './table.js';

/**
 * Compiles a Vega-Lite spec and renders it headless to a standalone SVG string (vega's `renderer: 'none'` path needs
 * no canvas or DOM). vega and vega-lite are imported on first use, so code that never plots does not load them.
 */
export async function renderVegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Shared look: white background, readable fonts. */
const CONFIG = { background: 'white', font: 'sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11 } };

interface BarDatum {
  category: string;
  group: string;
  mean: number;
  lo: number;
  hi: number;
}

function groupedBars(data: BarDatum[], o: { title: string; xTitle: string; yTitle: string; groupTitle: string; zero: boolean }): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.title,
    config: CONFIG,
    data: { values: data },
    width: { step: 18 * Math.max(1, new Set(data.map((d) => d.group)).size) },
    height: 240,
    encoding: {
      x: { field: 'category', type: 'nominal', title: o.xTitle, sort: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'group', type: 'nominal', sort: null },
    },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'mean', type: 'quantitative', title: o.yTitle, scale: { zero: o.zero } },
          color: { field: 'group', type: 'nominal', title: o.groupTitle, sort: null },
          tooltip: [{ field: 'category' }, { field: 'group' }, { field: 'mean', format: '.4f' }],
        },
      },
      {
        // Error bars: mean ± std.
        mark: { type: 'rule', color: 'black' },
        encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
      },
    ],
  };
}

function checkFinite(where: string, label: string, v: number): void {
  if (!Number.isFinite(v)) throw new SiftError('E_NAN', `${where}: ${label} is ${v}; plots need finite values.`);
}

/** Options of `plotPerplexity`. */
export interface PerplexityPlotOptions {
  title: string;
  /** Start the y axis at 0 (bars usually should; perplexities far from 0 read better without). */
  zero: boolean;
}

/**
 * Perplexity vs sparsity pattern: grouped bars (one group per pattern, one bar per method) with ±std error bars
 * over runs. Returns a standalone SVG string.
 * @example
 * const svg = await plotPerplexity([{ pattern: '2:4', method: 'wanda', perplexity: [31.2, 30.8, 31.5] }]);
 */
export async function plotPerplexity(entries: readonly PerplexityEntry[], options: Partial<PerplexityPlotOptions> = {}): Promise<string> {
  if (entries.length === 0) throw new SiftError('E_EMPTY', 'plotPerplexity: no entries to plot.');
  const data = entries.map((e, i) => {
    const s = summarize(e.perplexity);
    checkFinite('plotPerplexity', `entry ${i} (${e.pattern}, ${e.method}) perplexity`, s.mean);
    return { category: e.pattern, group: e.method, mean: s.mean, lo: s.mean - s.std, hi: s.mean + s.std };
  });
  return renderVegaLiteSvg(groupedBars(data, {
    title: options.title ?? 'Perplexity by sparsity pattern', xTitle: 'pattern', yTitle: 'perplexity', groupTitle: 'method', zero: options.zero ?? true,
  }));
}

/** One curve of `plotLossCurves`. */
export interface LossSeries {
  name: string;
  /** x values (steps, epochs). */
  steps: readonly number[];
  /** y values, one per step. */
  values: readonly number[];
}

/** Options of `plotLossCurves`. */
export interface LossPlotOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  /** Log-scale y axis (values must be > 0). */
  logY: boolean;
}

/**
 * Loss curves: one line per series. Returns a standalone SVG string.
 * @example
 * const svg = await plotLossCurves([{ name: 'train', steps: [0, 1, 2], values: [2.3, 1.9, 1.7] }]);
 */
export async function plotLossCurves(series: readonly LossSeries[], options: Partial<LossPlotOptions> = {}): Promise<string> {
  if (series.length === 0) throw new SiftError('E_EMPTY', 'plotLossCurves: no series to plot.');
  const logY = options.logY ?? false;
  const data: { series: string; step: number; value: number }[] = [];
  for (const s of series) {
    if (s.steps.length !== s.values.length) {
      throw new SiftError('E_SHAPE', `plotLossCurves: series "${s.name}" has ${s.steps.length} steps but ${s.values.length} values.`);
    }
    for (let i = 0; i < s.steps.length; i++) {
      checkFinite('plotLossCurves', `series "${s.name}" value ${i}`, s.values[i]);
      checkFinite('plotLossCurves', `series "${s.name}" step ${i}`, s.steps[i]);
      if (logY && !(s.values[i] > 0)) throw new SiftError('E_DATA', `plotLossCurves: logY needs values > 0; series "${s.name}" value ${i} is ${s.values[i]}.`);
      data.push({ series: s.name, step: s.steps[i], value: s.values[i] });
    }
  }
  return renderVegaLiteSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title ?? 'Loss',
    config: CONFIG,
    data: { values: data },
    width: 420,
    height: 240,
    mark: { type: 'line', point: false },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: options.xTitle ?? 'step' },
      y: { field: 'value', type: 'quantitative', title: options.yTitle ?? 'loss', scale: logY ? { type: 'log' } : { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, sort: null },
    },
  });
}

/** Options of `plotProbeScores`. */
export interface ProbeScorePlotOptions {
  /** Metric to plot; default `accuracy` for classification reports, `mse` for regression. */
  metric: string;
  title: string;
  zero: boolean;
}

/**
 * Probe scores per method: one group of bars per report label (the embedding method, e.g. "CoLES", "MLEM"), one bar
 * per probe kind, ±std error bars over runs. Returns a standalone SVG string.
 * @example
 * const svg = await plotProbeScores([colesLogistic, colesGbdt, mlemLogistic, mlemGbdt], { metric: 'accuracy' });
 */
export async function plotProbeScores(reports: readonly ProbeReport[], options: Partial<ProbeScorePlotOptions> = {}): Promise<string> {
  if (reports.length === 0) throw new SiftError('E_EMPTY', 'plotProbeScores: no reports to plot.');
  const metric = options.metric ?? (reports[0].task === 'regression' ? 'mse' : 'accuracy');
  const data = reports.map((r) => {
    if (!Object.hasOwn(r.metrics, metric)) {
      throw new SiftError('E_CONFIG', `plotProbeScores: report "${r.label}" has no metric "${metric}"; it has ${Object.keys(r.metrics).join(', ')}.`);
    }
    const m = r.metrics[metric];
    checkFinite('plotProbeScores', `report "${r.label}" ${metric}`, m.mean);
    return { category: r.label, group: r.probe, mean: m.mean, lo: m.mean - m.std, hi: m.mean + m.std };
  });
  return renderVegaLiteSvg(groupedBars(data, {
    title: options.title ?? `Probe ${metric} by method`, xTitle: 'method', yTitle: metric, groupTitle: 'probe', zero: options.zero ?? true,
  }));
}
