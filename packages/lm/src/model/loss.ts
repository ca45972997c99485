import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '@sift/tensor-core';

type Saver = (tensors: tf.Tensor[]) => void;

/** Options of `crossEntropy`. */
export interface CrossEntropyOptions {
  /** Targets equal to this id are ignored (PyTorch's `ignore_index`). Default -100. */
  ignoreIndex?: number;
  /** Per-position weights of the targets' shape (1 = count, 0 = ignore), multiplied with the ignore mask. */
  mask?: tf.Tensor;
}

/** Defaults of `CrossEntropyOptions`. */
export const CROSS_ENTROPY_DEFAULTS: { ignoreIndex: number } = { ignoreIndex: -100 };

/**
 * Mean cross-entropy −log softmax(z)[y] over the counted positions (PyTorch's `F.cross_entropy` with
 * `ignore_index`), with one fused gradient (softmax(z) − onehot(y)) · w / Σw, which avoids gather's gradient and an
 * [N, V] log-softmax gradient graph. With no counted position the loss is 0.
 * @param logits  [..., V] float32
 * @param targets int32 of logits' leading shape [...]
 * @returns scalar
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, options: CrossEntropyOptions = {}): tf.Scalar {
  const ignore = options.ignoreIndex ?? CROSS_ENTROPY_DEFAULTS.ignoreIndex;
  const V = logits.shape[logits.rank - 1];
  const lead = logits.shape.slice(0, -1);
  if (targets.dtype !== 'int32' || targets.shape.join(',') !== lead.join(',')) {
    throw new SiftError('E_SHAPE', `crossEntropy: targets must be int32 ${fmtShape(lead)} (the logits' shape without V), ` +
      `got ${targets.dtype} ${fmtShape(targets.shape)}.`);
  }
  if (options.mask !== undefined && options.mask.shape.join(',') !== lead.join(',')) {
    throw new SiftError('E_SHAPE', `crossEntropy: mask must be ${fmtShape(lead)}, got ${fmtShape(options.mask.shape)}.`);
  }
  return tf.tidy(() => {
    const N = lead.reduce((a, b) => a * b, 1);
    const z = tf.reshape(logits, [N, V]);
    const y = tf.reshape(targets, [N]);
    let w = tf.cast(tf.notEqual(y, ignore), 'float32');
    if (options.mask !== undefined) w = tf.mul(w, tf.reshape(tf.cast(options.mask, 'float32'), [N]));
    const safeY = tf.where(tf.cast(w, 'bool'), y, tf.zerosLike(y)); // ignored ids may be out of range
    const denom = tf.maximum(tf.sum(w), 1);
    const scale = tf.div(w, denom); // [N]
    const op = tf.customGrad((zi: tf.Tensor | Saver, save: tf.Tensor | Saver) => {
      const zs = zi as tf.Tensor;
      const lsm = tf.logSoftmax(zs); // [N, V]
      const flat = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), safeY);
      const picked = tf.gather(tf.reshape(lsm, [N * V]), flat); // [N]
      (save as Saver)([lsm, safeY, scale]);
      return {
        value: tf.neg(tf.sum(tf.mul(picked, scale))),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
          const [ls, ys, sc] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          // int32 one-hot then cast: tfjs-backend-wasm 4.22 writes int bits into a float32 oneHot.
          const g = tf.sub(tf.exp(ls), tf.cast(tf.oneHot(ys, V), 'float32'));
          return tf.mul(g, tf.mul(tf.expandDims(sc, 1), dy));
        },
      };
    });
    return op(z) as tf.Scalar;
  });
}
