// Perplexity evaluation throughput (tokens/s) of `perplexity()` on @sift/lm's `small` preset (its architecture with
// seeded random weights: throughput does not depend on training) against a plain hand-written forward loop over the
// same windows, in the same run: the ratio should be ~1 (the evaluator adds no overhead beyond the model).
import { initBackend } from '@sift/backend';
import { Rng } from '@sift/tensor-core';
import * as tf from '@tensorflow/tfjs-core';
import { perplexity, type LogitsModel } from '@sift/eval';
import { createModel, presetConfig, type CausalLM } from '@sift/lm';
import { medianMs, type BenchRow } from '../../../tools/bench/harness.js';

/** `small` with its BPE vocabulary (4096), context 128; 16 windows in batches of 8. */
const CONFIG = { vocab: 4096, seqlen: 128, windows: 16, batchSize: 8, seed: 3 };

function smallPreset(): CausalLM {
  return createModel(presetConfig('small', { vocabSize: CONFIG.vocab, eotId: 0 }), { rng: new Rng(CONFIG.seed) });
}

/** The same windows and batches, written out by hand: logits, log-softmax, pick the next token, sum. */
async function handLoop(model: LogitsModel, ids: Int32Array): Promise<number> {
  const { seqlen: T, batchSize: B } = CONFIG;
  const nWin = Math.floor(ids.length / T);
  let nll = 0;
  for (let w = 0; w < nWin; w += B) {
    const b = Math.min(B, nWin - w);
    const batch = ids.subarray(w * T, (w + b) * T);
    const picked = new Int32Array(b * (T - 1));
    for (let j = 0; j < b; j++) for (let t = 1; t < T; t++) picked[j * (T - 1) + t - 1] = ((j * T + t - 1) * CONFIG.vocab) + batch[j * T + t];
    const x = tf.tensor2d(batch, [b, T], 'int32');
    const logits = await model.logits(x);
    const s = tf.tidy(() => tf.sum(tf.gather(tf.reshape(tf.logSoftmax(logits), [-1]), tf.tensor1d(picked, 'int32'))));
    nll -= (await s.data())[0];
    tf.dispose([x, logits, s]);
  }
  return nll;
}

export default async function bench(): Promise<BenchRow[]> {
  await initBackend({ prefer: ['wasm'] });
  const model = smallPreset();
  const rng = new Rng(CONFIG.seed + 1);
  const ids = Int32Array.from({ length: CONFIG.windows * CONFIG.seqlen }, () => rng.int(CONFIG.vocab));
  const tokens = CONFIG.windows * (CONFIG.seqlen - 1);
  try {
    const ours = await medianMs(() => perplexity(model, ids, { seqlen: CONFIG.seqlen, batchSize: CONFIG.batchSize }), { warmup: 1, repeats: 3 });
    const hand = await medianMs(() => handLoop(model, ids), { warmup: 1, repeats: 3 });
    return [{
      name: `perplexity eval, lm preset small (V ${String(CONFIG.vocab)}, T ${String(CONFIG.seqlen)}, batch ${String(CONFIG.batchSize)}, wasm)`,
      value: tokens / (ours / 1000), unit: 'tok/s', reference: 'hand-written forward loop, same windows', referenceValue: tokens / (hand / 1000), higherIsBetter: true,
    }];
  } finally {
    model.dispose();
  }
}
