import { describe, expect, it } from 'vitest';
import { seeded } from '@sift/tensor-core/testing';
import { lcgTask } from '../internal/fixtures.js';
import { classificationMetrics, crossValidateProbe, evaluateProbeSplit } from './evaluate.js';
import { matrix, takeRows, takeValues } from './matrix.js';
import { trainTestSplit } from './split.js';

const { x: xs, y } = lcgTask(99, 1200, 6, 0.05);
const x = matrix(xs, 1200, 6);

describe('crossValidateProbe', () => {
  it('logistic vs GBDT on a nonlinear task: stratified 3-fold x 2 seeds, mean ± std over 6 runs', () => {
    const progress: number[] = [];
    const lr = crossValidateProbe({ x, y, task: 'classification', probe: { kind: 'logistic' }, folds: 3, seeds: [0, 1], onProgress: (p) => progress.push(p.done) });
    const gb = crossValidateProbe({ x, y, task: 'classification', probe: { kind: 'gbdt', options: { nEstimators: 40, numLeaves: 15 } }, folds: 3, seeds: [0, 1], label: 'GBDT probe' });
    expect(progress).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lr.metrics.accuracy.values).toHaveLength(6);
    expect(Object.keys(lr.metrics).sort()).toEqual(['accuracy', 'f1', 'f1Macro', 'logLoss', 'rocAuc']);
    expect(gb.metrics.accuracy.mean).toBeGreaterThan(lr.metrics.accuracy.mean + 0.15);
    expect(gb.metrics.rocAuc.mean).toBeGreaterThan(0.85);
    expect(gb.label).toBe('GBDT probe');
    expect(gb.protocol).toBe('kfold');
    expect(lr.fitSeconds.values).toHaveLength(6);
    const again = crossValidateProbe({ x, y, task: 'classification', probe: { kind: 'logistic' }, folds: 3, seeds: [0, 1] });
    expect(again.metrics.accuracy.values).toEqual(lr.metrics.accuracy.values);
  });

  it('regression with ridge and GBDT reports mse and mae; mismatched probes and tasks are refused', () => {
    const rng = seeded('cvreg');
    const rows = Array.from({ length: 300 }, () => [rng.normal(), rng.normal(), rng.normal()]);
    const t = rows.map((r) => 2 * r[0] - r[1] + 0.1 * rng.normal());
    const r = crossValidateProbe({ x: matrix(rows), y: t, task: 'regression', probe: { kind: 'ridge', options: { alpha: 0.1 } }, folds: 5, seeds: [0], scaling: 'standard' });
    expect(Object.keys(r.metrics).sort()).toEqual(['mae', 'mse']);
    expect(r.metrics.mse.mean).toBeLessThan(0.02);
    expect(() => crossValidateProbe({ x: matrix(rows), y: t, task: 'regression', probe: { kind: 'logistic' } })).toThrow(/logistic probe is for classification/);
    expect(() => crossValidateProbe({ x, y, task: 'classification', probe: { kind: 'ridge' } })).toThrow(/ridge probe is for regression/);
    expect(() => crossValidateProbe({ x, y, task: 'classification', probe: { kind: 'svm' } as never })).toThrow(/'logistic', 'ridge', 'gbdt'/);
  });
});

describe('evaluateProbeSplit (the MLEM protocol)', () => {
  it('fixed split, 3 seeds: logistic is deterministic (std 0), GBDT with bagging varies by seed', () => {
    const s = trainTestSplit(1200, { testFraction: 0.25, seed: 0, stratify: y });
    const train = { x: takeRows(x, s.train), y: takeValues(y, s.train) };
    const test = { x: takeRows(x, s.test), y: takeValues(y, s.test) };
    const lr = evaluateProbeSplit({ train, test, task: 'classification', probe: { kind: 'logistic' } });
    expect(lr.seeds).toEqual([0, 1, 2]);
    expect(lr.metrics.accuracy.std).toBe(0);
    const gb = evaluateProbeSplit({ train, test, task: 'classification', probe: { kind: 'gbdt', options: { nEstimators: 30, baggingFraction: 0.7, baggingFreq: 1 } } });
    expect(gb.metrics.logLoss.std).toBeGreaterThan(0);
    expect(gb.protocol).toBe('split');
  });

  it('classificationMetrics: multiclass uses OvR AUC and macro F1, and a one-class test part gives NaN AUC', () => {
    const m = classificationMetrics([0, 1, 2], Float64Array.from([0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8]), 3);
    expect(m).toMatchObject({ accuracy: 1, rocAuc: 1, f1Macro: 1 });
    expect(m.f1).toBeUndefined();
    expect(classificationMetrics([1, 1], Float64Array.from([0.2, 0.8, 0.6, 0.4]), 2).rocAuc).toBeNaN();
  });
});
