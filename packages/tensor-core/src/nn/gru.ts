import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import type { Rng } from '../random/rng.js';
import { dropoutMask } from './dropout.js';
import { linear } from './functional.js';
import { checkPositiveInt, checkProbability, type Init, initTensor, withDefaults } from './init.js';
import { Module, type Parameter } from './module.js';

/** Options of `GRU`. */
export interface GRUOptions {
  /** Input features F. */
  inputSize: number;
  /** Hidden size H. */
  hiddenSize: number;
  /** Stacked layers. Default 1. */
  numLayers?: number;
  /** Learn `bias_ih_l*` and `bias_hh_l*`. Default true. */
  bias?: boolean;
  /** Dropout on each layer's outputs except the last (training only), as PyTorch. Default 0. */
  dropout?: number;
  /** Learn the initial state `h0` [numLayers, H] (ptls's trainable starter state). Default false (zeros). */
  learnInitialState?: boolean;
  /** Generator for inits and dropout. */
  rng?: Rng;
  /** Init of weights and biases. Default PyTorch's: U(−1/√H, 1/√H). */
  init?: Init;
}

/** Defaults of `GRUOptions`. */
export const GRU_DEFAULTS: { numLayers: number; bias: boolean; dropout: number; learnInitialState: boolean } = {
  numLayers: 1,
  bias: true,
  dropout: 0,
  learnInitialState: false,
};

/** Per-call inputs of `GRU.forward` besides x. */
export interface GRUCall {
  /**
   * Valid steps [B, T], 1 = event, 0 = padding (any dtype), right-padded: each row is its valid steps, then padding
   * (what `pack_padded_sequence` assumes; only the count of valid steps per row is used).
   */
  mask?: tf.Tensor;
  /** Valid lengths per sequence (a right-padded batch), instead of `mask`: number[] / Int32Array / int32 [B]. */
  lengths?: readonly number[] | Int32Array | tf.Tensor;
  /** Initial state [numLayers, B, H] (or [B, H] for one layer); default the learned `h0` or zeros. */
  h0?: tf.Tensor;
}

/** What `GRU.forward` returns. */
export interface GRUOutput {
  /** Hidden states of the last layer at every step [B, T, H]; zeros at padded steps (as `pad_packed_sequence`). */
  output: tf.Tensor;
  /** The last valid state of the last layer per sequence [B, H] (the sequence embedding). */
  last: tf.Tensor;
  /** Last valid state of every layer [numLayers, B, H] (PyTorch's `h_n`). */
  hN: tf.Tensor;
}

/**
 * A batch-first GRU with PyTorch's equations and parameter layout, so `torch.nn.GRU` weights load as they are
 * (`weight_ih_l0` [3H, F], `weight_hh_l0` [3H, H], `bias_ih_l0`, `bias_hh_l0` [3H], gates in r, z, n order):
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz),
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h.
 * The input projection of all steps is one matrix product; the recurrence is one small product and a fused cell
 * (hand-written gradient) per step. Padding (`lengths`, or a right-padded `mask`): outputs past a sequence's length
 * are zero and `last`/`hN` hold the state after its last valid step (the initial state for length 0), exactly what
 * PyTorch returns for a packed sequence.
 *
 * Forward: x [B, T, F] -> { output [B, T, H], last [B, H], hN [layers, B, H] }.
 * @example
 * const gru = new GRU({ inputSize: 65, hiddenSize: 128, rng });
 * const { last } = gru.forward(x, { lengths: [30, 12] }); // x [2, 30, 65] -> last [2, 128]
 */
export class GRU extends Module<[tf.Tensor, GRUCall?], GRUOutput> {
  /** F */
  readonly inputSize: number;
  /** H */
  readonly hiddenSize: number;
  /** Stacked layers. */
  readonly numLayers: number;
  /** Inter-layer dropout. */
  readonly dropout: number;
  private readonly rng: Rng | undefined;
  private readonly hasBias: boolean;

  constructor(options: GRUOptions) {
    super();
    const o = withDefaults(GRU_DEFAULTS, options);
    checkPositiveInt('GRU', 'inputSize', o.inputSize);
    checkPositiveInt('GRU', 'hiddenSize', o.hiddenSize);
    checkPositiveInt('GRU', 'numLayers', o.numLayers);
    checkProbability('GRU', 'dropout', o.dropout);
    if (o.dropout > 0 && o.rng === undefined) throw new SiftError('E_CONFIG', 'GRU: dropout > 0 needs an rng.');
    this.inputSize = o.inputSize;
    this.hiddenSize = o.hiddenSize;
    this.numLayers = o.numLayers;
    this.dropout = o.dropout;
    this.rng = o.rng;
    this.hasBias = o.bias;
    const H = o.hiddenSize;
    const init = o.init ?? { bound: 1 / Math.sqrt(H) };
    for (let l = 0; l < o.numLayers; l++) {
      const F = l === 0 ? o.inputSize : H;
      this.addParameter(`weight_ih_l${l}`, initTensor([3 * H, F], init, o.rng, `GRU.weight_ih_l${l}`));
      this.addParameter(`weight_hh_l${l}`, initTensor([3 * H, H], init, o.rng, `GRU.weight_hh_l${l}`));
      if (o.bias) {
        this.addParameter(`bias_ih_l${l}`, initTensor([3 * H], init, o.rng, `GRU.bias_ih_l${l}`));
        this.addParameter(`bias_hh_l${l}`, initTensor([3 * H], init, o.rng, `GRU.bias_hh_l${l}`));
      }
    }
    if (o.learnInitialState) this.addParameter('h0', tf.zeros([o.numLayers, H]));
  }

  /** The weights of layer `l`: w_ih [3H, F], w_hh [3H, H], biases [3H] or null. */
  layerParams(l: number): { wIh: Parameter; wHh: Parameter; bIh: Parameter | null; bHh: Parameter | null } {
    return {
      wIh: this.param(`weight_ih_l${l}`),
      wHh: this.param(`weight_hh_l${l}`),
      bIh: this.hasBias ? this.param(`bias_ih_l${l}`) : null,
      bHh: this.hasBias ? this.param(`bias_hh_l${l}`) : null,
    };
  }

  /** x [B, T, F] -> { output [B, T, H], last [B, H], hN [layers, B, H] } */
  override forward(x: tf.Tensor, call: GRUCall = {}): GRUOutput {
    if (x.rank !== 3 || x.shape[2] !== this.inputSize) {
      throw new SiftError('E_SHAPE', `GRU: x must be [B, T, ${this.inputSize}] (batch first), got ${fmtShape(x.shape)}.`);
    }
    if (call.mask !== undefined && call.lengths !== undefined) {
      throw new SiftError('E_CONFIG', 'GRU: pass either mask or lengths, not both.');
    }
    const [B, T] = x.shape as [number, number, number];
    const H = this.hiddenSize;
    const [output, last, hN] = tf.tidy((): [tf.Tensor, tf.Tensor, tf.Tensor] => {
      const lens = this.lengthsOf(B, T, call); // int32 [B] or null (all T)
      let h0: tf.Tensor;
      if (call.h0 !== undefined) {
        const g = call.h0;
        const ok = (g.rank === 3 && g.shape[0] === this.numLayers && g.shape[1] === B && g.shape[2] === H) ||
          (g.rank === 2 && this.numLayers === 1 && g.shape[0] === B && g.shape[1] === H);
        if (!ok) throw new SiftError('E_SHAPE', `GRU: h0 must be [${this.numLayers}, ${B}, ${H}], got ${fmtShape(g.shape)}.`);
        h0 = tf.reshape(g, [this.numLayers, B, H]);
      } else if (this.hasParameter('h0')) {
        h0 = tf.tile(tf.expandDims(this.param('h0'), 1), [1, B, 1]);
      } else {
        h0 = tf.zeros([this.numLayers, B, H]);
      }
      const h0s = tf.unstack(h0);
      // With lengths, steps run unmasked (a right-padded batch: padding comes after every valid step, so it cannot
      // change them); afterwards padded outputs are zeroed and each sequence's state is read at its last valid step.
      // This costs two ops per layer instead of two broadcast multiplies per step.
      const valid = lens === null ? null : tf.expandDims(tf.cast(tf.less(tf.reshape(tf.range(0, T, 1, 'int32'), [1, T]), tf.reshape(lens, [B, 1])), 'float32'), 2);
      const pick = lens === null ? null : tf.expandDims(tf.oneHot(tf.sub(lens, tf.scalar(1, 'int32')), T), 2); // [B, T, 1]; all zero for length 0
      const empty = lens === null ? null : tf.expandDims(tf.cast(tf.equal(lens, tf.scalar(0, 'int32')), 'float32'), 1); // [B, 1]
      let input = x;
      const finals: tf.Tensor[] = [];
      let output = x;
      for (let l = 0; l < this.numLayers; l++) {
        const { wIh, wHh, bIh, bHh } = this.layerParams(l);
        // All input projections at once: [B, T, F] -> [T, B, 3H] -> T x [B, 3H].
        const xp = unstackSteps(tf.transpose(linear(input, wIh, bIh), [1, 0, 2]));
        const whhT = tf.transpose(wHh); // [H, 3H], once per forward
        let h = h0s[l];
        const outs: tf.Tensor[] = [];
        for (let t = 0; t < T; t++) {
          h = gruCell(xp[t], h, whhT, wHh, bHh);
          outs.push(h);
        }
        const stacked = tf.stack(outs, 1); // [B, T, H]
        if (valid === null) {
          output = stacked;
          finals.push(h);
        } else {
          output = tf.mul(stacked, valid);
          const at = tf.sum(tf.mul(stacked, pick!), 1); // the state after the last valid step
          finals.push(tf.add(at, tf.mul(h0s[l], empty!))); // length 0: the initial state
        }
        input = l < this.numLayers - 1 && this.training && this.dropout > 0
          ? tf.mul(output, dropoutMask(output.shape, this.dropout, this.rng!))
          : output;
      }
      return [output, finals[finals.length - 1], tf.stack(finals)];
    });
    return { output, last, hN };
  }

  /** Valid lengths [B] (int32) from `lengths` or a right-padded `mask`; null when every step is valid. */
  private lengthsOf(B: number, T: number, call: GRUCall): tf.Tensor | null {
    if (call.mask !== undefined) {
      const m = call.mask;
      if (m.rank !== 2 || m.shape[0] !== B || m.shape[1] !== T) {
        throw new SiftError('E_SHAPE', `GRU: mask must be [B, T] = [${B}, ${T}], got ${fmtShape(m.shape)}.`);
      }
      return tf.cast(tf.sum(tf.cast(tf.notEqual(tf.cast(m, 'float32'), 0), 'int32'), 1), 'int32');
    }
    if (call.lengths === undefined) return null;
    const lens = call.lengths instanceof tf.Tensor ? tf.cast(call.lengths, 'int32') : tf.tensor1d(Array.from(call.lengths), 'int32');
    if (lens.rank !== 1 || lens.shape[0] !== B) {
      throw new SiftError('E_SHAPE', `GRU: lengths must have one entry per sequence (${B}), got ${fmtShape(lens.shape)}.`);
    }
    return tf.clipByValue(lens, 0, T);
  }
}

type Saver = (tensors: tf.Tensor[]) => void;

/**
 * `tf.unstack(x)` along axis 0, in √T chunks. tfjs-backend-wasm's Slice/Unpack copy the WHOLE input for every piece
 * they cut (`readSync` returns a copy), so unstacking T steps costs T full copies; splitting into √T chunks first
 * costs about 2√T. Same result and gradient on every backend.
 */
function unstackSteps(x: tf.Tensor): tf.Tensor[] {
  const T = x.shape[0];
  if (T <= 8) return tf.unstack(x);
  const c = Math.ceil(Math.sqrt(T));
  const sizes = Array.from({ length: Math.ceil(T / c) }, (_, i) => Math.min(c, T - i * c));
  return tf.split(x, sizes, 0).flatMap((part) => tf.unstack(part));
}

/**
 * One GRU step with a hand-written gradient (about half the ops of autodiff through the gates):
 * r, z = σ(xp_rz + gh_rz), n = tanh(xp_n + r ⊙ gh_n), h' = n + z ⊙ (h − n), where gh = h·W_hhᵀ + b_hh.
 * @param xp   [B, 3H] input projection of this step (W_ih x + b_ih)
 * @param h    [B, H] previous state
 * @param whhT [H, 3H] W_hhᵀ (differentiable input); wHh [3H, H] the same weights untransposed (for dh)
 * @param bHh  [3H] or null
 */
function gruCell(xp: tf.Tensor, h: tf.Tensor, whhT: tf.Tensor, wHh: tf.Tensor, bHh: tf.Tensor | null): tf.Tensor {
  const H = h.shape[1]!;
  const inputs = bHh === null ? [xp, h, whhT] : [xp, h, whhT, bHh];
  const op = tf.customGrad((...args: (tf.Tensor | Saver)[]) => {
    const save = args[args.length - 1] as Saver;
    const [xs, hs, wt] = args as [tf.Tensor, tf.Tensor, tf.Tensor];
    const gh = bHh === null ? tf.matMul(hs, wt) : tf.add(tf.matMul(hs, wt), args[3] as tf.Tensor);
    const [xrz, xn] = tf.split(xs, [2 * H, H], 1) as [tf.Tensor, tf.Tensor];
    const [hrz, hn] = tf.split(gh, [2 * H, H], 1) as [tf.Tensor, tf.Tensor];
    const rz = tf.sigmoid(tf.add(xrz, hrz));
    const [r, z] = tf.split(rz, 2, 1) as [tf.Tensor, tf.Tensor];
    const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
    const hNew = tf.add(n, tf.mul(z, tf.sub(hs, n)));
    save([hs, rz, n, hn, wHh]);
    return {
      value: hNew,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [hp, rzs, ns, hns, w] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const [rs, zs] = tf.split(rzs, 2, 1) as [tf.Tensor, tf.Tensor];
        const dn = tf.mul(dy, tf.sub(1, zs)); // dh'/dn = 1 − z
        const dz = tf.mul(dy, tf.sub(hp, ns)); // dh'/dz = h − n
        const daN = tf.mul(dn, tf.sub(1, tf.square(ns))); // through tanh
        const dr = tf.mul(daN, hns);
        const daRZ = tf.mul(tf.concat([dr, dz], 1), tf.mul(rzs, tf.sub(1, rzs))); // through σ
        const dxp = tf.concat([daRZ, daN], 1); // [B, 3H]
        const dgh = tf.concat([daRZ, tf.mul(daN, rs)], 1); // [B, 3H]
        const dh = tf.add(tf.mul(dy, zs), tf.matMul(dgh, w)); // [B, 3H] x [3H, H]
        const dwt = tf.matMul(tf.transpose(hp), dgh); // [H, B] x [B, 3H]
        return bHh === null ? [dxp, dh, dwt] : [dxp, dh, dwt, tf.sum(dgh, 0)];
      },
    };
  });
  return op(...inputs);
}
