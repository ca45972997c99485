import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@sift/tensor-core/testing';
import { RandomBatches, sampleWindows, sequentialWindows, windowBatches, windowsToTensor } from './sampler.js';

/** A stream whose token at position p is p, so a window's content names its start. */
const ramp = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

describe('sampleWindows', () => {
  it('draws [n, L] windows at seeded starts in [0, N - L - 1], like SparseGPT get_loaders', () => {
    const stream = ramp(1000);
    const w = sampleWindows(stream, { count: 64, length: 100, seed: 5 });
    expect(w.shape).toEqual([64, 100]);
    expect(w.data).toBeInstanceOf(Int32Array);
    expect(w.data.length).toBe(6400);
    for (let i = 0; i < 64; i++) {
      const s = w.starts[i];
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1000 - 100 - 1);
      expect(Array.from(w.data.subarray(i * 100, (i + 1) * 100))).toEqual(Array.from(stream.subarray(s, s + 100)));
    }
    expect(sampleWindows(stream, { count: 64, length: 100, seed: 5 })).toEqual(w);
    expect(sampleWindows(stream, { count: 64, length: 100, seed: 6 }).starts).not.toEqual(w.starts);
    // Every allowed start is reachable: with N = L + 2 the starts are 0 and 1 only.
    const tight = sampleWindows(ramp(12), { count: 200, length: 10, seed: 1 });
    expect(new Set(tight.starts)).toEqual(new Set([0, 1]));
  });

  it('rejects windows longer than the stream and bad options', () => {
    expect(() => sampleWindows(ramp(100), { count: 1, length: 100, seed: 0 })).toThrow(
      /a window of 100 tokens needs a stream of at least 101 tokens, got 100/);
    expect(() => sampleWindows(new Int32Array(0), { count: 1, length: 4, seed: 0 })).toThrow(expect.objectContaining({ code: 'E_EMPTY' }) as Error);
    expect(() => sampleWindows(ramp(100), { count: 0, length: 4, seed: 0 })).toThrow(/count must be a positive integer, got 0/);
    expect(() => sampleWindows(ramp(100), { count: 1, length: 2.5, seed: 0 })).toThrow(/length must be a positive integer/);
  });

  it('makes an int32 Tensor2D without leaking', async () => {
    const w = sampleWindows(ramp(500), { count: 4, length: 16, seed: 0 });
    const t = windowsToTensor(w);
    expect(t.shape).toEqual([4, 16]);
    expect(t.dtype).toBe('int32');
    expect(Array.from(t.dataSync())).toEqual(Array.from(w.data));
    t.dispose();
    await expectNoLeak(() => windowsToTensor(w));
    expect(() => windowsToTensor({ data: new Int32Array(3), shape: [2, 2] })).toThrow(/expected 2 x 2 = 4/);
  });
});

describe('RandomBatches', () => {
  it('yields seeded [B, L] inputs with next-token targets, endlessly, and resumes from its state', () => {
    const stream = ramp(300);
    const it1 = new RandomBatches(stream, { batchSize: 4, length: 32, seed: 9 });
    const first = it1.next().value;
    expect(first.shape).toEqual([4, 32]);
    for (let r = 0; r < 4; r++) {
      const s = first.starts[r];
      expect(s).toBeLessThanOrEqual(300 - 32 - 1);
      expect(first.inputs[r * 32]).toBe(s);
      expect(first.targets[r * 32 + 31]).toBe(s + 32);
    }
    const state = it1.state();
    const second = it1.next().value;
    const resumed = new RandomBatches(stream, { batchSize: 4, length: 32, seed: 9 }, state);
    expect(resumed.next().value).toEqual(second);
    const again = new RandomBatches(stream, { batchSize: 4, length: 32, seed: 9 });
    expect(again.next().value).toEqual(first);
    let n = 0;
    for (const b of new RandomBatches(stream, { batchSize: 1, length: 8, seed: 0 })) if (++n === 1000 || b.shape[0] !== 1) break;
    expect(n).toBe(1000);
    expect(() => new RandomBatches(ramp(32), { batchSize: 1, length: 32, seed: 0 })).toThrow(/at least 33 tokens, got 32/);
  });
});

describe('sequentialWindows', () => {
  it('cuts floor(N / L) non-overlapping windows and batches them', () => {
    const w = sequentialWindows(ramp(1003), { length: 100 });
    expect(w.shape).toEqual([10, 100]);
    expect(Array.from(w.starts)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    expect(Array.from(w.data)).toEqual(Array.from(ramp(1000)));
    const batches = [...windowBatches(w, 4)];
    expect(batches.map((b) => b.shape)).toEqual([[4, 100], [4, 100], [2, 100]]);
    expect(batches[2].data[0]).toBe(800);
    expect(Array.from(batches[1].starts)).toEqual([400, 500, 600, 700]);
    expect(sequentialWindows(ramp(5), { length: 5 }).shape).toEqual([1, 5]);
    expect(() => sequentialWindows(ramp(5), { length: 6 })).toThrow(/at least 6 tokens, got 5/);
    expect(() => [...windowBatches(w, 0)]).toThrow(/batchSize must be a positive integer/);
  });
});
