import { join } from 'node:path';
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { saveCheckpoint, type CausalLM } from '@sift/lm';
import {
  MaskedLinear, PRUNE_MODEL_DEFAULTS, bitsPerWeight, packNM, parsePattern, parsePruneOptions, pruneModel, savePacked,
  type BitsPerWeight, type EqualizeGroup, type LayerReport, type PackedNM, type PruneModelOptions, type PruneReport,
} from '@sift/nm-sparsity';
import { findLinears } from '@sift/tensor-core';
import { UsageError } from '../config.js';
import { parseIntOption, type CommandContext } from '../context.js';
import { formatTable } from '../ui/table.js';
import {
  addCalibrationOptions, asUsage, calibrationBatches, calibrationSeqlen, checkCalibration, checkModelDir, checkNumber, copyTokenizer, ensureDir, fmt, listOption, loadLm, oneOf,
  parseNumberOption, prepareOutput, writeJson, type BrownSplitName, type CalibrationCliOptions,
} from './model-io.js';

const METHODS = ['magnitude', 'wanda', 'sparsegpt'] as const;
const SALIENT_PATTERNS = ['structured', 'row', 'layer'] as const;
const CORRECTIONS = ['none', 'data-free', 'data-driven'] as const;
const SCOPES = ['auto', 'row', 'layer', 'block'] as const;

/** Files `sift prune` writes into `--out`. */
export const PRUNE_OUTPUTS = ['config.json', 'model.safetensors', 'tokenizer.json', 'packed.safetensors', 'packed.nm.json', 'report.json'] as const;

/** Options of `sift prune` (flags, or the config file's `prune` section). */
export interface PruneCliOptions extends CalibrationCliOptions {
  model: string;
  out: string;
  pattern: string;
  method: string;
  sparsity: number;
  scope: string;
  blockSize: number;
  dampPercent: number;
  salientFraction: number;
  salientPattern: string;
  salientGroup: number;
  salientExtra: boolean;
  varianceCorrection: string;
  meanFix: boolean;
  equalize?: number;
  include?: string | string[];
  exclude?: string | string[];
  force: boolean;
}

/** One row of the prune report: the library's layer report plus the packed layer's bits per weight. */
export interface PruneLayerRow extends LayerReport {
  /** Bits per weight of the packed layer at fp16 values, or null (unstructured has no packed format). */
  bitsPerWeight: BitsPerWeight | null;
}

/** What `sift prune` returns and writes to `report.json`. */
export interface PruneCliReport {
  command: 'prune';
  model: string;
  out: string;
  /** The library options used (`PRUNE_MODEL_DEFAULTS` merged with the flags). */
  options: PruneModelOptions;
  calibration: { split: BrownSplitName; genres: string[]; samples: number; seqlen: number; seed: number; tokens: number };
  layers: PruneLayerRow[];
  /** Fraction of zeros over the pruned linears. */
  sparsity: number;
  /** Size-weighted bits per weight of the pruned linears (fp16 values), or null for unstructured. */
  bitsPerWeight: BitsPerWeight | null;
  /** Parameters of the pruned linears. */
  prunedParameters: number;
  /** The packed checkpoint (N:M patterns only), or null with the reason. */
  packed: { path: string; sidecar: string; bytes: number } | { path: null; reason: string };
  /** Wall times in milliseconds. */
  timeMs: { load: number; prune: number; save: number; total: number };
}

/** Equalization groups of a model family: each norm and the linears reading its output (SmoothQuant's placement). */
function equalizeGroups(model: CausalLM): EqualizeGroup[] {
  return model.config.model_type === 'llama'
    ? [
        { previous: 'input_layernorm', consumers: ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'] },
        { previous: 'post_attention_layernorm', consumers: ['mlp.gate_proj', 'mlp.up_proj'] },
      ]
    : [{ previous: 'ln_1', consumers: ['attn.c_attn'] }, { previous: 'ln_2', consumers: ['mlp.c_fc'] }];
}

/** The library options from the CLI's, validated (bad values are usage errors naming the flag's field). */
function libraryOptions(o: PruneCliOptions): Partial<PruneModelOptions> {
  const method = oneOf('--method', o.method, METHODS);
  const lib: Partial<PruneModelOptions> = {
    method,
    pattern: o.pattern,
    sparsity: checkNumber('--sparsity', o.sparsity, { min: 0, max: 0.999 }),
    scope: oneOf('--scope', o.scope, SCOPES),
    blockSize: checkNumber('--block-size', o.blockSize, { integer: true, min: 1 }),
    dampPercent: checkNumber('--damp-percent', o.dampPercent, { min: 0 }),
    salientFraction: checkNumber('--salient-fraction', o.salientFraction, { min: 0 }),
    salientPattern: oneOf('--salient-pattern', o.salientPattern, SALIENT_PATTERNS),
    salientGroup: checkNumber('--salient-group', o.salientGroup, { integer: true, min: 2 }),
    salientCountsTowardN: !o.salientExtra,
    varianceCorrection: oneOf('--variance-correction', o.varianceCorrection, CORRECTIONS),
    meanFix: o.meanFix,
    include: listOption(o.include),
    exclude: listOption(o.exclude),
  };
  if (typeof o.pattern !== 'string') throw new UsageError(`--pattern must be N:M (e.g. 2:4, 8:16) or unstructured, got ${JSON.stringify(o.pattern)}`);
  if (o.pattern !== 'unstructured') {
    asUsage(() => parsePattern(o.pattern, '--pattern'));
  }
  // The library's own validation (ranges, combinations such as meanFix without data-driven correction).
  asUsage(() => parsePruneOptions(Object.fromEntries(Object.entries(lib).filter(([k]) => k !== 'include' && k !== 'exclude'))));
  return lib;
}

/** Every linear the pipeline will prune must take a multiple of M inputs: checked before any calibration. */
function checkShapes(model: CausalLM, lib: Partial<PruneModelOptions>): number {
  const nm = lib.pattern === undefined || lib.pattern === 'unstructured' ? null : parsePattern(lib.pattern);
  const filter = { ...(lib.include !== undefined && lib.include.length > 0 ? { include: lib.include } : {}), ...(lib.exclude !== undefined && lib.exclude.length > 0 ? { exclude: lib.exclude } : {}) };
  let count = 0;
  for (const [i, block] of model.blocks().entries()) {
    for (const [path, lin] of findLinears(block, filter)) {
      count++;
      if (lib.meanFix === true && lin.bias === null) {
        throw new UsageError(`--mean-fix shifts each pruned layer's bias, but ${model.blockPath(i)}.${path} has none (Llama linears have no bias); drop --mean-fix`);
      }
      if (nm !== null && lin.inFeatures % nm.m !== 0) {
        const fits = [4, 8, 16, 32].filter((m) => lin.inFeatures % m === 0).map((m) => `${String(m / 2)}:${String(m)}`);
        throw new UsageError(`layer ${model.blockPath(i)}.${path} has ${String(lin.inFeatures)} inputs, not a multiple of M=${String(nm.m)} (pattern ${lib.pattern ?? ''}); ` +
          (fits.length > 0 ? `use a pattern whose M divides it (${fits.join(', ')}), unstructured, or --exclude "${path}"` : `use unstructured, or --exclude "${path}"`));
      }
    }
  }
  if (count === 0) throw new UsageError(`no linear layer matches --include ${JSON.stringify(lib.include)} / --exclude ${JSON.stringify(lib.exclude)}; paths are block-relative, e.g. "mlp.*" or "self_attn.q_proj"`);
  return count;
}

/** Packs every `MaskedLinear` (N:M part + salient weights); the salient layout follows the options. */
function packLayers(model: CausalLM, lib: PruneModelOptions): Record<string, PackedNM> {
  const out: Record<string, PackedNM> = {};
  const structured = lib.salientPattern === 'structured' && lib.salientFraction > 0;
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof MaskedLinear) || m.pattern === null) continue;
    const weight = m.weight.dataSync() as Float32Array;
    const mask = m.mask.dataSync();
    const sm = m.salientMask?.dataSync();
    const salientMask = sm === undefined ? undefined : Uint8Array.from(sm);
    const nmMask = Uint8Array.from(mask, (v, i) => (v !== 0 && (salientMask === undefined || salientMask[i] === 0) ? 1 : 0));
    out[name] = packNM({
      weight: Float32Array.from(weight), shape: [m.outFeatures, m.inFeatures], pattern: m.pattern, nmMask,
      ...(salientMask === undefined ? {} : {
        salientMask,
        salientLayout: structured ? { k: Math.round(lib.salientFraction * lib.salientGroup), m: lib.salientGroup } : 'csr' as const,
      }),
    });
  }
  return out;
}

function weightedBits(layers: readonly PruneLayerRow[]): BitsPerWeight | null {
  if (layers.length === 0 || layers.some((l) => l.bitsPerWeight === null)) return null;
  const acc = { metadata: 0, values: 0, salient: 0, total: 0 };
  let size = 0;
  for (const l of layers) {
    const n = l.shape[0] * l.shape[1];
    size += n;
    for (const k of Object.keys(acc) as (keyof BitsPerWeight)[]) acc[k] += (l.bitsPerWeight?.[k] ?? 0) * n;
  }
  for (const k of Object.keys(acc) as (keyof BitsPerWeight)[]) acc[k] /= size;
  return acc;
}

/** Runs `sift prune`: calibrate on Brown, prune block by block, write the packed + dense checkpoints and a report. */
export async function runPrune(o: PruneCliOptions, ctx: CommandContext): Promise<PruneCliReport> {
  const t0 = performance.now();
  const lib = libraryOptions(o);
  const { split, samples, batchSize, genres } = checkCalibration(o);
  checkModelDir(o.model);
  prepareOutput(o.out, PRUNE_OUTPUTS, o.force);
  await ctx.startBackend();
  const { model, tokenizer } = await loadLm(o.model);
  const batches: tf.Tensor2D[] = [];
  try {
    const seqlen = calibrationSeqlen(o, model.maxContext);
    if (o.equalize !== undefined) {
      lib.equalizeAlpha = checkNumber('--equalize', o.equalize, { min: 0, max: 1 });
      lib.equalizeGroups = equalizeGroups(model);
    }
    const total = checkShapes(model, lib);
    const seed = ctx.globals().seed;
    const calib = await calibrationBatches(tokenizer, { split, genres, samples, seqlen, batchSize, seed });
    batches.push(...calib.batches);
    const tLoad = performance.now();
    ctx.info(`pruning ${String(total)} linear layers of ${o.model} (${lib.method ?? ''}, ${lib.pattern ?? ''}) on ${String(samples)} x ${String(seqlen)} calibration tokens`);
    const progress = ctx.progress();
    let report: PruneReport;
    try {
      report = await asyncUsage(() => pruneModel(model, batches, lib, {
        onProgress: (p) => {
          progress.update({ stage: 'prune', done: p.layersDone, total, info: { block: `${String(p.block + 1)}/${String(p.blocks)}`, phase: p.phase } });
        },
      }));
      progress.update({ stage: 'prune', done: total, total });
    } finally {
      progress.finish();
    }
    const tPrune = performance.now();
    ensureDir(o.out, PRUNE_OUTPUTS, o.force);
    const packedLayers = report.options.pattern === 'unstructured' ? {} : packLayers(model, report.options);
    const layers: PruneLayerRow[] = report.layers.map((l) => {
      const p = packedLayers[l.name] as PackedNM | undefined;
      return { ...l, bitsPerWeight: p === undefined ? null : bitsPerWeight(p) };
    });
    let packed: PruneCliReport['packed'];
    if (Object.keys(packedLayers).length > 0) {
      const w = await savePacked(join(o.out, 'packed.safetensors'), packedLayers, { source: o.model, options: report.options });
      packed = { path: w.path, sidecar: w.sidecar, bytes: w.bytes };
    } else {
      packed = { path: null, reason: 'unstructured sparsity has no packed N:M format; model.safetensors holds the masked weights' };
    }
    // The dense checkpoint holds the masked weights (MaskedLinear keeps W ⊙ M in its weight), so every reader of HF
    // checkpoints (sift eval ppl, sift lm generate, transformers) loads it unchanged.
    await saveCheckpoint(model, o.out);
    await copyTokenizer(o.model, o.out);
    const tSave = performance.now();
    const out: PruneCliReport = {
      command: 'prune', model: o.model, out: o.out, options: report.options,
      calibration: { split, genres, samples, seqlen, seed, tokens: calib.tokens },
      layers, sparsity: report.sparsity, bitsPerWeight: weightedBits(layers),
      prunedParameters: layers.reduce((s, l) => s + l.shape[0] * l.shape[1], 0), packed,
      timeMs: { load: tLoad - t0, prune: tPrune - tLoad, save: tSave - tPrune, total: tSave - t0 },
    };
    await writeJson(join(o.out, 'report.json'), out);
    return out;
  } finally {
    tf.dispose(batches);
    model.dispose();
  }
}

/** Like `asUsage`, for a promise. */
async function asyncUsage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return asUsage(() => {
      throw err;
    });
  }
}

function printPrune(r: PruneCliReport, ctx: CommandContext): void {
  if (ctx.globals().json) {
    ctx.io.out(JSON.stringify(r, null, 2));
    return;
  }
  const rows = r.layers.map((l) => [
    l.name, `${String(l.shape[0])}x${String(l.shape[1])}`, fmt(l.sparsity, 3), fmt(l.salientFraction, 3), l.reconstructionError === null ? '-' : l.reconstructionError.toPrecision(3),
    l.bitsPerWeight === null ? '-' : fmt(l.bitsPerWeight.total, 3), fmt(l.timeMs, 0),
  ]);
  ctx.io.out(formatTable(['layer', 'shape', 'sparsity', 'salient', 'rel. error', 'bits/w', 'ms'], rows));
  const bits = r.bitsPerWeight === null ? '' : `, ${r.bitsPerWeight.total.toFixed(3)} bits per weight at fp16 (metadata ${r.bitsPerWeight.metadata.toFixed(3)})`;
  ctx.io.out(`\npruned ${String(r.layers.length)} layers (${(r.prunedParameters / 1e6).toFixed(3)} M weights) with ${r.options.method} at ${r.options.pattern}: ` +
    `sparsity ${r.sparsity.toFixed(4)}${bits}, in ${(r.timeMs.total / 1000).toFixed(1)} s; saved in ${r.out}`);
}

/** Registers `sift prune`. */
export function registerPrune(program: Command, ctx: CommandContext): void {
  const d = PRUNE_MODEL_DEFAULTS;
  addCalibrationOptions(program.command('prune')
    .description('Prune a checkpoint to N:M or unstructured sparsity (magnitude, Wanda, SparseGPT) with salient weights and corrections; ' +
      'writes a packed checkpoint, a masked dense checkpoint (for `sift eval ppl`) and report.json.')
    .requiredOption('--model <dir>', 'checkpoint folder: config.json, model.safetensors, tokenizer.json')
    .requiredOption('--out <dir>', `output folder: ${PRUNE_OUTPUTS.join(', ')}`)
    .option('--pattern <p>', 'N:M along the input dimension (2:4, 4:8, 8:16, 16:32) or unstructured', d.pattern)
    .option('--method <name>', `pruning criterion: ${METHODS.join(', ')}`, d.method)
    .option('--sparsity <f>', 'fraction pruned, unstructured only (N:M implies 1 - N/M)', parseNumberOption('--sparsity'), d.sparsity)
    .option('--scope <s>', `unstructured comparison group: ${SCOPES.join(', ')}`, d.scope)
    .option('--block-size <n>', 'SparseGPT columns per block of OBS updates (a multiple of M)', parseIntOption('--block-size'), d.blockSize)
    .option('--damp-percent <f>', 'SparseGPT damping: this fraction of mean(diag H) is added to H', parseNumberOption('--damp-percent'), d.dampPercent)
    .option('--salient-fraction <rho>', 'fraction of weights kept dense beside the sparse part (e.g. 0.03125 = 1/32); 0 = none', parseNumberOption('--salient-fraction'), d.salientFraction)
    .option('--salient-pattern <p>', `salient layout: ${SALIENT_PATTERNS.join(', ')} (structured = k:M' along the input dimension)`, d.salientPattern)
    .option('--salient-group <m>', "M' of the structured salient pattern (k = rho * M' must be whole)", parseIntOption('--salient-group'), d.salientGroup)
    .option('--salient-extra', 'salient weights come on top of the N kept per group instead of counting toward N', false)
    .option('--variance-correction <c>', `variance correction: ${CORRECTIONS.join(', ')}`, d.varianceCorrection)
    .option('--mean-fix', 'data-driven correction only: also shift the bias to match the output mean', false)
    .option('--equalize <alpha>', 'SmoothQuant-like equalization strength in [0, 1] before pruning (0.5 in the paper), folded into the norms', parseNumberOption('--equalize'))
    .option('--include <globs>', 'block-relative globs of linears to prune, comma-separated (default: all)')
    .option('--exclude <globs>', 'block-relative globs of linears to keep dense, comma-separated'), 'calibration windows (SparseGPT: 128)')
    .option('--force', 'overwrite existing outputs in --out', false)
    .addHelpText('after', [
      '', 'Calibration windows are drawn from the Brown corpus with the global --seed.', '', 'Examples:',
      '  $ sift prune --model models/small --out models/small-8x16 --pattern 8:16 --method sparsegpt',
      '  $ sift prune --model models/small --out models/small-2x4 --pattern 2:4 --method wanda --salient-fraction 0.03125 --variance-correction data-free',
      '  $ sift prune --model models/small --out models/small-u50 --pattern unstructured --sparsity 0.5 --method magnitude',
      '  $ sift --seed 1 --json prune --model models/tiny --out /tmp/p --calib-samples 16',
    ].join('\n'))
    .action(async (opts: PruneCliOptions) => {
      printPrune(await runPrune(opts, ctx), ctx);
    });
}
