import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { perplexity } from '@sift/eval';
import {
  FINE_TUNE_DEFAULTS, GIFT_DEFAULTS, LORA_DEFAULTS, QUANT_BITS, applyDora, applyFullFineTuning, applyGiftSw, applyLora,
  collectLinearStats, fineTune, fineTuneStateInfo, loadQuantized, mergeAdapters, readFineTuneState, saveGiftAdapter, writeFineTuneState,
  type FineTuneOptions, type FineTuneReport, type FineTuneState, type QuantBits,
} from '@sift/gift-sw';
import { RandomBatches, saveCheckpoint, type CausalLM, type TokenBatch } from '@sift/lm';
import { SiftError, findLinears, writeSafetensorsFile, type ActivationStats, type RngState, type SafeTensor } from '@sift/tensor-core';
import { UsageError } from '../config.js';
import { parseIntOption, type CommandContext } from '../context.js';
import { QUANTIZED_FILE } from './quantize.js';
import {
  asUsage, brownStream, calibrationBatches, checkModelDir, checkNumber, copyTokenizer, ensureDir, listOption, loadLm, oneOf,
  parseNumberOption, prepareOutput, writeJson,
} from './model-io.js';
import { STATE_DIR, checkInterrupted, checkSameSetup } from './resume.js';

const METHODS = ['gift-sw', 'lora', 'dora', 'full'] as const;
type FinetuneMethod = (typeof METHODS)[number];
const METRICS = ['gift-sw', 'quik', 'owq', 'wanda'] as const;
const COLUMNS = ['metric', 'random'] as const;
const SCHEDULES = ['cosine', 'constant'] as const;

/** Files `sift finetune` may write into `--out`. */
export const FINETUNE_OUTPUTS = ['config.json', 'model.safetensors', 'tokenizer.json', 'adapter.safetensors', 'adapter.gift.json', 'adapter.json', 'report.json'] as const;

/** Options of `sift finetune` (flags, or the config file's `finetune` section). */
export interface FinetuneCliOptions {
  model?: string;
  quantized?: string;
  out: string;
  method: string;
  steps: number;
  lr: number;
  batchSize: number;
  seqlen?: number;
  genres?: string | string[];
  salientColumns: number;
  columns: string;
  metric: string;
  noise?: boolean;
  noiseBits: number;
  rank?: number;
  alpha: number;
  dropout: number;
  targets?: string | string[];
  exclude?: string | string[];
  schedule: string;
  warmupRatio: number;
  weightDecay: number;
  clipNorm: number;
  calibSamples: number;
  valWindows: number;
  checkpointEvery: number;
  resume?: boolean;
  force: boolean;
}

const STATE_FILE = 'finetune-state.safetensors';

/** What the CLI saves beside the library's snapshot, to resume the same run. */
interface CliResumeState {
  batches: RngState;
  /** Everything that shapes the run besides the library's options (compared key by key on resume). */
  setup: Record<string, unknown>;
}

/** What `sift finetune` returns and writes to `report.json`. */
export interface FinetuneCliReport {
  command: 'finetune';
  method: FinetuneMethod;
  model: string;
  /** The `sift quantize` folder trained from (Post-GIFT-SW), or null. */
  quantized: string | null;
  out: string;
  /** The method's options as applied (k, noise, rank, ...). */
  methodOptions: Record<string, unknown>;
  training: FineTuneOptions & { batchSize: number; seqlen: number; genres: string[]; seed: number };
  trainableParams: number;
  totalParams: number;
  /** Adapted linears. */
  layers: number;
  losses: { first: number; last: number; meanLast10: number };
  /** Perplexity on the first `valWindows` windows of the Brown validation split, before and after (null when off). */
  validation: { windows: number; before: number; after: number } | null;
  optimizerStateBytes: number;
  msPerStep: number;
  /** The step a killed run resumed after (`--resume`), or null. */
  resumedFrom: number | null;
  /** The adapter file (GIFT-SW columns, LoRA/DoRA factors), or null for full fine-tuning. */
  adapter: string | null;
  timeMs: { prepare: number; train: number; save: number; total: number };
}

/** The trainable tensors of every adapter (LoRA/DoRA factors and magnitudes) as safetensors, with a JSON sidecar. */
async function saveLoraAdapter(model: CausalLM, out: string, meta: Record<string, unknown>): Promise<string> {
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, p] of model.namedParameters({ trainableOnly: true })) {
    tensors[name] = { dtype: 'F32', shape: [...p.shape], data: Float32Array.from(p.dataSync()) };
  }
  const path = join(out, 'adapter.safetensors');
  await writeSafetensorsFile(path, tensors, { format: 'sift.cli.lora-adapter' });
  await writeJson(join(out, 'adapter.json'), { format: 'sift.cli.lora-adapter', version: 1, tensors: Object.keys(tensors), ...meta });
  return path;
}

/** Validation perplexity on the first windows of a stream (the model in eval mode). */
async function valPerplexity(model: CausalLM, ids: Int32Array, seqlen: number, batchSize: number): Promise<number> {
  return (await perplexity(model, ids, { mode: 'windows', seqlen, batchSize })).perplexity;
}

/** Runs `sift finetune`: GIFT-SW, LoRA, DoRA or full fine-tuning on Brown text; writes the merged model and the adapter. */
export async function runFinetune(o: FinetuneCliOptions, ctx: CommandContext): Promise<FinetuneCliReport> {
  const t0 = performance.now();
  const method = oneOf('--method', o.method, METHODS);
  if ((o.model === undefined) === (o.quantized === undefined)) {
    throw new UsageError('give exactly one of --model <dir> (the checkpoint to fine-tune) and --quantized <dir> (a `sift quantize` output, for Post-GIFT-SW)');
  }
  const source = o.model ?? o.quantized ?? '';
  const sourceFlag = o.model === undefined ? '--quantized' : '--model';
  if (o.quantized !== undefined && !existsSync(join(o.quantized, QUANTIZED_FILE))) {
    throw new UsageError(`--quantized ${o.quantized} lacks ${QUANTIZED_FILE}; give a folder written by \`sift quantize\``);
  }
  const training: Partial<FineTuneOptions> = {
    steps: checkNumber('--steps', o.steps, { integer: true, min: 1 }),
    lr: checkNumber('--lr', o.lr, { min: Number.MIN_VALUE }),
    schedule: oneOf('--schedule', o.schedule, SCHEDULES),
    warmupRatio: checkNumber('--warmup-ratio', o.warmupRatio, { min: 0, max: 0.999 }),
    weightDecay: checkNumber('--weight-decay', o.weightDecay, { min: 0 }),
    clipNorm: checkNumber('--clip-norm', o.clipNorm, { min: 0 }),
  };
  const batchSize = checkNumber('--batch-size', o.batchSize, { integer: true, min: 1 });
  const k = checkNumber('--salient-columns', o.salientColumns, { integer: true, min: 1 });
  const noiseBits: unknown = o.noiseBits;
  if (!(QUANT_BITS as readonly unknown[]).includes(noiseBits)) throw new UsageError(`--noise-bits must be one of ${QUANT_BITS.join(', ')}, got ${JSON.stringify(noiseBits)}`);
  const valWindows = checkNumber('--val-windows', o.valWindows, { integer: true, min: 0 });
  const calibSamples = checkNumber('--calib-samples', o.calibSamples, { integer: true, min: 1 });
  const checkpointEvery = checkNumber('--checkpoint-every', o.checkpointEvery, { integer: true, min: 0 });
  const genres = listOption(o.genres);
  const targets = listOption(o.targets);
  const filter = {
    targets: targets.length === 0 ? [...GIFT_DEFAULTS.targets] : targets,
    exclude: o.exclude === undefined ? [...GIFT_DEFAULTS.exclude] : listOption(o.exclude),
  };
  checkModelDir(source, sourceFlag);
  const stateDir = join(o.out, STATE_DIR);
  const stateFile = join(stateDir, STATE_FILE);
  checkInterrupted(o.out, o, 'fine-tuning run');
  prepareOutput(o.out, FINETUNE_OUTPUTS, o.force);
  await ctx.startBackend();
  const seed = ctx.globals().seed;
  let resume: FineTuneState | null = null;
  let resumeCli: CliResumeState | null = null;
  if (o.resume === true) {
    if (existsSync(stateFile)) {
      resume = await readFineTuneState(stateFile);
      const info = fineTuneStateInfo(resume);
      resumeCli = info.caller as CliResumeState;
      ctx.info(`resuming the fine-tuning run in ${o.out} after step ${String(info.step)} of ${String(info.of)}`);
    } else {
      ctx.info(`--resume: no snapshot in ${stateDir}; starting from step 0`);
    }
  }
  const { model, tokenizer } = await loadLm(source, sourceFlag);
  let stats: Map<string, ActivationStats> | undefined;
  try {
    const seqlen = o.seqlen === undefined ? model.maxContext : checkNumber('--seqlen', o.seqlen, { integer: true, min: 2, max: model.maxContext });
    const linears = findLinears(model, { include: filter.targets, exclude: filter.exclude });
    if (method !== 'full' && linears.length === 0) {
      throw new UsageError(`no linear layer matches --targets ${filter.targets.join(',')} (--exclude ${filter.exclude.join(',')}); ` +
        `the model's linears are ${findLinears(model).slice(0, 8).map(([n]) => n).join(', ')}, ...`);
    }
    const train = await brownStream(tokenizer, 'train', genres);
    const val = valWindows > 0 ? await brownStream(tokenizer, 'validation', genres) : null;
    const valIds = val === null ? null : val.ids.subarray(0, Math.min(val.ids.length, valWindows * seqlen));
    const before = valIds === null ? null : await valPerplexity(model, valIds, seqlen, batchSize);

    // The method: which parameters train.
    let methodOptions: Record<string, unknown>;
    let columnsChosen: Record<string, number[]> | null = null;
    let trainable: { trainableParams: number; totalParams: number; layers: number };
    if (method === 'gift-sw') {
      let salient: Record<string, Int32Array> | undefined;
      if (o.quantized !== undefined) {
        // Post-GIFT-SW (§6.3): train the quantizer's salient columns of the quantized model.
        const q = await loadQuantized(join(o.quantized, QUANTIZED_FILE));
        salient = Object.fromEntries(Object.entries(q.layers).filter(([, l]) => l.salient.length > 0).map(([n, l]) => [n, l.salient]));
        if (Object.keys(salient).length === 0) throw new UsageError(`--quantized ${o.quantized} kept no salient columns (quantized with --salient-columns 0); GIFT-SW trains those columns`);
        filter.targets = Object.keys(salient);
        filter.exclude = [];
      }
      const columns = oneOf('--columns', o.columns, COLUMNS);
      const metric = oneOf('--metric', o.metric, METRICS);
      if (salient === undefined && columns === 'metric') {
        const calib = await calibrationBatches(tokenizer, { split: 'train', genres, samples: calibSamples, seqlen, batchSize, seed });
        try {
          stats = await collectLinearStats(model, { include: filter.targets, exclude: filter.exclude }, () => {
            for (const b of calib.batches) tf.dispose(tf.tidy(() => model.forward(b)));
          });
        } finally {
          tf.dispose(calib.batches);
        }
      }
      const gift = {
        ...filter, k: salient === undefined ? k : Math.max(...Object.values(salient).map((s) => s.length)), columns, metric,
        metricBits: noiseBits as QuantBits, noise: o.noise ?? true, noiseBits: noiseBits as QuantBits, seed,
      };
      const r = asUsage(() => applyGiftSw(model, gift, { ...(stats === undefined ? {} : { stats }), ...(salient === undefined ? {} : { salient }) }));
      methodOptions = { ...r.options };
      columnsChosen = Object.fromEntries(r.layers.map((l) => [l.name, [...l.salient]]));
      trainable = { trainableParams: r.trainableParams, totalParams: r.totalParams, layers: r.layers.length };
    } else if (method === 'lora' || method === 'dora') {
      // Equal budget by default: as many trainable scalars as k salient columns, r = round(k·Σout / Σ(in + out)).
      const sumOut = linears.reduce((s, [, l]) => s + l.outFeatures, 0);
      const sumIn = linears.reduce((s, [, l]) => s + l.inFeatures, 0);
      const rank = o.rank === undefined ? Math.max(1, Math.round((k * sumOut) / (sumIn + sumOut))) : checkNumber('--rank', o.rank, { integer: true, min: 1 });
      const lora = { ...filter, rank, alpha: checkNumber('--alpha', o.alpha, { min: Number.MIN_VALUE }), dropout: checkNumber('--dropout', o.dropout, { min: 0, max: 0.999 }), seed };
      const r = asUsage(() => (method === 'lora' ? applyLora(model, lora) : applyDora(model, lora)));
      methodOptions = { ...r.options, rankFromBudget: o.rank === undefined };
      trainable = { trainableParams: r.trainableParams, totalParams: r.totalParams, layers: r.layers.length };
    } else {
      const full = { ...filter, noise: o.noise ?? false, noiseBits: noiseBits as QuantBits, seed };
      const r = asUsage(() => applyFullFineTuning(model, full));
      methodOptions = { ...full };
      trainable = { trainableParams: r.trainableParams, totalParams: r.totalParams, layers: r.layers.length };
    }
    ctx.info(`fine-tuning ${source} with ${method}: ${trainable.trainableParams.toLocaleString('en-US')} trainable of ` +
      `${trainable.totalParams.toLocaleString('en-US')} parameters (${((100 * trainable.trainableParams) / trainable.totalParams).toFixed(2)}%)`);
    const tPrep = performance.now();

    const setup: Record<string, unknown> = { method, source, seed, batchSize, seqlen, genres, calibSamples, methodOptions, columns: columnsChosen };
    if (resumeCli !== null) checkSameSetup(o.out, resumeCli.setup, setup);
    const batches = new RandomBatches(train.ids, { batchSize, length: seqlen, seed }, resumeCli?.batches);
    const progress = ctx.progress();
    let report: FineTuneReport;
    if (checkpointEvery > 0) mkdirSync(stateDir, { recursive: true });
    try {
      report = await fineTune(model, (b: TokenBatch) => model.loss(tf.tensor2d(b.inputs, b.shape, 'int32'), { targets: tf.tensor2d(b.targets, b.shape, 'int32') }),
        () => batches.next().value, training, {
          onProgress: (p) => { progress.update({ stage: 'train', done: p.step, total: p.of, info: { loss: p.loss, lr: p.lr } }); },
          ...(resume === null ? {} : { resume }),
          ...(checkpointEvery === 0 ? {} : {
            checkpointEvery,
            callerState: (): CliResumeState => ({ batches: batches.state(), setup }),
            onCheckpoint: (state) => writeFineTuneState(stateFile, state),
          }),
        });
    } catch (err) {
      if (resume !== null && err instanceof SiftError && err.code === 'E_CONFIG') throw new UsageError(`--resume: ${err.message}`);
      throw err;
    } finally {
      progress.finish();
    }
    const tTrain = performance.now();
    ensureDir(o.out, FINETUNE_OUTPUTS, o.force);

    // The adapter first (it needs the adapter layers), then the merged model every HF reader loads.
    let adapter: string | null = null;
    const meta = { source, method, options: methodOptions };
    if (method === 'gift-sw') adapter = (await saveGiftAdapter(join(o.out, 'adapter.safetensors'), model, meta)).path;
    else if (method === 'lora' || method === 'dora') adapter = await saveLoraAdapter(model, o.out, meta);
    mergeAdapters(model);
    const after = valIds === null ? null : await valPerplexity(model, valIds, seqlen, batchSize);
    await saveCheckpoint(model, o.out);
    await copyTokenizer(source, o.out);
    const tSave = performance.now();
    const last10 = report.losses.slice(-10);
    const out: FinetuneCliReport = {
      command: 'finetune', method, model: source, quantized: o.quantized ?? null, out: o.out, methodOptions,
      training: { ...report.options, batchSize, seqlen, genres, seed },
      ...trainable,
      losses: { first: report.losses[0], last: report.losses[report.losses.length - 1], meanLast10: last10.reduce((a, b) => a + b, 0) / last10.length },
      validation: valIds === null || before === null || after === null ? null : { windows: Math.floor(valIds.length / seqlen), before, after },
      optimizerStateBytes: report.optimizerStateBytes, msPerStep: report.msPerStep, resumedFrom: report.resumedFrom, adapter,
      timeMs: { prepare: tPrep - t0, train: tTrain - tPrep, save: tSave - tTrain, total: tSave - t0 },
    };
    await writeJson(join(o.out, 'report.json'), { ...out, history: report.losses });
    rmSync(stateDir, { recursive: true, force: true }); // the outputs are complete: nothing left to resume
    return out;
  } finally {
    if (stats !== undefined) for (const s of stats.values()) s.dispose();
    if (resume !== null) tf.dispose(Object.values(resume.tensors));
    model.dispose();
  }
}

function printFinetune(r: FinetuneCliReport, ctx: CommandContext): void {
  if (ctx.globals().json) {
    ctx.io.out(JSON.stringify(r, null, 2));
    return;
  }
  ctx.io.out(`trainable parameters: ${r.trainableParams.toLocaleString('en-US')} of ${r.totalParams.toLocaleString('en-US')} ` +
    `(${((100 * r.trainableParams) / r.totalParams).toFixed(2)}%)${r.method === 'full' ? '' : ` in ${String(r.layers)} adapted layers`}`);
  ctx.io.out(`loss ${r.losses.first.toFixed(4)} -> ${r.losses.last.toFixed(4)} over ${String(r.training.steps)} steps (${r.msPerStep.toFixed(0)} ms/step)`);
  if (r.validation !== null) {
    ctx.io.out(`validation perplexity (${String(r.validation.windows)} windows): ${r.validation.before.toFixed(3)} -> ${r.validation.after.toFixed(3)}`);
  }
  ctx.io.out(`saved the merged model in ${r.out}${r.adapter === null ? '' : ` and the adapter in ${r.adapter}`}`);
}

/** Registers `sift finetune`. */
export function registerFinetune(program: Command, ctx: CommandContext): void {
  const f = FINE_TUNE_DEFAULTS;
  program.command('finetune')
    .description('Fine-tune a checkpoint on Brown text: GIFT-SW (k salient columns with noise on the rest), LoRA, DoRA or full; ' +
      'writes the merged model (for `sift eval ppl`), the adapter and report.json; a killed run continues with --resume.')
    .option('--model <dir>', 'checkpoint folder to fine-tune: config.json, model.safetensors, tokenizer.json')
    .option('--quantized <dir>', 'instead of --model: a `sift quantize` output; GIFT-SW then trains its salient columns (Post-GIFT-SW)')
    .requiredOption('--out <dir>', 'output folder: merged checkpoint, adapter.safetensors (+ adapter.gift.json or adapter.json), report.json')
    .option('--method <name>', METHODS.join(', '), 'gift-sw')
    .option('--steps <n>', 'optimizer steps', parseIntOption('--steps'), f.steps)
    .option('--lr <f>', 'peak learning rate', parseNumberOption('--lr'), f.lr)
    .option('--batch-size <n>', 'sequences per step', parseIntOption('--batch-size'), 8)
    .option('--seqlen <n>', 'tokens per sequence (default: the model context)', parseIntOption('--seqlen'))
    .option('--genres <list>', 'train (and validate) on these Brown genres only (letters or names, comma-separated)')
    .option('--salient-columns <k>', 'GIFT-SW: salient input columns per linear; LoRA/DoRA: sets the equal-budget rank when --rank is not given', parseIntOption('--salient-columns'), GIFT_DEFAULTS.k)
    .option('--columns <c>', `GIFT-SW: how columns are chosen: ${COLUMNS.join(', ')}`, GIFT_DEFAULTS.columns)
    .option('--metric <name>', `GIFT-SW: salience metric: ${METRICS.join(', ')}`, 'gift-sw')
    .option('--noise', 'noise on the frozen weights in training (default: on for gift-sw, off for full)')
    .option('--no-noise', 'no noise (GIFT-SW becomes plain salient fine-tuning)')
    .option('--noise-bits <b>', `bits of the grid that sets the noise (and the metric's quantizer): ${QUANT_BITS.join(', ')}`, parseIntOption('--noise-bits'), GIFT_DEFAULTS.noiseBits)
    .option('--rank <r>', 'LoRA/DoRA rank (default: the GIFT-SW budget of --salient-columns)', parseIntOption('--rank'))
    .option('--alpha <a>', 'LoRA/DoRA scale numerator (update scale alpha/r)', parseNumberOption('--alpha'), LORA_DEFAULTS.alpha)
    .option('--dropout <p>', 'LoRA/DoRA dropout on the adapter input', parseNumberOption('--dropout'), LORA_DEFAULTS.dropout)
    .option('--targets <globs>', 'globs of the linears to adapt, comma-separated (default: all)')
    .option('--exclude <globs>', `globs of linears left frozen, comma-separated (default: ${GIFT_DEFAULTS.exclude.join(',')})`)
    .option('--schedule <s>', `learning-rate schedule: ${SCHEDULES.join(', ')}`, f.schedule)
    .option('--warmup-ratio <f>', 'warm-up steps as a fraction of --steps', parseNumberOption('--warmup-ratio'), f.warmupRatio)
    .option('--weight-decay <f>', "AdamW's decoupled weight decay", parseNumberOption('--weight-decay'), f.weightDecay)
    .option('--clip-norm <f>', 'global gradient-norm clip (0: off)', parseNumberOption('--clip-norm'), f.clipNorm)
    .option('--calib-samples <n>', 'GIFT-SW: calibration windows for the salience metric', parseIntOption('--calib-samples'), 32)
    .option('--val-windows <n>', 'validation windows for perplexity before and after (0: skip)', parseIntOption('--val-windows'), 16)
    .option('--checkpoint-every <n>', 'snapshot the run (trained tensors, optimizer, noise and batch generators) every n steps into --out/train-state (0: never)', parseIntOption('--checkpoint-every'), 50)
    .option('--resume', 'continue the interrupted run in --out from its last snapshot (same options and --seed), ending as an uninterrupted run would', false)
    .option('--force', 'overwrite existing outputs in --out', false)
    .addHelpText('after', [
      '', 'Batches, noise and dropout are seeded by the global --seed.', '', 'Examples:',
      '  $ sift finetune --model models/small --out models/small-gift --method gift-sw --salient-columns 32 --steps 200 --lr 1e-3',
      '  $ sift finetune --model models/small --out models/small-lora --method lora --salient-columns 32 --steps 200   # equal budget',
      '  $ sift finetune --quantized models/small-q3 --out models/small-q3-gift --method gift-sw --noise-bits 4    # Post-GIFT-SW',
      '  $ sift finetune --model models/small --out models/small-news --method full --genres news --steps 100 --lr 1e-4',
      '  $ sift finetune --model models/small --out models/small-gift --method gift-sw --steps 2000 --resume   # after Ctrl-C or a kill',
    ].join('\n'))
    .action(async (opts: FinetuneCliOptions) => {
      printFinetune(await runFinetune(opts, ctx), ctx);
    });
}
