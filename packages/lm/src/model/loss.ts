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

/** Backends whose tensors live in host memory, where `crossEntropy` runs as one pass over the logits in JavaScript. */
const HOST_BACKENDS: ReadonlySet<string> = new Set(['wasm', 'cpu']);

/** 2^k for k = 0 .. −160 (2^k underflows float32 below −149). */
const POW2_NEG = Float64Array.from({ length: 161 }, (_, i) => 2 ** -i);

/**
 * e^x for x <= 0 (softmax's exp(z − max)), to ~1e-8 relative: x = −k·ln2 + r with |r| <= ln2/2, e^r by its Taylor
 * polynomial of degree 7, times 2^−k from a table; NaN stays NaN. V8's Math.exp takes ~21 ns per value, this ~9.
 */
function expNonPositive(x: number): number {
  const t = 0.5 - x * Math.LOG2E;
  if (!(t < 160)) return t >= 160 ? 0 : Number.NaN;
  const k = t | 0;
  const r = x + k * Math.LN2;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r / 5040))))));
  return p * POW2_NEG[k];
}

/**
 * The host path of `crossEntropy` on [N, V] logits: per row the max, exp(z − max) (kept for the gradient, with
 * 1 / Σ per row), the log-sum-exp in float64 and the picked logit. One exp per logit in all; tfjs's ops take two exp passes
 * and five [N, V] temporaries (~170 ms against ~50 for [1024, 4096] on wasm, forward and backward).
 * @param scale per-row weight w / Σw (0 for ignored rows, whose target may be out of range)
 */
function hostCrossEntropy(zv: Float32Array, y: Int32Array, scale: Float32Array, N: number, V: number): { loss: number; probs: Float32Array; inv: Float64Array } {
  const probs = new Float32Array(N * V);
  const inv = new Float64Array(N);
  let loss = 0;
  for (let r = 0; r < N; r++) {
    const o = r * V;
    let m = -Infinity;
    for (let v = 0; v < V; v++) if (zv[o + v] > m) m = zv[o + v];
    let sum = 0;
    for (let v = 0; v < V; v++) {
      const e = expNonPositive(zv[o + v] - m);
      probs[o + v] = e;
      sum += e;
    }
    inv[r] = 1 / sum;
    if (scale[r] !== 0) loss += scale[r] * (m + Math.log(sum) - zv[o + y[r]]);
  }
  return { loss, probs, inv };
}

/**
 * Mean cross-entropy −log softmax(z)[y] over the counted positions (PyTorch's `F.cross_entropy` with
 * `ignore_index`), with one fused gradient (softmax(z) − onehot(y)) · w / Σw, which avoids gather's gradient and an
 * [N, V] log-softmax gradient graph. With no counted position the loss is 0. On wasm and cpu (tensors in host
 * memory) loss and gradient come from one JavaScript pass over the logits (one exp per logit, the log-sum-exp in
 * float64); elsewhere from tfjs ops.
 * @param logits  [..., V] float32
 * @param targets int32 of logits' leading shape [...]
 * @returns scalar
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, options: CrossEntropyOptions = {}): tf.Scalar {
  return crossEntropyOn('auto', logits, targets, options);
}

/**
 * `crossEntropy` on a chosen path: 'host' (one JavaScript pass over the logits, the default on wasm and cpu), 'ops'
 * (tfjs ops: logSoftmax and a fused gradient, the default elsewhere and the tested reference) or 'auto'.
 */
export function crossEntropyOn(path: 'auto' | 'host' | 'ops', logits: tf.Tensor, targets: tf.Tensor, options: CrossEntropyOptions = {}): tf.Scalar {
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
    if (path === 'host' || (path === 'auto' && HOST_BACKENDS.has(tf.getBackend()))) {
      const hostOp = tf.customGrad((zi: tf.Tensor | Saver) => {
        const sc = scale.dataSync() as Float32Array;
        const ys = safeY.dataSync() as Int32Array;
        const { loss, probs, inv } = hostCrossEntropy((zi as tf.Tensor).dataSync() as Float32Array, ys, sc, N, V);
        return {
          value: tf.scalar(loss),
          gradFunc: (dy: tf.Tensor): tf.Tensor => {
            // (softmax(z) − onehot(y)) · scale · dy from the kept probabilities.
            const d = dy.dataSync()[0];
            const g = new Float32Array(N * V);
            for (let r = 0; r < N; r++) {
              const f = sc[r] * d;
              if (f === 0) continue;
              const o = r * V;
              const fp = f * inv[r];
              for (let v = 0; v < V; v++) g[o + v] = probs[o + v] * fp;
              g[o + ys[r]] -= f;
            }
            return tf.tensor2d(g, [N, V]);
          },
        };
      });
      return hostOp(z) as tf.Scalar;
    }
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
