import { SiftError } from '@sift/tensor-core';
import { checkChoice, checkKnownKeys, checkNumber } from '../internal/options.js';
import { summarize, type Summary } from '../internal/summary.js';
import { accuracy, f1Binary, f1Macro, logLoss, rocAuc, rocAucOvr } from '../metrics/classification.js';
import { mae, mse } from '../metrics/regression.js';
import type { GbdtOptions } from './gbdt/config.js';
import { argmaxRows, fitGbdt, predictGbdt, predictGbdtProba } from './gbdt/train.js';
import { fitLogistic, predictLogisticProba, type LogisticOptions } from './logistic.js';
import { checkLabels, checkMatrix, takeRows, takeValues, type Matrix } from './matrix.js';
import { fitRidge, predictRidge, type RidgeOptions } from './ridge.js';
import { applyScaler, fitScaler, SCALING_KINDS, type ScalingKind } from './scaling.js';
import { kFold, stratifiedKFold, type Split } from './split.js';

/** What a probe predicts: class indices 0..K-1, or a real target. */
export type ProbeTask = 'classification' | 'regression';

/** A probe and its options: logistic (classification), ridge (regression), or GBDT (either). */
export type ProbeSpec =
  | { kind: 'logistic'; options?: Partial<LogisticOptions> }
  | { kind: 'ridge'; options?: Partial<RidgeOptions> }
  | { kind: 'gbdt'; options?: Partial<Omit<GbdtOptions, 'objective' | 'seed' | 'onProgress'>> };

/** Progress of a probe evaluation: one call per fitted model. */
export interface ProbeProgress {
  stage: 'probe';
  done: number;
  total: number;
}

/** Options shared by `crossValidateProbe` and `evaluateProbeSplit`. */
export interface ProbeEvalOptions {
  task: ProbeTask;
  probe: ProbeSpec;
  /** Feature scaling fitted on each training part. MLEM and ptls use MaxAbsScaler. */
  scaling: ScalingKind;
  /** One run per seed: the seed drives the folds (k-fold) and the GBDT's bagging and feature sampling. */
  seeds: number[];
  /** Name in reports; default the probe kind. */
  label?: string;
  onProgress?: (p: ProbeProgress) => void;
}

/** Defaults of the probe evaluations (MLEM: 3 seeds, MaxAbsScaler). */
export const PROBE_EVAL_DEFAULTS: Omit<ProbeEvalOptions, 'task' | 'probe'> = { scaling: 'maxabs', seeds: [0, 1, 2] };

/**
 * Metrics of a probe over its runs (mean ± sample std over seeds × folds). Classification: `accuracy`, `rocAuc`
 * (binary, or one-vs-rest macro for K > 2; NaN for a test part with a single class), `logLoss`, `f1Macro`, and `f1`
 * (positive class 1) for K = 2. Regression: `mse`, `mae`.
 */
export interface ProbeReport {
  label: string;
  probe: ProbeSpec['kind'];
  task: ProbeTask;
  protocol: 'kfold' | 'split';
  /** Folds per seed (1 for a fixed split). */
  folds: number;
  seeds: number[];
  scaling: ScalingKind;
  /** Classes (classification) or 1. */
  numClasses: number;
  metrics: Record<string, Summary>;
  /** Training wall time per run, seconds. */
  fitSeconds: Summary;
}

/** One row-subset fit + scoring. */
interface Run {
  metrics: Record<string, number>;
  seconds: number;
}

function parseEval(where: string, input: Partial<ProbeEvalOptions>, extra: string[]): ProbeEvalOptions {
  checkKnownKeys(where, input, ['task', 'probe', 'scaling', 'seeds', 'label', 'onProgress', ...extra]);
  const o = { ...PROBE_EVAL_DEFAULTS, ...input } as ProbeEvalOptions;
  checkChoice(where, 'task', o.task, ['classification', 'regression']);
  checkChoice(where, 'scaling', o.scaling, SCALING_KINDS);
  if (typeof o.probe !== 'object') throw new SiftError('E_CONFIG', `${where}: option "probe" must be { kind: 'logistic' | 'ridge' | 'gbdt', options? }.`);
  checkChoice(where, 'probe.kind', o.probe.kind, ['logistic', 'ridge', 'gbdt']);
  if (o.task === 'classification' && o.probe.kind === 'ridge') {
    throw new SiftError('E_CONFIG', `${where}: the ridge probe is for regression; use { kind: 'logistic' } or { kind: 'gbdt' } for classification.`);
  }
  if (o.task === 'regression' && o.probe.kind === 'logistic') {
    throw new SiftError('E_CONFIG', `${where}: the logistic probe is for classification; use { kind: 'ridge' } or { kind: 'gbdt' } for regression.`);
  }
  if (!Array.isArray(o.seeds) || o.seeds.length === 0) throw new SiftError('E_CONFIG', `${where}: option "seeds" must be a non-empty array of numbers.`);
  for (const s of o.seeds) checkNumber(where, 'seeds[]', s);
  return o;
}

function fitAndScore(o: ProbeEvalOptions, numClasses: number, seed: number, xTr: Matrix, yTr: ArrayLike<number>, xTe: Matrix, yTe: ArrayLike<number>): Run {
  const t0 = performance.now();
  const scaler = fitScaler(xTr, o.scaling);
  const a = applyScaler(scaler, xTr);
  const b = applyScaler(scaler, xTe);
  if (o.task === 'regression') {
    let pred: Float64Array;
    if (o.probe.kind === 'ridge') {
      pred = predictRidge(fitRidge(a, yTr, o.probe.options), b);
    } else {
      pred = predictGbdt(fitGbdt(a, yTr, { ...o.probe.options, objective: 'regression', seed }), b);
    }
    const seconds = (performance.now() - t0) / 1000;
    return { metrics: { mse: mse(yTe, pred), mae: mae(yTe, pred) }, seconds };
  }
  let proba: Float64Array;
  if (o.probe.kind === 'logistic') {
    proba = predictLogisticProba(fitLogistic(a, yTr, { ...o.probe.options, numClasses }), b);
  } else {
    const objective = numClasses === 2 ? 'binary' : 'multiclass';
    const opts = { ...(o.probe.options as Partial<GbdtOptions> | undefined), objective, seed } as Partial<GbdtOptions>;
    if (objective === 'multiclass') opts.numClass = numClasses;
    proba = predictGbdtProba(fitGbdt(a, yTr, opts), b);
  }
  const seconds = (performance.now() - t0) / 1000;
  return { metrics: classificationMetrics(yTe, proba, numClasses), seconds };
}

/**
 * The classification metrics a probe report holds, from true labels and `[N, K]` probabilities.
 * @example
 * classificationMetrics([0, 1], Float64Array.from([0.9, 0.1, 0.2, 0.8]), 2); // { accuracy: 1, rocAuc: 1, ... }
 */
export function classificationMetrics(yTrue: ArrayLike<number>, proba: Float64Array, numClasses: number): Record<string, number> {
  const n = yTrue.length;
  const pred = argmaxRows(proba, n, numClasses);
  const m: Record<string, number> = { accuracy: accuracy(yTrue, pred) };
  try {
    if (numClasses === 2) {
      const p1 = new Float64Array(n);
      for (let i = 0; i < n; i++) p1[i] = proba[2 * i + 1]!;
      m.rocAuc = rocAuc(yTrue, p1);
    } else {
      m.rocAuc = rocAucOvr(yTrue, proba, numClasses);
    }
  } catch (err) {
    if (!(err instanceof SiftError && err.code === 'E_DATA')) throw err;
    m.rocAuc = Number.NaN;
  }
  m.logLoss = logLoss(yTrue, proba, numClasses);
  m.f1Macro = f1Macro(yTrue, pred);
  if (numClasses === 2) m.f1 = f1Binary(yTrue, pred);
  return m;
}

function report(o: ProbeEvalOptions, protocol: 'kfold' | 'split', folds: number, numClasses: number, runs: Run[]): ProbeReport {
  const keys = Object.keys(runs[0].metrics);
  const metrics: Record<string, Summary> = {};
  for (const k of keys) metrics[k] = summarize(runs.map((r) => r.metrics[k]));
  return {
    label: o.label ?? o.probe.kind, probe: o.probe.kind, task: o.task, protocol, folds, seeds: [...o.seeds],
    scaling: o.scaling, numClasses, metrics, fitSeconds: summarize(runs.map((r) => r.seconds)),
  };
}

/** Options of `crossValidateProbe`. */
export interface CrossValidateOptions extends ProbeEvalOptions {
  /** `[N, D]` embeddings. */
  x: Matrix;
  /** N labels (class indices or targets). */
  y: ArrayLike<number>;
  /** Folds per seed (ptls-experiments: stratified 5-fold). */
  folds: number;
}

/**
 * Cross-validated probe score (the ptls-experiments protocol): for each seed, stratified k-fold splits (plain k-fold
 * for regression); on each fold, scale on the training part, fit the probe, score the held-out part. Metrics are
 * summarised over all seed × fold runs.
 * @example
 * const r = crossValidateProbe({ x, y, task: 'classification', probe: { kind: 'logistic' }, folds: 5, seeds: [0] });
 * console.log(r.metrics.accuracy.mean, r.metrics.accuracy.std);
 */
export function crossValidateProbe(options: Partial<CrossValidateOptions> & Pick<CrossValidateOptions, 'x' | 'y' | 'task' | 'probe'>): ProbeReport {
  const o = parseEval('crossValidateProbe', options, ['x', 'y', 'folds']) as CrossValidateOptions;
  const folds = options.folds ?? 5;
  checkNumber('crossValidateProbe', 'folds', folds, { min: 2, integer: true });
  checkMatrix('crossValidateProbe', o.x, o.y);
  const numClasses = o.task === 'classification' ? checkLabels('crossValidateProbe', o.y) : 1;
  const runs: Run[] = [];
  const total = o.seeds.length * folds;
  for (const seed of o.seeds) {
    const splits: Split[] = o.task === 'classification' ? stratifiedKFold(o.y, folds, seed) : kFold(o.y.length, folds, seed);
    for (const s of splits) {
      runs.push(fitAndScore(o, numClasses, seed, takeRows(o.x, s.train), takeValues(o.y, s.train), takeRows(o.x, s.test), takeValues(o.y, s.test)));
      o.onProgress?.({ stage: 'probe', done: runs.length, total });
    }
  }
  return report(o, 'kfold', folds, numClasses, runs);
}

/** Options of `evaluateProbeSplit`. */
export interface SplitEvalOptions extends ProbeEvalOptions {
  train: { x: Matrix; y: ArrayLike<number> };
  test: { x: Matrix; y: ArrayLike<number> };
}

/**
 * Fixed train/test probe score over several seeds (the MLEM protocol, arXiv:2401.15935 §3: fit on the labelled train
 * split, score a separate test file, mean ± std over 3 seeds). Deterministic probes (logistic, ridge) give std 0.
 * @example
 * const r = evaluateProbeSplit({ train: { x: xTr, y: yTr }, test: { x: xTe, y: yTe }, task: 'classification',
 *   probe: { kind: 'gbdt', options: MLEM_GBDT_PARAMS } });
 */
export function evaluateProbeSplit(options: Partial<SplitEvalOptions> & Pick<SplitEvalOptions, 'train' | 'test' | 'task' | 'probe'>): ProbeReport {
  const o = parseEval('evaluateProbeSplit', options, ['train', 'test']) as SplitEvalOptions;
  checkMatrix('evaluateProbeSplit (train)', o.train.x, o.train.y);
  checkMatrix('evaluateProbeSplit (test)', o.test.x, o.test.y);
  if (o.train.x.cols !== o.test.x.cols) {
    throw new SiftError('E_SHAPE', `evaluateProbeSplit: train has ${o.train.x.cols} features, test ${o.test.x.cols}; they must match.`);
  }
  let numClasses = 1;
  if (o.task === 'classification') {
    const kTrain = checkLabels('evaluateProbeSplit (train)', o.train.y);
    checkLabels('evaluateProbeSplit (test)', o.test.y, Number.MAX_SAFE_INTEGER); // integer class indices
    numClasses = Math.max(kTrain, maxLabel(o.test.y) + 1);
  }
  const runs: Run[] = [];
  for (const seed of o.seeds) {
    runs.push(fitAndScore(o, numClasses, seed, o.train.x, o.train.y, o.test.x, o.test.y));
    o.onProgress?.({ stage: 'probe', done: runs.length, total: o.seeds.length });
  }
  return report(o, 'split', 1, numClasses, runs);
}

function maxLabel(y: ArrayLike<number>): number {
  let m = 0;
  for (const v of Array.from(y)) m = Math.max(m, v);
  return m;
}
