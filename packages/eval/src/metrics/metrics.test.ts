import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectTensorsClose } from '@sift/tensor-core/testing';
import { loadEvalFixtures } from '../internal/fixtures.js';
import { accuracy, f1Binary, f1Macro, logLoss, rocAuc, rocAucOvr } from './classification.js';
import { mae, mse } from './regression.js';

const fx = loadEvalFixtures().metrics;
const TOL = { atol: 1e-9, rtol: 1e-9 };

describe('classification metrics match sklearn (tolerance 1e-9)', () => {
  it('rocAuc with many tied scores', () => {
    expectTensorsClose(rocAuc(fx.yBinary, fx.scores), fx.rocAuc, { ...TOL, label: 'roc_auc_score' });
  });

  it('rocAucOvr: one-vs-rest macro over 4 classes', () => {
    expectTensorsClose(rocAucOvr(fx.yMulti, fx.probaMulti.flat(), fx.numClasses), fx.rocAucOvr, { ...TOL, label: 'ovr macro' });
  });

  it('logLoss: binary vector form and [N, K] form', () => {
    expectTensorsClose(logLoss(fx.yBinary, fx.probBinary), fx.logLossBinary, { ...TOL, label: 'binary log_loss' });
    const twoCol = fx.probBinary.flatMap((p) => [1 - p, p]);
    expectTensorsClose(logLoss(fx.yBinary, twoCol, 2), fx.logLossBinary, { atol: 1e-9, rtol: 1e-9 });
    expectTensorsClose(logLoss(fx.yMulti, fx.probaMulti.flat(), fx.numClasses), fx.logLossMulti, { ...TOL, label: 'multi log_loss' });
  });

  it('accuracy, binary F1, macro F1', () => {
    expectTensorsClose(accuracy(fx.yMulti, fx.predMulti), fx.accuracyMulti, TOL);
    expectTensorsClose(f1Binary(fx.yBinary, fx.predBinary), fx.f1Binary, TOL);
    expectTensorsClose(f1Macro(fx.yMulti, fx.predMulti), fx.f1Macro, TOL);
  });

  it('mse and mae', () => {
    expectTensorsClose(mse(fx.yReg, fx.predReg), fx.mse, TOL);
    expectTensorsClose(mae(fx.yReg, fx.predReg), fx.mae, TOL);
  });
});

describe('classification metrics: closed forms and edge cases', () => {
  it('rocAuc: perfect, reversed, all tied, and the Mann-Whitney count by hand', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])).toBe(1);
    expect(rocAuc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])).toBe(0);
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    // pairs (pos, neg): (0.35 vs 0.1) win, (0.35 vs 0.4) loss, (0.8 vs both) win, win -> 3/4
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
    // a tie between a positive and a negative counts 1/2: (0.4 vs 0.4) = 0.5, (0.4 vs 0.1) = 1 -> 0.75
    expect(rocAuc([0, 0, 1], [0.1, 0.4, 0.4])).toBe(0.75);
  });

  it('rocAuc throws E_DATA for a single class and non-binary labels', () => {
    expect(() => rocAuc([1, 1, 1], [0.1, 0.2, 0.3])).toThrow(/only one class/);
    expect(() => rocAuc([0, 2], [0.1, 0.2])).toThrow(/labels 0\/1/);
  });

  it('logLoss clips probabilities at 1e-15 as sklearn does', () => {
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-15), 6);
    expect(logLoss([0, 1], [0, 1])).toBeCloseTo(-Math.log(1 - 1e-15), 12);
  });

  it('f1: zero_division = 0 and macro over the labels seen in either array', () => {
    expect(f1Binary([0, 0], [0, 0])).toBe(0);
    // classes 0, 1, 2: F1 = 1, 0 (never right), 0 (predicted, never true) -> mean 1/3
    expect(f1Macro([0, 1], [0, 2])).toBeCloseTo(1 / 3, 15);
  });

  it('mismatched lengths and empty inputs throw with counts in the message', () => {
    expect(() => accuracy([0, 1], [0])).toThrow(/2 true labels but 1 predictions/);
    expect(() => mse([], [])).toThrow(/no samples/);
    expect(() => rocAucOvr([0, 1], [0.5, 0.5, 0.5], 2)).toThrow(/expected n \* K/);
  });
});

describe('metric properties (fast-check)', () => {
  const labelsAndScores = fc.integer({ min: 2, max: 40 }).chain((n) => fc.tuple(
    fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n }),
    fc.array(fc.integer({ min: -5, max: 5 }), { minLength: n, maxLength: n }), // small range: many ties
  )).filter(([y]) => y.includes(0) && y.includes(1));

  it('rocAuc(y, s) + rocAuc(1 − y, s) = 1, and AUC ignores strictly increasing transforms of the scores', () => {
    fc.assert(fc.property(labelsAndScores, ([y, s]) => {
      const flipped = y.map((v) => 1 - v);
      expect(rocAuc(y, s) + rocAuc(flipped, s)).toBeCloseTo(1, 12);
      expect(rocAuc(y, s.map((v) => Math.exp(v) * 3 + 1))).toBeCloseTo(rocAuc(y, s), 12);
    }), { numRuns: 200, seed: 1 });
  });

  it('rocAuc equals the pairwise count with ties as 1/2', () => {
    fc.assert(fc.property(labelsAndScores, ([y, s]) => {
      let wins = 0, pairs = 0;
      y.forEach((a, i) => { y.forEach((b, j) => {
        if (a === 1 && b === 0) {
          pairs++;
          wins += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
        }
      }); });
      expect(rocAuc(y, s)).toBeCloseTo(wins / pairs, 12);
    }), { numRuns: 200, seed: 2 });
  });
});
