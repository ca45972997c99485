import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

describe('Rng', () => {
  it('the same seed gives the same stream; different seeds differ', () => {
    const a = new Rng(42), b = new Rng(42), c = new Rng(43);
    const xs = Array.from({ length: 100 }, () => a.nextUint32());
    expect(Array.from({ length: 100 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 100 }, () => c.nextUint32())).not.toEqual(xs);
    expect(new Rng('seed').float()).toBe(new Rng('seed').float());
  });

  it('matches the reference xoshiro128** output for a known state', () => {
    // Reference: xoshiro128** with state {1, 2, 3, 4} (Blackman & Vigna's C code) yields 11520, 0, 5927040, 70819200.
    const r = Rng.fromState({ s: [1, 2, 3, 4], spare: null });
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([11520, 0, 5927040, 70819200]);
  });

  it('state() and fromState() resume exactly', () => {
    const r = new Rng(7);
    r.normal(); // leaves a spare normal cached
    const snap = r.state();
    const want = [r.normal(), r.float(), r.int(10)];
    const back = Rng.fromState(JSON.parse(JSON.stringify(snap)) as ReturnType<Rng['state']>);
    expect([back.normal(), back.float(), back.int(10)]).toEqual(want);
  });

  it('setState() restores a generator in place (the one a module holds)', () => {
    const r = new Rng(9);
    r.normal();
    const snap = r.state();
    const want = [r.normal(), r.float()];
    r.float();
    r.setState(JSON.parse(JSON.stringify(snap)) as ReturnType<Rng['state']>);
    expect([r.normal(), r.float()]).toEqual(want);
  });

  it('fork(label) is deterministic and independent of other forks', () => {
    const r = new Rng(1);
    const a1 = r.fork('init').float();
    r.fork('other').float();
    expect(new Rng(1).fork('init').float()).toBe(a1);
    expect(r.fork('init').float()).toBe(a1);
    expect(r.fork('dropout').float()).not.toBe(a1);
  });

  it('uniform, normal, exponential and gamma have the right moments (n = 200k, 5 sigma bounds)', () => {
    const r = new Rng(3);
    const n = 200_000;
    let su = 0, sn = 0, sn2 = 0, se = 0, sg = 0;
    for (let i = 0; i < n; i++) {
      su += r.float();
      const z = r.normal();
      sn += z;
      sn2 += z * z;
      se += r.exponential(2);
      sg += r.gamma(0.5);
    }
    expect(Math.abs(su / n - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sn / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(sn2 / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(Math.abs(se / n - 0.5)).toBeLessThan(5 * 0.5 / Math.sqrt(n));
    expect(Math.abs(sg / n - 0.5)).toBeLessThan(5 * Math.sqrt(0.5 / n));
  });

  it('int(n) is unbiased and in range; permutation is a permutation', () => {
    const r = new Rng(9);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[r.int(7)] += 1;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(5 * Math.sqrt(10_000));
    const p = Array.from(r.permutation(1000)).sort((a, b) => a - b);
    expect(p).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(() => r.int(0)).toThrow(/n must be an integer/);
    expect(() => r.sample(3, 4)).toThrow(/cannot draw 4 distinct values from 3/);
  });

  it('dirichlet sums to one; categorical follows its weights', () => {
    const r = new Rng(5);
    const d = r.dirichlet(0.3, 30);
    expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) counts[r.categorical([1, 2, 7])] += 1;
    expect(Math.abs(counts[2] / 30_000 - 0.7)).toBeLessThan(0.02);
  });

  it('fillNormal gives exactly the values of repeated normal() calls, and leaves the generator in the same state', () => {
    // std 0.02 / 0.1 (not powers of two): std·(v·f) and (std·v)·f differ in the last bit for some v, f.
    for (const [seed, lengths] of [[1, [0, 1, 2, 7, 1000, 200_000]], [42, [3, 3, 5, 1, 64, 100_001]]] as const) {
      const a = new Rng(seed);
      const b = new Rng(seed);
      for (const [k, len] of lengths.entries()) {
        const mean = [0, 1.5, 0, 0.1][k % 4];
        const std = [1, 0.25, 0.02, 0.1][k % 4];
        const fast = a.fillNormal(new Float32Array(len), mean, std);
        const slow = Float32Array.from({ length: len }, () => b.normal(mean, std));
        expect(Array.from(fast)).toEqual(Array.from(slow));
        expect(a.state()).toEqual(b.state());
      }
      expect(a.nextUint32()).toBe(b.nextUint32());
    }
  });

  it('tensors are bit-identical for the same seed', () => {
    const a = new Rng(11).normalTensor([16, 8], 0, 0.02);
    const b = new Rng(11).normalTensor([16, 8], 0, 0.02);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    const m = new Rng(1).bernoulliTensor([1000], 0.9);
    const kept = Array.from(m.dataSync()).reduce((s, v) => s + v, 0);
    expect(Math.abs(kept - 900)).toBeLessThan(5 * Math.sqrt(1000 * 0.09));
    tf.dispose([a, b, m]);
  });
});
