import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@sift/tensor-core';
import { expectNoLeak } from '@sift/tensor-core/testing';
import { batchForEntities, batchFromSlices, batchToTensors, type PaddedBatch } from './batch.js';
import { storeFromTable } from './from-table.js';
import type { EventSchema } from './schema.js';

const schema: EventSchema = {
  entity: 'id', time: { column: 't' },
  fields: [{ kind: 'categorical', name: 'mcc' }, { kind: 'numeric', name: 'amount', transform: 'none' }],
};

/** Entity "a": 12 events at t = 0, 1, 4, 9, ...; "b": 3 events; "c": 1 event. Codes and amounts identify events. */
function makeStore() {
  const entity: string[] = [];
  const time: number[] = [];
  const mcc: string[] = [];
  const amount: number[] = [];
  const add = (id: string, n: number): void => {
    for (let j = 0; j < n; j++) {
      entity.push(id);
      time.push(j * j);
      mcc.push(j % 2 === 0 ? 'even' : 'odd');
      amount.push(100 * entity.length);
    }
  };
  add('a', 12);
  add('b', 3);
  add('c', 1);
  return storeFromTable({ table: { entity, time, columns: { mcc, amount } }, schema }).store;
}

const store = makeStore();

function row(batch: PaddedBatch, b: number, a: Float32Array | Int32Array): number[] {
  return [...a.subarray(b * batch.maxLen, (b + 1) * batch.maxLen)];
}

describe('padded batches', () => {
  it('spells out [B, T] shapes, right padding, lengths and mask', () => {
    const batch = batchForEntities(store, ['b', 'c', 'a']);
    expect(batch.batchSize).toBe(3);
    expect(batch.maxLen).toBe(12);
    expect([...batch.lengths]).toEqual([3, 1, 12]);
    expect([...batch.entities]).toEqual([1, 2, 0]);
    for (const a of [batch.mask, batch.time, batch.dt, batch.eventIndex, batch.codes.mcc, batch.values.amount]) expect(a.length).toBe(36);
    expect(row(batch, 0, batch.mask)).toEqual([1, 1, 1, ...new Array<number>(9).fill(0)]);
    expect(row(batch, 0, batch.codes.mcc).slice(3)).toEqual(new Array<number>(9).fill(0));
    expect(row(batch, 0, batch.eventIndex)).toEqual([12, 13, 14, ...new Array<number>(9).fill(-1)]);
    expect(row(batch, 0, batch.values.amount).slice(0, 4)).toEqual([1300, 1400, 1500, 0]);
    // even codes are more frequent (7 of 16 odd): even -> 2, odd -> 3.
    expect(row(batch, 2, batch.codes.mcc).slice(0, 4)).toEqual([2, 3, 2, 3]);
  });

  it('keeps the last maxLen events, with time normalised and Δt recomputed (first Δt = 0)', () => {
    const batch = batchForEntities(store, [0, 1], { maxLen: 5 });
    expect(batch.maxLen).toBe(5);
    expect([...batch.lengths]).toEqual([5, 3]);
    expect(row(batch, 0, batch.eventIndex)).toEqual([7, 8, 9, 10, 11]);
    const range = 121; // times 0 .. 11² over the whole store
    const t = [49, 64, 81, 100, 121].map((x) => x / range);
    expect(row(batch, 0, batch.time)).toEqual(t.map(Math.fround));
    expect(row(batch, 0, batch.dt)).toEqual([0, ...t.slice(1).map((x, i) => x - t[i])].map(Math.fround));
    expect(row(batch, 1, batch.dt)).toEqual([0, 1 / range, 3 / range, 0, 0].map(Math.fround));
  });

  it('builds rows from arbitrary (entity, start, length) slices', () => {
    const batch = batchFromSlices(store, [{ entity: 0, start: 2, length: 4 }, { entity: 0, start: 10, length: 2 }, { entity: 1, start: 0, length: 0 }]);
    expect([...batch.lengths]).toEqual([4, 2, 0]);
    expect(row(batch, 0, batch.eventIndex)).toEqual([2, 3, 4, 5]);
    expect(row(batch, 1, batch.eventIndex)).toEqual([10, 11, -1, -1]);
    expect(row(batch, 2, batch.mask)).toEqual([0, 0, 0, 0]);
    expect(() => batchFromSlices(store, [{ entity: 1, start: 2, length: 5 }])).toThrow(/slice 0 \(start 2, length 5\) does not fit entity 1 \("b"\) of 3 events/);
    expect(() => batchForEntities(store, ['zz'])).toThrow(/no entity "zz"/);
    expect(() => batchFromSlices(store, [{ entity: 0, start: 0, length: 3 }], { padTo: 2 })).toThrow(/padTo 2 is shorter than the longest row \(3 events\)/);
    expect(batchFromSlices(store, [{ entity: 0, start: 0, length: 3 }], { padTo: 8 }).maxLen).toBe(8);
  });

  it('event dropout keeps floor(n(1 − p) + 1) events in order, reproducibly from the seed', () => {
    const opts = (seed: number) => ({ dropout: 0.3, rng: new Rng(seed) });
    const a = batchForEntities(store, [0, 0, 1, 2], opts(5));
    const b = batchForEntities(store, [0, 0, 1, 2], opts(5));
    expect(a).toEqual(b);
    expect([...a.lengths]).toEqual([Math.floor(12 * 0.7 + 1), 9, 3, 1]);
    const kept = row(a, 0, a.eventIndex).slice(0, 9);
    expect(kept).toEqual([...kept].sort((x, y) => x - y));
    expect(new Set(kept).size).toBe(9);
    expect(row(a, 0, a.eventIndex).slice(0, 9)).not.toEqual(row(a, 1, a.eventIndex).slice(0, 9));
    // Δt is between kept events.
    const t = kept.map((e) => store.times[e] / 121);
    expect(row(a, 0, a.dt).slice(0, 9)).toEqual([0, ...t.slice(1).map((x, i) => x - t[i])].map(Math.fround));
    expect(batchForEntities(store, [0], opts(6)).eventIndex).not.toEqual(a.eventIndex.subarray(0, 12));
    expect(() => batchForEntities(store, [0], { dropout: 0.1 })).toThrow(/dropout > 0 needs an `rng`/);
    expect(() => batchForEntities(store, [0], { dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
  });

  it('uploads to tensors of the spelled-out shapes and dtypes, and disposes them all', async () => {
    const batch = batchForEntities(store, [0, 1, 2], { maxLen: 6 });
    const t = batchToTensors(batch);
    try {
      expect(t.codes.mcc.shape).toEqual([3, 6]);
      expect(t.codes.mcc.dtype).toBe('int32');
      expect(t.values.amount.dtype).toBe('float32');
      expect(t.mask.shape).toEqual([3, 6]);
      expect(t.lengths.shape).toEqual([3]);
      expect(t.lengths.dtype).toBe('int32');
      expect([...(await t.dt.data())]).toEqual([...batch.dt]);
      expect([...(await t.codes.mcc.data())]).toEqual([...batch.codes.mcc]);
    } finally {
      t.dispose();
    }
    const before = tf.memory().numTensors;
    batchToTensors(batch).dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expectNoLeak(() => { batchToTensors(batch).dispose(); }, { label: 'batchToTensors' });
  });
});
