import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ActivationStats, Linear, Rng, findLinears, valueAndGrads } from '@sift/tensor-core';
import { expectNoLeak, expectTensorsClose } from '@sift/tensor-core/testing';
import { TinyModel, tinyTask } from '../internal/tiny-model.js';
import { fakeQuantize, rowScales } from '../quant/grid.js';
import { fineTune } from '../train/fine-tune.js';
import { mergeAdapters } from '../merge.js';
import { applyGiftSw, giftModeOptions, loadGiftAdapter, saveGiftAdapter } from './apply.js';
import { GiftLinear } from './gift-linear.js';
import { collectLinearStats, selectSalientColumns } from './select.js';

const CFG = { d: 16, hidden: 32, blocks: 2, classes: 4, seed: 1 };

async function calibrated(model: TinyModel, x: tf.Tensor): Promise<Map<string, ActivationStats>> {
  return collectLinearStats(model, { include: ['**'], exclude: ['**.lm_head'] }, () => {
    tf.tidy(() => model.forward(x));
  });
}

function weightsOf(model: TinyModel): Map<string, Float32Array> {
  return new Map(findLinears(model).map(([n, l]) => [n, Float32Array.from(l.effectiveWeight().dataSync())]));
}

describe('GiftLinear', () => {
  const rng = new Rng(5);
  const base = new Linear({ inFeatures: 24, outFeatures: 10, rng });
  const salient = [2, 9, 17];

  it('injects noise 0.5·Δ_i·N(0,1) on non-salient columns in training, none in eval, never on salient ones', () => {
    const g = GiftLinear.fromLinear(base, { salient, rng: new Rng(1), noiseBits: 3 });
    const eye = tf.eye(24);
    g.eval();
    const clean = tf.tidy(() => tf.sub(g.forward(eye), g.bias!)); // row j = column j of Wᵀ
    const again = tf.tidy(() => tf.sub(g.forward(eye), g.bias!));
    expectTensorsClose(again, clean, { atol: 0, rtol: 0, label: 'eval is deterministic (no noise)' });
    expectTensorsClose(tf.transpose(clean), g.effectiveWeight(), { atol: 1e-6, label: 'eval forward = merged weight' });
    g.train();
    const delta = g.delta();
    const draws = 200;
    const sum = new Float64Array(10);
    const sumSq = new Float64Array(10);
    let n = 0;
    for (let r = 0; r < draws; r++) {
      const noise = tf.tidy(() => tf.transpose(tf.sub(tf.sub(g.forward(eye), g.bias!), clean))).dataSync(); // [out, in]
      for (let i = 0; i < 10; i++) {
        for (let j = 0; j < 24; j++) {
          const v = noise[i * 24 + j];
          if (salient.includes(j)) {
            expect(Math.abs(v)).toBeLessThan(1e-6);
            continue;
          }
          sum[i] += v;
          sumSq[i] += v * v;
        }
      }
      n += 21;
    }
    // Per row 200 × 21 = 4200 draws: the sample std of a normal is within ±5% of σ with probability > 0.9999
    // (its relative standard error is 1/√(2·4200) ≈ 1.1%); the mean within 5 standard errors of 0.
    for (let i = 0; i < 10; i++) {
      const sigma = 0.5 * delta[i];
      const mean = sum[i] / n;
      const std = Math.sqrt(sumSq[i] / n - mean * mean);
      expect(Math.abs(std / sigma - 1)).toBeLessThan(0.05);
      expect(Math.abs(mean)).toBeLessThan((5 * sigma) / Math.sqrt(n));
    }
    tf.dispose([eye, clean, again]);
    g.dispose();
  });

  it('Δ comes from the b-bit grid of the non-salient columns', () => {
    const g = GiftLinear.fromLinear(base, { salient, rng: new Rng(1), noiseBits: 2 });
    const w = base.weight.dataSync();
    const skip = new Uint8Array(24);
    for (const j of salient) skip[j] = 1;
    expect(Array.from(g.delta())).toEqual(Array.from(rowScales(w, 10, 24, skip, { bits: 2 })));
    g.dispose();
  });

  it('only the salient columns get gradients', () => {
    const g = GiftLinear.fromLinear(base, { salient, rng: new Rng(1) });
    const x = new Rng(2).normalTensor([5, 24]);
    const { grads } = tf.tidy(() => {
      const r = valueAndGrads(g, () => tf.sum(tf.square(g.forward(x))));
      for (const t of Object.values(r.grads)) tf.keep(t);
      return { grads: r.grads };
    });
    expect(Object.keys(grads)).toEqual(['salient_weight']);
    expect(grads.salient_weight.shape).toEqual([10, 3]);
    // dL/dW_s equals the salient columns of the full weight gradient (eval: no noise).
    g.eval();
    const full = Linear.fromWeights(g.effectiveWeight(), g.bias);
    const gFull = tf.tidy(() => tf.keep(valueAndGrads(full, () => tf.sum(tf.square(full.forward(x)))).grads.weight));
    g.train();
    tf.dispose(grads);
    const gs = tf.tidy(() => {
      g.eval();
      const r = valueAndGrads(g, () => tf.sum(tf.square(g.forward(x))));
      return tf.keep(r.grads.salient_weight);
    });
    expectTensorsClose(gs, tf.gather(gFull, salient, 1), { atol: 1e-4, rtol: 1e-4 });
    tf.dispose([x, gFull, gs]);
    full.dispose();
    g.dispose();
  });

  it('the same seed gives the same noise; forward does not leak', async () => {
    const x = new Rng(3).normalTensor([4, 24]);
    const a = GiftLinear.fromLinear(base, { salient, rng: new Rng(9) });
    const b = GiftLinear.fromLinear(base, { salient, rng: new Rng(9) });
    expectTensorsClose(a.forward(x), b.forward(x), { atol: 0, rtol: 0 });
    await expectNoLeak(() => a.forward(x));
    a.dispose();
    b.dispose();
    x.dispose();
  });

  it('rejects bad options with the fix in the message', () => {
    expect(() => GiftLinear.fromLinear(base, { salient: [24] })).toThrow(/out of range \[0, 24\)/);
    expect(() => GiftLinear.fromLinear(base, { salient: [1] })).toThrow(/an rng is needed/);
  });
});

describe('applyGiftSw on a small model', () => {
  it('after training only the salient columns differ from the base; merged and unmerged forwards agree', async () => {
    const model = new TinyModel(CFG);
    const { x, y } = tinyTask(64, CFG.d, CFG.classes, 2);
    const before = weightsOf(model);
    const stats = await calibrated(model, x);
    const report = applyGiftSw(model, { k: 3, exclude: ['**.lm_head'] }, { stats });
    expect(report.layers).toHaveLength(12);
    expect(report.trainableParams).toBe(report.layers.reduce((n, l) => n + 3 * l.outFeatures, 0));
    const ft = await fineTune(model, (b: { x: tf.Tensor; y: tf.Tensor1D }) => model.loss(b.x, b.y), () => ({ x, y }), { steps: 15, lr: 1e-2 });
    expect(ft.losses.at(-1)!).toBeLessThan(ft.losses[0]);
    expect(ft.optimizerStateBytes).toBe(8 * report.trainableParams);
    model.eval();
    const unmerged = model.forward(x);
    const names = mergeAdapters(model);
    expect(names).toHaveLength(12);
    expectTensorsClose(model.forward(x), unmerged, { atol: 1e-4, rtol: 1e-4, label: 'merged vs unmerged' });
    const after = weightsOf(model);
    for (const layer of report.layers) {
      const w0 = before.get(layer.name)!;
      const w1 = after.get(layer.name)!;
      let changed = 0;
      for (let i = 0; i < layer.outFeatures; i++) {
        for (let j = 0; j < layer.inFeatures; j++) {
          const diff = w1[i * layer.inFeatures + j] !== w0[i * layer.inFeatures + j];
          if (layer.salient.includes(j)) changed += Number(diff);
          else expect(diff, `${layer.name}[${i}, ${j}] is not salient`).toBe(false);
        }
      }
      expect(changed).toBeGreaterThan(0);
    }
    expect(Array.from(after.get('lm_head')!)).toEqual(Array.from(before.get('lm_head')!));
    tf.dispose([x, y, unmerged]);
    for (const s of stats.values()) s.dispose();
    model.dispose();
  });

  it('the adapter checkpoint holds only salient columns, indices and Δ, and restores the trained model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gift-adapter-'));
    try {
      const model = new TinyModel(CFG);
      const { x, y } = tinyTask(32, CFG.d, CFG.classes, 3);
      const stats = await calibrated(model, x);
      applyGiftSw(model, { k: 2, targets: ['blocks.*.up_proj', 'blocks.*.down_proj'] }, { stats });
      await fineTune(model, (b: { x: tf.Tensor; y: tf.Tensor1D }) => model.loss(b.x, b.y), () => ({ x, y }), { steps: 5, lr: 1e-2 });
      const saved = await saveGiftAdapter(join(dir, 'a.safetensors'), model);
      // 2 up (32 x 2 + 2 + 32) + 2 down (16 x 2 + 2 + 16) floats/ints, plus the header
      expect(saved.bytes).toBeLessThan(4 * (2 * (64 + 2 + 32) + 2 * (32 + 2 + 16)) + 2048);
      const expected = model.forward(x);
      const fresh = new TinyModel(CFG);
      const names = await loadGiftAdapter(join(dir, 'a.safetensors'), fresh);
      expect(names).toEqual(['blocks.0.up_proj', 'blocks.0.down_proj', 'blocks.1.up_proj', 'blocks.1.down_proj']);
      fresh.eval();
      expectTensorsClose(fresh.forward(x), expected, { atol: 1e-5, rtol: 1e-5 });
      tf.dispose([x, y, expected]);
      model.dispose();
      fresh.dispose();
      for (const s of stats.values()) s.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('modes: random columns need no statistics; salient FT has no noise; unknown targets list the linears', () => {
    const model = new TinyModel(CFG);
    const r = applyGiftSw(model, { ...giftModeOptions('random-columns'), k: 2, seed: 4 });
    expect(r.layers.every((l) => l.salient.length === 2)).toBe(true);
    const g = model.getModule('blocks.0.q_proj', GiftLinear);
    expect(g.noise).toBe(true);
    expect(giftModeOptions('salient-ft')).toMatchObject({ noise: false });
    expect(giftModeOptions('post-gift-sw', 2)).toMatchObject({ noiseBits: 4, metricBits: 2 });
    expect(giftModeOptions('pre-gift-sw', 3)).toMatchObject({ noiseBits: 3 });
    const m2 = new TinyModel(CFG);
    expect(() => applyGiftSw(m2, { targets: ['nope.*'] })).toThrow(/no Linear matches targets \["nope\.\*"\].*blocks\.0\.q_proj/);
    expect(() => applyGiftSw(m2, { k: 2 })).toThrow(/no calibration statistics for "blocks\.0\.q_proj"/);
    model.dispose();
    m2.dispose();
  });
});

describe('metric presets as gift-sw uses them (closed forms)', () => {
  const rng = new Rng(11);
  const w = rng.normalTensor([6, 12]) as tf.Tensor2D;
  const xs = rng.normalTensor([40, 12]);
  const stats = new ActivationStats({ name: 'x' });
  stats.update(xs);
  const wd = w.dataSync();
  const xd = xs.dataSync();
  const maxX = Array.from({ length: 12 }, (_, j) => Math.max(...Array.from({ length: 40 }, (_, t) => Math.abs(xd[t * 12 + j]))));
  const l2X = Array.from({ length: 12 }, (_, j) => Math.sqrt(Array.from({ length: 40 }, (_, t) => xd[t * 12 + j] ** 2).reduce((a, b) => a + b)));
  const q = fakeQuantize(wd, 6, 12, rowScales(wd, 6, 12, null, { bits: 3 }), 3);
  const dCol = (j: number, norm: 'inf' | 2): number => {
    const v = Array.from({ length: 6 }, (_, i) => wd[i * 12 + j] - q[i * 12 + j]);
    return norm === 'inf' ? Math.max(...v.map(Math.abs)) : Math.sqrt(v.reduce((a, b) => a + b * b, 0));
  };
  const cases: [string, (j: number) => number][] = [
    ['gift-sw', (j) => dCol(j, 'inf') * maxX[j]],
    ['quik', (j) => maxX[j]],
    ['owq', (j) => dCol(j, 2) ** 2 * l2X[j] ** 2],
    ['wanda', (j) => Array.from({ length: 6 }, (_, i) => Math.abs(wd[i * 12 + j])).reduce((a, b) => a + b) * l2X[j]],
  ];
  for (const [preset, closed] of cases) {
    it(`'${preset}' scores equal the closed form and pick its top-k`, () => {
      const { scores, columns } = selectSalientColumns(w, stats, { k: 4, bits: 3, metric: preset as 'gift-sw' });
      const expected = Array.from({ length: 12 }, (_, j) => closed(j));
      expectTensorsClose(scores, expected, { atol: 1e-6, rtol: 1e-4 });
      const top = expected.map((v, j) => [v, j] as const).sort((a, b) => b[0] - a[0]).slice(0, 4).map(([, j]) => j).sort((a, b) => a - b);
      expect(Array.from(columns)).toEqual(top);
    });
  }
});
