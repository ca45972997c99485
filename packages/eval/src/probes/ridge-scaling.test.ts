import { describe, expect, it } from 'vitest';
import { expectTensorsClose } from '@sift/tensor-core/testing';
import { loadEvalFixtures } from '../internal/fixtures.js';
import { matrix } from './matrix.js';
import { fitRidge, predictRidge } from './ridge.js';
import { applyScaler, fitScaler } from './scaling.js';

const fx = loadEvalFixtures();

describe('fitRidge matches sklearn Ridge / LinearRegression (1e-9)', () => {
  it('alpha = 2 and alpha = 0 (ordinary least squares)', () => {
    const x = matrix(fx.logistic.x);
    const r = fitRidge(x, fx.ridge.y, { alpha: fx.ridge.alpha });
    expectTensorsClose(r.coef, fx.ridge.coef, { atol: 1e-9, rtol: 1e-9 });
    expectTensorsClose(r.intercept, fx.ridge.intercept, { atol: 1e-9, rtol: 1e-9 });
    const ols = fitRidge(x, fx.ridge.y, { alpha: 0 });
    expectTensorsClose(ols.coef, fx.ridge.olsCoef, { atol: 1e-9, rtol: 1e-9 });
    expectTensorsClose(ols.intercept, fx.ridge.olsIntercept, { atol: 1e-9, rtol: 1e-9 });
  });

  it('predicts exactly on a noiseless line; collinear features without alpha throw E_NOT_PD', () => {
    const m = fitRidge(matrix([[0], [1], [2]]), [1, 3, 5], { alpha: 0 });
    expectTensorsClose(predictRidge(m, matrix([[10]])), [21], { atol: 1e-12 });
    expect(() => fitRidge(matrix([[1, 2], [2, 4], [3, 6]]), [1, 2, 3], { alpha: 0 })).toThrow(/singular.*Use alpha > 0/);
    expect(fitRidge(matrix([[1, 2], [2, 4], [3, 6]]), [1, 2, 3], { alpha: 1e-3 }).coef.length).toBe(2);
  });
});

describe('scalers (sklearn MaxAbsScaler / StandardScaler semantics)', () => {
  const x = matrix([[1, -4, 0], [-2, 2, 0], [0.5, 1, 0]]);

  it('maxabs divides by max |x| per column, all-zero columns untouched', () => {
    const s = fitScaler(x, 'maxabs');
    expect(Array.from(s.scale)).toEqual([2, 4, 1]);
    expect(Array.from(applyScaler(s, x).data)).toEqual([0.5, -1, 0, -1, 0.5, 0, 0.25, 0.25, 0]);
  });

  it('standard: zero mean, unit population variance; constant columns keep scale 1', () => {
    const s = fitScaler(x, 'standard');
    const z = applyScaler(s, x).data;
    for (let j = 0; j < 2; j++) {
      const col = [z[j], z[3 + j], z[6 + j]];
      expect(col.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 12);
      expect(col.reduce((a, b) => a + b * b, 0) / 3).toBeCloseTo(1, 12);
    }
    expect(s.scale[2]).toBe(1);
  });

  it('none is the identity; bad kinds and shapes throw', () => {
    expect(Array.from(applyScaler(fitScaler(x, 'none'), x).data)).toEqual(Array.from(x.data));
    expect(() => fitScaler(x, 'minmax' as never)).toThrow(/'maxabs', 'standard', 'none'/);
    expect(() => applyScaler(fitScaler(x, 'none'), matrix([[1, 2]]))).toThrow(/2 columns but the scaler was fitted on 3/);
  });
});
