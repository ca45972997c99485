/**
 * The pruning methods, one line each: how a method scores a weight, and what statistics it needs. SparseGPT's score
 * is recomputed on the updated weights inside `sparsegptPrune`; its entry here scores the original weights (for
 * choosing salient entries and for masks without updates).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ActivationStats } from '@sift/tensor-core';
import { magnitudeScore, sparsegptScore, wandaScore } from '@sift/salience';
import type { MethodName } from './config.js';

/** What a method's score reads besides the weight. */
export interface ScoreContext {
  /** Input statistics of the layer (Wanda: sqNorm). */
  stats: ActivationStats | null;
  /** diag of U = chol(H⁻¹)ᵀ (SparseGPT). */
  hinvDiag: Float64Array | null;
}

/** One pruning method. */
export interface PruningMethod {
  /** Whether it needs the input Gram matrix XᵀX (SparseGPT's Hessian). */
  needsGram: boolean;
  /** Whether it updates the kept weights (OBS). */
  updatesWeights: boolean;
  /** Element scores [out, in], larger = keep. */
  score: (weight: tf.Tensor2D, ctx: ScoreContext) => tf.Tensor2D;
}

function need<T>(v: T | null, what: string, method: string): T {
  if (v === null) throw new Error(`${method} needs ${what}`);
  return v;
}

/** Every method by name. Adding one: a line here, a branch in `pruneLayer` if it updates weights. */
export const METHODS: Readonly<Record<MethodName, PruningMethod>> = Object.freeze({
  magnitude: { needsGram: false, updatesWeights: false, score: (w) => magnitudeScore(w) },
  wanda: { needsGram: false, updatesWeights: false, score: (w, ctx) => wandaScore(w, need(ctx.stats, 'input statistics', 'wanda')) },
  sparsegpt: { needsGram: true, updatesWeights: true, score: (w, ctx) => sparsegptScore(w, need(ctx.hinvDiag, 'diag(Hinv)', 'sparsegpt')) },
});
