/**
 * The one float64 matrix-product kernel behind the host linear algebra: `C := beta·C + alpha·op(A)·op(B)` on
 * row-major strided views, with optional triangular structure. GotoBLAS/BLIS blocking (Goto & van de Geijn, "Anatomy
 * of high-performance matrix multiplication", TOMS 2008): op(B) is packed in [KC × NC] blocks, op(A) in [MC × KC]
 * blocks, both as 4-wide interleaved micro-panels, and a 4×4 register-tiled micro-kernel runs over the packed data
 * with one contiguous index. In plain JavaScript (scalar doubles, no SIMD) that reaches 2-3.5 GFLOP/s; 4×4 was the
 * fastest of 2×4 ... 6×4 tiles measured on V8 (Node 20). Where WebAssembly SIMD exists (Node, current browsers) the
 * tile runs in a wasm kernel over f64x2 (gemm-wasm.ts): bit-identical, and the whole gemm runs at 10-23 GFLOP/s on
 * one core (1024³; 2.3-5.5 with the JavaScript tile, which stays as the reference and fallback). The tiles of each
 * packed block go into a list that one wasm call runs; in Node, worker threads take shares of the list on the
 * kernel's shared memory (gemm-threads.ts, `setHostThreads`): 1024³ at 37-42 GFLOP/s on 2 cores, bit-identical.
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

import { type WasmTiles, createWasmTiles } from './gemm-wasm.js';
import { GemmTeam, MAX_THREADS, availableCores, teamsSupported } from './gemm-threads.js';

const MR = 4;
const NR = 4;
const KC = 512;
const MC = 64;
const NC = 1024;
/** Rows of op(A) packed per tile list (a multiple of MC): the list then holds at most MB/MR · NC/NR tiles. */
const MB = 1024;
const MAX_TILES = (MB / MR) * (NC / NR);
/**
 * Lists with fewer K steps than this (~1 MFLOP, ~50 µs on one core) run on the calling thread alone: waking a worker
 * and waiting for it costs more than it saves.
 */
const PARALLEL_MIN_WORK = 32_768;

// One memory holds everything the tiles read and write, in doubles: packed op(B) [KC × NC], packed op(A) [MB × KC],
// the tile outputs (16 doubles each) and the tile list (4 int32 each: K, and the byte addresses of A, B and out).
const B_AT = 0;
const A_AT = B_AT + NC * KC;
const OUT_AT = A_AT + MB * KC;
const LIST_BYTE = 8 * (OUT_AT + 16 * MAX_TILES);
const BYTES = LIST_BYTE + 16 * MAX_TILES;
const PAGES = Math.ceil(BYTES / 65536);

// The wasm SIMD kernel where the runtime has one (bit-identical to `microJs` below, 5-7x faster), on shared memory
// where worker threads can join in, and the tile list's bookkeeping: ~19 MB in all, made on the first gemm (`init`),
// not on import. Everything is module state: gemm is synchronous and not reentrant.
let initialized = false;
let wasm: WasmTiles | null = null;
let f64 = new Float64Array(0);
let list = new Int32Array(0);
// Per tile, for adding it into C: its first element's index in C, and (partial tiles) rows, columns and band.
let tileC = new Int32Array(0);
let tileRows = new Int32Array(0);
let tileCols = new Int32Array(0);
let tileBand = new Int32Array(0);
let tileWork = new Float64Array(0);
let useWasm = true;
let team: GemmTeam | null = null;
let threadsWanted: number | 'auto' = 'auto';

function init(): void {
  if (initialized) return;
  initialized = true;
  wasm = createWasmTiles(PAGES, teamsSupported()) ?? createWasmTiles(PAGES, false);
  const heap = wasm?.memory.buffer ?? new ArrayBuffer(PAGES * 65536);
  f64 = new Float64Array(heap);
  list = new Int32Array(heap, LIST_BYTE, 4 * MAX_TILES);
  tileC = new Int32Array(MAX_TILES);
  tileRows = new Int32Array(MAX_TILES);
  tileCols = new Int32Array(MAX_TILES);
  tileBand = new Int32Array(MAX_TILES);
  tileWork = new Float64Array(MAX_TILES);
  useWasm = useWasm && wasm !== null;
}

/** The thread count in effect ('auto' resolved). */
function threadsNow(): number {
  init();
  if (!sharedKernel()) return 1;
  return threadsWanted === 'auto' ? defaultThreads() : threadsWanted;
}

/** Whether the kernel's memory is shared (browsers without cross-origin isolation have no SharedArrayBuffer at all). */
function sharedKernel(): boolean {
  return wasm !== null && typeof SharedArrayBuffer === 'function' && wasm.memory.buffer instanceof SharedArrayBuffer;
}

function defaultThreads(): number {
  return sharedKernel() ? Math.min(availableCores(), 8) : 1;
}

/**
 * Selects the micro-kernel of every later gemm call: `'wasm'` (WebAssembly SIMD, the default where available) or
 * `'js'` (the plain JavaScript reference). Returns the kernel now in use (`'js'` when wasm was asked for but is
 * missing). Results are bit-identical either way; this exists for tests and benchmarks.
 */
export function setGemmKernel(kernel: 'wasm' | 'js'): 'wasm' | 'js' {
  init();
  useWasm = kernel === 'wasm' && wasm !== null;
  return useWasm ? 'wasm' : 'js';
}

/**
 * Sets how many threads run the float64 host gemm, and with it the host linear algebra built on it (Cholesky,
 * inverses, SparseGPT's and GPTQ's block updates); `'auto'` (the default) is the cores Node reports, at most 8.
 * Threads other than the calling one are Node worker threads on the kernel's shared memory; where there are none
 * (browsers, the JavaScript kernel) gemm runs on the calling thread whatever is set. Results are bit-identical for any
 * count. Returns the count now in effect.
 * @example
 * setHostThreads(1);       // single-threaded host linear algebra (e.g. beside other work on the cores)
 * setHostThreads('auto');
 */
export function setHostThreads(threads: number | 'auto'): number {
  if (threads !== 'auto' && (!Number.isInteger(threads) || threads < 1)) {
    throw new RangeError(`setHostThreads: threads must be a positive integer or 'auto', got ${String(threads)}`);
  }
  threadsWanted = threads === 'auto' ? 'auto' : Math.min(threads, MAX_THREADS);
  const n = threadsNow();
  if (team !== null && team.threads !== n) {
    team.terminate();
    team = null;
  }
  return n;
}

/** The team for the current setting (started on first use), or null for one thread. */
function currentTeam(): GemmTeam | null {
  const n = threadsNow();
  if (n < 2 || wasm === null || !useWasm) return null;
  if (team === null) {
    try {
      team = new GemmTeam(wasm.memory, wasm.bytes, n, wasm.tiles);
    } catch {
      threadsWanted = 1; // no worker_threads after all: stay on this thread
      return null;
    }
  }
  return team;
}

/**
 * C [m, n] := beta·C + alpha·op(A)[m, k]·op(B)[k, n]. `beta` is 0 (C is overwritten; with `cLowerFrom`, only the
 * computed part) or 1. Views must not overlap C.
 *
 * For each [KC × NC] block of op(B) and each MB rows of op(A), the 4×4 tiles that structure does not skip go into a
 * list; the list's tiles are computed (split between threads, or in JavaScript) into their own outputs, then each is
 * added into C as alpha · tile. Every C entry gets the same additions in the same order as with one tile at a time.
 */
export function gemm(
  m: number, n: number, k: number, alpha: number, a: Operand, b: Operand, beta: 0 | 1, c: View, s: GemmStructure = {},
): void {
  const lowerFrom = s.cLowerFrom;
  const cd = c.data;
  init();
  // Local aliases: module-level `let`s cost a context load and a hole check on every access in the loops below.
  const lst = list;
  const tC = tileC;
  const tRows = tileRows;
  const tCols = tileCols;
  const tBand = tileBand;
  const tWork = tileWork;
  if (beta === 0) {
    for (let i = 0; i < m; i++) {
      const jEnd = lowerFrom === undefined ? n : Math.min(n, i + lowerFrom + 1);
      const row = c.off + i * c.ld;
      for (let j = 0; j < jEnd; j++) cd[row + j] = 0;
    }
  }
  if (m <= 0 || n <= 0 || k <= 0 || alpha === 0) return;

  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      // Which columns of this block can be non-zero at all in this kc slice (bTri) is handled per tile below.
      packPanelB(b, pc, kc, jc, nc, s.bTri);
      for (let ib = 0; ib < m; ib += MB) {
        let count = 0;
        let work = 0;
        for (let ic = ib; ic < Math.min(m, ib + MB); ic += MC) {
          const mc = Math.min(MC, m - ic);
          if (lowerFrom !== undefined && jc > ic + mc - 1 + lowerFrom) continue; // block entirely above the band
          if (s.aTri === 'lower' && pc > ic + mc - 1) continue; // op(A) rows ic.. are zero from p > i on
          if (s.aTri === 'upper' && pc + kc - 1 < ic) continue;
          const aBase = A_AT + (ic - ib) * kc;
          packPanelA(a, ic, mc, pc, kc, s.aTri, aBase);
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
              const q = 4 * count;
              lst[q] = pHi - pLo;
              lst[q + 1] = 8 * (aBase + ir * kc + (pLo - pc) * MR);
              lst[q + 2] = 8 * (B_AT + jr * kc + (pLo - pc) * NR);
              lst[q + 3] = 8 * (OUT_AT + 16 * count);
              tC[count] = c.off + i0 * c.ld + j0;
              tRows[count] = partial ? mValid : -1;
              tCols[count] = nValid;
              tBand[count] = lowerFrom === undefined ? NR : i0 + lowerFrom - j0;
              work += pHi - pLo;
              tWork[count] = work;
              count++;
            }
          }
        }
        if (count === 0) continue;
        runTiles(count, work);
        addTiles(count, alpha, cd, c.ld);
      }
    }
  }
}

/** Computes the listed tiles' outputs: on the wasm kernel (split between threads when worth it) or in JavaScript. */
function runTiles(count: number, work: number): void {
  if (!useWasm || wasm === null) {
    const lst = list;
    for (let t = 0; t < count; t++) {
      const q = 4 * t;
      microJs(lst[q], lst[q + 1] >> 3, lst[q + 2] >> 3, lst[q + 3] >> 3);
    }
    return;
  }
  const tm = work >= PARALLEL_MIN_WORK ? currentTeam() : null;
  if (tm !== null && tm.readyWorkers() > 0) tm.run(LIST_BYTE, count, tileWork);
  else wasm.tiles(LIST_BYTE, 0, count);
}

/** C += alpha · tile for every listed tile (partial tiles: only their valid rows, columns and band). */
function addTiles(count: number, alpha: number, cd: Float64Array, ldc: number): void {
  const out = f64;
  const tC = tileC;
  const tRows = tileRows;
  const tCols = tileCols;
  const tBand = tileBand;
  for (let t = 0; t < count; t++) {
    const o = OUT_AT + 16 * t;
    const ci = tC[t];
    if (tRows[t] < 0) {
      let r = ci;
      cd[r] += alpha * out[o]; cd[r + 1] += alpha * out[o + 1]; cd[r + 2] += alpha * out[o + 2]; cd[r + 3] += alpha * out[o + 3];
      r += ldc;
      cd[r] += alpha * out[o + 4]; cd[r + 1] += alpha * out[o + 5]; cd[r + 2] += alpha * out[o + 6]; cd[r + 3] += alpha * out[o + 7];
      r += ldc;
      cd[r] += alpha * out[o + 8]; cd[r + 1] += alpha * out[o + 9]; cd[r + 2] += alpha * out[o + 10]; cd[r + 3] += alpha * out[o + 11];
      r += ldc;
      cd[r] += alpha * out[o + 12]; cd[r + 1] += alpha * out[o + 13]; cd[r + 2] += alpha * out[o + 14]; cd[r + 3] += alpha * out[o + 15];
      continue;
    }
    const mValid = tRows[t];
    const nValid = tCols[t];
    const band = tBand[t];
    for (let i = 0; i < mValid; i++) {
      const jEnd = Math.min(nValid, i + band + 1);
      for (let j = 0; j < jEnd; j++) cd[ci + i * ldc + j] += alpha * out[o + i * 4 + j];
    }
  }
}

/** Packs op(A)[ic:ic+mc, pc:pc+kc] as MR-row micro-panels from f64[at], p-major inside each: f64[at + ir*kc + p*MR + r]. */
function packPanelA(a: Operand, ic: number, mc: number, pc: number, kc: number, tri: 'lower' | 'upper' | undefined, at: number): void {
  const d = a.data;
  const buf = f64;
  for (let ir = 0; ir < mc; ir += MR) {
    const base = at + ir * kc;
    for (let r = 0; r < MR; r++) {
      const i = ic + ir + r;
      if (ir + r >= mc) {
        for (let p = 0; p < kc; p++) buf[base + p * MR + r] = 0;
        continue;
      }
      // Non-zero p range of row i (structure), relative to pc.
      let lo = 0;
      let hi = kc;
      if (tri === 'lower') hi = Math.max(0, Math.min(kc, i - pc + 1));
      else if (tri === 'upper') lo = Math.min(kc, Math.max(0, i - pc));
      for (let p = 0; p < lo; p++) buf[base + p * MR + r] = 0;
      if (a.trans) {
        let src = a.off + (pc + lo) * a.ld + i;
        for (let p = lo; p < hi; p++, src += a.ld) buf[base + p * MR + r] = d[src];
      } else {
        const src = a.off + i * a.ld + pc;
        for (let p = lo; p < hi; p++) buf[base + p * MR + r] = d[src + p];
      }
      for (let p = hi; p < kc; p++) buf[base + p * MR + r] = 0;
    }
  }
}

/** Packs op(B)[pc:pc+kc, jc:jc+nc] as NR-column micro-panels: f64[B_AT + jr*kc + p*NR + c]. */
function packPanelB(b: Operand, pc: number, kc: number, jc: number, nc: number, tri: 'lower' | 'upper' | undefined): void {
  const d = b.data;
  const buf = f64;
  for (let jr = 0; jr < nc; jr += NR) {
    const base = B_AT + jr * kc;
    for (let cc = 0; cc < NR; cc++) {
      const j = jc + jr + cc;
      if (jr + cc >= nc) {
        for (let p = 0; p < kc; p++) buf[base + p * NR + cc] = 0;
        continue;
      }
      // op(B)[p, j] non-zero for p in [lo, hi) relative to pc.
      let lo = 0;
      let hi = kc;
      if (tri === 'lower') lo = Math.min(kc, Math.max(0, j - pc));
      else if (tri === 'upper') hi = Math.max(0, Math.min(kc, j - pc + 1));
      for (let p = 0; p < lo; p++) buf[base + p * NR + cc] = 0;
      if (b.trans) {
        const src = b.off + j * b.ld + pc;
        for (let p = lo; p < hi; p++) buf[base + p * NR + cc] = d[src + p];
      } else {
        let src = b.off + (pc + lo) * b.ld + j;
        for (let p = lo; p < hi; p++, src += b.ld) buf[base + p * NR + cc] = d[src];
      }
      for (let p = hi; p < kc; p++) buf[base + p * NR + cc] = 0;
    }
  }
}

/**
 * The 4×4 micro-kernel in JavaScript: f64[out .. out+16) = Σ_p a[p, 0:4]ᵀ b[p, 0:4] (row-major) over K packed steps
 * from f64[ia] and f64[ib] (element indices). The reference for the wasm kernel, and the fallback where it is missing.
 */
function microJs(K: number, ia0: number, ib0: number, out: number): void {
  const ap = f64;
  const bp = ap;
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
  const o = ap;
  o[out] = c00; o[out + 1] = c01; o[out + 2] = c02; o[out + 3] = c03;
  o[out + 4] = c10; o[out + 5] = c11; o[out + 6] = c12; o[out + 7] = c13;
  o[out + 8] = c20; o[out + 9] = c21; o[out + 10] = c22; o[out + 11] = c23;
  o[out + 12] = c30; o[out + 13] = c31; o[out + 14] = c32; o[out + 15] = c33;
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

/**
 * Starts the host threads for the current setting and resolves with how many are ready (the calling thread included)
 * once every worker has compiled its kernel, or after `timeoutMs`. For tests and benchmarks: gemm never waits for a
 * worker to start (until it is ready, the calling thread does its share).
 */
export async function hostThreadsReady(timeoutMs = 10_000): Promise<number> {
  const tm = currentTeam();
  if (tm === null) return 1;
  const deadline = Date.now() + timeoutMs;
  while (tm.readyWorkers() < tm.threads - 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return tm.readyWorkers() + 1;
}
