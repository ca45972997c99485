/**
 * SparseGPT (Frantar & Alistarh 2023, "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot",
 * Alg. 1; IST-DASLab/sparsegpt `sparsegpt.py`, `fasterprune`): prune a weight [rows, cols] column by column with
 * OBS error compensation, using U = chol(H⁻¹)ᵀ (upper) of the dampened Hessian H = 2/n XᵀX.
 *
 * For each block of `blockSize` columns [i1, i2):
 *   - unstructured: the mask of the whole rows × B block at once, from W1² / U_jj² (adaptive per-block threshold);
 *   - N:M: at every column i with i % M == 0, the mask of columns i … i+M−1, from the **already-updated** W1;
 *   - column i: q = w ⊙ keep, err = (w − q) / U_ii, W1[:, i:] −= err ⊗ U[i, i:] (the OBS update);
 * then the lazy batch update W[:, i2:] −= Err1 · U[i1:i2, i2:].
 *
 * Shapes: W [rows, cols] row-major; U [cols, cols] row-major upper.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, choleskyInverseUpper, fixDeadInputs, gemmF64, rankOneRowsF64 } from '@sift/tensor-core';
import { keepCount, keepTop, nonSalientKeep, topInsert } from '../mask/select.js';
import { selectSalient, type SalientPattern } from '../mask/salient.js';
import type { NMPattern } from '../pattern.js';

/** Inputs of `sparsegptPrune`. */
export interface SparseGptInput {
  /** W [rows, cols], row-major (not modified). */
  weight: Float32Array;
  rows: number;
  cols: number;
  /** H = 2/n XᵀX [cols, cols], row-major float64 (dead inputs are fixed in a copy, unless `hessianOwned`). */
  hessian: Float64Array;
  /** The function may overwrite `hessian` (it becomes H⁻¹'s factor): saves a copy of cols² doubles. Default false. */
  hessianOwned?: boolean;
  /** N:M pattern, or null for unstructured at `sparsity` per rows × blockSize block. */
  nm: NMPattern | null;
  sparsity: number;
  blockSize: number;
  /** λ: λ·mean(diag H) is added to the diagonal. */
  dampPercent: number;
  /** Salient weights: chosen first on W² / U_jj² of the original weights, never pruned, never N:M candidates. */
  salient?: { fraction: number; pattern: SalientPattern; group: number; countTowardN: boolean } | null;
  /** For messages. */
  name?: string;
}

/** What `sparsegptPrune` returns. */
export interface SparseGptResult {
  /** The pruned and updated W [rows, cols]. */
  weight: Float32Array;
  /** 0/1 [rows·cols]: kept non-salient (sparse-part) entries. */
  keep: Uint8Array;
  /** 0/1 [rows·cols]: salient entries, or null. */
  salient: Uint8Array | null;
  /** Σ (w − q)² / U_ii² / 2: SparseGPT's OBS loss estimate. */
  loss: number;
  /** Indices of dead inputs (zero diagonal of H), whose weights were zeroed. */
  dead: Int32Array;
}

/**
 * Layers whose first lazy update needs more multiply-adds than this (2^28 = 268M) keep the unprocessed columns on the
 * active backend (float32 matMuls, as the reference implementation); smaller ones run entirely on the host in float64,
 * on the WebAssembly SIMD gemm (~10 GFLOP/s on one core). Measured on 2-core wasm: 768 × 768 (63M) 0.22 s on the
 * device, 0.14 s on the host; 3072 × 768 (252M) 0.39 s vs 0.41 s; 4096 × 4096 (2.1G) 7.7 s vs 11.8 s.
 */
const HOST_LAZY_MAX = 2 ** 28;

/**
 * H⁻¹'s factor in float64 on the host (threaded gemm, see tensor-core's `setHostThreads`) on CPU backends up to 4096
 * columns, where it beats the blocked float32 matMuls (n = 4096 on 2-core wasm: 1.7-1.9 s against 2.6 s) and is
 * more accurate; beyond that, and on GPU backends above 2048, tensor-core picks by size ('auto').
 */
function hinvPrecision(cols: number): 'float64' | 'auto' {
  const backend = tf.getBackend();
  return cols <= (backend === 'wasm' || backend === 'cpu' ? 4096 : 2048) ? 'float64' : 'auto';
}

/** Columns per sub-block of the in-block OBS updates (rounded to a multiple of M). */
const SUB_BLOCK = 32;

/**
 * Runs SparseGPT on one weight. Synchronous; the lazy updates of large layers run as tfjs matMuls on the active backend.
 * @example
 * const h = stats.hessian();                           // ActivationStats with { gram: true }
 * const r = sparsegptPrune({ weight: w, rows, cols, hessian: h, nm: { n: 8, m: 16 }, sparsity: 0.5, blockSize: 128, dampPercent: 0.01 });
 */
export function sparsegptPrune(input: SparseGptInput): SparseGptResult {
  const { rows, cols, nm, blockSize } = input;
  const name = input.name ?? 'layer';
  if (input.weight.length !== rows * cols) throw new SiftError('E_SHAPE', `sparsegptPrune ${name}: weight has ${input.weight.length} values, expected ${rows}×${cols}.`);
  if (input.hessian.length !== cols * cols) throw new SiftError('E_SHAPE', `sparsegptPrune ${name}: the Hessian has ${input.hessian.length} entries, expected ${cols}×${cols}.`);
  const { h, dead } = fixDeadInputs(input.hessianOwned === true ? input.hessian : Float64Array.from(input.hessian));
  // Large layers keep the not-yet-processed columns W[:, i1:] on the device, where the lazy update is one matMul and
  // a subtraction per block (float32, as the reference), and write each finished block straight into the result;
  // small ones keep all of W in float64 on the host.
  const onDevice = rows * Math.min(blockSize, cols) * Math.max(0, cols - blockSize) > HOST_LAZY_MAX;
  let w0 = input.weight;
  if (dead.length > 0) {
    w0 = input.weight.slice();
    for (const j of dead) for (let r = 0; r < rows; r++) w0[r * cols + j] = 0;
  }
  const W = onDevice ? null : new Float64Array(w0);
  const out = onDevice ? new Float32Array(rows * cols) : null;
  const U = choleskyInverseUpper(h, { damp: input.dampPercent, name: `${name} Hessian`, overwrite: true, precision: hinvPrecision(cols) });
  const diag = new Float64Array(cols);
  for (let j = 0; j < cols; j++) diag[j] = U[j * cols + j];

  let salient: Uint8Array | null = null;
  const sal = input.salient;
  if (sal != null && sal.fraction > 0) {
    const s0 = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) s0[r * cols + j] = w0[r * cols + j] ** 2 / diag[j] ** 2;
    salient = selectSalient(s0, rows, cols, sal.fraction, sal.pattern, sal.group, `sparsegptPrune ${name}`);
  }
  const counted = sal?.countTowardN ?? true;
  const keep = new Uint8Array(rows * cols);
  let loss = 0;
  const nmGroup = nm === null ? null : { score: new Float64Array(nm.m), u2: new Float64Array(nm.m), cand: new Int32Array(nm.m), keep: new Uint8Array(nm.m) };

  /**
   * One block [i1, i1+B) of SparseGPT on W1 [rows, B] (in place: it ends as Q1): the mask, then column by column
   * q = w ⊙ keep, err = (w − q)/U_ii, W1[:, i:] −= err ⊗ U[i, i:]. Writes Err1 and the block's keep mask; returns the loss.
   */
  const pruneBlock = (W1: Float64Array, Err1: Float64Array, keepOut: Uint8Array, R: number, C: number, i1: number, B: number): number => {
    let blockLoss = 0;
    const keep1 = new Uint8Array(R * B);
    const errRows = new Int32Array(R);
    const isSal = (r: number, c: number): boolean => salient !== null && salient[r * C + i1 + c] === 1;
    if (nm === null) {
      // Adaptive mask of the whole block: keep the largest W1² / U_jj² among non-salient entries.
      const score = new Float64Array(R * B);
      const cand = new Int32Array(R * B);
      let len = 0;
      let s = 0;
      for (let r = 0; r < R; r++) {
        for (let c = 0; c < B; c++) {
          score[r * B + c] = W1[r * B + c] ** 2 / diag[i1 + c] ** 2;
          if (isSal(r, c)) s++;
          else cand[len++] = r * B + c;
        }
      }
      keepTop(score, cand, len, nonSalientKeep(R * B, s, keepCount(R * B, input.sparsity), counted), keep1);
    }
    // Columns go in sub-blocks of S (a multiple of M, so an N:M group sees every earlier column's update when its mask
    // is chosen): rank-1 updates reach only the sub-block's own columns, then one gemm applies the sub-block's errors
    // to the rest of the block. The same updates as column by column, most of them in the gemm's register tiles.
    const S = nm === null ? SUB_BLOCK : nm.m * Math.max(1, Math.floor(SUB_BLOCK / nm.m));
    let subStart = 0;
    let subEnd = 0;
    for (let c = 0; c < B; c++) {
      const col = i1 + c;
      if (c === subEnd) {
        subStart = c;
        subEnd = Math.min(c + S, B);
      }
      if (nm !== null && nmGroup !== null && c % nm.m === 0 && salient === null) {
        // N:M mask of columns c … c+M−1 from the already-updated weights (no salient entries: every column a candidate).
        const sc = nmGroup.score;
        for (let k = 0; k < nm.m; k++) nmGroup.u2[k] = diag[col + k] ** 2;
        for (let r = 0; r < R; r++) {
          const o = r * B + c;
          for (let k = 0; k < nm.m; k++) {
            const w = W1[o + k];
            sc[k] = (w * w) / nmGroup.u2[k]; // = W1² / U_jj², as below
          }
          topInsert(sc, null, 0, nm.m, nm.n, keep1, o); // keep1 is all 0 here: each group is chosen once
        }
      } else if (nm !== null && nmGroup !== null && c % nm.m === 0) {
        // N:M mask of columns c … c+M−1 from the already-updated weights.
        for (let r = 0; r < R; r++) {
          let len = 0;
          let s = 0;
          nmGroup.keep.fill(0);
          for (let k = 0; k < nm.m; k++) {
            nmGroup.score[k] = W1[r * B + c + k] ** 2 / diag[col + k] ** 2;
            if (isSal(r, c + k)) s++;
            else nmGroup.cand[len++] = k;
          }
          keepTop(nmGroup.score, nmGroup.cand, len, nonSalientKeep(nm.m, s, nm.n, counted), nmGroup.keep);
          for (let k = 0; k < nm.m; k++) keep1[r * B + c + k] = nmGroup.keep[k];
        }
      }
      // q = w ⊙ keep, err = (w − q)/U_ii; pruned rows (err ≠ 0) then get W1[r, c+1:subEnd] −= err · U[col, i1+c+1:subEnd].
      const d = diag[col];
      const ub = col * C + i1;
      let nErr = 0;
      for (let r = 0; r < R; r++) {
        const o = r * B;
        const w = W1[o + c];
        if (keep1[o + c] === 1 || (salient !== null && salient[r * C + col] === 1) || w === 0) {
          Err1[o + c] = 0;
          continue;
        }
        const e = w / d;
        blockLoss += (e * e) / 2;
        W1[o + c] = 0;
        Err1[o + c] = e;
        errRows[nErr++] = r;
      }
      rankOneRowsF64(W1, B, errRows, nErr, Err1, B, c, U, ub, c + 1, subEnd);
      if (c === subEnd - 1 && subEnd < B) {
        // W1[:, subEnd:B] −= Err1[:, subStart:subEnd] · U[i1+subStart : i1+subEnd, i1+subEnd : i1+B]
        gemmF64(R, B - subEnd, subEnd - subStart, -1, { data: Err1, off: subStart, ld: B, trans: false },
          { data: U, off: (i1 + subStart) * C + i1 + subEnd, ld: C, trans: false }, 1, { data: W1, off: subEnd, ld: B });
      }
    }
    if (salient === null) for (let r = 0; r < R; r++) keepOut.set(keep1.subarray(r * B, (r + 1) * B), r * C + i1);
    else for (let r = 0; r < R; r++) for (let c = 0; c < B; c++) keepOut[r * C + i1 + c] = keep1[r * B + c] === 1 && !isSal(r, c) ? 1 : 0;
    return blockLoss;
  };

  const Ut = onDevice ? tf.tensor2d(new Float32Array(U), [cols, cols]) : null;
  let rest = onDevice ? tf.tensor2d(w0, [rows, cols]) : null;
  try {
    for (let i1 = 0; i1 < cols; i1 += blockSize) {
      const i2 = Math.min(i1 + blockSize, cols);
      const B = i2 - i1;
      const W1 = new Float64Array(rows * B);
      if (rest !== null) {
        const head = tf.slice(rest, [0, 0], [rows, B]);
        W1.set(head.dataSync());
        head.dispose();
      } else if (W !== null) {
        for (let r = 0; r < rows; r++) for (let c = 0; c < B; c++) W1[r * B + c] = W[r * cols + i1 + c];
      }
      const Err1 = new Float64Array(rows * B);
      loss += pruneBlock(W1, Err1, keep, rows, cols, i1, B);
      // Two loops, one per array type: a loop over `Float32Array | Float64Array` runs ~5x slower in V8.
      if (out !== null) for (let r = 0; r < rows; r++) for (let c = 0; c < B; c++) out[r * cols + i1 + c] = W1[r * B + c];
      else if (W !== null) for (let r = 0; r < rows; r++) for (let c = 0; c < B; c++) W[r * cols + i1 + c] = W1[r * B + c];
      const restCols = cols - i2;
      if (restCols === 0) continue;
      if (rest !== null && Ut !== null) {
        const prev = rest;
        rest = tf.tidy(() => tf.sub(tf.slice(prev, [0, B], [rows, restCols]),
          tf.matMul(tf.tensor2d(new Float32Array(Err1), [rows, B]), tf.slice(Ut, [i1, i2], [B, restCols]))));
        prev.dispose();
      } else if (W !== null) {
        lazyUpdate(W, rows, cols, i1, i2, Err1, U);
      }
    }
  } finally {
    Ut?.dispose();
    rest?.dispose();
  }
  return { weight: out ?? new Float32Array(W!), keep, salient, loss, dead };
}

/** W[:, i2:] −= Err1 · U[i1:i2, i2:] on the host, in float64 (small layers). */
function lazyUpdate(W: Float64Array, rows: number, cols: number, i1: number, i2: number, Err1: Float64Array, U: Float64Array): void {
  const B = i2 - i1;
  gemmF64(rows, cols - i2, B, -1, { data: Err1, off: 0, ld: B, trans: false }, { data: U, off: i1 * cols + i2, ld: cols, trans: false },
    1, { data: W, off: i2, ld: cols });
}
