// The 8:16 paper experiment (issue 6) on the trained `small` Brown model at 50% sparsity:
//   patterns {2:4, 4:8, 8:16, 16:32, unstructured} x scores {magnitude, Wanda, SparseGPT} with no trick, and
//   tricks {equalization a=0.5, variance correction data-free / data-driven, salient rho in {1/32, 1/16} structured
//   (k:32 along the input) vs unstructured per row at the same count} on every pattern x score,
//   3 calibration seeds (128 x 128-token windows of Brown train), test perplexity mean +- std, bits per weight from the
//   packed format, and the Performance Threshold against dense `small-half` at equal or lower memory.
// Writes results.md, results.json and SVG plots.
//   npx tsx tools/nm-experiment/experiment.ts --model <small dir> --half <small-half dir> [--out dir]
//   options: --seeds 3, --test-windows 160 (0 = the whole test split), --calib 128, --threads 2,
//            --patterns 2:4,8:16 (subset), --tricks none,eq (subset), --quick (tiny grid, seconds per run),
//            --trick-patterns 2:4,8:16,unstructured (patterns the tricks run on; default all),
//            --no-full-test (skip the dense models' whole-test-split perplexity),
//            --shard i/n (run every n-th pruning run into <out>/runs-i.json), --merge (report from the shards' runs)
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@sift/backend';
import { perplexity, renderVegaLiteSvg, summarize } from '@sift/eval';
import {
  brownTokenStream, countParameters, encodeDocuments, loadBrownSplit, loadCheckpoint, loadTokenizer, sampleWindows,
  type CausalLM, type Tokenizer,
} from '@sift/lm';
import {
  MaskedLinear, bitsPerWeight, packNM, pruneModel, type EqualizeGroup, type PruneModelOptions,
} from '@sift/nm-sparsity';
import { ActivationStats, findLinears, writeFileAtomic } from '@sift/tensor-core';
import * as tf from '@tensorflow/tfjs-core';

// ------------------------------------------------------------------------------------------------ arguments
const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = args.includes('--quick');
const here = fileURLToPath(new URL('.', import.meta.url));
const modelDir = arg('--model');
const halfDir = arg('--half');
if (modelDir === undefined || halfDir === undefined) {
  process.stderr.write('usage: tsx tools/nm-experiment/experiment.ts --model <small dir> --half <small-half dir> [--out dir] [--quick]\n' +
    '  (train them with: pnpm sift lm train --preset small --out <dir>, and --preset small-half)\n');
  process.exit(2);
}
const out = arg('--out') ?? join(here, quick ? 'results-quick' : 'results');
const threads = Number(arg('--threads') ?? 2);
const seeds = Array.from({ length: Number(arg('--seeds') ?? (quick ? 2 : 3)) }, (_, i) => i);
const testWindows = Number(arg('--test-windows') ?? (quick ? 8 : 80));
const calibCount = Number(arg('--calib') ?? (quick ? 16 : 128));
const BATCH = 16;

const ALL_PATTERNS = ['2:4', '4:8', '8:16', '16:32', 'unstructured'] as const;
const METHODS = ['magnitude', 'wanda', 'sparsegpt'] as const;
type Method = (typeof METHODS)[number];

/** A trick: extra pruning options, and whether it needs calibration data when the score does not. */
interface Trick { name: string; label: string; options: Partial<PruneModelOptions>; usesData: boolean; nmOnly?: boolean }
// Equalization groups of a Llama block: each norm with the linears that read it, and up_proj into down_proj (the
// SiLU gate multiplies up_proj's output elementwise, so scaling its rows by 1/s and down_proj's columns by s is exact).
const LLAMA_EQ: EqualizeGroup[] = [
  { previous: 'input_layernorm', consumers: ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'] },
  { previous: 'post_attention_layernorm', consumers: ['mlp.gate_proj', 'mlp.up_proj'] },
  { previous: 'mlp.up_proj', consumers: ['mlp.down_proj'] },
];
const ALL_TRICKS: Trick[] = [
  { name: 'none', label: 'none', options: {}, usesData: false },
  { name: 'eq', label: 'equalization α=0.5', options: { equalizeAlpha: 0.5, equalizeGroups: LLAMA_EQ }, usesData: true },
  { name: 'vc-free', label: 'variance corr. (a) data-free', options: { varianceCorrection: 'data-free' }, usesData: false },
  { name: 'vc-data', label: 'variance corr. (b) data-driven', options: { varianceCorrection: 'data-driven' }, usesData: true },
  { name: 'sal-s-32', label: 'salient ρ=1/32 structured 1:32', options: { salientFraction: 1 / 32, salientPattern: 'structured', salientGroup: 32 }, usesData: false, nmOnly: true },
  { name: 'sal-u-32', label: 'salient ρ=1/32 unstructured/row', options: { salientFraction: 1 / 32, salientPattern: 'row' }, usesData: false, nmOnly: true },
  { name: 'sal-s-16', label: 'salient ρ=1/16 structured 2:32', options: { salientFraction: 1 / 16, salientPattern: 'structured', salientGroup: 32 }, usesData: false, nmOnly: true },
  { name: 'sal-u-16', label: 'salient ρ=1/16 unstructured/row', options: { salientFraction: 1 / 16, salientPattern: 'row' }, usesData: false, nmOnly: true },
  // The paper's outliers: kept in addition to the N:M part (they do not count toward N).
  { name: 'salx-s-32', label: 'salient ρ=1/32 structured 1:32, extra to N', options: { salientFraction: 1 / 32, salientPattern: 'structured', salientGroup: 32, salientCountsTowardN: false }, usesData: false, nmOnly: true },
  { name: 'salx-u-32', label: 'salient ρ=1/32 unstructured/row, extra to N', options: { salientFraction: 1 / 32, salientPattern: 'row', salientCountsTowardN: false }, usesData: false, nmOnly: true },
  { name: 'combo', label: 'salient 1/32 structured + variance corr. (b)', options: { salientFraction: 1 / 32, salientPattern: 'structured', salientGroup: 32, varianceCorrection: 'data-driven' }, usesData: true, nmOnly: true },
];
const pick = <T extends string>(all: readonly T[], list: string | undefined): T[] => (list === undefined ? [...all] : all.filter((x) => list.split(',').includes(x)));
const PATTERNS = pick(ALL_PATTERNS, arg('--patterns') ?? (quick ? '2:4,8:16,unstructured' : undefined));
const trickNames = arg('--tricks')?.split(',') ?? (quick ? ['none', 'vc-data', 'sal-s-32'] : ALL_TRICKS.map((t) => t.name));
const TRICKS = ALL_TRICKS.filter((t) => trickNames.includes(t.name));
// In the order given (the tricks run pattern by pattern in this order).
const TRICK_PATTERNS = arg('--trick-patterns')?.split(',').filter((p): p is (typeof ALL_PATTERNS)[number] => (ALL_PATTERNS as readonly string[]).includes(p)) ?? [...ALL_PATTERNS];
const [shard, shards] = (arg('--shard') ?? '0/1').split('/').map(Number);
const merge = args.includes('--merge');

// ------------------------------------------------------------------------------------------------ data
const info = await initBackend({ prefer: ['wasm'], threads });
const log = (s: string): void => { process.stderr.write(`${s}\n`); };
log(`backend ${info.name} (${info.device})`);
const tokenizer: Tokenizer = await loadTokenizer(join(modelDir, 'tokenizer.json'));
const context = (JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as { max_position_embeddings: number }).max_position_embeddings;
const SEQLEN = Math.min(128, context);
await mkdir(out, { recursive: true });
const halfTok = readFileSync(join(halfDir, 'tokenizer.json'), 'utf8');
if (halfTok !== readFileSync(join(modelDir, 'tokenizer.json'), 'utf8')) throw new Error('small and small-half must share the tokenizer (train both with the same preset tokenizer)');
const trainStream = (await brownTokenStream({ tokenizer, split: 'train' })).tokens;
const testDocs = await loadBrownSplit({ split: 'test' });
const testAll = encodeDocuments(tokenizer, testDocs);
const testIds = testWindows > 0 ? testAll.subarray(0, Math.min(testAll.length, testWindows * SEQLEN)) : testAll;
log(`test: ${String(testIds.length)} of ${String(testAll.length)} tokens; calibration ${String(calibCount)} x ${String(SEQLEN)} from ${String(trainStream.length)} train tokens`);

function calibration(seed: number): tf.Tensor2D[] {
  const w = sampleWindows(trainStream, { count: calibCount, length: SEQLEN, seed });
  const batches: tf.Tensor2D[] = [];
  for (let i = 0; i < calibCount; i += BATCH) {
    const n = Math.min(BATCH, calibCount - i);
    batches.push(tf.tensor2d(w.data.subarray(i * SEQLEN, (i + n) * SEQLEN), [n, SEQLEN], 'int32'));
  }
  return batches;
}

async function ppl(model: CausalLM, ids: Int32Array): Promise<number> {
  return (await perplexity(model, ids, { mode: 'windows', seqlen: SEQLEN, batchSize: BATCH })).perplexity;
}

// ------------------------------------------------------------------------------------------------ memory accounting
/** Bits of a model at fp16 values: pruned linears from their packed form, everything else dense. */
interface Memory { nonEmbeddingBits: number; totalBits: number; linearBitsPerWeight: number }

async function memory(model: CausalLM): Promise<Memory> {
  const counts = countParameters(model);
  let linearParams = 0;
  let linearBits = 0;
  for (const [, lin] of findLinears(model)) {
    const size = lin.inFeatures * lin.outFeatures;
    if (!(lin instanceof MaskedLinear)) continue;
    linearParams += size;
    const mask = await lin.mask.data();
    const sal = lin.salientMask === null ? null : await lin.salientMask.data();
    if (lin.pattern === null) {
      // Unstructured: values of the kept entries plus a 1-bit-per-weight bitmap (the cheapest general index).
      let kept = 0;
      for (const v of mask) kept += v;
      linearBits += 16 * kept + size;
      continue;
    }
    const nmMask = new Uint8Array(size);
    const salientMask = sal === null ? undefined : new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const s = sal !== null && sal[i] === 1;
      if (salientMask !== undefined) salientMask[i] = s ? 1 : 0;
      nmMask[i] = mask[i] === 1 && !s ? 1 : 0;
    }
    const w = tf.tidy(() => lin.effectiveWeight() as tf.Tensor2D);
    let layout: { k: number; m: number } | 'csr' | undefined;
    if (salientMask !== undefined) {
      const perGroup = salientMask.reduce((a, b) => a + b, 0) / (size / 32);
      layout = Number.isInteger(perGroup) && isStructured(salientMask, lin.inFeatures, 32, perGroup) ? { k: perGroup, m: 32 } : 'csr';
    }
    const packed = packNM({ weight: w, pattern: lin.pattern, nmMask, ...(salientMask === undefined ? {} : { salientMask, salientLayout: layout }) });
    w.dispose();
    linearBits += bitsPerWeight(packed).total * size;
  }
  const otherNonEmbedding = counts.nonEmbedding - linearParams;
  const nonEmbeddingBits = linearBits + 16 * otherNonEmbedding;
  return { nonEmbeddingBits, totalBits: nonEmbeddingBits + 16 * counts.embedding, linearBitsPerWeight: linearParams === 0 ? 16 : linearBits / linearParams };
}

function isStructured(mask: Uint8Array, cols: number, m: number, k: number): boolean {
  for (let g = 0; g < mask.length / m; g++) {
    let c = 0;
    for (let j = 0; j < m; j++) c += mask[g * m + j];
    if (c !== k) return false;
  }
  return cols % m === 0;
}

function denseMemory(model: CausalLM): Memory {
  const c = countParameters(model);
  return { nonEmbeddingBits: 16 * c.nonEmbedding, totalBits: 16 * c.total, linearBitsPerWeight: 16 };
}

// ------------------------------------------------------------------------------------------------ outlier check
/** Per linear input: max/median over channels of max|x_j|, and the kurtosis of the per-channel norms ‖X_j‖. */
function outlierCheck(model: CausalLM, batches: tf.Tensor2D[]): { layer: string; maxOverMedian: number; kurtosis: number }[] {
  const stats = new Map<string, ActivationStats>();
  const removers: (() => void)[] = [];
  for (const [name, lin] of findLinears(model)) {
    if (name === 'lm_head') continue;
    const s = new ActivationStats({ name, sqNorm: true, maxAbs: true, moments: false });
    stats.set(name, s);
    removers.push(lin.registerForwardHook((_m, inputs) => {
      const x = inputs[0];
      s.update(tf.reshape(x, [-1, x.shape[x.rank - 1] ?? 1]));
    }));
  }
  for (const b of batches) tf.dispose(tf.tidy(() => model.forward(b)));
  for (const r of removers) r();
  const rows = [];
  for (const [layer, s] of stats) {
    const mx = Array.from(s.maxAbs()).sort((a, b) => a - b);
    const norms = Array.from(s.sqNorm(), Math.sqrt);
    const mean = norms.reduce((a, b) => a + b, 0) / norms.length;
    const m2 = norms.reduce((a, b) => a + (b - mean) ** 2, 0) / norms.length;
    const m4 = norms.reduce((a, b) => a + (b - mean) ** 4, 0) / norms.length;
    rows.push({ layer, maxOverMedian: mx[mx.length - 1] / mx[Math.floor(mx.length / 2)], kurtosis: m4 / (m2 * m2) });
    s.dispose();
  }
  return rows;
}

// ------------------------------------------------------------------------------------------------ runs
interface Run { pattern: string; method: Method; trick: string; seed: number | null; perplexity: number; sparsity: number; linearBitsPerWeight: number; nonEmbeddingBits: number; totalBits: number; meanRelError: number; pruneSeconds: number }

const t0 = performance.now();
interface DenseInfo { perplexity: number; memory: Memory; params: ReturnType<typeof countParameters> }
interface Baseline { outliers: ReturnType<typeof outlierCheck>; denseSmall: DenseInfo; denseHalf: DenseInfo; fullTest: { small: number; half: number } | null }
const baselinePath = join(out, 'baseline.json');
let baseline: Baseline;
if (existsSync(baselinePath)) {
  baseline = JSON.parse(readFileSync(baselinePath, 'utf8')) as Baseline;
} else {
  const { model: dense } = await loadCheckpoint(modelDir);
  const { model: half } = await loadCheckpoint(halfDir);
  const calib0 = calibration(0);
  const outliers = outlierCheck(dense, calib0);
  tf.dispose(calib0);
  baseline = {
    outliers,
    denseSmall: { perplexity: await ppl(dense, testIds), memory: denseMemory(dense), params: countParameters(dense) },
    denseHalf: { perplexity: await ppl(half, testIds), memory: denseMemory(half), params: countParameters(half) },
    fullTest: testIds.length === testAll.length || args.includes('--no-full-test') ? null : { small: await ppl(dense, testAll), half: await ppl(half, testAll) },
  };
  dense.dispose();
  half.dispose();
  await writeFileAtomic(baselinePath, JSON.stringify(baseline, null, 1));
}
const { outliers, denseSmall, denseHalf, fullTest } = baseline;
log(`dense small ppl ${denseSmall.perplexity.toFixed(2)}, dense small-half ppl ${denseHalf.perplexity.toFixed(2)}`);

const plan: { pattern: string; method: Method; trick: Trick; seed: number | null }[] = [];
// Order: every pattern without tricks first, then the tricks pattern by pattern (in --trick-patterns order), so a run
// stopped early still leaves whole rows.
const add = (trick: Trick, pattern: string): void => {
  if (trick.nmOnly === true && pattern === 'unstructured') return;
  for (const method of METHODS) {
    const deterministic = method === 'magnitude' && !trick.usesData;
    for (const seed of deterministic ? [null] : seeds) plan.push({ pattern, method, trick, seed });
  }
};
for (const trick of TRICKS.filter((t) => t.name === 'none')) for (const pattern of PATTERNS) add(trick, pattern);
for (const pattern of TRICK_PATTERNS.filter((p) => PATTERNS.includes(p))) for (const trick of TRICKS.filter((t) => t.name !== 'none')) add(trick, pattern);
log(`${String(plan.length)} pruning runs`);
const runs: Run[] = [];
const started = performance.now();
const runKey = (r: { pattern: string; method: string; trick: string; seed: number | null }): string => `${r.pattern}|${r.method}|${r.trick}|${String(r.seed)}`;
const shardFiles = (): string[] => readdirSync(out).filter((f) => /^runs-\d+\.json$/u.test(f));
const readRuns = (f: string): Run[] => (JSON.parse(readFileSync(join(out, f), 'utf8')) as { runs: Run[] }).runs;
// Resume: runs already in any shard file are not repeated; this shard's own file is kept and extended.
const done = new Set(shardFiles().flatMap(readRuns).map(runKey));
if (!merge && existsSync(join(out, `runs-${String(shard)}.json`))) runs.push(...readRuns(`runs-${String(shard)}.json`));
const mine = merge ? [] : plan.filter((p) => !done.has(runKey({ ...p, trick: p.trick.name }))).filter((_, i) => i % shards === shard);
if (merge) {
  const all = shardFiles().flatMap(readRuns);
  const wanted = new Set(plan.map((p) => runKey({ ...p, trick: p.trick.name })));
  runs.push(...all.filter((r) => wanted.has(runKey(r))));
  log(`merged ${String(runs.length)} runs of ${String(plan.length)} planned`);
}
for (const [i, p] of mine.entries()) {
  const { model } = await loadCheckpoint(modelDir);
  const batches = calibration(p.seed ?? 0);
  try {
    const report = await pruneModel(model, batches, { method: p.method, pattern: p.pattern, reportError: false, ...p.trick.options });
    const mem = await memory(model);
    const perp = await ppl(model, testIds);
    const errs = report.layers.flatMap((l) => (l.reconstructionError === null ? [] : [l.reconstructionError]));
    runs.push({
      pattern: p.pattern, method: p.method, trick: p.trick.name, seed: p.seed, perplexity: perp, sparsity: report.sparsity,
      linearBitsPerWeight: mem.linearBitsPerWeight, nonEmbeddingBits: mem.nonEmbeddingBits, totalBits: mem.totalBits,
      meanRelError: errs.length === 0 ? Number.NaN : errs.reduce((a, b) => a + b, 0) / errs.length, pruneSeconds: report.totalMs / 1000,
    });
    const el = (performance.now() - started) / 1000;
    log(`[${String(i + 1)}/${String(mine.length)}] ${p.pattern} ${p.method} ${p.trick.name} seed ${String(p.seed ?? '-')}: ppl ${perp.toFixed(2)} ` +
      `bpw ${mem.linearBitsPerWeight.toFixed(3)} prune ${(report.totalMs / 1000).toFixed(1)} s; ETA ${((el / (i + 1)) * (mine.length - i - 1) / 60).toFixed(1)} min`);
  } finally {
    tf.dispose(batches);
    model.dispose();
  }
  await writeFileAtomic(join(out, `runs-${String(shard)}.json`), JSON.stringify({ runs }, null, 1));
}
if (shards > 1 && !merge) {
  log(`shard ${String(shard)}/${String(shards)} done: ${String(runs.length)} runs in ${out}; run with --merge for the report`);
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------ report
interface Cell { pattern: string; method: Method; trick: string; mean: number; std: number; n: number; bpw: number; nonEmbeddingBits: number; totalBits: number; err: number }
const cells: Cell[] = [];
for (const trick of TRICKS) {
  for (const pattern of PATTERNS) {
    for (const method of METHODS) {
      const rs = runs.filter((r) => r.pattern === pattern && r.method === method && r.trick === trick.name);
      if (rs.length === 0) continue;
      const s = summarize(rs.map((r) => r.perplexity));
      cells.push({
        pattern, method, trick: trick.name, mean: s.mean, std: rs.length > 1 ? s.std : 0, n: rs.length, bpw: rs[0].linearBitsPerWeight,
        nonEmbeddingBits: rs[0].nonEmbeddingBits, totalBits: rs[0].totalBits, err: summarize(rs.map((r) => r.meanRelError)).mean,
      });
    }
  }
}
const cell = (pattern: string, method: string, trick: string): Cell | undefined => cells.find((c) => c.pattern === pattern && c.method === method && c.trick === trick);
const fmt = (c: Cell | undefined): string => (c === undefined ? '—' : c.n > 1 ? `${c.mean.toFixed(1)} ± ${c.std.toFixed(1)}` : c.mean.toFixed(1));
const md: string[] = [];
const threads1 = `${String(threads)} thread${threads === 1 ? '' : 's'}`;
md.push(`# N:M sparsity on the trained \`small\` Brown model${quick ? ' (quick)' : ''}`, '');
md.push(merge
  ? `Generated by \`npx tsx tools/nm-experiment/experiment.ts ${args.filter((a) => a !== '--merge').join(' ')}\` run as \`--shard i/n\` processes (wasm, 1 thread each), then \`--merge\`: ${String(runs.length)} pruning runs, ${(runs.reduce((a, r) => a + r.pruneSeconds, 0) / 60).toFixed(0)} min of pruning time in all (perplexity evaluation not counted).`
  : `Generated by \`npx tsx tools/nm-experiment/experiment.ts ${args.join(' ')}\` in ${((performance.now() - t0) / 60000).toFixed(1)} min (wasm, ${threads1}).`);
md.push(`Model: \`${modelDir}\` (${(denseSmall.params.nonEmbedding / 1e6).toFixed(2)} M non-embedding parameters), threshold model \`${halfDir}\` ` +
  `(${(denseHalf.params.nonEmbedding / 1e6).toFixed(2)} M, ${(denseHalf.params.nonEmbedding / denseSmall.params.nonEmbedding).toFixed(3)}x). ` +
  `Every linear of every block is pruned (the tied embedding/head stays dense). Calibration: ${String(calibCount)} windows of ${String(SEQLEN)} Brown-train tokens ` +
  `per seed (seeds ${seeds.join(', ')}). Test perplexity on ${testIds.length === testAll.length ? 'the whole test split' : `the first ${String(testIds.length)} tokens of the test split (${String(Math.floor(testIds.length / SEQLEN))} non-overlapping windows of ${String(SEQLEN)})`}; ` +
  `mean ± std over calibration seeds (configurations that use no data, magnitude without data-driven tricks, ran once).`, '');
md.push(`Dense \`small\`: perplexity **${denseSmall.perplexity.toFixed(2)}**; dense \`small-half\`: **${denseHalf.perplexity.toFixed(2)}**` +
  (fullTest === null ? '.' : ` (whole test split: ${fullTest.small.toFixed(2)} and ${fullTest.half.toFixed(2)}).`), '');

md.push('## Outlier check (dense `small`, calibration seed 0)', '');
md.push('Per linear input: max over channels of max|x_j| divided by its median over channels, and the kurtosis of the per-channel norms ‖X_j‖ (3 for a Gaussian).', '');
md.push('| layer input | max/median of max\\|x_j\\| | kurtosis of ‖X_j‖ |', '|---|---|---|');
for (const o of outliers) md.push(`| ${o.layer} | ${o.maxOverMedian.toFixed(1)} | ${o.kurtosis.toFixed(1)} |`);
md.push('');

md.push('## Patterns × scores, no tricks (test perplexity)', '');
md.push(`| pattern | bits/weight (linears, fp16) | ${METHODS.join(' | ')} |`, `|---|---|${METHODS.map(() => '---').join('|')}|`);
for (const pattern of PATTERNS) md.push(`| ${pattern} | ${(cell(pattern, 'wanda', 'none') ?? cell(pattern, 'magnitude', 'none'))?.bpw.toFixed(3) ?? '—'} | ${METHODS.map((m) => fmt(cell(pattern, m, 'none'))).join(' | ')} |`);
md.push('');

md.push('## Tricks (test perplexity; Δ vs no trick in parentheses)', '');
for (const method of METHODS) {
  md.push(`### ${method}`, '');
  md.push(`| trick | ${PATTERNS.join(' | ')} |`, `|---|${PATTERNS.map(() => '---').join('|')}|`);
  for (const trick of TRICKS) {
    md.push(`| ${trick.label} | ${PATTERNS.map((p) => {
      const c = cell(p, method, trick.name);
      const base = cell(p, method, 'none');
      if (c === undefined) return '—';
      return trick.name === 'none' || base === undefined ? fmt(c) : `${fmt(c)} (${c.mean - base.mean >= 0 ? '+' : ''}${(c.mean - base.mean).toFixed(1)})`;
    }).join(' | ')} |`);
  }
  md.push('');
}

md.push('## Performance Threshold', '');
md.push('Memory counts every non-embedding parameter at fp16 (16 bits) except the pruned linears, which count their packed form: ' +
  'N kept values at 16 bits per group of M plus the group code (ceil(log2 C(M,N)) bits), salient weights beside them (k:32 groups with their codes, or CSR), ' +
  'and for unstructured a 1-bit-per-weight bitmap. The paper compares non-embedding memory (a 50%-sparse 8:16 13B ≈ 0.555 × 13B dense); the total column adds the dense fp16 embedding.', '');
const halfNE = denseHalf.memory.nonEmbeddingBits;
md.push(`Dense \`small-half\`: perplexity ${denseHalf.perplexity.toFixed(2)}, ${(halfNE / 8e6).toFixed(3)} MB non-embedding, ${(denseHalf.memory.totalBits / 8e6).toFixed(3)} MB total.`, '');
md.push('| configuration | perplexity | vs small-half | non-embedding MB (ratio) | total MB (ratio) | crosses? |', '|---|---|---|---|---|---|');
const ranked = [...cells].sort((a, b) => a.mean - b.mean);
const crossing: Cell[] = [];
for (const c of ranked.slice(0, 15)) {
  const ratio = c.nonEmbeddingBits / halfNE;
  const crosses = c.mean <= denseHalf.perplexity && ratio <= 1.02;
  if (crosses) crossing.push(c);
  md.push(`| ${c.pattern} ${c.method} ${c.trick} | ${fmt(c)} | ${(c.mean / denseHalf.perplexity).toFixed(3)}x | ${(c.nonEmbeddingBits / 8e6).toFixed(3)} (${ratio.toFixed(3)}) | ` +
    `${(c.totalBits / 8e6).toFixed(3)} (${(c.totalBits / denseHalf.memory.totalBits).toFixed(3)}) | ${crosses ? 'yes' : 'no'} |`);
}
md.push('', `(The 15 configurations with the lowest perplexity. "crosses" = perplexity ≤ dense small-half's and non-embedding memory within 2% of it: ` +
  'the brief\'s "about that many bits"; 8:16 at fp16 is 8.875/16 = 0.555 of dense, i.e. 1.01x small-half\'s non-embedding memory.)', '');
md.push(crossing.length === 0
  ? '**No configuration crosses the threshold** at this scale.'
  : `**${String(crossing.length)} configuration(s) cross the threshold:** ${crossing.map((c) => `${c.pattern} ${c.method} ${c.trick}`).join('; ')}.`, '');

const plots: Record<string, string> = {};
type Spec = Parameters<typeof renderVegaLiteSvg>[0];
const base = { background: 'white', config: { font: 'sans-serif' } };
plots['patterns.svg'] = await renderVegaLiteSvg({
  ...base, title: 'Test perplexity by pattern and score (no tricks, ±std over seeds)', width: 420, height: 260,
  data: { values: cells.filter((c) => c.trick === 'none').map((c) => ({ pattern: c.pattern, method: c.method, mean: c.mean, lo: c.mean - c.std, hi: c.mean + c.std })) },
  layer: [
    { mark: { type: 'line', point: true }, encoding: { x: { field: 'pattern', type: 'ordinal', sort: [...PATTERNS] }, y: { field: 'mean', type: 'quantitative', scale: { type: 'log' }, title: 'perplexity (log)' }, color: { field: 'method', type: 'nominal' } } },
    { mark: 'errorbar', encoding: { x: { field: 'pattern', type: 'ordinal', sort: [...PATTERNS] }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { field: 'method', type: 'nominal' } } },
    { mark: { type: 'rule', strokeDash: [4, 4], color: 'black' }, encoding: { y: { datum: denseSmall.perplexity } } },
    { mark: { type: 'rule', strokeDash: [2, 2], color: 'gray' }, encoding: { y: { datum: denseHalf.perplexity } } },
  ],
} as unknown as Spec);
plots['tricks.svg'] = await renderVegaLiteSvg({
  ...base, title: 'Perplexity change from each trick (negative = better), per pattern and score', width: 140, height: 200,
  data: { values: cells.filter((c) => c.trick !== 'none').flatMap((c) => { const b = cell(c.pattern, c.method, 'none'); return b === undefined ? [] : [{ ...c, delta: c.mean - b.mean }]; }) },
  mark: 'bar',
  encoding: { column: { field: 'method', type: 'nominal' }, x: { field: 'pattern', type: 'ordinal', sort: [...PATTERNS] }, xOffset: { field: 'trick' }, y: { field: 'delta', type: 'quantitative', title: 'Δ perplexity' }, color: { field: 'trick', type: 'nominal' } },
} as unknown as Spec);
plots['threshold.svg'] = await renderVegaLiteSvg({
  ...base, title: 'Performance Threshold: perplexity vs non-embedding memory', width: 420, height: 280,
  data: { values: [...cells.map((c) => ({ name: `${c.pattern} ${c.method} ${c.trick}`, kind: c.method, mb: c.nonEmbeddingBits / 8e6, ppl: c.mean })),
    { name: 'dense small', kind: 'dense', mb: denseSmall.memory.nonEmbeddingBits / 8e6, ppl: denseSmall.perplexity },
    { name: 'dense small-half', kind: 'dense', mb: halfNE / 8e6, ppl: denseHalf.perplexity }] },
  mark: { type: 'point', filled: true },
  encoding: { x: { field: 'mb', type: 'quantitative', title: 'non-embedding MB', scale: { zero: false } }, y: { field: 'ppl', type: 'quantitative', scale: { type: 'log' }, title: 'perplexity (log)' }, color: { field: 'kind', type: 'nominal' }, tooltip: { field: 'name' } },
} as unknown as Spec);
md.push('## Plots', '', '![patterns](patterns.svg)', '', '![tricks](tricks.svg)', '', '![threshold](threshold.svg)', '');
for (const [name, svg] of Object.entries(plots)) await writeFileAtomic(join(out, name), svg);
await writeFileAtomic(join(out, 'results.json'), `${JSON.stringify({ denseSmall, denseHalf, fullTest, outliers, cells, runs, seeds, calibCount, testTokens: testIds.length }, null, 1)}\n`);
const extra = join(out, 'notes.md');
await writeFileAtomic(join(out, 'results.md'), `${md.join('\n')}\n${existsSync(extra) ? `\n${readFileSync(extra, 'utf8')}` : ''}`);
process.stdout.write(`${md.join('\n')}\nwrote ${out}\n`);
