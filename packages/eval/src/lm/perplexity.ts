import { SiftError } from '@sift/tensor-core';
import { checkChoice, checkKnownKeys, checkNumber } from '../internal/options.js';
import { targetLogProbs } from './score-tokens.js';
import type { LogitsModel } from './types.js';

/** How the token stream is cut: non-overlapping windows (SparseGPT/Wanda) or a strided sliding window (HF). */
export type PerplexityMode = 'windows' | 'sliding';

/** Progress of `perplexity`: one call per batch. */
export interface PerplexityProgress {
  stage: 'perplexity';
  /** Windows scored so far. */
  done: number;
  /** Windows in all. */
  total: number;
}

/** Options of `perplexity`. */
export interface PerplexityOptions {
  /** Window length T; default the model's `maxContext`. */
  seqlen?: number;
  /** `windows`: floor(N / seqlen) non-overlapping windows; `sliding`: windows every `stride` tokens. */
  mode: PerplexityMode;
  /** Sliding mode: tokens between window starts, in [1, seqlen]; default floor(seqlen / 2). */
  stride?: number;
  /** Windows per model call. */
  batchSize: number;
  /** UTF-8 bytes of the evaluated text, for bits per byte (the caller knows how the text maps to tokens). */
  bytes?: number;
  onProgress?: (p: PerplexityProgress) => void;
}

/** Defaults of `perplexity`. */
export const PERPLEXITY_DEFAULTS: PerplexityOptions = { mode: 'windows', batchSize: 8 };

/** What `perplexity` returns. */
export interface PerplexityReport {
  /** exp(mean NLL per scored token). */
  perplexity: number;
  /** Mean negative log-likelihood per scored token, nats. */
  nll: number;
  /** Sum of NLL over scored tokens, nats. */
  totalNll: number;
  /** Tokens scored (each predicted from its preceding context within a window). */
  tokens: number;
  /** Windows evaluated. */
  windows: number;
  mode: PerplexityMode;
  seqlen: number;
  /** Tokens between window starts (= seqlen for non-overlapping windows). */
  stride: number;
  /** Mean NLL per token in bits. */
  bitsPerToken: number;
  /** Total NLL in bits / `bytes`; null when `bytes` was not given. */
  bitsPerByte: number | null;
}

/** One window: its start in the stream, length, and the first position (>= 1) whose token it scores. */
interface Window {
  start: number;
  len: number;
  scoreFrom: number;
}

/** Plans the windows of either protocol over a stream of `n` tokens. */
export function planWindows(n: number, mode: PerplexityMode, seqlen: number, stride: number): Window[] {
  const out: Window[] = [];
  if (mode === 'windows') {
    const nsamples = Math.floor(n / seqlen);
    for (let i = 0; i < nsamples; i++) out.push({ start: i * seqlen, len: seqlen, scoreFrom: 1 });
    return out;
  }
  // HF's perplexity recipe: each window scores only the tokens after the previous window's end.
  let prevEnd = 0;
  for (let begin = 0; begin < n; begin += stride) {
    const end = Math.min(begin + seqlen, n);
    const len = end - begin;
    const trg = end - prevEnd;
    if (len >= 2) out.push({ start: begin, len, scoreFrom: Math.max(1, len - trg) });
    prevEnd = end;
    if (end === n) break;
  }
  return out;
}

function parsePerplexityOptions(input: Partial<PerplexityOptions>, model: LogitsModel): Required<Omit<PerplexityOptions, 'bytes' | 'onProgress'>> & PerplexityOptions {
  const w = 'perplexity';
  checkKnownKeys(w, input, ['seqlen', 'mode', 'stride', 'batchSize', 'bytes', 'onProgress']);
  const o = { ...PERPLEXITY_DEFAULTS, ...input };
  checkChoice(w, 'mode', o.mode, ['windows', 'sliding']);
  const seqlen = o.seqlen ?? model.maxContext;
  if (seqlen === undefined) {
    throw new SiftError('E_CONFIG', 'perplexity: no window length; pass { seqlen } or give the model a maxContext.');
  }
  checkNumber(w, 'seqlen', seqlen, { min: 2, integer: true });
  if (model.maxContext !== undefined && seqlen > model.maxContext) {
    throw new SiftError('E_CONFIG', `perplexity: seqlen ${seqlen} exceeds the model's maxContext ${model.maxContext}; use seqlen <= ${model.maxContext}.`);
  }
  const stride = o.mode === 'windows' ? seqlen : (o.stride ?? Math.max(1, Math.floor(seqlen / 2)));
  checkNumber(w, 'stride', stride, { min: 1, max: seqlen, integer: true });
  checkNumber(w, 'batchSize', o.batchSize, { min: 1, integer: true });
  if (o.bytes !== undefined) checkNumber(w, 'bytes', o.bytes, { min: 1, integer: true });
  return { ...o, seqlen, stride };
}

/**
 * Perplexity of a causal LM over a token stream, batched.
 *
 * `windows` (default) is the WikiText-2 protocol of SparseGPT and Wanda (`eval_ppl`): the test text is concatenated
 * and tokenised once, cut into nsamples = floor(N / seqlen) non-overlapping windows (the remainder dropped), and
 * ppl = exp(mean NLL over every predicted token), i.e. seqlen − 1 per window. `sliding` is Hugging Face's strided
 * recipe: windows of `seqlen` start every `stride` tokens and each scores only the tokens no earlier window scored,
 * so every token but the first is scored once, with at least seqlen − stride tokens of context.
 *
 * Bits per byte = total NLL in bits / `bytes` (pass the UTF-8 byte count of the text the scored tokens cover).
 * @param ids the token stream (the tokenised, concatenated test text)
 * @example
 * const r = await perplexity(model, ids, { seqlen: 128, batchSize: 8 });
 * console.log(r.perplexity, r.tokens);
 */
export async function perplexity(model: LogitsModel, ids: ArrayLike<number>, options: Partial<PerplexityOptions> = {}): Promise<PerplexityReport> {
  const o = parsePerplexityOptions(options, model);
  const n = ids.length;
  for (let i = 0; i < n; i++) {
    const t = ids[i];
    if (!Number.isInteger(t) || t < 0) throw new SiftError('E_DATA', `perplexity: ids[${i}] = ${t} is not a token id (a non-negative integer).`);
  }
  const windows = planWindows(n, o.mode, o.seqlen, o.stride);
  if (windows.length === 0) {
    throw new SiftError('E_DATA', `perplexity: the stream has ${n} tokens, fewer than one window of ${o.seqlen} (mode '${o.mode}'); pass more text or a smaller seqlen.`);
  }
  let totalNll = 0;
  let tokens = 0;
  let done = 0;
  let w = 0;
  while (w < windows.length) {
    // A batch: consecutive windows of the same length (only the last sliding window can be shorter).
    const len = windows[w].len;
    let b = 0;
    while (w + b < windows.length && b < o.batchSize && windows[w + b].len === len) b++;
    const batchIds = new Int32Array(b * len);
    let m = 0;
    for (let j = 0; j < b; j++) {
      const win = windows[w + j];
      for (let t = 0; t < len; t++) batchIds[j * len + t] = ids[win.start + t]!;
      m += len - win.scoreFrom;
    }
    const positions = new Int32Array(m);
    const targets = new Int32Array(m);
    m = 0;
    for (let j = 0; j < b; j++) {
      const win = windows[w + j];
      for (let t = win.scoreFrom; t < len; t++) {
        positions[m] = j * len + t - 1; // logits at t−1 predict token t
        targets[m] = batchIds[j * len + t]!;
        m++;
      }
    }
    const logp = await targetLogProbs('perplexity', model, batchIds, b, len, positions, targets);
    for (const lp of logp) totalNll -= lp;
    tokens += m;
    w += b;
    done += b;
    o.onProgress?.({ stage: 'perplexity', done, total: windows.length });
  }
  const nll = totalNll / tokens;
  return {
    perplexity: Math.exp(nll), nll, totalNll, tokens, windows: windows.length, mode: o.mode, seqlen: o.seqlen,
    stride: o.stride, bitsPerToken: nll / Math.LN2, bitsPerByte: o.bytes === undefined ? null : totalNll / Math.LN2 / o.bytes,
  };
}
