import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { saveCheckpoint } from '@sift/lm';
import {
  QUANTIZE_MODEL_DEFAULTS, QUANT_BITS, collectLinearStats, quantizeModel, quantizedSidecarPath, randomColumns, saveQuantized,
  type QuantBits, type QuantizeModelOptions, type QuantizedSidecar,
} from '@sift/gift-sw';
import { Rng, findLinears, type ActivationStats } from '@sift/tensor-core';
import { UsageError } from '../config.js';
import { parseIntOption, type CommandContext } from '../context.js';
import { formatTable } from '../ui/table.js';
import {
  addCalibrationOptions, asUsage, calibrationBatches, calibrationSeqlen, checkCalibration, checkModelDir, checkNumber, copyTokenizer, ensureDir, fmt, listOption, loadLm, oneOf,
  parseNumberOption, prepareOutput, writeJson, type BrownSplitName, type CalibrationCliOptions,
} from './model-io.js';

const METHODS = ['rtn', 'gptq'] as const;
const METRICS = ['gift-sw', 'quik', 'owq', 'wanda', 'random'] as const;

/** The packed quantized checkpoint's file name inside `--out` (its sidecar is `quantized.quant.json`). */
export const QUANTIZED_FILE = 'quantized.safetensors';
/** Files `sift quantize` writes into `--out`. */
export const QUANTIZE_OUTPUTS: readonly string[] = ['config.json', 'model.safetensors', 'tokenizer.json', QUANTIZED_FILE, 'quantized.quant.json', 'report.json'];

/** Options of `sift quantize` (flags, or the config file's `quantize` section). */
export interface QuantizeCliOptions extends CalibrationCliOptions {
  model: string;
  out: string;
  bits: number;
  method: string;
  salientColumns: number;
  metric: string;
  clipSearch: boolean;
  gridPoints: number;
  blockSize: number;
  damp: number;
  targets?: string | string[];
  exclude?: string | string[];
  force: boolean;
}

/** One layer of the quantize report. */
export interface QuantizeLayerRow {
  name: string;
  shape: [number, number];
  /** Full-precision salient columns. */
  k: number;
  salient: number[];
  /** tr((W − Ŵ) H (W − Ŵ)ᵀ) on the calibration Hessian (null with RTN, which collects no Hessian). */
  error: number | null;
  /** Inputs never active in calibration (GPTQ only). */
  dead: number;
  /** Storage bits per weight (codes, per-row scales and salient columns at float32), from the sidecar. */
  bitsPerWeight: number;
  ms: number;
}

/** What `sift quantize` returns and writes to `report.json`. */
export interface QuantizeCliReport {
  command: 'quantize';
  model: string;
  out: string;
  options: QuantizeModelOptions & { columns: 'metric' | 'random' };
  calibration: { split: BrownSplitName; genres: string[]; samples: number; seqlen: number; seed: number; tokens: number };
  layers: QuantizeLayerRow[];
  /** Size-weighted storage bits per weight of the quantized linears. */
  bitsPerWeight: number;
  quantizedParameters: number;
  packed: { path: string; sidecar: string; bytes: number };
  timeMs: { load: number; calibrate: number; quantize: number; save: number; total: number };
}

/** Runs `sift quantize`: statistics on Brown calibration windows, RTN or GPTQ with k salient columns, packed + dequantized outputs. */
export async function runQuantize(o: QuantizeCliOptions, ctx: CommandContext): Promise<QuantizeCliReport> {
  const t0 = performance.now();
  const bits: unknown = o.bits;
  if (!(QUANT_BITS as readonly unknown[]).includes(bits)) throw new UsageError(`--bits must be one of ${QUANT_BITS.join(', ')}, got ${JSON.stringify(bits)}`);
  const method = oneOf('--method', o.method, METHODS);
  const metric = oneOf('--metric', o.metric, METRICS);
  const k = checkNumber('--salient-columns', o.salientColumns, { integer: true, min: 0 });
  const { split, samples, batchSize, genres } = checkCalibration(o);
  const targets = listOption(o.targets);
  const exclude = o.exclude === undefined ? [...QUANTIZE_MODEL_DEFAULTS.exclude] : listOption(o.exclude);
  const lib: QuantizeModelOptions = {
    ...QUANTIZE_MODEL_DEFAULTS,
    bits: bits as QuantBits, method, k, metric: metric === 'random' ? QUANTIZE_MODEL_DEFAULTS.metric : metric,
    clipSearch: o.clipSearch, gridPoints: checkNumber('--grid-points', o.gridPoints, { integer: true, min: 1 }),
    blockSize: checkNumber('--block-size', o.blockSize, { integer: true, min: 1 }), damp: checkNumber('--damp', o.damp, { min: 0 }),
    targets: targets.length === 0 ? [...QUANTIZE_MODEL_DEFAULTS.targets] : targets, exclude,
  };
  checkModelDir(o.model);
  prepareOutput(o.out, QUANTIZE_OUTPUTS, o.force);
  await ctx.startBackend();
  const { model, tokenizer } = await loadLm(o.model);
  const seed = ctx.globals().seed;
  let stats: Map<string, ActivationStats> | undefined;
  const batches: tf.Tensor2D[] = [];
  try {
    const seqlen = calibrationSeqlen(o, model.maxContext);
    const linears = findLinears(model, { include: lib.targets, exclude: lib.exclude });
    if (linears.length === 0) {
      throw new UsageError(`no linear layer matches --targets ${lib.targets.join(',')} (--exclude ${lib.exclude.join(',')}); ` +
        `the model's linears are ${findLinears(model).slice(0, 8).map(([n]) => n).join(', ')}, ...`);
    }
    for (const [name, lin] of linears) {
      if (k >= lin.inFeatures) throw new UsageError(`--salient-columns ${String(k)} must be below the ${String(lin.inFeatures)} inputs of ${name}`);
    }
    const calib = await calibrationBatches(tokenizer, { split, genres, samples, seqlen, batchSize, seed });
    batches.push(...calib.batches);
    const tLoad = performance.now();
    // Statistics once on the unquantized model (the library's protocol); GPTQ needs the Hessian XᵀX.
    const progress = ctx.progress();
    try {
      stats = await collectLinearStats(model, { include: lib.targets, exclude: lib.exclude }, () => {
        for (const [i, b] of batches.entries()) {
          tf.dispose(tf.tidy(() => model.forward(b)));
          progress.update({ stage: 'calibrate', done: i + 1, total: batches.length });
        }
      }, { gram: method === 'gptq' });
    } finally {
      progress.finish();
    }
    const tCal = performance.now();
    let salient: Record<string, Int32Array> | undefined;
    if (metric === 'random' && k > 0) {
      const rng = new Rng(seed).fork('quantize:random-columns');
      salient = Object.fromEntries(linears.map(([name, lin]) => [name, randomColumns(lin.inFeatures, k, rng.fork(name))]));
    }
    ctx.info(`quantizing ${String(linears.length)} linear layers of ${o.model} to ${String(bits)} bits (${method}, ${String(k)} salient columns by ${metric})`);
    const qp = ctx.progress();
    let result: ReturnType<typeof quantizeModel>;
    try {
      const statsMap = stats;
      result = asUsage(() => quantizeModel(model, lib, {
        stats: statsMap, ...(salient === undefined ? {} : { salient }),
        onProgress: (p) => { qp.update({ stage: 'quantize', done: p.index, total: p.of, info: { layer: p.layer } }); },
      }));
      qp.update({ stage: 'quantize', done: linears.length, total: linears.length });
    } finally {
      qp.finish();
    }
    const tQuant = performance.now();
    ensureDir(o.out, QUANTIZE_OUTPUTS, o.force);
    const path = join(o.out, QUANTIZED_FILE);
    const saved = await saveQuantized(path, result.layers, { source: o.model, options: { ...lib, columns: metric === 'random' ? 'random' : 'metric' } });
    const sidecar = JSON.parse(readFileSync(quantizedSidecarPath(path), 'utf8')) as QuantizedSidecar;
    await saveCheckpoint(model, o.out);
    await copyTokenizer(o.model, o.out);
    const tSave = performance.now();
    const layers: QuantizeLayerRow[] = result.report.map((r) => {
      const m = sidecar.layers[r.name];
      return {
        name: r.name, shape: [m.rows, m.cols], k: r.salient.length, salient: r.salient,
        error: Number.isFinite(r.error) ? r.error : null, dead: r.dead.length, bitsPerWeight: m.bitsPerWeight, ms: r.ms,
      };
    });
    const size = layers.reduce((s, l) => s + l.shape[0] * l.shape[1], 0);
    const out: QuantizeCliReport = {
      command: 'quantize', model: o.model, out: o.out, options: { ...lib, columns: metric === 'random' ? 'random' : 'metric' },
      calibration: { split, genres, samples, seqlen, seed, tokens: calib.tokens },
      layers, bitsPerWeight: layers.reduce((s, l) => s + l.bitsPerWeight * l.shape[0] * l.shape[1], 0) / size, quantizedParameters: size,
      packed: { path: saved.path, sidecar: saved.sidecar, bytes: saved.bytes },
      timeMs: { load: tLoad - t0, calibrate: tCal - tLoad, quantize: tQuant - tCal, save: tSave - tQuant, total: tSave - t0 },
    };
    await writeJson(join(o.out, 'report.json'), out);
    return out;
  } finally {
    if (stats !== undefined) for (const s of stats.values()) s.dispose();
    tf.dispose(batches);
    model.dispose();
  }
}

function printQuantize(r: QuantizeCliReport, ctx: CommandContext): void {
  if (ctx.globals().json) {
    ctx.io.out(JSON.stringify(r, null, 2));
    return;
  }
  const rows = r.layers.map((l) => [
    l.name, `${String(l.shape[0])}x${String(l.shape[1])}`, String(l.k), l.error === null ? '-' : l.error.toExponential(3), String(l.dead), fmt(l.bitsPerWeight, 3), fmt(l.ms, 0),
  ]);
  ctx.io.out(formatTable(['layer', 'shape', 'salient', 'error', 'dead', 'bits/w', 'ms'], rows));
  ctx.io.out(`\nquantized ${String(r.layers.length)} layers (${(r.quantizedParameters / 1e6).toFixed(3)} M weights) to ${String(r.options.bits)} bits with ` +
    `${r.options.method}, ${String(r.options.k)} salient columns each: ${r.bitsPerWeight.toFixed(3)} bits per weight stored, ` +
    `in ${(r.timeMs.total / 1000).toFixed(1)} s; saved in ${r.out}`);
}

/** Registers `sift quantize`. */
export function registerQuantize(program: Command, ctx: CommandContext): void {
  const d = QUANTIZE_MODEL_DEFAULTS;
  addCalibrationOptions(program.command('quantize')
    .description('Quantize a checkpoint to 2/3/4/8 bits (RTN or GPTQ) keeping k salient input columns per linear in full precision ' +
      '(GIFT-SW / QUIK layout); writes the packed codes, a dequantized checkpoint (for `sift eval ppl`) and report.json.')
    .requiredOption('--model <dir>', 'checkpoint folder: config.json, model.safetensors, tokenizer.json')
    .requiredOption('--out <dir>', `output folder: ${QUANTIZE_OUTPUTS.join(', ')}`)
    .option('--bits <b>', `bits per non-salient weight: ${QUANT_BITS.join(', ')}`, parseIntOption('--bits'), d.bits)
    .option('--method <name>', `quantizer: ${METHODS.join(', ')}`, d.method)
    .option('--salient-columns <k>', 'input columns per linear kept in full precision (0: none)', parseIntOption('--salient-columns'), d.k)
    .option('--metric <name>', `how salient columns are chosen: ${METRICS.join(', ')} (random: the control, seeded by --seed)`, 'gift-sw')
    .option('--no-clip-search', 'use the row maximum as the clipping value instead of the MSE search')
    .option('--grid-points <n>', 'points of the MSE clip search', parseIntOption('--grid-points'), d.gridPoints)
    .option('--block-size <n>', "GPTQ's lazy-update block", parseIntOption('--block-size'), d.blockSize)
    .option('--damp <f>', "GPTQ's damping, a fraction of mean(diag H)", parseNumberOption('--damp'), d.damp)
    .option('--targets <globs>', 'globs of the linears to quantize, comma-separated (default: all)')
    .option('--exclude <globs>', `globs of linears left in full precision, comma-separated (default: ${d.exclude.join(',')})`))
    .option('--force', 'overwrite existing outputs in --out', false)
    .addHelpText('after', [
      '', 'Examples:',
      '  $ sift quantize --model models/small --out models/small-q3 --bits 3 --method gptq --salient-columns 32',
      '  $ sift quantize --model models/small --out models/small-q4-rtn --bits 4 --method rtn --salient-columns 0',
      '  $ sift --seed 2 quantize --model models/small --out /tmp/q --bits 2 --metric random --salient-columns 16',
    ].join('\n'))
    .action(async (opts: QuantizeCliOptions) => {
      printQuantize(await runQuantize(opts, ctx), ctx);
    });
}
