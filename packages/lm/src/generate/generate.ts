import * as tf from '@tensorflow/tfjs-core';
import { Rng, SiftError } from '@sift/tensor-core';
import type { CausalLM } from '../model/causal-lm.js';

/** Options of `generate`. */
export interface GenerateOptions {
  /** New tokens per row at most. Default 32. */
  maxNewTokens?: number;
  /** false: greedy (argmax). true: sample from softmax(logits / temperature), after top-k and top-p. Default false. */
  sample?: boolean;
  /** Softmax temperature (> 0) when sampling. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens when sampling; 0 = all. Default 0. */
  topK?: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability reaches p, in (0, 1]. Default 1 (off). */
  topP?: number;
  /** Seed of the sampler (`new Rng(seed)`). Default 0. */
  seed?: number;
  /** A row stops after emitting one of these ids (kept in its output). Default: the config's `eos_token_id`, if any. */
  stopTokens?: readonly number[];
}

/** Defaults of `GenerateOptions`. */
export const GENERATE_DEFAULTS: Required<Omit<GenerateOptions, 'stopTokens'>> = {
  maxNewTokens: 32, sample: false, temperature: 1, topK: 0, topP: 1, seed: 0,
};

/** Why a row stopped. */
export type FinishReason = 'stop' | 'length' | 'context';

/** What `generate` returns. */
export interface GenerateReport {
  /** New token ids per row (a stop token included). */
  tokens: number[][];
  /** Prompt + new tokens per row. */
  sequences: number[][];
  /** Per row: `stop` (a stop token), `length` (maxNewTokens), `context` (the model's context is full). */
  finishReasons: FinishReason[];
  /** Forward calls made (1 for the prompt + 1 per further token). */
  steps: number;
  /** New tokens (all rows) per second of wall time, prompt included in the time. */
  tokensPerSecond: number;
}

function checkOptions(o: Required<Omit<GenerateOptions, 'stopTokens'>>): void {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new SiftError('E_CONFIG', `generate: ${field} must be ${want}, got ${String(got)}.`);
  };
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1) bad('maxNewTokens', 'a positive integer', o.maxNewTokens);
  if (!(o.temperature > 0) || !Number.isFinite(o.temperature)) bad('temperature', '> 0 (use sample: false for greedy)', o.temperature);
  if (!Number.isInteger(o.topK) || o.topK < 0) bad('topK', 'an integer >= 0 (0 = off)', o.topK);
  if (!(o.topP > 0 && o.topP <= 1)) bad('topP', 'in (0, 1]', o.topP);
  if (!Number.isFinite(o.seed)) bad('seed', 'a finite number', o.seed);
}

/**
 * Picks the next token from one row of logits: argmax, or a sample after temperature, top-k and top-p (the order of
 * Hugging Face's logits warpers). Ties go to the lower id.
 * @param logits [V] raw logits
 */
export function pickToken(logits: Float32Array, options: GenerateOptions, rng: Rng): number {
  const o = { ...GENERATE_DEFAULTS, ...options };
  const V = logits.length;
  if (!o.sample) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const k = o.topK > 0 ? Math.min(o.topK, V) : V;
  const top = order.slice(0, k);
  const maxLogit = logits[top[0]];
  const p = top.map((i) => Math.exp((logits[i] - maxLogit) / o.temperature));
  const total = p.reduce((a, b) => a + b, 0);
  let keep = top.length;
  if (o.topP < 1) {
    let cum = 0;
    for (let j = 0; j < top.length; j++) {
      cum += p[j] / total;
      if (cum >= o.topP) {
        keep = j + 1;
        break;
      }
    }
  }
  return top[rng.categorical(p.slice(0, keep))];
}

/**
 * Autoregressive generation with a KV cache: one forward over the prompts, then one token per step. Rows are
 * prompts of equal length; a row that stops keeps running (its further tokens are dropped) until all stop.
 * @param prompts token ids, one row or several of the same length
 * @example
 * const { tokens } = await generate(model, tokenizer.encode('The jury said'), { maxNewTokens: 20, sample: true, topP: 0.9, seed: 1 });
 */
export async function generate(model: CausalLM, prompts: readonly number[] | readonly (readonly number[])[], options: GenerateOptions = {}): Promise<GenerateReport> {
  const o = { ...GENERATE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as
    Required<Omit<GenerateOptions, 'stopTokens'>> & GenerateOptions;
  checkOptions(o);
  const rows: number[][] = (prompts.length > 0 && Array.isArray(prompts[0]) ? prompts as number[][] : [prompts as number[]]).map((r) => [...r]);
  const T0 = rows[0]?.length ?? 0;
  if (rows.length === 0 || T0 === 0) throw new SiftError('E_EMPTY', 'generate: the prompt is empty; give at least one token id.');
  if (rows.some((r) => r.length !== T0)) {
    throw new SiftError('E_SHAPE', `generate: prompts must have the same length (got ${rows.map((r) => r.length).join(', ')}); ` +
      'generate them one by one.');
  }
  if (T0 > model.maxContext) throw new SiftError('E_SHAPE', `generate: the prompt has ${T0} tokens, more than the context of ${model.maxContext}.`);
  for (const r of rows) for (const id of r) {
    if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
      throw new SiftError('E_DATA', `generate: token id ${id} is outside the vocabulary [0, ${model.vocabSize}).`);
    }
  }
  const eos = model.config.eos_token_id;
  const stop = new Set(o.stopTokens ?? (eos === undefined ? [] : [eos]));
  const rng = new Rng(o.seed);
  const B = rows.length;
  const tokens: number[][] = rows.map(() => []);
  const finish: (FinishReason | null)[] = rows.map(() => null);
  const caches = model.newCaches();
  const t0 = performance.now();
  let steps = 0;
  let input = tf.tensor2d(rows.flat(), [B, T0], 'int32');
  try {
    for (;;) {
      const logits = tf.tidy(() => tf.reshape(model.forward(input, { caches, lastOnly: true }), [B, model.vocabSize]));
      input.dispose();
      steps += 1;
      const values = (await logits.data()) as Float32Array;
      logits.dispose();
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        const id = pickToken(values.subarray(b * model.vocabSize, (b + 1) * model.vocabSize), o, rng);
        next.push(id);
        if (finish[b] !== null) continue;
        tokens[b].push(id);
        if (stop.has(id)) finish[b] = 'stop';
        else if (tokens[b].length >= o.maxNewTokens) finish[b] = 'length';
        else if (T0 + tokens[b].length >= model.maxContext) finish[b] = 'context';
      }
      if (finish.every((f) => f !== null)) break;
      input = tf.tensor2d(next, [B, 1], 'int32');
    }
  } finally {
    caches.forEach((c) => { c.dispose(); });
  }
  const seconds = (performance.now() - t0) / 1000;
  const produced = tokens.reduce((n, t) => n + t.length, 0);
  return {
    tokens,
    sequences: rows.map((r, b) => [...r, ...tokens[b]]),
    finishReasons: finish,
    steps,
    tokensPerSecond: produced / Math.max(seconds, 1e-9),
  };
}
