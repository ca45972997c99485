import { describe, expect, it } from 'vitest';
import { expectTensorsClose } from '@sift/tensor-core/testing';
import { loadEvalFixtures } from '../internal/fixtures.js';
import { minimizeLbfgs } from './lbfgs.js';
import { fitLogistic, predictLogisticProba } from './logistic.js';
import { matrix } from './matrix.js';

const fx = loadEvalFixtures().logistic;

describe('minimizeLbfgs', () => {
  it('minimises the Rosenbrock function to 1e-8', () => {
    const res = minimizeLbfgs((x, g) => {
      const a = x[0], b = x[1];
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    }, Float64Array.from([-1.2, 1]), { gtol: 1e-10, maxIter: 500, memory: 10 });
    expect(res.converged).toBe(true);
    expectTensorsClose(res.x, [1, 1], { atol: 1e-8, rtol: 0 });
  });
});

describe('fitLogistic matches sklearn LogisticRegression(multi_class="multinomial", lbfgs)', () => {
  it('3 classes, C = 0.5: coefficients, centred intercepts and probabilities within 1e-6', () => {
    const m = fitLogistic(matrix(fx.x), fx.y, { c: fx.c, tol: 1e-9 });
    expect(m.converged).toBe(true);
    expect(m.numClasses).toBe(3);
    expectTensorsClose(m.coef, fx.coef.flat(), { atol: 1e-6, rtol: 1e-6, label: 'coef_' });
    expectTensorsClose(m.intercept, fx.intercept, { atol: 1e-6, rtol: 1e-6, label: 'intercept_ (centred)' });
    expectTensorsClose(predictLogisticProba(m, matrix(fx.xQuery)), fx.proba.flat(), { atol: 1e-7, rtol: 0, label: 'predict_proba' });
  });

  it('binary: row 1 of the symmetric 2-class softmax is sklearn coef_[0]; the default tol is within 1e-4', () => {
    const tight = fitLogistic(matrix(fx.x), fx.yBinary, { c: fx.cBinary, tol: 1e-9 });
    const d = fx.x[0].length;
    expectTensorsClose(tight.coef.subarray(d, 2 * d), fx.coefBinary, { atol: 1e-6, rtol: 1e-6 });
    expectTensorsClose(tight.coef.subarray(0, d), fx.coefBinary.map((v) => -v), { atol: 1e-6, rtol: 1e-6 });
    expectTensorsClose(tight.intercept[1], fx.interceptBinary, { atol: 1e-6, rtol: 1e-6 });
    const loose = fitLogistic(matrix(fx.x), fx.yBinary, { c: fx.cBinary });
    expectTensorsClose(predictLogisticProba(loose, matrix(fx.xQuery)), fx.probaBinary.flat(), { atol: 1e-4, rtol: 0 });
  });

  it('is deterministic, accepts float32 input, and validates options and labels', () => {
    const x32 = matrix(Float32Array.from(fx.x.flat()), fx.x.length, fx.x[0].length);
    const a = fitLogistic(x32, fx.y, { c: fx.c });
    const b = fitLogistic(x32, fx.y, { c: fx.c });
    expect(Array.from(a.coef)).toEqual(Array.from(b.coef));
    expect(() => fitLogistic(x32, fx.y, { c: 0 })).toThrow(/option "c" must be a number > 0/);
    expect(() => fitLogistic(x32, fx.y, { C: 1 } as never)).toThrow(/unknown option "C"/);
    expect(() => fitLogistic(matrix([[1], [2]]), [0, 1.5])).toThrow(/not a class index/);
    expect(() => fitLogistic(matrix([[1], [2]]), [0])).toThrow(/x has 2 rows but y has 1/);
    expect(() => predictLogisticProba(a, matrix([[1, 2]]))).toThrow(/fitted on 5/);
  });
});
