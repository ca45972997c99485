import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose } from '@sift/tensor-core/testing';
import { batchForEntities, batchFromSlices, batchToTensors } from '../data/batch.js';
import { generateSynthetic } from '../data/synthetic.js';
import { embed } from './embed.js';
import { createSequenceEncoder, fitInputStats } from './sequence-encoder.js';

const { store } = generateSynthetic({ seed: 5, numClients: 10, minEvents: 4, maxEvents: 15, numCodes: 5 });

describe('SequenceEncoder', () => {
  for (const backbone of ['gru', 'transformer'] as const) {
    it(`${backbone}: a sequence's embedding does not depend on the padding around it (atol 1e-5)`, () => {
      const enc = createSequenceEncoder(store, { backbone, hiddenSize: 8, categoricalDim: 3, numericDim: 2, seed: 1 });
      enc.eval();
      const alone = batchToTensors(batchForEntities(store, [2]));
      const padded = batchToTensors(batchForEntities(store, [2, 0, 1], { padTo: 20 }));
      const a = enc.forward(alone);
      const b = enc.forward(padded);
      expect(a.last.shape).toEqual([1, 8]);
      expect(b.states.shape).toEqual([3, 20, 8]);
      expectTensorsClose(tf.slice(b.last, [0, 0], [1, 8]), a.last, { atol: 1e-5 });
      tf.dispose([a.last, a.states, b.last, b.states]);
      alone.dispose();
      padded.dispose();
      enc.dispose();
    });
  }

  it('gru: the embedding is the state after the last valid event', () => {
    const enc = createSequenceEncoder(store, { hiddenSize: 6, seed: 2 });
    const n = store.length(3);
    const t = batchToTensors(batchFromSlices(store, [{ entity: 3, start: 0, length: n }]));
    const { states, last } = enc.forward(t);
    expectTensorsClose(last, tf.reshape(tf.slice(states, [0, n - 1, 0], [1, 1, 6]), [1, 6]), { atol: 1e-6 });
    tf.dispose([states, last]);
    t.dispose();
    enc.dispose();
  });

  it('fits input statistics: numeric mean/std and mean Δt', () => {
    const s = fitInputStats(store);
    const v = Array.from(store.values.amount);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    expect(s.numericMean[0]).toBeCloseTo(mean, 4);
    expect(s.meanDt).toBeGreaterThan(0);
  });

  it('embed: batches give the same rows as one batch, with progress and no leak', async () => {
    const enc = createSequenceEncoder(store, { hiddenSize: 4, seed: 3 });
    const seen: number[] = [];
    const a = await embed(enc, store, { batchSize: 3, onProgress: (p) => seen.push(p.done) });
    const b = await embed(enc, store, { batchSize: 100 });
    expect(seen).toEqual([3, 6, 9, 10]);
    expect(a.rows).toBe(10);
    for (let i = 0; i < a.data.length; i++) expect(a.data[i]).toBeCloseTo(b.data[i], 5);
    await expectNoLeak(() => embed(enc, store, { batchSize: 4, dropout: 0.3 }));
    enc.dispose();
  });

  it('rejects bad options', () => {
    expect(() => createSequenceEncoder(store, { backbone: 'lstm' as never })).toThrow(/backbone must be/);
    expect(() => createSequenceEncoder(store, { hiddenSize: 0 })).toThrow(/hiddenSize must be/);
    expect(() => createSequenceEncoder(store, { backbone: 'transformer', hiddenSize: 6, numHeads: 4 })).toThrow(/divisible/);
    expect(() => createSequenceEncoder(store, { hidden: 3 } as never)).toThrow(/unknown option "hidden"/);
  });
});
