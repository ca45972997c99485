import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import type { Rng } from '../random/rng.js';
import { checkPositiveInt, type Init, initTensor, withDefaults } from './init.js';
import { Module, type Parameter } from './module.js';

/**
 * Row lookup `weight[ids]` with a scatter-add gradient: dW = Σ rows of dy into the looked-up ids (duplicates sum),
 * computed with `scatterND`, which every backend implements (tfjs's own gather gradient needs
 * `unsortedSegmentSum`, which tfjs-backend-wasm lacks). Rows of `paddingIdx` get no gradient (PyTorch's
 * `padding_idx`).
 * @param weight [V, D]
 * @param ids    int32 of any shape S (values in [0, V); out-of-range ids are not checked, to avoid a device sync)
 * @returns      [...S, D]
 */
export function embeddingLookup(weight: tf.Tensor, ids: tf.Tensor, paddingIdx: number | null = null): tf.Tensor {
  if (weight.rank !== 2) throw new SiftError('E_SHAPE', `embeddingLookup: weight must be [V, D], got ${fmtShape(weight.shape)}.`);
  if (ids.dtype !== 'int32') {
    throw new SiftError('E_DTYPE', `embeddingLookup: ids must be int32, got ${ids.dtype}. Use tf.tensor(ids, shape, 'int32').`);
  }
  const [V, D] = weight.shape as [number, number];
  return tf.tidy(() => {
    const flat = tf.reshape(ids, [-1]);
    const op = tf.customGrad((w: tf.Tensor | ((t: tf.Tensor[]) => void), save: tf.Tensor | ((t: tf.Tensor[]) => void)) => {
      (save as (t: tf.Tensor[]) => void)([flat]); // `flat` belongs to this tidy: backward reads the saved copy
      return {
        value: tf.gather(w as tf.Tensor, flat),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
          const idx = saved[0];
          let rows = dy; // [N, D]
          if (paddingIdx !== null) rows = tf.mul(rows, tf.expandDims(tf.cast(tf.notEqual(idx, paddingIdx), 'float32'), 1));
          return tf.scatterND(tf.expandDims(idx, 1), rows, [V, D]);
        },
      };
    });
    return tf.reshape(op(weight), [...ids.shape, D]);
  });
}

/** Options of `Embedding`. */
export interface EmbeddingOptions {
  /** Vocabulary size V. */
  numEmbeddings: number;
  /** Embedding size D. */
  embeddingDim: number;
  /** A row that stays zero and gets no gradient (PyTorch's `padding_idx`). Default none. */
  paddingIdx?: number | null;
  /** Generator for a random init (required unless `init` is deterministic). */
  rng?: Rng;
  /** Init. Default N(0, 1) (PyTorch); GPT-2 uses `{ std: 0.02 }`. */
  init?: Init;
}

/** Defaults of `EmbeddingOptions`. */
export const EMBEDDING_DEFAULTS: { paddingIdx: number | null; init: Init } = { paddingIdx: null, init: { std: 1 } };

/**
 * A lookup table `weight` [V, D] (PyTorch's `nn.Embedding`). Forward: int32 ids [...S] -> [...S, D].
 * @example
 * const wte = new Embedding({ numEmbeddings: 8192, embeddingDim: 256, rng, init: { std: 0.02 } });
 * const h = wte.forward(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32')); // [1, 3, 256]
 */
export class Embedding extends Module<[tf.Tensor], tf.Tensor> {
  /** V */
  readonly numEmbeddings: number;
  /** D */
  readonly embeddingDim: number;
  /** The padding row, or null. */
  readonly paddingIdx: number | null;

  constructor(options: EmbeddingOptions) {
    super();
    const o = withDefaults(EMBEDDING_DEFAULTS, options);
    checkPositiveInt('Embedding', 'numEmbeddings', o.numEmbeddings);
    checkPositiveInt('Embedding', 'embeddingDim', o.embeddingDim);
    const pad = o.paddingIdx;
    if (pad !== null && !(Number.isInteger(pad) && pad >= 0 && pad < o.numEmbeddings)) {
      throw new SiftError('E_CONFIG', `Embedding: paddingIdx must be an integer in [0, ${o.numEmbeddings}), got ${String(pad)}.`);
    }
    this.numEmbeddings = o.numEmbeddings;
    this.embeddingDim = o.embeddingDim;
    this.paddingIdx = pad;
    let w = initTensor([o.numEmbeddings, o.embeddingDim], o.init, o.rng, 'Embedding.weight');
    if (pad !== null) {
      const init = w;
      w = tf.tidy(() => {
        const keep = tf.expandDims(tf.notEqual(tf.range(0, o.numEmbeddings, 1, 'int32'), pad), 1);
        return tf.where(tf.tile(keep, [1, o.embeddingDim]), init, tf.zerosLike(init)); // +0, not -0
      });
      init.dispose();
    }
    this.addParameter('weight', w);
  }

  /** The table [V, D]. */
  get weight(): Parameter {
    return this.param('weight');
  }

  /** int32 ids [...S] -> [...S, D] */
  override forward(ids: tf.Tensor): tf.Tensor {
    return embeddingLookup(this.weight, ids, this.paddingIdx);
  }
}
