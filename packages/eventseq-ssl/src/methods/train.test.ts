import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { parseTrainingState, serializeTrainingState, type TrainingState } from '@sift/tensor-core';
import { expectNoLeak } from '@sift/tensor-core/testing';
import { generateSynthetic } from '../data/synthetic.js';
import { withTempDir } from '../data/test-helpers.js';
import { embed, loadSequenceEncoder, saveSequenceEncoder } from '../nn/embed.js';
import {
  trainColes, trainGenerative, trainHybrid, trainMlem, trainSnapshotInfo, trainSupervised, type TrainOptions, type TrainProgress,
} from './train.js';

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

  it('a run resumed from an epoch snapshot (through safetensors bytes) ends as the uninterrupted one; CoLES and MLEM', async () => {
    const opts = { ...tiny, epochs: 4, lr: 5e-3 };
    const coles = trainColes(store, opts);
    const mlem = trainMlem(store, coles.encoder, opts);
    for (const [name, run] of [
      ['coles', (extra: object) => trainColes(store, { ...opts, ...extra })],
      ['mlem', (extra: object) => trainMlem(store, coles.encoder, { ...opts, ...extra })],
    ] as const) {
      const ref = name === 'coles' ? coles : mlem;
      let bytes: Uint8Array | null = null;
      const epochs: number[] = [];
      const crash = new Error('killed');
      expect(() => run({
        onEpoch: (s: TrainingState, epoch: number) => { epochs.push(epoch); if (epoch === 2) bytes = serializeTrainingState(s); },
        onProgress: (p: TrainProgress) => { if (p.epoch === 3 && p.step === 2) throw crash; },
      })).toThrow(crash);
      expect(epochs).toEqual([1, 2]);
      const state = parseTrainingState(bytes!);
      expect(trainSnapshotInfo(state)).toEqual({ method: name, epoch: 2, epochs: 4 });
      const resumed = run({ resume: state });
      expect(resumed.report.epochLoss).toEqual(ref.report.epochLoss);
      expect(resumed.report.steps).toBe(ref.report.steps);
      const a = await embed(ref.encoder, store);
      const b = await embed(resumed.encoder, store);
      expect(Array.from(b.data), name).toEqual(Array.from(a.data));
      expect(() => trainColes(store, { ...opts, lr: 1e-3, resume: state })).toThrow(name === 'coles' ? /cannot resume: lr was 0\.005 in the snapshot and is 0\.001 now/ : /cannot resume a mlem snapshot/);
      expect(() => trainColes(store, { ...opts, entities: [0, 1, 2], resume: state })).toThrow(/cannot resume|mlem/);
      tf.dispose(Object.values(state.tensors));
      resumed.encoder.dispose();
    }
    await expectNoLeak(() => {
      const r = trainColes(store, { ...opts, epochs: 2, onEpoch: () => undefined });
      r.encoder.dispose();
    }, { repeats: 1 });
    coles.encoder.dispose();
    mlem.encoder.dispose();
  });

  it('rejects bad options with a clear message', () => {
    expect(() => trainColes(store, { epochs: 0 })).toThrow(/epochs must be an integer/);
    expect(() => trainColes(store, { bogus: 1 } as never)).toThrow(/unknown option "bogus"/);
    expect(() => trainSupervised(store, { label: 'nope' })).toThrow(/nope/);
  });
});
