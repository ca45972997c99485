import { describe, expect, it } from 'vitest';
import { seeded } from '@sift/tensor-core/testing';
import { Rng } from '@sift/tensor-core';
import { lcgTask, loadEvalFixtures } from '../../internal/fixtures.js';
import { accuracy, rocAuc } from '../../metrics/classification.js';
import { mse } from '../../metrics/regression.js';
import { fitLogistic, predictLogisticProba } from '../logistic.js';
import { matrix, type Matrix } from '../matrix.js';
import { Float32Radix, applyBins, binOf, fitBins, toColumnMajor } from './binning.js';
import { GBDT_DEFAULTS, MLEM_GBDT_PARAMS, parseGbdtOptions, type GbdtOptions } from './config.js';
import { histThreadsAvailable } from './hist-threads.js';
import { argmaxRows, fitGbdt, predictGbdt, predictGbdtProba, predictGbdtRaw } from './train.js';

const task = loadEvalFixtures().gbdtTask;

function taskData(): { xtr: Matrix; ytr: Float64Array; xte: Matrix; yte: Float64Array } {
  const { x, y } = lcgTask(task.seed, task.nTrain + task.nTest, task.d, task.flip);
  const d = task.d;
  return {
    xtr: matrix(x.slice(0, task.nTrain * d), task.nTrain, d), ytr: y.slice(0, task.nTrain),
    xte: matrix(x.slice(task.nTrain * d), task.nTest, d), yte: y.slice(task.nTrain),
  };
}

describe('binning', () => {
  it('few distinct values get one bin each (midpoint boundaries); many get quantile bins', () => {
    const x = matrix([[1], [3], [3], [7]]);
    const m = fitBins(toColumnMajor(x), 4, 1, 255, 1000, new Rng(0));
    expect(Array.from(m.thresholds[0])).toEqual([2, 5]);
    expect(Array.from(applyBins(m, toColumnMajor(x), 4))).toEqual([0, 1, 1, 2]);
    const rng = seeded('bins');
    const n = 10_000;
    const v = Float64Array.from({ length: n }, () => rng.normal());
    const q = fitBins(v, n, 1, 16, 200_000, rng);
    expect(q.numBins[0]).toBe(16);
    const counts = new Array<number>(16).fill(0);
    for (const b of applyBins(q, v, n)) counts[b] += 1;
    for (const c of counts) expect(Math.abs(c - n / 16)).toBeLessThan(3); // quantile bins are equal-count
  });

  it('the float32 radix sort orders exactly as Float32Array#sort (signed zeros, infinities, subnormals, ties)', () => {
    const rng = seeded('radix');
    for (const n of [0, 1, 2, 257, 5000]) {
      const r = new Float32Radix(n);
      for (let i = 0; i < n; i++) {
        const k = i % 9;
        r.values[i] = k === 0 ? -0 : k === 1 ? 0 : k === 2 ? Math.round(rng.normal() * 3) : k === 3 ? 1e-42 * rng.normal()
          : k === 4 && i % 90 === 4 ? (i % 180 === 4 ? Infinity : -Infinity) : rng.normal() * 10 ** Math.round(rng.normal() * 3);
      }
      const expected = r.values.slice().sort();
      const got = r.sort();
      for (let i = 0; i < n; i++) expect(Object.is(got[i], expected[i]), `index ${i}: ${got[i]} vs ${expected[i]}`).toBe(true);
    }
  });

  it('float32 columns (radix sort) and the same values as float64 (native sort) give identical bins', () => {
    const rng = seeded('bins32');
    const n = 4000;
    const c32 = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      c32[i] = rng.normal();
      c32[n + i] = Math.round(rng.normal() * 20) / 4; // few distinct values: midpoint bins
      c32[2 * n + i] = -Math.exp(3 * rng.normal());
    }
    for (const sample of [200_000, 1000]) {
      const a = fitBins(c32, n, 3, 255, sample, new Rng(3));
      const b = fitBins(Float64Array.from(c32), n, 3, 255, sample, new Rng(3));
      expect(a.numBins).toEqual(b.numBins);
      for (let f = 0; f < 3; f++) expect(a.thresholds[f]).toEqual(b.thresholds[f]);
    }
  });

  it('lookup-table binning equals the binary search binOf (x <= threshold goes left), ties and skew included', () => {
    const rng = seeded('bins2');
    const n = 3000;
    // Column 0: few distinct values (midpoint bins). Column 1: > 255 distinct values with many repeats, so some
    // quantile thresholds equal data values. Column 2: heavily skewed. Column 3: constant.
    const cols = new Float64Array(4 * n);
    for (let i = 0; i < n; i++) {
      cols[i] = Math.round(rng.normal() * 5) / 10;
      cols[n + i] = Math.round(rng.normal() * 100) / 10;
      cols[2 * n + i] = Math.exp(4 * rng.normal());
      cols[3 * n + i] = 7;
    }
    const m = fitBins(cols, n, 4, 255, 200_000, rng);
    expect(m.numBins[3]).toBe(1);
    const bins = applyBins(m, cols, n);
    for (let f = 0; f < 4; f++) for (let i = 0; i < n; i++) expect(bins[f * n + i]).toBe(binOf(m.thresholds[f], cols[f * n + i]));
    const thresholdValues = new Set(m.thresholds[1]);
    expect(Array.from(cols.subarray(n, 2 * n)).some((v) => thresholdValues.has(v))).toBe(true);
    expect(binOf(Float64Array.from([1, 2]), 1)).toBe(0);
    expect(binOf(Float64Array.from([1, 2]), 1.5)).toBe(1);
    expect(binOf(Float64Array.from([1, 2]), 9)).toBe(2);
  });
});

describe('fitGbdt', () => {
  it('beats logistic regression on a nonlinear task and is within 2 points of sklearn HistGradientBoosting', () => {
    const { xtr, ytr, xte, yte } = taskData();
    expect(Array.from(ytr.slice(0, 20))).toEqual(task.firstLabels); // the LCG data equals the Python side's
    // sklearn: HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
    // l2_regularization=0, max_bins=255, early_stopping=False) = these LightGBM defaults.
    const model = fitGbdt(xtr, ytr, { objective: 'binary', nEstimators: 100, numLeaves: 31, minDataInLeaf: 20, learningRate: 0.1 });
    const acc = accuracy(yte, predictGbdt(model, xte));
    expect(Math.abs(acc - task.hgbAccuracy)).toBeLessThanOrEqual(0.02);
    const lr = fitLogistic(xtr, ytr);
    const lrAcc = accuracy(yte, argmaxRows(predictLogisticProba(lr, xte), task.nTest, 2));
    expect(Math.abs(lrAcc - task.logisticAccuracy)).toBeLessThanOrEqual(0.01);
    expect(acc).toBeGreaterThan(lrAcc + 0.2);
    expect(model.rounds).toBe(100);
    expect(model.trees).toHaveLength(100);
    expect(model.trees.every((t) => t.numLeaves <= 31)).toBe(true);
  });

  it('one stump with λ1, λ2: leaf values are −T(G)/(H+λ2)·lr in closed form (regression: g = F − y, h = 1)', () => {
    // y = 0 for x < 0.5, 10 for x >= 0.5; init = mean = 5, so G_left = Σ(5 − 0) = 5·n_l, H_left = n_l.
    const xs = Array.from({ length: 40 }, (_, i) => [i / 40]);
    const ys = xs.map(([v]) => (v < 0.5 ? 0 : 10));
    const model = fitGbdt(matrix(xs), ys, { objective: 'regression', nEstimators: 1, numLeaves: 2, minDataInLeaf: 1, lambdaL1: 3, lambdaL2: 4, learningRate: 0.5 });
    const t = model.trees[0];
    expect(model.initScore[0]).toBe(5);
    expect(t.numLeaves).toBe(2);
    expect(t.threshold[0]).toBeCloseTo((19 / 40 + 20 / 40) / 2, 15);
    // left: G = 20·5 = 100 -> T = 97, H = 20: value = −97/24·0.5; right: G = −100 -> T = −97
    expect(t.leafValue[0]).toBeCloseTo((-97 / 24) * 0.5, 12);
    expect(t.leafValue[1]).toBeCloseTo((97 / 24) * 0.5, 12);
    expect(t.splitGain[0]).toBeCloseTo((97 * 97) / 24 * 2 - 0, 9);
  });

  it('histogram subtraction gives the same trees as building every histogram (exact split search oracle)', () => {
    // Oracle: with numLeaves = 3 and depth 2, compare against a brute-force best split on raw sorted values.
    const rng = seeded('oracle');
    const n = 400, d = 3;
    const rows = Array.from({ length: n }, () => Array.from({ length: d }, () => Math.round(rng.normal() * 20) / 4));
    const y = rows.map((r) => r[0] * r[1] + Math.sin(r[2]));
    const x = matrix(rows);
    const model = fitGbdt(x, y, { objective: 'regression', nEstimators: 3, numLeaves: 3, minDataInLeaf: 5, learningRate: 1 });
    // Replay: at each round, grow the same 3-leaf tree by exhaustive search over the same candidate thresholds
    // (midpoints of the column's distinct values: fewer than 255, so one bin per value) and check the chosen splits.
    const globalThresholds = Array.from({ length: d }, (_, f) => {
      const vals = [...new Set(rows.map((r) => r[f]))].sort((a, b) => a - b);
      return vals.slice(1).map((v, k) => (vals[k] + v) / 2);
    });
    const score = new Float64Array(n).fill(model.initScore[0]);
    for (const tree of model.trees) {
      const g = y.map((v, i) => score[i] - v);
      const leaves: number[][] = [Array.from({ length: n }, (_, i) => i)];
      const splits: { f: number; thr: number }[] = [];
      for (let s = 0; s < 2; s++) {
        let best = { gain: 0, leaf: -1, f: -1, thr: 0 };
        leaves.forEach((idx, li) => {
          const G = idx.reduce((a, i) => a + g[i], 0), H = idx.length;
          for (let f = 0; f < d; f++) {
            for (const thr of globalThresholds[f]) {
              const left = idx.filter((i) => rows[i][f] <= thr);
              if (left.length < 5 || H - left.length < 5) continue;
              const gl = left.reduce((a, i) => a + g[i], 0);
              const gain = (gl * gl) / left.length + ((G - gl) ** 2) / (H - left.length) - (G * G) / H;
              if (gain > best.gain + 1e-9) best = { gain, leaf: li, f, thr };
            }
          }
        });
        splits.push({ f: best.f, thr: best.thr });
        const idx = leaves[best.leaf];
        leaves.splice(best.leaf, 1, idx.filter((i) => rows[i][best.f] <= best.thr), idx.filter((i) => rows[i][best.f] > best.thr));
      }
      expect(Array.from(tree.splitFeature)).toEqual(splits.map((s) => s.f));
      for (let k = 0; k < 2; k++) expect(tree.threshold[k]).toBeCloseTo(splits[k].thr, 12);
      const pred = predictGbdtRaw({ ...model, trees: [tree], initScore: Float64Array.from([0]) }, x);
      for (let i = 0; i < n; i++) score[i] += pred[i];
    }
  });

  it('multiclass: softmax probabilities sum to 1, K trees per round, learns a 3-class task', () => {
    const rng = seeded('mc');
    const n = 1500;
    const rows = Array.from({ length: n }, () => [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.normal()]);
    const y = rows.map(([a, b]) => (a * a + b * b < 0.3 ? 0 : a > b ? 1 : 2));
    const x = matrix(rows);
    const model = fitGbdt(x, y, { objective: 'multiclass', nEstimators: 30, numLeaves: 15 });
    expect(model.trees).toHaveLength(90);
    const p = predictGbdtProba(model, x);
    for (let i = 0; i < n; i++) expect(p[3 * i] + p[3 * i + 1] + p[3 * i + 2]).toBeCloseTo(1, 12);
    expect(accuracy(y, predictGbdt(model, x))).toBeGreaterThan(0.9);
  });

  it('regression objective fits a nonlinear target', () => {
    const rng = seeded('reg');
    const rows = Array.from({ length: 1200 }, () => [rng.uniform(-2, 2), rng.uniform(-2, 2)]);
    const y = rows.map(([a, b]) => Math.sin(2 * a) + b * b);
    const model = fitGbdt(matrix(rows.slice(0, 1000)), y.slice(0, 1000), { objective: 'regression', nEstimators: 200, numLeaves: 15 });
    expect(mse(y.slice(1000), predictGbdt(model, matrix(rows.slice(1000))))).toBeLessThan(0.05);
  });

  it('bagging and feature sampling are seeded: same seed same model, other seed another; MLEM params run', () => {
    const { xtr, ytr, xte, yte } = taskData();
    const opts = { objective: 'binary' as const, nEstimators: 20, featureFraction: 0.6, baggingFraction: 0.7, baggingFreq: 1 };
    const a = predictGbdtRaw(fitGbdt(xtr, ytr, { ...opts, seed: 1 }), xte);
    expect(Array.from(predictGbdtRaw(fitGbdt(xtr, ytr, { ...opts, seed: 1 }), xte))).toEqual(Array.from(a));
    expect(Array.from(predictGbdtRaw(fitGbdt(xtr, ytr, { ...opts, seed: 2 }), xte))).not.toEqual(Array.from(a));
    const mlem = fitGbdt(xtr, ytr, { ...MLEM_GBDT_PARAMS, nEstimators: 60, objective: 'binary' });
    expect(mlem.trees.every((t) => t.numLeaves <= 50)).toBe(true);
    const p = predictGbdtProba(mlem, xte);
    expect(rocAuc(yte, Array.from({ length: task.nTest }, (_, i) => p[2 * i + 1]))).toBeGreaterThan(0.8);
  });

  it('maxDepth bounds the tree; progress is reported each round; constant features never split', () => {
    const { xtr, ytr } = taskData();
    const done: number[] = [];
    const model = fitGbdt(xtr, ytr, { nEstimators: 5, maxDepth: 2, numLeaves: 31, onProgress: (p) => done.push(p.done) });
    expect(done).toEqual([1, 2, 3, 4, 5]);
    expect(model.trees.every((t) => t.numLeaves <= 4)).toBe(true);
    const constant = fitGbdt(matrix([[1, 0], [1, 1], [1, 0], [1, 1]]), [0, 1, 0, 1], { minDataInLeaf: 1 });
    expect(constant.trees.every((t) => Array.from(t.splitFeature).every((f) => f === 1))).toBe(true);
  });

  it('histogram threads give bit-identical models (binary with bagging and feature sampling, multiclass, regression)', () => {
    expect(histThreadsAvailable()).toBe(true); // Node 20.16+: worker_threads through process.getBuiltinModule
    const { xtr, ytr } = taskData();
    const rng = seeded('threads');
    const rows = Array.from({ length: 900 }, () => Array.from({ length: 13 }, () => rng.normal()));
    const ymc = rows.map((r) => (r[0] + r[1] > 1 ? 0 : r[2] * r[3] > 0 ? 1 : 2));
    const cases: [Matrix, ArrayLike<number>, Partial<GbdtOptions>][] = [
      [xtr, ytr, { objective: 'binary', nEstimators: 12, featureFraction: 0.8, baggingFraction: 0.7, baggingFreq: 2, seed: 3 }],
      [matrix(rows), ymc, { objective: 'multiclass', nEstimators: 5, numLeaves: 9, lambdaL1: 0.5 }],
      [matrix(rows), rows.map((r) => Math.sin(r[4]) + r[5]), { objective: 'regression', nEstimators: 8 }],
    ];
    for (const [x, y, opts] of cases) {
      const one = fitGbdt(x, y, { ...opts, threads: 1 });
      for (const threads of [2, 3]) {
        const many = fitGbdt(x, y, { ...opts, threads });
        expect(many.trees.length).toBe(one.trees.length);
        many.trees.forEach((t, k) => {
          expect(t.splitFeature).toEqual(one.trees[k].splitFeature);
          expect(t.splitBin).toEqual(one.trees[k].splitBin);
          expect(t.splitGain).toEqual(one.trees[k].splitGain);
          expect(t.leafValue).toEqual(one.trees[k].leafValue);
        });
      }
    }
    expect(() => parseGbdtOptions({ threads: -1 })).toThrow(/"threads"/);
    expect(() => parseGbdtOptions({ threads: 1.5 })).toThrow(/"threads"/);
  });

  it('stops when no split is possible and validates options with the field name', () => {
    const m = fitGbdt(matrix([[0], [1], [2]]), [0, 1, 0], { minDataInLeaf: 5 });
    expect(m.rounds).toBe(0);
    const p = predictGbdtProba(m, matrix([[0]])); // the prior, log-odds of 1/3
    expect(p[1]).toBeCloseTo(1 / 3, 15);
    expect(() => parseGbdtOptions({ numLeaves: 1 })).toThrow(/"numLeaves" must be an integer >= 2/);
    expect(() => parseGbdtOptions({ maxBin: 300 })).toThrow(/"maxBin"/);
    expect(() => parseGbdtOptions({ num_leaves: 3 } as never)).toThrow(/unknown option "num_leaves"/);
    expect(() => parseGbdtOptions({ objective: 'lambdarank' as never })).toThrow(/'binary', 'multiclass', 'regression'/);
    expect(GBDT_DEFAULTS.numLeaves).toBe(31);
    expect(() => fitGbdt(matrix([[0], [1]]), [0, 2])).toThrow(/out of range/);
    expect(() => fitGbdt(matrix([[Number.NaN], [1]]), [0, 1])).toThrow(/finite/);
  });
});
