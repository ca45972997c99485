/**
 * N:M patterns: in every row of a weight [out, in], each run of M consecutive input columns {gM … gM+M−1} keeps N
 * entries (the axis NVIDIA's 2:4 sparse tensor cores constrain: the GEMM reduction dimension).
 */
import { SiftError } from '@sift/tensor-core';

/** An N:M pattern: keep `n` of every `m` consecutive input columns, 0 < n < m <= 64. */
export interface NMPattern {
  n: number;
  m: number;
}

/** A pattern as users write it: `'8:16'`, `{ n: 8, m: 16 }`. */
export type PatternLike = string | NMPattern;

/**
 * Parses and validates an N:M pattern.
 * @throws SiftError 'E_CONFIG' naming the value and the valid form
 * @example
 * parsePattern('8:16'); // { n: 8, m: 16 }
 */
export function parsePattern(p: PatternLike, where = 'pattern'): NMPattern {
  let n: number;
  let m: number;
  if (typeof p === 'string') {
    const match = /^\s*(\d+)\s*:\s*(\d+)\s*$/u.exec(p);
    if (match === null) throw new SiftError('E_CONFIG', `${where}: ${JSON.stringify(p)} is not an N:M pattern; write it as 'N:M', e.g. '2:4' or '8:16'.`);
    n = Number(match[1]);
    m = Number(match[2]);
  } else {
    ({ n, m } = p);
  }
  if (!(Number.isInteger(n) && Number.isInteger(m) && n > 0 && n < m && m <= 64)) {
    throw new SiftError('E_CONFIG', `${where}: N:M needs integers 0 < N < M <= 64, got ${n}:${m}.`);
  }
  return { n, m };
}

/** `'n:m'` */
export function formatPattern(p: NMPattern): string {
  return `${p.n}:${p.m}`;
}

const BINOM: number[][] = [];
for (let a = 0; a <= 64; a++) {
  BINOM.push([]);
  for (let b = 0; b <= 64; b++) BINOM[a].push(b === 0 ? 1 : a === 0 ? 0 : BINOM[a - 1][b - 1] + (b <= a - 1 ? BINOM[a - 1][b] : 0));
}

/** C(a, b) for 0 <= a, b <= 64 (exact up to 2^53; C(64, 32) ≈ 1.8e18 is rounded). */
export function binomial(a: number, b: number): number {
  if (b < 0 || b > a) return 0;
  return BINOM[a][b];
}

/** ceil(log2 C(M, N)): the bits of one group's combinatorial-number-system code (3 for 2:4, 14 for 8:16). */
export function codeBits(p: NMPattern): number {
  const c = binomial(p.m, p.n);
  return c <= 1 ? 0 : Math.ceil(Math.log2(c));
}

/** Throws E_SHAPE unless `inFeatures` is a multiple of M. */
export function checkDivisible(inFeatures: number, p: NMPattern, where: string): void {
  if (inFeatures % p.m !== 0) {
    const fits = [4, 8, 16, 32].filter((mm) => inFeatures % mm === 0).map((mm) => `${mm / 2}:${mm}`);
    throw new SiftError('E_SHAPE', `${where}: in_features ${inFeatures} is not a multiple of M=${p.m} (pattern ${formatPattern(p)}). ` +
      (fits.length > 0 ? `Use a pattern whose M divides it (${fits.join(', ')}), or unstructured.` : 'Use unstructured sparsity for this layer, or exclude it.'));
  }
}
