/**
 * Mixed-precision quantization of one linear weight W [out, in]: the k salient input columns stay in full precision,
 * the rest go to the b-bit symmetric per-row grid (`grid.ts`), by round-to-nearest or by GPTQ (Frantar et al. 2023,
 * Alg. 1) with QUIK's layout (Ashkboos et al. 2023): the salient columns are permuted to the end and never quantized,
 * so GPTQ's error compensation flows into them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, choleskyInverseUpper, fixDeadInputs, fmtShape, gemmF64, rankOneRowsF64 } from '@sift/tensor-core';
import { columnMask, parseGridOptions, quantCode, rowScales, type GridOptions, type QuantBits } from './grid.js';

/**
 * A quantized weight: integer codes of the non-salient columns, the per-row step Δ, and the salient columns in full
 * precision. Dequantize with `dequantizeWeight`; pack with `packQuantized`.
 */
export interface QuantizedWeight {
  /** out */
  rows: number;
  /** in */
  cols: number;
  /** Bits per non-salient weight. */
  bits: QuantBits;
  /** Δ_i per output row [rows]: dequantized value = code · Δ_i. */
  scales: Float32Array;
  /** Salient input columns, ascending [k]. */
  salient: Int32Array;
  /** Codes in [−2^{b−1}, 2^{b−1} − 1] of the non-salient columns (ascending column order), [rows, cols − k] row-major. */
  codes: Int8Array;
  /** The salient columns' weights in full precision, [rows, k] row-major (column t is input column salient[t]). */
  salientValues: Float32Array;
}

/** Options of `quantizeRtn` and `quantizeGptq`. */
export interface QuantizeOptions extends GridOptions {
  /** GPTQ only: columns per lazy block update (the reference's `blocksize`). */
  blockSize: number;
  /** GPTQ only: damping λ · mean(diag H) added to H's diagonal (the reference's `percdamp`). */
  damp: number;
}

/** Defaults of `QuantizeOptions`: 4 bits, MSE clip search, GPTQ block 128 and damping 0.01 (the GPTQ reference's). */
export const QUANTIZE_DEFAULTS: Readonly<QuantizeOptions> = Object.freeze({ ...parseGridOptions(), blockSize: 128, damp: 0.01 });

function parseQuantizeOptions(input: Partial<QuantizeOptions>, where: string): QuantizeOptions {
  const o: QuantizeOptions = { ...QUANTIZE_DEFAULTS, ...input };
  parseGridOptions(o, where);
  if (!(Number.isInteger(o.blockSize) && o.blockSize >= 1)) throw new SiftError('E_CONFIG', `${where}: blockSize must be a positive integer, got ${o.blockSize}.`);
  if (!(Number.isFinite(o.damp) && o.damp >= 0)) throw new SiftError('E_CONFIG', `${where}: damp must be a finite number >= 0 (0.01 in GPTQ), got ${o.damp}.`);
  return o;
}

/** What the quantizers read: a weight [out, in] as a tensor or as a row-major array with its shape. */
export type WeightInput = tf.Tensor2D | { data: ArrayLike<number>; rows: number; cols: number };

function readWeight(w: WeightInput, where: string): { data: Float64Array; rows: number; cols: number } {
  if (w instanceof tf.Tensor) {
    if (w.rank !== 2) throw new SiftError('E_SHAPE', `${where}: weight must be [out, in], got ${fmtShape(w.shape)}.`);
    return { data: Float64Array.from(w.dataSync()), rows: w.shape[0], cols: w.shape[1] };
  }
  if (w.data.length !== w.rows * w.cols) {
    throw new SiftError('E_SHAPE', `${where}: weight data has ${w.data.length} entries, expected rows·cols = ${w.rows}·${w.cols}.`);
  }
  return { data: Float64Array.from(w.data), rows: w.rows, cols: w.cols };
}

function sortedSalient(salient: ArrayLike<number>, cols: number, where: string): { idx: Int32Array; mask: Uint8Array } {
  const mask = columnMask(cols, salient, where);
  const idx = Int32Array.from(salient).sort();
  if (idx.length >= cols) throw new SiftError('E_CONFIG', `${where}: k = ${idx.length} salient columns leave no column to quantize (in = ${cols}).`);
  return { idx, mask };
}

function assemble(w: Float64Array, rows: number, cols: number, bits: QuantBits, scales: Float32Array, idx: Int32Array, mask: Uint8Array,
  codeOf: (i: number, j: number) => number): QuantizedWeight {
  const k = idx.length;
  const n = cols - k;
  const codes = new Int8Array(rows * n);
  const salientValues = new Float32Array(rows * k);
  for (let i = 0; i < rows; i++) {
    let c = 0;
    for (let j = 0; j < cols; j++) if (mask[j] === 0) codes[i * n + c++] = codeOf(i, j);
    for (let t = 0; t < k; t++) salientValues[i * k + t] = w[i * cols + idx[t]];
  }
  return { rows, cols, bits, scales, salient: idx, codes, salientValues };
}

/**
 * Round-to-nearest: every non-salient weight goes to the nearest point of its row's grid; salient columns are kept.
 * @param weight   W [out, in]
 * @param salient  input-column indices kept in full precision (any order; k may be 0)
 * @example
 * const q = quantizeRtn(w, [3, 17], { bits: 3 });
 * const wq = dequantizeWeight(q); // [out, in] tensor
 */
export function quantizeRtn(weight: WeightInput, salient: ArrayLike<number> = [], options: Partial<QuantizeOptions> = {}): QuantizedWeight {
  const o = parseQuantizeOptions(options, 'quantizeRtn');
  const { data, rows, cols } = readWeight(weight, 'quantizeRtn');
  const { idx, mask } = sortedSalient(salient, cols, 'quantizeRtn');
  const scales = rowScales(data, rows, cols, mask, o);
  return assemble(data, rows, cols, o.bits, scales, idx, mask, (i, j) => quantCode(data[i * cols + j], scales[i], o.bits));
}

/** What `quantizeGptq` returns besides the quantized weight. */
export interface GptqResult {
  /** The quantized weight (salient columns include GPTQ's compensation). */
  quantized: QuantizedWeight;
  /** Input columns that were dead in the calibration data (H_jj = 0); their weights were set to 0. */
  dead: Int32Array;
  /** GPTQ's running loss Σ_j Σ_i (w_ij − q_ij)² / [H⁻¹]_jj / 2 (its `Losses.sum()`), a relative quality figure. */
  loss: number;
}

/**
 * GPTQ (Frantar et al. 2023, Alg. 1, with lazy block updates) with k salient columns kept in full precision, QUIK's
 * way: columns are permuted so the salient ones come last, only the first in − k are quantized (in order), and every
 * quantization error is propagated into the columns after it, salient ones included, through the upper Cholesky
 * factor of H⁻¹ (tensor-core's `choleskyInverseUpper`). The grid Δ is searched once on the original non-salient
 * columns, as GPTQ's `find_params` before the loop.
 *
 * @param weight   W [out, in]
 * @param hessian  H [in, in] (e.g. `ActivationStats.hessian()`: 2/n XᵀX), row-major; copied, not changed
 * @param salient  input-column indices kept in full precision
 * @throws SiftError 'E_SHAPE' for a Hessian of the wrong size, 'E_NOT_PD' when it cannot be factored (raise `damp`)
 */
export function quantizeGptq(weight: WeightInput, hessian: ArrayLike<number>, salient: ArrayLike<number> = [],
  options: Partial<QuantizeOptions> = {}): GptqResult {
  const o = parseQuantizeOptions(options, 'quantizeGptq');
  const { data, rows, cols } = readWeight(weight, 'quantizeGptq');
  if (hessian.length !== cols * cols) {
    throw new SiftError('E_SHAPE', `quantizeGptq: the Hessian has ${hessian.length} entries, expected in² = ${cols}² for a weight ` +
      `${fmtShape([rows, cols])}. Collect it on this layer's input (ActivationStats with gram: true).`);
  }
  const { idx, mask } = sortedSalient(salient, cols, 'quantizeGptq');
  const h0 = Float64Array.from(hessian);
  // The grid comes from the original weight, before dead columns are zeroed (as in the GPTQ reference).
  const scales = rowScales(data, rows, cols, mask, o);
  const { dead } = fixDeadInputs(h0);
  for (const j of dead) for (let i = 0; i < rows; i++) data[i * cols + j] = 0;

  // perm: non-salient columns in order, then the salient ones (QUIK). Work on W[:, perm] and H[perm][:, perm].
  const k = idx.length;
  const n = cols - k;
  const perm = new Int32Array(cols);
  let c = 0;
  for (let j = 0; j < cols; j++) if (mask[j] === 0) perm[c++] = j;
  for (let t = 0; t < k; t++) perm[n + t] = idx[t];
  const h = new Float64Array(cols * cols);
  for (let a = 0; a < cols; a++) for (let b = 0; b < cols; b++) h[a * cols + b] = h0[perm[a] * cols + perm[b]];
  const u = choleskyInverseUpper(h, { damp: o.damp, precision: 'float64', overwrite: true, name: 'GPTQ Hessian' });
  const w = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let a = 0; a < cols; a++) w[i * cols + a] = data[i * cols + perm[a]];

  const codes = new Int8Array(rows * n);
  let loss = 0;
  const bs = o.blockSize;
  const err = new Float64Array(rows * Math.min(bs, Math.max(n, 1))); // Err1 [rows, cnt]
  for (let i1 = 0; i1 < n; i1 += bs) {
    const i2 = Math.min(i1 + bs, n);
    const cnt = i2 - i1;
    for (let a = i1; a < i2; a++) {
      const d = u[a * cols + a];
      const t = a - i1;
      for (let i = 0; i < rows; i++) {
        const v = w[i * cols + a];
        const q = quantCode(v, scales[i], o.bits);
        codes[i * n + a] = q;
        const qv = q * scales[i];
        loss += ((v - qv) * (v - qv)) / (d * d) / 2;
        err[i * cnt + t] = (v - qv) / d;
        w[i * cols + a] = qv;
      }
      // W[:, a+1:i2] -= e · U[a, a+1:i2]
      rankOneRowsF64(w, cols, null, rows, err, cnt, t, u, a * cols, a + 1, i2);
    }
    // Lazy batch update: W[:, i2:] -= Err1 · U[i1:i2, i2:] (salient columns at the end included), a float64 gemm.
    if (i2 < cols) {
      gemmF64(rows, cols - i2, cnt, -1, { data: err, off: 0, ld: cnt, trans: false },
        { data: u, off: i1 * cols + i2, ld: cols, trans: false }, 1, { data: w, off: i2, ld: cols });
    }
  }
  const salientValues = new Float32Array(rows * k);
  for (let i = 0; i < rows; i++) for (let t = 0; t < k; t++) salientValues[i * k + t] = w[i * cols + n + t];
  return { quantized: { rows, cols, bits: o.bits, scales, salient: idx, codes, salientValues }, dead, loss };
}

/** The dequantized weight [rows, cols] as a row-major Float32Array. */
export function dequantizeArray(q: QuantizedWeight): Float32Array {
  const { rows, cols } = q;
  const k = q.salient.length;
  const n = cols - k;
  const mask = columnMask(cols, q.salient, 'dequantizeWeight');
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const d = q.scales[i];
    let c = 0;
    for (let j = 0; j < cols; j++) if (mask[j] === 0) out[i * cols + j] = q.codes[i * n + c++] * d;
    for (let t = 0; t < k; t++) out[i * cols + q.salient[t]] = q.salientValues[i * k + t];
  }
  return out;
}

/**
 * The dequantized weight [out, in] as a tensor: code · Δ_i in non-salient columns, the kept values in salient ones.
 * @example
 * layer.weight.assign(dequantizeWeight(q));
 */
export function dequantizeWeight(q: QuantizedWeight): tf.Tensor2D {
  return tf.tensor2d(dequantizeArray(q), [q.rows, q.cols]);
}

/**
 * The layer-wise reconstruction error tr((W − Ŵ) H (W − Ŵ)ᵀ), i.e. Σ over calibration tokens of ‖x Wᵀ − x Ŵᵀ‖² times
 * the scale of H (n/2 for H = 2/n XᵀX). Float64 host loop.
 * @param w, wq  [rows, cols] row-major
 */
export function layerError(w: ArrayLike<number>, wq: ArrayLike<number>, hessian: ArrayLike<number>, rows: number, cols: number): number {
  let total = 0;
  const d = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) d[j] = w[i * cols + j] - wq[i * cols + j];
    for (let a = 0; a < cols; a++) {
      if (d[a] === 0) continue;
      let s = 0;
      for (let b = 0; b < cols; b++) s += hessian[a * cols + b] * d[b];
      total += d[a] * s;
    }
  }
  return total;
}
