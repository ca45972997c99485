import * as tf from '@tensorflow/tfjs-core';
import { SiftError } from '@sift/tensor-core';
import { checkKnownKeys, checkNumber } from '../internal/options.js';
import type { LogitsModel } from './types.js';

/** Options of `bigramLogitsModel`. */
export interface BigramOptions {
  /** Vocabulary size V; every id must be < V. */
  vocabSize: number;
  /** Add-k smoothing of the counts: P(j | i) = (c_ij + k) / (c_i + kV). */
  smoothing: number;
}

/** Defaults of `bigramLogitsModel`. */
export const BIGRAM_DEFAULTS: Omit<BigramOptions, 'vocabSize'> = { smoothing: 1 };

/** A `LogitsModel` that owns a `[V, V]` table; call `dispose()` when done. */
export interface BigramModel extends LogitsModel {
  /** log P(j | i) as a float64 `[V, V]` row-major table (the closed form the model serves). */
  readonly logProbs: Float64Array;
  dispose(): void;
}

/**
 * An add-k smoothed bigram model counted from a training token stream, served as a `LogitsModel` (logits at t are
 * log P(· | ids[t])). A baseline any LM should beat, and a model whose perplexity has a closed form for tests.
 * @example
 * const model = bigramLogitsModel(trainIds, { vocabSize: 256 });
 * const { perplexity: ppl } = await perplexity(model, testIds, { seqlen: 64 });
 * model.dispose();
 */
export function bigramLogitsModel(train: ArrayLike<number>, options: Partial<BigramOptions> & Pick<BigramOptions, 'vocabSize'>): BigramModel {
  checkKnownKeys('bigramLogitsModel', options, ['vocabSize', 'smoothing']);
  const o = { ...BIGRAM_DEFAULTS, ...options };
  const v = checkNumber('bigramLogitsModel', 'vocabSize', o.vocabSize, { min: 1, max: 16384, integer: true });
  checkNumber('bigramLogitsModel', 'smoothing', o.smoothing, { min: 0, minExclusive: true });
  const counts = new Float64Array(v * v);
  for (let i = 0; i < train.length; i++) {
    const t = train[i];
    if (!Number.isInteger(t) || t < 0 || t >= v) throw new SiftError('E_DATA', `bigramLogitsModel: token ${t} at ${i} is outside [0, ${v}).`);
    if (i > 0) counts[train[i - 1] * v + t] += 1;
  }
  const logProbs = new Float64Array(v * v);
  for (let a = 0; a < v; a++) {
    let row = 0;
    for (let b = 0; b < v; b++) row += counts[a * v + b];
    const denom = row + o.smoothing * v;
    for (let b = 0; b < v; b++) logProbs[a * v + b] = Math.log((counts[a * v + b] + o.smoothing) / denom);
  }
  const table = tf.tensor2d(Float32Array.from(logProbs), [v, v]);
  return {
    logProbs,
    logits: (ids: tf.Tensor2D): tf.Tensor3D => tf.tidy(() => {
      const [b, t] = ids.shape;
      return tf.reshape<tf.Rank.R3>(tf.gather(table, tf.reshape(ids, [-1])), [b, t, v]);
    }),
    dispose: (): void => {
      table.dispose();
    },
  };
}
