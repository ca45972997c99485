import * as tf from '@tensorflow/tfjs-core';
import {
  KVCache, Module, SiftError, fmtShape, linear, type BlockContext, type HiddenState, type SequentialModel,
} from '@sift/tensor-core';
import { modelContext, modelDepth, type ModelConfig } from './config.js';
import { crossEntropy, type CrossEntropyOptions } from './loss.js';

/**
 * A tied LM head x Wᵀ for x [..., D] and the embedding W [V, D]. For a few rows (generation) a transposeB product
 * is ~7x faster on tfjs-backend-wasm than copying Wᵀ (an 11 ms transpose for 4096 x 256); for many rows (training,
 * scoring) `linear`'s plain product with its hand-written gradient is the fast one.
 */
export function tiedHead(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  const D = weight.shape[1]!;
  const rows = x.size / D;
  if (rows > 64) return linear(x, weight);
  return tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(x, [rows, D]), weight, false, true), [...x.shape.slice(0, -1), weight.shape[0]]));
}

/** Per-call inputs of `CausalLM.forward` besides the ids. */
export interface ForwardOptions {
  /** One cache per block (`model.newCaches()`): past keys/values are used, the new ones appended in place. */
  caches?: readonly KVCache[];
  /** [B, S] with 1 = real token, 0 = padding; S = cached + new positions. */
  attentionMask?: tf.Tensor;
  /** int32 [T] or [B, T]. Default P .. P+T−1 (P = cached length). */
  positions?: tf.Tensor;
  /** Compute the head for the last position only: logits [B, 1, V] (generation). Default false. */
  lastOnly?: boolean;
}

/** Options of `CausalLM.loss`. */
export interface LossOptions extends CrossEntropyOptions {
  /**
   * int32 [B, T] targets aligned with the ids (logits at t predict targets[t]), e.g. `TokenBatch.targets`.
   * Default: the ids shifted by one (positions 0..T−2 predict ids 1..T−1).
   */
  targets?: tf.Tensor;
  /** [B, T] attention mask (1 = real token), also applied to the loss. */
  attentionMask?: tf.Tensor;
}

/** What a block needs besides its input: positions, masks and its cache. */
export interface BlockCall {
  /** int32 [T] or [B, T] absolute positions. */
  positions: tf.Tensor;
  /** [B, S] key mask, or undefined. */
  attentionMask?: tf.Tensor;
  /** This block's cache, or undefined. */
  cache?: KVCache;
}

/**
 * The base of Sift's causal language models (`Gpt2Model`, `LlamaModel`): token ids [B, T] -> logits [B, T, V].
 * Module paths equal Hugging Face tensor names. Implements tensor-core's `SequentialModel` (embed, then blocks one at a
 * time, for layer-wise compression) and `@sift/eval`'s `LogitsModel` (`logits(ids)`, `maxContext`).
 */
export abstract class CausalLM extends Module<[tf.Tensor, ForwardOptions?], tf.Tensor>
  implements SequentialModel {
  /** The Hugging Face configuration the model was built from. */
  abstract readonly config: ModelConfig;

  /** The blocks in order. */
  abstract blocks(): readonly Module[];
  /** HF path of block i (`transformer.h.3`, `model.layers.3`). */
  abstract blockPath(index: number): string;
  /** Token (and, for GPT-2, position) embeddings: ids [B, T] -> [B, T, D]. */
  protected abstract embedTokens(ids: tf.Tensor, positions: tf.Tensor): tf.Tensor;
  /** Block i: [B, T, D] -> [B, T, D]. */
  protected abstract blockForward(index: number, x: tf.Tensor, call: BlockCall): tf.Tensor;
  /** Final norm and LM head: [B, T, D] -> [B, T, V]. */
  protected abstract head(x: tf.Tensor): tf.Tensor;

  /** Vocabulary size V. */
  get vocabSize(): number {
    return this.config.vocab_size;
  }

  /** Longest sequence (cached + new) the model accepts. */
  get maxContext(): number {
    return modelContext(this.config);
  }

  /** Number of blocks. */
  get numLayers(): number {
    return modelDepth(this.config);
  }

  /** Empty KV caches, one per block, for `forward(ids, { caches })`; dispose them when done. */
  newCaches(): KVCache[] {
    return Array.from({ length: this.numLayers }, () => new KVCache());
  }

  private checkIds(ids: tf.Tensor, past: number): void {
    if (ids.rank !== 2 || ids.dtype !== 'int32') {
      throw new SiftError('E_SHAPE', `${this.constructor.name}: ids must be int32 [B, T], got ${ids.dtype} ${fmtShape(ids.shape)}.`);
    }
    const S = past + ids.shape[1]!;
    if (S > this.maxContext) {
      throw new SiftError('E_SHAPE', `${this.constructor.name}: ${S} positions (${past} cached + ${ids.shape[1]!} new) exceed the ` +
        `context of ${this.maxContext}; use shorter inputs or a model with a longer context.`);
    }
  }

  /**
   * ids int32 [B, T] -> logits [B, T, V] (or [B, 1, V] with `lastOnly`). Causal: logits at t see ids[..t] only.
   * @example
   * const logits = model.forward(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32')); // [1, 3, V]
   */
  override forward(ids: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    const caches = options.caches;
    if (caches !== undefined && caches.length !== this.numLayers) {
      throw new SiftError('E_CONFIG', `${this.constructor.name}.forward: got ${caches.length} caches for ${this.numLayers} blocks; ` +
        'use model.newCaches().');
    }
    const past = caches?.[0]?.length ?? 0;
    this.checkIds(ids, past);
    const T = ids.shape[1]!;
    return tf.tidy(() => {
      const positions = options.positions ?? tf.range(past, past + T, 1, 'int32');
      let x = this.embedTokens(ids, positions);
      const n = this.numLayers;
      for (let i = 0; i < n; i++) {
        const call: BlockCall = { positions };
        if (options.attentionMask !== undefined) call.attentionMask = options.attentionMask;
        const c = caches?.[i];
        if (c !== undefined) call.cache = c;
        x = this.blockForward(i, x, call);
      }
      if (options.lastOnly === true && T > 1) x = tf.slice(x, [0, T - 1, 0], [-1, 1, -1]);
      return this.head(x);
    });
  }

  /**
   * `@sift/eval`'s `LogitsModel`: ids [B, T] -> logits [B, T, V].
   */
  logits(ids: tf.Tensor2D): tf.Tensor3D {
    return this.forward(ids) as tf.Tensor3D;
  }

  /**
   * Mean next-token cross-entropy (nats). Without `targets`, position t predicts ids[t+1]; with them, targets[t].
   * Targets equal to `ignoreIndex` (default -100) and positions masked out by `mask`/`attentionMask` do not count.
   * @returns scalar
   */
  loss(ids: tf.Tensor, options: LossOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const fwd: ForwardOptions = options.attentionMask === undefined ? {} : { attentionMask: options.attentionMask };
      const logits = this.forward(ids, fwd);
      const ce: CrossEntropyOptions = options.ignoreIndex === undefined ? {} : { ignoreIndex: options.ignoreIndex };
      let mask = options.mask;
      if (options.attentionMask !== undefined) mask = mask === undefined ? options.attentionMask : tf.mul(mask, options.attentionMask);
      if (options.targets !== undefined) {
        if (mask !== undefined) ce.mask = mask;
        return crossEntropy(logits, options.targets, ce);
      }
      const [B, T] = ids.shape as [number, number];
      if (T < 2) throw new SiftError('E_SHAPE', `${this.constructor.name}.loss: needs T >= 2 to predict next tokens, got T = ${T}.`);
      const z = tf.slice(logits, [0, 0, 0], [B, T - 1, -1]);
      const y = tf.slice(ids, [0, 1], [B, T - 1]);
      if (mask !== undefined) ce.mask = tf.slice(mask, [0, 1], [B, T - 1]);
      return crossEntropy(z, y, ce);
    });
  }

  // ------------------------------------------------------------------ SequentialModel

  /** ids int32 [B, T] -> block 0's input: hidden [B, T, D] with positions 0..T−1. */
  embed(ids: tf.Tensor): HiddenState {
    this.checkIds(ids, 0);
    return tf.tidy(() => {
      const positions = tf.range(0, ids.shape[1]!, 1, 'int32');
      return { hidden: this.embedTokens(ids, positions), context: { positions } };
    });
  }

  /** Runs block `index`; the output carries its own handles of the context tensors (safe to dispose the input). */
  runBlock(index: number, h: HiddenState): HiddenState {
    if (!Number.isInteger(index) || index < 0 || index >= this.numLayers) {
      throw new SiftError('E_CONFIG', `${this.constructor.name}.runBlock: index ${index} out of range [0, ${this.numLayers}).`);
    }
    return tf.tidy(() => {
      const T = h.hidden.shape[1]!;
      const positions = h.context.positions ?? tf.range(0, T, 1, 'int32');
      const call: BlockCall = { positions };
      if (h.context.attentionMask !== undefined) call.attentionMask = h.context.attentionMask;
      const context: BlockContext = {};
      if (h.context.positions !== undefined) context.positions = tf.clone(h.context.positions);
      if (h.context.attentionMask !== undefined) context.attentionMask = tf.clone(h.context.attentionMask);
      return { hidden: this.blockForward(index, h.hidden, call), context };
    });
  }

  /** The final norm and head on the last block's output: hidden [B, T, D] -> logits [B, T, V]. */
  headForward(h: HiddenState): tf.Tensor {
    return tf.tidy(() => this.head(h.hidden));
  }
}
