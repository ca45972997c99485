import { SiftError } from '@sift/tensor-core';
import { checkChoice, checkKnownKeys, checkNumber } from '../internal/options.js';
import { targetLogProbs } from './score-tokens.js';
import type { LogitsModel, Tokenizer } from './types.js';

/** One multiple-choice question: the model scores `context + targetDelimiter + choices[i]` for every i. */
export interface MultipleChoiceItem {
  context: string;
  choices: string[];
  /** Index of the correct choice. */
  gold: number;
}

/** A named list of items (one lm-eval task). */
export interface MultipleChoiceTask {
  name: string;
  items: MultipleChoiceItem[];
}

/** Progress of `evaluateMultipleChoice`: one call per batch. */
export interface MultipleChoiceProgress {
  stage: 'multiple-choice';
  /** (context, choice) requests scored so far, over all tasks. */
  done: number;
  total: number;
}

/** Options of `evaluateMultipleChoice`. */
export interface MultipleChoiceOptions {
  /** Requests per model call (right-padded to the longest in the batch). */
  batchSize: number;
  /** Put between context and choice, as lm-eval's `target_delimiter`. */
  targetDelimiter: string;
  /** acc_norm divides by the choice's length in Unicode characters (lm-eval) or UTF-8 bytes. */
  lengthUnit: 'chars' | 'bytes';
  /** Padding id for right-padding (never scored). */
  padToken: number;
  /** Token to condition on when a context is empty (lm-eval uses the EOT token); required only then. */
  prefixToken?: number;
  /** Longest input fed to the model; default the model's maxContext, else unlimited. Longer inputs keep their end. */
  maxContext?: number;
  onProgress?: (p: MultipleChoiceProgress) => void;
}

/** Defaults of `evaluateMultipleChoice` (lm-evaluation-harness conventions). */
export const MULTIPLE_CHOICE_DEFAULTS: MultipleChoiceOptions = { batchSize: 8, targetDelimiter: ' ', lengthUnit: 'chars', padToken: 0 };

/** Scores of one item. */
export interface MultipleChoiceItemResult {
  /** Σ log p(continuation tokens | context), one per choice, nats. */
  loglikelihoods: number[];
  /** argmax of loglikelihoods (first on ties, as numpy). */
  pred: number;
  /** argmax of loglikelihood / length(choice). */
  predNorm: number;
  gold: number;
}

/** Per-task accuracy and its standard error (lm-eval: sample std / √n). */
export interface MultipleChoiceTaskReport {
  name: string;
  /** Items scored. */
  n: number;
  acc: number;
  /** Standard error of `acc` (NaN when n < 2). */
  accStderr: number;
  accNorm: number;
  accNormStderr: number;
  items: MultipleChoiceItemResult[];
}

/** What `evaluateMultipleChoice` returns: one entry per task, in input order. */
export interface MultipleChoiceReport {
  tasks: MultipleChoiceTaskReport[];
}

/**
 * Splits a context/continuation pair into token ids the way lm-eval's `_encode_pair` does: trailing whitespace of
 * the context moves to the continuation, then continuation ids = encode(context + continuation) minus the first
 * len(encode(context)) ids, so BPE merges across the boundary are scored as the model would see them.
 */
export function encodePair(tokenizer: Tokenizer, context: string, continuation: string): { context: number[]; continuation: number[] } {
  const trimmed = context.replace(/\s+$/u, '');
  const moved = context.slice(trimmed.length);
  const cont = moved + continuation;
  const whole = tokenizer.encode(trimmed + cont);
  const ctx = tokenizer.encode(trimmed);
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

/**
 * Parses a JSONL task file, one `{"context": string, "choices": string[], "gold": number}` per line (blank lines
 * skipped). Errors name the line.
 * @example
 * const items = parseMultipleChoiceJsonl('{"context":"2+2 =","choices":["4","5"],"gold":0}\n');
 */
export function parseMultipleChoiceJsonl(text: string): MultipleChoiceItem[] {
  const items: MultipleChoiceItem[] = [];
  const lines = text.split(/\r?\n/u);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new SiftError('E_DATA', `parseMultipleChoiceJsonl: line ${i + 1} is not JSON (${(err as Error).message}).`);
    }
    items.push(checkItem(obj, `parseMultipleChoiceJsonl: line ${i + 1}`));
  }
  return items;
}

/** Writes items as JSONL, one object per line (the inverse of `parseMultipleChoiceJsonl`). */
export function toMultipleChoiceJsonl(items: readonly MultipleChoiceItem[]): string {
  return items.map((it) => JSON.stringify({ context: it.context, choices: it.choices, gold: it.gold })).join('\n') + '\n';
}

function checkItem(obj: unknown, where: string): MultipleChoiceItem {
  const o = obj as Partial<MultipleChoiceItem> | null;
  if (o === null || typeof o !== 'object') throw new SiftError('E_DATA', `${where}: expected an object {context, choices, gold}.`);
  if (typeof o.context !== 'string') throw new SiftError('E_DATA', `${where}: "context" must be a string.`);
  if (!Array.isArray(o.choices) || o.choices.length < 2 || !o.choices.every((c) => typeof c === 'string')) {
    throw new SiftError('E_DATA', `${where}: "choices" must be an array of at least 2 strings.`);
  }
  if (typeof o.gold !== 'number' || !Number.isInteger(o.gold) || o.gold < 0 || o.gold >= o.choices.length) {
    throw new SiftError('E_DATA', `${where}: "gold" must be an index into choices (0..${o.choices.length - 1}), got ${JSON.stringify(o.gold)}.`);
  }
  return { context: o.context, choices: o.choices, gold: o.gold };
}

function lengthOf(s: string, unit: 'chars' | 'bytes'): number {
  if (unit === 'bytes') return new TextEncoder().encode(s).length;
  // Python's len(str) counts code points; JS .length counts UTF-16 units, a string iterator yields code points.
  let n = 0;
  for (const _codePoint of s) n++;
  return n;
}

function argmax(a: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

function stderrOfMean(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return Number.NaN;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const ss = values.reduce((s, v) => s + (v - mean) ** 2, 0);
  return Math.sqrt(ss / (n - 1)) / Math.sqrt(n);
}

interface Request {
  task: number;
  item: number;
  choice: number;
  /** Model input (already truncated), and how many of its last positions predict the continuation. */
  input: number[];
  continuation: number[];
}

/**
 * Multiple-choice log-likelihood scoring as lm-evaluation-harness does it for `multiple_choice` tasks: for each
 * choice, ll = Σ log p(continuation | context) with continuation = targetDelimiter + choice; `acc` counts
 * argmax(ll) = gold, `acc_norm` counts argmax(ll / length(choice)) = gold (length in characters, or bytes). Standard
 * errors are lm-eval's: sample std / √n. Requests are sorted by length and right-padded into batches (the model
 * must be causal).
 * @example
 * const report = await evaluateMultipleChoice(model, tokenizer, [{ name: 'next-sentence', items }]);
 * console.log(report.tasks[0].acc, report.tasks[0].accStderr);
 */
export async function evaluateMultipleChoice(
  model: LogitsModel, tokenizer: Tokenizer, tasks: readonly MultipleChoiceTask[], options: Partial<MultipleChoiceOptions> = {},
): Promise<MultipleChoiceReport> {
  const w = 'evaluateMultipleChoice';
  checkKnownKeys(w, options, ['batchSize', 'targetDelimiter', 'lengthUnit', 'padToken', 'prefixToken', 'maxContext', 'onProgress']);
  const o = { ...MULTIPLE_CHOICE_DEFAULTS, ...options };
  checkNumber(w, 'batchSize', o.batchSize, { min: 1, integer: true });
  checkChoice(w, 'lengthUnit', o.lengthUnit, ['chars', 'bytes']);
  checkNumber(w, 'padToken', o.padToken, { min: 0, integer: true });
  if (o.prefixToken !== undefined) checkNumber(w, 'prefixToken', o.prefixToken, { min: 0, integer: true });
  const maxLen = o.maxContext ?? model.maxContext ?? Number.POSITIVE_INFINITY;
  if (maxLen !== Number.POSITIVE_INFINITY) checkNumber(w, 'maxContext', maxLen, { min: 1, integer: true });

  const requests: Request[] = [];
  tasks.forEach((task, ti) => {
    task.items.forEach((raw, ii) => {
      const item = checkItem(raw, `${w}: task "${task.name}" item ${ii}`);
      item.choices.forEach((choice, ci) => {
        const where = `${w}: task "${task.name}" item ${ii} choice ${ci}`;
        const pair = item.context === ''
          ? { context: [], continuation: tokenizer.encode(o.targetDelimiter + choice) }
          : encodePair(tokenizer, item.context, o.targetDelimiter + choice);
        const cont = pair.continuation;
        let ctx = pair.context;
        if (ctx.length === 0) {
          // Nothing to condition the first continuation token on: lm-eval prepends the EOT token.
          if (o.prefixToken === undefined) throw new SiftError('E_CONFIG', `${where}: the context encodes to no tokens; pass { prefixToken } (e.g. the EOT id) to condition on.`);
          ctx = [o.prefixToken];
        }
        if (cont.length === 0) throw new SiftError('E_DATA', `${where}: the continuation "${o.targetDelimiter + choice}" encodes to no tokens.`);
        if (cont.length > maxLen) throw new SiftError('E_DATA', `${where}: the continuation has ${cont.length} tokens, more than the window of ${maxLen}.`);
        const full = [...ctx, ...cont];
        const keep = Math.min(full.length, maxLen + 1);
        requests.push({ task: ti, item: ii, choice: ci, input: full.slice(full.length - keep, full.length - 1), continuation: cont });
      });
    });
  });

  // Longest first (as lm-eval), so batches pad little and a too-long input fails early.
  const order = requests.map((_, i) => i).sort((a, b) => requests[b].input.length - requests[a].input.length || a - b);
  const ll = new Float64Array(requests.length);
  for (let s = 0; s < order.length; s += o.batchSize) {
    const idx = order.slice(s, s + o.batchSize);
    const b = idx.length;
    const T = requests[idx[0]].input.length;
    const ids = new Int32Array(b * T).fill(o.padToken);
    let m = 0;
    for (const r of idx) m += requests[r].continuation.length;
    const positions = new Int32Array(m);
    const targets = new Int32Array(m);
    m = 0;
    idx.forEach((r, j) => {
      const req = requests[r];
      const L = req.input.length;
      for (let t = 0; t < L; t++) ids[j * T + t] = req.input[t]!;
      const c = req.continuation.length;
      for (let q = 0; q < c; q++) {
        positions[m] = j * T + L - c + q; // position L − c + q predicts continuation token q
        targets[m] = req.continuation[q]!;
        m++;
      }
    });
    const logp = await targetLogProbs(w, model, ids, b, T, positions, targets);
    m = 0;
    for (const r of idx) {
      let sum = 0;
      for (let q = 0; q < requests[r].continuation.length; q++) sum += logp[m + q];
      m += requests[r].continuation.length;
      ll[r] = sum;
    }
    o.onProgress?.({ stage: 'multiple-choice', done: Math.min(s + o.batchSize, order.length), total: order.length });
  }

  let k = 0;
  const reports: MultipleChoiceTaskReport[] = tasks.map((task) => {
    const items: MultipleChoiceItemResult[] = task.items.map((item) => {
      const lls = item.choices.map(() => ll[k++]);
      const norm = lls.map((v, i) => v / lengthOf(item.choices[i], o.lengthUnit));
      return { loglikelihoods: lls, pred: argmax(lls), predNorm: argmax(norm), gold: item.gold };
    });
    const acc = items.map((r) => (r.pred === r.gold ? 1 : 0));
    const accNorm = items.map((r) => (r.predNorm === r.gold ? 1 : 0));
    const mean = (a: number[]): number => (a.length === 0 ? Number.NaN : a.reduce((s, v) => s + v, 0) / a.length);
    return {
      name: task.name, n: items.length, acc: mean(acc), accStderr: stderrOfMean(acc),
      accNorm: mean(accNorm), accNormStderr: stderrOfMean(accNorm), items,
    };
  });
  return { tasks: reports };
}
