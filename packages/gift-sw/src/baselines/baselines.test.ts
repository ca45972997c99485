import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Linear, Rng, valueAndGrads } from '@sift/tensor-core';
import { expectNoLeak, expectTensorsClose } from '@sift/tensor-core/testing';
import { TinyModel, tinyTask } from '../internal/tiny-model.js';
import { fakeQuantize, rowScales } from '../quant/grid.js';
import { mergeAdapters } from '../merge.js';
import { fineTune } from '../train/fine-tune.js';
import { DoraLinear, LoraLinear, applyDora, applyLora, loraRankForBudget } from './lora.js';
import { NoisyLinear, SteLinear, applyFullFineTuning, applySte } from './full.js';

const CFG = { d: 16, hidden: 32, blocks: 2, classes: 4, seed: 1 };

describe('LoRA and DoRA', () => {
  const base = new Linear({ inFeatures: 20, outFeatures: 12, rng: new Rng(1) });
  const x = new Rng(2).normalTensor([7, 20]);

  it('a LoRA at initialisation leaves the function unchanged (train mode, dropout on)', () => {
    const l = new LoraLinear(base, { rank: 4, alpha: 8, dropout: 0.1, rng: new Rng(3) });
    l.train();
    expectTensorsClose(l.forward(x), base.forward(x), { atol: 1e-6, rtol: 1e-6 });
    expect(l.scaling).toBe(2);
    l.dispose();
  });

  it("DoRA's magnitude/direction decomposition reproduces the base weight at init", () => {
    const d = new DoraLinear(base, { rank: 4, alpha: 8, dropout: 0, rng: new Rng(3) });
    expectTensorsClose(d.effectiveWeight(), base.weight, { atol: 1e-6, rtol: 1e-5 });
    expectTensorsClose(d.magnitude, tf.sqrt(tf.sum(tf.square(base.weight), 1)), { atol: 1e-6 });
    expectTensorsClose(d.forward(x), base.forward(x), { atol: 1e-5, rtol: 1e-5 });
    d.dispose();
  });

  it('gradients reach only the adapters; after a step the merged LoRA equals the unmerged forward', async () => {
    const l = new LoraLinear(base, { rank: 3, alpha: 3, dropout: 0, rng: new Rng(4) });
    const names = tf.tidy(() => Object.keys(valueAndGrads(l, () => tf.sum(tf.square(l.forward(x)))).grads));
    expect(names.sort()).toEqual(['lora_A', 'lora_B']);
    tf.tidy(() => {
      l.loraB.assign(new Rng(5).normalTensor([12, 3]));
    });
    const merged = l.merge();
    expectTensorsClose(merged.forward(x), l.forward(x), { atol: 1e-5, rtol: 1e-5 });
    await expectNoLeak(() => l.forward(x));
    merged.dispose();
    l.dispose();
  });

  it('budget rank and trainable-parameter counts', () => {
    expect(loraRankForBudget(8, 256, 256)).toBe(4);
    expect(loraRankForBudget(8, 256, 1024)).toBe(2);
    expect(loraRankForBudget(1, 16, 1024)).toBe(1);
    const model = new TinyModel(CFG);
    const r = applyLora(model, { rank: 2 });
    // per block: q, v, o (16x16), gate, up (16->32), down (32->16): r·(in + out) each
    const perBlock = 3 * 2 * 32 + 2 * 2 * 48 + 2 * 48;
    expect(r.trainableParams).toBe(2 * perBlock);
    expect(r.layers).toHaveLength(12);
    const m2 = new TinyModel(CFG);
    const rd = applyDora(m2, { rank: 2 });
    expect(rd.trainableParams).toBe(2 * perBlock + 2 * (3 * 16 + 2 * 32 + 16));
    model.dispose();
    m2.dispose();
  });
});

describe('full fine-tuning and STE', () => {
  const base = new Linear({ inFeatures: 20, outFeatures: 12, rng: new Rng(1) });

  it('NoisyLinear: noise std 0.5·Δ on every weight in training, none in eval', () => {
    const n = new NoisyLinear(base, { noiseBits: 4, rng: new Rng(2) });
    const delta = rowScales(base.weight.dataSync(), 12, 20, null, { bits: 4 });
    n.eval();
    expect(n.effectiveWeight()).toBe(n.weight);
    n.train();
    const draws = 50;
    let ratio = 0;
    for (let r = 0; r < draws; r++) {
      const d = tf.tidy(() => tf.sub(n.effectiveWeight(), n.weight)).dataSync();
      for (let i = 0; i < 12; i++) for (let j = 0; j < 20; j++) ratio += (d[i * 20 + j] / (0.5 * delta[i])) ** 2;
    }
    // 12 000 standardized draws: their mean square is 1 ± 0.013 (1 s.e.); tolerance 5%.
    expect(Math.abs(ratio / (draws * 240) - 1)).toBeLessThan(0.05);
    n.dispose();
  });

  it('SteLinear: forward uses Q(W) with salient columns in full precision; gradient passes straight through', () => {
    const s = new SteLinear(base, { bits: 3, salient: [4] });
    const w = base.weight.dataSync();
    const skip = new Uint8Array(20);
    skip[4] = 1;
    const q = fakeQuantize(w, 12, 20, rowScales(w, 12, 20, skip, { bits: 3 }), 3);
    for (let i = 0; i < 12; i++) q[i * 20 + 4] = w[i * 20 + 4];
    expectTensorsClose(s.effectiveWeight(), q, { atol: 1e-6 });
    const x = new Rng(3).normalTensor([5, 20]);
    const g = tf.tidy(() => tf.keep(valueAndGrads(s, () => tf.sum(s.forward(x))).grads.weight));
    // d/dW of sum(x Q(W)ᵀ) with the STE is the column sums of x, broadcast over rows.
    const expected = tf.tidy(() => tf.tile(tf.sum(x, 0, true), [12, 1]));
    expectTensorsClose(g, expected, { atol: 1e-5 });
    tf.dispose([x, g, expected]);
    s.dispose();
  });

  it('apply functions unfreeze everything and report parameter counts; merge gives plain linears', async () => {
    const model = new TinyModel(CFG);
    const { x, y } = tinyTask(32, CFG.d, CFG.classes, 5);
    const r = applyFullFineTuning(model, { noise: true });
    expect(r.kind).toBe('full-noise');
    expect(r.trainableParams).toBe(r.totalParams);
    const ft = await fineTune(model, (b: { x: tf.Tensor; y: tf.Tensor1D }) => model.loss(b.x, b.y), () => ({ x, y }), { steps: 8, lr: 3e-3 });
    expect(ft.losses.at(-1)!).toBeLessThan(ft.losses[0]);
    expect(ft.optimizerStateBytes).toBe(8 * r.trainableParams);
    expect(mergeAdapters(model)).toHaveLength(12);
    const m2 = new TinyModel(CFG);
    const rs = applySte(m2, { bits: 4 });
    expect(rs.kind).toBe('ste');
    m2.eval();
    const before = m2.forward(x);
    mergeAdapters(m2);
    expectTensorsClose(m2.forward(x), before, { atol: 1e-4, rtol: 1e-4, label: 'merged STE = quantized forward' });
    tf.dispose([x, y, before]);
    model.dispose();
    m2.dispose();
  });
});
