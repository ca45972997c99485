import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '../random/rng.js';
import { expectNoLeak, expectTensorsClose } from '../testing.js';
import { MultiHeadAttention } from './attention.js';
import { Embedding } from './embedding.js';
import { silu } from './functional.js';
import { Linear } from './linear.js';
import { Module, ModuleList } from './module.js';
import { RMSNorm } from './norm.js';
import { findLinears, runSequential, type HiddenState, type SequentialModel } from './sequential.js';

class Block extends Module<[tf.Tensor, tf.Tensor?], tf.Tensor> {
  readonly input_layernorm: RMSNorm;
  readonly self_attn: MultiHeadAttention;
  readonly mlp: ModuleList<Linear>;
  constructor(d: number, rng: Rng) {
    super();
    this.input_layernorm = this.addModule('input_layernorm', new RMSNorm({ dim: d }));
    this.self_attn = this.addModule('self_attn', new MultiHeadAttention({ dModel: d, nHeads: 2, nKvHeads: 1, bias: false, rope: {}, rng }));
    this.mlp = this.addModule('mlp', new ModuleList([
      new Linear({ inFeatures: d, outFeatures: 2 * d, bias: false, rng }),
      new Linear({ inFeatures: 2 * d, outFeatures: d, bias: false, rng }),
    ]));
  }
  override forward(x: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.self_attn.forward(this.input_layernorm.forward(x), mask === undefined ? {} : { attentionMask: mask }));
      return tf.add(h, this.mlp.get(1).forward(silu(this.mlp.get(0).forward(h))));
    });
  }
}

/** A Llama-like toy that implements SequentialModel with HiddenState (hidden + attention mask). */
class Toy extends Module implements SequentialModel<HiddenState, { ids: tf.Tensor; mask: tf.Tensor }> {
  readonly embed_tokens: Embedding;
  readonly layers: ModuleList<Block>;
  constructor(rng: Rng) {
    super();
    this.embed_tokens = this.addModule('embed_tokens', new Embedding({ numEmbeddings: 20, embeddingDim: 8, rng }));
    this.layers = this.addModule('layers', new ModuleList([new Block(8, rng), new Block(8, rng), new Block(8, rng)]));
  }
  blocks(): readonly Module[] {
    return this.layers.toArray();
  }
  blockPath(index: number): string {
    return `layers.${index}`;
  }
  embed(batch: { ids: tf.Tensor; mask: tf.Tensor }): HiddenState {
    return { hidden: this.embed_tokens.forward(batch.ids), context: { attentionMask: tf.clone(batch.mask) } };
  }
  runBlock(index: number, h: HiddenState): HiddenState {
    return { hidden: this.layers.get(index).forward(h.hidden, h.context.attentionMask), context: { attentionMask: tf.clone(h.context.attentionMask!) } };
  }
  /** The whole model in one go (what runSequential must reproduce). */
  run(batch: { ids: tf.Tensor; mask: tf.Tensor }): tf.Tensor {
    return tf.tidy(() => {
      let x = this.embed_tokens.forward(batch.ids);
      for (const b of this.layers) x = b.forward(x, batch.mask);
      return x;
    });
  }
}

describe('SequentialModel', () => {
  it('runSequential equals the model run; a block-wise calibration loop with hooks, swaps and no leaks', async () => {
    const rng = new Rng(1);
    const model = new Toy(rng).eval();
    const batch = { ids: tf.tensor2d([[1, 2, 3, 4], [5, 6, 0, 0]], [2, 4], 'int32'), mask: tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]]) };
    const out = runSequential(model, batch);
    expectTensorsClose(out.hidden, model.run(batch), { atol: 0, rtol: 0 });
    tf.dispose(out);
    await expectNoLeak(() => { tf.dispose(runSequential(model, batch)); }, { label: 'runSequential' });

    // Layer-wise pass: per block, collect ‖x_j‖² per input channel of every linear, then "compress" (zero the
    // smallest-norm input column of each linear) and feed the compressed block's output to the next one.
    let h = tf.tidy(() => model.embed(batch));
    const touched: string[] = [];
    for (let i = 0; i < model.blocks().length; i++) {
      const block = model.blocks()[i];
      const norms = new Map<string, tf.Tensor>();
      const removers = findLinears(block, { include: ['self_attn.*', 'mlp.*'] }).map(([name, lin]) => lin.registerForwardHook((_m, [x]) => {
        const sq = tf.sum(tf.square(tf.reshape(x, [-1, lin.inFeatures])), 0);
        const prev = norms.get(name);
        norms.set(name, tf.keep(prev === undefined ? sq : tf.add(prev, sq)));
        prev?.dispose();
      }));
      tf.dispose(tf.tidy(() => model.runBlock(i, h)));
      removers.forEach((r) => { r(); });
      expect([...norms.keys()]).toEqual(['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.0', 'mlp.1']);
      for (const [name, n] of norms) {
        const path = `${model.blockPath(i)}.${name}`;
        const old = model.getModule(path, Linear);
        const j = tf.tidy(() => tf.argMin(n).dataSync()[0]);
        const w = tf.tidy(() => tf.mul(old.weight, tf.expandDims(tf.sub(1, tf.oneHot(j, old.inFeatures)), 0)));
        model.replace(path, Linear.fromWeights(w, null)).dispose();
        w.dispose();
        n.dispose();
        touched.push(path);
      }
      const next = tf.tidy(() => model.runBlock(i, h));
      tf.dispose(h);
      h = next;
    }
    expect(touched).toHaveLength(18);
    // the compressed model, run whole, gives what the block-wise pass produced
    expectTensorsClose(h.hidden, model.run(batch), { atol: 1e-5, rtol: 1e-5 });
    tf.dispose([h, batch]);
    model.dispose();
  });
});
