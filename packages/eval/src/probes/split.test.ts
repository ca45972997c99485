import { describe, expect, it } from 'vitest';
import { kFold, stratifiedKFold, trainTestSplit } from './split.js';

describe('splits', () => {
  const y = Array.from({ length: 103 }, (_, i) => (i % 10 < 7 ? 0 : i % 10 < 9 ? 1 : 2)); // 70% / 20% / 10%

  it('stratifiedKFold: folds partition the rows, keep class shares (±1) and sizes (±1)', () => {
    const folds = stratifiedKFold(y, 5, 7);
    expect(folds).toHaveLength(5);
    const seen = new Int32Array(y.length);
    for (const f of folds) {
      for (const i of f.test) seen[i] += 1;
      expect(f.train.length + f.test.length).toBe(y.length);
      expect(new Set([...f.train, ...f.test]).size).toBe(y.length);
      for (const c of [0, 1, 2]) {
        const total = y.filter((v) => v === c).length;
        const inFold = Array.from(f.test).filter((i) => y[i] === c).length;
        expect(Math.abs(inFold - total / 5)).toBeLessThanOrEqual(1);
      }
    }
    expect(Array.from(seen).every((v) => v === 1)).toBe(true);
    const sizes = folds.map((f) => f.test.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('same seed, same folds; another seed, other folds', () => {
    const a = stratifiedKFold(y, 5, 1).map((f) => Array.from(f.test));
    expect(stratifiedKFold(y, 5, 1).map((f) => Array.from(f.test))).toEqual(a);
    expect(stratifiedKFold(y, 5, 2).map((f) => Array.from(f.test))).not.toEqual(a);
    expect(kFold(10, 3, 0).map((f) => f.test.length).sort()).toEqual([3, 3, 4]);
  });

  it('trainTestSplit: stratified shares, determinism, and errors', () => {
    const s = trainTestSplit(y.length, { testFraction: 0.2, seed: 3, stratify: y });
    expect(s.test.length + s.train.length).toBe(y.length);
    expect(Array.from(s.test).filter((i) => y[i] === 2).length).toBe(2); // round(10 * 0.2)
    expect(Array.from(trainTestSplit(50, { seed: 1 }).test)).toEqual(Array.from(trainTestSplit(50, { seed: 1 }).test));
    expect(() => trainTestSplit(10, { testFraction: 1 })).toThrow(/testFraction/);
    expect(() => stratifiedKFold([0, 1], 3, 0)).toThrow(/2 samples cannot fill 3 folds/);
  });
});
