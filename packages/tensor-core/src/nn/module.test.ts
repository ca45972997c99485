import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SiftError } from '../errors.js';
import { Rng } from '../random/rng.js';
import { expectNoLeak, expectTensorsClose } from '../testing.js';
import { Dropout } from './dropout.js';
import { geluTanh } from './functional.js';
import { Linear } from './linear.js';
import { Module, ModuleList } from './module.js';
import { LayerNorm } from './norm.js';
import { globToRegExp, matchName } from './pattern.js';
import { findLinears, findModules } from './sequential.js';

class Mlp extends Module<[tf.Tensor], tf.Tensor> {
  readonly c_fc: Linear;
  readonly c_proj: Linear;
  readonly drop: Dropout;
  constructor(d: number, rng: Rng) {
    super();
    this.c_fc = this.addModule('c_fc', new Linear({ inFeatures: d, outFeatures: 2 * d, rng }));
    this.c_proj = this.addModule('c_proj', new Linear({ inFeatures: 2 * d, outFeatures: d, rng }));
    this.drop = this.addModule('drop', new Dropout({ p: 0.5, rng }));
  }
  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.drop.forward(this.c_proj.forward(geluTanh(this.c_fc.forward(x)))));
  }
}

class Block extends Module<[tf.Tensor], tf.Tensor> {
  readonly ln_1: LayerNorm;
  readonly mlp: Mlp;
  constructor(d: number, rng: Rng) {
    super();
    this.ln_1 = this.addModule('ln_1', new LayerNorm({ dim: d }));
    this.mlp = this.addModule('mlp', new Mlp(d, rng));
  }
  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.add(x, this.mlp.forward(this.ln_1.forward(x))));
  }
}

class Tiny extends Module<[tf.Tensor], tf.Tensor> {
  readonly h: ModuleList<Block>;
  readonly head: Linear;
  constructor(d: number, layers: number, rng: Rng) {
    super();
    this.h = this.addModule('h', new ModuleList(Array.from({ length: layers }, () => new Block(d, rng))));
    this.head = this.addModule('head', new Linear({ inFeatures: d, outFeatures: 3, bias: false, rng }));
    this.addBuffer('mask', tf.ones([3]));
    this.addBuffer('scratch', tf.zeros([2]), { persistent: false });
  }
  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let h = x;
      for (const block of this.h) h = block.forward(h);
      return this.head.forward(h);
    });
  }
}

function snapshot(m: Module): Record<string, number[]> {
  return Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.dataSync())]));
}

describe('Module tree', () => {
  it('names parameters, buffers and modules with dotted paths, in registration order', () => {
    const m = new Tiny(4, 2, new Rng(0));
    expect(m.namedParameters().map(([n]) => n)).toEqual([
      'h.0.ln_1.weight', 'h.0.ln_1.bias', 'h.0.mlp.c_fc.weight', 'h.0.mlp.c_fc.bias', 'h.0.mlp.c_proj.weight', 'h.0.mlp.c_proj.bias',
      'h.1.ln_1.weight', 'h.1.ln_1.bias', 'h.1.mlp.c_fc.weight', 'h.1.mlp.c_fc.bias', 'h.1.mlp.c_proj.weight', 'h.1.mlp.c_proj.bias',
      'head.weight',
    ]);
    expect(m.namedModules().map(([n]) => n)).toEqual([
      '', 'h', 'h.0', 'h.0.ln_1', 'h.0.mlp', 'h.0.mlp.c_fc', 'h.0.mlp.c_proj', 'h.0.mlp.drop',
      'h.1', 'h.1.ln_1', 'h.1.mlp', 'h.1.mlp.c_fc', 'h.1.mlp.c_proj', 'h.1.mlp.drop', 'head',
    ]);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['mask', 'scratch']);
    // stateDict: own params, own persistent buffers, then children (PyTorch's order); non-persistent left out
    expect(Object.keys(m.stateDict())).toEqual(['mask', ...m.namedParameters().map(([n]) => n)]);
    expect(m.numParameters()).toBe(2 * (4 + 4 + 32 + 8 + 32 + 4) + 12);
    expect(m.getModule('h.1.mlp.c_fc', Linear).outFeatures).toBe(8);
    expect(m.getParameter('h.0.mlp.c_proj.bias').shape).toEqual([4]);
    expect(m.h.get(-1)).toBe(m.getModule('h.1'));
    expect(() => m.getModule('h.2.mlp')).toThrow(/"h" has no child "2"; its children are 0, 1/);
    expect(() => m.getModule('h.0.mlp', Linear)).toThrow(/expected a Linear, found a Mlp/);
    expect(() => m.getParameter('h.0.mlp.c_fc.scale')).toThrow(/"h.0.mlp.c_fc" has weight, bias/);
    m.dispose();
  });

  it('replace() swaps a module at any depth and re-points fields; the old one is returned, not disposed', () => {
    const rng = new Rng(1);
    const m = new Tiny(4, 2, rng);
    const x = rng.normalTensor([2, 4]);
    const before = m.eval().forward(x);
    const old = m.getModule('h.1.mlp.c_fc', Linear);
    const replacement = Linear.fromWeights(tf.zerosLike(old.weight), tf.zeros([8]));
    const returned = m.replace('h.1.mlp.c_fc', replacement);
    expect(returned).toBe(old);
    expect(old.weight.isDisposed).toBe(false);
    expect(m.h.get(1).mlp.c_fc).toBe(replacement); // the field follows
    expect(replacement.training).toBe(false); // takes the parent's mode
    // with c_fc = 0, block 1's MLP adds gelu(0)·W + b = c_proj.bias
    const h0 = m.h.get(0).forward(x);
    const proj = m.h.get(1).mlp.c_proj.bias!;
    expectTensorsClose(m.forward(x), m.head.forward(tf.add(h0, proj)), { atol: 1e-6, rtol: 1e-6 });
    expect(Array.from(m.forward(x).dataSync())).not.toEqual(Array.from(before.dataSync()));
    // top level and a whole block
    const head2 = new Linear({ inFeatures: 4, outFeatures: 3, bias: false, rng });
    m.replace('head', head2);
    expect(m.head).toBe(head2);
    const block = new Block(4, rng);
    m.replace('h.0', block);
    expect(m.h.get(0)).toBe(block);
    expect(() => m.replace('', block)).toThrow(/cannot replace the root/);
    expect(() => m.replace('h.0.nope', block)).toThrow(/"h.0" has no child "nope"/);
    old.dispose();
    m.dispose();
    tf.dispose([x, before, h0]);
  });

  it('train()/eval() are recursive and toggle dropout', () => {
    const rng = new Rng(2);
    const m = new Tiny(4, 1, rng);
    const x = rng.normalTensor([3, 4]);
    expect(m.namedModules().every(([, mm]) => mm.training)).toBe(true);
    m.eval();
    expect(m.namedModules().every(([, mm]) => !mm.training)).toBe(true);
    const a = m.forward(x);
    const b = m.forward(x);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync())); // deterministic in eval
    m.train();
    const c = m.forward(x);
    const d = m.forward(x);
    expect(Array.from(c.dataSync())).not.toEqual(Array.from(d.dataSync())); // dropout active
    tf.dispose([x, a, b, c, d]);
    m.dispose();
  });

  it('freeze/unfreeze by glob, RegExp or filter; trainableOnly listings follow', () => {
    const m = new Tiny(4, 2, new Rng(3));
    expect(m.freeze()).toHaveLength(13);
    expect(m.parameters({ trainableOnly: true })).toHaveLength(0);
    expect(m.unfreeze('h.*.mlp.c_fc.weight')).toEqual(['h.0.mlp.c_fc.weight', 'h.1.mlp.c_fc.weight']);
    expect(m.unfreeze(/^head\./)).toEqual(['head.weight']);
    expect(m.namedParameters({ trainableOnly: true }).map(([n]) => n)).toEqual(['h.0.mlp.c_fc.weight', 'h.1.mlp.c_fc.weight', 'head.weight']);
    m.unfreeze();
    expect(m.freeze({ include: '**.bias', exclude: 'h.1.**' })).toEqual(['h.0.ln_1.bias', 'h.0.mlp.c_fc.bias', 'h.0.mlp.c_proj.bias']);
    expect(m.numParameters({ trainableOnly: true })).toBe(m.numParameters() - 4 - 8 - 4);
    expect(() => m.freeze([3 as unknown as string])).toThrow(/glob string or a RegExp/);
    m.dispose();
  });

  it('findLinears / findModules filter by name', () => {
    const m = new Tiny(4, 2, new Rng(4));
    expect(findLinears(m).map(([n]) => n)).toEqual(['h.0.mlp.c_fc', 'h.0.mlp.c_proj', 'h.1.mlp.c_fc', 'h.1.mlp.c_proj', 'head']);
    expect(findLinears(m, { include: 'h.*.mlp.*', exclude: /c_proj/ }).map(([n]) => n)).toEqual(['h.0.mlp.c_fc', 'h.1.mlp.c_fc']);
    expect(findLinears(m, { include: ['**.c_proj', 'head'] }).map(([n]) => n)).toEqual(['h.0.mlp.c_proj', 'h.1.mlp.c_proj', 'head']);
    expect(findModules(m, LayerNorm).map(([n]) => n)).toEqual(['h.0.ln_1', 'h.1.ln_1']);
    m.dispose();
  });

  it('name globs: * within a segment, ** across segments, ? one character', () => {
    expect(matchName('h.3.mlp.c_fc', 'h.*.mlp.c_fc')).toBe(true);
    expect(matchName('h.3.mlp.c_fc', 'h.*.c_fc')).toBe(false);
    expect(matchName('h.3.mlp.c_fc', 'h.**.c_fc')).toBe(true);
    expect(matchName('bias', '**.bias')).toBe(true);
    expect(matchName('h.3.attn.bias', '**.bias')).toBe(true);
    expect(matchName('h.3.attn.c_bias', '**.bias')).toBe(false);
    expect(matchName('h', 'h.**')).toBe(true);
    expect(matchName('h.1.x', 'h.**')).toBe(true);
    expect(matchName('hx', 'h.**')).toBe(false);
    expect(matchName('h.12', 'h.?')).toBe(false);
    expect(matchName('h.1', 'h.?')).toBe(true);
    expect(matchName('a+b.c', 'a+b.*')).toBe(true); // regex characters are literal
    expect(matchName('x.ln_f.weight', /ln_f/g)).toBe(true);
    expect(matchName('x.ln_f.weight', /ln_f/g)).toBe(true); // a /g RegExp is reset between calls
    expect(globToRegExp('**').test('a.b.c')).toBe(true);
  });
});

describe('state dict', () => {
  it('round-trips: snapshot, change, load back', () => {
    const a = new Tiny(4, 2, new Rng(5));
    const b = new Tiny(4, 2, new Rng(6));
    const saved = Object.fromEntries(Object.entries(a.stateDict()).map(([k, t]) => [k, tf.clone(t)]));
    expect(snapshot(b)).not.toEqual(snapshot(a));
    const report = b.loadStateDict(saved);
    expect(report.missingKeys).toEqual([]);
    expect(report.unexpectedKeys).toEqual([]);
    expect(report.loadedKeys).toHaveLength(14);
    expect(snapshot(b)).toEqual(snapshot(a));
    tf.dispose(saved);
    expect(snapshot(b)).toEqual(snapshot(a)); // the module holds its own reference
    // loading a module's own state dict into itself is a no-op, not a use-after-free
    b.loadStateDict(b.stateDict());
    expect(snapshot(b)).toEqual(snapshot(a));
    const fromMap = new Map(Object.entries(a.stateDict()));
    b.loadStateDict(fromMap);
    a.dispose();
    b.dispose();
  });

  it('errors name the key: shape got/expected, dtype, missing and unexpected (strict); nothing changes on error', () => {
    const m = new Tiny(4, 1, new Rng(7));
    const before = snapshot(m);
    const sd = Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, tf.clone(t)]));
    const bad = { ...sd, 'h.0.mlp.c_fc.weight': tf.zeros([8, 5]) };
    expect(() => m.loadStateDict(bad)).toThrow(/"h.0.mlp.c_fc.weight" has shape got \[8, 5\] expected \[8, 4\]/);
    const badDtype = { ...sd, 'h.0.ln_1.bias': tf.zeros([4], 'int32') };
    expect(() => m.loadStateDict(badDtype)).toThrow(/"h.0.ln_1.bias" has dtype got int32 expected float32/);
    const { 'head.weight': _head, ...missing } = sd;
    let err: unknown;
    try {
      m.loadStateDict({ ...missing, 'lm_head.weight': tf.zeros([3, 4]), 'h.0.ln_1.weight': tf.fill([4], 7) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SiftError);
    expect((err as SiftError).code).toBe('E_STATE_DICT');
    expect((err as SiftError).message).toMatch(/missing keys: head\.weight; unexpected keys: lm_head\.weight/);
    expect(snapshot(m)).toEqual(before); // validated before anything was assigned
    const report = m.loadStateDict({ 'h.0.ln_1.weight': tf.fill([4], 2), extra: tf.zeros([1]) }, { strict: false });
    expect(report.loadedKeys).toEqual(['h.0.ln_1.weight']);
    expect(report.unexpectedKeys).toEqual(['extra']);
    expect(report.missingKeys).toContain('head.weight');
    expect(Array.from(m.getParameter('h.0.ln_1.weight').dataSync())).toEqual([2, 2, 2, 2]);
    tf.dispose([sd, bad['h.0.mlp.c_fc.weight'], badDtype['h.0.ln_1.bias']]);
    m.dispose();
  });

  it('the same seed builds bit-identical models; another seed does not', () => {
    const a = new Tiny(4, 2, new Rng(21));
    const b = new Tiny(4, 2, new Rng(21));
    const c = new Tiny(4, 2, new Rng(22));
    expect(snapshot(a)).toEqual(snapshot(b));
    expect(snapshot(a)).not.toEqual(snapshot(c));
    [a, b, c].forEach((m) => { m.dispose(); });
  });

  it('dispose frees every parameter and buffer', () => {
    const before = tf.memory().numTensors;
    const m = new Tiny(4, 2, new Rng(8));
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('hooks', () => {
  it('forward hooks see inputs and outputs, fire for subclasses, run in order, and can be removed', () => {
    const rng = new Rng(9);
    const m = new Tiny(4, 2, rng).eval();
    const x = rng.normalTensor([2, 4]);
    const seen: string[] = [];
    const shapes: number[][] = [];
    const removers = findLinears(m).map(([name, lin]) => lin.registerForwardHook((mod, inputs, output) => {
      expect(mod).toBe(lin);
      seen.push(name);
      shapes.push([...inputs[0].shape, ...output.shape]);
    }));
    const second = m.head.registerForwardHook(() => seen.push('head(second)'));
    tf.tidy(() => m.forward(x));
    expect(seen).toEqual(['h.0.mlp.c_fc', 'h.0.mlp.c_proj', 'h.1.mlp.c_fc', 'h.1.mlp.c_proj', 'head', 'head(second)']);
    expect(shapes[0]).toEqual([2, 4, 2, 8]);
    removers.forEach((r) => { r(); });
    seen.length = 0;
    tf.tidy(() => m.forward(x));
    expect(seen).toEqual(['head(second)']);
    second();
    second(); // removing twice is harmless
    expect(Object.prototype.hasOwnProperty.call(m.head, 'forward')).toBe(false); // no wrapper left behind
    seen.length = 0;
    tf.tidy(() => m.forward(x));
    expect(seen).toEqual([]);
    x.dispose();
    m.dispose();
  });

  it('a hook can accumulate statistics across batches (X^T X) without leaking', async () => {
    const rng = new Rng(10);
    const lin = new Linear({ inFeatures: 3, outFeatures: 2, rng });
    let gram: tf.Tensor | null = null;
    const remove = lin.registerForwardHook((_m, [inp]) => {
      const x2 = tf.reshape(inp, [-1, 3]);
      const next = tf.keep(tf.add(gram ?? tf.zeros([3, 3]), tf.matMul(tf.transpose(x2), x2)));
      gram?.dispose();
      gram = next;
    });
    const xs = [rng.normalTensor([2, 5, 3]), rng.normalTensor([4, 3])];
    for (const x of xs) tf.tidy(() => lin.forward(x));
    const all = tf.concat([tf.reshape(xs[0], [-1, 3]), xs[1]]);
    expectTensorsClose(gram!, tf.matMul(tf.transpose(all), all), { atol: 1e-5, rtol: 1e-5 });
    await expectNoLeak(() => tf.tidy(() => lin.forward(xs[1])), { label: 'forward with an accumulating hook' });
    remove();
    tf.dispose([...xs, all, gram!]);
    lin.dispose();
  });

  it('an effectiveWeight override (a fixed mask) changes the product and masks the gradient', () => {
    class MaskedLinear extends Linear {
      readonly mask: tf.Tensor;
      constructor(base: Linear, mask: tf.Tensor) {
        super({ inFeatures: base.inFeatures, outFeatures: base.outFeatures, bias: base.bias !== null, weightInit: 'zeros', biasInit: 'zeros' });
        this.loadStateDict(base.stateDict());
        this.mask = this.addBuffer('mask', mask);
      }
      override effectiveWeight(): tf.Tensor {
        return tf.mul(this.weight, this.mask);
      }
    }
    const rng = new Rng(11);
    const base = new Linear({ inFeatures: 4, outFeatures: 2, rng });
    const mask = tf.tensor2d([[1, 0, 1, 0], [0, 1, 0, 1]]);
    const masked = new MaskedLinear(base, mask);
    const x = rng.normalTensor([3, 4]);
    expectTensorsClose(masked.forward(x), tf.add(tf.matMul(x, tf.mul(base.weight, mask), false, true), base.bias!), { atol: 1e-6 });
    const { grads } = tf.variableGrads(() => tf.sum(masked.forward(x)), masked.parameters());
    const gw = grads[masked.weight.name].dataSync();
    expect([gw[1], gw[3], gw[4], gw[6]].map(Math.abs)).toEqual([0, 0, 0, 0]);
    expect(Object.keys(masked.stateDict())).toEqual(['weight', 'bias', 'mask']);
    tf.dispose([x, grads]);
    base.dispose();
    masked.dispose();
  });

  it('name validation: no dots, no duplicates', () => {
    class Bad extends Module {
      constructor(kind: number) {
        super();
        if (kind === 0) this.addParameter('a.b', tf.zeros([1]));
        else {
          this.addParameter('a', tf.zeros([1]));
          this.addBuffer('a', tf.zeros([1]));
        }
      }
    }
    expect(() => new Bad(0)).toThrow(/name "a.b" must be non-empty without dots/);
    expect(() => new Bad(1)).toThrow(/"a" is already used/);
    expect(() => new Module().forward()).toThrow(/has no forward/);
  });
});
