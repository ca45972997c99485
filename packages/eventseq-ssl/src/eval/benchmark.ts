/**
 * The synthetic benchmark (issue 8): every method × probes × seeds on the embedded synthetic dataset, plus a random
 * encoder floor. `tools/eventseq/experiment.ts` runs it and writes the Markdown table and SVG plots.
 */
import {
  plotLossCurves, plotProbeScores, renderMarkdown, summarize, type ProbeReport, type Summary, type Table, type TableCell,
} from '@sift/eval';
import { generateSynthetic, type SyntheticOptions } from '../data/synthetic.js';
import type { SequenceStore } from '../data/store.js';
import { embed } from '../nn/embed.js';
import { createSequenceEncoder, type SequenceEncoder, type SequenceEncoderOptions } from '../nn/sequence-encoder.js';
import { trainColes, trainGenerative, trainHybrid, trainMlem, trainSupervised, type TrainOptions, type TrainProgress, type TrainResult } from '../methods/train.js';
import { embeddingGeometry, fewLabelSubset, nextEventProbe, probeLabel, robustnessProbe, splitEntities, type ProbeOptions } from './protocol.js';

/** Configuration of `runBenchmark`. */
export interface BenchmarkConfig {
  /** The synthetic dataset (its `seed` is fixed across model seeds). */
  data: Partial<SyntheticOptions>;
  /** Model seeds (3 in the issue). */
  seeds: number[];
  /** Held-out fraction of clients. */
  testFraction: number;
  /** Labels in the few-label regime. */
  fewLabels: number;
  /** Event drop rates of the robustness probe. */
  dropRates: number[];
  encoder: Partial<SequenceEncoderOptions>;
  /** Training options shared by all methods; `epochs` per method in `epochs`. */
  train: Partial<TrainOptions>;
  epochs: Record<'coles' | 'generative' | 'hybrid' | 'mlem' | 'supervised', number>;
  probe: Partial<ProbeOptions>;
}

/** The full configuration: sized for about 10 minutes on 2 cores. */
export const BENCHMARK_FULL: Readonly<BenchmarkConfig> = {
  data: { seed: 0, numClients: 500, minEvents: 20, maxEvents: 100, numCodes: 20 },
  seeds: [0, 1, 2], testFraction: 0.3, fewLabels: 100, dropRates: [0.1, 0.3, 0.5, 0.7],
  encoder: { hiddenSize: 32, categoricalDim: 8, numericDim: 4 },
  train: { batchSize: 32, maxLen: 100, slices: { count: 4, minLength: 10, maxLength: 50 }, lr: 3e-3 },
  epochs: { coles: 5, generative: 5, hybrid: 5, mlem: 5, supervised: 5 },
  probe: { seeds: [0] },
};

/** The quick configuration: tiny sizes, seconds. */
export const BENCHMARK_QUICK: Readonly<BenchmarkConfig> = {
  data: { seed: 0, numClients: 48, minEvents: 8, maxEvents: 20, numCodes: 6 },
  seeds: [0], testFraction: 0.3, fewLabels: 12, dropRates: [0.3],
  encoder: { hiddenSize: 8, categoricalDim: 4, numericDim: 2 },
  train: { batchSize: 16, maxLen: 20, slices: { count: 3, minLength: 4, maxLength: 10 } },
  epochs: { coles: 1, generative: 1, hybrid: 1, mlem: 1, supervised: 1 },
  probe: { seeds: [0], gbdt: { nEstimators: 10, numLeaves: 4, maxDepth: 2, minDataInLeaf: 3 } },
};

/** The methods of the benchmark, in table order. */
export const BENCHMARK_METHODS = [
  'random', 'CoLES', 'CoLES-InfoNCE', 'generative', 'naive hybrid', 'MLEM', 'supervised', 'supervised (few labels)',
] as const;

/** Per method, per metric: the summary over seeds. */
export type BenchmarkScores = Record<string, Record<string, Summary>>;

/** What `runBenchmark` returns. */
export interface BenchmarkReport {
  config: BenchmarkConfig;
  /** Method -> metric -> mean ± std over seeds. */
  scores: BenchmarkScores;
  /** Method -> drop rate -> composition logistic accuracy (mean ± std over seeds). */
  robustness: Record<string, Record<string, Summary>>;
  /** The main table and the robustness table as Markdown. */
  markdown: string;
  /** SVG plots by file name. */
  plots: Record<string, string>;
  seconds: number;
}

/** Progress of `runBenchmark`. */
export interface BenchmarkProgress {
  seed: number;
  method: string;
  stage: 'train' | 'probe';
  train?: TrainProgress;
}

const LABELS = ['composition', 'dynamics'] as const;

async function evaluateMethod(encoder: SequenceEncoder, store: SequenceStore, split: { train: number[]; test: number[] }, few: number[],
  c: BenchmarkConfig, seed: number): Promise<{ metrics: Record<string, number>; robust: Record<string, number> }> {
  const m: Record<string, number> = {};
  const x = await embed(encoder, store, { maxLen: c.train.maxLen ?? 1000 });
  for (const label of LABELS) {
    for (const r of probeLabel(x, store, label, split.train, split.test, c.probe)) m[`${label} ${r.probe}`] = r.metrics.accuracy.mean;
    for (const r of probeLabel(x, store, label, few, split.test, c.probe)) m[`${label} ${r.probe} few`] = r.metrics.accuracy.mean;
  }
  const next = await nextEventProbe(encoder, store, 'mcc', split.train, split.test, { ...c.probe, probes: ['gbdt'], maxLen: c.train.maxLen });
  m['next type acc'] = next.type.metrics.accuracy.mean;
  m['next time MSE'] = next.time.metrics.mse.mean;
  const g = await embeddingGeometry(x, seed);
  m.anisotropy = g.anisotropy;
  m['intrinsic dim'] = g.intrinsicDimension;
  const robust: Record<string, number> = {};
  const points = await robustnessProbe(encoder, store, 'composition', split.train, split.test, c.dropRates,
    { ...c.probe, probes: ['logistic'], seed, maxLen: c.train.maxLen });
  for (const p of points) robust[String(p.drop)] = p.reports[0].metrics.accuracy.mean;
  return { metrics: m, robust };
}

/**
 * Runs the benchmark: for each seed, trains every method on the training clients (the supervised baselines on the
 * `composition` label: all training labels, or `fewLabels` of them), embeds all clients and evaluates the probes.
 * @example
 * const report = await runBenchmark(BENCHMARK_QUICK);
 * console.log(report.markdown);
 */
export async function runBenchmark(config: Readonly<BenchmarkConfig>, onProgress?: (p: BenchmarkProgress) => void): Promise<BenchmarkReport> {
  const c: BenchmarkConfig = { ...config };
  const t0 = performance.now();
  const { store } = generateSynthetic(c.data);
  const split = splitEntities(store, c.testFraction, c.data.seed ?? 0);
  const perSeed: Record<string, Record<string, number>[]> = {};
  const robustRuns: Record<string, Record<string, number>[]> = {};
  const seconds: Record<string, number[]> = {};
  for (const seed of c.seeds) {
    const few = fewLabelSubset(split.train, c.fewLabels, seed);
    const base: Partial<TrainOptions> = { ...c.train, seed, entities: split.train, encoder: { ...c.encoder, seed } };
    const progress = (method: string) => (p: TrainProgress): void => onProgress?.({ seed, method, stage: 'train', train: p });
    const t = (method: string, f: () => TrainResult): TrainResult => {
      onProgress?.({ seed, method, stage: 'train' });
      const r = f();
      (seconds[method] ??= []).push(r.report.seconds);
      return r;
    };
    const coles = t('CoLES', () => trainColes(store, { ...base, epochs: c.epochs.coles, onProgress: progress('CoLES') }));
    const trained: [string, SequenceEncoder][] = [
      ['random', createSequenceEncoder(store, { ...c.encoder, seed })],
      ['CoLES', coles.encoder],
      ['CoLES-InfoNCE', t('CoLES-InfoNCE', () => trainColes(store, { ...base, colesLoss: 'infonce', epochs: c.epochs.coles, onProgress: progress('CoLES-InfoNCE') })).encoder],
      ['generative', t('generative', () => trainGenerative(store, { ...base, epochs: c.epochs.generative, onProgress: progress('generative') })).encoder],
      ['naive hybrid', t('naive hybrid', () => trainHybrid(store, { ...base, epochs: c.epochs.hybrid, onProgress: progress('naive hybrid') })).encoder],
      ['MLEM', t('MLEM', () => trainMlem(store, coles.encoder, { ...base, epochs: c.epochs.mlem, onProgress: progress('MLEM') })).encoder],
      ['supervised', t('supervised', () => trainSupervised(store, { ...base, label: 'composition', epochs: c.epochs.supervised, onProgress: progress('supervised') })).encoder],
      ['supervised (few labels)', t('supervised (few labels)', () => trainSupervised(store, {
        ...base, label: 'composition', entities: few, epochs: Math.max(1, Math.round(c.epochs.supervised * split.train.length / few.length / 4)),
        onProgress: progress('supervised (few labels)'),
      })).encoder],
    ];
    try {
      for (const [method, encoder] of trained) {
        onProgress?.({ seed, method, stage: 'probe' });
        const { metrics, robust } = await evaluateMethod(encoder, store, split, few, c, seed);
        (perSeed[method] ??= []).push(metrics);
        (robustRuns[method] ??= []).push(robust);
      }
    } finally {
      for (const [, e] of trained) e.dispose();
    }
  }
  const scores: BenchmarkScores = {};
  for (const [method, runs] of Object.entries(perSeed)) {
    scores[method] = Object.fromEntries(Object.keys(runs[0]).map((k) => [k, summarize(runs.map((r) => r[k]))]));
    scores[method]['train seconds'] = summarize(seconds[method] ?? [0]);
  }
  const robustness: Record<string, Record<string, Summary>> = {};
  for (const [method, runs] of Object.entries(robustRuns)) {
    robustness[method] = Object.fromEntries(Object.keys(runs[0]).map((k) => [k, summarize(runs.map((r) => r[k]))]));
  }
  const markdown = renderTables(c, scores, robustness);
  const plots = await renderPlots(scores, robustness);
  return { config: c, scores, robustness, markdown, plots, seconds: (performance.now() - t0) / 1000 };
}

const COLUMNS: [string, string, number][] = [
  ['composition logistic', 'comp. logistic', 3], ['composition gbdt', 'comp. GBDT', 3],
  ['dynamics logistic', 'dyn. logistic', 3], ['dynamics gbdt', 'dyn. GBDT', 3],
  ['composition logistic few', 'comp. logistic (few)', 3], ['dynamics logistic few', 'dyn. logistic (few)', 3],
  ['next type acc', 'next type acc', 3], ['next time MSE', 'next time MSE', 5],
  ['anisotropy', 'anisotropy', 3], ['intrinsic dim', 'intrinsic dim', 1], ['train seconds', 'train s', 1],
];

function cell(s: Summary | undefined): TableCell {
  return s === undefined ? null : { mean: s.mean, std: s.std };
}

function renderTables(c: BenchmarkConfig, scores: BenchmarkScores, robustness: Record<string, Record<string, Summary>>): string {
  const main: Table = {
    title: `Synthetic benchmark: accuracy of frozen-embedding probes (mean ± std over ${c.seeds.length} seeds)`,
    columns: [{ key: 'method', label: 'method' }, ...COLUMNS.map(([key, label, digits]) => ({ key, label, digits }))],
    rows: Object.keys(scores).map((method) => ({
      method, ...Object.fromEntries(COLUMNS.map(([key]) => [key, cell(scores[method][key])])),
    })),
  };
  const rates = c.dropRates.map(String);
  const robust: Table = {
    title: 'Robustness: composition logistic accuracy with a fraction of events dropped',
    columns: [{ key: 'method', label: 'method' }, { key: '0', label: '0%', digits: 3 }, ...rates.map((r) => ({ key: r, label: `${Math.round(Number(r) * 100)}%`, digits: 3 }))],
    rows: Object.keys(robustness).map((method) => ({
      method, 0: cell(scores[method]['composition logistic']), ...Object.fromEntries(rates.map((r) => [r, cell(robustness[method][r])])),
    })),
  };
  return `${renderMarkdown(main)}\n\n${renderMarkdown(robust)}\n`;
}

function asReport(label: string, probe: 'logistic' | 'gbdt', metric: Summary): ProbeReport {
  return {
    label, probe, task: 'classification', protocol: 'split', folds: 1, seeds: [], scaling: 'maxabs', numClasses: 0,
    metrics: { accuracy: metric }, fitSeconds: summarize([0]),
  };
}

async function renderPlots(scores: BenchmarkScores, robustness: Record<string, Record<string, Summary>>): Promise<Record<string, string>> {
  const plots: Record<string, string> = {};
  for (const label of LABELS) {
    const reports = Object.keys(scores).flatMap((m) => (['logistic', 'gbdt'] as const).map((p) => asReport(m, p, scores[m][`${label} ${p}`])));
    plots[`probe-${label}.svg`] = await plotProbeScores(reports, { metric: 'accuracy', title: `${label}: probe accuracy by method` });
  }
  const few = Object.keys(scores).map((m) => asReport(m, 'logistic', scores[m]['composition logistic few']));
  plots['few-labels.svg'] = await plotProbeScores(few, { metric: 'accuracy', title: 'composition with few labels (logistic)' });
  plots['robustness.svg'] = await plotLossCurves(Object.entries(robustness).map(([name, r]) => {
    const keys = ['0', ...Object.keys(r)];
    return { name, steps: keys.map(Number), values: keys.map((k) => (k === '0' ? scores[name]['composition logistic'] : r[k]).mean) };
  }), { title: 'Robustness to dropped events', xTitle: 'fraction of events dropped', yTitle: 'composition accuracy (logistic)' });
  return plots;
}
