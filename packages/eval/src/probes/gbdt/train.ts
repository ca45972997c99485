import { Rng, SiftError } from '@sift/tensor-core';
import { checkLabels, checkMatrix, type Matrix } from '../matrix.js';
import { applyBins, fitBins, toColumnMajor, type BinMapper } from './binning.js';
import { cpuCount, histThreadsAvailable } from './hist-threads.js';
import { parseGbdtOptions, type GbdtObjective, type GbdtOptions } from './config.js';
import { leafOfBinned, leafOfRaw, TreeLearner, type GbdtTree } from './tree.js';

/** A fitted gradient-boosted model. Plain data: it can be stored as JSON after converting the typed arrays. */
export interface GbdtModel {
  readonly kind: 'gbdt';
  readonly objective: GbdtObjective;
  /** Classes (2 for binary, K for multiclass, 1 for regression). */
  readonly numClasses: number;
  readonly numFeatures: number;
  /** Starting raw score per tree group (LightGBM's boost_from_average): log-odds, log class priors, or the mean. */
  readonly initScore: Float64Array;
  /** Trees in round order; multiclass rounds hold K trees, tree r·K + k for class k. */
  readonly trees: GbdtTree[];
  /** Rounds actually run: fewer than `nEstimators` when no tree could split any more (LightGBM stops there too). */
  readonly rounds: number;
}

/** Trees per round: K for multiclass, else 1. */
function groupsOf(model: { objective: GbdtObjective; numClasses: number }): number {
  return model.objective === 'multiclass' ? model.numClasses : 1;
}

/** Selection sampling (Knuth's Algorithm S): exactly `k` of `n` rows, ascending, as LightGBM's bagging. */
function sampleSorted(n: number, k: number, rng: Rng, out: Int32Array): void {
  let chosen = 0;
  for (let i = 0; i < n && chosen < k; i++) {
    if ((n - i) * rng.float() < k - chosen) out[chosen++] = i;
  }
}

/**
 * Trains a gradient-boosted decision-tree ensemble in the style of LightGBM: quantile histogram bins (`maxBin`),
 * leaf-wise growth to `numLeaves` (bounded by `maxDepth`), histogram subtraction, L1/L2 leaf penalties, per-tree
 * feature sampling and periodic bagging, all seeded. Objectives: `binary` (logloss; labels 0/1), `multiclass`
 * (softmax; one tree per class per round, hessian scaled by K/(K−1) as LightGBM), `regression` (L2).
 * On typed arrays; in Node the histograms are built on worker threads (`threads`, default: the CPUs for data of 1M+
 * values), with bit-identical results for any thread count. 50k × 512 costs about 0.35 s per tree on 2 cores.
 * @param x `[N, D]` features (finite)
 * @param y N labels (class indices for binary/multiclass, real targets for regression)
 * @example
 * const model = fitGbdt(x, y, { objective: 'binary', nEstimators: 200, numLeaves: 15, seed: 1 });
 * const proba = predictGbdtProba(model, xTest); // [N, 2]
 */
export function fitGbdt(x: Matrix, y: ArrayLike<number>, options: Partial<GbdtOptions> = {}): GbdtModel {
  const o = parseGbdtOptions(options);
  checkMatrix('fitGbdt', x, y);
  const { rows: n, cols: d } = x;
  let numClasses = 1;
  if (o.objective === 'binary') {
    numClasses = checkLabels('fitGbdt', y, 2);
  } else if (o.objective === 'multiclass') {
    numClasses = checkLabels('fitGbdt', y, o.numClass);
  } else {
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(y[i])) throw new SiftError('E_NAN', `fitGbdt: regression target y[${i}] is ${y[i]}; targets must be finite.`);
    }
  }
  const groups = o.objective === 'multiclass' ? numClasses : 1;
  const rng = new Rng(o.seed);
  const cols = toColumnMajor(x);
  const mapper = fitBins(cols, n, d, o.maxBin, o.binSampleCount, rng.fork('bins'));
  const binned = applyBins(mapper, cols, n);
  // Initial scores (boost from average).
  const initScore = new Float64Array(groups);
  if (o.objective === 'binary') {
    let s = 0;
    for (let i = 0; i < n; i++) s += y[i];
    const p = Math.min(Math.max(s / n, 1e-15), 1 - 1e-15);
    initScore[0] = Math.log(p / (1 - p));
  } else if (o.objective === 'multiclass') {
    const counts = new Float64Array(groups);
    for (let i = 0; i < n; i++) counts[y[i]] += 1;
    for (let k = 0; k < groups; k++) initScore[k] = Math.log(Math.max(counts[k] / n, 1e-15));
  } else {
    let s = 0;
    for (let i = 0; i < n; i++) s += y[i];
    initScore[0] = s / n;
  }
  const learner = new TreeLearner(binned, n, mapper.numBins, o, histThreads(o.threads, n * d));
  try {
    return boost(o, y, n, d, groups, numClasses, initScore, learner, binned, mapper, rng);
  } finally {
    learner.close();
  }
}

/** Threads for the histograms: `threads` (0 = auto) where worker threads can run, else 1. */
function histThreads(threads: number, values: number): number {
  if (!histThreadsAvailable()) return 1;
  if (threads > 0) return threads;
  return values >= 1 << 20 ? Math.min(cpuCount(), 8) : 1;
}

/** The boosting rounds of `fitGbdt`. */
function boost(o: GbdtOptions, y: ArrayLike<number>, n: number, d: number, groups: number, numClasses: number, initScore: Float64Array,
  learner: TreeLearner, binned: Uint8Array, mapper: BinMapper, rng: Rng): GbdtModel {
  const bagRng = rng.fork('bagging');
  const featRng = rng.fork('features');
  const score = new Float64Array(groups * n); // class-major: score[k·N + i]
  for (let k = 0; k < groups; k++) score.fill(initScore[k], k * n, (k + 1) * n);
  const grad = new Float64Array(groups * n);
  const hess = new Float64Array(groups * n);
  const bagging = o.baggingFreq > 0 && o.baggingFraction < 1;
  const bagCount = bagging ? Math.max(1, Math.floor(o.baggingFraction * n)) : n;
  const bag = new Int32Array(n);
  for (let i = 0; i < n; i++) bag[i] = i;
  const allFeatures = new Int32Array(d);
  for (let f = 0; f < d; f++) allFeatures[f] = f;
  const featCount = Math.max(1, Math.round(o.featureFraction * d));

  const trees: GbdtTree[] = [];
  let rounds = 0;
  for (let r = 0; r < o.nEstimators; r++) {
    if (bagging && r % o.baggingFreq === 0) {
      sampleSorted(n, bagCount, bagRng, bag);
    }
    computeGradients(o.objective, y, score, grad, hess, n, groups);
    const roundTrees: GbdtTree[] = [];
    let anySplit = false;
    for (let k = 0; k < groups; k++) {
      const feats = featCount < d ? featRng.sample(d, featCount).sort() : allFeatures;
      const tree = learner.grow(grad.subarray(k * n, (k + 1) * n), hess.subarray(k * n, (k + 1) * n), bag, bagCount, feats, o.learningRate);
      for (let node = 0; node < tree.numLeaves - 1; node++) {
        tree.threshold[node] = mapper.thresholds[tree.splitFeature[node]][tree.splitBin[node]]!;
      }
      if (tree.numLeaves > 1) anySplit = true;
      roundTrees.push(tree);
    }
    if (!anySplit) break; // nothing left to learn (LightGBM: "no more leaves that meet the split requirements")
    // Update training scores only after all K trees of the round exist (their gradients came from the same scores).
    for (let k = 0; k < groups; k++) {
      // Every row, in the bag or not, walks the tree on its bins (N·depth steps: cheap next to the histograms).
      const tree = roundTrees[k];
      const base = k * n;
      for (let i = 0; i < n; i++) score[base + i] += tree.leafValue[leafOfBinned(tree, binned, n, i)];
      trees.push(tree);
    }
    rounds = r + 1;
    o.onProgress?.({ stage: 'gbdt', done: rounds, total: o.nEstimators });
  }
  return { kind: 'gbdt', objective: o.objective, numClasses: o.objective === 'regression' ? 1 : numClasses, numFeatures: d, initScore, trees, rounds };
}

function computeGradients(objective: GbdtObjective, y: ArrayLike<number>, score: Float64Array, grad: Float64Array, hess: Float64Array, n: number, groups: number): void {
  if (objective === 'binary') {
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-score[i]));
      grad[i] = p - y[i];
      hess[i] = p * (1 - p);
    }
  } else if (objective === 'regression') {
    for (let i = 0; i < n; i++) {
      grad[i] = score[i] - y[i];
      hess[i] = 1;
    }
  } else {
    const factor = groups / (groups - 1);
    for (let i = 0; i < n; i++) {
      let m = -Infinity;
      for (let k = 0; k < groups; k++) m = Math.max(m, score[k * n + i]);
      let s = 0;
      for (let k = 0; k < groups; k++) s += Math.exp(score[k * n + i] - m);
      const yi = y[i];
      for (let k = 0; k < groups; k++) {
        const p = Math.exp(score[k * n + i] - m) / s;
        grad[k * n + i] = p - (k === yi ? 1 : 0);
        hess[k * n + i] = factor * p * (1 - p);
      }
    }
  }
}

/** Raw scores `[N, G]` row-major (G = K for multiclass, else 1): initScore + Σ trees. */
export function predictGbdtRaw(model: GbdtModel, x: Matrix): Float64Array {
  checkMatrix('predictGbdtRaw', x);
  if (x.cols !== model.numFeatures) {
    throw new SiftError('E_SHAPE', `predictGbdt: x has ${x.cols} features but the model was fitted on ${model.numFeatures}; pass the same columns.`);
  }
  const g = groupsOf(model);
  const n = x.rows, d = x.cols;
  const out = new Float64Array(n * g);
  for (let i = 0; i < n; i++) for (let k = 0; k < g; k++) out[i * g + k] = model.initScore[k]!;
  for (let t = 0; t < model.trees.length; t++) {
    const tree = model.trees[t];
    const k = t % g;
    for (let i = 0; i < n; i++) out[i * g + k] += tree.leafValue[leafOfRaw(tree, x.data, i * d)];
  }
  return out;
}

/**
 * Class probabilities `[N, K]` row-major: sigmoid for binary (column 1 is P(y = 1)), softmax for multiclass.
 * @throws SiftError `E_CONFIG` for a regression model.
 */
export function predictGbdtProba(model: GbdtModel, x: Matrix): Float64Array {
  if (model.objective === 'regression') {
    throw new SiftError('E_CONFIG', 'predictGbdtProba: the model is a regression model; use predictGbdt for its values.');
  }
  const raw = predictGbdtRaw(model, x);
  const n = x.rows;
  if (model.objective === 'binary') {
    const out = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-raw[i]));
      out[2 * i] = 1 - p;
      out[2 * i + 1] = p;
    }
    return out;
  }
  const k = model.numClasses;
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, raw[i * k + c]);
    let s = 0;
    for (let c = 0; c < k; c++) {
      raw[i * k + c] = Math.exp(raw[i * k + c] - m);
      s += raw[i * k + c];
    }
    for (let c = 0; c < k; c++) raw[i * k + c] /= s;
  }
  return raw;
}

/** Predictions `[N]`: the regression value, or the most probable class. */
export function predictGbdt(model: GbdtModel, x: Matrix): Float64Array {
  if (model.objective === 'regression') return predictGbdtRaw(model, x);
  const proba = predictGbdtProba(model, x);
  return argmaxRows(proba, x.rows, model.numClasses);
}

/** Index of the largest entry of each row of a `[N, K]` row-major array (first on ties, as numpy). */
export function argmaxRows(a: ArrayLike<number>, n: number, k: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (a[i * k + c] > a[i * k + best]) best = c;
    out[i] = best;
  }
  return out;
}
