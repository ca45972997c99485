// The GIFT-SW experiment (issue 7): a Llama-style `small` pre-trained on all Brown genres but one, adapted to the
// held-out genre (the "new task"); new-task test perplexity and next-sentence multiple-choice accuracy (@sift/eval),
// and forgetting = perplexity on the old genres' test text.
//   outliers: max/median over channels of max|x_j| at every linear's input (is there anything salient to find?)
//   adapt:    equal-budget adaptation: GIFT-SW vs salient FT without noise vs random columns (with noise) vs LoRA vs
//             DoRA (per-layer rank from loraRankForBudget) vs full FT with and without noise
//   ptq:      PTQ at 4/3/2 bits keeping k full-precision columns per linear chosen by each metric (gift-sw, quik,
//             owq, wanda) vs random vs none; no training
//   recovery: at 4/3/2 bits: PTQ alone, Post-GIFT-SW, salient FT, Pre-GIFT-SW, STE (QAT), LoRA on the quantized model
// Seeds drive the calibration windows, the data order, noise, random columns and adapter init; mean ± std over seeds.
// Writes results.md, results.json and SVG plots.
//   npx tsx tools/gift-experiment/experiment.ts --base <dir> [--new-genre learned] [--part all] [--out dir]
//   options: --seeds 3, --steps 150, --batch 8, --k 8, --quant gptq|rtn, --calib 128, --test-windows 0 (0 = all),
//            --old-windows 80, --mc-items 200, --lr-salient 1e-3, --lr-adapter 3e-4, --lr-full 3e-4,
//            --methods a,b (subset of any part), --bits 4,3,2, --threads 2,
//            --quick (a smoke test: the tiny preset trained here for 40 steps into $TMPDIR/sift-gift-experiment, 2 seeds,
//              4 steps of 4 x 64 bytes, bits 4,2, 8 test windows, 16 MC items, k 4; ~3 min on 2 cores),
//            --shard i/n (every n-th run into <out>/runs-i.json), --merge (report from the shards' runs)
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@sift/backend';
import {
  buildNextSentenceTask, evaluateMultipleChoice, perplexity, renderVegaLiteSvg, summarize, type MultipleChoiceTask,
} from '@sift/eval';
import {
  applyDora, applyFullFineTuning, applyGiftSw, applyLora, applySte, collectLinearStats, fineTune, giftModeOptions,
  loraRankForBudget, mergeAdapters, quantizeModel, randomColumns, selectSalientColumns, type QuantBits,
} from '@sift/gift-sw';
import {
  BROWN_GENRES, encodeDocuments, loadBrownSplit, loadCheckpoint, loadTokenizer, sampleWindows, sequentialWindows, trainPreset,
  type CausalLM, type Tokenizer,
} from '@sift/lm';
import { Rng, findLinears, writeFileAtomic, type ActivationStats, type Linear } from '@sift/tensor-core';
import * as tf from '@tensorflow/tfjs-core';

// ------------------------------------------------------------------------------------------------ arguments
const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const num = (name: string, fallback: number): number => {
  const v = arg(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got "${v}"`);
  return n;
};
const quick = args.includes('--quick');
const here = fileURLToPath(new URL('.', import.meta.url));
const PARTS = ['outliers', 'adapt', 'ptq', 'recovery'] as const;
type Part = (typeof PARTS)[number];
const partArg = arg('--part') ?? 'all';
const parts: Part[] = partArg === 'all' ? [...PARTS] : partArg.split(',').map((p) => {
  if (!(PARTS as readonly string[]).includes(p)) throw new Error(`--part must be ${PARTS.join('|')}|all (comma-separated), got "${p}"`);
  return p as Part;
});
const newGenreArg = arg('--new-genre') ?? 'learned';
const newGenreInfo = BROWN_GENRES.find((g) => g.category === newGenreArg || g.genre === newGenreArg.toUpperCase());
if (newGenreInfo === undefined) throw new Error(`--new-genre: unknown Brown genre "${newGenreArg}"; genres: ${BROWN_GENRES.map((g) => g.category).join(', ')}`);
const NEW_GENRE = newGenreInfo.category;
const OLD_GENRES = BROWN_GENRES.filter((g) => g.category !== NEW_GENRE).map((g) => g.category);
const out = arg('--out') ?? join(here, quick ? 'results-quick' : 'results');
const threads = num('--threads', 2);
const seeds = Array.from({ length: num('--seeds', quick ? 2 : 3) }, (_, i) => i);
const STEPS = num('--steps', quick ? 4 : 150);
const BATCH = num('--batch', quick ? 4 : 8);
const K = num('--k', quick ? 4 : 8);
const quantArg = arg('--quant') ?? 'gptq';
if (quantArg !== 'gptq' && quantArg !== 'rtn') throw new Error(`--quant must be gptq or rtn, got "${quantArg}"`);
const QUANT: 'gptq' | 'rtn' = quantArg;
const CALIB = num('--calib', quick ? 16 : 128);
const TEST_WINDOWS = num('--test-windows', quick ? 8 : 0);
const OLD_WINDOWS = num('--old-windows', quick ? 8 : 80);
const MC_ITEMS = num('--mc-items', quick ? 16 : 200);
const LR = { salient: num('--lr-salient', quick ? 3e-3 : 1e-3), adapter: num('--lr-adapter', quick ? 1e-3 : 3e-4), full: num('--lr-full', quick ? 1e-3 : 3e-4) };
const BITS = (arg('--bits') ?? (quick ? '4,2' : '4,3,2')).split(',').map(Number) as QuantBits[];
const methodFilter = arg('--methods')?.split(',');
const [shard, shards] = (arg('--shard') ?? '0/1').split('/').map(Number);
const merge = args.includes('--merge');
const log = (s: string): void => { process.stderr.write(`${s}\n`); };

// ------------------------------------------------------------------------------------------------ base model
let baseDir = arg('--base');
if (quick) {
  // A tiny Llama on bytes, trained here on the old genres in seconds (cached by genre).
  baseDir ??= join(tmpdir(), 'sift-gift-experiment', `tiny-without-${NEW_GENRE}`);
} else if (baseDir === undefined || !existsSync(join(baseDir, 'model.safetensors'))) {
  process.stderr.write(`usage: npx tsx tools/gift-experiment/experiment.ts --base <dir> [--new-genre ${NEW_GENRE}] [--part all] [--out dir] [--quick]\n` +
    `  ${baseDir === undefined ? 'no --base given' : `no model in ${baseDir}`}; pre-train \`small\` on every Brown genre but ${NEW_GENRE} with\n` +
    `  pnpm sift lm train --preset small --genres ${OLD_GENRES.join(',')} --out ${baseDir ?? 'models/small-without-' + NEW_GENRE}\n`);
  process.exit(2);
}
const info = await initBackend({ prefer: ['wasm'], threads });
log(`backend ${info.name} (${info.device}); new genre ${NEW_GENRE}, old genres ${OLD_GENRES.join(',')}`);
if (quick && !existsSync(join(baseDir, 'model.safetensors'))) {
  log(`quick: training the tiny preset on the old genres into ${baseDir}`);
  const t = performance.now();
  await trainPreset('tiny', { outDir: baseDir, genres: OLD_GENRES, train: { steps: 40, warmupSteps: 4, evalBatches: 2, checkpointEvery: 0, logEvery: 20 } });
  log(`  trained in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const tokenizer: Tokenizer = await loadTokenizer(join(baseDir, 'tokenizer.json'));
const baseConfig = JSON.parse(readFileSync(join(baseDir, 'config.json'), 'utf8')) as { max_position_embeddings: number };
const SEQLEN = Math.min(128, baseConfig.max_position_embeddings);
const baseReportPath = join(baseDir, 'report.json');
const baseReport = existsSync(baseReportPath)
  ? JSON.parse(readFileSync(baseReportPath, 'utf8')) as { preset?: string; training?: { steps?: number }; streamTokens?: { train?: number } }
  : {};

// ------------------------------------------------------------------------------------------------ data
await mkdir(out, { recursive: true });
const oldTrain = encodeDocuments(tokenizer, await loadBrownSplit({ split: 'train', genres: OLD_GENRES }));
const oldTestAll = encodeDocuments(tokenizer, await loadBrownSplit({ split: 'test', genres: OLD_GENRES }));
// trainPreset records its train stream's length: equal to the old genres' stream iff it trained on exactly those genres.
const baseTrainTokens = baseReport.streamTokens?.train;
const baseGenresOk = baseTrainTokens === oldTrain.length;
if (!baseGenresOk) {
  log(`WARNING: the base model's report.json says it trained on ${String(baseTrainTokens ?? '?')} tokens, but the Brown train split of every genre but ${NEW_GENRE} ` +
    `has ${String(oldTrain.length)}: it may have seen ${NEW_GENRE} (train it with --genres ${OLD_GENRES.join(',')})`);
}
const oldTest = OLD_WINDOWS > 0 ? oldTestAll.subarray(0, Math.min(oldTestAll.length, OLD_WINDOWS * SEQLEN)) : oldTestAll;
const newTrainDocs = await loadBrownSplit({ split: 'train', genres: [NEW_GENRE] });
// The new genre never reaches pre-training, so both of its held-out splits (validation + test) are its test set.
const newHeldDocs = [...await loadBrownSplit({ split: 'validation', genres: [NEW_GENRE] }), ...await loadBrownSplit({ split: 'test', genres: [NEW_GENRE] })];
const newTrain = encodeDocuments(tokenizer, newTrainDocs);
const newTestAll = encodeDocuments(tokenizer, newHeldDocs);
const newTest = TEST_WINDOWS > 0 ? newTestAll.subarray(0, Math.min(newTestAll.length, TEST_WINDOWS * SEQLEN)) : newTestAll;
const trainWindows = sequentialWindows(newTrain, { length: SEQLEN });
const epochSteps = Math.floor(trainWindows.shape[0] / BATCH);
log(`new genre ${NEW_GENRE}: ${String(newTrainDocs.length)} train documents (${String(newTrain.length)} tokens, ${String(trainWindows.shape[0])} windows of ${String(SEQLEN)}: ` +
  `${String(epochSteps)} steps of ${String(BATCH)} per epoch; ${String(STEPS)} steps = ${(STEPS / epochSteps).toFixed(2)} epochs), ` +
  `${String(newHeldDocs.length)} held-out documents (${String(newTest.length)} of ${String(newTestAll.length)} tokens scored); old-genre test ${String(oldTest.length)} of ${String(oldTestAll.length)} tokens`);

/** The same sentence splitter as `sift eval mc` (apps/cli eval-data.ts): paragraphs, then ./?/! before a capital. */
function splitSentences(text: string): string[] {
  const res: string[] = [];
  for (const para of text.split(/\n\s*\n/u)) {
    const p = para.replace(/\s+/gu, ' ').trim();
    if (p === '') continue;
    for (const s of p.split(/(?<=[.?!]["')\]]*)\s+(?=["'([]?[A-Z0-9])/u)) {
      const t = s.trim();
      if (t.split(' ').length >= 3) res.push(t);
    }
  }
  return res;
}
const maxChoice = Math.floor(SEQLEN / 2);
const rawTask = buildNextSentenceTask(newHeldDocs.map((d) => splitSentences(d.text)), {
  seed: 0, itemsPerDocument: Math.ceil(MC_ITEMS / newHeldDocs.length), name: `next-sentence (${NEW_GENRE})`,
});
// As `sift eval mc`: a choice longer than half the context keeps its first tokens (the same cut for every model).
const mcTask: MultipleChoiceTask = {
  name: rawTask.name,
  items: rawTask.items.slice(0, MC_ITEMS).map((it) => ({
    ...it,
    choices: it.choices.map((c) => {
      const ids = tokenizer.encode(` ${c}`);
      return ids.length <= maxChoice ? c : tokenizer.decode(ids.slice(0, maxChoice)).trimStart();
    }),
  })),
};

function calibration(seed: number): tf.Tensor2D[] {
  const w = sampleWindows(oldTrain, { count: CALIB, length: SEQLEN, seed });
  const batches: tf.Tensor2D[] = [];
  for (let i = 0; i < CALIB; i += BATCH) {
    const n = Math.min(BATCH, CALIB - i);
    batches.push(tf.tensor2d(w.data.subarray(i * SEQLEN, (i + n) * SEQLEN), [n, SEQLEN], 'int32'));
  }
  return batches;
}

/** Input statistics (max|x|, ‖x‖², and the Gram matrix for GPTQ) of every block linear on old-genre calibration windows. */
async function linearStats(model: CausalLM, seed: number, gram: boolean): Promise<Map<string, ActivationStats>> {
  const batches = calibration(seed);
  try {
    return await collectLinearStats(model, { include: ['**'], exclude: ['lm_head'] }, () => {
      for (const b of batches) tf.dispose(tf.tidy(() => model.forward(b)));
    }, { gram });
  } finally {
    tf.dispose(batches);
  }
}
const disposeStats = (s: Map<string, ActivationStats>): void => { for (const v of s.values()) v.dispose(); };

interface Scores { newPpl: number; oldPpl: number; mcAcc: number | null; mcAccNorm: number | null }
async function evaluate(model: CausalLM, mc: boolean): Promise<Scores> {
  model.eval();
  const newPpl = (await perplexity(model, newTest, { mode: 'windows', seqlen: SEQLEN, batchSize: BATCH })).perplexity;
  const oldPpl = (await perplexity(model, oldTest, { mode: 'windows', seqlen: SEQLEN, batchSize: BATCH })).perplexity;
  if (!mc) return { newPpl, oldPpl, mcAcc: null, mcAccNorm: null };
  const r = await evaluateMultipleChoice(model, tokenizer, [mcTask], { batchSize: BATCH, ...(tokenizer.eotId === undefined ? {} : { prefixToken: tokenizer.eotId }) });
  return { newPpl, oldPpl, mcAcc: r.tasks[0].acc, mcAccNorm: r.tasks[0].accNorm };
}

// ------------------------------------------------------------------------------------------------ methods
const blockLinears = (model: CausalLM): [string, Linear][] => findLinears(model, { include: ['**'], exclude: ['lm_head'] });

/** k salient columns per linear by a metric (D at `bits`), or random ones. */
function columnsBy(model: CausalLM, stats: Map<string, ActivationStats>, metric: string, bits: QuantBits, seed: number): Record<string, Int32Array> {
  const res: Record<string, Int32Array> = {};
  const rng = new Rng(seed).fork('random-columns');
  for (const [name, lin] of blockLinears(model)) {
    const s = stats.get(name);
    if (s === undefined) throw new Error(`no statistics for ${name}`);
    res[name] = metric === 'random'
      ? randomColumns(lin.inFeatures, K, rng.fork(name))
      : selectSalientColumns(lin.weight as unknown as tf.Tensor2D, s, { k: K, bits, metric: metric as 'gift-sw' }).columns;
  }
  return res;
}

/**
 * LoRA/DoRA with each linear's rank from loraRankForBudget(k, out, in) (the budget of k salient columns). applyLora
 * takes one rank, so it runs once per rank on those linears; each call freezes the whole model (model.freeze()), which
 * also freezes the adapters of the earlier calls, so the adapter parameters are unfrozen again afterwards.
 */
function applyBudgetLora(model: CausalLM, kind: 'lora' | 'dora', seed: number): { trainable: number; ranks: Record<string, number> } {
  const byRank = new Map<number, string[]>();
  const ranks: Record<string, number> = {};
  for (const [name, lin] of blockLinears(model)) {
    const r = loraRankForBudget(K, lin.outFeatures, lin.inFeatures);
    ranks[name] = r;
    byRank.set(r, [...(byRank.get(r) ?? []), name]);
  }
  for (const [rank, names] of byRank) {
    const o = { rank, alpha: 2 * rank, dropout: 0.05, seed, targets: names, exclude: [] };
    if (kind === 'lora') applyLora(model, o);
    else applyDora(model, o);
  }
  for (const [name, v] of model.namedParameters()) if (/\.(lora_A|lora_B|magnitude)$/u.test(name)) v.trainable = true;
  return { trainable: model.numParameters({ trainableOnly: true }), ranks };
}

/** Fine-tunes on the new genre: `STEPS` batches of non-overlapping windows in a seeded order (one pass when they suffice). */
async function train(model: CausalLM, lr: number, seed: number): Promise<{ msPerStep: number; firstLoss: number; lastLoss: number }> {
  const order = new Rng(seed).fork('data-order').permutation(trainWindows.shape[0]);
  let current: tf.Tensor2D | null = null;
  const batch = (step: number): tf.Tensor2D => {
    current?.dispose();
    const ids = new Int32Array(BATCH * SEQLEN);
    for (let b = 0; b < BATCH; b++) {
      const w = order[(step * BATCH + b) % order.length];
      ids.set(trainWindows.data.subarray(w * SEQLEN, (w + 1) * SEQLEN), b * SEQLEN);
    }
    current = tf.tensor2d(ids, [BATCH, SEQLEN], 'int32');
    return current;
  };
  try {
    const r = await fineTune(model, (b: tf.Tensor2D) => model.loss(b), batch, { steps: STEPS, lr, schedule: 'cosine', warmupRatio: 0.03 });
    return { msPerStep: r.msPerStep, firstLoss: r.losses[0], lastLoss: r.losses[r.losses.length - 1] };
  } finally {
    (current as tf.Tensor2D | null)?.dispose();
  }
}

type Method = string;
const ADAPT_METHODS = ['gift-sw', 'salient-ft', 'random-columns', 'lora', 'dora', 'full-ft', 'full-ft-noise'] as const;
const PTQ_METRICS = ['none', 'random', 'quik', 'owq', 'wanda', 'gift-sw'] as const;
const RECOVERY_METHODS = ['ptq', 'post-gift-sw', 'salient-ft', 'pre-gift-sw', 'ste', 'lora'] as const;
const LABEL: Record<string, string> = {
  'gift-sw': 'GIFT-SW (salient cols + 4-bit noise)', 'salient-ft': 'salient FT (no noise)', 'random-columns': 'random columns + noise',
  lora: 'LoRA', dora: 'DoRA', 'full-ft': 'full FT', 'full-ft-noise': 'full FT + noise', ptq: 'PTQ alone',
  'post-gift-sw': 'Post-GIFT-SW', 'pre-gift-sw': 'Pre-GIFT-SW', ste: 'STE (QAT)', none: 'none (k = 0)', random: 'random', quik: 'QUIK ‖X‖∞',
  owq: 'OWQ ‖D‖₂²‖X‖₂²', wanda: 'Wanda-style ‖W‖₁‖X‖₂',
};
const PTQ_LABEL: Record<string, string> = { ...LABEL, 'gift-sw': 'GIFT-SW ‖D‖∞‖X‖∞' };
const RECOVERY_LABEL: Record<string, string> = { ...LABEL, lora: 'LoRA on the quantized model', 'salient-ft': 'salient FT (after PTQ, no noise)' };

interface Run {
  part: Part; method: Method; bits: number | null; seed: number; scores: Scores; trainable: number; total: number;
  msPerStep: number | null; firstLoss: number | null; lastLoss: number | null; seconds: number; note?: string;
}

function quantize(model: CausalLM, stats: Map<string, ActivationStats>, bits: QuantBits, salient: Record<string, ArrayLike<number>> | undefined, k = K): void {
  quantizeModel(model, { bits, method: QUANT, k, metric: 'gift-sw', exclude: ['lm_head'] }, { stats, ...(salient === undefined ? {} : { salient }) });
}

async function runOne(part: Part, method: Method, bits: QuantBits | null, seed: number): Promise<Run> {
  const t0 = performance.now();
  const { model } = await loadCheckpoint(baseDir!);
  const needGram = part !== 'adapt' && QUANT === 'gptq';
  const stats = await linearStats(model, seed, needGram);
  let trained: Awaited<ReturnType<typeof train>> | null = null;
  let trainable = 0;
  let note: string | undefined;
  const total = model.numParameters();
  const gift = (opts: Parameters<typeof applyGiftSw>[1], salient?: Record<string, ArrayLike<number>>): number =>
    applyGiftSw(model, { ...opts, k: K, seed, exclude: ['lm_head'] }, { stats, ...(salient === undefined ? {} : { salient }) }).trainableParams;
  try {
    if (part === 'adapt') {
      let lr = LR.salient;
      if (method === 'gift-sw' || method === 'salient-ft' || method === 'random-columns') trainable = gift(giftModeOptions(method, 4));
      else if (method === 'lora' || method === 'dora') {
        const r = applyBudgetLora(model, method, seed);
        trainable = r.trainable;
        lr = LR.adapter;
        note = `ranks ${[...new Set(Object.values(r.ranks))].join('/')}`;
      } else {
        trainable = applyFullFineTuning(model, { noise: method === 'full-ft-noise', noiseBits: 4, seed, exclude: ['lm_head'] }).trainableParams;
        lr = LR.full;
      }
      trained = await train(model, lr, seed);
      mergeAdapters(model);
    } else if (part === 'ptq') {
      const b = bits!;
      if (method === 'none') quantize(model, stats, b, undefined, 0);
      else quantize(model, stats, b, columnsBy(model, stats, method, b, seed));
    } else {
      const b = bits!;
      if (method === 'ptq') quantize(model, stats, b, undefined);
      else if (method === 'post-gift-sw' || method === 'salient-ft') {
        const cols = columnsBy(model, stats, 'gift-sw', b, seed);
        quantize(model, stats, b, cols);
        trainable = gift(giftModeOptions(method === 'post-gift-sw' ? 'post-gift-sw' : 'salient-ft', b), cols);
        trained = await train(model, LR.salient, seed);
        mergeAdapters(model);
      } else if (method === 'pre-gift-sw') {
        const cols = columnsBy(model, stats, 'gift-sw', b, seed);
        trainable = gift(giftModeOptions('pre-gift-sw', b), cols);
        trained = await train(model, LR.salient, seed);
        mergeAdapters(model);
        // GPTQ's Hessian from the fine-tuned model, on the same calibration windows.
        const after = needGram ? await linearStats(model, seed, true) : stats;
        try {
          quantize(model, after, b, cols);
        } finally {
          if (after !== stats) disposeStats(after);
        }
      } else if (method === 'ste') {
        trainable = applySte(model, { bits: b, exclude: ['lm_head'] }, columnsBy(model, stats, 'gift-sw', b, seed)).trainableParams;
        trained = await train(model, LR.full, seed);
        mergeAdapters(model);
      } else if (method === 'lora') {
        quantize(model, stats, b, columnsBy(model, stats, 'gift-sw', b, seed));
        const r = applyBudgetLora(model, 'lora', seed);
        trainable = r.trainable;
        trained = await train(model, LR.adapter, seed);
        note = 'adapters kept unmerged (FP beside the quantized weights)';
      } else throw new Error(`unknown recovery method ${method}`);
    }
    const scores = await evaluate(model, part !== 'ptq');
    return {
      part, method, bits, seed, scores, trainable, total, msPerStep: trained?.msPerStep ?? null, firstLoss: trained?.firstLoss ?? null,
      lastLoss: trained?.lastLoss ?? null, seconds: (performance.now() - t0) / 1000, ...(note === undefined ? {} : { note }),
    };
  } finally {
    disposeStats(stats);
    model.dispose();
  }
}

// ------------------------------------------------------------------------------------------------ baseline + outliers
interface OutlierRow { layer: string; maxOverMedian: number; kurtosis: number; max: number }
interface Baseline { base: Scores; totalParams: number; outliers: OutlierRow[]; seconds: number }
const t0 = performance.now();
const baselinePath = join(out, 'baseline.json');
let baseline: Baseline;
if ((merge || shard > 0) && existsSync(baselinePath)) {
  baseline = JSON.parse(readFileSync(baselinePath, 'utf8')) as Baseline;
} else {
  const t = performance.now();
  const { model } = await loadCheckpoint(baseDir);
  const stats = await linearStats(model, 0, false);
  const outliers: OutlierRow[] = [];
  for (const [layer, s] of stats) {
    const mx = Array.from(s.maxAbs()).sort((a, b) => a - b);
    const norms = Array.from(s.sqNorm(), Math.sqrt);
    const mean = norms.reduce((a, b) => a + b, 0) / norms.length;
    const m2 = norms.reduce((a, b) => a + (b - mean) ** 2, 0) / norms.length;
    const m4 = norms.reduce((a, b) => a + (b - mean) ** 4, 0) / norms.length;
    outliers.push({ layer, maxOverMedian: mx[mx.length - 1] / mx[Math.floor(mx.length / 2)], kurtosis: m4 / (m2 * m2), max: mx[mx.length - 1] });
  }
  disposeStats(stats);
  baseline = { base: await evaluate(model, parts.some((p) => p !== 'outliers')), totalParams: model.numParameters(), outliers, seconds: (performance.now() - t) / 1000 };
  model.dispose();
  await writeFileAtomic(baselinePath, JSON.stringify(baseline, null, 1));
}
const { base, outliers } = baseline;
log(`base: new-genre ppl ${base.newPpl.toFixed(2)}, old-genre ppl ${base.oldPpl.toFixed(2)}, MC acc ${base.mcAcc?.toFixed(3) ?? '-'}`);

// ------------------------------------------------------------------------------------------------ runs
const keep = (m: string): boolean => methodFilter === undefined || methodFilter.includes(m);
const plan: { part: Part; method: Method; bits: QuantBits | null; seed: number }[] = [];
for (const seed of seeds) {
  if (parts.includes('adapt')) for (const m of ADAPT_METHODS) if (keep(m)) plan.push({ part: 'adapt', method: m, bits: null, seed });
  for (const bits of BITS) {
    if (parts.includes('ptq')) for (const m of PTQ_METRICS) if (keep(m)) plan.push({ part: 'ptq', method: m, bits, seed });
    if (parts.includes('recovery')) for (const m of RECOVERY_METHODS) if (keep(m)) plan.push({ part: 'recovery', method: m, bits, seed });
  }
}
log(`${String(plan.length)} runs`);
const runs: Run[] = [];
const started = performance.now();
const mine = merge ? [] : plan.filter((_, i) => i % shards === shard);
if (merge) {
  for (let i = 0; existsSync(join(out, `runs-${String(i)}.json`)); i++) runs.push(...(JSON.parse(readFileSync(join(out, `runs-${String(i)}.json`), 'utf8')) as { runs: Run[] }).runs);
  log(`merged ${String(runs.length)} runs of ${String(plan.length)} planned`);
}
for (const [i, p] of mine.entries()) {
  const r = await runOne(p.part, p.method, p.bits, p.seed);
  runs.push(r);
  const el = (performance.now() - started) / 1000;
  log(`[${String(i + 1)}/${String(mine.length)}] ${p.part} ${p.method}${p.bits === null ? '' : ` ${String(p.bits)}-bit`} seed ${String(p.seed)}: ` +
    `new ppl ${r.scores.newPpl.toFixed(2)}, old ppl ${r.scores.oldPpl.toFixed(2)}${r.scores.mcAcc === null ? '' : `, MC ${r.scores.mcAcc.toFixed(3)}`}, ` +
    `trainable ${String(r.trainable)}${r.msPerStep === null ? '' : `, ${r.msPerStep.toFixed(0)} ms/step`}, ${r.seconds.toFixed(1)} s; ETA ${((el / (i + 1)) * (mine.length - i - 1) / 60).toFixed(1)} min`);
  await writeFileAtomic(join(out, `runs-${String(shard)}.json`), JSON.stringify({ runs }, null, 1));
}
if (shards > 1 && !merge) {
  log(`shard ${String(shard)}/${String(shards)} done: ${String(runs.length)} runs in ${out}; run with --merge for the report`);
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------ report
interface Stat { mean: number; std: number; n: number }
interface Cell { part: Part; method: Method; bits: number | null; newPpl: Stat; oldPpl: Stat; mcAcc: Stat | null; mcAccNorm: Stat | null; trainable: number; msPerStep: number | null; note?: string }
const stat = (xs: number[]): Stat => {
  const s = summarize(xs);
  return { mean: s.mean, std: xs.length > 1 ? s.std : 0, n: xs.length };
};
const cells: Cell[] = [];
const groups = new Map<string, Run[]>();
for (const r of runs) {
  const key = `${r.part}|${r.method}|${String(r.bits)}`;
  groups.set(key, [...(groups.get(key) ?? []), r]);
}
for (const rs of groups.values()) {
  const r0 = rs[0];
  const mc = rs.every((r) => r.scores.mcAcc !== null);
  const ms = rs.flatMap((r) => (r.msPerStep === null ? [] : [r.msPerStep]));
  cells.push({
    part: r0.part, method: r0.method, bits: r0.bits, newPpl: stat(rs.map((r) => r.scores.newPpl)), oldPpl: stat(rs.map((r) => r.scores.oldPpl)),
    mcAcc: mc ? stat(rs.map((r) => r.scores.mcAcc!)) : null, mcAccNorm: mc ? stat(rs.map((r) => r.scores.mcAccNorm!)) : null,
    trainable: r0.trainable, msPerStep: ms.length === 0 ? null : ms.reduce((a, b) => a + b, 0) / ms.length, ...(r0.note === undefined ? {} : { note: r0.note }),
  });
}
const cell = (part: Part, method: string, bits: number | null): Cell | undefined => cells.find((c) => c.part === part && c.method === method && c.bits === bits);
const f = (s: Stat | null | undefined, d = 2): string => (s === null || s === undefined ? '—' : s.n > 1 ? `${s.mean.toFixed(d)} ± ${s.std.toFixed(d)}` : s.mean.toFixed(d));
const pct = (s: Stat | null | undefined): string => (s === null || s === undefined ? '—' : s.n > 1 ? `${(100 * s.mean).toFixed(1)} ± ${(100 * s.std).toFixed(1)}` : (100 * s.mean).toFixed(1));
const forget = (c: Cell): string => `${c.oldPpl.mean >= base.oldPpl ? '+' : ''}${(100 * (c.oldPpl.mean / base.oldPpl - 1)).toFixed(1)}%`;
const md: string[] = [];
md.push(`# GIFT-SW on a Brown genre shift${quick ? ' (quick)' : ''}`, '');
const computeMin = (runs.reduce((a, r) => a + r.seconds, 0) + baseline.seconds) / 60;
md.push(`Generated by \`npx tsx tools/gift-experiment/experiment.ts ${args.join(' ')}\`: ${computeMin.toFixed(1)} min of run time summed over the runs${merge ? ` (merging the shards: ${((performance.now() - t0) / 60000).toFixed(1)} min)` : ''} (wasm, ${String(threads)} thread${threads === 1 ? "" : "s"} per process).`, '');
md.push(`Base model: \`${baseDir}\` (preset ${baseReport.preset ?? '?'}, ${String(baseReport.training?.steps ?? '?')} pre-training steps, ${(baseline.totalParams / 1e6).toFixed(3)} M parameters), ` +
  (baseGenresOk ? `pre-trained on the Brown train split of ${String(OLD_GENRES.length)} genres (all but **${NEW_GENRE}**). `
    : `**not verified to be pre-trained without ${NEW_GENRE}** (its report.json lists ${String(baseTrainTokens ?? '?')} train tokens; the old genres have ${String(oldTrain.length)}). `) +
  `New task: language modelling of ${NEW_GENRE} — ` +
  `fine-tuning on its ${String(newTrainDocs.length)} train documents (${String(newTrain.length)} tokens), ${String(STEPS)} steps of ${String(BATCH)} × ${String(SEQLEN)} tokens ` +
  `(${(STEPS / epochSteps).toFixed(2)} epochs of non-overlapping windows in a seeded order), AdamW (no weight decay), cosine with 3% warm-up, clip 1. ` +
  `Scores: test perplexity on ${NEW_GENRE}'s ${String(newHeldDocs.length)} held-out documents (validation + test split, ${String(newTest.length)} tokens, windows of ${String(SEQLEN)}), ` +
  `next-sentence multiple choice on the same documents (${String(mcTask.items.length)} items, 4 choices, chance 25%; acc and length-normalised acc_norm), and ` +
  `forgetting = perplexity on the old genres' test split (${String(oldTest.length)} tokens). Seeds ${seeds.join(', ')} (calibration windows, data order, noise, random columns, adapter init); mean ± std.`, '');
md.push(`Budget: k = ${String(K)} salient columns in every block linear (q/k/v/o/gate/up/down; the tied embedding/head, norms frozen); LoRA/DoRA rank per linear ` +
  `= loraRankForBudget(k, out, in), α = 2r, dropout 0.05. Learning rates (the paper's ratio of ~3×): salient columns ${String(LR.salient)}, LoRA/DoRA ${String(LR.adapter)}, ` +
  `full FT and STE ${String(LR.full)}. Quantization: symmetric per-row ${QUANT === 'gptq' ? 'GPTQ with the salient columns in full precision (QUIK layout)' : 'round-to-nearest'}, ` +
  `MSE clip search; calibration: ${String(CALIB)} windows of old-genre train text per seed.`, '');
md.push(`Base model: ${NEW_GENRE} perplexity **${base.newPpl.toFixed(2)}**, MC acc ${pct(base.mcAcc === null ? null : { mean: base.mcAcc, std: 0, n: 1 })}% ` +
  `(acc_norm ${pct(base.mcAccNorm === null ? null : { mean: base.mcAccNorm, std: 0, n: 1 })}%), old-genre perplexity **${base.oldPpl.toFixed(2)}**.`, '');

md.push('## Activation outliers (base model, calibration seed 0)', '');
const ratios = outliers.map((o) => o.maxOverMedian).sort((a, b) => a - b);
md.push(`Per linear input: max over channels of max|x_j| divided by its median over channels (the paper's premise is a few channels far above the rest), ` +
  `the largest max|x_j|, and the kurtosis of the per-channel norms ‖X_j‖₂ (3 for a Gaussian). Median ratio over linears ${ratios[Math.floor(ratios.length / 2)].toFixed(1)}, ` +
  `largest ${ratios[ratios.length - 1].toFixed(1)}.`, '');
md.push('| layer input | max/median of max\\|x_j\\| | max\\|x\\| | kurtosis of ‖X_j‖ |', '|---|---|---|---|');
for (const o of outliers) md.push(`| ${o.layer} | ${o.maxOverMedian.toFixed(1)} | ${o.max.toFixed(2)} | ${o.kurtosis.toFixed(1)} |`);
md.push('');

const adaptCells = ADAPT_METHODS.flatMap((m) => { const c = cell('adapt', m, null); return c === undefined ? [] : [c]; });
if (adaptCells.length > 0) {
  md.push('## (a) Equal-budget adaptation (full precision)', '');
  md.push(`| method | trainable params | ${NEW_GENRE} ppl | MC acc % | MC acc_norm % | old-genre ppl (forgetting) | ms/step |`, '|---|---|---|---|---|---|---|');
  md.push(`| base (no fine-tuning) | 0 | ${base.newPpl.toFixed(2)} | ${base.mcAcc === null ? '—' : (100 * base.mcAcc).toFixed(1)} | ${base.mcAccNorm === null ? '—' : (100 * base.mcAccNorm).toFixed(1)} | ${base.oldPpl.toFixed(2)} | — |`);
  for (const c of adaptCells) {
    md.push(`| ${LABEL[c.method]}${c.note === undefined ? '' : ` (${c.note})`} | ${c.trainable.toLocaleString('en-US')} | ${f(c.newPpl)} | ${pct(c.mcAcc)} | ${pct(c.mcAccNorm)} | ` +
      `${f(c.oldPpl)} (${forget(c)}) | ${c.msPerStep?.toFixed(0) ?? '—'} |`);
  }
  md.push('');
}

const ptqCells = cells.filter((c) => c.part === 'ptq');
if (ptqCells.length > 0) {
  md.push(`## (b) PTQ metric ablation: k = ${String(K)} full-precision columns per linear, no training`, '');
  md.push('Old-genre test perplexity (the pre-training distribution), then new-genre perplexity, by bits of the non-salient weights.', '');
  md.push(`| metric | ${BITS.map((b) => `${String(b)}-bit old ppl`).join(' | ')} | ${BITS.map((b) => `${String(b)}-bit ${NEW_GENRE} ppl`).join(' | ')} |`,
    `|---|${BITS.map(() => '---').join('|')}|${BITS.map(() => '---').join('|')}|`);
  for (const m of PTQ_METRICS) {
    if (!BITS.some((b) => cell('ptq', m, b) !== undefined)) continue;
    md.push(`| ${PTQ_LABEL[m]} | ${BITS.map((b) => f(cell('ptq', m, b)?.oldPpl)).join(' | ')} | ${BITS.map((b) => f(cell('ptq', m, b)?.newPpl)).join(' | ')} |`);
  }
  md.push(`| (full precision) | ${BITS.map(() => base.oldPpl.toFixed(2)).join(' | ')} | ${BITS.map(() => base.newPpl.toFixed(2)).join(' | ')} |`, '');
  const lowest = Math.min(...BITS);
  const none = cell('ptq', 'none', lowest);
  if (none !== undefined) {
    md.push(`Sensitivity check: ${String(lowest)}-bit ${QUANT.toUpperCase()} of every block linear with no full-precision column moves old-genre perplexity by ` +
      `${(100 * (none.oldPpl.mean / base.oldPpl - 1)).toFixed(1)}% (${base.oldPpl.toFixed(2)} → ${none.oldPpl.mean.toFixed(2)}). If that is within a few percent, the blocks carry ` +
      'little of what the model knows (an under-trained base) and no choice of k columns can matter much: train the base longer before reading this table.', '');
  }
}

const recCells = cells.filter((c) => c.part === 'recovery');
if (recCells.length > 0) {
  md.push('## (c) Quantized recovery', '');
  md.push(`Each method ends in a model whose non-salient weights are on the ${QUANT.toUpperCase()} b-bit grid (LoRA: plus its unmerged adapters). ` +
    'Post-GIFT-SW and salient FT: quantize, then train the salient columns (4-bit noise / none); Pre-GIFT-SW: train with b-bit noise, then quantize; ' +
    'STE: QAT on all weights, the salient columns in full precision.', '');
  for (const [title, pick] of [[`${NEW_GENRE} test perplexity`, (c: Cell) => f(c.newPpl)], ['MC acc %', (c: Cell) => pct(c.mcAcc)],
    ['old-genre perplexity (forgetting)', (c: Cell) => `${f(c.oldPpl)} (${forget(c)})`]] as const) {
    md.push(`### ${title}`, '');
    md.push(`| method | trainable params | ${BITS.map((b) => `${String(b)} bits`).join(' | ')} |`, `|---|---|${BITS.map(() => '---').join('|')}|`);
    for (const m of RECOVERY_METHODS) {
      const cs = BITS.map((b) => cell('recovery', m, b));
      const any = cs.find((c) => c !== undefined);
      if (any === undefined) continue;
      md.push(`| ${RECOVERY_LABEL[m]} | ${any.trainable.toLocaleString('en-US')} | ${cs.map((c) => (c === undefined ? '—' : pick(c))).join(' | ')} |`);
    }
    const g = cell('adapt', 'gift-sw', null);
    if (g !== undefined) md.push(`| (GIFT-SW in full precision, from (a)) | ${g.trainable.toLocaleString('en-US')} | ${BITS.map(() => pick(g)).join(' | ')} |`);
    md.push('');
  }
}

// Checks against the paper's claims (the brief's §5 "qualitative results to expect"), decided on the means.
const checks: string[] = [];
/** 'yes' if a's mean is lower, 'no' if higher, 'tie' when the gap is within the larger std over seeds or under 0.1%. */
const lower = (a: Cell | undefined, b: Cell | undefined, key: 'newPpl' | 'oldPpl'): 'yes' | 'no' | 'tie' | null => {
  if (a === undefined || b === undefined) return null;
  const gap = a[key].mean - b[key].mean;
  if (Math.abs(gap) <= Math.max(a[key].std, b[key].std, 1e-3 * b[key].mean)) return 'tie';
  return gap < 0 ? 'yes' : 'no';
};
const say = (claim: string, v: 'yes' | 'no' | 'tie' | null, detail: string): void => {
  if (v !== null) checks.push(`- ${claim}: **${v === 'tie' ? 'tie (within ±std or 0.1%)' : v}** (${detail})`);
};
const A = (m: string): Cell | undefined => cell('adapt', m, null);
const pp = (c: Cell | undefined, key: 'newPpl' | 'oldPpl' = 'newPpl'): string => (c === undefined ? '—' : c[key].mean.toFixed(2));
for (const other of ['lora', 'dora', 'full-ft']) say(`GIFT-SW beats ${LABEL[other]} on ${NEW_GENRE} perplexity (paper Table 1: yes)`, lower(A('gift-sw'), A(other), 'newPpl'), `${pp(A('gift-sw'))} vs ${pp(A(other))}`);
say('noise helps salient FT (paper Table 6: yes, small)', lower(A('gift-sw'), A('salient-ft'), 'newPpl'), `with ${pp(A('gift-sw'))} vs without ${pp(A('salient-ft'))}`);
say('noise helps full FT (paper: no on LLaMA2, yes on LLaMA3)', lower(A('full-ft-noise'), A('full-ft'), 'newPpl'), `with ${pp(A('full-ft-noise'))} vs without ${pp(A('full-ft'))}`);
say('metric columns beat random columns (the premise)', lower(A('gift-sw'), A('random-columns'), 'newPpl'), `${pp(A('gift-sw'))} vs ${pp(A('random-columns'))}`);
say('GIFT-SW forgets less than full FT (not measured in the paper)', lower(A('gift-sw'), A('full-ft'), 'oldPpl'), `old-genre ppl ${pp(A('gift-sw'), 'oldPpl')} vs ${pp(A('full-ft'), 'oldPpl')}`);
say('GIFT-SW forgets less than LoRA (not measured in the paper)', lower(A('gift-sw'), A('lora'), 'oldPpl'), `old-genre ppl ${pp(A('gift-sw'), 'oldPpl')} vs ${pp(A('lora'), 'oldPpl')}`);
for (const b of BITS) {
  const P = (m: string): Cell | undefined => cell('ptq', m, b);
  say(`${String(b)}-bit PTQ: gift-sw columns beat random ones`, lower(P('gift-sw'), P('random'), 'oldPpl'), `old ppl ${pp(P('gift-sw'), 'oldPpl')} vs ${pp(P('random'), 'oldPpl')}`);
  say(`${String(b)}-bit PTQ: ‖D‖∞‖X‖∞ at least as good as activation-only QUIK`, lower(P('gift-sw'), P('quik'), 'oldPpl'), `${pp(P('gift-sw'), 'oldPpl')} vs ${pp(P('quik'), 'oldPpl')}`);
  const R = (m: string): Cell | undefined => cell('recovery', m, b);
  const best = RECOVERY_METHODS.filter((m) => m !== 'ptq').map(R).filter((c): c is Cell => c !== undefined).sort((x, y) => x.newPpl.mean - y.newPpl.mean)[0] as Cell | undefined;
  if (best !== undefined) checks.push(`- ${String(b)} bits: best recovery on ${NEW_GENRE} perplexity: **${RECOVERY_LABEL[best.method]}** (${best.newPpl.mean.toFixed(2)}); paper: Pre-GIFT-SW at 4 bits, training after quantization at 3 and 2 bits`);
  say(`${String(b)} bits: Pre-GIFT-SW beats Post-GIFT-SW`, lower(R('pre-gift-sw'), R('post-gift-sw'), 'newPpl'), `${pp(R('pre-gift-sw'))} vs ${pp(R('post-gift-sw'))}`);
  say(`${String(b)} bits: noise helps after quantization (Post-GIFT-SW vs salient FT; paper: yes at 2 bits, ≈ at 3)`, lower(R('post-gift-sw'), R('salient-ft'), 'newPpl'), `${pp(R('post-gift-sw'))} vs ${pp(R('salient-ft'))}`);
}
if (checks.length > 0) md.push('## Against the paper (decided on means; look at the ± before believing a difference)', '', ...checks, '');

const plots: Record<string, string> = {};
type Spec = Parameters<typeof renderVegaLiteSvg>[0];
const vbase = { background: 'white', config: { font: 'sans-serif' } };
const bar = (c: Cell, label: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ method: label, mean: c.newPpl.mean, lo: c.newPpl.mean - c.newPpl.std, hi: c.newPpl.mean + c.newPpl.std, old: c.oldPpl.mean, ...extra });
if (adaptCells.length > 0) {
  plots['adapt.svg'] = await renderVegaLiteSvg({
    ...vbase, title: `(a) ${NEW_GENRE} test perplexity at equal budget (±std over seeds; dashed: base)`, width: 420, height: 240,
    data: { values: adaptCells.map((c) => bar(c, LABEL[c.method])) },
    layer: [
      { mark: 'bar', encoding: { x: { field: 'method', type: 'nominal', sort: null, axis: { labelAngle: -30 } }, y: { field: 'mean', type: 'quantitative', scale: { zero: false }, title: 'perplexity' } } },
      { mark: 'errorbar', encoding: { x: { field: 'method', type: 'nominal', sort: null }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      { mark: { type: 'rule', strokeDash: [4, 4], color: 'black' }, encoding: { y: { datum: base.newPpl } } },
    ],
  } as unknown as Spec);
  plots['forgetting.svg'] = await renderVegaLiteSvg({
    ...vbase, title: `(a) new-task vs old-genre perplexity (lower-left is better)`, width: 380, height: 260,
    data: { values: [...adaptCells.map((c) => bar(c, LABEL[c.method])), { method: 'base', mean: base.newPpl, old: base.oldPpl }] },
    mark: { type: 'point', filled: true, size: 80 },
    encoding: { x: { field: 'mean', type: 'quantitative', scale: { zero: false }, title: `${NEW_GENRE} ppl` }, y: { field: 'old', type: 'quantitative', scale: { zero: false }, title: 'old-genre ppl' }, color: { field: 'method', type: 'nominal' } },
  } as unknown as Spec);
}
if (ptqCells.length > 0) {
  plots['ptq.svg'] = await renderVegaLiteSvg({
    ...vbase, title: `(b) PTQ with k = ${String(K)} FP columns: old-genre perplexity by metric`, width: 380, height: 260,
    data: { values: ptqCells.map((c) => ({ metric: PTQ_LABEL[c.method], bits: c.bits, mean: c.oldPpl.mean, lo: c.oldPpl.mean - c.oldPpl.std, hi: c.oldPpl.mean + c.oldPpl.std })) },
    layer: [
      { mark: { type: 'line', point: true }, encoding: { x: { field: 'bits', type: 'ordinal', sort: 'descending' }, y: { field: 'mean', type: 'quantitative', scale: { type: 'log' }, title: 'perplexity (log)' }, color: { field: 'metric', type: 'nominal' } } },
      { mark: 'errorbar', encoding: { x: { field: 'bits', type: 'ordinal', sort: 'descending' }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { field: 'metric', type: 'nominal' } } },
      { mark: { type: 'rule', strokeDash: [4, 4], color: 'black' }, encoding: { y: { datum: base.oldPpl } } },
    ],
  } as unknown as Spec);
}
if (recCells.length > 0) {
  plots['recovery.svg'] = await renderVegaLiteSvg({
    ...vbase, title: `(c) ${NEW_GENRE} perplexity after quantization and recovery (±std)`, width: 120, height: 240,
    data: { values: recCells.map((c) => bar(c, RECOVERY_LABEL[c.method], { bits: `${String(c.bits)} bits` })) },
    facet: { column: { field: 'bits', type: 'ordinal', sort: 'descending' } },
    spec: {
      layer: [
        { mark: 'bar', encoding: { x: { field: 'method', type: 'nominal', sort: null, axis: { labelAngle: -45 } }, y: { field: 'mean', type: 'quantitative', scale: { type: 'log' }, title: 'perplexity (log)' }, color: { field: 'method', type: 'nominal', legend: null } } },
        { mark: 'errorbar', encoding: { x: { field: 'method', type: 'nominal', sort: null }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      ],
    },
  } as unknown as Spec);
}
if (Object.keys(plots).length > 0) md.push('## Plots', '', ...Object.keys(plots).map((p) => `![${p.replace('.svg', '')}](${p})\n`));
const timing = runs.filter((r) => r.msPerStep !== null);
md.push('## Cost', '', `${String(runs.length)} runs; mean wall time per run: ${runs.length === 0 ? '—' : (runs.reduce((a, r) => a + r.seconds, 0) / runs.length).toFixed(1)} s ` +
  `(training runs ${timing.length === 0 ? '—' : (timing.reduce((a, r) => a + r.seconds, 0) / timing.length).toFixed(1)} s, ${timing.length === 0 ? '—' : (timing.reduce((a, r) => a + r.msPerStep!, 0) / timing.length).toFixed(0)} ms/step; ` +
  `no-training runs ${runs.length === timing.length ? '—' : (runs.filter((r) => r.msPerStep === null).reduce((a, r) => a + r.seconds, 0) / (runs.length - timing.length)).toFixed(1)} s), baseline and outliers ${baseline.seconds.toFixed(1)} s.`, '');
for (const [name, svg] of Object.entries(plots)) await writeFileAtomic(join(out, name), svg);
await writeFileAtomic(join(out, 'results.json'), `${JSON.stringify({
  baseDir, newGenre: NEW_GENRE, oldGenres: OLD_GENRES, k: K, steps: STEPS, batch: BATCH, seqlen: SEQLEN, lr: LR, quant: QUANT, bits: BITS, seeds,
  calib: CALIB, mcItems: mcTask.items.length, newTestTokens: newTest.length, oldTestTokens: oldTest.length, base, outliers, cells, runs,
}, null, 1)}\n`);
const extra = join(out, 'notes.md');
await writeFileAtomic(join(out, 'results.md'), `${md.join('\n')}\n${existsSync(extra) ? `\n${readFileSync(extra, 'utf8')}` : ''}`);
process.stdout.write(`${md.join('\n')}\nwrote ${out}\n`);
