/**
 * The WebAssembly SIMD N:M ranks against `topInsert` (the JavaScript insertion list, the reference): identical masks on
 * random scores, on scores with many ties (few distinct values, all equal, ±0, ±Infinity), for every M that is a
 * multiple of 4 up to 64, every N, and lengths across the kernel's 65,536-score chunks.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '@sift/tensor-core';
import { nmKernelBytes, selectNMSimd } from './nm-simd.js';
import { topInsert } from './select.js';

function reference(score: Float32Array, n: number, m: number): Uint8Array {
  const keep = new Uint8Array(score.length);
  for (let o = 0; o < score.length; o += m) topInsert(score, null, o, m, n, keep);
  return keep;
}

function simd(score: Float32Array, n: number, m: number): Uint8Array {
  const keep = new Uint8Array(score.length).fill(7); // every entry must be written
  expect(selectNMSimd(score, n, m, keep)).toBe(true);
  return keep;
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('selectNMSimd (WebAssembly SIMD ranks)', () => {
  it('validates and runs here (Node 20 has wasm SIMD)', () => {
    expect(WebAssembly.validate(nmKernelBytes())).toBe(true);
  });

  it('equals the insertion reference for every M = 4 … 64 (multiples of 4) and every N, random and tied scores', () => {
    const rng = new Rng('nm-simd');
    for (let m = 4; m <= 64; m += 4) {
      const groups = 37;
      const random = Float32Array.from({ length: m * groups }, () => rng.normal());
      const tied = Float32Array.from({ length: m * groups }, () => Math.floor(rng.uniform() * 3)); // 3 distinct values
      for (const n of new Set([1, 2, m >> 2, m >> 1, m - 1, m])) {
        for (const [label, s] of [['random', random], ['tied', tied]] as const) {
          const want = reference(s, n, m);
          const got = simd(s, n, m);
          expect(firstDiff(got, want), `${n}:${m} ${label}`).toBe(-1);
        }
      }
    }
  });

  it('breaks ties by position (lower kept), and orders ±0 and ±Infinity as the reference does', () => {
    const equal = new Float32Array(16).fill(0.5);
    expect(Array.from(simd(equal, 8, 16))).toEqual([...new Array<number>(8).fill(1), ...new Array<number>(8).fill(0)]);
    const special = Float32Array.from([-0, 0, Infinity, -Infinity, 0, -0, 1, -1]);
    for (const n of [1, 2, 3, 4]) expect(Array.from(simd(special, n, 4)), `n ${n}`).toEqual(Array.from(reference(special, n, 4)));
  });

  it('crosses the 65,536-score chunks (lengths not a multiple of a chunk) with the same masks', () => {
    const rng = new Rng('nm-simd-chunks');
    for (const [n, m] of [[2, 4], [8, 16], [16, 32], [3, 12]] as const) {
      const len = m * (Math.floor(65536 / m) * 2 + 5);
      const s = Float32Array.from({ length: len }, () => Math.round(rng.normal() * 4) / 4);
      expect(firstDiff(simd(s, n, m), reference(s, n, m)), `${n}:${m}`).toBe(-1);
    }
  });

  it('declines M that is not a multiple of 4 or above 64 (the caller keeps the insertion list)', () => {
    const keep = new Uint8Array(12);
    expect(selectNMSimd(new Float32Array(12), 3, 6, keep)).toBe(false);
    expect(selectNMSimd(new Float32Array(136), 2, 68, new Uint8Array(136))).toBe(false);
    expect(Array.from(keep)).toEqual(new Array<number>(12).fill(0));
  });
});
