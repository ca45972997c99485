import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose, seeded } from '@sift/tensor-core/testing';
import { bigramLogitsModel } from './bigram-model.js';
import { perplexity, planWindows } from './perplexity.js';
import type { LogitsModel } from './types.js';

const V = 24;

/** A token stream from a sparse Markov chain (so a bigram model is far better than uniform). */
function markovStream(n: number, seed: string): Int32Array {
  const rng = seeded(seed);
  const out = new Int32Array(n);
  for (let i = 1; i < n; i++) out[i] = rng.float() < 0.7 ? (out[i - 1] * 5 + 3) % V : rng.int(V);
  return out;
}

const train = markovStream(5000, 'train');
const test = markovStream(1000, 'test');

describe('perplexity: closed forms with a bigram model', () => {
  it('non-overlapping windows: exp of the mean bigram NLL over the seqlen − 1 predicted tokens of each window', async () => {
    const model = bigramLogitsModel(train, { vocabSize: V, smoothing: 0.5 });
    try {
      const seqlen = 64;
      const r = await perplexity(model, test, { seqlen, batchSize: 4 });
      const nsamples = Math.floor(test.length / seqlen); // 15, remainder 40 dropped
      let nll = 0;
      for (let w = 0; w < nsamples; w++) {
        for (let t = 1; t < seqlen; t++) nll -= model.logProbs[test[w * seqlen + t - 1] * V + test[w * seqlen + t]];
      }
      expect(r.windows).toBe(nsamples);
      expect(r.tokens).toBe(nsamples * (seqlen - 1));
      expectTensorsClose(r.totalNll, nll, { rtol: 1e-5, atol: 0, label: 'total NLL' });
      expectTensorsClose(r.perplexity, Math.exp(nll / r.tokens), { rtol: 1e-5, atol: 0 });
      expectTensorsClose(r.bitsPerToken, nll / r.tokens / Math.LN2, { rtol: 1e-5, atol: 0 });
      expect(r.bitsPerByte).toBeNull();
    } finally {
      model.dispose();
    }
  });

  it('sliding window (stride < seqlen): every token but the first is scored once, so a bigram gives exp(mean of all N − 1 transitions)', async () => {
    const model = bigramLogitsModel(train, { vocabSize: V });
    try {
      let nll = 0;
      for (let t = 1; t < test.length; t++) nll -= model.logProbs[test[t - 1] * V + test[t]];
      for (const stride of [1, 7, 32, 63]) {
        const r = await perplexity(model, test, { seqlen: 64, mode: 'sliding', stride, batchSize: 5, bytes: 2000 });
        expect(r.tokens).toBe(test.length - 1);
        expectTensorsClose(r.totalNll, nll, { rtol: 1e-5, atol: 0, label: `stride ${stride}` });
        expectTensorsClose(r.bitsPerByte!, nll / Math.LN2 / 2000, { rtol: 1e-5, atol: 0 });
      }
      // stride = seqlen: as in HF, the first token of each window has no context and is not scored.
      const full = await perplexity(model, test, { seqlen: 64, mode: 'sliding', stride: 64 });
      expect(full.tokens).toBe(test.length - Math.ceil(test.length / 64));
    } finally {
      model.dispose();
    }
  });

  it('a uniform model has perplexity V exactly (1e-5)', async () => {
    const uniform: LogitsModel = { logits: (ids) => tf.zeros([ids.shape[0], ids.shape[1], V]) };
    const r = await perplexity(uniform, test, { seqlen: 100 });
    expectTensorsClose(r.perplexity, V, { rtol: 1e-5, atol: 0 });
  });
});

describe('perplexity: protocol details', () => {
  /** Position-dependent (not a bigram): logits scale with the position inside the window, so context cuts matter. */
  function positional(table: tf.Tensor2D): LogitsModel {
    return {
      maxContext: 32,
      // async on purpose: LogitsModel may return a promise
      logits: async (ids) => {
        await Promise.resolve();
        return tf.tidy(() => {
          const [b, t] = ids.shape;
          const rows = tf.reshape(tf.gather(table, tf.reshape(ids, [-1])), [b, t, V]);
          const scale = tf.reshape(tf.div(tf.add(tf.range(0, t), 1), t), [1, t, 1]);
          return tf.mul<tf.Tensor3D>(rows, scale);
        });
      },
    };
  }

  it('sliding mode equals a naive Hugging Face loop (labels before the last trg_len tokens set to -100)', async () => {
    const rng = seeded('table');
    const table = tf.tensor2d(Float32Array.from({ length: V * V }, () => 3 * rng.normal()), [V, V]);
    const model = positional(table);
    try {
      const seqlen = 32, stride = 12;
      // Naive HF loop, one window at a time, log-softmax in float64 on the host.
      let nll = 0, count = 0, prevEnd = 0;
      for (let begin = 0; begin < test.length; begin += stride) {
        const end = Math.min(begin + seqlen, test.length);
        const trg = end - prevEnd;
        const window = test.slice(begin, end);
        const logits = await model.logits(tf.tensor2d(window, [1, window.length], 'int32'));
        const l = (await logits.array())[0];
        logits.dispose();
        for (let t = 1; t < window.length; t++) {
          if (t < window.length - trg) continue; // label masked with -100
          const row = l[t - 1];
          const m = Math.max(...row);
          const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
          nll -= row[window[t]] - lse;
          count++;
        }
        prevEnd = end;
        if (end === test.length) break;
      }
      const r = await perplexity(model, test, { mode: 'sliding', stride, batchSize: 3 });
      expect(r.seqlen).toBe(32); // from maxContext
      expect(r.tokens).toBe(count);
      expectTensorsClose(r.totalNll, nll, { rtol: 1e-5, atol: 0 });
    } finally {
      table.dispose();
    }
  });

  it('batch size does not change the result; progress counts windows; nothing leaks', async () => {
    const model = bigramLogitsModel(train, { vocabSize: V });
    try {
      const seen: number[] = [];
      const a = await perplexity(model, test, { seqlen: 50, batchSize: 1 });
      const b = await perplexity(model, test, { seqlen: 50, batchSize: 6, onProgress: (p) => seen.push(p.done) });
      expectTensorsClose(b.totalNll, a.totalNll, { rtol: 1e-6, atol: 0 });
      expect(seen).toEqual([6, 12, 18, 20]);
      await expectNoLeak(() => perplexity(model, test, { seqlen: 50, batchSize: 6 }), { label: 'perplexity' });
    } finally {
      model.dispose();
    }
  });

  it('planWindows follows both protocols', () => {
    expect(planWindows(10, 'windows', 4, 4)).toEqual([{ start: 0, len: 4, scoreFrom: 1 }, { start: 4, len: 4, scoreFrom: 1 }]);
    expect(planWindows(10, 'sliding', 4, 3)).toEqual([
      { start: 0, len: 4, scoreFrom: 1 }, { start: 3, len: 4, scoreFrom: 1 }, { start: 6, len: 4, scoreFrom: 1 },
    ]);
    expect(planWindows(10, 'sliding', 6, 2)).toEqual([
      { start: 0, len: 6, scoreFrom: 1 }, { start: 2, len: 6, scoreFrom: 4 }, { start: 4, len: 6, scoreFrom: 4 },
    ]);
  });

  it('errors say what to change', async () => {
    const model = bigramLogitsModel(train, { vocabSize: V });
    try {
      await expect(perplexity(model, test.slice(0, 10), { seqlen: 64 })).rejects.toThrow(/10 tokens, fewer than one window of 64/);
      await expect(perplexity(model, test)).rejects.toThrow(/pass \{ seqlen \} or give the model a maxContext/);
      await expect(perplexity({ ...model, maxContext: 16 }, test, { seqlen: 64 })).rejects.toThrow(/exceeds the model's maxContext 16/);
      await expect(perplexity(model, test, { seqlen: 8, mode: 'sliding', stride: 9 })).rejects.toThrow(/"stride" must be an integer >= 1 and <= 8/);
      const uniform: LogitsModel = { logits: (ids) => tf.zeros([ids.shape[0], ids.shape[1], V]) };
      await expect(perplexity(uniform, [1, 2, 99, 3], { seqlen: 4 })).rejects.toThrow(/token id 99 is outside the model's vocabulary \[0, 24\)/);
      const bad: LogitsModel = { logits: (ids) => tf.zeros([ids.shape[0], 3, V]) };
      await expect(perplexity(bad, test, { seqlen: 8 })).rejects.toThrow(/returned shape \[8, 3, 24\]; expected \[8, 8, V\]/);
      await expect(perplexity(model, [0, 1.5, 2], { seqlen: 2 })).rejects.toThrow(/ids\[1\] = 1.5/);
    } finally {
      model.dispose();
    }
  });
});
