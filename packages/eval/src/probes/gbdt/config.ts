import { checkChoice, checkKnownKeys, checkNumber } from '../../internal/options.js';

/** Loss of a gradient-boosted model: logloss (binary), softmax (multiclass, one tree per class per round), L2. */
export type GbdtObjective = 'binary' | 'multiclass' | 'regression';

/** The objectives, for validation and CLI help. */
export const GBDT_OBJECTIVES: readonly GbdtObjective[] = ['binary', 'multiclass', 'regression'];

/** Progress of `fitGbdt`: one call per boosting round. */
export interface GbdtProgress {
  stage: 'gbdt';
  /** Rounds done. */
  done: number;
  /** Rounds planned (`nEstimators`). */
  total: number;
}

/**
 * Options of `fitGbdt`, named as LightGBM's parameters (camelCase): `numLeaves` is `num_leaves`, and so on. All
 * are plain numbers so an options object can be stored with a result.
 */
export interface GbdtOptions {
  objective: GbdtObjective;
  /** Boosting rounds (`n_estimators` / `num_iterations`). Multiclass grows one tree per class per round. */
  nEstimators: number;
  /** Shrinkage applied to each tree's leaf values. */
  learningRate: number;
  /** Leaves per tree; trees grow leaf-wise (best-first) until this count. */
  numLeaves: number;
  /** Maximum depth (root = 0); <= 0 means no limit. */
  maxDepth: number;
  /** Minimum rows in a leaf. */
  minDataInLeaf: number;
  /** Minimum sum of hessians in a leaf. */
  minSumHessianInLeaf: number;
  /** A split must improve the objective by more than this. */
  minGainToSplit: number;
  /** Fraction of features drawn (without replacement) for each tree. */
  featureFraction: number;
  /** Fraction of rows drawn (without replacement) every `baggingFreq` rounds; needs `baggingFreq > 0`. */
  baggingFraction: number;
  /** Re-draw the bag every this many rounds; 0 disables bagging. */
  baggingFreq: number;
  /** L1 penalty on leaf values (soft-thresholds the gradient sums). */
  lambdaL1: number;
  /** L2 penalty on leaf values (added to the hessian sums). */
  lambdaL2: number;
  /** Maximum histogram bins per feature, in [2, 255] (quantile bins). */
  maxBin: number;
  /** Rows sampled to find bin boundaries (LightGBM's `bin_construct_sample_cnt`). */
  binSampleCount: number;
  /** Seed of bagging, feature sampling and the bin sample. */
  seed: number;
  /**
   * Threads that build histograms (results are bit-identical for any count). 0 = auto: in Node, min(logical CPUs, 8)
   * once the data holds at least 2^20 feature values (below that, starting workers costs more than it saves), else 1.
   * Outside Node (no worker_threads, or a main thread that may not block) always 1.
   */
  threads: number;
  /** Classes for `multiclass`; default max(y) + 1. */
  numClass?: number;
  /** Called after every round. */
  onProgress?: (p: GbdtProgress) => void;
}

/** LightGBM's defaults (objective aside), so that a LightGBM config carries over unchanged. */
export const GBDT_DEFAULTS: GbdtOptions = {
  objective: 'binary',
  nEstimators: 100,
  learningRate: 0.1,
  numLeaves: 31,
  maxDepth: -1,
  minDataInLeaf: 20,
  minSumHessianInLeaf: 1e-3,
  minGainToSplit: 0,
  featureFraction: 1,
  baggingFraction: 1,
  baggingFreq: 0,
  lambdaL1: 0,
  lambdaL2: 0,
  maxBin: 255,
  binSampleCount: 200_000,
  seed: 0,
  threads: 0,
};

/**
 * The frozen-embedding probe of MLEM (`src/trainers/trainer_gen.py`, arXiv:2401.15935 §3) and ptls-experiments:
 * LGBM with 1000 trees, lr 0.02, depth 12, 50 leaves, bagging 0.75 every round, feature fraction 0.75, λ1 = λ2 = 1,
 * min 50 rows per leaf.
 */
export const MLEM_GBDT_PARAMS: Partial<GbdtOptions> = {
  nEstimators: 1000,
  learningRate: 0.02,
  maxDepth: 12,
  numLeaves: 50,
  baggingFraction: 0.75,
  baggingFreq: 1,
  featureFraction: 0.75,
  lambdaL1: 1,
  lambdaL2: 1,
  minDataInLeaf: 50,
};

const KEYS = [...Object.keys(GBDT_DEFAULTS), 'numClass', 'onProgress'];

/** Merges `input` over `GBDT_DEFAULTS` and validates every field; throws `E_CONFIG` naming the bad one. */
export function parseGbdtOptions(input: Partial<GbdtOptions>): GbdtOptions {
  checkKnownKeys('fitGbdt', input, KEYS);
  const o: GbdtOptions = { ...GBDT_DEFAULTS, ...input };
  const w = 'fitGbdt';
  checkChoice(w, 'objective', o.objective, GBDT_OBJECTIVES);
  checkNumber(w, 'nEstimators', o.nEstimators, { min: 1, integer: true });
  checkNumber(w, 'learningRate', o.learningRate, { min: 0, minExclusive: true });
  checkNumber(w, 'numLeaves', o.numLeaves, { min: 2, max: 131072, integer: true });
  checkNumber(w, 'maxDepth', o.maxDepth, { integer: true });
  checkNumber(w, 'minDataInLeaf', o.minDataInLeaf, { min: 1, integer: true });
  checkNumber(w, 'minSumHessianInLeaf', o.minSumHessianInLeaf, { min: 0 });
  checkNumber(w, 'minGainToSplit', o.minGainToSplit, { min: 0 });
  checkNumber(w, 'featureFraction', o.featureFraction, { min: 0, max: 1, minExclusive: true });
  checkNumber(w, 'baggingFraction', o.baggingFraction, { min: 0, max: 1, minExclusive: true });
  checkNumber(w, 'baggingFreq', o.baggingFreq, { min: 0, integer: true });
  checkNumber(w, 'lambdaL1', o.lambdaL1, { min: 0 });
  checkNumber(w, 'lambdaL2', o.lambdaL2, { min: 0 });
  checkNumber(w, 'maxBin', o.maxBin, { min: 2, max: 255, integer: true });
  checkNumber(w, 'binSampleCount', o.binSampleCount, { min: 2, integer: true });
  checkNumber(w, 'seed', o.seed);
  checkNumber(w, 'threads', o.threads, { min: 0, max: 64, integer: true });
  if (o.numClass !== undefined) checkNumber(w, 'numClass', o.numClass, { min: 2, integer: true });
  return o;
}
