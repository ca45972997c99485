import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { perplexity, type PerplexityReport } from '@sift/eval';
import {
  encodeDocuments, generate, loadBrownSplit, loadCheckpoint, loadTokenizer, PRESETS, trainPreset,
  type PresetName, type TrainPresetReport,
} from '@sift/lm';
import { UsageError } from '../config.js';
import { parseIntOption, type CommandContext } from '../context.js';
import { checkModelDir } from './model-io.js';

const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];
const SPLITS = ['train', 'validation', 'test'] as const;

/** Options of `sift lm train`. */
export interface LmTrainOptions {
  preset: string;
  out: string;
  steps?: number;
  batchSize?: number;
  checkpointEvery?: number;
  genres?: string;
  resume?: boolean;
  force?: boolean;
}

/** Runs `sift lm train`: a preset on the Brown corpus, resumable from its last checkpoint. */
export async function runLmTrain(o: LmTrainOptions, ctx: CommandContext): Promise<TrainPresetReport> {
  if (!PRESET_NAMES.includes(o.preset as PresetName)) throw new UsageError(`--preset must be one of ${PRESET_NAMES.join(', ')}, got "${o.preset}"`);
  const state = join(o.out, 'train-state');
  const started = existsSync(state) || existsSync(join(o.out, 'model.safetensors'));
  if (started && o.resume !== true && o.force !== true) {
    throw new UsageError(`${o.out} already holds a model or a training run; pass --resume to continue it or --force to start over`);
  }
  if (started && o.force === true && o.resume !== true) {
    for (const f of ['train-state', 'model.safetensors', 'config.json', 'tokenizer.json', 'report.json']) rmSync(join(o.out, f), { recursive: true, force: true });
  }
  await ctx.startBackend();
  const progress = ctx.progress();
  const report = await trainPreset(o.preset as PresetName, {
    outDir: o.out,
    seed: ctx.globals().seed,
    train: {
      ...(o.steps === undefined ? {} : { steps: o.steps }),
      ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
      ...(o.checkpointEvery === undefined ? {} : { checkpointEvery: o.checkpointEvery }),
    },
    ...(o.genres === undefined ? {} : { genres: o.genres.split(',').map((g) => g.trim()) }),
  }, {
    onProgress: (p) => {
      progress.update({
        stage: 'train', done: p.step, total: p.totalSteps,
        info: { loss: p.loss, ...(p.valLoss === undefined ? {} : { 'val ppl': Math.exp(p.valLoss) }), 'tok/s': p.tokensPerSecond },
      });
    },
  });
  progress.finish();
  return report;
}

/** Options of `sift lm generate`. */
export interface LmGenerateOptions {
  model: string;
  prompt: string;
  maxNewTokens: number;
  sample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
}

/** Runs `sift lm generate`: continues a prompt with a checkpoint's model and tokenizer. */
export async function runLmGenerate(o: LmGenerateOptions, ctx: CommandContext): Promise<{ prompt: string; completion: string; tokens: number }> {
  checkModelDir(o.model);
  await ctx.startBackend();
  const tokenizer = await loadTokenizer(join(o.model, 'tokenizer.json'));
  const { model } = await loadCheckpoint(o.model);
  try {
    const ids = tokenizer.encode(o.prompt);
    const out = await generate(model, ids, {
      maxNewTokens: o.maxNewTokens, sample: o.sample === true, seed: ctx.globals().seed,
      ...(o.temperature === undefined ? {} : { temperature: o.temperature }),
      ...(o.topK === undefined ? {} : { topK: o.topK }),
      ...(o.topP === undefined ? {} : { topP: o.topP }),
      ...(tokenizer.eotId === undefined ? {} : { stopTokens: [tokenizer.eotId] }),
    });
    const generated = out.tokens[0];
    return { prompt: o.prompt, completion: tokenizer.decode(generated), tokens: generated.length };
  } finally {
    model.dispose();
  }
}

/** Options of `sift lm eval` (= `sift eval ppl`). */
export interface PplOptions {
  model: string;
  split: string;
  seqlen?: number;
  batchSize: number;
  genres?: string;
}

/** Perplexity of a checkpoint on a Brown split (the WikiText-2 protocol: non-overlapping windows), with bits per byte. */
export async function runPerplexity(o: PplOptions, ctx: CommandContext): Promise<PerplexityReport & { split: string }> {
  if (!(SPLITS as readonly string[]).includes(o.split)) throw new UsageError(`--split must be one of ${SPLITS.join(', ')}, got "${o.split}"`);
  checkModelDir(o.model);
  await ctx.startBackend();
  const tokenizer = await loadTokenizer(join(o.model, 'tokenizer.json'));
  const docs = await loadBrownSplit({ split: o.split as (typeof SPLITS)[number], ...(o.genres === undefined ? {} : { genres: o.genres.split(',').map((g) => g.trim()) }) });
  const ids = encodeDocuments(tokenizer, docs);
  const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d.text, 'utf8'), 0);
  const { model } = await loadCheckpoint(o.model);
  const progress = ctx.progress();
  try {
    const report = await perplexity(model, ids, {
      mode: 'windows', batchSize: o.batchSize, ...(o.seqlen === undefined ? {} : { seqlen: o.seqlen }),
      onProgress: (p) => { progress.update({ stage: 'perplexity', done: p.done, total: p.total }); },
    });
    // Windows score a part of the stream (whole windows, each from its second token): bits per byte over the bytes
    // those tokens stand for, at the stream's mean bytes per token.
    const scoredBytes = (bytes * report.tokens) / ids.length;
    return { ...report, bitsPerByte: report.totalNll / Math.LN2 / scoredBytes, split: o.split };
  } finally {
    progress.finish();
    model.dispose();
  }
}

function printPerplexity(r: PerplexityReport & { split: string }, ctx: CommandContext): void {
  ctx.io.out(ctx.globals().json ? JSON.stringify(r, null, 2)
    : `perplexity ${r.perplexity.toFixed(3)} on Brown ${r.split} (${String(r.tokens)} tokens, ${String(r.windows)} windows of ${String(r.seqlen)})` +
      (r.bitsPerByte === null ? '' : `, ${r.bitsPerByte.toFixed(4)} bits/byte`));
}

/** Adds the perplexity options to a command. */
export function perplexityCommand(cmd: Command, ctx: CommandContext): Command {
  return cmd
    .requiredOption('--model <dir>', 'checkpoint folder: config.json, model.safetensors, tokenizer.json')
    .option('--split <name>', `Brown split: ${SPLITS.join(', ')}`, 'test')
    .option('--genres <list>', 'only these Brown genres (letters or names, comma-separated)')
    .option('--seqlen <n>', 'window length (default: the model context)', parseIntOption('--seqlen'))
    .option('--batch-size <n>', 'windows per forward pass', parseIntOption('--batch-size'), 8)
    .action(async (opts: PplOptions) => {
      printPerplexity(await runPerplexity(opts, ctx), ctx);
    });
}

/** Registers `sift lm ...`. */
export function registerLm(program: Command, ctx: CommandContext): void {
  const lm = program.command('lm').description('Language models: train a preset on the Brown corpus, generate text, measure perplexity.');
  lm.command('train')
    .description('Train a preset (tiny, small, small-half) on the Brown corpus; a killed run continues with --resume.')
    .requiredOption('--preset <name>', `one of ${PRESET_NAMES.join(', ')}`)
    .requiredOption('--out <dir>', 'output folder: HF checkpoint, tokenizer.json, report.json, train-state/')
    .option('--steps <n>', 'training steps (default: the preset recipe)', parseIntOption('--steps'))
    .option('--batch-size <n>', 'sequences per step (default: the preset recipe)', parseIntOption('--batch-size'))
    .option('--checkpoint-every <n>', 'save the training state every n steps (default: the preset recipe)', parseIntOption('--checkpoint-every'))
    .option('--genres <list>', 'train on these Brown genres only (letters or names, comma-separated)')
    .option('--resume', 'continue the run in --out from its last checkpoint', false)
    .option('--force', 'discard what --out holds and start over', false)
    .addHelpText('after', '\nExamples:\n  $ sift lm train --preset small --out models/small\n  $ sift lm train --preset small --out models/small --resume\n  $ sift lm train --preset tiny --steps 50 --out /tmp/tiny')
    .action(async (opts: LmTrainOptions) => {
      const r = await runLmTrain(opts, ctx);
      const t = r.training;
      ctx.io.out(ctx.globals().json ? JSON.stringify(r, null, 2)
        : `trained ${r.preset} (${(r.parameters.total / 1e6).toFixed(2)} M parameters) for ${String(t.steps)} steps; ` +
          `validation perplexity ${t.valPerplexity === null ? 'not measured' : t.valPerplexity.toFixed(2)}; saved in ${opts.out}`);
    });
  lm.command('generate')
    .description('Continue a prompt with a checkpoint (greedy by default; --sample with temperature, top-k, top-p; seeded).')
    .requiredOption('--model <dir>', 'checkpoint folder: config.json, model.safetensors, tokenizer.json')
    .requiredOption('--prompt <text>', 'the text to continue')
    .option('--max-new-tokens <n>', 'tokens to generate', parseIntOption('--max-new-tokens'), 64)
    .option('--sample', 'sample instead of greedy decoding', false)
    .option('--temperature <t>', 'softmax temperature when sampling', Number)
    .option('--top-k <k>', 'keep the k most likely tokens when sampling', parseIntOption('--top-k'))
    .option('--top-p <p>', 'nucleus sampling threshold in (0, 1]', Number)
    .addHelpText('after', '\nExamples:\n  $ sift lm generate --model models/small --prompt "The jury said"\n  $ sift --seed 3 lm generate --model models/small --prompt "It was" --sample --top-p 0.9')
    .action(async (opts: LmGenerateOptions) => {
      const r = await runLmGenerate(opts, ctx);
      ctx.io.out(ctx.globals().json ? JSON.stringify(r, null, 2) : `${r.prompt}${r.completion}`);
    });
  perplexityCommand(lm.command('eval').description('Perplexity of a checkpoint on a Brown split (same as `sift eval ppl`).'), ctx);
}
