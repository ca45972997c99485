/**
 * A small transformer-like stack built from tensor-core modules, for tests, the README and benchmarks: per block an
 * RMSNorm, q/k/v/o projections mixed by a cheap per-token gate (no attention over time: only the linears matter
 * here), and a SwiGLU MLP (gate/up/down), with a frozen-by-default `lm_head`. Not part of the public API.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Linear, Module, ModuleList, RMSNorm, Rng, silu } from '@sift/tensor-core';

class TinyBlock extends Module<[tf.Tensor], tf.Tensor> {
  readonly norm: RMSNorm;
  readonly q_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;

  constructor(d: number, hidden: number, rng: Rng) {
    super();
    const lin = (name: string, i: number, o: number): Linear =>
      this.addModule(name, new Linear({ inFeatures: i, outFeatures: o, bias: false, rng: rng.fork(name) }));
    this.norm = this.addModule('norm', new RMSNorm({ dim: d }));
    this.q_proj = lin('q_proj', d, d);
    this.v_proj = lin('v_proj', d, d);
    this.o_proj = lin('o_proj', d, d);
    this.gate_proj = lin('gate_proj', d, hidden);
    this.up_proj = lin('up_proj', d, hidden);
    this.down_proj = lin('down_proj', hidden, d);
  }

  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = this.norm.forward(x);
      const a = this.o_proj.forward(tf.mul(tf.sigmoid(this.q_proj.forward(h)), this.v_proj.forward(h)));
      const x2 = tf.add(x, a);
      const h2 = this.norm.forward(x2);
      return tf.add(x2, this.down_proj.forward(tf.mul(silu(this.gate_proj.forward(h2)), this.up_proj.forward(h2))));
    });
  }
}

export class TinyModel extends Module<[tf.Tensor], tf.Tensor> {
  readonly blocks: ModuleList<TinyBlock>;
  readonly lm_head: Linear;

  constructor(options: { d: number; hidden: number; blocks: number; classes: number; seed: number }) {
    super();
    const rng = new Rng(options.seed);
    this.blocks = this.addModule('blocks', new ModuleList(Array.from({ length: options.blocks }, (_, i) => new TinyBlock(options.d, options.hidden, rng.fork(i)))));
    this.lm_head = this.addModule('lm_head', new Linear({ inFeatures: options.d, outFeatures: options.classes, rng: rng.fork('head') }));
  }

  /** x [N, d] -> logits [N, classes] */
  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let h = x;
      for (const b of this.blocks) h = b.forward(h);
      return this.lm_head.forward(h);
    });
  }

  /** Mean softmax cross-entropy of the logits against integer labels [N]. */
  loss(x: tf.Tensor, labels: tf.Tensor1D): tf.Scalar {
    return tf.tidy(() => {
      const logits = this.forward(x);
      const lp = tf.logSoftmax(logits);
      const oh = tf.oneHot(labels, logits.shape[1]!);
      return tf.neg(tf.mean(tf.sum(tf.mul(lp, oh), 1)));
    });
  }
}

/** A seeded regression-free task: inputs [n, d] with a few heavy-tailed channels, labels from a random linear map. */
export function tinyTask(n: number, d: number, classes: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) x[t * d + j] = rng.normal() * (j % 7 === 0 ? 6 : 1);
  const proj = Float32Array.from({ length: d * classes }, () => rng.normal());
  const y = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    let best = -Infinity;
    for (let c = 0; c < classes; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += x[t * d + j] * proj[j * classes + c];
      if (s > best) {
        best = s;
        y[t] = c;
      }
    }
  }
  return { x: tf.tensor2d(x, [n, d]), y: tf.tensor1d(y, 'int32') };
}
