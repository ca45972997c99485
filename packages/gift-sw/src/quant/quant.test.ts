import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@sift/tensor-core';
import { expectNoLeak, expectTensorsClose } from '@sift/tensor-core/testing';
import { fakeQuantize, qmax, quantCode, roundHalfEven, rowScales, type QuantBits } from './grid.js';
import { packCodes, unpackCodes, loadQuantized, saveQuantized } from './pack.js';
import { dequantizeArray, dequantizeWeight, layerError, quantizeGptq, quantizeRtn } from './quantize.js';

interface Fixture {
  rows: number; cols: number; tokens: number; blockSize: number; damp: number; salient: number[];
  weight: number[]; x: number[];
  cases: { bits: QuantBits; gptq: number[]; gptqScales: number[]; rtn: number[]; rtnScales: number[] }[];
}

const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/gptq-torch.json', import.meta.url), 'utf8')) as Fixture;

/** H = 2/n XᵀX in float64, X [n, d] row-major. */
function hessianOf(x: ArrayLike<number>, n: number, d: number): Float64Array {
  const h = new Float64Array(d * d);
  for (let t = 0; t < n; t++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) h[a * d + b] += x[t * d + a] * x[t * d + b];
  return h.map((v) => (2 / n) * v);
}

describe('grid', () => {
  it('rounds half to even like torch.round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 0.49, 2.51].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 0, 3]);
  });

  it('clamps codes to [-2^(b-1), 2^(b-1)-1]', () => {
    expect(quantCode(100, 1, 3)).toBe(3);
    expect(quantCode(-100, 1, 3)).toBe(-4);
    expect(quantCode(5, 0, 4)).toBe(0);
    expect(qmax(2)).toBe(1);
  });

  it('the MSE clip search never does worse than alpha = max|w| and ignores salient columns', () => {
    const rng = new Rng(1);
    const rows = 6;
    const cols = 64;
    const w = Float32Array.from({ length: rows * cols }, () => rng.normal() ** 3);
    for (const bits of [2, 3, 4] as const) {
      const s = rowScales(w, rows, cols, null, { bits });
      const s0 = rowScales(w, rows, cols, null, { bits, clipSearch: false });
      const err = (sc: Float32Array): number => fakeQuantize(w, rows, cols, sc, bits).reduce((a, q, i) => a + (q - w[i]) ** 2, 0);
      expect(err(s)).toBeLessThanOrEqual(err(s0) + 1e-9);
    }
    // An outlier in a skipped column does not inflate Δ.
    const w2 = Float32Array.from(w);
    w2[5] = 1000;
    const skip = new Uint8Array(cols);
    skip[5] = 1;
    expect(Array.from(rowScales(w2, rows, cols, skip))).toEqual(Array.from(rowScales(w.map((v, i) => (i === 5 ? 0 : v)), rows, cols, skip)));
  });

  it('the clip search picks the first grid step with the least squared error (naive search over 1, 3, 80, 81 points; rows long enough for its early exit)', () => {
    const rng = new Rng(2);
    const rows = 5;
    for (const cols of [48, 1000]) {
      const w = Float32Array.from({ length: rows * cols }, () => rng.normal() ** 3);
      w[7] = w[8]; // ties inside a row
      for (const bits of [2, 4, 8] as const) {
        for (const gridPoints of [1, 3, 80, 81]) {
          const hi = qmax(bits);
          const got = rowScales(w, rows, cols, null, { bits, gridPoints });
          for (let i = 0; i < rows; i++) {
            const row = Array.from(w.subarray(i * cols, (i + 1) * cols));
            const mx = Math.max(...row.map(Math.abs));
            let best = Infinity;
            let bestDelta = mx / hi;
            for (let s = 0; s < gridPoints; s++) {
              const delta = Math.fround((mx * (1 - 0.01 * s)) / hi);
              const err = row.reduce((a, v) => a + (v - Math.min(hi, Math.max(-hi - 1, roundHalfEven(v / delta))) * delta) ** 2, 0);
              if (err < best) {
                best = err;
                bestDelta = delta;
              }
            }
            expect(got[i], `${cols} columns, bits ${bits}, ${gridPoints} points, row ${i}`).toBe(Math.fround(bestDelta));
          }
        }
      }
    }
  });

  it('rejects bad bits', () => {
    expect(() => rowScales([1], 1, 1, null, { bits: 5 as QuantBits })).toThrow(/bits must be one of 2, 3, 4, 8, got 5/);
  });
});

describe('packing', () => {
  it('packs 2-bit codes LSB first', () => {
    expect(Array.from(packCodes(Int8Array.from([-2, 1, 0, -1]), 2))).toEqual([108]);
  });

  for (const bits of [2, 3, 4, 8] as const) {
    it(`round-trips ${bits}-bit codes (odd lengths cross byte boundaries)`, () => {
      const rng = new Rng(bits);
      const hi = qmax(bits);
      const codes = Int8Array.from({ length: 1001 }, () => rng.int(2 * hi + 2) - hi - 1);
      const bytes = packCodes(codes, bits);
      expect(bytes.length).toBe(Math.ceil((1001 * bits) / 8));
      expect(Array.from(unpackCodes(bytes, 1001, bits))).toEqual(Array.from(codes));
    });
  }

  it('saves and loads a packed checkpoint that dequantizes to the same weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gift-pack-'));
    try {
      const rng = new Rng(3);
      const w = tf.tidy(() => rng.normalTensor([9, 21]) as tf.Tensor2D);
      const layers = { 'a.q': quantizeRtn(w, [2, 7], { bits: 3 }), 'b.up': quantizeRtn(w, [], { bits: 2 }), c: quantizeRtn(w, [0], { bits: 8 }) };
      const report = await saveQuantized(join(dir, 'm.safetensors'), layers, { note: 'test' });
      expect(report.layers).toBe(3);
      const { layers: back, sidecar } = await loadQuantized(join(dir, 'm.safetensors'));
      expect(sidecar.layers['a.q'].bits).toBe(3);
      expect(sidecar.layers['a.q'].bitsPerWeight).toBeLessThan(32);
      for (const [name, q] of Object.entries(layers)) {
        expect(Array.from(back[name].codes)).toEqual(Array.from(q.codes));
        expect(Array.from(dequantizeArray(back[name]))).toEqual(Array.from(dequantizeArray(q)));
      }
      w.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('RTN and GPTQ with salient columns', () => {
  const { rows, cols, tokens, salient } = fixture;
  const h = hessianOf(fixture.x, tokens, cols);

  for (const c of fixture.cases) {
    it(`matches the PyTorch implementation at ${c.bits} bits (fixture from tools/crosscheck/gift_gptq.py)`, () => {
      const weight = { data: fixture.weight, rows, cols };
      const r = quantizeRtn(weight, salient, { bits: c.bits });
      expectTensorsClose(r.scales, c.rtnScales, { atol: 0, rtol: 1e-7, label: 'RTN scales' });
      expectTensorsClose(dequantizeArray(r), c.rtn, { atol: 1e-6, rtol: 1e-6, label: 'RTN' });
      const g = quantizeGptq(weight, h, salient, { bits: c.bits, blockSize: fixture.blockSize, damp: fixture.damp });
      expectTensorsClose(g.quantized.scales, c.gptqScales, { atol: 0, rtol: 1e-7, label: 'GPTQ scales' });
      // float64 arithmetic on both sides; the result is stored in float32 here (codes·Δ and the compensated salient
      // columns), hence 1e-6 relative. Any flipped code would show as an error of one Δ (>= 1e-2 here).
      expectTensorsClose(dequantizeArray(g.quantized), c.gptq, { atol: 1e-6, rtol: 1e-6, label: 'GPTQ' });
      expect(Array.from(g.dead)).toEqual([11]);
    });
  }

  it('GPTQ layer error on the calibration data is below RTN at 2, 3 and 4 bits; salient columns absorb compensation', () => {
    for (const bits of [2, 3, 4] as const) {
      const weight = { data: fixture.weight, rows, cols };
      const wq = dequantizeArray(quantizeRtn(weight, salient, { bits }));
      const g = quantizeGptq(weight, h, salient, { bits, blockSize: 16 });
      const wg = dequantizeArray(g.quantized);
      const eR = layerError(fixture.weight, wq, h, rows, cols);
      const eG = layerError(fixture.weight, wg, h, rows, cols);
      expect(eG).toBeLessThan(eR);
      // RTN keeps salient columns exactly; GPTQ moves them (error compensation flows into them).
      expect(wq[3]).toBe(Math.fround(fixture.weight[3]));
      expect(Math.abs(wg[3] - fixture.weight[3])).toBeGreaterThan(0);
    }
  });

  it('dequantizeWeight returns a tensor with salient columns kept, and does not leak', async () => {
    const q = quantizeRtn({ data: fixture.weight, rows, cols }, salient, { bits: 4 });
    const t = dequantizeWeight(q);
    expect(t.shape).toEqual([rows, cols]);
    expectTensorsClose(tf.tidy(() => tf.gather(t, salient, 1)), tf.tidy(() => tf.gather(tf.tensor2d(fixture.weight, [rows, cols]), salient, 1)));
    t.dispose();
    await expectNoLeak(() => dequantizeWeight(q));
  });

  it('rejects bad input with a message naming the fix', () => {
    const weight = { data: fixture.weight, rows, cols };
    expect(() => quantizeGptq(weight, new Float64Array(4), salient)).toThrow(/Hessian has 4 entries, expected in² = 40²/);
    expect(() => quantizeRtn(weight, [40])).toThrow(/salient column 40 is out of range/);
    expect(() => quantizeRtn(weight, [1, 1])).toThrow(/listed twice/);
  });
});
