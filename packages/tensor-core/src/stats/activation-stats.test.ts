/**
 * ActivationStats and OutputMoments against float64 references computed from the same float32 activations.
 * Tolerances: statistics of one stream 1e-5 relative (each batch is reduced in float32 over <= 40 tokens); merge vs a
 * single accumulator, and JSON round trips, 1e-12 relative / exact (both fold identical per-batch partials in
 * float64, only the order of additions differs); maxAbs exactly.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SiftError } from '../errors.js';
import { choleskyInverseUpper } from '../linalg/spd.js';
import { fixDeadInputs } from '../linalg/dead-inputs.js';
import { Rng } from '../random/rng.js';
import { expectNoLeak } from '../testing.js';
import { ActivationStats, plainGram, type ActivationStatsJSON } from './activation-stats.js';
import { OutputMoments } from './output-moments.js';

const D = 12;

/** Batches of shapes [7, d], [2, 5, d], [1, d], [40, d] with non-zero means, one outlier channel and a dead one. */
function makeBatches(seed: string, shapes: number[][] = [[7, D], [2, 5, D], [1, D], [40, D]]): tf.Tensor[] {
  const rng = new Rng(seed);
  return shapes.map((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const j = i % D;
      v[i] = j === 3 ? 0 : rng.normal(j * 0.5 - 2, 1 + (j === 7 ? 20 : 0));
    }
    return tf.tensor(v, shape);
  });
}

interface Ref { n: number; sq: Float64Array; mx: Float64Array; mean: Float64Array; varPop: Float64Array; gram: Float64Array }

function reference(batches: tf.Tensor[]): Ref {
  const rows: Float32Array[] = [];
  for (const b of batches) {
    const v = b.dataSync() as Float32Array;
    for (let r = 0; r < v.length / D; r++) rows.push(v.subarray(r * D, (r + 1) * D));
  }
  const n = rows.length;
  const sq = new Float64Array(D), mx = new Float64Array(D), mean = new Float64Array(D), varPop = new Float64Array(D);
  const gram = new Float64Array(D * D);
  for (const x of rows) {
    for (let j = 0; j < D; j++) {
      sq[j] += x[j] * x[j];
      mx[j] = Math.max(mx[j], Math.abs(x[j]));
      mean[j] += x[j] / n;
      for (let k = 0; k < D; k++) gram[j * D + k] += x[j] * x[k];
    }
  }
  for (const x of rows) for (let j = 0; j < D; j++) varPop[j] += (x[j] - mean[j]) ** 2 / n;
  return { n, sq, mx, mean, varPop, gram };
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol = 1e-12): void {
  expect(a.length).toBe(b.length);
  let scale = 0;
  for (const v of Array.from(b)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < b.length; i++) {
    expect(Math.abs(a[i] - b[i]), `element ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(atol + rtol * scale);
  }
}

function expectCode(fn: () => unknown, code: string, ...patterns: RegExp[]): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SiftError);
    expect((err as SiftError).code, (err as Error).message).toBe(code);
    for (const p of patterns) expect((err as Error).message).toMatch(p);
    return;
  }
  throw new Error(`expected SiftError ${code}`);
}

describe('ActivationStats', () => {
  for (const [gramAccumulator, reduceOn] of [['host-float64', 'host'], ['device-float32', 'host'], ['host-float64', 'device'], ['device-float32', 'auto']] as const) {
    it(`every statistic matches a float64 reference (${gramAccumulator} Gram, reductions on ${reduceOn})`, () => {
      const batches = makeBatches('ref');
      const ref = reference(batches);
      const s = new ActivationStats({ name: 'h.0.attn input', gram: true, gramAccumulator, reduceOn });
      for (const b of batches) s.update(b);
      expect(s.count).toBe(ref.n);
      expect(s.batches).toBe(4);
      expect(s.dim).toBe(D);
      close(s.sqNorm(), ref.sq, 1e-5);
      close(s.l2Norm(), ref.sq.map(Math.sqrt), 1e-5);
      expect(Array.from(s.maxAbs())).toEqual(Array.from(ref.mx));
      close(s.mean(), ref.mean, 1e-5);
      close(s.variance(), ref.varPop, 1e-5);
      close(s.variance({ unbiased: true }), ref.varPop.map((v) => (v * ref.n) / (ref.n - 1)), 1e-5);
      close(s.gram(), ref.gram, 1e-5);
      close(s.hessian(), ref.gram.map((v) => (2 / ref.n) * v), 1e-5);
      close(s.hessianDiag(), ref.sq.map((v) => (2 / ref.n) * v), 1e-5);
      const g = s.gram();
      for (let i = 0; i < D; i++) for (let j = 0; j < i; j++) expect(g[i * D + j]).toBe(g[j * D + i]);
      tf.dispose(batches);
      s.dispose();
    });
  }

  it('a tall batch: XᵀX from the SiftGram kernel on wasm, else plain products in row chunks; same statistics, nothing leaked', async () => {
    // @sift/backend registers SiftGram for wasm (the test setup starts it); other backends use plainGram.
    const registered = (tf.getKernel('SiftGram', tf.getBackend()) as tf.KernelConfig | undefined) !== undefined;
    expect(registered).toBe(tf.getBackend() === 'wasm');
    // 4133 rows: two full chunks of 2048 and a ragged one of 37 (plainGram), 33 slabs of 128 rows (the kernel).
    const [batch] = makeBatches('tall', [[4133, D]]);
    const ref = reference([batch]);
    const x2 = tf.reshape<tf.Rank.R2>(batch, [4133, D]);
    const plain = plainGram(x2, 4133, D);
    close(Float64Array.from(plain.dataSync()), ref.gram, 1e-5);
    await expectNoLeak(() => { plainGram(x2, 4133, D).dispose(); }, { repeats: 2, label: 'plainGram' });
    tf.dispose([x2, plain]);
    for (const gramAccumulator of ['host-float64', 'device-float32'] as const) {
      const s = new ActivationStats({ name: 'tall', gram: true, gramAccumulator });
      s.update(batch); // first update allocates the accumulators
      const before = tf.memory().numTensors;
      for (let i = 0; i < 2; i++) s.update(batch);
      expect(tf.memory().numTensors).toBe(before);
      expect(s.count).toBe(3 * ref.n);
      close(s.gram(), ref.gram.map((v) => 3 * v), 1e-5);
      close(s.sqNorm(), ref.sq.map((v) => 3 * v), 1e-5);
      s.dispose();
    }
    batch.dispose();
  });

  it("reproduces SparseGPT's accumulated H and, with dead inputs and 1% damping, its Hinv (PyTorch fixture)", () => {
    const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/linalg/torch-linalg.json', import.meta.url), 'utf8')) as {
      cases: { sparsegpt: { n: number; tokens: number; x: number[]; h: number[]; dead: number[]; percdamp: number; hinv: number[] } };
    };
    const c = fixture.cases.sparsegpt;
    const s = new ActivationStats({ name: 'fixture', gram: true });
    const x = tf.tensor2d(c.x, [c.tokens, c.n]);
    for (const [from, size] of [[0, 12], [12, 8]] as const) {
      const b = tf.slice(x, [from, 0], [size, c.n]);
      s.update(b);
      b.dispose();
    }
    x.dispose();
    const h = s.hessian();
    close(h, c.h, 1e-6); // X was rounded to float32 on its way into the tensor
    const { dead } = fixDeadInputs(h);
    expect(Array.from(dead)).toEqual(c.dead);
    close(choleskyInverseUpper(h, { damp: c.percdamp }), c.hinv, 1e-4);
  });

  it('merge equals accumulating everything in one, with unequal batch counts and empty parts', () => {
    const batches = makeBatches('merge', [[5, D], [9, D], [3, 2, D], [11, D], [1, D]]);
    const opts = { gram: true, name: 'm' };
    const whole = new ActivationStats(opts);
    for (const b of batches) whole.update(b);
    const a = new ActivationStats(opts);
    const b = new ActivationStats(opts);
    const empty = new ActivationStats(opts);
    for (const t of batches.slice(0, 4)) a.update(t);
    b.update(batches[4]);
    const m = ActivationStats.merge(empty, a, empty, b);
    expect(m.count).toBe(whole.count);
    expect(m.batches).toBe(whole.batches);
    close(m.sqNorm(), whole.sqNorm(), 1e-12);
    close(m.mean(), whole.mean(), 1e-12);
    close(m.variance(), whole.variance(), 1e-12);
    close(m.hessian(), whole.hessian(), 1e-12);
    expect(Array.from(m.maxAbs())).toEqual(Array.from(whole.maxAbs()));
    // Parts are unchanged.
    expect(b.count).toBe(1);
    // Empty merged with empty stays empty.
    expectCode(() => ActivationStats.merge(empty, empty).mean(), 'E_EMPTY', /no samples were seen/);
    tf.dispose(batches);
  });

  it('merge is order-independent over any split into shards (fast-check)', () => {
    const batches = makeBatches('shards', [[3, D], [8, D], [1, D], [6, D], [2, 2, D], [5, D]]);
    const whole = new ActivationStats({ gram: true });
    for (const b of batches) whole.update(b);
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: batches.length, maxLength: batches.length }), (shardOf) => {
      const shards = [0, 1, 2, 3].map(() => new ActivationStats({ gram: true }));
      batches.forEach((b, i) => { shards[shardOf[i]].update(b); });
      const m = ActivationStats.merge(...shards.reverse());
      close(m.hessian(), whole.hessian(), 1e-12);
      close(m.variance(), whole.variance(), 1e-12);
      close(m.mean(), whole.mean(), 1e-12);
      expect(m.count).toBe(whole.count);
    }), { seed: 7, numRuns: 25 });
    tf.dispose(batches);
  });

  it('round-trips through JSON exactly, and a restored collector keeps accumulating', () => {
    for (const gramAccumulator of ['host-float64', 'device-float32'] as const) {
      const batches = makeBatches(`json-${gramAccumulator}`);
      const s = new ActivationStats({ gram: true, gramAccumulator, name: 'json' });
      for (const b of batches.slice(0, 2)) s.update(b);
      const json = JSON.parse(JSON.stringify(s.toJSON())) as ActivationStatsJSON;
      const r = ActivationStats.fromJSON(json);
      expect(r.toJSON()).toEqual(s.toJSON());
      for (const b of batches.slice(2)) {
        s.update(b);
        r.update(b);
      }
      expect(Array.from(r.hessian())).toEqual(Array.from(s.hessian()));
      expect(Array.from(r.variance())).toEqual(Array.from(s.variance()));
      expect(() => ActivationStats.fromJSON({ ...json, format: 'x' as never })).toThrow(/expected format 'sift.activation-stats'/);
      expect(() => ActivationStats.fromJSON({ ...json, sqNorm: [1, 2] })).toThrow(/sqNorm must have 12 numbers, got 2/);
      tf.dispose(batches);
      s.dispose();
      r.dispose();
    }
    const empty = ActivationStats.fromJSON(JSON.parse(JSON.stringify(new ActivationStats().toJSON())) as ActivationStatsJSON);
    expect(empty.count).toBe(0);
  });

  it('device and host Gram accumulators agree, and merge into a host accumulator', () => {
    const batches = makeBatches('dev');
    const host = new ActivationStats({ gram: true });
    const dev = new ActivationStats({ gram: true, gramAccumulator: 'device-float32' });
    for (const b of batches) {
      host.update(b);
      dev.update(b);
    }
    close(dev.gram(), host.gram(), 1e-6);
    const m = ActivationStats.merge(dev, host);
    expect(m.options.gramAccumulator).toBe('host-float64');
    close(m.gram(), host.gram().map((v) => 2 * v), 1e-6);
    tf.dispose(batches);
    host.dispose();
    dev.dispose();
  });

  it('works inside the tf.tidy of a forward hook, and leaks nothing (the device accumulator holds one tensor)', async () => {
    const batches = makeBatches('hook');
    for (const gramAccumulator of ['host-float64', 'device-float32'] as const) {
      const s = new ActivationStats({ gram: true, gramAccumulator });
      const before = tf.memory().numTensors;
      for (const b of batches) tf.tidy(() => { s.update(tf.mul(b, 1)); });
      expect(tf.memory().numTensors - before).toBe(gramAccumulator === 'device-float32' ? 1 : 0);
      await expectNoLeak(() => { s.update(batches[0]); }, { label: `update (${gramAccumulator})` });
      await expectNoLeak(() => s.updateAsync(batches[1]), { label: `updateAsync (${gramAccumulator})` });
      s.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose(batches);
  });

  it('NaN and Inf are caught the same way with the reductions on the host and on the device', () => {
    for (const reduceOn of ['host', 'device'] as const) {
      const s = new ActivationStats({ name: `r-${reduceOn}`, reduceOn });
      const bad = tf.tensor2d([[1, 2, 3], [4, Number.NaN, 6]]);
      expectCode(() => { s.update(bad); }, 'E_NAN', new RegExp(`r-${reduceOn}`), /the per-channel mean is NaN at channel 1/);
      const inf = tf.tensor2d([[1, Number.NEGATIVE_INFINITY, 3]]);
      const q = new ActivationStats({ name: 'q', reduceOn, moments: false, maxAbs: false });
      expectCode(() => { q.update(inf); }, 'E_NAN', /sum of squares \(sqNorm\) is Infinity at channel 1/);
      expect(s.count).toBe(0);
      tf.dispose([bad, inf]);
    }
  });

  it('a float32 overflow of the device Gram accumulator is refused with host reductions too', () => {
    // Host reductions sum in float64 and would not overflow; the check bounds XᵀX by its float32 diagonal instead.
    const s = new ActivationStats({ name: 'ovf', gram: true, gramAccumulator: 'device-float32', reduceOn: 'host', sqNorm: false, maxAbs: false, moments: false });
    const big = tf.tensor2d([[1e20, 1], [2, 3]]);
    expectCode(() => { s.update(big); }, 'E_NAN', /'ovf'/, /XᵀX overflows float32 at channel 0/, /gramAccumulator 'host-float64'/);
    expect(s.count).toBe(0);
    // On the device, the float32 sum of squares overflows first, as before.
    const d = new ActivationStats({ name: 'ovf-d', gram: true, gramAccumulator: 'device-float32', reduceOn: 'device', maxAbs: false, moments: false });
    expectCode(() => { d.update(big); }, 'E_NAN', /sqNorm/);
    tf.dispose(big);
    s.dispose();
    d.dispose();
  });

  it('updateAsync gives the same statistics as update', async () => {
    const batches = makeBatches('async');
    const a = new ActivationStats({ gram: true });
    const b = new ActivationStats({ gram: true });
    for (const t of batches) {
      a.update(t);
      await b.updateAsync(t);
    }
    expect(b.toJSON()).toEqual(a.toJSON());
    tf.dispose(batches);
  });

  it('errors: empty, not collected, NaN (state unchanged, nothing leaked), shape, options', async () => {
    const s = new ActivationStats({ name: 'h.3.attn.c_attn input', maxAbs: false });
    expectCode(() => s.l2Norm(), 'E_EMPTY', /ActivationStats 'h\.3\.attn\.c_attn input': no samples were seen \(count 0\), so l2Norm\(\)/);
    expectCode(() => s.maxAbs(), 'E_CONFIG', /maxAbs: true/);
    expectCode(() => s.hessian(), 'E_CONFIG', /gram: true/);
    const good = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    s.update(good);
    const bad = tf.tensor2d([[1, Number.NaN, 3]]);
    expectCode(() => { s.update(bad); }, 'E_NAN', /h\.3\.attn\.c_attn input/, /batch 1/, /the per-channel mean is NaN at channel 1/);
    expect(s.count).toBe(2);
    expect(Array.from(s.sqNorm())).toEqual([17, 29, 45]);
    await expectNoLeak(() => { expect(() => { s.update(bad); }).toThrow(SiftError); }, { label: 'a rejected batch' });
    const inf = tf.tensor2d([[1, 2, Number.POSITIVE_INFINITY]]);
    const g = new ActivationStats({ name: 'g', gram: true, sqNorm: false, maxAbs: false, moments: false });
    expectCode(() => { g.update(inf); }, 'E_NAN', /'g'/, /Gram matrix/);
    expectCode(() => { s.update(tf.zeros([2, 4])); }, 'E_SHAPE', /has 4 channels, but earlier batches had 3/);
    expectCode(() => new ActivationStats({ gram: false, sqNorm: false, maxAbs: false, moments: false }), 'E_CONFIG', /every statistic is switched off/);
    expectCode(() => new ActivationStats({ gramAccumulator: 'gpu' as never }), 'E_CONFIG', /gramAccumulator must be/);
    expectCode(() => new ActivationStats({ reduceOn: 'gpu' as never }), 'E_CONFIG', /reduceOn must be 'auto', 'host' or 'device', got "gpu"/);
    expectCode(() => ActivationStats.merge(s, g), 'E_CONFIG', /merge collectors that collect the same statistics/);
    tf.dispose([good, bad, inf]);
  });
});

describe('OutputMoments', () => {
  it('mean and variance of X Wᵀ per output channel, merged and serialised; a reassigned Variable is not stale', () => {
    const batches = makeBatches('out', [[6, D], [2, 3, D], [9, D]]);
    const rng = new Rng('w');
    const w = tf.variable(rng.normalTensor([5, D], 0, 0.3) as tf.Tensor2D);
    const ys = batches.map((b) => tf.matMul(tf.reshape(b, [-1, D]), w, false, true));
    const ref = (list: tf.Tensor[]): { mean: number[]; v: number[] } => {
      const rows = list.flatMap((y) => Array.from({ length: y.shape[0] }, (_, r) => Array.from(y.dataSync().subarray(r * 5, (r + 1) * 5))));
      const mean = [0, 1, 2, 3, 4].map((j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
      return { mean, v: mean.map((m, j) => rows.reduce((s, r) => s + (r[j] - m) ** 2, 0) / rows.length) };
    };
    const want = ref(ys);
    const all = new OutputMoments({ name: 'c_fc' });
    const a = new OutputMoments({ name: 'c_fc' });
    const b = new OutputMoments({ name: 'c_fc' });
    batches.forEach((x, i) => {
      all.update(x, w);
      (i < 2 ? a : b).update(x, w);
    });
    close(all.mean(), want.mean, 1e-5);
    close(all.variance(), want.v, 1e-5);
    close(all.std(), want.v.map(Math.sqrt), 1e-5);
    const m = OutputMoments.merge(a, new OutputMoments(), b);
    close(m.variance(), all.variance(), 1e-12);
    const r = OutputMoments.fromJSON(JSON.parse(JSON.stringify(all.toJSON())) as ReturnType<OutputMoments['toJSON']>);
    expect(Array.from(r.mean())).toEqual(Array.from(all.mean()));

    // The cached Wᵀ follows w.assign() (same Variable object, new values): X (2W)ᵀ has 4x the variance.
    const before = new OutputMoments();
    const after = new OutputMoments();
    before.update(batches[0], w);
    w.assign(tf.mul<tf.Tensor2D>(w, 2));
    after.update(batches[0], w);
    close(after.variance(), before.variance().map((v) => 4 * v), 1e-5);

    expectCode(() => { all.update(batches[0], tf.zeros<tf.Rank.R2>([5, D + 1])); }, 'E_SHAPE', /expects 13 input channels/);
    expectCode(() => new OutputMoments({ name: 'e' }).std(), 'E_EMPTY', /OutputMoments 'e': no samples were seen/);
    for (const o of [all, a, b, m, r, before, after]) o.dispose();
    tf.dispose([...batches, ...ys, w]);
  });

  it('ActivationStats with outputMoments feeds X Wᵀ and needs the weight', async () => {
    const batches = makeBatches('act-out', [[4, D], [3, D]]);
    const w = new Rng('w2').normalTensor([3, D]) as tf.Tensor2D;
    const s = new ActivationStats({ outputMoments: true });
    expectCode(() => { s.update(batches[0]); }, 'E_CONFIG', /needs the layer's weight/);
    for (const x of batches) s.update(x, w);
    const direct = new OutputMoments();
    for (const x of batches) direct.update(x, w);
    expect(Array.from(s.outputMoments().variance())).toEqual(Array.from(direct.variance()));
    const back = ActivationStats.fromJSON(JSON.parse(JSON.stringify(s.toJSON())) as ActivationStatsJSON);
    expect(Array.from(back.outputMoments().mean())).toEqual(Array.from(direct.mean()));
    await expectNoLeak(() => { s.update(batches[0], w); }, { label: 'update with outputMoments' });
    for (const o of [s, direct, back]) o.dispose();
    tf.dispose([...batches, w]);
  });
});
