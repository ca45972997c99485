import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  MULTIPLE_CHOICE_DEFAULTS, NEXT_SENTENCE_DEFAULTS, PROBE_EVAL_DEFAULTS, buildNextSentenceTask, crossValidateProbe, evaluateMultipleChoice,
  matrix, parseMultipleChoiceJsonl, type MultipleChoiceTask, type MultipleChoiceTaskReport, type ProbeReport,
} from '@sift/eval';
import { loadBrownSplit } from '@sift/lm';
import { UsageError } from '../config.js';
import { parseIntOption, type CommandContext } from '../context.js';
import { formatTable } from '../ui/table.js';
import { readTable, splitSentences, type Table } from './eval-data.js';
import { perplexityCommand } from './lm.js';
import { BROWN_SPLITS, asUsage, checkNumber, fmt, listOption, loadLm, oneOf } from './model-io.js';

const LENGTH_UNITS = ['chars', 'bytes'] as const;
const PROBES = ['logistic', 'ridge', 'gbdt'] as const;
const PROBE_TASKS = ['classification', 'regression'] as const;
const SCALINGS = ['maxabs', 'standard', 'none'] as const;

/** Options of `sift eval mc`. */
export interface McCliOptions {
  model: string;
  task: string;
  split: string;
  genres?: string | string[];
  numChoices: number;
  contextSentences: number;
  itemsPerDocument: number;
  batchSize: number;
  lengthUnit: string;
  maxChoiceTokens?: number;
}

/** What `sift eval mc` returns: the library's task report without the per-item lists, plus the protocol. */
export interface McCliReport {
  model: string;
  task: string;
  /** Where the items came from: the Brown split and genres (built-in task), or the JSONL file. */
  source: string;
  n: number;
  numChoices: number | null;
  /** 1 / numChoices for a fixed number of choices, else the mean of 1 / choices. */
  chance: number;
  acc: number;
  accStderr: number;
  accNorm: number;
  accNormStderr: number;
  /** Choices longer than this many tokens kept only their first tokens. */
  maxChoiceTokens: number;
  /** How many choices were cut. */
  truncatedChoices: number;
  seconds: number;
}

/**
 * The built-in task: "pick the true next sentence" (`buildNextSentenceTask` of `@sift/eval`) on Brown documents split
 * into sentences (`splitSentences`), seeded.
 */
async function nextSentenceTask(o: McCliOptions, seed: number): Promise<{ task: MultipleChoiceTask; source: string }> {
  const split = oneOf('--split', o.split, BROWN_SPLITS);
  const genres = listOption(o.genres);
  const docs = await loadBrownSplit({ split, ...(genres.length === 0 ? {} : { genres }) });
  const task = asUsage(() => buildNextSentenceTask(docs.map((d) => splitSentences(d.text)), {
    seed, numChoices: checkNumber('--num-choices', o.numChoices, { integer: true, min: 2 }),
    contextSentences: checkNumber('--context-sentences', o.contextSentences, { integer: true, min: 1 }),
    itemsPerDocument: checkNumber('--items-per-document', o.itemsPerDocument, { integer: true, min: 1 }),
  }));
  return { task, source: `Brown ${split}${genres.length === 0 ? '' : ` (${genres.join(', ')})`}, ${String(docs.length)} documents` };
}

/** Runs `sift eval mc`: multiple-choice accuracy (lm-eval's log-likelihood protocol) of a checkpoint. */
export async function runMultipleChoice(o: McCliOptions, ctx: CommandContext): Promise<McCliReport> {
  const lengthUnit = oneOf('--length-unit', o.lengthUnit, LENGTH_UNITS);
  const batchSize = checkNumber('--batch-size', o.batchSize, { integer: true, min: 1 });
  let task: MultipleChoiceTask;
  let source: string;
  if (o.task === 'next-sentence') {
    ({ task, source } = await nextSentenceTask(o, ctx.globals().seed));
  } else if (o.task.endsWith('.jsonl')) {
    let text: string;
    try {
      text = readFileSync(o.task, 'utf8');
    } catch {
      throw new UsageError(`--task ${o.task} cannot be read; give next-sentence or a .jsonl file of {"context", "choices", "gold"} lines`);
    }
    task = { name: o.task, items: asUsage(() => parseMultipleChoiceJsonl(text)) };
    source = o.task;
  } else {
    throw new UsageError(`--task must be next-sentence (built from Brown) or a .jsonl file of {"context", "choices", "gold"} lines, got "${o.task}"`);
  }
  if (task.items.length === 0) throw new UsageError(`the task ${task.name} has no items`);
  await ctx.startBackend();
  const { model, tokenizer } = await loadLm(o.model);
  const progress = ctx.progress();
  const t0 = performance.now();
  try {
    // A choice must fit the model's window beside some context: longer choices keep their first tokens (the same cut
    // for every choice of every model with this tokenizer; whole sentences with BPE at context 128, prefixes at bytes).
    const maxChoice = o.maxChoiceTokens === undefined ? Math.floor(model.maxContext / 2) : checkNumber('--max-choice-tokens', o.maxChoiceTokens, { integer: true, min: 1, max: model.maxContext - 1 });
    let truncated = 0;
    task = {
      name: task.name,
      items: task.items.map((it) => ({
        ...it,
        choices: it.choices.map((c) => {
          const ids = tokenizer.encode(` ${c}`);
          if (ids.length <= maxChoice) return c;
          truncated++;
          return tokenizer.decode(ids.slice(0, maxChoice)).trimStart();
        }),
      })),
    };
    const report = await evaluateMultipleChoice(model, tokenizer, [task], {
      batchSize, lengthUnit, ...(tokenizer.eotId === undefined ? {} : { prefixToken: tokenizer.eotId }),
      onProgress: (p) => { progress.update({ stage: 'multiple-choice', done: p.done, total: p.total }); },
    });
    const r: MultipleChoiceTaskReport = report.tasks[0];
    const counts = task.items.map((it) => it.choices.length);
    const fixed = counts.every((c) => c === counts[0]) ? counts[0] : null;
    return {
      model: o.model, task: task.name, source, n: r.n, numChoices: fixed, chance: counts.reduce((s, c) => s + 1 / c, 0) / counts.length,
      acc: r.acc, accStderr: r.accStderr, accNorm: r.accNorm, accNormStderr: r.accNormStderr, maxChoiceTokens: maxChoice, truncatedChoices: truncated,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    progress.finish();
    model.dispose();
  }
}

/** Options of `sift eval probe`. */
export interface ProbeCliOptions {
  features: string;
  labels?: string;
  labelColumn?: string;
  featuresTensor?: string;
  labelsTensor?: string;
  probe: string;
  task?: string;
  folds: number;
  repeats: number;
  scaling: string;
}

/** What `sift eval probe` returns: the library's `ProbeReport` plus the data's shape and class names. */
export interface ProbeCliReport extends ProbeReport {
  features: string;
  labels: string;
  labelColumn: string;
  rows: number;
  dims: number;
  /** Rows dropped for a missing label (or missing from the labels file). */
  dropped: number;
  /** Class names in index order (classification). */
  classes: string[] | null;
}

function labelColumnOf(t: Table, wanted: string | undefined, what: string): number {
  if (wanted !== undefined) {
    const j = t.columns.indexOf(wanted);
    if (j < 0) throw new UsageError(`${what} has no column "${wanted}"; its columns are ${t.columns.join(', ')}`);
    return j;
  }
  if (t.columns.length === 1) return 0;
  if (t.columns.includes('label')) return t.columns.indexOf('label');
  throw new UsageError(`${what} has several columns (${t.columns.join(', ')}); choose the label with --label-column`);
}

/** Features [N, D] and raw labels, joined by id when both files have an `id` column, else row by row. */
function joinData(o: ProbeCliOptions): { x: Float64Array; rows: number; dims: number; raw: string[]; dropped: number; labelColumn: string; labelsFile: string } {
  const f = readTable(o.features, '--features', 'features', o.featuresTensor === undefined ? [] : [o.featuresTensor]);
  // A safetensors file of `sift eventseq embed` holds its labels too (labels.<name>): it is the default labels file.
  const labelsFile = o.labels ?? (/\.safetensors$/iu.test(o.features) && o.labelColumn !== undefined ? o.features : undefined);
  let featureCols = f.columns.map((_, j) => j);
  let labelsRaw: string[];
  let labelIds: string[] | null;
  let labelColumn: string;
  if (labelsFile === undefined) {
    if (o.labelColumn === undefined) throw new UsageError('give the labels with --labels <file>, or --label-column <name> for a column of the --features CSV');
    const j = labelColumnOf(f, o.labelColumn, `--features ${o.features}`);
    featureCols = featureCols.filter((c) => c !== j);
    labelsRaw = f.cells[j];
    labelIds = f.ids;
    labelColumn = o.labelColumn;
  } else {
    const isSt = /\.safetensors$/iu.test(labelsFile);
    const candidates = o.labelsTensor !== undefined ? [o.labelsTensor] : isSt && o.labelColumn !== undefined ? [`labels.${o.labelColumn}`, o.labelColumn] : [];
    const l = readTable(labelsFile, '--labels', 'labels', candidates);
    const j = labelColumnOf(l, isSt ? undefined : o.labelColumn, `--labels ${labelsFile}`);
    labelsRaw = l.cells[j];
    labelIds = l.ids;
    labelColumn = l.columns[j];
  }
  const dims = featureCols.length;
  if (dims === 0) throw new UsageError(`--features ${o.features} has no feature columns`);
  // Row i of the features takes the label of the same id (both files have ids) or of the same row.
  let pick: (i: number) => string | undefined;
  if (f.ids !== null && labelIds !== null && labelsFile !== o.features) {
    const byId = new Map(labelIds.map((id, i) => [id, labelsRaw[i]]));
    const ids = f.ids;
    pick = (i) => byId.get(ids[i]);
  } else {
    if (labelsRaw.length !== f.rows) {
      throw new UsageError(`--features has ${String(f.rows)} rows but the labels have ${String(labelsRaw.length)}; give both an id column to join them, or the same rows in the same order`);
    }
    pick = (i) => labelsRaw[i];
  }
  const keep: number[] = [];
  const raw: string[] = [];
  for (let i = 0; i < f.rows; i++) {
    const v = pick(i);
    if (v === undefined || v === '' || v.toLowerCase() === 'nan') continue;
    keep.push(i);
    raw.push(v);
  }
  const x = new Float64Array(keep.length * dims);
  for (const [r, i] of keep.entries()) {
    for (const [c, j] of featureCols.entries()) {
      const v = Number(f.cells[j][i]);
      if (!Number.isFinite(v)) throw new UsageError(`--features ${o.features}: column ${f.columns[j]} row ${String(i + 1)} is "${f.cells[j][i]}", not a number`);
      x[r * dims + c] = v;
    }
  }
  return { x, rows: keep.length, dims, raw, dropped: f.rows - keep.length, labelColumn, labelsFile: labelsFile ?? o.features };
}

/** Runs `sift eval probe`: a cross-validated probe on frozen embeddings (the ptls / MLEM protocol of `@sift/eval`). */
export function runProbe(o: ProbeCliOptions, ctx: CommandContext): ProbeCliReport {
  const kind = oneOf('--probe', o.probe, PROBES);
  const task = o.task === undefined ? (kind === 'ridge' ? 'regression' : 'classification') : oneOf('--task', o.task, PROBE_TASKS);
  const folds = checkNumber('--folds', o.folds, { integer: true, min: 2 });
  const repeats = checkNumber('--repeats', o.repeats, { integer: true, min: 1 });
  const scaling = oneOf('--scaling', o.scaling, SCALINGS);
  const d = joinData(o);
  let y: Float64Array;
  let classes: string[] | null = null;
  if (task === 'classification') {
    // Class indices 0..K-1 in sorted order of the labels (numerically when they are all numbers).
    const unique = [...new Set(d.raw)];
    const numeric = unique.every((u) => Number.isFinite(Number(u)));
    classes = unique.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
    const index = new Map(classes.map((c, i) => [c, i]));
    y = Float64Array.from(d.raw, (v) => index.get(v) ?? -1);
  } else {
    y = Float64Array.from(d.raw, Number);
    const bad = d.raw.findIndex((v) => !Number.isFinite(Number(v)));
    if (bad >= 0) throw new UsageError(`regression needs numeric labels; label "${d.raw[bad]}" is not a number (use --task classification)`);
  }
  const seed = ctx.globals().seed;
  const seeds = Array.from({ length: repeats }, (_, i) => seed + i);
  const progress = ctx.progress();
  try {
    const report = asUsage(() => crossValidateProbe({
      x: matrix(d.x, d.rows, d.dims), y, task, probe: { kind }, folds, seeds, scaling,
      onProgress: (p) => { progress.update({ stage: 'probe', done: p.done, total: p.total }); },
    }));
    return {
      ...report, features: o.features, labels: d.labelsFile, labelColumn: d.labelColumn,
      rows: d.rows, dims: d.dims, dropped: d.dropped, classes,
    };
  } finally {
    progress.finish();
  }
}

/** Registers `sift eval ...`. */
export function registerEval(program: Command, ctx: CommandContext): void {
  const evalCmd = program.command('eval').description('Evaluate: perplexity and multiple-choice accuracy of a language model, cross-validated probes on embeddings.');
  perplexityCommand(evalCmd.command('ppl').description('Perplexity (and bits per byte) of a checkpoint on a Brown split, in non-overlapping windows.'), ctx)
    .addHelpText('after', '\nExamples:\n  $ sift eval ppl --model models/small\n  $ sift --json eval ppl --model models/small --split validation --seqlen 128');

  const ns = NEXT_SENTENCE_DEFAULTS;
  evalCmd.command('mc')
    .description('Multiple-choice accuracy (acc and length-normalised acc_norm, lm-eval protocol). The built-in task next-sentence picks ' +
      'the true next sentence of a Brown passage among distractor sentences drawn from other documents (seeded by --seed).')
    .requiredOption('--model <dir>', 'checkpoint folder: config.json, model.safetensors, tokenizer.json')
    .option('--task <name|file>', 'next-sentence, or a .jsonl file with one {"context", "choices", "gold"} object per line', 'next-sentence')
    .option('--split <name>', `next-sentence: Brown split: ${BROWN_SPLITS.join(', ')}`, 'test')
    .option('--genres <list>', 'next-sentence: only these Brown genres (letters or names, comma-separated)')
    .option('--num-choices <n>', 'next-sentence: the true sentence and n - 1 distractors', parseIntOption('--num-choices'), ns.numChoices)
    .option('--context-sentences <n>', 'next-sentence: sentences of context', parseIntOption('--context-sentences'), ns.contextSentences)
    .option('--items-per-document <n>', 'next-sentence: items drawn from each document', parseIntOption('--items-per-document'), ns.itemsPerDocument)
    .option('--batch-size <n>', 'requests per forward pass', parseIntOption('--batch-size'), MULTIPLE_CHOICE_DEFAULTS.batchSize)
    .option('--max-choice-tokens <n>', 'choices longer than this keep their first n tokens (default: half the model context)', parseIntOption('--max-choice-tokens'))
    .option('--length-unit <u>', `acc_norm divides the log-likelihood by the choice's length in: ${LENGTH_UNITS.join(', ')}`, MULTIPLE_CHOICE_DEFAULTS.lengthUnit)
    .addHelpText('after', [
      '', 'Examples:',
      '  $ sift eval mc --model models/small',
      '  $ sift --seed 1 --json eval mc --model models/small-8x16 --split validation --items-per-document 4',
      '  $ sift eval mc --model models/small --task my-task.jsonl',
    ].join('\n'))
    .action(async (opts: McCliOptions) => {
      const r = await runMultipleChoice(opts, ctx);
      ctx.io.out(ctx.globals().json ? JSON.stringify(r, null, 2)
        : `${r.task} on ${r.source}: acc ${r.acc.toFixed(4)} ± ${fmt(r.accStderr)}, acc_norm ${r.accNorm.toFixed(4)} ± ${fmt(r.accNormStderr)} ` +
          `over ${String(r.n)} items (chance ${r.chance.toFixed(3)}), ${r.seconds.toFixed(1)} s` +
          (r.truncatedChoices > 0 ? `; ${String(r.truncatedChoices)} choices cut to ${String(r.maxChoiceTokens)} tokens` : ''));
    });

  evalCmd.command('probe')
    .description('Cross-validated probe on embeddings (stratified k-fold per seed, scaler fitted on each training part): metric mean ± std.')
    .requiredOption('--features <file>', 'embeddings: .csv (header; optional id column, e.g. `sift eventseq embed` output), .npy [N, D] or .safetensors')
    .option('--labels <file>', 'labels: .csv (optional id column joins them to the features), .npy [N] or .safetensors')
    .option('--label-column <name>', 'the label column of the labels CSV (of the features CSV when --labels is not given; labels.<name> in safetensors)')
    .option('--features-tensor <name>', 'the tensor of a .safetensors features file holding several')
    .option('--labels-tensor <name>', 'the tensor of a .safetensors labels file holding several')
    .option('--probe <kind>', PROBES.join(', '), 'logistic')
    .option('--task <t>', `${PROBE_TASKS.join(', ')} (default: regression for ridge, else classification)`)
    .option('--folds <k>', 'folds per seed', parseIntOption('--folds'), 5)
    .option('--repeats <n>', 'k-folds with seeds --seed, --seed + 1, ...', parseIntOption('--repeats'), PROBE_EVAL_DEFAULTS.seeds.length)
    .option('--scaling <s>', `feature scaling fitted on each training part: ${SCALINGS.join(', ')}`, PROBE_EVAL_DEFAULTS.scaling)
    .addHelpText('after', [
      '', 'Examples:',
      '  $ sift eval probe --features emb.csv --labels labels.csv --label-column age_group',
      '  $ sift eval probe --features emb.npy --labels y.npy --probe gbdt --folds 5',
      '  $ sift --json eval probe --features emb.safetensors --labels y.csv --probe ridge',
    ].join('\n'))
    .action((opts: ProbeCliOptions) => {
      const r = runProbe(opts, ctx);
      if (ctx.globals().json) {
        ctx.io.out(JSON.stringify(r, null, 2));
        return;
      }
      ctx.io.out(formatTable(['metric', 'mean', 'std'], Object.entries(r.metrics).map(([k, s]) => [k, fmt(s.mean), fmt(s.std)])));
      const main = r.task === 'classification' ? 'accuracy' : 'mse';
      const m = r.metrics[main];
      ctx.io.out(`\n${main} ${fmt(m.mean)} ± ${fmt(m.std)} (${r.probe}, ${String(r.folds)}-fold x ${String(r.seeds.length)} seeds, ` +
        `${String(r.rows)} rows x ${String(r.dims)} features${r.classes === null ? '' : `, ${String(r.classes.length)} classes`}` +
        `${r.dropped > 0 ? `, ${String(r.dropped)} rows without a label dropped` : ''})`);
    });
}
