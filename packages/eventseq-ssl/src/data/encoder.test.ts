import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, SiftError } from '@sift/tensor-core';
import {
  compareCodePoints, EventEncoder, FitStatsAccumulator, NumericColumnWriter, Welford, loadEncoder, OOV_CODE, PAD_CODE, saveEncoder, signedLog,
} from './encoder.js';
import type { EventSchema } from './schema.js';

const schema: EventSchema = {
  entity: 'id',
  time: { column: 't' },
  fields: [
    { kind: 'categorical', name: 'mcc' },
    { kind: 'categorical', name: 'city', column: 'city_raw', maxVocab: 2, minCount: 2 },
    { kind: 'numeric', name: 'amount', transform: 'log' },
    { kind: 'numeric', name: 'z', transform: 'standardize' },
    { kind: 'numeric', name: 'lz', transform: 'log-standardize', fill: -9 },
    { kind: 'numeric', name: 'raw' },
  ],
};

function fitFrom(rows: { mcc: string | null; city: string; x: number | null }[], times: number[]): EventEncoder {
  const acc = new FitStatsAccumulator(schema);
  rows.forEach((r, i) => {
    acc.addCategory('mcc', r.mcc);
    acc.addCategory('city', r.city);
    for (const f of ['amount', 'z', 'lz', 'raw']) acc.addNumber(f, r.x);
    acc.addTime(times[i]);
  });
  return EventEncoder.fit(schema, acc.stats());
}

const rows = [
  { mcc: 'b', city: 'x', x: 1 }, { mcc: 'a', city: 'x', x: 2 }, { mcc: 'c', city: 'y', x: 3 },
  { mcc: 'b', city: 'y', x: -4 }, { mcc: 'a', city: 'z', x: null }, { mcc: 'd', city: 'w', x: 10 },
  { mcc: 'b', city: 'z', x: Number.NaN }, { mcc: null, city: 'x', x: 0 },
];
const times = [5, 3, 9, 11, 7, 3, 4, 8];

describe('EventEncoder', () => {
  const enc = fitFrom(rows, times);

  it('codes categories by descending frequency, ties by code point order, 0 pad and 1 OOV reserved', () => {
    // counts: b 3, a 2, c 1, d 1 (null is missing, not a category)
    const f = enc.field('mcc');
    expect(f.kind === 'categorical' && f.vocab).toEqual(['b', 'a', 'c', 'd']);
    expect(f.kind === 'categorical' && f.counts).toEqual([3, 2, 1, 1]);
    expect(f.kind === 'categorical' && f.missing).toBe(1);
    expect(enc.encodeCategory('mcc', 'b')).toBe(2);
    expect(enc.encodeCategory('mcc', 'a')).toBe(3);
    expect(enc.encodeCategory('mcc', 'c')).toBe(4);
    expect(enc.encodeCategory('mcc', 'd')).toBe(5);
    expect(enc.vocabSize('mcc')).toBe(6);
    expect(PAD_CODE).toBe(0);
    expect(OOV_CODE).toBe(1);
  });

  it('maps unseen and missing values to OOV', () => {
    expect(enc.encodeCategory('mcc', 'never-seen')).toBe(OOV_CODE);
    expect(enc.encodeCategory('mcc', null)).toBe(OOV_CODE);
    expect(enc.encodeCategory('mcc', undefined)).toBe(OOV_CODE);
  });

  it('applies minCount and maxVocab (rare and overflow categories become OOV, counted)', () => {
    // city counts: x 3, y 2, z 2, w 1 -> minCount 2 drops w; maxVocab 2 keeps x and the first of the y/z tie (y).
    const f = enc.field('city');
    expect(f.kind === 'categorical' && f.vocab).toEqual(['x', 'y']);
    expect(f.kind === 'categorical' && f.oovCount).toBe(3);
    expect(enc.encodeCategory('city', 'z')).toBe(OOV_CODE);
    expect(enc.encodeCategory('city', 'w')).toBe(OOV_CODE);
  });

  it('signed log is sign(x)·log1p(|x|)', () => {
    for (const x of [0, 1e-9, 0.5, 3, -3, 1e6, -1e-300]) {
      expect(signedLog(x)).toBe(Math.sign(x) * Math.log1p(Math.abs(x)) || 0);
    }
    expect(enc.encodeNumber('amount', -4)).toBeCloseTo(-Math.log(5), 15);
    expect(enc.encodeNumber('raw', -4)).toBe(-4);
  });

  it('standardises with the fitted population mean and std (missing and non-finite values excluded, then filled)', () => {
    const xs = [1, 2, 3, -4, 10, 0];
    const mean = xs.reduce((a, b) => a + b) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    const z = enc.field('z');
    expect(z.kind === 'numeric' && z.count).toBe(6);
    expect(z.kind === 'numeric' && z.missing).toBe(2);
    expect(z.kind === 'numeric' && z.mean).toBeCloseTo(mean, 12);
    expect(z.kind === 'numeric' && z.std).toBeCloseTo(std, 12);
    expect(enc.encodeNumber('z', 3)).toBeCloseTo((3 - mean) / std, 12);
    const ls = xs.map(signedLog);
    const lm = ls.reduce((a, b) => a + b) / ls.length;
    const lsd = Math.sqrt(ls.reduce((a, b) => a + (b - lm) ** 2, 0) / ls.length);
    expect(enc.encodeNumber('lz', 3)).toBeCloseTo((signedLog(3) - lm) / lsd, 12);
    expect(enc.encodeNumber('z', null)).toBe(0);
    expect(enc.encodeNumber('lz', Number.POSITIVE_INFINITY)).toBe(-9);
  });

  it('normalises time by the fitted min and max', () => {
    expect(enc.time).toEqual({ min: 3, max: 11 });
    expect(enc.normalizeTime(3)).toBe(0);
    expect(enc.normalizeTime(11)).toBe(1);
    expect(enc.normalizeTime(7)).toBe(0.5);
  });

  it('handles constant and empty training data without dividing by zero', () => {
    const acc = new FitStatsAccumulator(schema);
    acc.addNumber('z', 5);
    acc.addNumber('z', 5);
    acc.addTime(2);
    const e = EventEncoder.fit(schema, acc.stats());
    expect(e.encodeNumber('z', 5)).toBe(0);
    expect(e.normalizeTime(2)).toBe(0);
    expect(e.vocabSize('mcc')).toBe(2);
  });

  it('round-trips through JSON and a file, identical codes and values', async () => {
    const again = EventEncoder.fromJSON(JSON.parse(JSON.stringify(enc)));
    expect(again.toJSON()).toEqual(enc.toJSON());
    const dir = await mkdtemp(join(tmpdir(), 'sift-enc-'));
    try {
      const path = join(dir, 'encoder.json');
      await saveEncoder(enc, path);
      const loaded = await loadEncoder(path);
      expect(loaded.toJSON()).toEqual(enc.toJSON());
      for (const v of ['a', 'b', 'c', 'd', 'zz', null]) expect(loaded.encodeCategory('mcc', v)).toBe(enc.encodeCategory('mcc', v));
      for (const x of [-3, 0, 1.5, 100]) expect(loaded.encodeNumber('lz', x)).toBe(enc.encodeNumber('lz', x));
      await writeFile(path, '{"format":"sift.event-encoder","version":2}');
      await expect(loadEncoder(path)).rejects.toThrow(/version 2 is not supported/);
      await writeFile(path, 'not json');
      await expect(loadEncoder(path)).rejects.toThrow(/is not valid JSON/);
      await expect(loadEncoder(join(dir, 'nope.json'))).rejects.toThrow(/cannot read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the field and the valid choices in errors', () => {
    expect(() => enc.field('nope')).toThrow(/no field "nope"; fields are \[mcc, city, amount, z, lz, raw\]/);
    expect(() => EventEncoder.fit(schema, { fields: {}, time: { min: 0, max: 1, count: 1 } })).toThrow(SiftError);
    expect(() => EventEncoder.fit({ ...schema, fields: [{ kind: 'numeric', name: 'x', transform: 'sqrt' as 'log' }] },
      { fields: {}, time: { min: 0, max: 1, count: 0 } })).toThrow(/transform "sqrt" is not one of none, log, standardize, log-standardize/);
  });

  it('compareCodePoints orders like UTF-8 bytes (astral characters after the whole BMP)', () => {
    const words = ['b', 'a', 'ab', '', '\uffff', '\u{1F600}', 'Z', 'é'];
    const byBytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...words].sort(compareCodePoints)).toEqual(byBytes);
  });

  it('Welford moments match a two-pass computation (rtol 1e-12), even far from zero', () => {
    const rng = new Rng(4);
    const xs = Array.from({ length: 3000 }, () => rng.normal(1e6, 3));
    const w = new Welford();
    for (const x of xs) w.add(x);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    const r = w.result();
    expect(r.count).toBe(3000);
    expect(Math.abs(r.mean - mean) / mean).toBeLessThan(1e-12);
    expect(Math.abs(r.variance - variance) / variance).toBeLessThan(1e-9);
  });

  it('NumericColumnWriter fits in push order and writes what the fitted encoder gives', () => {
    const spec = { name: 'lz', transform: 'log-standardize' as const, fill: -9 };
    const xs = [3, null, -2, 10, Number.NaN, 0.5];
    const writer = new NumericColumnWriter(xs.length, spec);
    const acc = new FitStatsAccumulator(schema);
    for (const x of xs) {
      writer.push(x);
      acc.addNumber('lz', x);
    }
    expect(writer.fitStats()).toEqual(acc.stats().fields.lz);
    const f = { kind: 'numeric' as const, ...spec, mean: 0.25, std: 2, count: 4, missing: 2 };
    expect([...writer.finish(f)]).toEqual(xs.map((x) => Math.fround(x === null || Number.isNaN(x) ? -9 : (signedLog(x) - 0.25) / 2)));
    // With a fitted encoding it writes at once.
    const direct = new NumericColumnWriter(2, spec, f);
    direct.push(3);
    direct.push(null);
    expect([...direct.finish(f)]).toEqual([Math.fround((signedLog(3) - 0.25) / 2), -9]);
  });
});
