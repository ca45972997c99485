import { SiftError } from '@sift/tensor-core';
import { checkKnownKeys, checkNumber } from '../internal/options.js';
import { minimizeLbfgs } from './lbfgs.js';
import { checkLabels, checkMatrix, type Matrix } from './matrix.js';

/** Options of `fitLogistic`. */
export interface LogisticOptions {
  /** Inverse L2 strength, as sklearn's `C`: the objective is Σ_i CE_i + ‖W‖² / (2C). */
  c: number;
  /** Stop when the largest gradient entry of the mean objective (the one above divided by N) is <= tol. */
  tol: number;
  /** L-BFGS iteration cap. */
  maxIter: number;
  /** Fit an unpenalised intercept per class. */
  fitIntercept: boolean;
  /** Number of classes K; default max(y) + 1. */
  numClasses?: number;
}

/** Defaults of `fitLogistic` (sklearn's C = 1, max_iter raised since probes see thousands of features). */
export const LOGISTIC_DEFAULTS: LogisticOptions = { c: 1, tol: 1e-6, maxIter: 1000, fitIntercept: true };

/** A fitted multinomial logistic regression. */
export interface LogisticModel {
  readonly kind: 'logistic';
  /** Weights `[K, D]` row-major (float64). For K = 2, row 1 equals sklearn's `coef_[0]` under multi_class='multinomial'. */
  readonly coef: Float64Array;
  /** Intercepts `[K]`; they sum to zero (the softmax is invariant to a shared shift, and the solver keeps it at 0). */
  readonly intercept: Float64Array;
  readonly numClasses: number;
  readonly numFeatures: number;
  /** L-BFGS iterations run. */
  readonly iterations: number;
  /** Whether the gradient tolerance was reached within `maxIter`. */
  readonly converged: boolean;
  /** Final mean objective (1/N)·(Σ CE + ‖W‖²/(2C)). */
  readonly loss: number;
}

function parseLogisticOptions(input: Partial<LogisticOptions>): LogisticOptions {
  checkKnownKeys('fitLogistic', input, ['c', 'tol', 'maxIter', 'fitIntercept', 'numClasses']);
  const o = { ...LOGISTIC_DEFAULTS, ...input };
  checkNumber('fitLogistic', 'c', o.c, { min: 0, minExclusive: true });
  checkNumber('fitLogistic', 'tol', o.tol, { min: 0, minExclusive: true });
  checkNumber('fitLogistic', 'maxIter', o.maxIter, { min: 1, integer: true });
  if (o.numClasses !== undefined) checkNumber('fitLogistic', 'numClasses', o.numClasses, { min: 2, integer: true });
  return o;
}

/**
 * Multinomial logistic regression with L2 penalty on the weights (not the intercepts), the objective of sklearn's
 * `LogisticRegression(C=c, multi_class='multinomial', solver='lbfgs')`: minimise Σ_i −log softmax(W x_i + b)_{y_i}
 * + ‖W‖²_F / (2C). Solved to `tol` by L-BFGS in float64; the optimum is unique, so the coefficients match sklearn's
 * once both are converged. Cost per iteration: 2·N·D·K flops twice (logits and gradient).
 * @param x `[N, D]` features (scale them first: `fitScaler`)
 * @param y N class indices in 0..K-1
 * @example
 * const model = fitLogistic(matrix([[0], [1], [2], [3]]), [0, 0, 1, 1], { c: 10 });
 * const proba = predictLogisticProba(model, matrix([[1.5]])); // ~[0.5, 0.5]
 */
export function fitLogistic(x: Matrix, y: ArrayLike<number>, options: Partial<LogisticOptions> = {}): LogisticModel {
  const o = parseLogisticOptions(options);
  checkMatrix('fitLogistic', x, y);
  const k = checkLabels('fitLogistic', y, o.numClasses);
  const { rows: n, cols: d } = x;
  const xs = x.data;
  const nw = k * d;
  const invN = 1 / n;
  const reg = 1 / (o.c * n);
  const z = new Float64Array(k);
  const fg = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const row = i * d;
      let zmax = -Infinity;
      for (let c = 0; c < k; c++) {
        let s = o.fitIntercept ? theta[nw + c] : 0;
        const w = c * d;
        for (let j = 0; j < d; j++) s += theta[w + j] * xs[row + j];
        z[c] = s;
        if (s > zmax) zmax = s;
      }
      let sum = 0;
      for (let c = 0; c < k; c++) {
        const e = Math.exp(z[c] - zmax);
        z[c] = e;
        sum += e;
      }
      const yi = y[i];
      loss += Math.log(sum) - Math.log(z[yi]);
      for (let c = 0; c < k; c++) {
        const r = (z[c] / sum - (c === yi ? 1 : 0)) * invN;
        if (o.fitIntercept) grad[nw + c] += r;
        const w = c * d;
        for (let j = 0; j < d; j++) grad[w + j] += r * xs[row + j];
      }
    }
    let sq = 0;
    for (let j = 0; j < nw; j++) {
      sq += theta[j] * theta[j];
      grad[j] += reg * theta[j];
    }
    return loss * invN + 0.5 * reg * sq;
  };
  const res = minimizeLbfgs(fg, new Float64Array(nw + k), { gtol: o.tol, maxIter: o.maxIter, memory: 10 });
  const intercept = res.x.slice(nw, nw + k);
  if (!o.fitIntercept) intercept.fill(0);
  return {
    kind: 'logistic', coef: res.x.slice(0, nw), intercept, numClasses: k, numFeatures: d,
    iterations: res.iterations, converged: res.converged, loss: res.f,
  };
}

/**
 * Class probabilities `[N, K]` (row-major) of a fitted `LogisticModel`: softmax(W x + b).
 */
export function predictLogisticProba(model: LogisticModel, x: Matrix): Float64Array {
  checkMatrix('predictLogisticProba', x);
  const { numClasses: k, numFeatures: d } = model;
  if (x.cols !== d) {
    throw new SiftError('E_SHAPE', `predictLogisticProba: x has ${x.cols} features but the model was fitted on ${d}; pass the same columns as in training.`);
  }
  const out = new Float64Array(x.rows * k);
  for (let i = 0; i < x.rows; i++) {
    let zmax = -Infinity;
    for (let c = 0; c < k; c++) {
      let s = model.intercept[c];
      for (let j = 0; j < d; j++) s += model.coef[c * d + j] * x.data[i * d + j];
      out[i * k + c] = s;
      if (s > zmax) zmax = s;
    }
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp(out[i * k + c] - zmax);
      out[i * k + c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) out[i * k + c] /= sum;
  }
  return out;
}
