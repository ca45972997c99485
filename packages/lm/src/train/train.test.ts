import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '@sift/tensor-core';
import { expectTensorsClose } from '@sift/tensor-core/testing';
import { createModel } from '../model/build.js';
import { parseModelConfig } from '../model/config.js';
import { trainLm, type TrainOptions, type TrainProgress } from './train.js';

const tmp = mkdtempSync(join(tmpdir(), 'sift-lm-train-'));
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });

const CONFIG = parseModelConfig({
  model_type: 'llama', vocab_size: 32, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 32,
});

/** A learnable stream: a noisy cycle over 0..15. */
function stream(n: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, (_, i) => (rng.float() < 0.1 ? rng.int(32) : (i * 3) % 16));
}

const OPTS: Partial<TrainOptions> = { steps: 16, batchSize: 4, seqLen: 16, lr: 3e-3, minLr: 3e-4, warmupSteps: 4, evalBatches: 2, logEvery: 4, seed: 3 };

describe('trainLm', () => {
  it('lowers the validation loss and reports progress with tokens/s and ETA', async () => {
    const model = createModel(CONFIG, { rng: new Rng(1) });
    const progress: TrainProgress[] = [];
    const before = tf.memory().numTensors;
    const r = await trainLm(model, { train: stream(4000, 1), validation: stream(600, 2) }, { ...OPTS, steps: 40, evalEvery: 20 },
      { onProgress: (p) => progress.push(p) });
    expect(r.steps).toBe(40);
    expect(r.history.map((h) => h.step)).toEqual([4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
    expect(r.history[4].valLoss).toBeDefined();
    expect(r.valLoss!).toBeLessThan(Math.log(32) - 0.5); // well below uniform guessing (3.47 nats)
    expect(r.valPerplexity).toBeCloseTo(Math.exp(r.valLoss!), 6);
    expect(progress.at(-1)).toMatchObject({ step: 40, totalSteps: 40, etaSeconds: 0 });
    expect(progress[0].tokensPerSecond).toBeGreaterThan(0);
    expect(progress[0].etaSeconds).toBeGreaterThan(0);
    expect(r.checkpoint).toBeNull();
    expect(tf.memory().numTensors).toBe(before); // no leaks: optimizer slots and step tensors are freed
    model.dispose();
  });

  it('resumes exactly after a kill: k steps + resume k steps equals 2k steps (weights and loss bit-identical)', async () => {
    const data = { train: stream(3000, 4) };
    const full = createModel(CONFIG, { rng: new Rng(9) });
    const a = await trainLm(full, data, { ...OPTS, checkpointEvery: 8, checkpointDir: join(tmp, 'full') });
    expect(a.checkpoint).toBe(join(tmp, 'full', 'training-state.safetensors'));

    const dir = join(tmp, 'killed');
    const first = createModel(CONFIG, { rng: new Rng(9) });
    const b1 = await trainLm(first, data, { ...OPTS, checkpointEvery: 8, checkpointDir: dir }, { shouldStop: (s) => s === 8 });
    expect(b1).toMatchObject({ steps: 8, stopped: true });
    first.dispose(); // the "kill": nothing survives but the checkpoint
    const resumed = createModel(CONFIG, { rng: new Rng(12345) }); // other init: the checkpoint overwrites it
    const b2 = await trainLm(resumed, data, { ...OPTS, checkpointEvery: 8, checkpointDir: dir });
    expect(b2).toMatchObject({ steps: 16, stopped: false, resumedFrom: 8 });
    expect(b2.lastLoss).toBe(a.lastLoss);
    expect(b2.history).toEqual(a.history);
    const want = full.namedParameters();
    const got = resumed.namedParameters();
    for (let i = 0; i < want.length; i++) expectTensorsClose(got[i][1], want[i][1], { atol: 0, rtol: 0, label: want[i][0] });
    full.dispose();
    resumed.dispose();
    expect(existsSync(join(dir, 'training-state.safetensors'))).toBe(true);
  });

  it('checks its options', async () => {
    const model = createModel(CONFIG, { rng: new Rng(1) });
    const data = { train: stream(500, 1) };
    await expect(trainLm(model, data, { ...OPTS, seqLen: 64 })).rejects.toThrow(/seqLen must be <= the model's context \(32\)/);
    await expect(trainLm(model, data, { ...OPTS, warmupSteps: 16 })).rejects.toThrow(/warmupSteps must be < steps/);
    await expect(trainLm(model, data, { ...OPTS, checkpointEvery: 5 })).rejects.toThrow(/checkpointDir must be set/);
    await expect(trainLm(model, data, { ...OPTS, batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer/);
    model.dispose();
  });
});
