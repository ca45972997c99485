import { Rng, SiftError } from '@sift/tensor-core';
import { checkKnownKeys, checkNumber } from '../internal/options.js';

/** A train/test partition of row indices (each ascending). */
export interface Split {
  train: Int32Array;
  test: Int32Array;
}

function checkFolds(where: string, n: number, k: number): void {
  checkNumber(where, 'folds', k, { min: 2, integer: true });
  if (n < k) throw new SiftError('E_DATA', `${where}: ${n} samples cannot fill ${k} folds; use at most ${n} folds.`);
}

function toSplits(n: number, foldOf: Int32Array, k: number): Split[] {
  const out: Split[] = [];
  for (let f = 0; f < k; f++) {
    const train: number[] = [], test: number[] = [];
    for (let i = 0; i < n; i++) (foldOf[i] === f ? test : train).push(i);
    out.push({ train: Int32Array.from(train), test: Int32Array.from(test) });
  }
  return out;
}

/**
 * Stratified k-fold splits: each class's rows are shuffled with `new Rng(seed)` and dealt to the folds in turn,
 * continuing across classes, so every fold holds each class in proportion (±1) and fold sizes differ by at most one.
 * (The protocol of sklearn's `StratifiedKFold(shuffle=True)`; the exact assignment differs.)
 * @example
 * const folds = stratifiedKFold([0, 0, 1, 1, 0, 1], 3, 42); // 3 splits, each test fold one 0 and one 1
 */
export function stratifiedKFold(y: ArrayLike<number>, k: number, seed: number): Split[] {
  const n = y.length;
  checkFolds('stratifiedKFold', n, k);
  const rng = new Rng(seed).fork('stratified-kfold');
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const c = y[i];
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push(i);
  }
  const foldOf = new Int32Array(n);
  let p = 0;
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = rng.shuffle(byClass.get(c)!);
    for (const i of rows) foldOf[i] = p++ % k;
  }
  return toSplits(n, foldOf, k);
}

/** Plain shuffled k-fold splits (for regression targets), fold sizes differing by at most one. */
export function kFold(n: number, k: number, seed: number): Split[] {
  checkFolds('kFold', n, k);
  const perm = new Rng(seed).fork('kfold').permutation(n);
  const foldOf = new Int32Array(n);
  for (let p = 0; p < n; p++) foldOf[perm[p]] = p % k;
  return toSplits(n, foldOf, k);
}

/** Options of `trainTestSplit`. */
export interface TrainTestSplitOptions {
  /** Fraction of rows in the test part, in (0, 1). */
  testFraction: number;
  /** Seed of the shuffle. */
  seed: number;
  /** Class labels to stratify on (each class split in the same proportion); omit for a plain shuffle. */
  stratify?: ArrayLike<number>;
}

/** Defaults of `trainTestSplit`. */
export const TRAIN_TEST_SPLIT_DEFAULTS: TrainTestSplitOptions = { testFraction: 0.2, seed: 0 };

/**
 * A fixed, seeded train/test split of `n` rows (the MLEM protocol scores one fixed test set over several seeds).
 * @example
 * const { train, test } = trainTestSplit(1000, { testFraction: 0.25, seed: 0, stratify: labels });
 */
export function trainTestSplit(n: number, options: Partial<TrainTestSplitOptions> = {}): Split {
  checkKnownKeys('trainTestSplit', options, ['testFraction', 'seed', 'stratify']);
  const o = { ...TRAIN_TEST_SPLIT_DEFAULTS, ...options };
  checkNumber('trainTestSplit', 'testFraction', o.testFraction, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  checkNumber('trainTestSplit', 'n', n, { min: 2, integer: true });
  const rng = new Rng(o.seed).fork('train-test-split');
  const isTest = new Uint8Array(n);
  if (o.stratify !== undefined) {
    if (o.stratify.length !== n) throw new SiftError('E_SHAPE', `trainTestSplit: stratify has ${o.stratify.length} labels for ${n} rows.`);
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const c = o.stratify[i];
      let list = byClass.get(c);
      if (!list) byClass.set(c, (list = []));
      list.push(i);
    }
    for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
      const rows = rng.shuffle(byClass.get(c)!);
      const t = Math.round(rows.length * o.testFraction);
      for (let j = 0; j < t; j++) isTest[rows[j]] = 1;
    }
  } else {
    const perm = rng.permutation(n);
    const t = Math.max(1, Math.round(n * o.testFraction));
    for (let j = 0; j < t; j++) isTest[perm[j]] = 1;
  }
  const train: number[] = [], test: number[] = [];
  for (let i = 0; i < n; i++) (isTest[i] === 1 ? test : train).push(i);
  if (train.length === 0 || test.length === 0) {
    throw new SiftError('E_DATA', `trainTestSplit: ${n} rows with testFraction ${o.testFraction} leave an empty part; use more rows or another fraction.`);
  }
  return { train: Int32Array.from(train), test: Int32Array.from(test) };
}
