/**
 * The event-sequence encoder (ptls `TrxEncoder` + `RnnSeqEncoder`, MLEM brief §1 and §3): per-field embeddings of the
 * categorical fields, a linear projection of each standardised numeric field, two time features, then a GRU (the
 * embedding is the last valid hidden state) or a Transformer (the state at the last valid position).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  Embedding, GRU, LayerNorm, Linear, Module, ModuleList, MultiHeadAttention, Rng, SiftError, gelu,
} from '@sift/tensor-core';
import type { EventEncoder } from '../data/encoder.js';
import type { PaddedBatchTensors } from '../data/batch.js';
import type { SequenceStore } from '../data/store.js';

/** Options of the sequence encoder. */
export interface SequenceEncoderOptions {
  /** `gru` (MLEM, ptls) or `transformer`. Default `gru`. */
  backbone: 'gru' | 'transformer';
  /** Embedding size H (the GRU hidden size or the Transformer width). Default 64 (MLEM: 512). */
  hiddenSize: number;
  /** Embedding size of each categorical field. Default 16 (MLEM: 32). */
  categoricalDim: number;
  /** Projection size of each numeric field. Default 8 (MLEM: 32). */
  numericDim: number;
  /** Append the time features log1p(Δt / mean Δt) and the normalised time. Default true. */
  timeFeatures: boolean;
  /** Stacked GRU or Transformer layers. Default 1. */
  numLayers: number;
  /** Attention heads (Transformer). Default 4. */
  numHeads: number;
  /** Longest sequence the Transformer's learned positions cover. Default 1024. */
  maxPositions: number;
  /** LayerNorm on the output embedding (MLEM's generative latent). Default false. */
  outputNorm: boolean;
  /** Seed of the initialisation. Default 0. */
  seed: number;
}

/** Defaults of `SequenceEncoderOptions`. */
export const SEQUENCE_ENCODER_DEFAULTS: Readonly<SequenceEncoderOptions> = {
  backbone: 'gru', hiddenSize: 64, categoricalDim: 16, numericDim: 8, timeFeatures: true, numLayers: 1, numHeads: 4,
  maxPositions: 1024, outputNorm: false, seed: 0,
};

/** Standardisation of the numeric inputs and the Δt scale, fitted on training data. */
export interface InputStats {
  /** Per numeric field, in `EventEncoder.numericNames` order. */
  numericMean: number[];
  numericStd: number[];
  /** Mean Δt between consecutive events, in normalised time. */
  meanDt: number;
}

/** Per-field layout of the event vectors, shared by the encoder and the generative decoder. */
export interface FieldLayout {
  categorical: { name: string; vocab: number }[];
  numeric: string[];
}

/** Checks the options and fills in defaults. */
export function resolveEncoderOptions(input: Partial<SequenceEncoderOptions> = {}): SequenceEncoderOptions {
  for (const k of Object.keys(input)) {
    if (!(k in SEQUENCE_ENCODER_DEFAULTS)) {
      throw new SiftError('E_CONFIG', `SequenceEncoder: unknown option "${k}"; known: ${Object.keys(SEQUENCE_ENCODER_DEFAULTS).join(', ')}.`);
    }
  }
  const o = { ...SEQUENCE_ENCODER_DEFAULTS, ...input };
  if (!(['gru', 'transformer'] as string[]).includes(o.backbone)) {
    throw new SiftError('E_CONFIG', `SequenceEncoder: backbone must be 'gru' or 'transformer', got ${o.backbone}.`);
  }
  for (const k of ['hiddenSize', 'categoricalDim', 'numericDim', 'numLayers', 'numHeads', 'maxPositions'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new SiftError('E_CONFIG', `SequenceEncoder: ${k} must be an integer >= 1, got ${o[k]}.`);
  }
  if (o.backbone === 'transformer' && o.hiddenSize % o.numHeads !== 0) {
    throw new SiftError('E_CONFIG', `SequenceEncoder: hiddenSize ${o.hiddenSize} must be divisible by numHeads ${o.numHeads}.`);
  }
  return o;
}

/** Fits `InputStats` on a store (all its events). */
export function fitInputStats(store: SequenceStore): InputStats {
  const names = store.encoder.numericNames;
  const numericMean: number[] = [];
  const numericStd: number[] = [];
  for (const name of names) {
    const v = store.values[name];
    let s = 0;
    let s2 = 0;
    for (const x of v) {
      s += x;
      s2 += x * x;
    }
    const n = Math.max(1, v.length);
    const mean = s / n;
    numericMean.push(mean);
    numericStd.push(Math.sqrt(Math.max(s2 / n - mean * mean, 0)) || 1);
  }
  const range = store.encoder.time.max - store.encoder.time.min || 1;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < store.numEntities; i++) {
    const a = store.start(i);
    const b = store.end(i);
    for (let e = a + 1; e < b; e++) {
      sum += (store.times[e] - store.times[e - 1]) / range;
      count++;
    }
  }
  const meanDt = count > 0 && sum > 0 ? sum / count : 1;
  return { numericMean, numericStd, meanDt };
}

/** The layout of an `EventEncoder`'s fields. */
export function fieldLayout(encoder: EventEncoder): FieldLayout {
  return {
    categorical: encoder.categoricalNames.map((name) => ({ name, vocab: encoder.vocabSize(name) })),
    numeric: encoder.numericNames,
  };
}

/**
 * Turns a padded batch into event vectors [B, T, F]: embeddings, numeric projections and time features. Its own
 * module so that the generative decoder can embed its teacher-forcing inputs the same way.
 */
export class EventFeatures extends Module<[PaddedBatchTensors], tf.Tensor> {
  /** F, the size of an event vector. */
  readonly size: number;
  private readonly layout: FieldLayout;
  private readonly embeddings: Embedding[];
  private readonly projections: Linear[];
  private readonly timeFeatures: boolean;

  constructor(layout: FieldLayout, stats: InputStats, o: SequenceEncoderOptions, rng: Rng) {
    super();
    this.layout = layout;
    this.timeFeatures = o.timeFeatures;
    this.embeddings = layout.categorical.map((f, i) => this.addModule(`emb${i}`, new Embedding({
      numEmbeddings: f.vocab, embeddingDim: o.categoricalDim, paddingIdx: 0, rng: rng.fork(`emb${i}`),
    })));
    this.projections = layout.numeric.map((_, i) => this.addModule(`num${i}`, new Linear({
      inFeatures: 1, outFeatures: o.numericDim, rng: rng.fork(`num${i}`),
    })));
    this.addBuffer('numeric_mean', tf.tensor1d(stats.numericMean.length > 0 ? stats.numericMean : [0]));
    this.addBuffer('numeric_std', tf.tensor1d(stats.numericStd.length > 0 ? stats.numericStd : [1]));
    this.addBuffer('mean_dt', tf.scalar(stats.meanDt));
    this.size = layout.categorical.length * o.categoricalDim + layout.numeric.length * o.numericDim + (o.timeFeatures ? 2 : 0);
    if (this.size === 0) throw new SiftError('E_CONFIG', 'SequenceEncoder: the events have no fields and timeFeatures is off; nothing to encode.');
  }

  /** Standardised numeric values [B, T] of field `i` (0 at padding). */
  standardized(batch: PaddedBatchTensors, i: number): tf.Tensor {
    return tf.tidy(() => {
      const name = this.layout.numeric[i];
      const mean = tf.slice(this.buffer('numeric_mean'), [i], [1]);
      const std = tf.slice(this.buffer('numeric_std'), [i], [1]);
      return tf.mul(tf.div(tf.sub(batch.values[name], mean), std), batch.mask);
    });
  }

  /** Scaled Δt feature log1p(Δt / mean Δt) [B, T] (0 at padding). */
  dtFeature(batch: PaddedBatchTensors): tf.Tensor {
    return tf.tidy(() => tf.mul(tf.log1p(tf.div(tf.relu(batch.dt), this.buffer('mean_dt'))), batch.mask));
  }

  override forward(batch: PaddedBatchTensors): tf.Tensor {
    return tf.tidy(() => {
      const parts: tf.Tensor[] = [];
      this.layout.categorical.forEach((f, i) => {
        const codes = batch.codes[f.name];
        // Codes beyond the vocabulary (a store encoded with another encoder) become OOV (1).
        const safe = tf.where(tf.greaterEqual(codes, tf.scalar(f.vocab, 'int32')), tf.onesLike(codes), codes);
        parts.push(this.embeddings[i].forward(safe));
      });
      this.layout.numeric.forEach((_, i) => {
        parts.push(this.projections[i].forward(tf.expandDims(this.standardized(batch, i), 2)));
      });
      if (this.timeFeatures) {
        parts.push(tf.expandDims(this.dtFeature(batch), 2), tf.expandDims(tf.mul(batch.time, batch.mask), 2));
      }
      return parts.length === 1 ? parts[0] : tf.concat(parts, 2);
    });
  }
}

class TransformerBlock extends Module<[tf.Tensor, tf.Tensor], tf.Tensor> {
  private readonly ln1: LayerNorm;
  private readonly attn: MultiHeadAttention;
  private readonly ln2: LayerNorm;
  private readonly fc1: Linear;
  private readonly fc2: Linear;

  constructor(d: number, heads: number, rng: Rng) {
    super();
    this.ln1 = this.addModule('ln1', new LayerNorm({ dim: d }));
    this.attn = this.addModule('attn', new MultiHeadAttention({ dModel: d, nHeads: heads, causal: false, rng: rng.fork('attn') }));
    this.ln2 = this.addModule('ln2', new LayerNorm({ dim: d }));
    this.fc1 = this.addModule('fc1', new Linear({ inFeatures: d, outFeatures: 2 * d, rng: rng.fork('fc1') }));
    this.fc2 = this.addModule('fc2', new Linear({ inFeatures: 2 * d, outFeatures: d, rng: rng.fork('fc2') }));
  }

  override forward(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.forward(this.ln1.forward(x), { attentionMask: mask }));
      return tf.add(h, this.fc2.forward(gelu(this.fc1.forward(this.ln2.forward(h)))));
    });
  }
}

/** What `SequenceEncoder.forward` returns. */
export interface EncoderOutput {
  /** Per-step states [B, T, H] (zero at padding for the GRU). */
  states: tf.Tensor;
  /** The sequence embedding [B, H]: the state at each row's last valid event. */
  last: tf.Tensor;
}

/**
 * Encodes padded batches of event sequences into embeddings [B, H]. Built from the fitted `EventEncoder` (vocabulary
 * sizes) and `InputStats` (numeric standardisation), both saved with it by `saveSequenceEncoder`.
 * @example
 * const enc = createSequenceEncoder(store, { hiddenSize: 64 });
 * const t = batchToTensors(batchForEntities(store, [0, 1]));
 * const { last } = enc.forward(t); // [2, 64]
 */
export class SequenceEncoder extends Module<[PaddedBatchTensors], EncoderOutput> {
  /** The options, defaults filled in. */
  readonly options: SequenceEncoderOptions;
  /** The fitted event encoder the store was made with. */
  readonly eventEncoder: EventEncoder;
  /** The fitted input statistics. */
  readonly stats: InputStats;
  /** Embedding size H. */
  readonly dim: number;
  /** Event vectors. */
  readonly features: EventFeatures;
  private readonly gru: GRU | null;
  private readonly inProj: Linear | null;
  private readonly positions: Embedding | null;
  private readonly blocks: ModuleList<TransformerBlock> | null;
  private readonly finalNorm: LayerNorm | null;
  private readonly outNorm: LayerNorm | null;

  constructor(eventEncoder: EventEncoder, stats: InputStats, options: Partial<SequenceEncoderOptions> = {}) {
    super();
    const o = resolveEncoderOptions(options);
    this.options = o;
    this.eventEncoder = eventEncoder;
    this.stats = stats;
    this.dim = o.hiddenSize;
    const rng = new Rng(o.seed).fork('sequence-encoder');
    this.features = this.addModule('features', new EventFeatures(fieldLayout(eventEncoder), stats, o, rng.fork('features')));
    if (o.backbone === 'gru') {
      this.gru = this.addModule('gru', new GRU({ inputSize: this.features.size, hiddenSize: o.hiddenSize, numLayers: o.numLayers, rng: rng.fork('gru') }));
      this.inProj = null;
      this.positions = null;
      this.blocks = null;
      this.finalNorm = null;
    } else {
      this.gru = null;
      this.inProj = this.addModule('in_proj', new Linear({ inFeatures: this.features.size, outFeatures: o.hiddenSize, rng: rng.fork('in') }));
      this.positions = this.addModule('positions', new Embedding({ numEmbeddings: o.maxPositions, embeddingDim: o.hiddenSize, rng: rng.fork('pos'), init: { std: 0.02 } }));
      const blocks = new ModuleList<TransformerBlock>();
      for (let l = 0; l < o.numLayers; l++) blocks.push(new TransformerBlock(o.hiddenSize, o.numHeads, rng.fork(`block${l}`)));
      this.blocks = this.addModule('blocks', blocks);
      this.finalNorm = this.addModule('ln_f', new LayerNorm({ dim: o.hiddenSize }));
    }
    this.outNorm = o.outputNorm ? this.addModule('out_norm', new LayerNorm({ dim: o.hiddenSize })) : null;
  }

  override forward(batch: PaddedBatchTensors): EncoderOutput {
    const [states, last] = tf.tidy((): [tf.Tensor, tf.Tensor] => {
      const x = this.features.forward(batch);
      let states: tf.Tensor;
      let last: tf.Tensor;
      if (this.gru !== null) {
        const out = this.gru.forward(x, { lengths: batch.lengths });
        states = out.output;
        last = out.last;
        tf.dispose(out.hN);
      } else {
        const T = x.shape[1]!;
        if (T > this.options.maxPositions) {
          throw new SiftError('E_SHAPE', `SequenceEncoder: ${T} events exceed maxPositions ${this.options.maxPositions}; ` +
            'keep the last N events (batch option maxLen) or raise maxPositions.');
        }
        let h = tf.add(this.inProj!.forward(x), tf.expandDims(this.positions!.forward(tf.range(0, T, 1, 'int32')), 0));
        for (const block of this.blocks!.toArray()) h = block.forward(h, batch.mask);
        states = tf.mul(this.finalNorm!.forward(h), tf.expandDims(batch.mask, 2));
        const pick = tf.oneHot(tf.maximum(tf.sub(batch.lengths, tf.scalar(1, 'int32')), tf.scalar(0, 'int32')), T); // [B, T]
        last = tf.sum(tf.mul(states, tf.expandDims(tf.cast(pick, 'float32'), 2)), 1);
      }
      if (this.outNorm !== null) last = this.outNorm.forward(last);
      return [states, last];
    });
    return { states, last };
  }
}

/**
 * A sequence encoder for a store: the options plus `InputStats` fitted on the store's events.
 * @example
 * const enc = createSequenceEncoder(trainStore, { backbone: 'transformer', hiddenSize: 64 });
 */
export function createSequenceEncoder(store: SequenceStore, options: Partial<SequenceEncoderOptions> = {}): SequenceEncoder {
  return new SequenceEncoder(store.encoder, fitInputStats(store), options);
}
