import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Linear, Rng, findLinears } from '@sift/tensor-core';
import { createModel } from '../model/build.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { loadTokenizer } from '../tokenizer/files.js';
import { countParameters, presetConfig, PRESETS, trainPreset, type PresetName } from './presets.js';

const tmp = mkdtempSync(join(tmpdir(), 'sift-lm-preset-'));
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });

describe('presets', () => {
  it('small: 3-5 M parameters, d=256, 4 layers, context >= 128, input widths multiples of 32; small-half: ~0.55x non-embedding', () => {
    const bpe = { vocabSize: 4096, eotId: 4095 };
    const counts = {} as Record<PresetName, ReturnType<typeof countParameters>>;
    for (const name of ['small', 'small-half'] as const) {
      const model = createModel(presetConfig(name, bpe), { rng: new Rng(0) });
      counts[name] = countParameters(model);
      for (const [path, lin] of findLinears(model)) expect(lin.inFeatures % 32, path).toBe(0);
      expect(findLinears(model).every(([, l]) => l instanceof Linear)).toBe(true);
      model.dispose();
    }
    const small = presetConfig('small', bpe);
    expect(small).toMatchObject({ model_type: 'llama', hidden_size: 256, num_hidden_layers: 4, eos_token_id: 4095 });
    expect(small.model_type === 'llama' && small.max_position_embeddings).toBeGreaterThanOrEqual(128);
    expect(counts.small.total).toBeGreaterThan(3e6);
    expect(counts.small.total).toBeLessThan(5e6);
    const ratio = counts['small-half'].nonEmbedding / counts.small.nonEmbedding;
    expect(ratio).toBeGreaterThan(0.53);
    expect(ratio).toBeLessThan(0.57);
    expect(() => presetConfig('huge' as PresetName, bpe)).toThrow(/unknown preset "huge"; presets: tiny, small, small-half/);
    expect(PRESETS.tiny.tokenizer.kind).toBe('byte');
  });

  it('trainPreset("tiny") trains on Brown, saves a loadable HF checkpoint + tokenizer, and resumes', async () => {
    const outDir = join(tmp, 'tiny');
    const opts = { outDir, genres: ['humor'], train: { steps: 24, warmupSteps: 4, checkpointEvery: 12, logEvery: 6, evalBatches: 2 } };
    const first = await trainPreset('tiny', opts, { shouldStop: (s) => s === 12 });
    expect(first.training).toMatchObject({ steps: 12, stopped: true });
    const r = await trainPreset('tiny', opts);
    expect(r.training).toMatchObject({ steps: 24, resumedFrom: 12, stopped: false });
    expect(r.training.valLoss!).toBeLessThan(Math.log(257));
    expect(r.parameters.total).toBeGreaterThan(0);
    const saved = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')) as { training: { steps: number } };
    expect(saved.training.steps).toBe(24);
    const { model } = await loadCheckpoint(outDir);
    const tok = await loadTokenizer(join(outDir, 'tokenizer.json'));
    const ids = tf.tensor2d([tok.encode('The jury said')], undefined, 'int32');
    expect(model.forward(ids).shape).toEqual([1, 13, 257]);
    ids.dispose();
    model.dispose();
  });
});
