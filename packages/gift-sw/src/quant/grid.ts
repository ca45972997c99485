/**
 * The symmetric per-row uniform grid of GIFT-SW (arXiv:2408.15300, App. A, Eq. 6): for row i of W [out, in],
 *
 *     Δ_i = α_i / (2^{b−1} − 1),   Q(w) = Δ_i · clamp(round(w / Δ_i), −2^{b−1}, 2^{b−1} − 1),
 *
 * with the clipping value α_i found by a linear grid search α = p · max|w_i| over p = 1.00, 0.99, ... (80 points down to
 * 0.21) that minimises ‖w_i − Q(w_i)‖², using only the non-salient columns so that outliers do not inflate Δ.
 * Host code on typed arrays (the grid search is O(out · in · points), milliseconds at these sizes).
 */
import { SiftError } from '@sift/tensor-core';

/** Bit widths of the grid. */
export type QuantBits = 2 | 3 | 4 | 8;

/** The supported bit widths. */
export const QUANT_BITS: readonly QuantBits[] = [2, 3, 4, 8];

/** Options of the per-row grid (`rowScales`). */
export interface GridOptions {
  /** Bits b per weight: 2, 3, 4 or 8. */
  bits: QuantBits;
  /** Search the clipping value α by MSE (true) or use α = max|w| (false). */
  clipSearch: boolean;
  /** Grid points of the search: p = 1, 1 − 0.01, ..., 1 − 0.01·(points − 1). 80 reaches 0.21 (the reference repo). */
  gridPoints: number;
}

/** Defaults of `GridOptions`: 4 bits, MSE clip search over 80 points (p = 1.00 ... 0.21). */
export const GRID_DEFAULTS: Readonly<GridOptions> = Object.freeze({ bits: 4, clipSearch: true, gridPoints: 80 });

/** Merges `input` over `GRID_DEFAULTS` and validates it (SiftError 'E_CONFIG' naming the field). */
export function parseGridOptions(input: Partial<GridOptions> = {}, where = 'quantization grid'): GridOptions {
  const o: GridOptions = { ...GRID_DEFAULTS, ...input };
  if (!QUANT_BITS.includes(o.bits)) {
    throw new SiftError('E_CONFIG', `${where}: bits must be one of ${QUANT_BITS.join(', ')}, got ${JSON.stringify(o.bits)}.`);
  }
  if (typeof o.clipSearch !== 'boolean') throw new SiftError('E_CONFIG', `${where}: clipSearch must be a boolean.`);
  if (!(Number.isInteger(o.gridPoints) && o.gridPoints >= 1 && o.gridPoints <= 100)) {
    throw new SiftError('E_CONFIG', `${where}: gridPoints must be an integer in [1, 100] (p goes down by 0.01 per point), got ${o.gridPoints}.`);
  }
  return o;
}

/** The largest code 2^{b−1} − 1 (the smallest is −2^{b−1}). */
export function qmax(bits: QuantBits): number {
  return (1 << (bits - 1)) - 1; // a shift: quantCode calls this per weight, where 2 ** (bits − 1) cost ~20 ms per GPTQ layer
}

/** Round half to even, as `torch.round` (so the PyTorch cross-check agrees on ties). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // halves go up (towards +∞)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** 1.5·2^52: x + ROUND_MAGIC − ROUND_MAGIC is x rounded to the nearest integer, ties to even (|x| < 2^51). */
const ROUND_MAGIC = 6755399441055744;

/** The integer code of w on a grid of step Δ (0 when Δ = 0: an all-zero row). */
export function quantCode(w: number, delta: number, bits: QuantBits): number {
  if (delta === 0) return 0;
  const hi = qmax(bits);
  const q = roundHalfEven(w / delta);
  return q > hi ? hi : q < -hi - 1 ? -hi - 1 : q;
}

/**
 * The per-row step Δ_i [out] of W [out, in] (row-major), searched on the columns where `skip[j]` is 0.
 * @param w     [rows, cols] row-major
 * @param skip  [cols], 1 = salient column (left out of the search), or null
 */
export function rowScales(w: ArrayLike<number>, rows: number, cols: number, skip: Uint8Array | null, options: Partial<GridOptions> = {}): Float32Array {
  const o = parseGridOptions(options, 'rowScales');
  const hi = qmax(o.bits);
  const out = new Float32Array(rows);
  const points = o.clipSearch ? o.gridPoints : 1;
  const row = new Float64Array(cols); // the row's non-salient values, compact and monomorphic (the hot loop below)
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    let m = 0;
    let mx = 0;
    for (let j = 0; j < cols; j++) {
      if (skip !== null && skip[j] === 1) continue;
      const v = w[base + j];
      row[m++] = v;
      mx = Math.max(mx, Math.abs(v));
    }
    if (mx === 0) continue;
    out[i] = clipSearch(row, m, mx, hi, points);
  }
  return out;
}

/** Squared error of a row on the grid of step `delta`. */
function gridError(row: Float64Array, m: number, delta: number, hi: number): number {
  const lo = -hi - 1;
  let err = 0;
  for (let j = 0; j < m; j++) {
    const v = row[j];
    // Round half to even by the 1.5·2^52 trick (exact for |x| < 2^51; here |v/Δ| <= qmax/0.01): the same integer
    // as roundHalfEven, up to the sign of zero, which the squared error ignores. ~3x faster than Math.round + fix-up.
    let q = v / delta + ROUND_MAGIC - ROUND_MAGIC;
    q = q > hi ? hi : q < lo ? lo : q;
    const d = v - q * delta;
    err += d * d;
  }
  return err;
}

/** Values of a row between two early-exit checks of `clipSearch`. */
const EXIT_CHECK = 64;

/**
 * The clip search of one row: Δ_s = fround(max|w|·(1 − 0.01 s)/qmax) for s < points, the first with the least squared
 * error. Four candidates share each pass over the row (four independent dependency chains, the row loaded once):
 * ~1.4x faster than one pass per candidate, with the same errors compared in the same order. A group of four stops
 * early once none of them can beat the best error so far (most candidates past the optimum clip far too much).
 */
function clipSearch(row: Float64Array, m: number, mx: number, hi: number, points: number): number {
  const lo = -hi - 1;
  let best = Infinity;
  let bestDelta = mx / hi;
  const consider = (err: number, delta: number): void => {
    if (err < best) {
      best = err;
      bestDelta = delta;
    }
  };
  let s = 0;
  for (; s + 4 <= points; s += 4) {
    const d0 = Math.fround((mx * (1 - 0.01 * s)) / hi);
    const d1 = Math.fround((mx * (1 - 0.01 * (s + 1))) / hi);
    const d2 = Math.fround((mx * (1 - 0.01 * (s + 2))) / hi);
    const d3 = Math.fround((mx * (1 - 0.01 * (s + 3))) / hi);
    let e0 = 0, e1 = 0, e2 = 0, e3 = 0;
    for (let j0 = 0; j0 < m; j0 += EXIT_CHECK) {
      // Errors only grow along the row: once all four partial sums reach the best error so far, none of the four
      // can win (ties keep the first), so the rest of the row is skipped. Same choice as the full sums.
      if (e0 >= best && e1 >= best && e2 >= best && e3 >= best) break;
      const j1 = Math.min(j0 + EXIT_CHECK, m);
      for (let j = j0; j < j1; j++) {
        const v = row[j];
        let q0 = v / d0 + ROUND_MAGIC - ROUND_MAGIC;
        let q1 = v / d1 + ROUND_MAGIC - ROUND_MAGIC;
        let q2 = v / d2 + ROUND_MAGIC - ROUND_MAGIC;
        let q3 = v / d3 + ROUND_MAGIC - ROUND_MAGIC;
        q0 = q0 > hi ? hi : q0 < lo ? lo : q0;
        q1 = q1 > hi ? hi : q1 < lo ? lo : q1;
        q2 = q2 > hi ? hi : q2 < lo ? lo : q2;
        q3 = q3 > hi ? hi : q3 < lo ? lo : q3;
        const r0 = v - q0 * d0, r1 = v - q1 * d1, r2 = v - q2 * d2, r3 = v - q3 * d3;
        e0 += r0 * r0;
        e1 += r1 * r1;
        e2 += r2 * r2;
        e3 += r3 * r3;
      }
    }
    consider(e0, d0);
    consider(e1, d1);
    consider(e2, d2);
    consider(e3, d3);
  }
  for (; s < points; s++) {
    const delta = Math.fround((mx * (1 - 0.01 * s)) / hi);
    consider(gridError(row, m, delta, hi), delta);
  }
  return bestDelta;
}

/**
 * Q(W) on the per-row grid, [rows, cols] row-major (float32), every column quantized.
 * @param scales Δ [rows]
 */
export function fakeQuantize(w: ArrayLike<number>, rows: number, cols: number, scales: ArrayLike<number>, bits: QuantBits): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const d = scales[i];
    for (let j = 0; j < cols; j++) out[i * cols + j] = quantCode(w[i * cols + j], d, bits) * d;
  }
  return out;
}

/** A 0/1 mask [cols] of the given column indices (checked to be distinct integers in range). */
export function columnMask(cols: number, indices: ArrayLike<number>, where: string): Uint8Array {
  const m = new Uint8Array(cols);
  for (const j of Array.from(indices)) {
    if (!(Number.isInteger(j) && j >= 0 && j < cols)) {
      throw new SiftError('E_CONFIG', `${where}: salient column ${j} is out of range [0, ${cols}) (columns are input features of a [out, in] weight).`);
    }
    if (m[j] === 1) throw new SiftError('E_CONFIG', `${where}: salient column ${j} is listed twice; pass distinct indices.`);
    m[j] = 1;
  }
  return m;
}
