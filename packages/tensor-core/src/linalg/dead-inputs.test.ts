import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../testing.js';
import { fixDeadInputs, zeroColumns } from './dead-inputs.js';
import { choleskyInverseUpper } from './spd.js';
import { naiveMatMul, randomGramSpd } from './reference.js';

/** H = 2/n XᵀX where input channels 1 and 4 are zero on every token (SparseGPT's dead inputs). */
function hessianWithDeadInputs(): { h: Float64Array; d: number } {
  const d = 6;
  const base = randomGramSpd(d, 'dead');
  for (const i of [1, 4]) {
    for (let j = 0; j < d; j++) {
      base[i * d + j] = 0;
      base[j * d + i] = 0;
    }
  }
  return { h: base, d };
}

describe('fixDeadInputs / zeroColumns', () => {
  it('sets H[i, i] = 1 for the zero diagonal entries, in place for typed arrays; the result factors', () => {
    const { h, d } = hessianWithDeadInputs();
    expect(() => choleskyInverseUpper(h)).toThrow(/not positive definite/);
    const fixed = fixDeadInputs(h);
    expect(fixed.h).toBe(h);
    expect(Array.from(fixed.dead)).toEqual([1, 4]);
    expect(h[1 * d + 1]).toBe(1);
    expect(h[4 * d + 4]).toBe(1);
    const u = choleskyInverseUpper(h);
    // Dead columns decouple: U[i, i] = 1 and the rest of row/column i is 0.
    for (const i of [1, 4]) {
      expect(u[i * d + i]).toBeCloseTo(1, 14);
      for (let j = 0; j < d; j++) if (j !== i) expect(Math.abs(u[i * d + j]) + Math.abs(u[j * d + i])).toBe(0);
    }
    expect(Array.from(fixDeadInputs(new Float64Array([1, 0, 0, 1])).dead)).toEqual([]);
  });

  it('tensor Hessians give a new tensor; zeroColumns zeroes W[:, dead]; nothing leaks', async () => {
    const { h, d } = hessianWithDeadInputs();
    const ht = tf.tensor2d(Float32Array.from(h), [d, d]);
    const { h: fixed, dead } = fixDeadInputs(ht);
    expect(Array.from(dead)).toEqual([1, 4]);
    const want = Float32Array.from(h);
    want[1 * d + 1] = 1;
    want[4 * d + 4] = 1;
    expect(Array.from(fixed.dataSync())).toEqual(Array.from(want));
    expect(ht.dataSync()[1 * d + 1]).toBe(0); // the input is unchanged

    const w = tf.tensor2d(Float32Array.from({ length: 3 * d }, (_, i) => i + 1), [3, d]);
    const w2 = zeroColumns(w, dead);
    const got = w2.dataSync();
    for (let r = 0; r < 3; r++) for (let c = 0; c < d; c++) expect(got[r * d + c]).toBe(c === 1 || c === 4 ? 0 : r * d + c + 1);
    expect(() => zeroColumns(w, [d])).toThrow(/column 6 is out of range/);
    await expectNoLeak(() => {
      const r = fixDeadInputs(ht);
      return [r.h, zeroColumns(w, r.dead)];
    }, { label: 'fixDeadInputs + zeroColumns' });
    // SparseGPT's update then sees zero weights in dead columns: W[:, dead] Hinv stays consistent.
    expect(naiveMatMul(got, new Float64Array(d * d).fill(0), 3, d, d).every((v) => v === 0)).toBe(true);
    tf.dispose([ht, fixed, w, w2]);
  });
});
