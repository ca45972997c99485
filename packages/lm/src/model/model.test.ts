import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng, findLinears, runSequential, valueAndGrads } from '@sift/tensor-core';
import { expectNoLeak, expectTensorsClose } from '@sift/tensor-core/testing';
import { crossEntropy, crossEntropyOn } from './loss.js';
import { loadCheckpoint } from './checkpoint.js';
import { createModel } from './build.js';
import { parseModelConfig, type ModelConfig } from './config.js';
import type { CausalLM } from './causal-lm.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/models/', import.meta.url));

interface Reference { ids: number[][]; shape: number[]; logits: number[]; loss: number }
const reference = (name: string): Reference => JSON.parse(readFileSync(`${FIXTURES}${name}/reference.json`, 'utf8')) as Reference;

/** `@sift/eval`'s LogitsModel, restated here so lm does not depend on eval. */
interface LogitsModel { logits(ids: tf.Tensor2D): tf.Tensor3D | Promise<tf.Tensor3D>; maxContext?: number }

const TINY_GPT2: ModelConfig = parseModelConfig({ model_type: 'gpt2', vocab_size: 40, n_positions: 16, n_embd: 16, n_layer: 2, n_head: 2 });
const TINY_LLAMA: ModelConfig = parseModelConfig({
  model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 16,
});

describe('parseModelConfig', () => {
  it('fills HF defaults', () => {
    expect(TINY_GPT2).toMatchObject({ n_inner: 64, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: true });
    expect(TINY_LLAMA).toMatchObject({ head_dim: 4, rope_theta: 10000, tie_word_embeddings: false, attention_bias: false });
  });
  it('names the bad or missing field', () => {
    expect(() => parseModelConfig({ model_type: 'llama', vocab_size: 10 })).toThrow(/"hidden_size" is missing/);
    expect(() => parseModelConfig({ model_type: 'gpt2', vocab_size: 10, n_embd: 10, n_layer: 1, n_head: 3 })).toThrow(/n_head.*must divide n_embd/);
    expect(() => parseModelConfig({ ...TINY_LLAMA, num_key_value_heads: 3 })).toThrow(/num_key_value_heads.*must divide/);
    expect(() => parseModelConfig({ ...TINY_GPT2, vocab_size: -1 })).toThrow(/"vocab_size" must be a positive integer, got -1/);
    expect(() => parseModelConfig({ model_type: 'bert' })).toThrow(/model_type "bert" is not supported; Sift builds gpt2, llama/);
    expect(() => parseModelConfig({})).toThrow(/"model_type" is missing/);
    expect(() => parseModelConfig('{')).toThrow(/not valid JSON/);
    expect(() => parseModelConfig({ ...TINY_LLAMA, rope_scaling: { type: 'linear' } })).toThrow(/rope_scaling/);
  });
});

describe('crossEntropy', () => {
  it('equals the log-softmax formula, ignores ignoreIndex, and has the autodiff gradient', () => {
    const rng = new Rng(1);
    const z = rng.normalTensor([2, 3, 5], 0, 2);
    const y = tf.tensor2d([[1, 4, -100], [0, 2, 3]], [2, 3], 'int32');
    const keep = [[1, 1, 0], [1, 1, 1]];
    // naive: −mean over kept of log softmax
    const lsm = tf.logSoftmax(z).arraySync() as number[][][];
    const yv = y.arraySync();
    let s = 0;
    let n = 0;
    for (let b = 0; b < 2; b++) for (let t = 0; t < 3; t++) if (keep[b][t] === 1) { s -= lsm[b][t][yv[b][t]]; n++; }
    expectTensorsClose(crossEntropy(z, y), s / n, { atol: 1e-5 });
    const g = tf.grad((zz: tf.Tensor) => crossEntropy(zz, y))(z);
    const onehot = tf.oneHot(tf.where(tf.equal(y, -100), tf.zerosLike(y), y), 5);
    const w = tf.expandDims(tf.tensor2d(keep, [2, 3]), 2);
    const gRef = tf.grad((zz: tf.Tensor) => tf.div(tf.neg(tf.sum(tf.mul(tf.mul(onehot, tf.logSoftmax(zz)), w))), n))(z);
    expectTensorsClose(g, gRef, { atol: 1e-6 });
    tf.dispose([z, y, g, onehot, w, gRef]);
  });
  it('the host pass and the tfjs-ops path agree: loss, gradient, ignoreIndex and mask (rel. 1e-5); nothing leaks', async () => {
    const rng = new Rng(2);
    const [N, V] = [37, 211];
    const z = rng.normalTensor([N, V], 0, 3);
    const ids = Int32Array.from({ length: N }, (_, i) => (i % 9 === 4 ? -100 : rng.int(V)));
    const y = tf.tensor1d(ids, 'int32');
    const mask = tf.tensor1d(Float32Array.from({ length: N }, (_, i) => (i % 5 === 0 ? 0 : 1)));
    for (const options of [{}, { mask }]) {
      const [lh, lo] = (['host', 'ops'] as const).map((p) => crossEntropyOn(p, z, y, options));
      expectTensorsClose(lh, lo, { rtol: 1e-5, atol: 1e-6 });
      const [gh, go] = (['host', 'ops'] as const).map((p) => tf.grad((zz: tf.Tensor) => crossEntropyOn(p, zz, y, options))(z));
      expectTensorsClose(gh, go, { atol: 1e-7 });
      tf.dispose([lh, lo, gh, go]);
    }
    // No counted position: loss 0 and a zero gradient on both paths.
    const none = tf.fill([N], -100, 'int32');
    for (const p of ['host', 'ops'] as const) {
      const l = crossEntropyOn(p, z, none);
      expect(Math.abs(l.dataSync()[0])).toBe(0);
      l.dispose();
      const g = tf.grad((zz: tf.Tensor) => crossEntropyOn(p, zz, none))(z);
      expect(g.dataSync().every((v) => v === 0)).toBe(true);
      g.dispose();
    }
    await expectNoLeak(() => { tf.grad((zz: tf.Tensor) => crossEntropyOn('host', zz, y, { mask }))(z).dispose(); }, { label: 'host crossEntropy' });
    tf.dispose([z, y, mask, none]);
  });
  it('checks shapes', () => {
    expect(() => crossEntropy(tf.zeros([2, 3]), tf.zeros([3], 'int32'))).toThrow(/targets must be int32 \[2\]/);
  });
});

for (const name of ['gpt2-tiny', 'llama-tiny'] as const) {
  describe(`${name} against the PyTorch reference (tools/crosscheck/lm_reference.py)`, () => {
    it('logits within 1e-4 and the same loss; KV cache; runSequential; padding', async () => {
      const { model, report } = await loadCheckpoint(`${FIXTURES}${name}`);
      model.eval();
      const ref = reference(name);
      expect(report.tensors).toBe(model.namedParameters().length);
      const ids = tf.tensor2d(ref.ids, undefined, 'int32');
      const [B, T] = ids.shape;
      const logits = model.forward(ids);
      expect(logits.shape).toEqual(ref.shape);
      expectTensorsClose(logits, ref.logits, { atol: 1e-4, rtol: 0, label: `${name} logits` });
      expectTensorsClose(model.loss(ids), ref.loss, { atol: 1e-5, rtol: 0, label: `${name} loss` });
      // explicit targets with ignored positions: only row 1 counts -> the loss of row 1 alone
      const targets = tf.concat([tf.fill([1, T - 1], -100, 'int32'), tf.slice(ids, [1, 1], [1, T - 1])], 0);
      const row1 = tf.slice(ids, [1, 0], [1, T]);
      expectTensorsClose(model.loss(tf.slice(ids, [0, 0], [B, T - 1]), { targets }), model.loss(row1), { atol: 1e-5, label: 'ignoreIndex' });
      const mask = tf.tensor2d([Array.from({ length: T }, () => 0), Array.from({ length: T }, () => 1)], [B, T], 'int32');
      expectTensorsClose(model.loss(ids, { mask }), model.loss(row1), { atol: 1e-5, label: 'mask' });

      // Incremental decoding: 4 tokens, then 1 at a time, equals the full forward (tolerance 1e-4, float32).
      const caches = model.newCaches();
      const parts = [tf.slice(ids, [0, 0], [B, 4]), ...Array.from({ length: T - 4 }, (_, i) => tf.slice(ids, [0, 4 + i], [B, 1]))];
      const steps = parts.map((p) => model.forward(p, { caches }));
      const incremental = tf.concat(steps, 1);
      expectTensorsClose(incremental, logits, { atol: 1e-4, rtol: 0, label: 'KV cache vs full' });
      const last = model.forward(ids, { lastOnly: true });
      expectTensorsClose(last, tf.slice(logits, [0, T - 1, 0], [B, 1, -1]), { atol: 1e-5 });

      // SequentialModel: embed + blocks + head equals forward.
      const h = runSequential(model, ids);
      const viaBlocks = model.headForward(h);
      expectTensorsClose(viaBlocks, logits, { atol: 1e-5, label: 'runSequential' });
      expect(model.blocks().length).toBe(2);
      expect(findLinears(model.getModule(model.blockPath(1))).map(([p]) => p)).toEqual(name === 'gpt2-tiny'
        ? ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']
        : ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']);

      // Left padding with a mask and shifted positions gives the unpadded logits.
      const row = ref.ids[0].slice(0, 5);
      const padded = tf.tensor2d([[0, 0, 0, ...row]], [1, 8], 'int32');
      const padMask = tf.tensor2d([[0, 0, 0, 1, 1, 1, 1, 1]], [1, 8], 'int32');
      const positions = tf.tensor2d([[0, 0, 0, 0, 1, 2, 3, 4]], [1, 8], 'int32');
      const padLogits = model.forward(padded, { attentionMask: padMask, positions });
      const plain = model.forward(tf.tensor2d([row], [1, 5], 'int32'));
      expectTensorsClose(tf.slice(padLogits, [0, 3, 0], [1, 5, -1]), plain, { atol: 1e-4, label: 'left padding' });

      // LogitsModel (@sift/eval) is satisfied structurally.
      const lm: LogitsModel = model;
      expect(lm.maxContext).toBe(name === 'gpt2-tiny' ? 32 : 64);
      tf.dispose([ids, logits, ...parts, ...steps, incremental, last, h, viaBlocks, padded, padMask, positions, padLogits, targets, row1, mask, plain]);
      caches.forEach((c) => { c.dispose(); });
      model.dispose();
    });
  });
}

describe('models built from a config', () => {
  const models: [string, CausalLM][] = [['gpt2', createModel(TINY_GPT2, { rng: new Rng(3) })], ['llama', createModel(TINY_LLAMA, { rng: new Rng(3) })]];
  for (const [name, model] of models) {
    it(`${name}: HF parameter names, same seed same weights, no leaks, gradients reach every parameter`, async () => {
      const names = model.namedParameters().map(([n]) => n);
      if (name === 'gpt2') {
        expect(names).toContain('transformer.h.0.attn.c_attn.weight');
        expect(names).not.toContain('lm_head.weight');
      } else {
        expect(names).toContain('model.layers.1.self_attn.k_proj.weight');
        expect(names).toContain('lm_head.weight');
      }
      const again = createModel(name === 'gpt2' ? TINY_GPT2 : TINY_LLAMA, { rng: new Rng(3) });
      expectTensorsClose(again.namedParameters()[3][1], model.namedParameters()[3][1], { atol: 0, rtol: 0 });
      again.dispose();
      const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]], [2, 6], 'int32');
      await expectNoLeak(() => model.forward(ids));
      await expectNoLeak(() => tf.tidy(() => valueAndGrads(model, () => model.loss(ids)).value));
      const grads = tf.tidy(() => {
        const g = valueAndGrads(model, () => model.loss(ids)).grads;
        return Object.fromEntries(Object.entries(g).map(([k, v]) => [k, tf.keep(tf.sum(tf.abs(v)))]));
      });
      expect(Object.keys(grads).sort()).toEqual([...names].sort());
      for (const [k, v] of Object.entries(grads)) expect(v.dataSync()[0], k).toBeGreaterThan(0);
      tf.dispose(Object.values(grads));
      expect(() => model.forward(tf.zeros([1, 17], 'int32'))).toThrow(/17 positions .* exceed the context of 16/);
      expect(() => model.forward(tf.zeros([1, 3]))).toThrow(/ids must be int32/);
      ids.dispose();
    });
  }
});
