import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { findLinears } from '@sift/tensor-core';
import { expectNoLeak } from '@sift/tensor-core/testing';
import { TinyModel, tinyTask } from '../internal/tiny-model.js';
import { applyLora } from '../baselines/lora.js';
import { applyGiftSw } from '../gift/apply.js';
import { fineTune, fineTuneStateInfo, readFineTuneState, writeFineTuneState, type FineTuneOptions } from './fine-tune.js';

const CFG = { d: 16, hidden: 32, blocks: 2, classes: 4, seed: 1 };
const OPTS: Partial<FineTuneOptions> = { steps: 10, lr: 1e-2, warmupRatio: 0.2 };
const dir = mkdtempSync(join(tmpdir(), 'sift-finetune-state-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Batch { x: tf.Tensor; y: tf.Tensor1D }
type Method = 'gift' | 'lora';

/** A fresh model with the method applied: GIFT-SW with noise (random columns) or LoRA with dropout, both seeded. */
function setUp(method: Method, k = 3): TinyModel {
  const model = new TinyModel(CFG);
  if (method === 'gift') applyGiftSw(model, { k, columns: 'random', exclude: ['**.lm_head'], noise: true, seed: 4 });
  else applyLora(model, { rank: 2, dropout: 0.2, exclude: ['**.lm_head'], seed: 4 });
  return model;
}

function weights(model: TinyModel): Float32Array[] {
  return findLinears(model).map(([, l]) => Float32Array.from(l.effectiveWeight().dataSync()));
}

describe('fineTune snapshots and resume', () => {
  const data: Batch[] = [0, 1, 2].map((s) => tinyTask(16, CFG.d, CFG.classes, 10 + s));
  const batch = (i: number): Batch => data[i % data.length];
  const lossOf = (model: TinyModel) => (b: Batch) => model.loss(b.x, b.y);

  for (const method of ['gift', 'lora'] as const) {
    it(`${method}: a run resumed from a snapshot file ends bit-identical to the uninterrupted run`, async () => {
      const whole = setUp(method);
      const ref = await fineTune(whole, lossOf(whole), batch, OPTS);
      expect(ref.resumedFrom).toBeNull();
      const want = weights(whole);

      // The interrupted run: snapshots every 3 steps; keep the one after step 6 and "crash" by throwing at step 8.
      const first = setUp(method);
      const file = join(dir, `${method}.safetensors`);
      const taken: number[] = [];
      const crash = new Error('killed');
      await expect(fineTune(first, lossOf(first), batch, OPTS, {
        checkpointEvery: 3,
        callerState: () => ({ sampler: taken.length }),
        onCheckpoint: async (s, step) => {
          taken.push(step);
          if (step <= 6) await writeFineTuneState(file, s);
        },
        onProgress: (p) => { if (p.step === 8) throw crash; },
      })).rejects.toBe(crash);
      expect(taken).toEqual([3, 6]);
      first.dispose();

      const state = await readFineTuneState(file);
      expect(fineTuneStateInfo(state)).toEqual({ step: 6, of: 10, caller: { sampler: 1 } });
      const again = setUp(method);
      const resumed = await fineTune(again, lossOf(again), batch, OPTS, { resume: state });
      tf.dispose(Object.values(state.tensors));
      expect(resumed.resumedFrom).toBe(6);
      expect(resumed.losses).toEqual(ref.losses); // the first 6 from the snapshot, the last 4 recomputed
      const got = weights(again);
      got.forEach((w, i) => { expect(Array.from(w), `linear ${i}`).toEqual(Array.from(want[i])); });
      whole.dispose();
      again.dispose();
    });
  }

  it('refuses a snapshot of another setup or other options, naming the difference', async () => {
    const model = setUp('gift');
    const file = join(dir, 'k3.safetensors');
    await fineTune(model, lossOf(model), batch, { ...OPTS, steps: 4 }, { checkpointEvery: 2, onCheckpoint: (s) => writeFineTuneState(file, s) });
    const state = await readFineTuneState(file);
    const fresh = setUp('gift');
    await expect(fineTune(fresh, lossOf(fresh), batch, { ...OPTS, steps: 5 }, { resume: state })).rejects.toThrow(/steps was 4 in the snapshot and is 5 now/);
    const otherK = setUp('gift', 2);
    await expect(fineTune(otherK, lossOf(otherK), batch, { ...OPTS, steps: 4 }, { resume: state })).rejects.toThrow(/apply the same method, options and seed/);
    const lora = setUp('lora');
    await expect(fineTune(lora, lossOf(lora), batch, { ...OPTS, steps: 4 }, { resume: state })).rejects.toThrow(/cannot resume/);
    tf.dispose(Object.values(state.tensors));
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 123, 125]));
    await expect(readFineTuneState(bad)).rejects.toThrow(/not a Sift fine-tuning snapshot/);
    await expect(fineTune(fresh, lossOf(fresh), batch, OPTS, { checkpointEvery: 2 })).rejects.toThrow(/pass onCheckpoint/);
    for (const m of [model, fresh, otherK, lora]) m.dispose();
  });

  it('snapshots and resumes leak no tensors', async () => {
    const model = setUp('gift');
    const file = join(dir, 'leak.safetensors');
    await fineTune(model, lossOf(model), batch, { ...OPTS, steps: 3 }, { checkpointEvery: 1, onCheckpoint: (s) => writeFineTuneState(file, s) });
    const state = await readFineTuneState(file);
    await expectNoLeak(async () => {
      const m = setUp('gift');
      await fineTune(m, lossOf(m), batch, { ...OPTS, steps: 3 }, { resume: state, checkpointEvery: 1, onCheckpoint: () => undefined });
      m.dispose();
    });
    tf.dispose(Object.values(state.tensors));
    model.dispose();
  });
});
