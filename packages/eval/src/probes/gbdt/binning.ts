import type { Rng } from '@sift/tensor-core';
import type { Matrix } from '../matrix.js';

/** Per-feature bin boundaries: a value x falls in bin #{t in thresholds : t < x} (x <= t goes left). */
export interface BinMapper {
  /** For each feature, ascending upper bounds of bins 0..numBins-2 (the last bin is open). */
  readonly thresholds: Float64Array[];
  /** Bins per feature (thresholds.length + 1); 1 means a constant feature, never split. */
  readonly numBins: Int32Array;
}

/** A column-major copy `[D][N]` of a row-major matrix, transposed in cache-sized tiles. */
export function toColumnMajor(x: Matrix): Float64Array | Float32Array {
  const { rows: n, cols: d, data } = x;
  const out = data instanceof Float32Array ? new Float32Array(n * d) : new Float64Array(n * d);
  const T = 64;
  for (let i0 = 0; i0 < n; i0 += T) {
    const i1 = Math.min(n, i0 + T);
    for (let j0 = 0; j0 < d; j0 += T) {
      const j1 = Math.min(d, j0 + T);
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) out[j * n + i] = data[i * d + j]!;
    }
  }
  return out;
}

/**
 * Quantile bins, as sklearn's `_BinMapper` (and in effect LightGBM's): on a sample of at most `sampleCount` rows, a
 * feature with <= maxBin distinct values gets one bin per value (boundaries at midpoints); otherwise boundaries are
 * the (k/maxBin)-quantiles, k = 1..maxBin-1, with numpy's 'midpoint' interpolation, duplicates removed.
 * @param cols column-major values `[D][N]` (`toColumnMajor`)
 */
export function fitBins(cols: Float64Array | Float32Array, n: number, d: number, maxBin: number, sampleCount: number, rng: Rng): BinMapper {
  const rowsUsed = n <= sampleCount ? null : rng.sample(n, sampleCount).sort();
  const m = rowsUsed === null ? n : rowsUsed.length;
  const col = new Float64Array(m);
  const radix = cols instanceof Float32Array ? new Float32Radix(m) : null;
  const thresholds: Float64Array[] = [];
  const numBins = new Int32Array(d);
  for (let f = 0; f < d; f++) {
    const base = f * n;
    if (radix !== null) {
      const v = radix.values;
      if (rowsUsed === null) v.set(cols.subarray(base, base + n));
      else for (let k = 0; k < m; k++) v[k] = cols[base + rowsUsed[k]]!;
      col.set(radix.sort());
    } else {
      if (rowsUsed === null) col.set(cols.subarray(base, base + n));
      else for (let k = 0; k < m; k++) col[k] = cols[base + rowsUsed[k]]!;
      col.sort();
    }
    let distinct = 1;
    for (let k = 1; k < m; k++) if (col[k] !== col[k - 1]) distinct++;
    const t: number[] = [];
    if (distinct <= maxBin) {
      for (let k = 1; k < m; k++) if (col[k] !== col[k - 1]) t.push((col[k - 1] + col[k]) / 2);
    } else {
      for (let q = 1; q < maxBin; q++) {
        const pos = (q / maxBin) * (m - 1);
        const v = (col[Math.floor(pos)] + col[Math.ceil(pos)]) / 2;
        if (t.length === 0 || v > t[t.length - 1]) t.push(v);
      }
    }
    thresholds.push(Float64Array.from(t));
    numBins[f] = t.length + 1;
  }
  return { thresholds, numBins };
}

/**
 * Ascending sort of float32 values by an LSD radix sort of order-preserving 32-bit keys (the sign bit flipped for
 * positives, all bits for negatives): three passes of 11 bits. The order of `Float32Array#sort` (−0 before +0), about
 * 5x faster for the 50k-value columns of a probe, where sorting was 3 s of a 100-tree fit at 512 features.
 */
export class Float32Radix {
  /** Fill with the values to sort. */
  readonly values: Float32Array;
  private readonly bits: Uint32Array;
  private readonly tmp: Uint32Array;
  private readonly count = new Uint32Array(2048);

  constructor(size: number) {
    this.values = new Float32Array(size);
    this.bits = new Uint32Array(this.values.buffer);
    this.tmp = new Uint32Array(size);
  }

  /** Sorts `values` in place and returns it. */
  sort(): Float32Array {
    const { bits, tmp, count } = this;
    const n = bits.length;
    for (let i = 0; i < n; i++) {
      const u = bits[i];
      bits[i] = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
    }
    let src = bits, dst = tmp;
    for (let shift = 0; shift < 32; shift += 11) {
      count.fill(0);
      for (let i = 0; i < n; i++) count[(src[i] >>> shift) & 0x7ff]++;
      let sum = 0;
      for (let b = 0; b < 2048; b++) {
        const c = count[b];
        count[b] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const k = src[i];
        dst[count[(k >>> shift) & 0x7ff]++] = k;
      }
      const t = src;
      src = dst;
      dst = t;
    }
    // Three passes: the sorted keys are in tmp.
    for (let i = 0; i < n; i++) {
      const k = src[i];
      bits[i] = k & 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0;
    }
    return this.values;
  }
}

/** Bin index of `v` among ascending `t`: the number of thresholds strictly below v (binary search). */
export function binOf(t: Float64Array, v: number): number {
  let lo = 0, hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= t[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Bins every value of column-major data; returns bins column-major (`[D][N]`), one byte each. A lookup table over
 * [min threshold, max threshold] cut into 1024 equal cells gives each value the first bin its cell can hold; a short
 * scan finishes (quantile bins put few thresholds in a cell), so most values cost two or three loads instead of an
 * 8-step binary search. Equal to `binOf` for every value.
 */
export function applyBins(mapper: BinMapper, cols: Float64Array | Float32Array, n: number): Uint8Array {
  const d = mapper.numBins.length;
  const out = new Uint8Array(n * d);
  const CELLS = 1024;
  const lut = new Uint8Array(CELLS + 1);
  const t = new Float64Array(256);
  for (let f = 0; f < d; f++) {
    const thr = mapper.thresholds[f];
    const nt = thr.length;
    const base = f * n;
    if (nt === 0) continue; // constant feature: everything in bin 0
    t.fill(Infinity);
    t.set(thr);
    const lo = thr[0], hi = thr[nt - 1];
    const scale = hi > lo ? CELLS / (hi - lo) : 0;
    // lut[c] = number of thresholds below the left edge of cell c (a lower bound of the bin of any v in the cell).
    let b = 0;
    for (let c = 0; c <= CELLS; c++) {
      const edge = lo + c / scale;
      while (b < nt && thr[b] < edge) b++;
      lut[c] = scale > 0 ? b : 0;
    }
    for (let i = 0; i < n; i++) {
      const v = cols[base + i];
      let bin: number;
      if (v <= lo) bin = 0;
      else if (v > hi) bin = nt;
      else {
        bin = lut[Math.floor((v - lo) * scale)]!;
        while (bin > 0 && t[bin - 1] >= v) bin--; // only if rounding put v's cell edge past a threshold equal to v
        while (t[bin] < v) bin++;
      }
      out[base + i] = bin;
    }
  }
  return out;
}
