/**
 * What `sift prune`, `sift quantize`, `sift finetune` and `sift eval mc` share: reading a checkpoint folder written by
 * `sift lm train` (config.json + model.safetensors + tokenizer.json), Brown token streams and calibration windows,
 * writing an output folder that `sift eval ppl` and `sift lm generate` read, and option checks that end as usage
 * errors (exit code 2) instead of failures.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import {
  encodeDocuments, loadBrownSplit, loadCheckpoint, loadTokenizer, sampleWindows, windowBatches, windowsToTensor,
  type CausalLM, type Tokenizer,
} from '@sift/lm';
import { SiftError, writeFileAtomic } from '@sift/tensor-core';
import { UsageError } from '../config.js';
import { parseIntOption } from '../context.js';
import { checkOutputs } from '../outputs.js';

/** The Brown splits a command can read. */
export const BROWN_SPLITS = ['train', 'validation', 'test'] as const;
/** A Brown split name. */
export type BrownSplitName = (typeof BROWN_SPLITS)[number];

/** Throws a usage error unless `value` is one of `allowed`; the message lists them. */
export function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${option} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** Parses a number option (`--sparsity 0.5`, `--lr 1e-4`), with the option's name in the error. */
export function parseNumberOption(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name} must be a number, got "${value}"`);
    return n;
  };
}

/** Checks a numeric option that may also come from a config file: a finite number, optionally an integer in a range. */
export function checkNumber(option: string, value: unknown, range: { min?: number; max?: number; integer?: boolean } = {}): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && (range.integer !== true || Number.isInteger(value)) &&
    (range.min === undefined || value >= range.min) && (range.max === undefined || value <= range.max);
  if (!ok) {
    const kind = range.integer === true ? 'an integer' : 'a number';
    const bounds = [range.min === undefined ? '' : `>= ${String(range.min)}`, range.max === undefined ? '' : `<= ${String(range.max)}`].filter((s) => s !== '').join(' and ');
    throw new UsageError(`${option} must be ${kind}${bounds === '' ? '' : ` ${bounds}`}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Splits a comma-separated list option (`--genres news,humor`); arrays from a config file pass through. */
export function listOption(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') return [];
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * Runs `fn`, turning a library's configuration error (`SiftError` 'E_CONFIG', e.g. a bad N:M pattern) into a usage
 * error (exit code 2) with the same message.
 */
export function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SiftError && err.code === 'E_CONFIG') throw new UsageError(err.message);
    throw err;
  }
}

/** Checks that `dir` is a checkpoint folder (config.json, model.safetensors, tokenizer.json); a usage error otherwise. */
export function checkModelDir(dir: string, option = '--model'): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`${option} ${dir} is not a folder; give a checkpoint folder written by \`sift lm train\` (config.json, model.safetensors, tokenizer.json)`);
  }
  const missing = ['config.json', 'tokenizer.json'].filter((f) => !existsSync(join(dir, f)));
  if (!existsSync(join(dir, 'model.safetensors')) && !existsSync(join(dir, 'model.safetensors.index.json'))) missing.push('model.safetensors');
  if (missing.length > 0) {
    throw new UsageError(`${option} ${dir} lacks ${missing.join(', ')}; give a checkpoint folder written by \`sift lm train\`, \`sift prune\`, \`sift quantize\` or \`sift finetune\``);
  }
}

/** A loaded checkpoint folder: the model (yours to dispose) and its tokenizer. */
export interface LoadedLm {
  model: CausalLM;
  tokenizer: Tokenizer;
  dir: string;
}

/** Loads a checkpoint folder's model and tokenizer, after `checkModelDir`. */
export async function loadLm(dir: string, option = '--model'): Promise<LoadedLm> {
  checkModelDir(dir, option);
  const tokenizer = await loadTokenizer(join(dir, 'tokenizer.json'));
  const { model } = await loadCheckpoint(dir);
  return { model, tokenizer, dir };
}

/** One token stream of a Brown split (documents joined by the tokenizer's end-of-text token), and its UTF-8 bytes. */
export async function brownStream(tokenizer: Tokenizer, split: BrownSplitName, genres: readonly string[]): Promise<{ ids: Int32Array; bytes: number; documents: number }> {
  const docs = await loadBrownSplit({ split, ...(genres.length === 0 ? {} : { genres: [...genres] }) });
  return {
    ids: encodeDocuments(tokenizer, docs),
    bytes: docs.reduce((s, d) => s + Buffer.byteLength(d.text, 'utf8'), 0),
    documents: docs.length,
  };
}

/** The calibration flags `sift prune` and `sift quantize` share (`addCalibrationOptions`). */
export interface CalibrationCliOptions {
  calibSamples: number;
  calibSeqlen?: number;
  calibBatchSize: number;
  calibSplit: string;
  genres?: string | string[];
}

/** Adds `--calib-samples|seqlen|batch-size|split` and `--genres` to a command. */
export function addCalibrationOptions(cmd: Command, samplesHelp = 'calibration windows'): Command {
  return cmd
    .option('--calib-samples <n>', samplesHelp, parseIntOption('--calib-samples'), 128)
    .option('--calib-seqlen <n>', 'tokens per calibration window (default: the model context)', parseIntOption('--calib-seqlen'))
    .option('--calib-batch-size <n>', 'calibration windows per forward pass', parseIntOption('--calib-batch-size'), 8)
    .option('--calib-split <name>', `Brown split of the calibration windows: ${BROWN_SPLITS.join(', ')}`, 'train')
    .option('--genres <list>', 'calibrate on these Brown genres only (letters or names, comma-separated)');
}

/** The calibration flags checked before any work (usage errors); the window length needs the model (`calibrationSeqlen`). */
export function checkCalibration(o: CalibrationCliOptions): { split: BrownSplitName; samples: number; batchSize: number; genres: string[] } {
  return {
    split: oneOf('--calib-split', o.calibSplit, BROWN_SPLITS),
    samples: checkNumber('--calib-samples', o.calibSamples, { integer: true, min: 1 }),
    batchSize: checkNumber('--calib-batch-size', o.calibBatchSize, { integer: true, min: 1 }),
    genres: listOption(o.genres),
  };
}

/** `--calib-seqlen`, or the model's context when absent. */
export function calibrationSeqlen(o: CalibrationCliOptions, maxContext: number): number {
  return o.calibSeqlen === undefined ? maxContext : checkNumber('--calib-seqlen', o.calibSeqlen, { integer: true, min: 2, max: maxContext });
}

/**
 * SparseGPT-style calibration data: `samples` random windows of `seqlen` tokens from a Brown split (seeded), as int32
 * `[B, seqlen]` batches of at most `batchSize` rows (yours to dispose).
 */
export async function calibrationBatches(tokenizer: Tokenizer, o: {
  split: BrownSplitName; genres: readonly string[]; samples: number; seqlen: number; batchSize: number; seed: number;
}): Promise<{ batches: tf.Tensor2D[]; tokens: number }> {
  const { ids } = await brownStream(tokenizer, o.split, o.genres);
  if (ids.length < o.seqlen + 2) {
    throw new UsageError(`the Brown ${o.split} split${o.genres.length > 0 ? ` (genres ${o.genres.join(', ')})` : ''} has ${String(ids.length)} tokens, ` +
      `fewer than one calibration window of ${String(o.seqlen)}; choose more genres or a shorter --calib-seqlen`);
  }
  const windows = sampleWindows(ids, { count: o.samples, length: o.seqlen, seed: o.seed });
  const batches = [...windowBatches(windows, o.batchSize)].map((w) => windowsToTensor(w));
  return { batches, tokens: o.samples * o.seqlen };
}

/**
 * Refuses output files that exist without `--force` (a usage error naming them), before any work is done. `files`
 * are names inside `out`. The folder itself is created by `ensureDir` once there is something to write, so a command
 * refused later (a usage error found after loading the model) leaves nothing behind.
 */
export function prepareOutput(out: string, files: readonly string[], force: boolean): void {
  checkOutputs(files.map((f) => join(out, f)), force);
}

/**
 * Creates the output folder (and its parents), once the work is done and the outputs are about to be written. With
 * `--force`, the command's previous outputs (`files`) are removed first, so a rerun with other options (an
 * unstructured prune after an N:M one, LoRA after GIFT-SW) leaves no stale file of the earlier run beside the new ones.
 */
export function ensureDir(out: string, files: readonly string[] = [], force = false): void {
  mkdirSync(out, { recursive: true });
  if (force) for (const f of files) rmSync(join(out, f), { force: true });
}

/** Copies the tokenizer of a checkpoint folder into `out` (atomically), so `out` is a complete checkpoint folder. */
export async function copyTokenizer(from: string, out: string): Promise<void> {
  await writeFileAtomic(join(out, 'tokenizer.json'), readFileSync(join(from, 'tokenizer.json')));
}

/** Writes `value` as pretty JSON to `path`, atomically. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
}

/** Formats a number for tables: fixed digits, or `-` for null/NaN. */
export function fmt(x: number | null | undefined, digits = 4): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}
