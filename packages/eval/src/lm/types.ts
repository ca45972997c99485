import type * as tf from '@tensorflow/tfjs-core';

/**
 * Any causal language model, seen only through its logits: `@sift/lm` models, a pruned or quantized copy, or a
 * user's own. Logits at position t must depend on ids[..t] only (causal), which batched scoring relies on when it
 * right-pads sequences.
 * @example
 * const model: LogitsModel = { logits: (ids) => myModel.forward(ids), maxContext: 1024 };
 */
export interface LogitsModel {
  /**
   * ids `[B, T]` int32 -> logits `[B, T, V]` (float32, unnormalised). May be async. The evaluator disposes the
   * returned tensor and the ids; the model must not keep either.
   */
  logits(ids: tf.Tensor2D): tf.Tensor3D | Promise<tf.Tensor3D>;
  /** Longest sequence T the model accepts; evaluations check their window against it. */
  maxContext?: number;
}

/** Text to token ids, e.g. a GPT-2 BPE from `@sift/lm` or `@huggingface/tokenizers`. */
export interface Tokenizer {
  encode(text: string): number[];
}
