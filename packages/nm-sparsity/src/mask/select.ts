/**
 * Host selection kernels on row-major typed arrays: in each group of candidate positions keep the highest scores.
 * Ties keep the lower index, so masks are deterministic. Salient positions are never candidates.
 */
import { SiftError } from '@sift/tensor-core';
import { selectNMSimd } from './nm-simd.js';

/** Scores as read from a tensor or computed on the host. */
export type Scores = Float32Array | Float64Array;

/** Throws E_NAN at the first NaN score. */
export function checkScores(s: Scores, where: string): void {
  for (let i = 0; i < s.length; i++) {
    if (Number.isNaN(s[i])) throw new SiftError('E_NAN', `${where}: score ${i} is NaN; check the weight and the calibration statistics for NaN/Inf.`);
  }
}

/** Scratch of `topInsert`: the running top list's scores and positions (groups are at most 64 long). */
const TOP_SCORE = new Float64Array(64);
const TOP_POS = new Int32Array(64);

/**
 * Keeps the `nKeep` best of `len` candidates (ascending positions: `cand[0..len)`, or `off … off+len−1` when `cand`
 * is null) by inserting each into a running top list sorted by (score desc, position asc), then sets
 * `keep[keepOff + pos] = 1` for the kept ones (the rest of `keep` is not touched). A candidate enters only when its
 * score is strictly above the list's last, so an equal score never displaces an earlier position. About 2x faster
 * than repeated selection passes for N:M groups; groups are at most 64 long.
 */
export function topInsert(score: Scores, cand: Int32Array | null, off: number, len: number, nKeep: number, keep: Uint8Array, keepOff = 0): void {
  const v = TOP_SCORE;
  const pos = TOP_POS;
  let filled = 0;
  for (let k = 0; k < len; k++) {
    const p = cand === null ? off + k : cand[k];
    const x = score[p];
    if (filled === nKeep && !(x > v[nKeep - 1])) continue;
    let i = filled < nKeep ? filled++ : nKeep - 1;
    while (i > 0 && x > v[i - 1]) {
      v[i] = v[i - 1];
      pos[i] = pos[i - 1];
      i--;
    }
    v[i] = x;
    pos[i] = p;
  }
  for (let a = 0; a < filled; a++) keep[keepOff + pos[a]] = 1;
}

/**
 * Keeps the `nKeep` best of `cand[0..len)` (positions into `score`) by setting `keep[pos] = 1`.
 * Small groups (<= 64): a running top list by (score desc, index asc); large groups: a threshold from a native sort.
 */
export function keepTop(score: Scores, cand: Int32Array, len: number, nKeep: number, keep: Uint8Array): void {
  if (nKeep <= 0) return;
  if (nKeep >= len) {
    for (let k = 0; k < len; k++) keep[cand[k]] = 1;
    return;
  }
  if (len <= 64) {
    topInsert(score, cand, 0, len, nKeep, keep);
    return;
  }
  const vals = new Float64Array(len);
  for (let k = 0; k < len; k++) vals[k] = score[cand[k]];
  vals.sort();
  const thr = vals[len - nKeep];
  let above = 0;
  for (let k = 0; k < len; k++) if (score[cand[k]] > thr) above++;
  let ties = nKeep - above;
  // cand is ascending, so equal scores are kept in ascending index order.
  for (let k = 0; k < len; k++) {
    const s = score[cand[k]];
    if (s > thr) keep[cand[k]] = 1;
    else if (s === thr && ties > 0) {
      keep[cand[k]] = 1;
      ties--;
    }
  }
}

/**
 * How many non-salient entries a group of `size` entries with `s` salient ones keeps when the pattern keeps `n`:
 * counting salient entries toward N keeps max(0, n − s) more; otherwise n more (or all that remain).
 */
export function nonSalientKeep(size: number, s: number, n: number, countSalient: boolean): number {
  return countSalient ? Math.max(0, n - s) : Math.min(n, size - s);
}

/**
 * N:M selection over whole rows: for every row and every group of M consecutive columns of [rows, cols], keep N.
 * @returns the mask of kept non-salient entries (salient ones are 0 here; OR it with `salient` for the full mask)
 */
export function selectNM(score: Scores, rows: number, cols: number, n: number, m: number,
  salient: Uint8Array | null = null, countSalient = true): Uint8Array {
  const keep = new Uint8Array(rows * cols);
  const cand = new Int32Array(m);
  if (salient === null && m <= 64) {
    // No salient entries: every group is M consecutive candidates. Float32 scores and M a multiple of 4 go to the
    // WebAssembly SIMD ranks (the same selection, ~10x faster).
    if (score instanceof Float32Array && selectNMSimd(score.subarray(0, rows * cols), n, m, keep)) return keep;
    for (let o = 0; o < rows * cols; o += m) topInsert(score, null, o, m, n, keep);
    return keep;
  }
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += m) {
      let len = 0;
      let s = 0;
      for (let k = 0; k < m; k++) {
        const p = r * cols + g + k;
        if (salient !== null && salient[p] === 1) s++;
        else cand[len++] = p;
      }
      keepTop(score, cand, len, nonSalientKeep(m, s, n, countSalient), keep);
    }
  }
  return keep;
}

/** Entries to keep out of `size` at `sparsity` (the pruned count is rounded to the nearest integer). */
export function keepCount(size: number, sparsity: number): number {
  return size - Math.round(sparsity * size);
}

/**
 * Unstructured selection at `sparsity`: per row (each row keeps the same count) or per layer (one threshold).
 * @returns the mask of kept non-salient entries
 */
export function selectUnstructured(score: Scores, rows: number, cols: number, sparsity: number, scope: 'row' | 'layer',
  salient: Uint8Array | null = null, countSalient = true): Uint8Array {
  const keep = new Uint8Array(rows * cols);
  const groups = scope === 'row' ? rows : 1;
  const size = scope === 'row' ? cols : rows * cols;
  const cand = new Int32Array(size);
  for (let g = 0; g < groups; g++) {
    let len = 0;
    let s = 0;
    for (let k = 0; k < size; k++) {
      const p = g * size + k;
      if (salient !== null && salient[p] === 1) s++;
      else cand[len++] = p;
    }
    keepTop(score, cand, len, nonSalientKeep(size, s, keepCount(size, sparsity), countSalient), keep);
  }
  return keep;
}
