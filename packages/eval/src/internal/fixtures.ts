import { readFileSync } from 'node:fs';

/**
 * The cross-check fixture written by `tools/crosscheck/eval_fixtures.py` (sklearn / numpy / scipy), for tests only.
 * Read lazily so importing this module costs nothing.
 */
export function loadEvalFixtures(): EvalFixtures {
  return JSON.parse(readFileSync(new URL('../../test/fixtures/eval-fixtures.json', import.meta.url), 'utf8')) as EvalFixtures;
}

/** Shape of `test/fixtures/eval-fixtures.json`. */
export interface EvalFixtures {
  metrics: {
    yBinary: number[]; scores: number[]; predBinary: number[]; probBinary: number[];
    yMulti: number[]; probaMulti: number[][]; predMulti: number[]; numClasses: number;
    rocAuc: number; rocAucOvr: number; logLossBinary: number; logLossMulti: number; accuracyMulti: number;
    f1Binary: number; f1Macro: number; yReg: number[]; predReg: number[]; mse: number; mae: number;
  };
  logistic: {
    x: number[][]; y: number[]; c: number; coef: number[][]; intercept: number[]; xQuery: number[][]; proba: number[][];
    yBinary: number[]; cBinary: number; coefBinary: number[]; interceptBinary: number; probaBinary: number[][];
  };
  ridge: { y: number[]; alpha: number; coef: number[]; intercept: number; olsCoef: number[]; olsIntercept: number };
  anisotropy: { x: number[][]; singularValues: number[]; anisotropy: number };
  twoNN: { x: number[][]; dimension: number };
  gbdtTask: {
    seed: number; nTrain: number; nTest: number; d: number; flip: number; hgbAccuracy: number; logisticAccuracy: number;
    firstLabels: number[]; firstRow: number[];
  };
}

/**
 * The nonlinear binary task of the GBDT cross-check, from a 32-bit LCG that `eval_fixtures.py` implements the same
 * way: x ~ U[-1, 1]^d, y = [x0·x1 + x2²/2 − x3²/2 > 0], flipped with probability `flip`. Row-major x.
 */
export function lcgTask(seed: number, n: number, d: number, flip: number): { x: Float64Array; y: Float64Array } {
  let s = seed >>> 0;
  const u = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const x = new Float64Array(n * d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x[i * d + j] = 2 * u() - 1;
    const r = i * d;
    const f = x[r] * x[r + 1] + 0.5 * x[r + 2] * x[r + 2] - 0.5 * x[r + 3] * x[r + 3];
    let yi = f > 0 ? 1 : 0;
    if (u() < flip) yi = 1 - yi;
    y[i] = yi;
  }
  return { x, y };
}
