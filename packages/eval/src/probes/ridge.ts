import { SiftError } from '@sift/tensor-core';
import { checkKnownKeys, checkNumber } from '../internal/options.js';
import { checkMatrix, type Matrix } from './matrix.js';

/** Options of `fitRidge`. */
export interface RidgeOptions {
  /** L2 strength α, as sklearn's `Ridge(alpha)`: minimise ‖y − Xw − b‖² + α‖w‖². 0 is ordinary least squares. */
  alpha: number;
  /** Fit an unpenalised intercept (by centring X and y). */
  fitIntercept: boolean;
}

/** Defaults of `fitRidge` (sklearn's alpha = 1). */
export const RIDGE_DEFAULTS: RidgeOptions = { alpha: 1, fitIntercept: true };

/** A fitted ridge regression. */
export interface RidgeModel {
  readonly kind: 'ridge';
  /** Weights `[D]`. */
  readonly coef: Float64Array;
  readonly intercept: number;
  readonly numFeatures: number;
}

function parseRidgeOptions(input: Partial<RidgeOptions>): RidgeOptions {
  checkKnownKeys('fitRidge', input, Object.keys(RIDGE_DEFAULTS));
  const o = { ...RIDGE_DEFAULTS, ...input };
  checkNumber('fitRidge', 'alpha', o.alpha, { min: 0 });
  return o;
}

/**
 * Ridge regression in closed form: w = (XcᵀXc + αI)⁻¹ Xcᵀ yc on centred data, b = ȳ − x̄·w, solved by a float64
 * Cholesky factorisation of the `[D, D]` normal matrix (sklearn `Ridge(alpha, solver='cholesky')`; with α = 0 it is
 * `LinearRegression`, MLEM's regression probe, and needs XᵀX to be non-singular).
 * @param x `[N, D]` features
 * @param y N targets
 * @example
 * const m = fitRidge(matrix([[0], [1], [2]]), [1, 3, 5], { alpha: 0 }); // coef [2], intercept 1
 */
export function fitRidge(x: Matrix, y: ArrayLike<number>, options: Partial<RidgeOptions> = {}): RidgeModel {
  const o = parseRidgeOptions(options);
  checkMatrix('fitRidge', x, y);
  const { rows: n, cols: d } = x;
  const xm = new Float64Array(d);
  let ym = 0;
  if (o.fitIntercept) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) xm[j] += x.data[i * d + j];
      ym += y[i];
    }
    for (let j = 0; j < d; j++) xm[j] /= n;
    ym /= n;
  }
  const a = new Float64Array(d * d);
  const rhs = new Float64Array(d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x.data[i * d + j] - xm[j];
    const yc = y[i] - ym;
    for (let p = 0; p < d; p++) {
      const v = row[p];
      rhs[p] += v * yc;
      const off = p * d;
      for (let q = 0; q <= p; q++) a[off + q] += v * row[q];
    }
  }
  for (let p = 0; p < d; p++) a[p * d + p] += o.alpha;
  const coef = choleskySolve(a, rhs, d);
  let intercept = ym;
  for (let j = 0; j < d; j++) intercept -= xm[j] * coef[j];
  return { kind: 'ridge', coef, intercept, numFeatures: d };
}

/** Solves A w = b for symmetric positive definite A (lower triangle read; A is overwritten by its factor L). */
function choleskySolve(a: Float64Array, b: Float64Array, d: number): Float64Array {
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j];
    for (let k = 0; k < j; k++) s -= a[j * d + k] * a[j * d + k];
    if (!(s > 1e-12 * Math.max(1, Math.abs(a[j * d + j])))) {
      throw new SiftError('E_NOT_PD', `fitRidge: the normal matrix XᵀX + αI is singular at column ${j} (pivot ${s}); ` +
        'features are collinear or constant. Use alpha > 0 or drop redundant columns.');
    }
    const l = Math.sqrt(s);
    a[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j];
      for (let k = 0; k < j; k++) t -= a[i * d + k] * a[j * d + k];
      a[i * d + j] = t / l;
    }
  }
  const w = Float64Array.from(b);
  for (let i = 0; i < d; i++) {
    let t = w[i];
    for (let k = 0; k < i; k++) t -= a[i * d + k] * w[k];
    w[i] = t / a[i * d + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    let t = w[i];
    for (let k = i + 1; k < d; k++) t -= a[k * d + i] * w[k];
    w[i] = t / a[i * d + i];
  }
  return w;
}

/** Predictions `[N]` of a fitted `RidgeModel`. */
export function predictRidge(model: RidgeModel, x: Matrix): Float64Array {
  checkMatrix('predictRidge', x);
  if (x.cols !== model.numFeatures) {
    throw new SiftError('E_SHAPE', `predictRidge: x has ${x.cols} features but the model was fitted on ${model.numFeatures}.`);
  }
  const d = x.cols;
  const out = new Float64Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let s = model.intercept;
    for (let j = 0; j < d; j++) s += model.coef[j] * x.data[i * d + j];
    out[i] = s;
  }
  return out;
}
