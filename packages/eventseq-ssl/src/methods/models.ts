/**
 * The trainable models around a `SequenceEncoder`: the generative encoder-decoder (MLEM `SeqGen` with the GRU
 * decoder), used by the generative, naive-hybrid and MLEM methods, and the supervised encoder + linear head.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GRU, LayerNorm, Linear, Module, Rng, relu } from '@sift/tensor-core';
import type { PaddedBatchTensors } from '../data/batch.js';
import { SequenceEncoder } from '../nn/sequence-encoder.js';

/** Weights of the reconstruction loss (MLEM brief §2.2). */
export interface ReconstructionWeights {
  /** Weight of the Δt MSE. Default 10. */
  dtWeight: number;
  /** λ of the L1 penalty on the latent. Default 1e-4 (generative; MLEM uses 1e-3). */
  latentL1: number;
}

/** The parts of the reconstruction loss. */
export interface ReconstructionParts {
  /** Σ over categorical fields of the cross-entropy, summed over time, averaged over the batch (padding ignored). */
  categorical: tf.Scalar;
  /** Σ over numeric fields of the squared error where the target is not 0 (missing), summed over time, batch mean. */
  numeric: tf.Scalar;
  /** MSE of the scaled Δt over valid steps. */
  dt: tf.Scalar;
  /** Batch mean of ‖h‖₁. */
  l1: tf.Scalar;
  /** categorical + numeric + dtWeight·dt + latentL1·l1. */
  total: tf.Scalar;
}

/**
 * A sequence autoencoder with an autoregressive decoder: the encoder's latent h (after LayerNorm) seeds a GRU decoder
 * (h0 = W h, and h is appended to every input step, as MLEM's `DecoderGRU`); its input is x0 = W' h followed by the
 * true events (teacher forcing), so output step i has seen x0 and events < i and reconstructs event i.
 */
export class GenerativeModel extends Module<[PaddedBatchTensors], tf.Tensor> {
  readonly encoder: SequenceEncoder;
  private readonly x0: Linear;
  private readonly h0: Linear;
  private readonly decoder: GRU;
  private readonly catHeads: Linear[];
  private readonly numHeads: Linear[];
  private readonly dtHead: Linear;
  /** MLEM's t′ (init log 10) and b (init −10) of the SigLIP alignment. */
  readonly logScale: tf.Variable;
  readonly logitBias: tf.Variable;
  private readonly projector: { fc1: Linear; fc2: Linear } | null;

  constructor(encoder: SequenceEncoder, options: { seed: number; projector?: boolean; projectorDim?: number }) {
    super();
    const rng = new Rng(options.seed).fork('generative');
    this.encoder = this.addModule('encoder', encoder);
    const H = encoder.dim;
    const F = encoder.features.size;
    this.x0 = this.addModule('x0', new Linear({ inFeatures: H, outFeatures: F, rng: rng.fork('x0') }));
    this.h0 = this.addModule('h0', new Linear({ inFeatures: H, outFeatures: H, rng: rng.fork('h0') }));
    this.decoder = this.addModule('decoder', new GRU({ inputSize: F + H, hiddenSize: H, rng: rng.fork('decoder') }));
    const layout = encoder.eventEncoder;
    this.catHeads = layout.categoricalNames.map((name, i) => this.addModule(`cat_head${i}`,
      new Linear({ inFeatures: H, outFeatures: layout.vocabSize(name), rng: rng.fork(`cat${i}`) })));
    this.numHeads = layout.numericNames.map((_, i) => this.addModule(`num_head${i}`, new Linear({ inFeatures: H, outFeatures: 1, rng: rng.fork(`num${i}`) })));
    this.dtHead = this.addModule('dt_head', new Linear({ inFeatures: H, outFeatures: 1, rng: rng.fork('dt') }));
    this.logScale = this.addParameter('logit_scale', tf.scalar(Math.log(10)));
    this.logitBias = this.addParameter('logit_bias', tf.scalar(-10));
    if (options.projector === true) {
      const P = options.projectorDim ?? 64;
      this.projector = {
        fc1: this.addModule('proj1', new Linear({ inFeatures: H, outFeatures: P, rng: rng.fork('proj1') })),
        fc2: this.addModule('proj2', new Linear({ inFeatures: P, outFeatures: P, rng: rng.fork('proj2') })),
      };
    } else {
      this.projector = null;
    }
  }

  /** Frees everything but the encoder (after training, when only the embedding is kept). */
  disposeAllButEncoder(): void {
    for (const [name, child] of this.namedChildren()) if (name !== 'encoder') child.dispose();
    for (const [name, p] of this.namedParameters()) if (!name.startsWith('encoder.')) p.dispose();
  }

  /** The latent h [B, H]. */
  override forward(batch: PaddedBatchTensors): tf.Tensor {
    const { states, last } = this.encoder.forward(batch);
    states.dispose();
    return last;
  }

  /** The hybrid's MLP projector 512→64→ReLU→64 applied to a latent (identity when built without one). */
  project(h: tf.Tensor): tf.Tensor {
    const p = this.projector;
    return p === null ? tf.clone(h) : tf.tidy(() => p.fc2.forward(relu(p.fc1.forward(h))));
  }

  /**
   * Teacher-forced decoding: per categorical field logits [B, T, V], per numeric field the predicted standardised value
   * [B, T], and the predicted Δt feature [B, T]. Step i has seen x0 and events < i, and predicts event i.
   */
  decode(batch: PaddedBatchTensors, h: tf.Tensor): { categorical: tf.Tensor[]; numeric: tf.Tensor[]; dt: tf.Tensor } {
    return tf.tidy(() => {
      const [B, T] = batch.mask.shape;
      const feats = this.encoder.features.forward(batch); // [B, T, F]
      const F = feats.shape[2]!;
      const x0 = tf.expandDims(this.x0.forward(h), 1);
      const prev = T > 1 ? tf.concat([x0, tf.slice(feats, [0, 0, 0], [B, T - 1, F])], 1) : x0;
      const hTiled = tf.tile(tf.expandDims(h, 1), [1, T, 1]);
      const { output, last, hN } = this.decoder.forward(tf.concat([prev, hTiled], 2), { lengths: batch.lengths, h0: tf.tanh(this.h0.forward(h)) });
      tf.dispose([last, hN]);
      return {
        categorical: this.catHeads.map((head) => head.forward(output)),
        numeric: this.numHeads.map((head) => tf.squeeze(head.forward(output), [2])),
        dt: tf.squeeze(this.dtHead.forward(output), [2]),
      };
    });
  }

  /** The reconstruction loss of a batch from its latent `h` [B, H]. */
  reconstruction(batch: PaddedBatchTensors, h: tf.Tensor, weights: ReconstructionWeights): ReconstructionParts {
    return tf.tidy(() => {
      const B = batch.mask.shape[0];
      const out = this.decode(batch, h);
      let categorical = tf.scalar(0);
      out.categorical.forEach((logits, i) => {
        const name = this.encoder.eventEncoder.categoricalNames[i];
        const V = logits.shape[2]!;
        const codes = batch.codes[name];
        const keep = tf.cast(tf.logicalAnd(tf.notEqual(codes, tf.scalar(0, 'int32')), tf.less(codes, tf.scalar(V, 'int32'))), 'float32');
        const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(codes, V)), 2);
        categorical = tf.add(categorical, tf.div(tf.neg(tf.sum(tf.mul(picked, keep))), B));
      });
      let numeric = tf.scalar(0);
      out.numeric.forEach((pred, i) => {
        const name = this.encoder.eventEncoder.numericNames[i];
        const target = this.encoder.features.standardized(batch, i);
        const keep = tf.mul(tf.cast(tf.notEqual(batch.values[name], 0), 'float32'), batch.mask);
        numeric = tf.add(numeric, tf.div(tf.sum(tf.mul(tf.square(tf.sub(pred, target)), keep)), B));
      });
      const dtPred = out.dt;
      const dtTarget = this.encoder.features.dtFeature(batch);
      const valid = tf.maximum(tf.sum(batch.mask), 1);
      const dt = tf.div(tf.sum(tf.mul(tf.square(tf.sub(dtPred, dtTarget)), batch.mask)), valid);
      const l1 = tf.mean(tf.sum(tf.abs(h), 1));
      const total = tf.addN([categorical, numeric, tf.mul(dt, weights.dtWeight), tf.mul(l1, weights.latentL1)]);
      return { categorical: categorical, numeric: numeric, dt: dt as tf.Scalar, l1: l1 as tf.Scalar, total: total as tf.Scalar };
    });
  }
}

/** The supervised baseline: the encoder, LayerNorm and a linear head over K classes. */
export class SupervisedModel extends Module<[PaddedBatchTensors], tf.Tensor> {
  readonly encoder: SequenceEncoder;
  private readonly norm: LayerNorm;
  private readonly head: Linear;

  constructor(encoder: SequenceEncoder, numClasses: number, seed: number) {
    super();
    this.encoder = this.addModule('encoder', encoder);
    this.norm = this.addModule('norm', new LayerNorm({ dim: encoder.dim }));
    this.head = this.addModule('head', new Linear({ inFeatures: encoder.dim, outFeatures: numClasses, rng: new Rng(seed).fork('head') }));
  }

  /** Frees everything but the encoder (after training, when only the embedding is kept). */
  disposeAllButEncoder(): void {
    for (const [name, child] of this.namedChildren()) if (name !== 'encoder') child.dispose();
    for (const [name, p] of this.namedParameters()) if (!name.startsWith('encoder.')) p.dispose();
  }

  /** Logits [B, K]. */
  override forward(batch: PaddedBatchTensors): tf.Tensor {
    return tf.tidy(() => {
      const { states, last } = this.encoder.forward(batch);
      states.dispose();
      return this.head.forward(this.norm.forward(last));
    });
  }
}
