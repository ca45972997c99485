import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storeFromTable } from './from-table.js';
import { SequenceStore, type SequenceStoreParts } from './store.js';
import { loadStore, saveStore } from './store-io.js';
import { generateSynthetic } from './synthetic.js';
import { withTempDir } from './test-helpers.js';

function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The parts of a store, to rebuild it with one part changed. */
function partsOf(s: SequenceStore): SequenceStoreParts {
  return { entityIds: s.entityIds, offsets: s.offsets, times: s.times, codes: s.codes, values: s.values, labels: s.labels, encoder: s.encoder };
}

function expectBitIdentical(a: SequenceStore, b: SequenceStore): void {
  expect(b.entityIds).toEqual(a.entityIds);
  expect(b.offsets.constructor).toBe(a.offsets.constructor);
  expect(b.times.constructor).toBe(a.times.constructor);
  expect(bytes(b.offsets)).toEqual(bytes(a.offsets));
  expect(bytes(b.times)).toEqual(bytes(a.times));
  for (const k of Object.keys(a.codes)) expect(bytes(b.codes[k])).toEqual(bytes(a.codes[k]));
  for (const k of Object.keys(a.values)) expect(bytes(b.values[k])).toEqual(bytes(a.values[k]));
  expect(b.labelNames).toEqual(a.labelNames);
  for (const k of a.labelNames) expect(bytes(b.labels[k])).toEqual(bytes(a.labels[k]));
  expect(b.encoder.toJSON()).toEqual(a.encoder.toJSON());
}

describe('SequenceStore', () => {
  const { store } = generateSynthetic({ seed: 3, numClients: 50 });

  it('saves as safetensors + JSON sidecar and loads bit-identical typed arrays', async () => {
    await withTempDir(async (dir) => {
      const paths = await saveStore(store, join(dir, 'synthetic.safetensors'));
      expect(paths).toEqual({ tensors: join(dir, 'synthetic.safetensors'), sidecar: join(dir, 'synthetic.json') });
      const side = JSON.parse(await readFile(paths.sidecar, 'utf8')) as { format: string; entityIds: string[] };
      expect(side.format).toBe('sift.sequence-store');
      expect(side.entityIds).toHaveLength(50);
      expectBitIdentical(store, await loadStore(join(dir, 'synthetic')));
    });
  });

  it('round-trips float32 times, BigInt64 offsets, NaN labels and empty sequences', async () => {
    const { store: s } = storeFromTable({
      table: { entity: [5, 5, 6, 7], time: [1.5, 0.25, 3, Number.NaN], columns: { x: ['u', 'v', 'u', 'u'] } },
      schema: { entity: 'e', time: { column: 't' }, fields: [{ kind: 'categorical', name: 'x' }] },
      labels: { entity: [5, 7], columns: { y: [1, 2] } },
      timeDtype: 'float32',
      policy: { invalidTime: 'drop', emptySequences: 'keep' },
    });
    expect(s.times).toBeInstanceOf(Float32Array);
    expect([...s.label('y')]).toEqual([1, Number.NaN, 2]);
    const big = new SequenceStore({ ...partsOf(s), offsets: BigInt64Array.from(s.offsets as Int32Array, (v) => BigInt(v)) });
    expect(big.length(2)).toBe(0);
    await withTempDir(async (dir) => {
      await saveStore(big, join(dir, 'small'));
      const again = await loadStore(join(dir, 'small.json'));
      expectBitIdentical(big, again);
      expect(again.offsets).toBeInstanceOf(BigInt64Array);
      await writeFile(join(dir, 'small.json'), '{"format":"other"}');
      await expect(loadStore(join(dir, 'small'))).rejects.toThrow(/not a version-1 Sift sequence store sidecar/);
      await expect(loadStore(join(dir, 'missing'))).rejects.toThrow(/cannot read the sidecar ".*missing\.json"/);
    });
  });

  it('validates its parts and says what is wrong', () => {
    const parts = partsOf(store);
    expect(() => new SequenceStore({ ...parts, offsets: store.offsets.slice(1) })).toThrow(/offsets has 50 entries, expected entities \+ 1 = 51/);
    const times = Float64Array.from(store.times);
    times[store.start(3) + 1] = -5;
    expect(() => new SequenceStore({ ...parts, times })).toThrow(/entity 3 \("c03"\) has times out of order at event 1/);
    expect(() => new SequenceStore({ ...parts, codes: {} })).toThrow(/codes are for \[\] but the encoder's categorical fields are \[mcc\]/);
    expect(() => new SequenceStore({ ...parts, entityIds: store.entityIds.map(() => 'x') })).toThrow(/entity ids are not unique/);
  });

  it('looks up entities and takes subsets', () => {
    expect(store.indexOf('c07')).toBe(7);
    expect(store.indexOf('nope')).toBe(-1);
    const sub = store.subset([7, 2]);
    expect(sub.entityIds).toEqual(['c07', 'c02']);
    expect(sub.length(0)).toBe(store.length(7));
    expect([...sub.codes.mcc.subarray(0, sub.length(0))]).toEqual([...store.codes.mcc.subarray(store.start(7), store.end(7))]);
    expect([...sub.label('composition')]).toEqual([store.label('composition')[7], store.label('composition')[2]]);
    expect(() => store.label('age')).toThrow(/no label "age"; labels are \[composition, dynamics\]/);
    expect(() => store.subset([50])).toThrow(/entity index 50 is out of range \[0, 50\)/);
  });
});
