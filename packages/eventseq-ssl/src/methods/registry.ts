/**
 * The methods by name, one shape for all (STYLE.md "one registry line per method"): `train(store, options, context)`
 * returns `{ encoder, report }`. MLEM needs a trained contrastive encoder in `context.contrastive`.
 */
import { SiftError } from '@sift/tensor-core';
import type { SequenceStore } from '../data/store.js';
import type { SequenceEncoder } from '../nn/sequence-encoder.js';
import {
  trainColes, trainGenerative, trainHybrid, trainMlem, trainSupervised, type MethodName, type TrainCall, type TrainOptions, type TrainResult,
} from './train.js';

/** What a method may need besides the store and its options. */
export interface MethodContext {
  /** MLEM: the frozen CoLES encoder to align with. */
  contrastive?: SequenceEncoder;
}

/** A registry entry. */
export interface EventSeqMethod {
  /** One line for reports. */
  description: string;
  /** Trains the method; the result's encoder gives the embedding. */
  train: (store: SequenceStore, options: Partial<TrainOptions> & TrainCall, context: MethodContext) => TrainResult;
}

/**
 * Every method of MLEM's comparison.
 * @example
 * const coles = METHODS.coles.train(store, { epochs: 5 }, {});
 * const mlem = METHODS.mlem.train(store, { epochs: 5 }, { contrastive: coles.encoder });
 */
export const METHODS: Readonly<Record<MethodName, EventSeqMethod>> = {
  coles: { description: 'CoLES: contrastive on random slices (margin with hard negatives, or InfoNCE)', train: (s, o) => trainColes(s, o) },
  generative: { description: 'generative: sequence autoencoder with an autoregressive decoder', train: (s, o) => trainGenerative(s, o) },
  hybrid: { description: 'naive hybrid: reconstruction + CoLES on one latent', train: (s, o) => trainHybrid(s, o) },
  mlem: {
    description: 'MLEM: generative model aligned with a frozen CoLES encoder (SigLIP)',
    train: (s, o, c) => {
      if (c.contrastive === undefined) {
        throw new SiftError('E_CONFIG', 'METHODS.mlem.train: context.contrastive is missing; train CoLES first and pass { contrastive: coles.encoder }.');
      }
      return trainMlem(s, c.contrastive, o);
    },
  },
  supervised: { description: 'supervised: the same encoder with a linear head on a label', train: (s, o) => trainSupervised(s, o) },
};
