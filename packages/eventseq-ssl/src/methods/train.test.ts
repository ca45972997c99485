import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@sift/tensor-core/testing';
import { generateSynthetic } from '../data/synthetic.js';
import { withTempDir } from '../data/test-helpers.js';
import { embed, loadSequenceEncoder, saveSequenceEncoder } from '../nn/embed.js';
import { trainColes, trainGenerative, trainHybrid, trainMlem, trainSupervised, type TrainOptions, type TrainProgress } from './train.js';

const { store } = generateSynthetic({ seed: 3, numClients: 24, minEvents: 12, maxEvents: 30, numCodes: 8 });
const tiny: Partial<TrainOptions> = {
  epochs: 2, batchSize: 8, maxLen: 30, slices: { count: 3, minLength: 5, maxLength: 12 }, encoder: { hiddenSize: 16, categoricalDim: 4, numericDim: 4 },
};

describe('training', () => {
  it('CoLES: loss goes down, progress reports throughput, same seed gives the same encoder', async () => {
    const progress: TrainProgress[] = [];
    const a = trainColes(store, { ...tiny, epochs: 4, lr: 5e-3, onProgress: (p) => progress.push(p) });
    expect(a.report.epochLoss.length).toBe(4);
    expect(a.report.epochLoss[3]).toBeLessThan(a.report.epochLoss[0]);
    expect(progress.length).toBe(a.report.steps);
    expect(progress.at(-1)!.eventsPerSecond).toBeGreaterThan(0);
    expect(progress.at(-1)!.etaSeconds).toBeCloseTo(0, 6);
    const b = trainColes(store, { ...tiny, epochs: 4, lr: 5e-3 });
    const ea = await embed(a.encoder, store);
    const eb = await embed(b.encoder, store);
    expect(Array.from(ea.data)).toEqual(Array.from(eb.data));
    a.encoder.dispose();
    b.encoder.dispose();
  });

  it('every method trains without leaking tensors', async () => {
    const coles = trainColes(store, { ...tiny, colesLoss: 'infonce', epochs: 1 });
    const one = { ...tiny, epochs: 1 };
    await expectNoLeak(() => {
      for (const r of [
        trainGenerative(store, one), trainHybrid(store, one), trainMlem(store, coles.encoder, one),
        trainSupervised(store, { ...one, label: 'composition' }), trainColes(store, { ...one, encoder: { ...one.encoder, backbone: 'transformer' } }),
      ]) {
        expect(r.report.epochLoss.every(Number.isFinite)).toBe(true);
        r.encoder.dispose();
      }
    }, { repeats: 1 });
    coles.encoder.dispose();
  });

  it('early stopping stops on a plateau', () => {
    const r = trainColes(store, { ...tiny, epochs: 20, lr: 1e-9, earlyStopping: { patience: 2, minDelta: 0.5 } });
    expect(r.report.stoppedEarly).toBe(true);
    expect(r.report.epochs).toBe(3);
    r.encoder.dispose();
  });

  it('save/load round trip gives the same embeddings', async () => {
    const { encoder } = trainGenerative(store, { ...tiny, epochs: 1 });
    const before = await embed(encoder, store, { batchSize: 5 });
    await withTempDir(async (dir) => {
      await saveSequenceEncoder(encoder, `${dir}/gen`);
      const loaded = await loadSequenceEncoder(`${dir}/gen.json`);
      const after = await embed(loaded, store);
      expect(Array.from(after.data)).toEqual(Array.from(before.data));
      expect(loaded.eventEncoder.toJSON()).toEqual(store.encoder.toJSON());
      loaded.dispose();
    });
    encoder.dispose();
  });

  it('rejects bad options with a clear message', () => {
    expect(() => trainColes(store, { epochs: 0 })).toThrow(/epochs must be an integer/);
    expect(() => trainColes(store, { bogus: 1 } as never)).toThrow(/unknown option "bogus"/);
    expect(() => trainSupervised(store, { label: 'nope' })).toThrow(/nope/);
  });
});
