import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectTensorsClose } from '@sift/tensor-core/testing';
import { TinyModel, tinyTask } from '../internal/tiny-model.js';
import { applyGiftSw, giftModeOptions } from '../gift/apply.js';
import { GiftLinear } from '../gift/gift-linear.js';
import { collectLinearStats } from '../gift/select.js';
import { fineTune } from '../train/fine-tune.js';
import { loadQuantized, saveQuantized } from './pack.js';
import { dequantizeWeight } from './quantize.js';
import { quantizeModel, type QuantizeProgress } from './quantize-model.js';

const CFG = { d: 16, hidden: 32, blocks: 2, classes: 4, seed: 1 };

describe('quantizeModel', () => {
  it('GPTQ beats RTN per layer on calibration data, keeps k columns, saves packed and loads back; Post-GIFT-SW trains on top', async () => {
    const { x, y } = tinyTask(128, CFG.d, CFG.classes, 7);
    const targets = { include: ['**'], exclude: ['**.lm_head'] };
    const rtnModel = new TinyModel(CFG);
    const gptqModel = new TinyModel(CFG);
    const stats = await collectLinearStats(gptqModel, targets, () => {
      tf.tidy(() => gptqModel.forward(x));
    }, { gram: true });
    const rtn = quantizeModel(rtnModel, { bits: 3, method: 'rtn', k: 2 }, { stats });
    const progress: QuantizeProgress[] = [];
    const gptq = quantizeModel(gptqModel, { bits: 3, method: 'gptq', k: 2, blockSize: 8 }, { stats, onProgress: (p) => progress.push(p) });
    expect(progress.map((p) => p.index)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    for (let i = 0; i < gptq.report.length; i++) {
      expect(gptq.report[i].salient).toEqual(rtn.report[i].salient);
      expect(gptq.report[i].salient).toHaveLength(2);
      expect(gptq.report[i].error).toBeLessThan(rtn.report[i].error);
    }
    const dir = mkdtempSync(join(tmpdir(), 'gift-qm-'));
    try {
      const path = join(dir, 'model.q3.safetensors');
      await saveQuantized(path, gptq.layers, { bits: 3 });
      const { layers } = await loadQuantized(path);
      const w = dequantizeWeight(layers['blocks.1.down_proj']);
      expectTensorsClose(w, gptqModel.blocks.get(1).down_proj.weight, { atol: 1e-6, label: 'loaded = in-model dequantized weight' });
      w.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Post-GIFT-SW: train the quantizer's salient columns with 4-bit noise on the quantized rest.
    const salient = Object.fromEntries(gptq.report.map((r) => [r.name, r.salient]));
    const frozen = new Map(gptq.report.map((r) => [r.name, Float32Array.from(gptqModel.getModule(r.name).stateDict().weight.dataSync())]));
    const rep = applyGiftSw(gptqModel, { ...giftModeOptions('post-gift-sw', 3), k: 2 }, { salient });
    expect(rep.layers.map((l) => l.salient)).toEqual(gptq.report.map((r) => r.salient));
    await fineTune(gptqModel, (b: { x: tf.Tensor; y: tf.Tensor1D }) => gptqModel.loss(b.x, b.y), () => ({ x, y }), { steps: 3, lr: 1e-2 });
    for (const [name, w0] of frozen) {
      const g = gptqModel.getModule(name, GiftLinear);
      const w1 = g.weight.dataSync();
      for (let i = 0; i < w0.length; i++) if (!g.salient.includes(i % g.inFeatures)) expect(w1[i]).toBe(w0[i]);
    }
    tf.dispose([x, y]);
    for (const s of stats.values()) s.dispose();
    rtnModel.dispose();
    gptqModel.dispose();
  });

  it('explains what is missing', async () => {
    const model = new TinyModel(CFG);
    expect(() => quantizeModel(model, { k: 2 })).toThrow(/need calibration statistics for "blocks\.0\.q_proj"/);
    const { x } = tinyTask(16, CFG.d, CFG.classes, 1);
    const stats = await collectLinearStats(model, { include: ['blocks.0.q_proj'] }, () => {
      tf.tidy(() => model.forward(x));
    });
    expect(() => quantizeModel(model, { k: 0, targets: ['blocks.0.q_proj'], method: 'gptq' }, { stats })).toThrow(/GPTQ needs the Hessian.*gram: true/);
    x.dispose();
    model.dispose();
  });
});
