import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@sift/tensor-core/testing';
import { sparsegptPrune } from './sparsegpt.js';

interface Fixture {
  rows: number; cols: number; tokens: number; dampPercent: number;
  cases: { name: string; n: number; m: number; sparsity: number; blockSize: number; loss: number; weight: number[] }[];
}
const fx = JSON.parse(readFileSync(new URL('../../test/fixtures/sparsegpt-torch.json', import.meta.url), 'utf8')) as Fixture;

/** The 32-bit LCG of tools/crosscheck/nm_sparsegpt.py: u in [-0.5, 0.5). */
function lcg(seed: number, count: number): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

const { rows, cols, tokens } = fx;
const x = lcg(1, tokens * cols);
for (let t = 0; t < tokens; t++) for (let j = 0; j < cols; j += 37) x[t * cols + j] *= 10;
const w = Float32Array.from(lcg(2, rows * cols));
/** H = 2/n XᵀX in float64, as the script computes it. */
const H = new Float64Array(cols * cols);
for (let t = 0; t < tokens; t++) {
  const o = t * cols;
  for (let i = 0; i < cols; i++) {
    const xi = x[o + i];
    for (let j = 0; j < cols; j++) H[i * cols + j] += xi * x[o + j];
  }
}
for (let i = 0; i < H.length; i++) H[i] *= 2 / tokens;

/** Σ_t ‖x_t (W − Ŵ)ᵀ‖² = tr(Δ XᵀX Δᵀ): the layer-wise reconstruction error. */
function reconError(a: Float32Array, b: ArrayLike<number>): number {
  let e = 0;
  for (let r = 0; r < rows; r++) {
    const d = Float64Array.from({ length: cols }, (_, j) => a[r * cols + j] - b[r * cols + j]);
    for (let i = 0; i < cols; i++) {
      if (d[i] === 0) continue;
      let s = 0;
      for (let j = 0; j < cols; j++) s += H[i * cols + j] * d[j];
      e += d[i] * s;
    }
  }
  return e;
}

describe('sparsegptPrune against PyTorch (tools/crosscheck/nm_sparsegpt.py, float64)', () => {
  for (const c of fx.cases) {
    it(`${c.name}: same mask, weights within 2e-6 + 1e-5·|w|, same OBS loss (rtol 1e-6)`, () => {
      const r = sparsegptPrune({
        weight: w, rows, cols, hessian: H, nm: c.m === 0 ? null : { n: c.n, m: c.m }, sparsity: c.sparsity,
        blockSize: c.blockSize, dampPercent: fx.dampPercent,
      });
      let maskDiff = 0;
      let worst = 0;
      for (let i = 0; i < w.length; i++) {
        if ((r.weight[i] === 0) !== (c.weight[i] === 0)) maskDiff++;
        worst = Math.max(worst, Math.abs(r.weight[i] - c.weight[i]) - 1e-5 * Math.abs(c.weight[i]));
      }
      expect(maskDiff).toBe(0);
      // Both are float64 computations rounded to float32 at the end; 2e-6 absolute covers float32 rounding of |w| <= ~4.
      expect(worst).toBeLessThan(2e-6);
      expect(Math.abs(r.loss - c.loss) / c.loss).toBeLessThan(1e-6);
      if (c.m !== 0) {
        for (let rr = 0; rr < rows; rr++) {
          for (let g = 0; g < cols; g += c.m) {
            let kept = 0;
            for (let k = 0; k < c.m; k++) kept += r.keep[rr * cols + g + k];
            expect(kept).toBe(c.n);
          }
        }
      }
    });
  }

  it('the OBS updates lower the reconstruction error below the same mask without updates', () => {
    for (const nm of [{ n: 2, m: 4 }, { n: 8, m: 16 }, null]) {
      const r = sparsegptPrune({ weight: w, rows, cols, hessian: H, nm, sparsity: 0.5, blockSize: 128, dampPercent: 0.01 });
      const masked = w.map((v, i) => (r.keep[i] === 1 ? v : 0));
      expect(reconError(w, r.weight)).toBeLessThan(0.8 * reconError(w, masked));
    }
  });

  it('salient entries are never pruned and keep N:M elsewhere; dead inputs are zeroed', () => {
    const h = H.slice();
    for (let j = 0; j < cols; j++) {
      h[5 * cols + j] = 0;
      h[j * cols + 5] = 0;
    }
    const r = sparsegptPrune({
      weight: w, rows, cols, hessian: h, nm: { n: 8, m: 16 }, sparsity: 0.5, blockSize: 128, dampPercent: 0.01,
      salient: { fraction: 1 / 32, pattern: 'structured', group: 32, countTowardN: false },
    });
    expect(Array.from(r.dead)).toEqual([5]);
    for (let rr = 0; rr < rows; rr++) expect(r.weight[rr * cols + 5]).toBe(0);
    let nSal = 0;
    for (let i = 0; i < w.length; i++) {
      if (r.salient![i] === 1) {
        nSal++;
        expect(r.keep[i]).toBe(0);
      }
    }
    expect(nSal).toBe((rows * cols) / 32);
    for (let rr = 0; rr < rows; rr++) {
      for (let g = 0; g < cols; g += 16) {
        let kept = 0;
        for (let k = 0; k < 16; k++) kept += r.keep[rr * cols + g + k];
        expect(kept).toBe(8); // salient entries do not count toward N here
      }
    }
  });

  it('large layers (device lazy updates) give W ⊙ mask exactly for a diagonal H, and do not leak', async () => {
    // 2560 x 1024: the first lazy update needs 2560·128·896 multiply-adds > 2^28, so the columns not yet processed live
    // on the tfjs backend (float32 matMuls) instead of the float64 host path.
    const R = 2560, C = 1024;
    const wl = Float32Array.from(lcg(3, R * C));
    const hl = new Float64Array(C * C);
    for (let i = 0; i < C; i++) hl[i * C + i] = 1 + (i % 7);
    const run = (): tf.Tensor[] => {
      const r = sparsegptPrune({ weight: wl, rows: R, cols: C, hessian: hl, nm: { n: 2, m: 4 }, sparsity: 0.5, blockSize: 128, dampPercent: 0.01 });
      // Diagonal H: no cross-column updates, so the result is exactly W ⊙ mask.
      for (let i = 0; i < R * C; i += 97) expect(r.weight[i]).toBe(r.keep[i] === 1 ? wl[i] : 0);
      return [];
    };
    await expectNoLeak(run, { repeats: 1, label: 'sparsegptPrune' });
  });
});
