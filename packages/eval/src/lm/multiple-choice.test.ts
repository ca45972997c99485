import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose } from '@sift/tensor-core/testing';
import { bigramLogitsModel, type BigramModel } from './bigram-model.js';
import {
  encodePair, evaluateMultipleChoice, parseMultipleChoiceJsonl, toMultipleChoiceJsonl, type MultipleChoiceItem,
} from './multiple-choice.js';
import type { LogitsModel, Tokenizer } from './types.js';

/** Characters as tokens: a-z -> 1..26, space 27, '.' 28, anything else 29 (0 is padding). */
const chars: Tokenizer = {
  encode: (text) => Array.from(text, (c) => (c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 96 : c === ' ' ? 27 : c === '.' ? 28 : 29)),
};
const V = 30;
const corpus = chars.encode('the cat sat on the mat. the dog sat on the log. a cat and a dog ran to the mat. '.repeat(20));

/** Σ log P(cont | context) under the bigram table, straight from its float64 log-probs. */
function closedForm(model: BigramModel, context: string, continuation: string): number {
  const ids = chars.encode(context + continuation);
  const c = chars.encode(continuation).length;
  let s = 0;
  for (let t = ids.length - c; t < ids.length; t++) s += model.logProbs[ids[t - 1] * V + ids[t]];
  return s;
}

const items: MultipleChoiceItem[] = [
  { context: 'the cat sat on the', choices: ['mat.', 'log.', 'zzz.'], gold: 0 },
  { context: 'the dog sat on the', choices: ['log.', 'mat and the cat.', 'qqq'], gold: 0 },
  { context: 'a cat and a', choices: ['dog', 'xylophone'], gold: 1 },
  { context: 'the', choices: ['cat', 'dog', 'mat', 'log'], gold: 2 },
];

describe('evaluateMultipleChoice (lm-evaluation-harness conventions)', () => {
  it('log-likelihoods equal the closed form; acc and acc_norm follow argmax of ll and ll / length', async () => {
    const model = bigramLogitsModel(corpus, { vocabSize: V, smoothing: 0.1 });
    try {
      const report = await evaluateMultipleChoice(model, chars, [{ name: 'toy', items }], { batchSize: 3 });
      const t = report.tasks[0];
      expect(t.name).toBe('toy');
      expect(t.n).toBe(4);
      let acc = 0, accNorm = 0;
      t.items.forEach((r, i) => {
        const item = items[i];
        const want = item.choices.map((c) => closedForm(model, item.context, ` ${c}`));
        expectTensorsClose(r.loglikelihoods, want, { rtol: 1e-5, atol: 1e-5, label: `item ${i}` });
        const pred = want.indexOf(Math.max(...want));
        const norm = want.map((v, k) => v / item.choices[k].length);
        const predNorm = norm.indexOf(Math.max(...norm));
        expect(r.pred).toBe(pred);
        expect(r.predNorm).toBe(predNorm);
        acc += pred === item.gold ? 1 : 0;
        accNorm += predNorm === item.gold ? 1 : 0;
      });
      expect(t.acc).toBe(acc / 4);
      expect(t.accNorm).toBe(accNorm / 4);
      // Item 1: the long true choice loses on raw ll but wins after length normalisation -> acc and acc_norm differ.
      expect(t.items[1].pred).not.toBe(t.items[1].predNorm);
    } finally {
      model.dispose();
    }
  });

  it('stderr is lm-eval’s sample std / √n', async () => {
    const model = bigramLogitsModel(corpus, { vocabSize: V });
    try {
      const r = (await evaluateMultipleChoice(model, chars, [{ name: 't', items }])).tasks[0];
      const acc: number[] = r.items.map((x) => (x.pred === x.gold ? 1 : 0));
      const m = acc.reduce((a, b) => a + b, 0) / 4;
      const sd = Math.sqrt(acc.reduce((a, b) => a + (b - m) ** 2, 0) / 3);
      expect(r.accStderr).toBeCloseTo(sd / 2, 15);
      const one = (await evaluateMultipleChoice(model, chars, [{ name: 'one', items: items.slice(0, 1) }])).tasks[0];
      expect(one.accStderr).toBeNaN();
    } finally {
      model.dispose();
    }
  });

  it('batching, length order and truncation to maxContext keep the bigram ll; inputs never exceed the window', async () => {
    const model = bigramLogitsModel(corpus, { vocabSize: V });
    const lengths: number[] = [];
    const spy: LogitsModel = {
      maxContext: 6,
      logits: (ids) => {
        lengths.push(ids.shape[1]);
        return model.logits(ids);
      },
    };
    try {
      const a = await evaluateMultipleChoice(model, chars, [{ name: 't', items }], { batchSize: 1 });
      const b = await evaluateMultipleChoice(spy, chars, [{ name: 't', items: items.filter((it) => it.choices.every((c) => c.length < 6)) }], { batchSize: 4 });
      expect(Math.max(...lengths)).toBeLessThanOrEqual(6);
      // A bigram needs one token of context, so truncation to 6 leaves the scores unchanged.
      expectTensorsClose(b.tasks[0].items[0].loglikelihoods, a.tasks[0].items[0].loglikelihoods, { rtol: 1e-5, atol: 1e-5 });
      await expectNoLeak(() => evaluateMultipleChoice(model, chars, [{ name: 't', items }], { batchSize: 3 }), { label: 'evaluateMultipleChoice' });
    } finally {
      model.dispose();
    }
  });

  it('acc_norm in bytes counts UTF-8; empty contexts need prefixToken; progress covers every request', async () => {
    const model = bigramLogitsModel(corpus, { vocabSize: V });
    try {
      const done: number[] = [];
      const r = await evaluateMultipleChoice(model, chars, [{ name: 'e', items: [{ context: '', choices: ['cat', 'é'], gold: 0 }] }],
        { prefixToken: 28, lengthUnit: 'bytes', onProgress: (p) => done.push(p.done) });
      const ll = r.tasks[0].items[0].loglikelihoods;
      // 'é' is 2 UTF-8 bytes: predNorm compares ll[0] / 3 with ll[1] / 2.
      expect(r.tasks[0].items[0].predNorm).toBe(ll[0] / 3 >= ll[1] / 2 ? 0 : 1);
      expect(done.at(-1)).toBe(2);
      await expect(evaluateMultipleChoice(model, chars, [{ name: 'e', items: [{ context: '', choices: ['a', 'b'], gold: 0 }] }]))
        .rejects.toThrow(/pass \{ prefixToken \}/);
    } finally {
      model.dispose();
    }
  });

  it('does not call tf on invalid items: gold out of range is reported with task and item', async () => {
    const model: LogitsModel = { logits: (ids) => tf.zeros([ids.shape[0], ids.shape[1], V]) };
    await expect(evaluateMultipleChoice(model, chars, [{ name: 'bad', items: [{ context: 'a', choices: ['b', 'c'], gold: 2 }] }]))
      .rejects.toThrow(/task "bad" item 0: "gold" must be an index into choices \(0..1\), got 2/);
  });
});

describe('encodePair and JSONL', () => {
  it("moves the context's trailing whitespace into the continuation (lm-eval _encode_pair)", () => {
    // A word-level tokenizer whose tokens carry their leading space, like GPT-2's BPE.
    const vocab = new Map<string, number>();
    const words: Tokenizer = { encode: (s) => (s.match(/ ?[^ ]+| +$/gu) ?? []).map((w) => vocab.get(w) ?? (vocab.set(w, vocab.size), vocab.size - 1)) };
    const p = encodePair(words, 'the cat sat on the ', 'mat');
    expect(p.context).toEqual(words.encode('the cat sat on the'));
    expect(p.continuation).toEqual(words.encode(' mat'));
  });

  it('round-trips and names the bad line', () => {
    const text = toMultipleChoiceJsonl(items);
    expect(parseMultipleChoiceJsonl(text)).toEqual(items);
    expect(parseMultipleChoiceJsonl(`\n${text}\n\n`)).toHaveLength(4);
    expect(() => parseMultipleChoiceJsonl('{"context":"a","choices":["b","c"],"gold":0}\n{oops')).toThrow(/line 2 is not JSON/);
    expect(() => parseMultipleChoiceJsonl('{"context":"a","choices":["b"],"gold":0}')).toThrow(/line 1: "choices" must be an array of at least 2 strings/);
    expect(() => parseMultipleChoiceJsonl('{"context":1,"choices":["b","c"],"gold":0}')).toThrow(/"context" must be a string/);
  });
});
