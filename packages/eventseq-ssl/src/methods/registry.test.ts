import { afterAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../data/synthetic.js';
import { embed } from '../nn/embed.js';
import { METHODS } from './registry.js';
import type { MethodName, TrainOptions } from './train.js';

const { store } = generateSynthetic({ seed: 8, numClients: 16, minEvents: 6, maxEvents: 14, numCodes: 5 });
const tiny: Partial<TrainOptions> = {
  epochs: 1, batchSize: 8, maxLen: 14, slices: { count: 2, minLength: 3, maxLength: 8 }, encoder: { hiddenSize: 6, categoricalDim: 3, numericDim: 2 },
};

describe('METHODS registry', () => {
  const coles = METHODS.coles.train(store, tiny, {});
  afterAll(() => {
    coles.encoder.dispose();
  });
  for (const name of Object.keys(METHODS) as MethodName[]) {
    it(`${name}: same seed gives the same embeddings; a bad option names the field`, async () => {
      const a = METHODS[name].train(store, tiny, { contrastive: coles.encoder });
      const b = METHODS[name].train(store, tiny, { contrastive: coles.encoder });
      expect(a.report.method).toBe(name);
      expect(Array.from((await embed(a.encoder, store)).data)).toEqual(Array.from((await embed(b.encoder, store)).data));
      a.encoder.dispose();
      b.encoder.dispose();
      expect(() => METHODS[name].train(store, { ...tiny, batchSize: 0 }, { contrastive: coles.encoder })).toThrow(/batchSize/);
    });
  }

  it('mlem without a contrastive encoder says what to pass', () => {
    expect(() => METHODS.mlem.train(store, tiny, {})).toThrow(/context.contrastive/);
  });
});
