/**
 * The combinatorial number system: each N-subset {c_1 < … < c_N} of {0 … M−1} is one integer in [0, C(M, N)),
 * rank = Σ_k C(c_k, k) (k = 1 … N). So a group's mask fits ceil(log2 C(M, N)) bits: 3 for 2:4, 7 for 4:8, 14 for 8:16
 * (one Uint16 per group), 30 for 16:32.
 */
import { SiftError } from '@sift/tensor-core';
import { binomial, type NMPattern } from '../pattern.js';

/**
 * The rank of a kept set given as a bitmask (bit c set = column c of the group kept).
 * @param bits exactly N bits set among the low M (M <= 32 for a number bitmask)
 */
export function rankSubset(bits: number, p: NMPattern): number {
  let code = 0;
  let k = 0;
  for (let c = 0; c < p.m; c++) {
    if ((bits >>> c) & 1) {
      k++;
      code += binomial(c, k);
    }
  }
  if (k !== p.n) throw new SiftError('E_DATA', `rankSubset: the group keeps ${k} entries, the pattern ${p.n}:${p.m} needs exactly ${p.n}.`);
  return code;
}

/** The kept columns (ascending) of a code, written into `out[0..N)`; the inverse of `rankSubset`. */
export function unrankSubset(code: number, p: NMPattern, out: Uint8Array | number[] = new Uint8Array(p.n)): Uint8Array | number[] {
  if (!(Number.isInteger(code) && code >= 0 && code < binomial(p.m, p.n))) {
    throw new SiftError('E_DATA', `unrankSubset: code ${code} is out of range [0, ${binomial(p.m, p.n)}) for ${p.n}:${p.m}; the file is corrupt.`);
  }
  let rest = code;
  let c = p.m - 1;
  for (let k = p.n; k >= 1; k--) {
    while (binomial(c, k) > rest) c--;
    out[k - 1] = c;
    rest -= binomial(c, k);
    c--;
  }
  return out;
}

const TABLES = new Map<string, Uint8Array>();

/**
 * A decode table [C(M,N), N] of kept columns for every code, for fast unpacking and matvec (8:16: 12,870 × 8 bytes).
 * Null when C(M, N) > 2^17 (then codes are unranked one by one).
 */
export function decodeTable(p: NMPattern): Uint8Array | null {
  const count = binomial(p.m, p.n);
  if (count > 1 << 17) return null;
  const key = `${p.n}:${p.m}`;
  let t = TABLES.get(key);
  if (t === undefined) {
    t = new Uint8Array(count * p.n);
    const tmp = new Uint8Array(p.n);
    for (let code = 0; code < count; code++) {
      unrankSubset(code, p, tmp);
      t.set(tmp, code * p.n);
    }
    TABLES.set(key, t);
  }
  return t;
}
