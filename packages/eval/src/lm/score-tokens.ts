import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '@sift/tensor-core';
import type { LogitsModel } from './types.js';

/**
 * Runs `model` on one padded batch and returns log p(token_m | prefix) for selected positions: `positions[m]` is a
 * flat index b·T + t into the `[B, T]` batch whose logits predict `tokens[m]`. log p = logit − logsumexp(logits),
 * computed on the backend in float32 for only the selected rows, then read back (M floats, not B·T·V).
 */
export async function targetLogProbs(
  where: string, model: LogitsModel, ids: Int32Array, batch: number, seqlen: number, positions: Int32Array, tokens: Int32Array,
): Promise<Float32Array> {
  const idsT = tf.tensor2d(ids, [batch, seqlen], 'int32');
  let logits: tf.Tensor | undefined;
  try {
    logits = await model.logits(idsT);
    const shape = logits.shape;
    if (shape.length !== 3 || shape[0] !== batch || shape[1] !== seqlen) {
      throw new SiftError('E_SHAPE', `${where}: model.logits(ids ${fmtShape([batch, seqlen])}) returned shape ${fmtShape(shape)}; ` +
        `expected [${batch}, ${seqlen}, V]. A LogitsModel maps [B, T] ids to [B, T, V] logits.`);
    }
    const v = shape[2];
    const m = tokens.length;
    for (let k = 0; k < m; k++) {
      const tok = tokens[k];
      if (tok < 0 || tok >= v) throw new SiftError('E_DATA', `${where}: token id ${tok} is outside the model's vocabulary [0, ${v}).`);
    }
    const lt = logits;
    // Dense case (perplexity: nearly every position is scored): logsumexp over all rows in place, then pick M values
    // by flat index. Sparse case (multiple choice: a few continuation positions per row), or indices beyond int32:
    // gather the M scored rows first so the softmax work is M·V, not B·T·V.
    const dense = m * 2 > batch * seqlen && batch * seqlen * v < 2 ** 31;
    const out = tf.tidy(() => {
      const flatIdx = new Int32Array(m);
      if (dense) {
        for (let k = 0; k < m; k++) flatIdx[k] = positions[k] * v + tokens[k];
        const flat = tf.reshape(lt, [batch * seqlen, v]);
        const lse = tf.gather(tf.logSumExp(flat, 1), tf.tensor1d(positions, 'int32'));
        return tf.sub(tf.gather(tf.reshape(flat, [-1]), tf.tensor1d(flatIdx, 'int32')), lse);
      }
      for (let k = 0; k < m; k++) flatIdx[k] = k * v + tokens[k];
      const rows = tf.gather(tf.reshape(lt, [batch * seqlen, v]), tf.tensor1d(positions, 'int32'));
      return tf.sub(tf.gather(tf.reshape(rows, [-1]), tf.tensor1d(flatIdx, 'int32')), tf.logSumExp(rows, 1));
    });
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  } finally {
    idsT.dispose();
    logits?.dispose();
  }
}
