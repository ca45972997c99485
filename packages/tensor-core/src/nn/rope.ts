import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';

/** Rotary position embedding settings (Su et al. 2021, RoFormer; Llama's `rope_theta`). */
export interface RopeOptions {
  /** Base of the frequencies: θ_i = theta^(−2i/dim). Default 10000 (Llama 2; Llama 3 uses 500000). */
  theta?: number;
  /** Rotated size per head (even, ≤ head dim); the rest passes through (partial rotary). Default the head dim. */
  dim?: number;
}

/** Defaults of `RopeOptions`. */
export const ROPE_DEFAULTS: { theta: number } = { theta: 10000 };

/**
 * cos and sin of the rotary angles pos · θ_i, i < dim/2, as Hugging Face's `LlamaRotaryEmbedding` (float32).
 * @param positions int32 [T] or [B, T]
 * @returns cos, sin: [B or 1, 1, T, dim/2], ready to broadcast over heads
 */
export function ropeAngles(positions: tf.Tensor, dim: number, theta: number = ROPE_DEFAULTS.theta): { cos: tf.Tensor; sin: tf.Tensor } {
  if (dim % 2 !== 0 || dim <= 0) throw new SiftError('E_CONFIG', `rope: the rotated dim must be even and > 0, got ${dim}.`);
  if (positions.rank !== 1 && positions.rank !== 2) {
    throw new SiftError('E_SHAPE', `rope: positions must be [T] or [B, T], got ${fmtShape(positions.shape)}.`);
  }
  const half = dim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / dim);
  return tf.tidy(() => {
    const pos2 = positions.rank === 1 ? tf.expandDims(positions, 0) : positions; // [B|1, T]
    const ang = tf.mul(tf.expandDims(tf.cast(pos2, 'float32'), 2), tf.tensor1d(inv)); // [B|1, T, half]
    const shape = [pos2.shape[0], 1, pos2.shape[1]!, half];
    return { cos: tf.reshape(tf.cos(ang), shape), sin: tf.reshape(tf.sin(ang), shape) };
  });
}

/**
 * Rotates the first `2·cos.shape[3]` features of each head by the angles, in Llama's "rotate half" layout:
 * [x1, x2] -> [x1·cos − x2·sin, x2·cos + x1·sin] (x1, x2 the two halves of the rotated part).
 * @param x   [B, H, T, Dh]
 * @param cos [B|1, 1, T, d/2]; sin likewise
 * @returns   [B, H, T, Dh]
 */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const half = cos.shape[3]!;
  const dh = x.shape[3]!;
  if (2 * half > dh) throw new SiftError('E_SHAPE', `applyRope: rotated dim ${2 * half} exceeds the head dim ${dh}.`);
  return tf.tidy(() => {
    const parts = tf.split(x, 2 * half === dh ? [half, half] : [half, half, dh - 2 * half], 3);
    const [x1, x2] = parts as [tf.Tensor, tf.Tensor];
    const r1 = tf.sub(tf.mul(x1, cos), tf.mul(x2, sin));
    const r2 = tf.add(tf.mul(x2, cos), tf.mul(x1, sin));
    return tf.concat(parts.length === 3 ? [r1, r2, parts[2]] : [r1, r2], 3);
  });
}
