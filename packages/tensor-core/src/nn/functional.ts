/**
 * Differentiable building blocks with hand-written gradients. They exist for speed on tfjs-backend-wasm, whose
 * matrix product is fast only for plain 2-D `[M, K] x [K, N]` without transpose flags and without a broadcast batch
 * (XNNPACK); anything else runs a naive loop 10-40x slower. So every product here is made plain by explicit
 * transposes (cheap copies), in the forward AND the backward pass, and elementwise chains get one fused gradient. The
 * one exception: `linear` on a few rows, where copying W costs more than the slow product. Batched products (`bmm`)
 * stay slow with tfjs's kernel even when plain; `@sift/backend` registers a wasm `BatchMatMul` kernel that runs them
 * (and any other product) on XNNPACK, so with `initBackend` every product here is fast.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';

type Saver = (tensors: tf.Tensor[]) => void;

/**
 * Up to this many rows, `linear` multiplies by the weight with the transpose flag instead of copying its transpose:
 * the copy of W dominates a matrix-vector product (single-token decoding). Measured on wasm, 2 threads (W [4096, 256],
 * [768, 768], [704, 256]): flag / copy time 0.09-0.21 at 1 row, 0.21-0.29 at 2, 0.45-0.74 at 4, 0.75-1.4 at 8, and
 * 5-20x slower from 64 rows. The bias is added separately there: tfjs-backend-wasm 4.22's `fused.matMul` with
 * `transposeB` and a bias returns wrong values (max error 1.6 on a [3, 5] x [4, 5]^T product).
 */
const TRANSPOSE_FLAG_MAX_ROWS = 4;

/** Options of `linear`. */
export interface LinearFnOptions {
  /**
   * Whether to compute the weight's (and bias's) gradient. Pass false for a frozen weight: backward then skips the
   * `dy^T x` product, the most expensive one. Default true.
   */
  weightGrad?: boolean;
}

/**
 * y = x W^T + b, as PyTorch's `F.linear`.
 * @param x      [..., in]
 * @param weight [out, in]
 * @param bias   [out] or null
 * @returns      [..., out]
 * @example
 * const logits = linear(hidden, wte.weight); // a tied LM head: [B, T, D] x [V, D]^T -> [B, T, V]
 */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null = null, options: LinearFnOptions = {}): tf.Tensor {
  if (weight.rank !== 2) {
    throw new SiftError('E_SHAPE', `linear: weight must be [out, in], got ${fmtShape(weight.shape)}.`);
  }
  const [out, inF] = weight.shape as [number, number];
  if (x.rank < 1 || x.shape[x.rank - 1] !== inF) {
    throw new SiftError('E_SHAPE', `linear: input ${fmtShape(x.shape)} must end in in_features ${inF} (weight ` +
      `${fmtShape(weight.shape)}). Check the layer sizes.`);
  }
  if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== out)) {
    throw new SiftError('E_SHAPE', `linear: bias ${fmtShape(bias.shape)} must be [${out}].`);
  }
  const lead = x.shape.slice(0, -1);
  const wantW = options.weightGrad ?? true;
  return tf.tidy(() => {
    const x2 = tf.reshape(x, [-1, inF]);
    // Inputs that receive gradients: x always; W and b only when wanted (the others are closed over).
    const inputs: tf.Tensor[] = [x2];
    if (wantW) inputs.push(weight);
    if (wantW && bias !== null) inputs.push(bias);
    const op = tf.customGrad((...args: (tf.Tensor | Saver)[]) => {
      const save = args[args.length - 1] as Saver;
      const xs = args[0] as tf.Tensor;
      let y: tf.Tensor;
      if (xs.shape[0] <= TRANSPOSE_FLAG_MAX_ROWS) {
        const p = tf.matMul(xs, weight, false, true);
        y = bias === null ? p : tf.add(p, bias);
      } else {
        y = bias === null ? tf.matMul(xs, tf.transpose(weight)) : tf.fused.matMul({ a: xs, b: tf.transpose(weight), bias });
      }
      // Backward must read saved tensors only: a weight computed in the caller's tidy (W ⊙ mask) is gone by then.
      save([xs, weight]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
          const [xSaved, wSaved] = saved as [tf.Tensor, tf.Tensor];
          const grads = [tf.matMul(dy, wSaved)]; // [N, out] x [out, in]: dL/dx
          if (wantW) {
            // dL/dW = dyᵀ x ([out, N] x [N, in]), or (xᵀ dy)ᵀ when transposing x and the result copies less
            const n = xSaved.shape[0];
            grads.push(n * out <= n * inF + inF * out
              ? tf.matMul(tf.transpose(dy), xSaved)
              : tf.transpose(tf.matMul(tf.transpose(xSaved), dy)));
            if (bias !== null) grads.push(tf.sum(dy, 0));
          }
          return grads;
        },
      };
    });
    const y2 = op(...inputs);
    return tf.reshape(y2, [...lead, out]);
  });
}

/**
 * Batched matrix product a·b (or a·bᵀ) with plain products in both passes (see the file comment).
 * @param a [..., M, K]
 * @param b [..., K, N], or [..., N, K] when `transposeB`
 * @returns [..., M, N]; batch dimensions must be equal (no broadcasting)
 */
export function bmm(a: tf.Tensor, b: tf.Tensor, transposeB = false): tf.Tensor {
  if (a.rank < 2 || a.rank !== b.rank || a.shape.slice(0, -2).some((d, i) => d !== b.shape[i])) {
    throw new SiftError('E_SHAPE', `bmm: batch shapes must match, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}.`);
  }
  return tf.tidy(() => {
    const r = a.rank;
    const batch = a.shape.slice(0, -2);
    const B = batch.reduce((p, d) => p * d, 1);
    const [M, K] = a.shape.slice(-2) as [number, number];
    const a3 = tf.reshape(a, [B, M, K]);
    const bt = tf.reshape(b, [B, b.shape[r - 2], b.shape[r - 1]]);
    const swap = (t: tf.Tensor): tf.Tensor => tf.transpose(t, [0, 2, 1]);
    const op = tf.customGrad((x: tf.Tensor | Saver, y: tf.Tensor | Saver, save: tf.Tensor | Saver) => {
      const A = x as tf.Tensor;
      const Bm = y as tf.Tensor;
      const Bn = transposeB ? swap(Bm) : Bm; // [B, K, N]
      (save as Saver)([A, Bn]);
      return {
        value: tf.matMul(A, Bn),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
          const [As, Bs] = saved as [tf.Tensor, tf.Tensor];
          const dA = tf.matMul(dy, swap(Bs)); // [B, M, N] x [B, N, K]
          const dBn = tf.matMul(swap(As), dy); // [B, K, M] x [B, M, N] -> [B, K, N]
          return [dA, transposeB ? swap(dBn) : dBn];
        },
      };
    });
    const out = op(a3, bt);
    const N = out.shape[2]!;
    return tf.reshape(out, [...batch, M, N]);
  });
}

/** ReLU: max(x, 0). */
export function relu(x: tf.Tensor): tf.Tensor {
  return tf.relu(x);
}

/**
 * SiLU (swish): x·σ(x), as Llama's MLP uses. One fused gradient: σ(x)(1 + x(1 − σ(x))).
 * @param x any shape
 */
export function silu(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((xi: tf.Tensor | Saver, save: tf.Tensor | Saver) => {
    const t = xi as tf.Tensor;
    const s = tf.sigmoid(t);
    (save as Saver)([t, s]);
    return {
      value: tf.mul(t, s),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
        const [xs, ss] = saved as [tf.Tensor, tf.Tensor];
        return tf.mul(dy, tf.mul(ss, tf.add(1, tf.mul(xs, tf.sub(1, ss)))));
      },
    };
  });
  return op(x);
}

const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU, tanh approximation (GPT-2's `gelu_new`, PyTorch `approximate='tanh'`):
 * ½x(1 + tanh(√(2/π)(x + 0.044715x³))). Computed as x·σ(2u), which is the same function (½(1 + tanh u) = σ(2u)):
 * tfjs-backend-wasm's tanh is ~7x slower than its sigmoid. One fused gradient.
 * @param x any shape
 */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((xi: tf.Tensor | Saver, save: tf.Tensor | Saver) => {
    const t = xi as tf.Tensor;
    const x2 = tf.square(t);
    // s = σ(2u), 2u = 2k(x + a x³) = 2k x (1 + a x²)
    const s = tf.sigmoid(tf.mul(tf.mul(t, tf.add(1, tf.mul(x2, GELU_A))), 2 * GELU_K));
    (save as Saver)([t, s]);
    return {
      value: tf.mul(t, s),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
        const [xs, ss] = saved as [tf.Tensor, tf.Tensor];
        // d/dx [x σ(2u)] = σ + x σ(1−σ) · 2k(1 + 3a x²)
        const du = tf.mul(tf.add(1, tf.mul(tf.square(xs), 3 * GELU_A)), 2 * GELU_K);
        return tf.mul(dy, tf.add(ss, tf.mul(tf.mul(xs, tf.mul(ss, tf.sub(1, ss))), du)));
      },
    };
  });
  return op(x);
}

/**
 * GELU, exact: ½x(1 + erf(x/√2)) (PyTorch's default `nn.GELU()`). tfjs's erf is a polynomial approximation with
 * absolute error below 1.5e-7. One fused gradient: Φ(x) + x·φ(x).
 * @param x any shape
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((xi: tf.Tensor | Saver, save: tf.Tensor | Saver) => {
    const t = xi as tf.Tensor;
    const cdf = tf.mul(tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2))), 0.5);
    (save as Saver)([t, cdf]);
    return {
      value: tf.mul(t, cdf),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
        const [xs, c] = saved as [tf.Tensor, tf.Tensor];
        const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), 1 / Math.sqrt(2 * Math.PI));
        return tf.mul(dy, tf.add(c, tf.mul(xs, pdf)));
      },
    };
  });
  return op(x);
}

/** The activations by name, for configs (`activation: 'gelu_tanh'`). */
export const ACTIVATIONS: Readonly<Record<ActivationName, (x: tf.Tensor) => tf.Tensor>> = {
  relu,
  gelu,
  gelu_tanh: geluTanh,
  silu,
};

/** Names accepted by `activation()` and configs. */
export type ActivationName = 'relu' | 'gelu' | 'gelu_tanh' | 'silu';

/**
 * Looks up an activation by name.
 * @throws SiftError `E_CONFIG` listing the valid names
 */
export function activation(name: string): (x: tf.Tensor) => tf.Tensor {
  const fn = (ACTIVATIONS as Record<string, ((x: tf.Tensor) => tf.Tensor) | undefined>)[name];
  if (fn === undefined) {
    throw new SiftError('E_CONFIG', `unknown activation "${name}"; valid: ${Object.keys(ACTIVATIONS).join(', ')}.`);
  }
  return fn;
}
