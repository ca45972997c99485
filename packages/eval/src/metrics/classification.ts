import { SiftError } from '@sift/tensor-core';

function checkSameLength(where: string, a: ArrayLike<number>, b: ArrayLike<number>, what = 'predictions'): void {
  if (a.length !== b.length) {
    throw new SiftError('E_SHAPE', `${where}: ${a.length} true labels but ${b.length} ${what}; pass one per sample.`);
  }
  if (a.length === 0) throw new SiftError('E_EMPTY', `${where}: no samples; pass at least one.`);
}

/**
 * Fraction of exact matches, as sklearn's `accuracy_score`.
 * @example
 * accuracy([0, 1, 2], [0, 2, 2]); // 0.6667
 */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkSameLength('accuracy', yTrue, yPred);
  let hit = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hit++;
  return hit / yTrue.length;
}

/**
 * Average ranks (1-based) with ties sharing the mean of their positions: the Mann-Whitney form of ROC-AUC, exact with
 * tied scores (a tie between a positive and a negative counts 1/2, as sklearn's trapezoidal `roc_auc_score`).
 */
function averageRanks(scores: ArrayLike<number>): Float64Array {
  const n = scores.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a] - scores[b]);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && scores[order[j]] === scores[order[i]]) j++;
    const r = (i + 1 + j) / 2; // mean of ranks i+1..j
    for (let k = i; k < j; k++) ranks[order[k]] = r;
    i = j;
  }
  return ranks;
}

/**
 * Binary ROC-AUC: the probability that a random positive scores above a random negative, ties counted 1/2
 * (sklearn `roc_auc_score(y, s)`). `yTrue` holds 0/1 (or booleans as numbers); `scores` any real scores.
 * @throws SiftError `E_DATA` when only one class is present (AUC is undefined).
 * @example
 * rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); // 0.75
 */
export function rocAuc(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  checkSameLength('rocAuc', yTrue, scores, 'scores');
  const ranks = averageRanks(scores);
  let nPos = 0;
  let rankSum = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const y = yTrue[i];
    if (y !== 0 && y !== 1) throw new SiftError('E_DATA', `rocAuc: yTrue[${i}] = ${y}; binary AUC needs labels 0/1 (use rocAucOvr for more classes).`);
    if (y === 1) {
      nPos++;
      rankSum += ranks[i];
    }
  }
  const nNeg = yTrue.length - nPos;
  if (nPos === 0 || nNeg === 0) {
    throw new SiftError('E_DATA', `rocAuc: only one class present (${nPos} positives, ${nNeg} negatives); ROC-AUC is undefined. Use a stratified split.`);
  }
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * One-vs-rest macro ROC-AUC over K classes (sklearn `roc_auc_score(y, proba, multi_class='ovr', average='macro')`):
 * the mean over classes k of the AUC of `proba[:, k]` for "class k vs the rest".
 * @param proba `[n, K]` row-major class scores (probabilities)
 */
export function rocAucOvr(yTrue: ArrayLike<number>, proba: ArrayLike<number>, numClasses: number): number {
  const n = yTrue.length;
  if (proba.length !== n * numClasses) {
    throw new SiftError('E_SHAPE', `rocAucOvr: proba has ${proba.length} values, expected n * K = ${n} * ${numClasses}.`);
  }
  let total = 0;
  const bin = new Float64Array(n);
  const col = new Float64Array(n);
  for (let k = 0; k < numClasses; k++) {
    for (let i = 0; i < n; i++) {
      bin[i] = yTrue[i] === k ? 1 : 0;
      col[i] = proba[i * numClasses + k]!;
    }
    total += rocAuc(bin, col);
  }
  return total / numClasses;
}

/**
 * Mean cross-entropy of `proba` against `yTrue` (sklearn `log_loss`, eps = 1e-15: probabilities are clipped to
 * [eps, 1 - eps] and each row renormalised, as sklearn 1.2 does).
 * @param proba `[n, K]` row-major probabilities; for K = 2 a length-n vector of P(class 1) is accepted too
 */
export function logLoss(yTrue: ArrayLike<number>, proba: ArrayLike<number>, numClasses = 2): number {
  const n = yTrue.length;
  if (n === 0) throw new SiftError('E_EMPTY', 'logLoss: no samples; pass at least one.');
  const eps = 1e-15;
  const clip = (p: number): number => Math.min(Math.max(p, eps), 1 - eps);
  let total = 0;
  if (numClasses === 2 && proba.length === n) {
    for (let i = 0; i < n; i++) {
      const p1 = clip(proba[i]);
      const p0 = clip(1 - proba[i]);
      const y = yTrue[i];
      total -= Math.log((y === 1 ? p1 : p0) / (p0 + p1));
    }
    return total / n;
  }
  if (proba.length !== n * numClasses) {
    throw new SiftError('E_SHAPE', `logLoss: proba has ${proba.length} values, expected n * K = ${n} * ${numClasses}.`);
  }
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < numClasses; k++) s += clip(proba[i * numClasses + k]);
    const y = yTrue[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) throw new SiftError('E_DATA', `logLoss: yTrue[${i}] = ${y} is not a class in 0..${numClasses - 1}.`);
    total -= Math.log(clip(proba[i * numClasses + y]) / s);
  }
  return total / n;
}

function f1Of(tp: number, fp: number, fn: number): number {
  const denom = 2 * tp + fp + fn;
  return denom === 0 ? 0 : (2 * tp) / denom; // sklearn's zero_division=0
}

/**
 * Binary F1 of the positive class `posLabel` (default 1), sklearn `f1_score(y, p)`; 0 when there are no positives
 * predicted or true (zero_division = 0).
 */
export function f1Binary(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, posLabel = 1): number {
  checkSameLength('f1Binary', yTrue, yPred);
  let tp = 0, fp = 0, fn = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i] === posLabel, p = yPred[i] === posLabel;
    if (t && p) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return f1Of(tp, fp, fn);
}

/**
 * Macro F1: the unweighted mean of per-class F1 over the labels present in `yTrue` or `yPred`
 * (sklearn `f1_score(y, p, average='macro')`, zero_division = 0).
 */
export function f1Macro(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkSameLength('f1Macro', yTrue, yPred);
  const labels = new Set<number>();
  for (let i = 0; i < yTrue.length; i++) {
    labels.add(yTrue[i]);
    labels.add(yPred[i]);
  }
  let total = 0;
  for (const c of labels) total += f1Binary(yTrue, yPred, c);
  return total / labels.size;
}
