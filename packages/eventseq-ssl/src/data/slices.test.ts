import { describe, expect, it } from 'vitest';
import { seeded } from '@sift/tensor-core/testing';
import { colesSlices, lengthBuckets } from './batch.js';
import { generateSynthetic } from './synthetic.js';

const { store } = generateSynthetic({ seed: 2, numClients: 50, minEvents: 3, maxEvents: 60, numCodes: 4 });

describe('colesSlices', () => {
  it('draws count contiguous slices per entity within [minLength, min(maxLength, n)]', () => {
    const ids = Array.from({ length: 50 }, (_, i) => i);
    const s = colesSlices(store, ids, { count: 4, minLength: 5, maxLength: 20 }, seeded('s'));
    expect(s.length).toBe(200);
    s.forEach((sl, k) => {
      const n = store.length(sl.entity);
      expect(sl.entity).toBe(ids[Math.floor(k / 4)]);
      if (n <= 5) {
        expect(sl).toEqual({ entity: sl.entity, start: 0, length: n });
      } else {
        expect(sl.length).toBeGreaterThanOrEqual(5);
        expect(sl.length).toBeLessThanOrEqual(Math.min(20, n));
        expect(sl.start + sl.length).toBeLessThanOrEqual(n);
      }
    });
    // Seeded: the same generator state gives the same slices; lengths cover the range.
    expect(colesSlices(store, ids, { count: 4, minLength: 5, maxLength: 20 }, seeded('s'))).toEqual(s);
    const lengths = new Set(s.filter((x) => store.length(x.entity) > 25).map((x) => x.length));
    expect(lengths.has(5) || lengths.has(6)).toBe(true);
    expect(lengths.has(20) || lengths.has(19)).toBe(true);
  });

  it('rejects bad options', () => {
    expect(() => colesSlices(store, [0], { minLength: 10, maxLength: 5 }, seeded())).toThrow(/minLength <= maxLength/);
    expect(() => colesSlices(store, [99], {}, seeded())).toThrow(/outside/);
  });
});

describe('lengthBuckets', () => {
  it('covers every entity once, batches of similar length', () => {
    const ids = Array.from({ length: 50 }, (_, i) => i);
    const batches = lengthBuckets(store, ids, 5, seeded('b'), 10);
    expect(batches.flat().sort((a, b) => a - b)).toEqual(ids);
    expect(batches.every((b) => b.length === 5)).toBe(true);
    const spread = (b: number[]): number => Math.max(...b.map((i) => store.length(i))) - Math.min(...b.map((i) => store.length(i)));
    const bucketed = batches.reduce((s, b) => s + spread(b), 0);
    const random = Array.from({ length: 10 }, (_, k) => ids.slice(k * 5, k * 5 + 5)).reduce((s, b) => s + spread(b), 0);
    expect(bucketed).toBeLessThan(random / 2);
  });
});
