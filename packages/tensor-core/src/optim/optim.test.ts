import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Dropout } from '../nn/dropout.js';
import { geluTanh } from '../nn/functional.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { LayerNorm } from '../nn/norm.js';
import { Rng } from '../random/rng.js';
import { expectNoLeak, expectTensorsClose } from '../testing.js';
import { AdamW } from './adamw.js';
import { clipGradNorm, globalNorm } from './clip.js';
import { valueAndGrads } from './grads.js';
import { noDecayRank1 } from './optimizer.js';
import { constantLr, lrAt, parseLrSchedule, stepDecay, warmupCosine } from './schedule.js';
import { SGD } from './sgd.js';
import { loadTrainingState, parseTrainingState, saveTrainingState, serializeTrainingState, trainingStateRngs, type TrainingState } from './training-state.js';
import { serializeSafetensors } from '../io/safetensors.js';

class Net extends Module<[tf.Tensor], tf.Tensor> {
  readonly fc: Linear;
  readonly ln: LayerNorm;
  readonly drop: Dropout;
  readonly out: Linear;
  constructor(rng: Rng, dropRng: Rng) {
    super();
    this.fc = this.addModule('fc', new Linear({ inFeatures: 6, outFeatures: 10, rng }));
    this.ln = this.addModule('ln', new LayerNorm({ dim: 10 }));
    this.drop = this.addModule('drop', new Dropout({ p: 0.3, rng: dropRng }));
    this.out = this.addModule('out', new Linear({ inFeatures: 10, outFeatures: 2, rng }));
  }
  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.out.forward(this.drop.forward(geluTanh(this.ln.forward(this.fc.forward(x))))));
  }
}

const mse = (m: Net, x: tf.Tensor, y: tf.Tensor) => (): tf.Scalar => tf.mean(tf.square(tf.sub(m.forward(x), y)));

function weights(m: Module): number[][] {
  return m.parameters().map((p) => Array.from(p.dataSync()));
}

describe('LR schedules vs their closed forms', () => {
  it('warm-up + cosine, step decay, constant', () => {
    const s = warmupCosine({ baseLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-4 });
    for (const step of [0, 4, 9, 10, 35, 60, 109, 110, 500]) {
      let want: number;
      if (step < 10) want = (1e-3 * (step + 1)) / 10;
      else if (step >= 110) want = 1e-4;
      else want = 1e-4 + 0.5 * (1e-3 - 1e-4) * (1 + Math.cos((Math.PI * (step - 10)) / 100));
      expect(lrAt(s, step)).toBeCloseTo(want, 15);
    }
    expect(lrAt(s, 9)).toBeCloseTo(1e-3, 15);
    expect(lrAt(s, 60)).toBeCloseTo(5.5e-4, 15); // half way: the mean of base and min
    const d = stepDecay({ baseLr: 0.1, stepSize: 30, gamma: 0.5 });
    expect([0, 29, 30, 59, 60, 95].map((i) => lrAt(d, i))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]);
    expect(lrAt(constantLr(3e-4), 1234)).toBe(3e-4);
    expect(parseLrSchedule(JSON.parse(JSON.stringify(s)))).toEqual(s);
    expect(() => warmupCosine({ baseLr: 1e-3, warmupSteps: 10, totalSteps: 10 })).toThrow(/totalSteps must be an integer > warmupSteps \(10\)/);
    expect(() => parseLrSchedule({ kind: 'linear' })).toThrow(/kinds: constant, warmup-cosine, step/);
  });
});

describe('clipGradNorm', () => {
  it('matches a naive global norm; scales only above maxNorm; leaves the inputs alone', () => {
    const rng = new Rng(1);
    const grads = { a: rng.normalTensor([3, 4]), b: rng.normalTensor([5]) };
    const naive = Math.sqrt([...grads.a.dataSync(), ...grads.b.dataSync()].reduce((s, v) => s + v * v, 0));
    expect(globalNorm(grads).dataSync()[0]).toBeCloseTo(naive, 5);
    const { grads: c, norm } = clipGradNorm(grads, 1);
    expect(norm.dataSync()[0]).toBeCloseTo(naive, 5);
    const f = 1 / (naive + 1e-6);
    expectTensorsClose(c.a, Array.from(grads.a.dataSync(), (v) => v * f));
    expect(globalNorm(c).dataSync()[0]).toBeCloseTo(1, 5);
    const { grads: same } = clipGradNorm(grads, 1000);
    expectTensorsClose(same.b, grads.b, { atol: 0, rtol: 0 });
    expect(grads.a.isDisposed).toBe(false);
    expect(() => clipGradNorm(grads, 0)).toThrow(/maxNorm must be > 0/);
    tf.dispose([grads, c, same, norm]);
  });
});

describe('valueAndGrads', () => {
  it('keys gradients by parameter path, leaves frozen ones out, applies gradient hooks', () => {
    const rng = new Rng(2);
    const m = new Net(rng, rng.fork('d')).eval();
    const x = rng.normalTensor([4, 6]);
    const y = rng.normalTensor([4, 2]);
    m.freeze('ln.**');
    const mask = tf.tensor2d(Array.from({ length: 10 }, (_, i) => Array.from({ length: 6 }, (_, j) => ((i + j) % 2 === 0 ? 1 : 0))));
    const remove = m.fc.registerGradHook('weight', (g) => tf.mul(g, mask));
    const { value, grads } = valueAndGrads(m, mse(m, x, y));
    expect(Object.keys(grads)).toEqual(['fc.weight', 'fc.bias', 'out.weight', 'out.bias']);
    const g = grads['fc.weight'].dataSync();
    const md = mask.dataSync();
    expect(Array.from(g).every((v, i) => md[i] === 1 || v === 0)).toBe(true);
    expect(value.dataSync()[0]).toBeCloseTo(mse(m, x, y)().dataSync()[0], 6);
    remove();
    m.freeze();
    expect(() => valueAndGrads(m, mse(m, x, y))).toThrow(/no trainable parameter/);
    tf.dispose([x, y, mask, value, grads]);
    m.dispose();
  });
});

describe('AdamW and SGD', () => {
  it('AdamW matches a naive implementation; noDecay and groups select weight decay; frozen params stay put', () => {
    const rng = new Rng(3);
    const m = new Net(rng, rng.fork('d')).eval();
    m.freeze('out.bias');
    const opt = new AdamW(m, {
      lr: 0.01, weightDecay: 0.1, noDecay: noDecayRank1, groups: [{ params: 'out.*', lrScale: 0.5, weightDecay: 0.3 }],
    });
    expect(opt.entries.map((e) => [e.name, e.weightDecay, e.lrScale])).toEqual([
      ['fc.weight', 0.1, 1], ['fc.bias', 0, 1], ['ln.weight', 0, 1], ['ln.bias', 0, 1], ['out.weight', 0.3, 0.5], ['out.bias', 0, 0.5],
    ]);
    const p0 = weights(m);
    const x = rng.normalTensor([4, 6]);
    const y = rng.normalTensor([4, 2]);
    // naive AdamW on plain arrays, fed the same gradients
    const state = p0.map((p) => ({ p: Float64Array.from(p), m: new Float64Array(p.length), v: new Float64Array(p.length) }));
    for (let t = 1; t <= 3; t++) {
      const { grads } = valueAndGrads(m, mse(m, x, y));
      const gs = opt.entries.map((e): tf.Tensor | undefined => grads[e.name]);
      tf.tidy(() => { opt.step({ ...grads, 'out.bias': tf.onesLike(m.out.bias!) }); }); // a gradient for a frozen param is ignored
      opt.entries.forEach((e, i) => {
        const g = gs[i];
        if (g === undefined || !e.param.trainable) return;
        const s = state[i];
        const gd = g.dataSync();
        const lr = 0.01 * e.lrScale;
        for (let j = 0; j < s.p.length; j++) {
          s.p[j] = s.p[j] * (1 - lr * e.weightDecay);
          s.m[j] = 0.9 * s.m[j] + 0.1 * gd[j];
          s.v[j] = 0.999 * s.v[j] + 0.001 * gd[j] ** 2;
          const denom = Math.sqrt(s.v[j]) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
          s.p[j] = s.p[j] - (lr / (1 - 0.9 ** t)) * (s.m[j] / denom);
        }
      });
      tf.dispose(grads);
    }
    m.parameters().forEach((p, i) => { expectTensorsClose(p, state[i].p, { atol: 1e-6, rtol: 1e-5, label: opt.entries[i].name }); });
    expect(Array.from(m.out.bias!.dataSync())).toEqual(p0[5]); // frozen: untouched
    expect(opt.stepCount).toBe(3);
    tf.dispose([x, y]);
    opt.dispose();
    m.dispose();
  });

  it('steps on tf.variableGrads output (keyed by variable name) and uses an LR schedule at its step count', () => {
    const v = tf.variable(tf.tensor1d([1, -2]));
    const opt = new SGD([['w', v]], { lr: stepDecay({ baseLr: 0.5, stepSize: 1, gamma: 0.1 }) });
    for (let i = 0; i < 2; i++) {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(v)), [v]);
      expect(Object.keys(grads)).toEqual([v.name]);
      opt.step(grads);
      tf.dispose([value, grads]);
    }
    // w ← w − 0.5·2w = 0, then stays 0
    expectTensorsClose(v, [0, 0]);
    expect(opt.currentLr()).toBeCloseTo(0.005, 12);
    expect(() => { opt.step({ w: tf.zeros([3]) }); }).toThrow(/gradient of "w" has shape \[3\], expected \[2\]/);
    opt.dispose();
    v.dispose();
  });

  it('SGD with momentum (no Nesterov, dampening) matches the recurrence', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const opt = new SGD([['w', v]], { lr: 0.1, momentum: 0.9, dampening: 0.2, weightDecay: 0.5 });
    let p = [1, 2];
    let buf: number[] | null = null;
    const gs = [[0.3, -0.1], [0.2, 0.4], [-0.5, 0.1]];
    for (const g of gs) {
      tf.tidy(() => { opt.step({ w: tf.tensor1d(g) }); });
      const d = g.map((gi, i) => gi + 0.5 * p[i]);
      buf = buf === null ? d : buf.map((b, i) => 0.9 * b + 0.8 * d[i]);
      p = p.map((pi, i) => pi - 0.1 * buf![i]);
    }
    expectTensorsClose(v, p, { atol: 1e-6, rtol: 1e-6 });
    expect(() => new SGD([['w', v]], { nesterov: true })).toThrow(/nesterov needs momentum > 0/);
    opt.dispose();
    v.dispose();
  });

  it('a training step (forward, backward, clip, AdamW) does not leak', async () => {
    const rng = new Rng(4);
    const m = new Net(rng, rng.fork('d'));
    const opt = new AdamW(m, { lr: 1e-3 });
    const x = rng.normalTensor([4, 6]);
    const y = rng.normalTensor([4, 2]);
    await expectNoLeak(() => {
      tf.tidy(() => {
        const { grads } = valueAndGrads(m, mse(m, x, y));
        opt.step(clipGradNorm(grads, 1).grads);
      });
    }, { label: 'training step' });
    tf.dispose([x, y]);
    opt.dispose();
    m.dispose();
  });
});

describe('training state', () => {
  /** Through the bytes of a safetensors file, as a checkpoint on disk would come back. */
  function roundTrip(state: TrainingState): TrainingState {
    const back = parseTrainingState(serializeTrainingState(state, { run: 'test' }));
    expect(back.metadata).toEqual({ run: 'test' });
    return back;
  }

  it('parseTrainingState refuses safetensors bytes without a training state', () => {
    const bytes = serializeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } }, { format: 'pt' });
    expect(() => parseTrainingState(bytes, 'model.safetensors')).toThrow(/model\.safetensors is not a Sift training state/);
  });

  it('N steps == k steps, save, restore into fresh objects, N − k steps (bit-identical weights)', () => {
    const N = 6;
    const k = 2;
    const data = new Rng(99);
    const batches = Array.from({ length: N }, () => [data.normalTensor([8, 6]), data.normalTensor([8, 2])] as const);
    const schedule = warmupCosine({ baseLr: 1e-2, warmupSteps: 2, totalSteps: N, minLr: 1e-3 });
    const build = (): { m: Net; opt: AdamW; dropRng: Rng } => {
      const dropRng = new Rng(7);
      const m = new Net(new Rng(5), dropRng);
      return { m, opt: new AdamW(m, { lr: schedule, weightDecay: 0.05, noDecay: noDecayRank1 }), dropRng };
    };
    const train = (m: Net, opt: AdamW, from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        tf.tidy(() => {
          const [x, y] = batches[i];
          const { grads } = valueAndGrads(m, mse(m, x, y));
          opt.step(clipGradNorm(grads, 0.5).grads);
        });
      }
    };
    const a = build();
    train(a.m, a.opt, 0, N);
    const b = build();
    train(b.m, b.opt, 0, k);
    const saved = saveTrainingState({ optimizer: b.opt, model: b.m, rngs: { dropout: b.dropRng }, extra: { epoch: 0 } });
    const restoredState = roundTrip(saved);
    tf.dispose(saved.tensors);
    expect(Object.keys(restoredState.tensors)).toContain('optim.fc.weight.exp_avg_sq');
    expect(Object.keys(restoredState.tensors)).toContain('model.fc.weight');
    // fresh objects (init from another seed): weights, moments, step counts and the dropout stream all come from the
    // snapshot; the model is built on the restored generator
    const c = new Net(new Rng(123), trainingStateRngs(restoredState.json).dropout);
    const copt = new AdamW(c, { lr: schedule, weightDecay: 0.05, noDecay: noDecayRank1 });
    const { step, extra } = loadTrainingState(restoredState, { optimizer: copt, model: c });
    tf.dispose(restoredState.tensors);
    expect(step).toBe(k);
    expect(extra).toEqual({ epoch: 0 });
    expect(copt.stepCount).toBe(k);
    train(c, copt, k, N);
    expect(weights(c)).toEqual(weights(a.m));
    expect(copt.currentLr()).toBe(a.opt.currentLr());
    for (const o of [a.opt, b.opt, copt]) o.dispose();
    for (const m of [a.m, b.m, c]) m.dispose();
    tf.dispose(batches.flat());
  });

  it('refuses a state from another optimizer or another model', () => {
    const rng = new Rng(8);
    const m = new Net(rng, rng);
    const sgd = new SGD(m, { momentum: 0.9 });
    const adam = new AdamW(m);
    const st = sgd.state();
    expect(() => { adam.loadState(st); }).toThrow(/written by "sgd", this is "adamw"/);
    const other = new AdamW([['w', tf.variable(tf.zeros([2]))]]);
    tf.tidy(() => {
      const { grads } = valueAndGrads(m, () => tf.sum(m.forward(tf.ones([1, 6]))));
      adam.step(grads);
    });
    expect(() => { other.loadState(adam.state()); }).toThrow(/parameters this optimizer does not manage: fc.weight/);
    const s2 = adam.state();
    s2.tensors['fc.weight.exp_avg'] = tf.zeros([1]);
    expect(() => { adam.loadState(s2); }).toThrow(/"fc.weight.exp_avg" has shape got \[1\] expected \[10, 6\]/);
    tf.dispose([st.tensors, s2.tensors]);
    for (const o of [sgd, adam, other]) o.dispose();
    m.dispose();
  });
});
