/**
 * The packed N:M format: per row and group of M input columns, the N kept values (in column order) and one
 * combinatorial-number-system code of their positions; salient weights beside it, either as k:M' groups (values plus
 * codes) or as CSR (row pointers, column indices, values). Dense = N:M part + salient part (disjoint positions).
 *
 * Memory (the sparsity brief §2.6): the N:M part costs (N·b + ceil(log2 C(M,N)))/M bits per weight, i.e. metadata
 * 0.75 bits for 2:4 and 0.875 for 8:16.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '@sift/tensor-core';
import { checkDivisible, codeBits, formatPattern, parsePattern, type NMPattern, type PatternLike } from '../pattern.js';
import { decodeTable, rankSubset, unrankSubset } from './combinadic.js';

/** Salient weights stored beside the N:M part. */
export type PackedSalient =
  | {
    /** k of every M' consecutive input columns, as values [rows, cols/M'·k] and codes [rows, cols/M']. */
    kind: 'structured';
    k: number;
    m: number;
    values: Float32Array;
    codes: Uint16Array | Uint32Array;
  }
  | {
    /** Compressed sparse rows: `rowPtr` [rows+1], `colIdx` and `values` [nnz]. */
    kind: 'csr';
    rowPtr: Uint32Array;
    colIdx: Uint16Array | Uint32Array;
    values: Float32Array;
  };

/** A weight [rows, cols] = [out, in] in the packed N:M format. */
export interface PackedNM {
  rows: number;
  cols: number;
  n: number;
  m: number;
  /** Kept values [rows, cols/M·N], group by group, ascending column inside a group. */
  values: Float32Array;
  /** One code per group [rows, cols/M]: Uint16 when ceil(log2 C(M,N)) <= 16, else Uint32. */
  codes: Uint16Array | Uint32Array;
  /** Salient weights, or null. */
  salient: PackedSalient | null;
}

/** What `packNM` reads. */
export interface PackInput {
  /** The (masked) weight [out, in]: a tensor or a row-major Float32Array with `shape`. */
  weight: tf.Tensor2D | Float32Array;
  /** [rows, cols], needed when `weight` is a Float32Array. */
  shape?: [number, number];
  /** The N:M pattern of the main part. */
  pattern: PatternLike;
  /** 0/1 mask [rows·cols] of the N:M part's kept entries (<= N per group); default: the non-zeros of `weight` outside `salientMask`. */
  nmMask?: Uint8Array;
  /** 0/1 mask [rows·cols] of the salient entries, or none. */
  salientMask?: Uint8Array;
  /** How to store the salient entries: `{ k, m }` (exactly k per M' group) or `'csr'`. Default `'csr'`. */
  salientLayout?: { k: number; m: number } | 'csr';
}

function codeArray(p: NMPattern, length: number): Uint16Array | Uint32Array {
  if (p.m > 32) throw new SiftError('E_UNSUPPORTED', `packNM: M=${p.m} > 32 is not supported by the packed format (codes are at most 32 bits).`);
  return codeBits(p) <= 16 ? new Uint16Array(length) : new Uint32Array(length);
}

/** Packs groups of `p` from `w` where `kept` marks at most N entries per group; pads with zero-valued positions. */
function packGroups(w: Float32Array, rows: number, cols: number, p: NMPattern, kept: (i: number) => boolean, what: string):
  { values: Float32Array; codes: Uint16Array | Uint32Array } {
  const groups = cols / p.m;
  const values = new Float32Array(rows * groups * p.n);
  const codes = codeArray(p, rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const base = r * cols + g * p.m;
      let bits = 0;
      let c = 0;
      for (let k = 0; k < p.m; k++) {
        if (kept(base + k)) {
          bits |= 1 << k;
          c++;
        }
      }
      if (c > p.n) {
        throw new SiftError('E_DATA', `packNM: ${what} row ${r}, columns ${g * p.m}..${g * p.m + p.m - 1} keep ${c} entries; ` +
          `the ${formatPattern(p)} pattern allows ${p.n}. Prune with this pattern first (or store the extras as salient weights).`);
      }
      // Pad with unkept positions (their value is stored as 0), lowest first.
      for (let k = 0; k < p.m && c < p.n; k++) {
        if (!((bits >>> k) & 1)) {
          bits |= 1 << k;
          c++;
        }
      }
      codes[r * groups + g] = rankSubset(bits >>> 0, p);
      let o = (r * groups + g) * p.n;
      for (let k = 0; k < p.m; k++) if ((bits >>> k) & 1) values[o++] = kept(base + k) ? w[base + k] : 0;
    }
  }
  return { values, codes };
}

function readWeight(input: PackInput): { w: Float32Array; rows: number; cols: number } {
  if (input.weight instanceof tf.Tensor) {
    if (input.weight.rank !== 2) throw new SiftError('E_SHAPE', `packNM: weight must be [out, in], got ${fmtShape(input.weight.shape)}.`);
    const [rows, cols] = input.weight.shape;
    return { w: input.weight.dataSync() as Float32Array, rows, cols };
  }
  if (input.shape === undefined) throw new SiftError('E_SHAPE', 'packNM: a Float32Array weight needs shape [rows, cols].');
  const [rows, cols] = input.shape;
  if (input.weight.length !== rows * cols) {
    throw new SiftError('E_SHAPE', `packNM: weight has ${input.weight.length} values, shape ${fmtShape(input.shape)} needs ${rows * cols}.`);
  }
  return { w: input.weight, rows, cols };
}

/**
 * Packs a pruned weight.
 * @example
 * const packed = packNM({ weight: layer.effectiveWeight() as tf.Tensor2D, pattern: '8:16' });
 * bitsPerWeight(packed).metadata; // 0.875
 */
export function packNM(input: PackInput): PackedNM {
  const p = parsePattern(input.pattern, 'packNM');
  const { w, rows, cols } = readWeight(input);
  checkDivisible(cols, p, 'packNM');
  const size = rows * cols;
  for (const [name, mk] of [['nmMask', input.nmMask], ['salientMask', input.salientMask]] as const) {
    if (mk !== undefined && mk.length !== size) throw new SiftError('E_SHAPE', `packNM: ${name} has ${mk.length} entries, the weight ${rows}×${cols} has ${size}.`);
  }
  const sal = input.salientMask;
  const isSal = (i: number): boolean => sal?.[i] === 1;
  const nm = input.nmMask;
  const kept = nm === undefined ? (i: number) => w[i] !== 0 && !isSal(i) : (i: number) => nm[i] === 1 && !isSal(i);
  const main = packGroups(w, rows, cols, p, kept, 'the N:M part,');
  let salient: PackedSalient | null = null;
  if (sal !== undefined) {
    const layout = input.salientLayout ?? 'csr';
    if (layout === 'csr') {
      const rowPtr = new Uint32Array(rows + 1);
      let nnz = 0;
      for (let i = 0; i < size; i++) nnz += sal[i];
      const colIdx = cols <= 65536 ? new Uint16Array(nnz) : new Uint32Array(nnz);
      const values = new Float32Array(nnz);
      let o = 0;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          if (sal[r * cols + c] === 1) {
            colIdx[o] = c;
            values[o++] = w[r * cols + c];
          }
        }
        rowPtr[r + 1] = o;
      }
      salient = { kind: 'csr', rowPtr, colIdx, values };
    } else {
      const sp = parsePattern({ n: layout.k, m: layout.m }, 'packNM salientLayout');
      checkDivisible(cols, sp, 'packNM (salient)');
      const g = packGroups(w, rows, cols, sp, isSal, 'the salient part,');
      salient = { kind: 'structured', k: sp.n, m: sp.m, ...g };
    }
  }
  return { rows, cols, n: p.n, m: p.m, values: main.values, codes: main.codes, salient };
}

function unpackGroups(out: Float32Array, rows: number, cols: number, p: NMPattern, values: Float32Array, codes: Uint16Array | Uint32Array): void {
  const groups = cols / p.m;
  const table = decodeTable(p);
  const pos = new Uint8Array(p.n);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const gi = r * groups + g;
      const cols0 = table === null ? (unrankSubset(codes[gi], p, pos) as Uint8Array) : table.subarray(codes[gi] * p.n, codes[gi] * p.n + p.n);
      const base = r * cols + g * p.m;
      for (let k = 0; k < p.n; k++) out[base + cols0[k]] += values[gi * p.n + k];
    }
  }
}

/** The dense weight [rows·cols] (row-major) a packed weight stands for: exactly the masked weight that was packed. */
export function unpackNM(packed: PackedNM): Float32Array {
  const { rows, cols } = packed;
  const out = new Float32Array(rows * cols);
  unpackGroups(out, rows, cols, { n: packed.n, m: packed.m }, packed.values, packed.codes);
  const s = packed.salient;
  if (s?.kind === 'structured') unpackGroups(out, rows, cols, { n: s.k, m: s.m }, s.values, s.codes);
  else if (s?.kind === 'csr') {
    for (let r = 0; r < rows; r++) for (let o = s.rowPtr[r]; o < s.rowPtr[r + 1]; o++) out[r * cols + s.colIdx[o]] += s.values[o];
  }
  return out;
}

/** Bits per dense weight of a packed layer, by part (see the sparsity brief §2.6). */
export interface BitsPerWeight {
  /** N:M code bits per weight: ceil(log2 C(M,N))/M (0.75 for 2:4, 0.875 for 8:16). */
  metadata: number;
  /** N:M value bits per weight: b·N/M. */
  values: number;
  /** Salient part per weight: values plus codes (structured) or column indices and row pointers (CSR). */
  salient: number;
  /** The sum. */
  total: number;
}

/**
 * Exact storage cost of a packed weight, in bits per dense weight, for values stored with `valueBits` bits (16 for
 * fp16, the usual accounting; the safetensors file here holds float32).
 */
export function bitsPerWeight(packed: PackedNM, valueBits = 16): BitsPerWeight {
  const size = packed.rows * packed.cols;
  const metadata = codeBits({ n: packed.n, m: packed.m }) / packed.m;
  const values = (valueBits * packed.n) / packed.m;
  let salient = 0;
  const s = packed.salient;
  if (s?.kind === 'structured') salient = (s.k * valueBits + codeBits({ n: s.k, m: s.m })) / s.m;
  else if (s?.kind === 'csr') {
    const nnz = s.values.length;
    salient = (nnz * (valueBits + Math.ceil(Math.log2(packed.cols))) + 32 * (packed.rows + 1)) / size;
  }
  return { metadata, values, salient, total: metadata + values + salient };
}

function matvecGroups(y: Float32Array, x: Float32Array, rows: number, cols: number, p: NMPattern, values: Float32Array, codes: Uint16Array | Uint32Array): void {
  const groups = cols / p.m;
  const n = p.n;
  const table = decodeTable(p);
  const pos = new Uint8Array(n);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    let gi = r * groups;
    let vo = gi * n;
    for (let g = 0; g < groups; g++, gi++) {
      const base = g * p.m;
      let t: Uint8Array;
      let to = 0;
      if (table === null) t = unrankSubset(codes[gi], p, pos) as Uint8Array;
      else {
        t = table;
        to = codes[gi] * n;
      }
      for (let k = 0; k < n; k++) acc += values[vo++] * x[base + t[to + k]];
    }
    y[r] += acc;
  }
}

/**
 * y = W x straight from the packed form (no dense weight is formed): for memory-bound inference, where reading
 * N/M of the values plus ceil(log2 C(M,N))/M bits of codes per weight beats reading the dense matrix.
 * @param x [cols]
 * @returns y [rows]
 */
export function packedMatVec(packed: PackedNM, x: Float32Array): Float32Array {
  if (x.length !== packed.cols) throw new SiftError('E_SHAPE', `packedMatVec: x has ${x.length} entries, the weight has ${packed.cols} input columns.`);
  const y = new Float32Array(packed.rows);
  matvecGroups(y, x, packed.rows, packed.cols, { n: packed.n, m: packed.m }, packed.values, packed.codes);
  const s = packed.salient;
  if (s?.kind === 'structured') matvecGroups(y, x, packed.rows, packed.cols, { n: s.k, m: s.m }, s.values, s.codes);
  else if (s?.kind === 'csr') {
    for (let r = 0; r < packed.rows; r++) {
      let acc = 0;
      for (let o = s.rowPtr[r]; o < s.rowPtr[r + 1]; o++) acc += s.values[o] * x[s.colIdx[o]];
      y[r] += acc;
    }
  }
  return y;
}
