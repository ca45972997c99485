import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ActivationStats, SiftError } from '@sift/tensor-core';
import { expectNoLeak, seeded } from '@sift/tensor-core/testing';
import { magnitudeScore, wandaScore } from '@sift/salience';
import { nmMask } from '../mask/nm-mask.js';
import { PRUNE_DEFAULTS, parsePruneOptions, type MethodName } from './config.js';
import { pruneLayer } from './prune-layer.js';
import { METHODS } from './registry.js';

const rows = 24, cols = 64, T = 200;
const rng = seeded('registry');
const w = rng.normalTensor([rows, cols]) as tf.Tensor2D;
const xData = rng.fillNormal(new Float32Array(T * cols));
for (let t = 0; t < T; t++) xData[t * cols + 9] *= 15;
const x = tf.tensor2d(xData, [T, cols]);
const stats = new ActivationStats({ name: 'registry input', gram: true });
stats.update(x);

function groupsExact(mask: Uint8Array, n: number, m: number): boolean {
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += m) {
      let k = 0;
      for (let j = 0; j < m; j++) k += mask[r * cols + g + j];
      if (k !== n) return false;
    }
  }
  return true;
}

// The same checks for every registered method (PEFT's TEST_CASES idea).
describe.each(Object.keys(METHODS) as MethodName[])('method %s (conformance)', (method) => {
  it.each(['2:4', '4:8', '8:16', '16:32'])('%s: exactly N kept in every group; W̃ is zero exactly off the mask', (pattern) => {
    const r = pruneLayer({ name: 'fc', weight: w, stats }, { method, pattern });
    const [n, m] = pattern.split(':').map(Number);
    expect(groupsExact(r.mask, n, m)).toBe(true);
    for (let i = 0; i < r.mask.length; i++) if (r.mask[i] === 0) expect(r.weight[i]).toBe(0);
    expect(r.report.sparsity).toBeGreaterThanOrEqual(1 - n / m);
    expect(r.report.reconstructionError).toBeGreaterThan(0);
    expect(r.report.timeMs).toBeGreaterThanOrEqual(0);
  });

  it('unstructured 50% and salient weights (structured / row / layer, counted or not) keep the right counts', () => {
    const u = pruneLayer({ weight: w, stats }, { method, pattern: 'unstructured', sparsity: 0.5 });
    expect(u.report.sparsity).toBeCloseTo(0.5, 2);
    for (const salientPattern of ['structured', 'row', 'layer'] as const) {
      for (const salientCountsTowardN of [true, false]) {
        const r = pruneLayer({ weight: w, stats }, { method, pattern: '8:16', salientFraction: 1 / 32, salientGroup: 32, salientPattern, salientCountsTowardN });
        let nSal = 0;
        for (let i = 0; i < r.mask.length; i++) if (r.salient![i] === 1) nSal++;
        expect(nSal).toBe((rows * cols) / 32);
        const kept = r.mask.reduce((a, b) => a + b, 0);
        if (salientCountsTowardN) expect(kept).toBeLessThanOrEqual(rows * cols / 2 + nSal);
        else expect(kept).toBe(rows * cols / 2 + nSal);
        expect(r.report.salientFraction).toBeCloseTo(1 / 32, 6);
      }
    }
  });

  it('mask = keep ∪ salient; W̃ = W on the mask (methods without updates); reported sparsity counts exact zeros', () => {
    const wd = Float32Array.from(w.dataSync());
    wd[5] = 0; // exact zeros, both signs, that the mask may keep
    wd[cols + 7] = -0;
    const w0 = tf.tensor2d(wd, [rows, cols]);
    const r = pruneLayer({ weight: w0, stats }, { method, pattern: '4:8', salientFraction: 1 / 16, salientGroup: 16 });
    w0.dispose();
    let zeros = 0;
    for (let i = 0; i < r.mask.length; i++) {
      expect(r.mask[i]).toBe(r.keep[i] | r.salient![i]);
      if (!METHODS[method].updatesWeights && r.mask[i] === 1) expect(r.weight[i]).toBe(wd[i]);
      if (r.mask[i] === 0) expect(Object.is(r.weight[i], 0)).toBe(true); // +0, never -0
      if (r.weight[i] === 0) zeros++;
    }
    expect(r.report.sparsity).toBe(zeros / r.weight.length);
  });

  it('the same inputs give the same mask; nothing leaks', async () => {
    const a = pruneLayer({ weight: w, stats }, { method, pattern: '8:16' });
    const b = pruneLayer({ weight: w, stats }, { method, pattern: '8:16' });
    expect(a.mask).toEqual(b.mask);
    expect(a.weight).toEqual(b.weight);
    await expectNoLeak(() => {
      pruneLayer({ weight: w, stats }, { method, pattern: '2:4', varianceCorrection: 'data-driven' });
    }, { repeats: 2 });
  });
});

describe('pruneLayer', () => {
  it('magnitude and Wanda masks are nmMask of their salience scores', () => {
    for (const [method, score] of [['magnitude', magnitudeScore(w)], ['wanda', wandaScore(w, stats)]] as const) {
      const ref = nmMask(score, '8:16');
      const r = pruneLayer({ weight: w, stats }, { method, pattern: '8:16' });
      expect(Array.from(r.mask)).toEqual(Array.from(ref.dataSync()));
      tf.dispose([score, ref]);
    }
  });

  it('bad configs and inputs throw SiftErrors naming the field and the fix', () => {
    expect(() => parsePruneOptions({ method: 'obs' as never })).toThrow(/method must be one of 'magnitude', 'wanda', 'sparsegpt', got "obs"/u);
    expect(() => parsePruneOptions({ sparsty: 0.5 } as never)).toThrow(/unknown option "sparsty"/u);
    expect(() => parsePruneOptions({ pattern: '8:16', blockSize: 100 })).toThrow(/blockSize 100 must be a multiple of M=16/u);
    expect(() => parsePruneOptions({ method: 'sparsegpt', pattern: 'unstructured', scope: 'row' })).toThrow(/scope 'block'/u);
    expect(() => parsePruneOptions({ meanFix: true })).toThrow(/meanFix needs varianceCorrection 'data-driven'/u);
    expect(() => parsePruneOptions({ salientFraction: 0.7 })).toThrow(/salientFraction must be in \[0, 0.5\)/u);
    const w24 = tf.zeros<tf.Rank.R2>([4, 24]);
    expect(() => pruneLayer({ name: 'h.3.mlp.c_fc', weight: w24 }, { method: 'magnitude', pattern: '8:16' }))
      .toThrow(/layer "h.3.mlp.c_fc": in_features 24 is not a multiple of M=16/u);
    expect(() => pruneLayer({ weight: w }, { method: 'wanda' })).toThrow(SiftError);
    expect(() => pruneLayer({ weight: w, stats: new ActivationStats() }, { method: 'sparsegpt' })).toThrow(/gram: true/u);
    expect(() => pruneLayer({ weight: w, stats }, { method: 'magnitude', varianceCorrection: 'data-driven', meanFix: true })).toThrow(/has none; set meanFix: false/u);
    expect(PRUNE_DEFAULTS.method).toBe('wanda');
    w24.dispose();
  });
});
