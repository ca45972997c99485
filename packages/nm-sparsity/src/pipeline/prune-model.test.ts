import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  ActivationStats, Embedding, LayerNorm, Linear, Module, ModuleList, MultiHeadAttention, type HiddenState, type Rng,
  type SequentialModel, findLinears, geluTanh, runSequential,
} from '@sift/tensor-core';
import { expectNoLeak, seeded } from '@sift/tensor-core/testing';
import { MaskedLinear } from '../masked-linear.js';
import { pruneLayer } from '../methods/prune-layer.js';
import { pruneModel, type PruneProgress } from './prune-model.js';

const D = 32, V = 50, T = 12;

/** A pre-LN transformer block from tensor-core modules: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
class Block extends Module<[HiddenState], HiddenState> {
  readonly ln_1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly ln_2: LayerNorm;
  readonly c_fc: Linear;
  readonly c_proj: Linear;
  constructor(rng: Rng) {
    super();
    this.ln_1 = this.addModule('ln_1', new LayerNorm({ dim: D }));
    this.attn = this.addModule('attn', new MultiHeadAttention({ dModel: D, nHeads: 4, rng: rng.fork('attn') }));
    this.ln_2 = this.addModule('ln_2', new LayerNorm({ dim: D }));
    this.c_fc = this.addModule('c_fc', new Linear({ inFeatures: D, outFeatures: 4 * D, rng: rng.fork('fc') }));
    this.c_proj = this.addModule('c_proj', new Linear({ inFeatures: 4 * D, outFeatures: D, rng: rng.fork('proj') }));
  }
  override forward(h: HiddenState): HiddenState {
    return tf.tidy(() => {
      const a = tf.add(h.hidden, this.attn.forward(this.ln_1.forward(h.hidden)));
      return { hidden: tf.add(a, this.c_proj.forward(geluTanh(this.c_fc.forward(this.ln_2.forward(a))))), context: h.context };
    });
  }
}

class TinyModel extends Module implements SequentialModel {
  readonly wte: Embedding;
  readonly h: ModuleList<Block>;
  constructor(seed: string) {
    super();
    const rng = seeded(seed);
    this.wte = this.addModule('wte', new Embedding({ numEmbeddings: V, embeddingDim: D, rng: rng.fork('wte') }));
    this.h = this.addModule('h', new ModuleList([new Block(rng.fork('b0')), new Block(rng.fork('b1'))]));
  }
  blocks(): readonly Module[] {
    return this.h.toArray();
  }
  blockPath(i: number): string {
    return `h.${i}`;
  }
  embed(ids: tf.Tensor): HiddenState {
    return { hidden: this.wte.forward(ids), context: {} };
  }
  runBlock(i: number, hs: HiddenState): HiddenState {
    return this.h.get(i).forward(hs);
  }
}

function batches(n: number): tf.Tensor[] {
  const rng = seeded('calib');
  return Array.from({ length: n }, () => tf.tensor2d(Int32Array.from({ length: 2 * T }, () => rng.int(V)), [2, T], 'int32'));
}

describe('pruneModel over a SequentialModel', () => {
  it('prunes every linear of every block to 8:16 with SparseGPT, reports per layer, and calls back', async () => {
    const model = new TinyModel('m1');
    const calib = batches(3);
    const events: PruneProgress[] = [];
    const report = await pruneModel(model, calib, { method: 'sparsegpt', pattern: '8:16' }, { onProgress: (p) => events.push(p) });
    expect(report.layers.map((l) => l.name)).toEqual([
      'h.0.attn.q_proj', 'h.0.attn.k_proj', 'h.0.attn.v_proj', 'h.0.attn.o_proj', 'h.0.c_fc', 'h.0.c_proj',
      'h.1.attn.q_proj', 'h.1.attn.k_proj', 'h.1.attn.v_proj', 'h.1.attn.o_proj', 'h.1.c_fc', 'h.1.c_proj',
    ]);
    for (const l of report.layers) {
      expect(l.sparsity).toBeGreaterThanOrEqual(0.5);
      expect(l.reconstructionError).toBeGreaterThan(0);
      expect(l.reconstructionError).toBeLessThan(1);
    }
    expect(report.sparsity).toBeCloseTo(0.5, 2);
    expect(findLinears(model).every(([, l]) => l instanceof MaskedLinear)).toBe(true);
    const phases = events.filter((e) => e.block === 1).map((e) => e.phase);
    expect(phases[0]).toBe('calibrate');
    expect(phases.filter((p) => p === 'prune')).toHaveLength(6);
    expect(events.at(-1)).toMatchObject({ block: 1, phase: 'propagate', blocks: 2, layersDone: 12 });
    expect(JSON.parse(JSON.stringify(report.options))).toEqual(report.options); // serializable
    // The masked model still runs, and every MaskedLinear's effective weight is exactly 8:16.
    const w = model.getModule('h.1.c_fc', MaskedLinear).effectiveWeight();
    const v = w.dataSync();
    for (let g = 0; g < v.length; g += 16) {
      let nz = 0;
      for (let k = 0; k < 16; k++) nz += v[g + k] !== 0 ? 1 : 0;
      expect(nz).toBeLessThanOrEqual(8);
    }
    w.dispose();
    const out = runSequential(model, calib[0]);
    expect(out.hidden.shape).toEqual([2, T, D]);
    tf.dispose([out, calib]);
    model.dispose();
  });

  it("block 1 is calibrated on block 0's pruned outputs (Wanda, same masks as a manual layer-by-layer run)", async () => {
    const a = new TinyModel('m2');
    const b = new TinyModel('m2');
    const calib = batches(2);
    const rep = await pruneModel(a, calib, { method: 'wanda', pattern: '2:4', replace: false, reportError: false });
    expect(rep.layers.every((l) => l.reconstructionError === null)).toBe(true); // no Gram matrix collected
    // Manual: prune block 0's linears from dense block-0 statistics, then block 1's from pruned block-0 outputs.
    for (let i = 0; i < 2; i++) {
      const targets = findLinears(b.h.get(i));
      const stats = targets.map(() => new ActivationStats());
      const rm = targets.map(([, l], k) => l.registerForwardHook((_m, [x]) => {
        stats[k].update(x);
      }));
      const upTo: SequentialModel = { blocks: () => b.blocks().slice(0, i + 1), blockPath: (k) => b.blockPath(k), embed: (x) => b.embed(x), runBlock: (k, h) => b.runBlock(k, h) };
      for (const ids of calib) tf.dispose(tf.tidy(() => runSequential(upTo, ids)));
      for (const r of rm) r();
      for (const [k, [, l]] of targets.entries()) {
        const r = pruneLayer({ weight: l.weight as tf.Variable<tf.Rank.R2>, stats: stats[k] }, { method: 'wanda', pattern: '2:4' });
        l.weight.assign(tf.tensor2d(r.weight, l.weight.shape as [number, number]));
        stats[k].dispose();
      }
    }
    for (const [[pa, la], [, lb]] of findLinears(a).map((x, k) => [x, findLinears(b)[k]] as const)) {
      expect(Array.from(la.weight.dataSync()), pa).toEqual(Array.from(lb.weight.dataSync()));
    }
    tf.dispose(calib);
    a.dispose();
    b.dispose();
  });

  it('equalization groups, include/exclude, salient weights and variance correction; bad options are E_CONFIG; no leaks', async () => {
    const model = new TinyModel('m3');
    const calib = batches(2);
    const report = await pruneModel(model, calib, {
      method: 'magnitude', pattern: '4:8', include: ['c_fc', 'attn.*'], exclude: ['attn.o_proj'],
      equalizeAlpha: 0.5, equalizeGroups: [{ previous: 'ln_1', consumers: ['attn.q_proj', 'attn.k_proj', 'attn.v_proj'] }, { previous: 'ln_2', consumers: ['c_fc'] }],
      salientFraction: 1 / 16, salientGroup: 16, varianceCorrection: 'data-driven', meanFix: true,
    });
    expect(report.layers.map((l) => l.name)).toEqual(['h.0.attn.q_proj', 'h.0.attn.k_proj', 'h.0.attn.v_proj', 'h.0.c_fc', 'h.1.attn.q_proj', 'h.1.attn.k_proj', 'h.1.attn.v_proj', 'h.1.c_fc']);
    expect(report.equalization).toHaveLength(4);
    expect(report.layers.every((l) => l.gamma !== null && Math.abs(l.salientFraction - 1 / 16) < 1e-9)).toBe(true);
    expect(model.getModule('h.0.attn.o_proj')).not.toBeInstanceOf(MaskedLinear);
    await expect(pruneModel(model, calib, { equalizeAlpha: 0.5 })).rejects.toThrow(/equalizeGroups is empty/u);
    await expect(pruneModel(model, [], {})).rejects.toThrow(/at least one calibration batch/u);
    await expect(pruneModel(model, calib, { include: 'c_fc' as never })).rejects.toThrow(/include must be an array/u);
    const fresh = new TinyModel('m4');
    await expectNoLeak(async () => {
      await pruneModel(fresh, calib, { method: 'sparsegpt', pattern: '2:4', replace: false });
    }, { repeats: 1, label: 'pruneModel' });
    tf.dispose(calib);
    model.dispose();
    fresh.dispose();
  });
});
