import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@sift/tensor-core';
import { expectNoLeak } from '@sift/tensor-core/testing';
import { createModel } from '../model/build.js';
import { parseModelConfig } from '../model/config.js';
import { generate, pickToken } from './generate.js';

const model = createModel(parseModelConfig({
  model_type: 'llama', vocab_size: 30, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 24, initializer_range: 0.5,
}), { rng: new Rng(5) });

/** Greedy decoding without a cache: re-run the whole sequence each step. */
function naiveGreedy(prompt: number[], n: number): number[] {
  const seq = [...prompt];
  for (let i = 0; i < n; i++) {
    const last = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d([seq], [1, seq.length], 'int32'));
      return tf.argMax(tf.reshape(tf.slice(logits, [0, seq.length - 1, 0], [1, 1, -1]), [-1]));
    });
    seq.push(last.dataSync()[0]);
    last.dispose();
  }
  return seq.slice(prompt.length);
}

describe('generate', () => {
  it('greedy with the KV cache equals greedy recomputed from scratch', async () => {
    const r = await generate(model, [3, 1, 4, 1, 5], { maxNewTokens: 8 });
    expect(r.tokens[0]).toEqual(naiveGreedy([3, 1, 4, 1, 5], 8));
    expect(r.finishReasons).toEqual(['length']);
    expect(r.steps).toBe(8);
    expect(r.sequences[0].length).toBe(13);
  });

  it('sampling is seeded; top-k 1 and a tiny top-p are greedy; top-k keeps the k best', async () => {
    const opts = { maxNewTokens: 10, sample: true, temperature: 1.5, seed: 7 };
    const a = await generate(model, [[1, 2, 3], [4, 5, 6]], opts);
    const b = await generate(model, [[1, 2, 3], [4, 5, 6]], opts);
    expect(a.tokens).toEqual(b.tokens);
    const c = await generate(model, [[1, 2, 3], [4, 5, 6]], { ...opts, seed: 8 });
    expect(c.tokens).not.toEqual(a.tokens);
    const greedy = await generate(model, [1, 2, 3], { maxNewTokens: 6 });
    expect((await generate(model, [1, 2, 3], { maxNewTokens: 6, sample: true, topK: 1 })).tokens).toEqual(greedy.tokens);
    expect((await generate(model, [1, 2, 3], { maxNewTokens: 6, sample: true, topP: 1e-6 })).tokens).toEqual(greedy.tokens);
    const logits = Float32Array.from({ length: 30 }, (_, i) => Math.sin(i * 1.7) * 3);
    const best3 = [...logits.keys()].sort((x, y) => logits[y] - logits[x]).slice(0, 3);
    const rng = new Rng(1);
    const seen = new Set(Array.from({ length: 300 }, () => pickToken(logits, { sample: true, topK: 3, temperature: 2 }, rng)));
    expect([...seen].sort()).toEqual([...best3].sort());
  });

  it('stops at a stop token or the context; checks its input; does not leak', async () => {
    const greedy = (await generate(model, [1, 2, 3], { maxNewTokens: 6 })).tokens[0];
    const stopAt = greedy[2];
    const r = await generate(model, [1, 2, 3], { maxNewTokens: 6, stopTokens: [stopAt] });
    expect(r.tokens[0]).toEqual(greedy.slice(0, greedy.indexOf(stopAt) + 1));
    expect(r.finishReasons).toEqual(['stop']);
    const full = await generate(model, Array.from({ length: 20 }, (_, i) => i), { maxNewTokens: 10 });
    expect(full.tokens[0].length).toBe(4);
    expect(full.finishReasons).toEqual(['context']);
    await expect(generate(model, [], {})).rejects.toThrow(/prompt is empty/);
    await expect(generate(model, [[1, 2], [3]], {})).rejects.toThrow(/same length/);
    await expect(generate(model, [99], {})).rejects.toThrow(/token id 99 is outside the vocabulary \[0, 30\)/);
    await expect(generate(model, [1], { topP: 0 })).rejects.toThrow(/topP must be in \(0, 1\]/);
    await expectNoLeak(() => generate(model, [1, 2], { maxNewTokens: 3, sample: true }));
  });
});
