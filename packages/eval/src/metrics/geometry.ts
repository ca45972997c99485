import * as tf from '@tensorflow/tfjs-core';
import { Rng, SiftError } from '@sift/tensor-core';
import { checkKnownKeys, checkNumber } from '../internal/options.js';
import { checkMatrix, takeRows, type Matrix } from '../probes/matrix.js';
import { symmetricEigenvalues } from './eigen.js';

/** Options of `anisotropy`. */
export interface AnisotropyOptions {
  /** At most this many rows are used, drawn without replacement with `seed` (MLEM: "at most 50k embeddings"). */
  maxRows: number;
  /** Seed of the row subsample. */
  seed: number;
  /** Subtract the column means first. MLEM measures the raw embeddings, so the default is `false`. */
  center: boolean;
}

/** Defaults of `anisotropy`. */
export const ANISOTROPY_DEFAULTS: AnisotropyOptions = { maxRows: 50_000, seed: 0, center: false };

/** What `anisotropy` returns. */
export interface AnisotropyReport {
  /** σ₁ / Σ_k σ_k, in (0, 1]: 1 means every embedding lies on one line, 1/rank means isotropic. */
  anisotropy: number;
  /** All singular values σ_k of the (subsampled) embedding matrix, descending. */
  singularValues: Float64Array;
  /** Rows used. */
  rows: number;
}

/**
 * Singular values of `x` (descending), in float64, from the eigenvalues of the smaller Gram matrix (XᵀX `[D, D]` or
 * XXᵀ `[N, N]`): σ_k = √λ_k. Exact to ~1e-15·σ₁² / σ_k, plenty for spectra that are not extremely ill-conditioned.
 */
export function singularValues(x: Matrix): Float64Array {
  checkMatrix('singularValues', x);
  const { rows: n, cols: d } = x;
  const small = Math.min(n, d);
  const g = new Float64Array(small * small);
  const src = x.data;
  if (d <= n) {
    // XᵀX, lower triangle, four rows at a time so each Gram entry is loaded once per four rank-1 updates.
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const r0 = i * d, r1 = r0 + d, r2 = r1 + d, r3 = r2 + d;
      for (let a = 0; a < d; a++) {
        const x0 = src[r0 + a], x1 = src[r1 + a], x2 = src[r2 + a], x3 = src[r3 + a];
        const off = a * d;
        for (let b = 0; b <= a; b++) g[off + b] += x0 * src[r0 + b] + x1 * src[r1 + b] + x2 * src[r2 + b] + x3 * src[r3 + b];
      }
    }
    for (; i < n; i++) {
      const r0 = i * d;
      for (let a = 0; a < d; a++) {
        const x0 = src[r0 + a];
        const off = a * d;
        for (let b = 0; b <= a; b++) g[off + b] += x0 * src[r0 + b];
      }
    }
  } else {
    for (let a = 0; a < n; a++) {
      for (let b = 0; b <= a; b++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += src[a * d + k] * src[b * d + k];
        g[a * n + b] = s;
      }
    }
  }
  const lambda = symmetricEigenvalues(g, small);
  const out = new Float64Array(small);
  for (let k = 0; k < small; k++) out[k] = Math.sqrt(Math.max(0, lambda[small - 1 - k]));
  return out;
}

function parseAnisotropyOptions(input: Partial<AnisotropyOptions>): AnisotropyOptions {
  checkKnownKeys('anisotropy', input, Object.keys(ANISOTROPY_DEFAULTS));
  const o = { ...ANISOTROPY_DEFAULTS, ...input };
  checkNumber('anisotropy', 'maxRows', o.maxRows, { min: 1, integer: true });
  checkNumber('anisotropy', 'seed', o.seed);
  return o;
}

/** Draws at most `max` rows without replacement (sorted, so the order of the data is kept). */
function subsample(x: Matrix, max: number, seed: number): Matrix {
  if (x.rows <= max) return x;
  const idx = new Rng(seed).fork('subsample').sample(x.rows, max).sort();
  return takeRows(x, idx);
}

/**
 * Anisotropy of an embedding cloud, σ₁ / Σσ_k (MLEM `model_utils.py`, arXiv:2401.15935 §embedding quality): the
 * share of the top singular value. Rows beyond `maxRows` are subsampled with a seeded `Rng`.
 * @param x `[N, D]` embeddings
 * @example
 * const { anisotropy: a } = anisotropy(matrix([[1, 0], [0, 1]])); // 0.5, isotropic in 2-D
 */
export function anisotropy(x: Matrix, options: Partial<AnisotropyOptions> = {}): AnisotropyReport {
  const o = parseAnisotropyOptions(options);
  checkMatrix('anisotropy', x);
  let sub = subsample(x, o.maxRows, o.seed);
  if (o.center) sub = centered(sub);
  const sv = singularValues(sub);
  let total = 0;
  for (const s of sv) total += s;
  if (!(total > 0)) throw new SiftError('E_DATA', 'anisotropy: every embedding is zero, so the singular values sum to 0 and the ratio is undefined.');
  return { anisotropy: sv[0] / total, singularValues: sv, rows: sub.rows };
}

function centered(x: Matrix): Matrix {
  const { rows: n, cols: d } = x;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x.data[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j] = x.data[i * d + j] - mean[j];
  return { rows: n, cols: d, data: out };
}

/** Options of `twoNN`. */
export interface TwoNNOptions {
  /** Fraction of the sorted μ kept for the fit; the largest 1 - fraction are discarded (Facco et al.: 0.9). */
  fraction: number;
  /** At most this many points are used (brute-force neighbours cost N² D), drawn with `seed`. */
  maxPoints: number;
  /** Seed of the subsample. */
  seed: number;
  /** Rows per block of the float32 distance matmul. */
  blockRows: number;
  /** Neighbour candidates taken from the float32 pass and re-ranked with exact float64 distances. */
  candidates: number;
}

/** Defaults of `twoNN`. */
export const TWO_NN_DEFAULTS: TwoNNOptions = { fraction: 0.9, maxPoints: 10_000, seed: 0, blockRows: 512, candidates: 8 };

/** What `twoNN` returns. */
export interface TwoNNReport {
  /** The TwoNN intrinsic dimension: the slope d of −log(1 − F(μ)) = d·log μ, fitted through the origin. */
  dimension: number;
  /** Points used (after subsampling). */
  points: number;
  /** Points dropped because r₁ = 0 (duplicates) or r₁ = r₂ (degenerate ratios), as in the reference code. */
  dropped: number;
  /** Points in the fit: floor(fraction · (points − dropped)). */
  fitted: number;
}

function parseTwoNNOptions(input: Partial<TwoNNOptions>): TwoNNOptions {
  checkKnownKeys('twoNN', input, Object.keys(TWO_NN_DEFAULTS));
  const o = { ...TWO_NN_DEFAULTS, ...input };
  checkNumber('twoNN', 'fraction', o.fraction, { min: 0, max: 1, minExclusive: true });
  checkNumber('twoNN', 'maxPoints', o.maxPoints, { min: 3, integer: true });
  checkNumber('twoNN', 'seed', o.seed);
  checkNumber('twoNN', 'blockRows', o.blockRows, { min: 1, integer: true });
  checkNumber('twoNN', 'candidates', o.candidates, { min: 3, integer: true });
  return o;
}

/**
 * For every row, the distances to its first and second nearest other rows, exact in float64. Candidates come from a
 * brute-force float32 pass (`‖a‖² + ‖b‖² − 2a·b` with tfjs matmul, in blocks of rows, on centred data to limit
 * cancellation); the `candidates` nearest are then re-ranked with float64 distances. Async: it reads tensors back.
 */
export async function twoNearestDistances(x: Matrix, options: { blockRows?: number; candidates?: number } = {}): Promise<{ r1: Float64Array; r2: Float64Array }> {
  const blockRows = options.blockRows ?? TWO_NN_DEFAULTS.blockRows;
  const n = x.rows, d = x.cols;
  const k = Math.min(options.candidates ?? TWO_NN_DEFAULTS.candidates, n);
  const c = centered(x);
  const f32 = Float32Array.from(c.data);
  const r1 = new Float64Array(n);
  const r2 = new Float64Array(n);
  const all = tf.tensor2d(f32, [n, d]);
  const sqAll = tf.tidy(() => tf.sum(tf.square(all), 1));
  try {
    for (let start = 0; start < n; start += blockRows) {
      const size = Math.min(blockRows, n - start);
      const idxT = tf.tidy(() => {
        const blk = tf.slice(all, [start, 0], [size, d]);
        const sqB = tf.slice(sqAll, [start], [size]);
        // −d² = 2ab − ‖a‖² − ‖b‖², so top-k of it are the k nearest.
        const negD2 = tf.sub(tf.sub(tf.mul(tf.matMul(blk, all, false, true), 2), tf.reshape(sqB, [size, 1])), tf.reshape(sqAll, [1, n]));
        return tf.topk(negD2, k).indices;
      });
      let idx: Int32Array;
      try {
        idx = (await idxT.data()) as Int32Array;
      } finally {
        idxT.dispose();
      }
      for (let b = 0; b < size; b++) {
        const i = start + b;
        let best1 = Infinity, best2 = Infinity;
        for (let q = 0; q < k; q++) {
          const j = idx[b * k + q];
          if (j === i) continue;
          let s = 0;
          for (let t = 0; t < d; t++) {
            const diff = c.data[i * d + t] - c.data[j * d + t];
            s += diff * diff;
          }
          if (s < best1) {
            best2 = best1;
            best1 = s;
          } else if (s < best2) {
            best2 = s;
          }
        }
        r1[i] = Math.sqrt(best1);
        r2[i] = Math.sqrt(best2);
      }
    }
  } finally {
    tf.dispose([all, sqAll]);
  }
  return { r1, r2 };
}

/**
 * TwoNN intrinsic dimension (Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 2017), as MLEM measures embeddings:
 * μ_i = r₂/r₁ from each point's two nearest neighbours; with F the empirical CDF of the sorted μ (F_i = i/N), fit
 * −log(1 − F(μ)) = d·log μ through the origin on the smallest `fraction` of μ (the top 10% are discarded, as in the
 * reference implementation of Ansuini et al. 2019). Points with r₁ = 0 or r₁ = r₂ are dropped first, as there.
 * @param x `[N, D]` embeddings; N >= 3
 * @example
 * const { dimension } = await twoNN(points); // ~2 for points on a plane in 10-D
 */
export async function twoNN(x: Matrix, options: Partial<TwoNNOptions> = {}): Promise<TwoNNReport> {
  const o = parseTwoNNOptions(options);
  checkMatrix('twoNN', x);
  if (x.rows < 3) throw new SiftError('E_DATA', `twoNN: needs at least 3 points, got ${x.rows}.`);
  const sub = subsample(x, o.maxPoints, o.seed);
  const { r1, r2 } = await twoNearestDistances(sub, o);
  const mus: number[] = [];
  for (let i = 0; i < sub.rows; i++) {
    if (r1[i] === 0 || r1[i] === r2[i]) continue;
    mus.push(r2[i] / r1[i]);
  }
  const n = mus.length;
  const mu = Float64Array.from(mus).sort();
  const npoints = Math.floor(n * o.fraction);
  // The reference leaves out the last two μ (1 − F is 0 at the last), then fits on the first npoints.
  const m = Math.min(npoints, Math.max(0, n - 2));
  if (m < 1) throw new SiftError('E_DATA', `twoNN: only ${n} usable points after dropping duplicates; need more distinct points.`);
  let sxy = 0, sxx = 0;
  for (let i = 0; i < m; i++) {
    const xi = Math.log(mu[i]);
    const yi = -Math.log(1 - (i + 1) / n);
    sxy += xi * yi;
    sxx += xi * xi;
  }
  return { dimension: sxy / sxx, points: sub.rows, dropped: sub.rows - n, fitted: m };
}
