import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import { checkPositiveInt, withDefaults } from './init.js';
import { Module, type Parameter } from './module.js';

type Saver = (tensors: tf.Tensor[]) => void;

/** Sums `t` over every axis but the last: [..., D] -> [D]. */
function sumLead(t: tf.Tensor): tf.Tensor {
  return t.rank === 1 ? t : tf.sum(tf.reshape(t, [-1, t.shape[t.rank - 1]]), 0);
}

function checkLastDim(where: string, x: tf.Tensor, d: number): void {
  if (x.rank < 1 || x.shape[x.rank - 1] !== d) {
    throw new SiftError('E_SHAPE', `${where}: input ${fmtShape(x.shape)} must end in ${d} (the normalized size).`);
  }
}

/**
 * Layer normalization over the last axis, with one fused gradient (fewer ops than autodiff through the moments):
 * y = (x − mean) / √(var + eps) · weight + bias, var biased (as PyTorch).
 * @param x [..., D]; weight, bias [D] or null
 * @returns [..., D]
 */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor | null, bias: tf.Tensor | null, eps = 1e-5): tf.Tensor {
  const inputs: tf.Tensor[] = [x];
  if (weight !== null) inputs.push(weight);
  if (bias !== null) inputs.push(bias);
  const op = tf.customGrad((...args: (tf.Tensor | Saver)[]) => {
    const save = args[args.length - 1] as Saver;
    const xs = args[0] as tf.Tensor;
    const mean = tf.mean(xs, -1, true);
    const xc = tf.sub(xs, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
    const xhat = tf.mul(xc, rstd);
    let y = weight === null ? xhat : tf.mul(xhat, weight);
    if (bias !== null) y = tf.add(y, bias);
    save(weight === null ? [xhat, rstd] : [xhat, rstd, weight]); // backward reads saved tensors only
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [xh, r, ws] = saved as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const dxhat = ws === undefined ? dy : tf.mul(dy, ws);
        // dx = rstd · (dxhat − mean(dxhat) − xhat · mean(dxhat · xhat))
        const dx = tf.mul(r, tf.sub(tf.sub(dxhat, tf.mean(dxhat, -1, true)), tf.mul(xh, tf.mean(tf.mul(dxhat, xh), -1, true))));
        const grads = [dx];
        if (weight !== null) grads.push(sumLead(tf.mul(dy, xh)));
        if (bias !== null) grads.push(sumLead(dy));
        return grads;
      },
    };
  });
  return op(...inputs);
}

/**
 * RMS normalization over the last axis (Llama's `LlamaRMSNorm`): y = x / √(mean(x²) + eps) · weight, with one fused
 * gradient.
 * @param x [..., D]; weight [D] or null
 * @returns [..., D]
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor | null, eps = 1e-6): tf.Tensor {
  const inputs: tf.Tensor[] = weight === null ? [x] : [x, weight];
  const op = tf.customGrad((...args: (tf.Tensor | Saver)[]) => {
    const save = args[args.length - 1] as Saver;
    const xs = args[0] as tf.Tensor;
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xs), -1, true), eps));
    const xhat = tf.mul(xs, r);
    save(weight === null ? [xhat, r] : [xhat, r, weight]); // backward reads saved tensors only
    return {
      value: weight === null ? xhat : tf.mul(xhat, weight),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [xh, rs, ws] = saved as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const dxhat = ws === undefined ? dy : tf.mul(dy, ws);
        // dx = r · (dxhat − xhat · mean(dxhat · xhat))
        const dx = tf.mul(rs, tf.sub(dxhat, tf.mul(xh, tf.mean(tf.mul(dxhat, xh), -1, true))));
        return weight === null ? [dx] : [dx, sumLead(tf.mul(dy, xh))];
      },
    };
  });
  return op(...inputs);
}

/** Options of `LayerNorm`. */
export interface LayerNormOptions {
  /** Size of the last axis. */
  dim: number;
  /** Added to the variance. Default 1e-5 (PyTorch; GPT-2 uses 1e-5). */
  eps?: number;
  /** Learn a per-feature scale `weight` (init 1). Default true. */
  elementwiseAffine?: boolean;
  /** Learn a per-feature shift `bias` (init 0) when affine. Default true. */
  bias?: boolean;
}

/** Defaults of `LayerNormOptions`. */
export const LAYER_NORM_DEFAULTS: Required<Omit<LayerNormOptions, 'dim'>> = { eps: 1e-5, elementwiseAffine: true, bias: true };

/**
 * `nn.LayerNorm(dim)` over the last axis. Parameters `weight` [D] (ones) and `bias` [D] (zeros), HF names.
 * Forward: [..., D] -> [..., D].
 * @example
 * const ln = new LayerNorm({ dim: 256 });
 * const y = ln.forward(x); // x: [B, T, 256]
 */
export class LayerNorm extends Module<[tf.Tensor], tf.Tensor> {
  /** The normalized size D. */
  readonly dim: number;
  /** Variance epsilon. */
  readonly eps: number;
  /** Scale [D], or null without affine. */
  readonly weight: Parameter | null;
  /** Shift [D], or null. */
  readonly bias: Parameter | null;

  constructor(options: LayerNormOptions) {
    super();
    const o = withDefaults(LAYER_NORM_DEFAULTS, options);
    checkPositiveInt('LayerNorm', 'dim', o.dim);
    if (!(o.eps > 0)) throw new SiftError('E_CONFIG', `LayerNorm: eps must be > 0, got ${o.eps}.`);
    this.dim = o.dim;
    this.eps = o.eps;
    this.weight = o.elementwiseAffine ? this.addParameter('weight', tf.ones([o.dim])) : null;
    this.bias = o.elementwiseAffine && o.bias ? this.addParameter('bias', tf.zeros([o.dim])) : null;
  }

  /** [..., D] -> [..., D] */
  override forward(x: tf.Tensor): tf.Tensor {
    checkLastDim('LayerNorm', x, this.dim);
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** Options of `RMSNorm`. */
export interface RMSNormOptions {
  /** Size of the last axis. */
  dim: number;
  /** Added to the mean square. Default 1e-6 (Llama's `rms_norm_eps`; some checkpoints use 1e-5). */
  eps?: number;
  /** Learn a per-feature scale `weight` (init 1). Default true. */
  elementwiseAffine?: boolean;
}

/** Defaults of `RMSNormOptions`. */
export const RMS_NORM_DEFAULTS: Required<Omit<RMSNormOptions, 'dim'>> = { eps: 1e-6, elementwiseAffine: true };

/**
 * Llama's RMSNorm over the last axis: x / √(mean(x²) + eps) · weight. Parameter `weight` [D] (ones).
 * Forward: [..., D] -> [..., D].
 */
export class RMSNorm extends Module<[tf.Tensor], tf.Tensor> {
  /** The normalized size D. */
  readonly dim: number;
  /** Epsilon. */
  readonly eps: number;
  /** Scale [D], or null. */
  readonly weight: Parameter | null;

  constructor(options: RMSNormOptions) {
    super();
    const o = withDefaults(RMS_NORM_DEFAULTS, options);
    checkPositiveInt('RMSNorm', 'dim', o.dim);
    if (!(o.eps > 0)) throw new SiftError('E_CONFIG', `RMSNorm: eps must be > 0, got ${o.eps}.`);
    this.dim = o.dim;
    this.eps = o.eps;
    this.weight = o.elementwiseAffine ? this.addParameter('weight', tf.ones([o.dim])) : null;
  }

  /** [..., D] -> [..., D] */
  override forward(x: tf.Tensor): tf.Tensor {
    checkLastDim('RMSNorm', x, this.dim);
    return rmsNorm(x, this.weight, this.eps);
  }
}
