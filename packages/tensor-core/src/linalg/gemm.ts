/**
 * The one float64 matrix-product kernel behind the host linear algebra: `C := beta·C + alpha·op(A)·op(B)` on
 * row-major strided views, with optional triangular structure. GotoBLAS/BLIS blocking (Goto & van de Geijn, "Anatomy
 * of high-performance matrix multiplication", TOMS 2008): op(B) is packed in [KC × NC] blocks, op(A) in [MC × KC]
 * blocks, both as 4-wide interleaved micro-panels, and a 4×4 register-tiled micro-kernel runs over the packed data
 * with one contiguous index. In plain JavaScript (scalar doubles, no SIMD) that reaches 2-3.5 GFLOP/s; 4×4 was the
 * fastest of 2×4 ... 6×4 tiles measured on V8 (Node 20). Where WebAssembly SIMD exists (Node, current browsers) the
 * tile runs in a 312-byte wasm kernel over f64x2 (gemm-wasm.ts): bit-identical, and the whole gemm runs at ~10
 * GFLOP/s (1024³ on one core, against 2.3-2.8 with the JavaScript tile, which stays as the reference and fallback).
 *
 * Every linalg routine (Cholesky, triangular inverse, LAUUM, triangular solve) is written as a few calls of `gemm`
 * plus an unblocked kernel on a small diagonal block. Exported as `gemmF64` for host float64 loops elsewhere (the lazy
 * block updates of SparseGPT and GPTQ): about 3x a plain triple loop.
 *
 * @example
 * // W[:, i2:] -= E · U[i1:i2, i2:]   (W [rows, cols], E [rows, B], U [cols, cols], all row-major Float64Array)
 * gemmF64(rows, cols - i2, B, -1, { data: E, off: 0, ld: B, trans: false }, { data: U, off: i1 * cols + i2, ld: cols, trans: false }, 1, { data: W, off: i2, ld: cols });
 */

/** A row-major view into a Float64Array: element (i, j) is `data[off + i * ld + j]`. */
export interface View {
  data: Float64Array;
  off: number;
  ld: number;
}

/** A gemm operand: a view used as is (`trans: false`) or transposed. */
export interface Operand extends View {
  trans: boolean;
}

/**
 * Structure that lets gemm skip work (indices relative to the views).
 * - `cLowerFrom`: compute and write only C[i, j] with `j <= i + cLowerFrom` (a lower trapezoid; 0 = lower triangle).
 * - `aTri`: op(A) [m, k] is `'lower'` (zero where p > i) or `'upper'` (zero where p < i); the zero part is not read.
 * - `bTri`: op(B) [k, n] is `'lower'` (zero where j > p) or `'upper'` (zero where j < p); the zero part is not read.
 */
export interface GemmStructure {
  cLowerFrom?: number;
  aTri?: 'lower' | 'upper';
  bTri?: 'lower' | 'upper';
}

import { createWasmMicro } from './gemm-wasm.js';

const MR = 4;
const NR = 4;
const KC = 256;
const MC = 64;
const NC = 1024;

// The wasm SIMD micro-kernel where the runtime has one (bit-identical to `micro` below, 5-7x faster), and the
// packing buffers, reused across calls (single-threaded JS: no reentrancy): in the kernel's memory when it exists.
const wasm = createWasmMicro(MC * KC, NC * KC);
let useWasm = wasm !== null;
const packA = wasm?.packA ?? new Float64Array(MC * KC);
const packB = wasm?.packB ?? new Float64Array(NC * KC);

/**
 * Selects the micro-kernel of every later gemm call: `'wasm'` (WebAssembly SIMD, the default where available) or
 * `'js'` (the plain JavaScript reference). Returns the kernel now in use (`'js'` when wasm was asked for but is
 * missing). Results are bit-identical either way; this exists for tests and benchmarks.
 */
export function setGemmKernel(kernel: 'wasm' | 'js'): 'wasm' | 'js' {
  useWasm = kernel === 'wasm' && wasm !== null;
  return useWasm ? 'wasm' : 'js';
}

/**
 * C [m, n] := beta·C + alpha·op(A)[m, k]·op(B)[k, n]. `beta` is 0 (C is overwritten; with `cLowerFrom`, only the
 * computed part) or 1. Views must not overlap C.
 */
export function gemm(
  m: number, n: number, k: number, alpha: number, a: Operand, b: Operand, beta: 0 | 1, c: View, s: GemmStructure = {},
): void {
  const lowerFrom = s.cLowerFrom;
  const cd = c.data;
  if (beta === 0) {
    for (let i = 0; i < m; i++) {
      const jEnd = lowerFrom === undefined ? n : Math.min(n, i + lowerFrom + 1);
      const row = c.off + i * c.ld;
      for (let j = 0; j < jEnd; j++) cd[row + j] = 0;
    }
  }
  if (m <= 0 || n <= 0 || k <= 0 || alpha === 0) return;
  const tile = useWasm ? microWasm : micro;

  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      // Which columns of this block can be non-zero at all in this kc slice (bTri) is handled per tile below.
      packPanelB(b, pc, kc, jc, nc, s.bTri);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        if (lowerFrom !== undefined && jc > ic + mc - 1 + lowerFrom) continue; // block entirely above the band
        if (s.aTri === 'lower' && pc > ic + mc - 1) continue; // op(A) rows ic.. are zero from p > i on
        if (s.aTri === 'upper' && pc + kc - 1 < ic) continue;
        packPanelA(a, ic, mc, pc, kc, s.aTri);
        for (let jr = 0; jr < nc; jr += NR) {
          const j0 = jc + jr;
          const nValid = Math.min(NR, n - j0);
          for (let ir = 0; ir < mc; ir += MR) {
            const i0 = ic + ir;
            if (lowerFrom !== undefined && j0 > i0 + MR - 1 + lowerFrom) continue;
            let pLo = pc;
            let pHi = pc + kc;
            if (s.aTri === 'lower') pHi = Math.min(pHi, i0 + MR);
            else if (s.aTri === 'upper') pLo = Math.max(pLo, i0);
            if (s.bTri === 'lower') pLo = Math.max(pLo, j0);
            else if (s.bTri === 'upper') pHi = Math.min(pHi, j0 + NR);
            if (pLo >= pHi) continue;
            const mValid = Math.min(MR, m - i0);
            const partial = mValid < MR || nValid < NR || (lowerFrom !== undefined && j0 + NR - 1 > i0 + lowerFrom);
            tile(
              pHi - pLo, packA, ir * kc + (pLo - pc) * MR, packB, jr * kc + (pLo - pc) * NR, alpha, cd,
              c.off + i0 * c.ld + j0, c.ld, partial, mValid, nValid, lowerFrom === undefined ? NR : i0 + lowerFrom - j0,
            );
          }
        }
      }
    }
  }
}

/** Packs op(A)[ic:ic+mc, pc:pc+kc] as MR-row micro-panels, p-major inside each: packA[ir*kc + p*MR + r]. */
function packPanelA(a: Operand, ic: number, mc: number, pc: number, kc: number, tri: 'lower' | 'upper' | undefined): void {
  const d = a.data;
  for (let ir = 0; ir < mc; ir += MR) {
    const base = ir * kc;
    for (let r = 0; r < MR; r++) {
      const i = ic + ir + r;
      if (ir + r >= mc) {
        for (let p = 0; p < kc; p++) packA[base + p * MR + r] = 0;
        continue;
      }
      // Non-zero p range of row i (structure), relative to pc.
      let lo = 0;
      let hi = kc;
      if (tri === 'lower') hi = Math.max(0, Math.min(kc, i - pc + 1));
      else if (tri === 'upper') lo = Math.min(kc, Math.max(0, i - pc));
      for (let p = 0; p < lo; p++) packA[base + p * MR + r] = 0;
      if (a.trans) {
        let src = a.off + (pc + lo) * a.ld + i;
        for (let p = lo; p < hi; p++, src += a.ld) packA[base + p * MR + r] = d[src];
      } else {
        const src = a.off + i * a.ld + pc;
        for (let p = lo; p < hi; p++) packA[base + p * MR + r] = d[src + p];
      }
      for (let p = hi; p < kc; p++) packA[base + p * MR + r] = 0;
    }
  }
}

/** Packs op(B)[pc:pc+kc, jc:jc+nc] as NR-column micro-panels: packB[jr*kc + p*NR + c]. */
function packPanelB(b: Operand, pc: number, kc: number, jc: number, nc: number, tri: 'lower' | 'upper' | undefined): void {
  const d = b.data;
  for (let jr = 0; jr < nc; jr += NR) {
    const base = jr * kc;
    for (let cc = 0; cc < NR; cc++) {
      const j = jc + jr + cc;
      if (jr + cc >= nc) {
        for (let p = 0; p < kc; p++) packB[base + p * NR + cc] = 0;
        continue;
      }
      // op(B)[p, j] non-zero for p in [lo, hi) relative to pc.
      let lo = 0;
      let hi = kc;
      if (tri === 'lower') lo = Math.min(kc, Math.max(0, j - pc));
      else if (tri === 'upper') hi = Math.max(0, Math.min(kc, j - pc + 1));
      for (let p = 0; p < lo; p++) packB[base + p * NR + cc] = 0;
      if (b.trans) {
        const src = b.off + j * b.ld + pc;
        for (let p = lo; p < hi; p++) packB[base + p * NR + cc] = d[src + p];
      } else {
        let src = b.off + (pc + lo) * b.ld + j;
        for (let p = lo; p < hi; p++, src += b.ld) packB[base + p * NR + cc] = d[src];
      }
      for (let p = hi; p < kc; p++) packB[base + p * NR + cc] = 0;
    }
  }
}

/**
 * The 4×4 micro-kernel: C[0:4, 0:4] += alpha · Σ_p a[p, 0:4]ᵀ b[p, 0:4] over K packed steps. With `partial`, only
 * rows < mValid, columns < nValid and (lower band) columns j <= i + band are written.
 */
function micro(
  K: number, ap: Float64Array, ia0: number, bp: Float64Array, ib0: number, alpha: number, c: Float64Array, ci: number,
  ldc: number, partial: boolean, mValid: number, nValid: number, band: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  let ia = ia0;
  let ib = ib0;
  for (let p = 0; p < K; p++) {
    const a0 = ap[ia], a1 = ap[ia + 1], a2 = ap[ia + 2], a3 = ap[ia + 3];
    const b0 = bp[ib], b1 = bp[ib + 1], b2 = bp[ib + 2], b3 = bp[ib + 3];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
    ia += 4;
    ib += 4;
  }
  if (!partial) {
    let r = ci;
    c[r] += alpha * c00; c[r + 1] += alpha * c01; c[r + 2] += alpha * c02; c[r + 3] += alpha * c03;
    r += ldc;
    c[r] += alpha * c10; c[r + 1] += alpha * c11; c[r + 2] += alpha * c12; c[r + 3] += alpha * c13;
    r += ldc;
    c[r] += alpha * c20; c[r + 1] += alpha * c21; c[r + 2] += alpha * c22; c[r + 3] += alpha * c23;
    r += ldc;
    c[r] += alpha * c30; c[r + 1] += alpha * c31; c[r + 2] += alpha * c32; c[r + 3] += alpha * c33;
    return;
  }
  addTile([c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33], alpha, c, ci, ldc, mValid, nValid, band);
}

/** C[i, j] += alpha · acc[4i + j] for rows i < mValid and columns j < nValid with j <= i + band (a partial tile). */
function addTile(acc: ArrayLike<number>, alpha: number, c: Float64Array, ci: number, ldc: number, mValid: number, nValid: number, band: number): void {
  for (let i = 0; i < mValid; i++) {
    const jEnd = Math.min(nValid, i + band + 1);
    for (let j = 0; j < jEnd; j++) c[ci + i * ldc + j] += alpha * acc[i * 4 + j];
  }
}

/** `micro` on the wasm SIMD kernel: the tile is computed there, then added to C as `micro` adds it. */
function microWasm(
  K: number, _ap: Float64Array, ia0: number, _bp: Float64Array, ib0: number, alpha: number, c: Float64Array, ci: number,
  ldc: number, partial: boolean, mValid: number, nValid: number, band: number,
): void {
  const w = wasm!;
  w.micro(K, w.aOff + 8 * ia0, w.bOff + 8 * ib0, w.outOff);
  if (partial) addTile(w.out, alpha, c, ci, ldc, mValid, nValid, band);
  else addTile(w.out, alpha, c, ci, ldc, MR, NR, NR);
}

/**
 * The column step of SparseGPT's and GPTQ's OBS loops: for each listed row r (`rows[t]` for t < count, or r = t when
 * `rows` is null), `w[r·wLd + k] −= e[r·eLd + eCol] · u[uOff + k]` for k in [k0, k1). Four rows per pass, so each u
 * entry is loaded once per four rows; every element gets the same single update as a plain loop (bit-identical).
 */
export function rankOneRowsF64(
  w: Float64Array, wLd: number, rows: Int32Array | null, count: number, e: Float64Array, eLd: number, eCol: number,
  u: Float64Array, uOff: number, k0: number, k1: number,
): void {
  let t = 0;
  for (; t + 3 < count; t += 4) {
    const q0 = rows === null ? t : rows[t];
    const q1 = rows === null ? t + 1 : rows[t + 1];
    const q2 = rows === null ? t + 2 : rows[t + 2];
    const q3 = rows === null ? t + 3 : rows[t + 3];
    const e0 = e[q0 * eLd + eCol];
    const e1 = e[q1 * eLd + eCol];
    const e2 = e[q2 * eLd + eCol];
    const e3 = e[q3 * eLd + eCol];
    const o0 = q0 * wLd;
    const o1 = q1 * wLd;
    const o2 = q2 * wLd;
    const o3 = q3 * wLd;
    for (let k = k0; k < k1; k++) {
      const uk = u[uOff + k];
      w[o0 + k] -= e0 * uk;
      w[o1 + k] -= e1 * uk;
      w[o2 + k] -= e2 * uk;
      w[o3 + k] -= e3 * uk;
    }
  }
  for (; t < count; t++) {
    const q = rows === null ? t : rows[t];
    const ev = e[q * eLd + eCol];
    const o = q * wLd;
    for (let k = k0; k < k1; k++) w[o + k] -= ev * u[uOff + k];
  }
}
