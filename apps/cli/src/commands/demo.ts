import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendInfo } from '@sift/backend';
import {
  perplexity, plotLossCurves, plotPerplexity, plotProbeScores, type PerplexityEntry, type ProbeReport,
} from '@sift/eval';
import {
  createSequenceEncoder, embed, generateSynthetic, probeLabel, splitEntities, trainColes, trainMlem,
  type ProbeOptions, type SequenceEncoder, type SequenceEncoderOptions, type SyntheticOptions, type TrainOptions,
} from '@sift/eventseq-ssl';
import {
  encodeDocuments, loadBrownSplit, loadCheckpoint, loadTokenizer, PRESETS, sampleWindows, trainPreset, windowBatches, windowsToTensor,
  type PresetName, type TrainPresetReport,
} from '@sift/lm';
import { bitsPerWeight, MaskedLinear, packNM, pruneModel, type PruneReport } from '@sift/nm-sparsity';
import { findLinears, writeFileAtomic, type Module } from '@sift/tensor-core';
import { UsageError } from '../config.js';
import { parseIntOption, type CommandContext } from '../context.js';
import { writeHtmlReport, type HtmlReport, type ReportTable } from '../report/html.js';
import { plotBitsVsPerplexity } from '../report/plots.js';
import { formatDuration } from '../ui/progress.js';
import { formatTable } from '../ui/table.js';

/** One pruning configuration of the demo. */
export interface DemoPruneConfig {
  pattern: '2:4' | '8:16' | 'unstructured';
  method: 'wanda' | 'sparsegpt';
}

/** What the demo runs: plain, serializable; `DEMO_FULL` and `DEMO_QUICK` are the two presets. */
export interface DemoSettings {
  /** The `@sift/lm` preset trained on Brown. */
  preset: PresetName;
  /** Training steps (the preset's batch and schedule otherwise). */
  trainSteps: number;
  /** Perplexity: this many non-overlapping windows of the model context from the start of the Brown test split. */
  evalWindows: number;
  /** Calibration: windows of the model context sampled from the Brown train split (seeded), in batches of `batchSize`. */
  calibration: { windows: number; batchSize: number };
  /** Sparsity: every configuration at 50% (N:M implies it). */
  prune: DemoPruneConfig[];
  /** Event sequences: the synthetic data, the encoder, CoLES and MLEM epochs, the probes. */
  eventseq: {
    data: Partial<SyntheticOptions>;
    testFraction: number;
    encoder: Partial<SequenceEncoderOptions>;
    train: Partial<TrainOptions>;
    colesEpochs: number;
    mlemEpochs: number;
    probe: Partial<ProbeOptions>;
  };
}

const PRUNE_ALL: DemoPruneConfig[] = (['2:4', '8:16', 'unstructured'] as const).flatMap((pattern) =>
  (['wanda', 'sparsegpt'] as const).map((method) => ({ pattern, method })));

/**
 * The full demo, sized for under 20 minutes on 2 cores: `small` trained for 150 of its recipe's 400 steps (about 7
 * minutes on 2 idle cores, at 2.6 s per step), perplexity on 128 windows of 128 tokens (16k tokens, a quarter of the
 * test split), 32 calibration windows, and the event-sequence benchmark's data and encoder with 5 epochs of CoLES and
 * of MLEM. Measured on 2 cores shared with other jobs (load average 5-6): 21.4 minutes in all, 14.0 of them training
 * (5.6 s per step, twice the idle rate) and 855 CPU-seconds for the process, so about 10 minutes on 2 idle cores.
 */
export const DEMO_FULL: Readonly<DemoSettings> = {
  preset: 'small', trainSteps: 150, evalWindows: 128, calibration: { windows: 32, batchSize: 8 }, prune: PRUNE_ALL,
  eventseq: {
    data: { seed: 0, numClients: 500, minEvents: 20, maxEvents: 100, numCodes: 20 }, testFraction: 0.3,
    encoder: { hiddenSize: 32, categoricalDim: 8, numericDim: 4 },
    train: { batchSize: 32, maxLen: 100, slices: { count: 4, minLength: 10, maxLength: 50 }, lr: 3e-3 },
    colesEpochs: 5, mlemEpochs: 5, probe: { seeds: [0] },
  },
};

/** The quick demo (`--quick`, under 2 minutes): `tiny` for 60 steps, small slices, tiny event data. */
export const DEMO_QUICK: Readonly<DemoSettings> = {
  preset: 'tiny', trainSteps: 60, evalWindows: 32, calibration: { windows: 16, batchSize: 8 }, prune: PRUNE_ALL,
  eventseq: {
    data: { seed: 0, numClients: 120, minEvents: 10, maxEvents: 30, numCodes: 8 }, testFraction: 0.3,
    encoder: { hiddenSize: 16, categoricalDim: 4, numericDim: 2 },
    train: { batchSize: 16, maxLen: 30, slices: { count: 3, minLength: 5, maxLength: 15 }, lr: 3e-3 },
    colesEpochs: 2, mlemEpochs: 2, probe: { seeds: [0], gbdt: { nEstimators: 20, numLeaves: 4, maxDepth: 2, minDataInLeaf: 5 } },
  },
};

/** Options of `sift demo`. */
export interface DemoOptions {
  quick?: boolean;
  /** Training steps instead of the settings' (a longer run trains a better model; cached separately). */
  steps?: number;
  cache?: string;
  out?: string;
}

/** One row of the language-model table. */
export interface DemoLmRow {
  /** `dense`, `2:4`, `8:16` or `unstructured`. */
  pattern: string;
  method: string;
  perplexity: number;
  bitsPerByte: number;
  /** Fraction of zeros in the pruned linears (0 for dense). */
  sparsity: number;
  /** Bits per weight of the pruned linears at fp16 values: N:M code bits (or a 1-bit mask for unstructured) + values. */
  bitsPerWeight: number;
  /** The mask metadata part of `bitsPerWeight` (0.75 for 2:4, 0.875 for 8:16, 1 for an unstructured bitmap). */
  metadataBits: number;
  /** Bits per parameter of the whole model (embedding and norms dense at fp16). */
  modelBitsPerWeight: number;
  /** Mean relative reconstruction error of the pruned linears on the calibration data, or null. */
  reconstructionError: number | null;
  seconds: number;
}

/** One row of the event-sequence table. */
export interface DemoProbeRow {
  method: string;
  target: string;
  probe: string;
  accuracy: number;
  rocAuc: number;
}

/** What `sift demo` prints with `--json` and writes to `summary.json`. */
export interface DemoSummary {
  quick: boolean;
  settings: DemoSettings;
  machine: {
    cpu: string; cores: number; memoryGiB: number; node: string; backend: string; device: string; threads: number;
    /** The 1-minute load average when the demo started and when it ended (other work on the machine slows it). */
    load: { start: number; end: number };
  };
  model: { preset: PresetName; steps: number; reused: boolean; dir: string; parameters: number; valPerplexity: number | null; trainSeconds: number };
  lm: DemoLmRow[];
  eventseq: { clients: number; events: number; rows: DemoProbeRow[] };
  /** Wall time of each stage, in seconds, and the total. */
  stages: { name: string; seconds: number }[];
  seconds: number;
  files: { report: string; summary: string };
}

/** Where the demo caches its trained model: `--cache`, else `$XDG_CACHE_HOME/sift`, else `.sift-cache` under the cwd. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const xdg = env.XDG_CACHE_HOME;
  return xdg !== undefined && xdg !== '' ? join(xdg, 'sift') : join(cwd, '.sift-cache');
}

/** The report folder when `--out` is not given. */
export const DEFAULT_OUT: string = join('out', 'demo');

interface Timer {
  stage<T>(name: string, run: () => Promise<T>): Promise<T>;
  stages: { name: string; seconds: number }[];
}

function timer(ctx: CommandContext): Timer {
  const stages: { name: string; seconds: number }[] = [];
  return {
    stages,
    async stage(name, run) {
      const t0 = performance.now();
      const out = await run();
      const seconds = (performance.now() - t0) / 1000;
      stages.push({ name, seconds });
      ctx.info(`${name}: ${formatDuration(seconds)}`);
      return out;
    },
  };
}

/** Bits per weight of the pruned linears (exact accounting of `@sift/nm-sparsity`'s packed format for N:M). */
async function storageOf(model: Module, pattern: string): Promise<{ bits: number; metadata: number; linearWeights: number }> {
  let bits = 0;
  let metadata = 0;
  let size = 0;
  for (const [, layer] of findLinears(model)) {
    if (!(layer instanceof MaskedLinear)) continue;
    const [w, m] = await Promise.all([layer.weight.data(), layer.mask.data()]);
    const n = w.length;
    const mask = Uint8Array.from(m as Float32Array, (v) => (v !== 0 ? 1 : 0));
    if (pattern === 'unstructured') {
      // A 1-bit-per-weight mask plus the kept values.
      let kept = 0;
      for (const v of mask) kept += v;
      metadata += n;
      bits += n + 16 * kept;
    } else {
      const weight = Float32Array.from(w as Float32Array, (v, i) => v * mask[i]);
      const b = bitsPerWeight(packNM({ weight, shape: [layer.outFeatures, layer.inFeatures], pattern, nmMask: mask }));
      metadata += b.metadata * n;
      bits += b.total * n;
    }
    size += n;
  }
  return { bits: bits / size, metadata: metadata / size, linearWeights: size };
}

function parameterCount(model: Module): number {
  return model.namedParameters().reduce((s, [, v]) => s + v.size, 0);
}

function fmt(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}

/** Runs `sift demo`. */
export async function runDemo(o: DemoOptions, ctx: CommandContext): Promise<DemoSummary> {
  const t0 = performance.now();
  const loadStart = loadavg()[0];
  const quick = o.quick === true;
  const settings: DemoSettings = structuredClone(quick ? DEMO_QUICK : DEMO_FULL);
  if (o.steps !== undefined) {
    if (o.steps < 1) throw new UsageError(`--steps must be at least 1, got ${String(o.steps)}`);
    settings.trainSteps = o.steps;
  }
  const seed = ctx.globals().seed;
  const cache = resolve(o.cache ?? defaultCacheDir());
  const out = resolve(o.out ?? DEFAULT_OUT);
  const clock = timer(ctx);
  const info: BackendInfo = await ctx.startBackend();
  ctx.info(`sift demo${quick ? ' --quick' : ''}: cache ${cache}, report in ${out}`);

  // 1. The language model: trained once, then reused from the cache (a killed run resumes its training).
  const modelDir = join(cache, `lm-${settings.preset}-${String(settings.trainSteps)}steps-seed${String(seed)}`);
  const cached = ['config.json', 'model.safetensors', 'tokenizer.json', 'report.json'].every((f) => existsSync(join(modelDir, f)));
  let trained: TrainPresetReport;
  if (cached) {
    trained = JSON.parse(readFileSync(join(modelDir, 'report.json'), 'utf8')) as TrainPresetReport;
    clock.stages.push({ name: `train ${settings.preset}: reused from the cache`, seconds: 0 });
    ctx.info(`reused the trained ${settings.preset} model from ${modelDir}`);
  } else {
    trained = await clock.stage(`train ${settings.preset} (${String(settings.trainSteps)} steps)`, async () => {
      const progress = ctx.progress();
      try {
        return await trainPreset(settings.preset, { outDir: modelDir, seed, train: { steps: settings.trainSteps } }, {
          onProgress: (p) => {
            progress.update({
              stage: `train ${settings.preset}`, done: p.step, total: p.totalSteps,
              info: { loss: p.loss, ...(p.valLoss === undefined ? {} : { 'val ppl': Math.exp(p.valLoss) }), 'tok/s': p.tokensPerSecond },
            });
          },
        });
      } finally {
        progress.finish();
      }
    });
  }

  // 2. Data: a slice of the test split for perplexity, calibration windows from the train split.
  const data = await clock.stage('tokenize Brown (test slice, calibration windows)', async () => {
    const tokenizer = await loadTokenizer(join(modelDir, 'tokenizer.json'));
    const test = await loadBrownSplit({ split: 'test' });
    const testIds = encodeDocuments(tokenizer, test);
    const testBytes = test.reduce((s, d) => s + Buffer.byteLength(d.text, 'utf8'), 0);
    const trainIds = encodeDocuments(tokenizer, await loadBrownSplit({ split: 'train' }));
    const seqlen = Number(PRESETS[settings.preset].model.max_position_embeddings);
    const evalIds = testIds.subarray(0, Math.min(testIds.length, settings.evalWindows * seqlen));
    const calib = sampleWindows(trainIds, { count: settings.calibration.windows, length: seqlen, seed });
    return { evalIds, bytesPerToken: testBytes / testIds.length, calib, seqlen };
  });

  const evaluate = async (model: Parameters<typeof perplexity>[0], label: string): Promise<{ perplexity: number; bitsPerByte: number }> => {
    const progress = ctx.progress();
    try {
      const r = await perplexity(model, data.evalIds, {
        seqlen: data.seqlen, batchSize: 8,
        onProgress: (p) => { progress.update({ stage: `perplexity ${label}`, done: p.done, total: p.total }); },
      });
      return { perplexity: r.perplexity, bitsPerByte: r.totalNll / Math.LN2 / (r.tokens * data.bytesPerToken) };
    } finally {
      progress.finish();
    }
  };

  // 3. Dense baseline, then every pruning configuration on a fresh copy of the dense model.
  const lm: DemoLmRow[] = [];
  let parameters = 0;
  await clock.stage('dense baseline perplexity', async () => {
    const t = performance.now();
    const { model } = await loadCheckpoint(modelDir);
    try {
      parameters = parameterCount(model);
      const e = await evaluate(model, 'dense');
      lm.push({
        pattern: 'dense', method: 'dense', ...e, sparsity: 0, bitsPerWeight: 16, metadataBits: 0, modelBitsPerWeight: 16,
        reconstructionError: null, seconds: (performance.now() - t) / 1000,
      });
    } finally {
      model.dispose();
    }
  });
  const batches = Array.from(windowBatches(data.calib, settings.calibration.batchSize), (w) => windowsToTensor(w));
  try {
    for (const c of settings.prune) {
      const name = `${c.pattern} ${c.method}`;
      await clock.stage(`prune ${name} + perplexity`, async () => {
        const t = performance.now();
        const { model } = await loadCheckpoint(modelDir);
        try {
          const progress = ctx.progress();
          let report: PruneReport;
          try {
            report = await pruneModel(model, batches, { method: c.method, pattern: c.pattern, sparsity: 0.5 }, {
              onProgress: (p) => { progress.update({ stage: `prune ${name}`, done: p.block + (p.phase === 'propagate' ? 1 : 0), total: p.blocks, info: { layers: p.layersDone } }); },
            });
          } finally {
            progress.finish();
          }
          const storage = await storageOf(model, c.pattern);
          const e = await evaluate(model, name);
          const errors = report.layers.map((l) => l.reconstructionError).filter((v): v is number => v !== null);
          const other = parameters - storage.linearWeights;
          lm.push({
            pattern: c.pattern, method: c.method, ...e, sparsity: report.sparsity, bitsPerWeight: storage.bits,
            metadataBits: storage.metadata, modelBitsPerWeight: (storage.bits * storage.linearWeights + 16 * other) / parameters,
            reconstructionError: errors.length === 0 ? null : errors.reduce((a, b) => a + b, 0) / errors.length,
            seconds: (performance.now() - t) / 1000,
          });
        } finally {
          model.dispose();
        }
      });
    }
  } finally {
    tf.dispose(batches);
  }

  // 4. Event sequences: CoLES, then MLEM aligned with it, probed on the synthetic labels (random encoder as the floor).
  const es = settings.eventseq;
  const { store } = generateSynthetic(es.data);
  const split = splitEntities(store, es.testFraction, seed);
  const probeRows: DemoProbeRow[] = [];
  const probeReports: ProbeReport[] = [];
  const probeAll = async (method: string, encoder: SequenceEncoder): Promise<void> => {
    const x = await embed(encoder, store, { maxLen: es.train.maxLen ?? 1000 });
    for (const target of store.labelNames) {
      for (const r of probeLabel(x, store, target, split.train, split.test, es.probe)) {
        probeRows.push({ method, target, probe: r.probe, accuracy: r.metrics.accuracy.mean, rocAuc: r.metrics.rocAuc.mean });
        if (target === store.labelNames[0]) probeReports.push({ ...r, label: method });
      }
    }
  };
  const trainOpts = (epochs: number): Partial<TrainOptions> => ({ ...es.train, seed, epochs, entities: split.train, encoder: { ...es.encoder, seed } });
  const trainProgress = ctx.progress();
  const onProgress = (p: { method: string; epoch: number; epochs: number; step: number; stepsPerEpoch: number; loss: number }): void => {
    trainProgress.update({ stage: `train ${p.method}`, done: (p.epoch - 1) * p.stepsPerEpoch + p.step, total: p.epochs * p.stepsPerEpoch, info: { loss: p.loss } });
  };
  await clock.stage('eventseq: random encoder floor', async () => {
    const random = createSequenceEncoder(store, { ...es.encoder, seed });
    try {
      await probeAll('random encoder', random);
    } finally {
      random.dispose();
    }
  });
  const coles = await clock.stage(`eventseq: CoLES (${String(es.colesEpochs)} epochs) + probes`, async () => {
    const r = trainColes(store, { ...trainOpts(es.colesEpochs), onProgress });
    trainProgress.finish();
    await probeAll('CoLES', r.encoder);
    return r.encoder;
  });
  try {
    await clock.stage(`eventseq: MLEM (${String(es.mlemEpochs)} epochs) + probes`, async () => {
      const r = trainMlem(store, coles, { ...trainOpts(es.mlemEpochs), onProgress });
      trainProgress.finish();
      try {
        await probeAll('MLEM', r.encoder);
      } finally {
        r.encoder.dispose();
      }
    });
  } finally {
    coles.dispose();
  }

  // 5. The report.
  const cpuList = cpus();
  const summary: DemoSummary = {
    quick, settings,
    machine: {
      cpu: cpuList[0]?.model ?? 'unknown', cores: cpuList.length, memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version, backend: info.name, device: info.device, threads: info.threads,
      load: { start: loadStart, end: loadavg()[0] },
    },
    model: {
      preset: settings.preset, steps: trained.training.steps, reused: cached, dir: modelDir, parameters,
      valPerplexity: trained.training.valPerplexity, trainSeconds: trained.training.seconds,
    },
    lm, eventseq: { clients: store.numEntities, events: store.numEvents, rows: probeRows },
    stages: clock.stages, seconds: 0,
    files: { report: join(out, 'report.html'), summary: join(out, 'summary.json') },
  };
  await clock.stage('write the report', async () => {
    await mkdir(out, { recursive: true });
    summary.seconds = (performance.now() - t0) / 1000;
    await writeHtmlReport(summary.files.report, await buildReport(summary, trained, probeReports));
  });
  summary.seconds = (performance.now() - t0) / 1000;
  summary.stages = clock.stages;
  await writeFileAtomic(summary.files.summary, `${JSON.stringify(summary, null, 1)}\n`);
  return summary;
}

/** The language-model rows as a table (terminal and report). */
export function lmTable(s: DemoSummary): ReportTable {
  return {
    caption: `Perplexity on ${String(s.settings.evalWindows)} windows of the Brown test split (${s.settings.preset}, 50% sparsity)`,
    header: ['pattern', 'method', 'perplexity', 'bits/byte', 'sparsity', 'bits/weight', 'mask bits/weight', 'model bits/param', 'recon. error', 'time'],
    rows: s.lm.map((r) => [
      r.pattern, r.method, fmt(r.perplexity), fmt(r.bitsPerByte, 3), `${(r.sparsity * 100).toFixed(1)}%`, fmt(r.bitsPerWeight, 3),
      fmt(r.metadataBits, 3), fmt(r.modelBitsPerWeight, 2), r.reconstructionError === null ? '-' : fmt(r.reconstructionError, 4), `${r.seconds.toFixed(1)} s`,
    ]),
  };
}

/** The probe rows as a table. */
export function probeTableOf(s: DemoSummary): ReportTable {
  return {
    caption: `Frozen-embedding probes on held-out synthetic clients (${String(s.eventseq.clients)} clients, ${String(s.eventseq.events)} events; 4 classes, chance 0.25)`,
    header: ['method', 'target', 'probe', 'accuracy', 'ROC-AUC'],
    rows: s.eventseq.rows.map((r) => [r.method, r.target, r.probe, fmt(r.accuracy, 3), fmt(r.rocAuc, 3)]),
  };
}

async function buildReport(s: DemoSummary, trained: TrainPresetReport, probeReports: ProbeReport[]): Promise<HtmlReport> {
  const entries: PerplexityEntry[] = s.lm.map((r) => ({ pattern: r.pattern, method: r.method, perplexity: [r.perplexity] }));
  const dense = s.lm.find((r) => r.pattern === 'dense');
  const history = trained.training.history;
  const lossSeries = [{ name: 'training loss', steps: history.map((h) => h.step), values: history.map((h) => h.loss) }];
  const val = history.filter((h) => h.valLoss !== undefined);
  if (val.length > 0) lossSeries.push({ name: 'validation loss', steps: val.map((h) => h.step), values: val.map((h) => h.valLoss ?? Number.NaN) });
  const figures = [
    { svg: await plotPerplexity(entries, { title: 'Perplexity per configuration', zero: false }), caption: 'Perplexity of the dense model and of each 50%-sparse configuration (lower is better).' },
    {
      svg: await plotBitsVsPerplexity(s.lm.map((r) => ({ label: r.pattern === 'dense' ? 'dense' : `${r.pattern} ${r.method}`, group: r.method, bitsPerWeight: r.bitsPerWeight, perplexity: r.perplexity }))),
      caption: `Storage against quality: bits per weight of the pruned linears (fp16 values + mask metadata) against perplexity; the dense model stores 16 bits per weight${dense === undefined ? '' : ` (perplexity ${fmt(dense.perplexity)})`}.`,
    },
  ];
  if (history.length > 1) figures.push({ svg: await plotLossCurves(lossSeries, { title: `Training ${s.model.preset}`, xTitle: 'step', yTitle: 'loss (nats/token)' }), caption: 'Training and validation loss of the dense model.' });
  const probeFigure = { svg: await plotProbeScores(probeReports, { metric: 'accuracy', title: 'Probe accuracy per method (composition)' }), caption: 'Test accuracy of logistic and GBDT probes on the frozen embeddings, label `composition`.' };
  const t = s.settings;
  return {
    title: `Sift demo${s.quick ? ' (quick)' : ''}`,
    subtitle: `N:M sparsity on a Llama-style model trained on the Brown corpus, and event-sequence self-supervised learning (CoLES, MLEM) on synthetic data. Total ${formatDuration(s.seconds)}.`,
    facts: [
      ['machine', `${s.machine.cpu}, ${String(s.machine.cores)} cores, ${String(s.machine.memoryGiB)} GiB, Node ${s.machine.node}`],
      ['backend', `${s.machine.backend} on ${s.machine.device}`],
      ['load average', `${s.machine.load.start.toFixed(2)} at the start, ${s.machine.load.end.toFixed(2)} at the end (1 minute)`],
      ['model', `${s.model.preset}, ${(s.model.parameters / 1e6).toFixed(2)} M parameters, ${String(s.model.steps)} training steps` +
        `${s.model.reused ? ' (reused from the cache)' : ''}, validation perplexity ${s.model.valPerplexity === null ? '-' : fmt(s.model.valPerplexity)}; ${s.model.dir}`],
      ['settings', `perplexity on ${String(t.evalWindows)} windows; ${String(t.calibration.windows)} calibration windows; CoLES ${String(t.eventseq.colesEpochs)} and MLEM ${String(t.eventseq.mlemEpochs)} epochs, GRU ${String(t.eventseq.encoder.hiddenSize ?? 64)}`],
      ['time', `${formatDuration(s.seconds)} in all`],
    ],
    sections: [
      {
        heading: 'Language model: N:M and unstructured sparsity',
        paragraphs: [
          ...highlights(s).slice(0, 1),
          'Each configuration prunes every linear of the attention and MLP blocks (q, k, v, o, gate, up, down) of a fresh copy of the dense model to 50%, ' +
          'block by block on the calibration windows (Wanda scores |W|·‖X‖; SparseGPT updates the kept weights), then measures perplexity in non-overlapping windows. ' +
          'Bits per weight count fp16 values plus the mask: the combinatorial code of each N:M group (3 bits per 4 weights at 2:4, 14 per 16 at 8:16) or a 1-bit mask for unstructured sparsity.',
        ],
        tables: [lmTable(s)],
        figures,
      },
      {
        heading: 'Event sequences: CoLES and MLEM',
        paragraphs: [
          'CoLES learns from slices of each client (contrastive); MLEM trains a generative encoder-decoder aligned with the frozen CoLES encoder (SigLIP). ' +
          'The labels are known latents of the generator: `composition` (which codes a client uses) and `dynamics` (how events follow each other). A random, untrained encoder is the floor.',
        ],
        tables: [probeTableOf(s)],
        figures: [probeFigure],
      },
      {
        heading: 'Stages',
        tables: [{ header: ['stage', 'time'], rows: [...s.stages.map((st) => [st.name, formatDuration(st.seconds)]), ['total', formatDuration(s.seconds)]] }],
      },
    ],
  };
}

/** One-line findings: the dense baseline, the best sparse configuration, and the probes' best method. */
export function highlights(s: DemoSummary): string[] {
  const out: string[] = [];
  const dense = s.lm.find((r) => r.pattern === 'dense');
  const sparse = s.lm.filter((r) => r.pattern !== 'dense').sort((a, b) => a.perplexity - b.perplexity);
  if (dense !== undefined && sparse.length > 0) {
    const best = sparse[0];
    const worst = sparse[sparse.length - 1];
    const pct = (r: DemoLmRow): string => `${r.perplexity >= dense.perplexity ? '+' : ''}${(100 * (r.perplexity / dense.perplexity - 1)).toFixed(1)}%`;
    out.push(`dense perplexity ${fmt(dense.perplexity)}; best at 50% sparsity: ${best.pattern} ${best.method} ${fmt(best.perplexity)} (${pct(best)}, ` +
      `${fmt(best.bitsPerWeight, 3)} bits/weight); worst: ${worst.pattern} ${worst.method} ${fmt(worst.perplexity)} (${pct(worst)})`);
  }
  const target = s.eventseq.rows[0]?.target;
  const rows = s.eventseq.rows.filter((r) => r.target === target && r.probe === 'logistic');
  if (rows.length > 0) out.push(`${rows[0].target} (logistic probe): ${rows.map((r) => `${r.method} ${fmt(r.accuracy, 3)}`).join(', ')}`);
  return out;
}

/** The terminal summary. */
export function formatDemo(s: DemoSummary): string {
  const lmT = lmTable(s);
  const pT = probeTableOf(s);
  const lines = [
    `${lmT.caption ?? ''}:`, formatTable(lmT.header, lmT.rows), '',
    `${pT.caption ?? ''}:`, formatTable(pT.header, pT.rows), '',
    'Time per stage:', formatTable(['stage', 'time'], [...s.stages.map((st) => [st.name, formatDuration(st.seconds)])]), '',
    ...highlights(s), '',
    `model ${s.model.reused ? 'reused from' : 'trained and cached in'} ${s.model.dir}`,
    `wrote ${s.files.report} and ${s.files.summary}`,
    `sift demo${s.quick ? ' --quick' : ''} finished in ${formatDuration(s.seconds)} (${s.seconds.toFixed(1)} s) on ${s.machine.backend}, ${String(s.machine.threads)} thread${s.machine.threads === 1 ? '' : 's'}, ` +
      `${String(s.machine.cores)} cores (load average ${s.machine.load.start.toFixed(1)} -> ${s.machine.load.end.toFixed(1)})`,
  ];
  return lines.join('\n');
}

/** Registers `sift demo`. */
export function registerDemo(program: Command, ctx: CommandContext): void {
  program.command('demo')
    .description('The main job: train (or reuse) the small Brown model, prune it at 2:4, 8:16 and unstructured with Wanda and SparseGPT, ' +
      'measure perplexity and bits per weight, run CoLES and MLEM on synthetic event data with probes, and write one HTML report.')
    .option('--quick', 'the tiny preset and tiny event data: under 2 minutes', false)
    .option('--steps <n>', `training steps of the language model (default ${String(DEMO_FULL.trainSteps)}, --quick ${String(DEMO_QUICK.trainSteps)}); each count is cached on its own`, parseIntOption('--steps'))
    .option('--cache <dir>', 'where the trained model is cached and reused (default: $XDG_CACHE_HOME/sift, else .sift-cache in the current folder)')
    .option('--out <dir>', `report folder: report.html and summary.json, replaced on every run (default ${DEFAULT_OUT})`)
    .addHelpText('after', [
      '', 'The full run takes under 20 minutes on 2 cores the first time (about half of it training `small`), less once the model is cached.',
      '', 'Examples:', '  $ sift demo', '  $ sift demo --quick --out /tmp/demo', '  $ sift --json demo --cache ~/.cache/sift',
    ].join('\n'))
    .action(async (opts: DemoOptions) => {
      const s = await runDemo(opts, ctx);
      ctx.io.out(ctx.globals().json ? JSON.stringify(s, null, 2) : formatDemo(s));
    });
}
