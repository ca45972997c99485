import { SiftError } from '@sift/tensor-core';
import { checkChoice } from '../internal/options.js';
import { checkMatrix, type Matrix } from './matrix.js';

/** Feature scalings: sklearn's `MaxAbsScaler` (MLEM's probe), `StandardScaler`, or none. */
export type ScalingKind = 'maxabs' | 'standard' | 'none';

/** The scaling kinds, for validation and CLI help. */
export const SCALING_KINDS: readonly ScalingKind[] = ['maxabs', 'standard', 'none'];

/** A fitted per-column affine map x' = (x − offset) / scale. */
export interface Scaler {
  readonly kind: ScalingKind;
  /** `[D]` subtracted first (0 for maxabs and none). */
  readonly offset: Float64Array;
  /** `[D]` divided by (1 for constant or all-zero columns, as sklearn). */
  readonly scale: Float64Array;
}

/**
 * Fits a scaler on training features: `maxabs` divides each column by max|x| (sparsity-preserving, MLEM/ptls);
 * `standard` subtracts the mean and divides by the population std (ddof 0, as sklearn).
 * @example
 * const s = fitScaler(train, 'maxabs');
 * const trainScaled = applyScaler(s, train), testScaled = applyScaler(s, test);
 */
export function fitScaler(x: Matrix, kind: ScalingKind): Scaler {
  checkChoice('fitScaler', 'kind', kind, SCALING_KINDS);
  checkMatrix('fitScaler', x);
  const { rows: n, cols: d } = x;
  const offset = new Float64Array(d);
  const scale = new Float64Array(d).fill(1);
  if (kind === 'maxabs') {
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(x.data[i * d + j]));
      scale[j] = m === 0 ? 1 : m;
    }
  } else if (kind === 'standard') {
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) offset[j] += x.data[i * d + j];
    for (let j = 0; j < d; j++) offset[j] /= n;
    const v = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) v[j] += (x.data[i * d + j] - offset[j]) ** 2;
    for (let j = 0; j < d; j++) {
      const s = Math.sqrt(v[j] / n);
      // sklearn treats near-constant columns (std below 10·eps·|mean|) as constant: scale 1.
      scale[j] = s < 10 * Number.EPSILON * Math.max(1, Math.abs(offset[j])) ? 1 : s;
    }
  }
  return { kind, offset, scale };
}

/** Applies a fitted scaler; returns a new float64 matrix. */
export function applyScaler(scaler: Scaler, x: Matrix): Matrix {
  const d = scaler.scale.length;
  if (x.cols !== d) throw new SiftError('E_SHAPE', `applyScaler: x has ${x.cols} columns but the scaler was fitted on ${d}.`);
  const out = new Float64Array(x.rows * d);
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < d; j++) out[i * d + j] = (x.data[i * d + j] - scaler.offset[j]) / scaler.scale[j];
  }
  return { rows: x.rows, cols: d, data: out };
}
