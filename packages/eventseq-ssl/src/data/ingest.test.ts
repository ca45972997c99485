import { join } from 'node:path';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { Rng } from '@sift/tensor-core';
import { EventEncoder } from './encoder.js';
import { storeFromTable } from './from-table.js';
import { ingestEvents } from './ingest.js';
import type { IngestReport } from './report.js';
import type { EventSchema } from './schema.js';
import type { SequenceStore } from './store.js';
import { withTempDir, writeCsv, writeParquet } from './test-helpers.js';

interface Row { id: number; t: number; mcc: string; amount: number | null }

const MCCS = ['5411', '5411', '5411', '5812', '5812', '6011', 'a,b', 'say "hi"', '4111'];

/** A random flat table: integer ids (so 2 < 10 numerically), many equal times (ties), skewed categories, missing amounts. */
function randomRows(seed: number, n: number, entities: number): Row[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({
    id: 1 + rng.int(entities),
    t: rng.int(20),
    mcc: MCCS[rng.int(MCCS.length)],
    amount: rng.float() < 0.05 ? null : Math.round(rng.normal(0, 200) * 100) / 100,
  }));
}

const schema: EventSchema = {
  entity: 'client_id',
  time: { column: 't', format: 'number' },
  fields: [{ kind: 'categorical', name: 'mcc' }, { kind: 'numeric', name: 'amount', transform: 'log' }],
};

async function writeRows(path: string, rows: readonly Row[]): Promise<void> {
  await writeCsv(path, ['client_id', 't', 'mcc', 'amount'], rows.map((r) => [r.id, r.t, r.mcc, r.amount]));
}

/** The reference: a naive JS groupBy (numeric id order), a stable sort by time, the encoder applied row by row. */
function expectMatchesNaive(store: SequenceStore, rows: readonly Row[]): void {
  const groups = new Map<number, Row[]>();
  for (const r of rows) {
    const g = groups.get(r.id) ?? [];
    g.push(r);
    groups.set(r.id, g);
  }
  const ids = [...groups.keys()].sort((a, b) => a - b);
  expect(store.entityIds).toEqual(ids.map(String));
  const enc = store.encoder;
  let k = 0;
  ids.forEach((id, e) => {
    const events = [...groups.get(id)!].sort((a, b) => a.t - b.t); // stable: ties keep file order
    expect(store.length(e)).toBe(events.length);
    for (const ev of events) {
      expect(store.times[k]).toBe(ev.t);
      expect(store.codes.mcc[k]).toBe(enc.encodeCategory('mcc', ev.mcc));
      expect(store.values.amount[k]).toBe(Math.fround(enc.encodeNumber('amount', ev.amount)));
      k++;
    }
  });
  expect(k).toBe(store.numEvents);
}

function expectSameStore(a: SequenceStore, b: SequenceStore): void {
  expect(b.entityIds).toEqual(a.entityIds);
  expect(b.offsets).toEqual(a.offsets);
  expect(b.times).toEqual(a.times);
  expect(b.codes).toEqual(a.codes);
  expect(b.values).toEqual(a.values);
  expect(b.labels).toEqual(a.labels);
  expect(b.encoder.toJSON()).toEqual(a.encoder.toJSON());
}

function expectRowsAccounted(r: IngestReport): void {
  expect(r.rows).toBe(r.events + r.dropped.invalidTime + r.dropped.missingEntity + r.dropped.withoutLabels);
}

describe('ingestEvents', () => {
  it('groups by entity and sorts by time (ties in file order) like a naive groupBy, across DuckDB chunks', async () => {
    await withTempDir(async (dir) => {
      const rows = randomRows(1, 5000, 60);
      const path = join(dir, 'events.csv');
      await writeRows(path, rows);
      const { store, report } = await ingestEvents({ events: { path }, schema, threads: 2 });
      expectMatchesNaive(store, rows);
      // The fitted vocabulary is the naive frequency order.
      const counts = new Map<string, number>();
      for (const r of rows) counts.set(r.mcc, (counts.get(r.mcc) ?? 0) + 1);
      const f = store.encoder.field('mcc');
      expect(f.kind === 'categorical' && f.vocab).toEqual([...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k));
      expect(report.rows).toBe(5000);
      expect(report.events).toBe(5000);
      expect(report.fields.amount.missing).toBe(rows.filter((r) => r.amount === null).length);
      expect(report.messages.some((m) => m.includes('field "amount"'))).toBe(true);
      expectRowsAccounted(report);
    });
  });

  it('reads Parquet (one file, or a glob of parts) into the same store as the CSV, and matches storeFromTable', async () => {
    await withTempDir(async (dir) => {
      const rows = randomRows(2, 1500, 25);
      const csv = join(dir, 'events.csv');
      await writeRows(csv, rows);
      const typed = `SELECT CAST(client_id AS BIGINT) AS client_id, CAST(t AS DOUBLE) AS t, mcc, CAST(amount AS DOUBLE) AS amount ` +
        `FROM read_csv('${csv}', all_varchar = true)`;
      await writeParquet(join(dir, 'events.parquet'), typed);
      await writeParquet(join(dir, 'part_0.parquet'), `${typed} WHERE CAST(client_id AS BIGINT) % 2 = 0`);
      await writeParquet(join(dir, 'part_1.parquet'), `${typed} WHERE CAST(client_id AS BIGINT) % 2 = 1`);
      const fromCsv = await ingestEvents({ events: { path: csv }, schema });
      const fromParquet = await ingestEvents({ events: { path: join(dir, 'events.parquet') }, schema });
      const fromParts = await ingestEvents({ events: { path: join(dir, 'part_*.parquet') }, schema });
      // Labels from Parquet too (typed BIGINT ids and DOUBLE labels join the CSV's text ids).
      await writeParquet(join(dir, 'target.parquet'),
        'SELECT CAST(i AS BIGINT) AS client_id, CAST(i % 4 AS DOUBLE) AS bins FROM range(1, 26) t(i)');
      const labelled = await ingestEvents({ events: { path: csv }, schema, labels: { path: join(dir, 'target.parquet'), entity: 'client_id', columns: ['bins'] } });
      expect([...labelled.store.label('bins')]).toEqual(labelled.store.entityIds.map((id) => Number(id) % 4));
      expect(labelled.report.labels?.withoutEvents.count).toBe(25 - labelled.store.numEntities);
      expectMatchesNaive(fromParquet.store, rows);
      expectSameStore(fromCsv.store, fromParquet.store);
      expectSameStore(fromCsv.store, fromParts.store);
      const inMemory = storeFromTable({
        table: { entity: rows.map((r) => r.id), time: rows.map((r) => r.t), columns: { mcc: rows.map((r) => r.mcc), amount: rows.map((r) => r.amount) } },
        schema,
      });
      expectSameStore(fromCsv.store, inMemory.store);
    });
  });

  it('joins labels, counts labels without events and events without labels, and applies the policy', async () => {
    await withTempDir(async (dir) => {
      const events = join(dir, 'events.csv');
      await writeCsv(events, ['client_id', 't', 'mcc', 'amount'], [
        [3, 1, 'a', 1], [1, 2, 'b', 2], [1, 1, 'a', 3], [2, 5, 'a', 4], [7, 0, 'c', 5],
      ]);
      const labels = join(dir, 'target.csv');
      await writeCsv(labels, ['client_id', 'bins', 'score'], [[1, 0, 0.5], [2, 3, 1.5], [9, 1, 2], [8, 2, 1], [1, 0, 0.5]]);
      const spec = { path: labels, entity: 'client_id', columns: ['bins', 'score'] };
      const { store, report } = await ingestEvents({ events: { path: events }, schema, labels: spec });
      expect(store.entityIds).toEqual(['1', '2', '3', '7']);
      expect([...store.label('bins')]).toEqual([0, 3, Number.NaN, Number.NaN]);
      expect([...store.label('score')]).toEqual([0.5, 1.5, Number.NaN, Number.NaN]);
      const l = report.labels!;
      expect(l.rows).toBe(5);
      expect(l.entities).toBe(4);
      expect(l.duplicateRows).toBe(1);
      expect(l.conflicting.count).toBe(0);
      expect(l.withoutEvents).toEqual({ count: 2, examples: ['8', '9'] });
      expect(l.eventsWithoutLabels).toEqual({ count: 2, examples: ['3', '7'], action: 'kept' });
      expect(l.missing).toEqual({ bins: 2, score: 2 });
      expect(report.messages.join('\n')).toMatch(/2 labelled entities have no events \("8", "9"\); dropped/);
      expect(report.messages.join('\n')).toMatch(/2 entities have events but no label \("3", "7"\); kept/);

      const dropped = await ingestEvents({ events: { path: events }, schema, labels: spec, policy: { eventsWithoutLabels: 'drop' } });
      expect(dropped.store.entityIds).toEqual(['1', '2']);
      expect(dropped.report.dropped.withoutLabels).toBe(2);
      expectRowsAccounted(dropped.report);

      await expect(ingestEvents({ events: { path: events }, schema, labels: spec, policy: { eventsWithoutLabels: 'fail' } }))
        .rejects.toThrow(/labels file ".*target\.csv": 2 entities with events have no label row \("3", "7"\)/);
      await expect(ingestEvents({ events: { path: events }, schema, labels: spec, policy: { labelsWithoutEvents: 'fail' } }))
        .rejects.toThrow(/2 labelled entities have no events \("8", "9"\)\. Fix: check that the label and event files cover/);
    });
  });

  it('reports conflicting label rows and labels that are not numbers', async () => {
    await withTempDir(async (dir) => {
      const events = join(dir, 'events.csv');
      await writeCsv(events, ['client_id', 't', 'mcc', 'amount'], [[1, 1, 'a', 1], [2, 1, 'a', 1]]);
      const labels = join(dir, 'target.csv');
      await writeCsv(labels, ['client_id', 'y'], [[1, 0], [1, 1], [2, 'yes']]);
      const spec = { path: labels, entity: 'client_id', columns: ['y'] };
      await expect(ingestEvents({ events: { path: events }, schema, labels: spec }))
        .rejects.toThrow(/label column "y" has 1 values that are not numbers \(row 3: "yes"\)/);
      await expect(ingestEvents({ events: { path: events }, schema, labels: spec, policy: { invalidLabel: 'missing' } }))
        .rejects.toThrow(/1 entities have several label rows that disagree \("1"\)/);
      const { store, report } = await ingestEvents({
        events: { path: events }, schema, labels: spec, policy: { invalidLabel: 'missing', conflictingLabels: 'first' },
      });
      expect([...store.label('y')]).toEqual([0, Number.NaN]);
      expect(report.labels!.conflicting).toEqual({ count: 1, examples: ['1'] });
      expect(report.labels!.invalid.y).toEqual({ count: 1, examples: [{ row: 3, value: 'yes' }] });
    });
  });

  it('names the file, the missing column and the columns present', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'events.csv');
      await writeCsv(path, ['client_id', 't', 'MCC', 'amount'], [[1, 1, 'a', 1]]);
      await expect(ingestEvents({ events: { path }, schema })).rejects.toThrow(
        new RegExp(`events file "${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": missing column "mcc" \\(categorical field "mcc"\\); ` +
          'it has columns \\[client_id, t, MCC, amount\\]'));
      const labels = join(dir, 'target.csv');
      await writeCsv(labels, ['id', 'bins'], [[1, 0]]);
      await expect(ingestEvents({
        events: { path }, schema: { ...schema, fields: [{ kind: 'categorical', name: 'mcc', column: 'MCC' }, schema.fields[1]] },
        labels: { path: labels, entity: 'client_id', columns: ['bins', 'age'] },
      })).rejects.toThrow(/labels file ".*target\.csv": missing columns "client_id" \(entity id\), "age" \(label\); it has columns \[id, bins\]/);
      await expect(ingestEvents({ events: { path: join(dir, 'nope.csv') }, schema })).rejects.toThrow(/No files found/);
    });
  });

  it('counts unparsable times with examples, fails by default, drops on request, and reports emptied sequences', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'events.csv');
      await writeCsv(path, ['cl_id', 'TRDATETIME', 'mcc', 'amount'], [
        [1, '21OCT17:00:00:00', 'a', 1], [1, '32OCT17:00:00:00', 'a', 2], [2, 'yesterday', 'b', 3], [2, null, 'b', 4],
        [3, '01NOV17:13:05:00', 'a', 5], [3, '21OCT17:00:00:00', 'c', 6],
      ]);
      const s: EventSchema = { ...schema, entity: 'cl_id', time: { column: 'TRDATETIME', format: '%d%b%y:%H:%M:%S' } };
      await expect(ingestEvents({ events: { path }, schema: s })).rejects.toThrow(
        /3 of 6 rows have a time in column "TRDATETIME" that is missing \(1\) or cannot be read as format "%d%b%y:%H:%M:%S": row 2: "32OCT17:00:00:00"; row 3: "yesterday"; row 4: empty\. Fix: set schema.time.format/);
      const { store, report } = await ingestEvents({ events: { path }, schema: s, policy: { invalidTime: 'drop' } });
      expect(store.entityIds).toEqual(['1', '3']);
      expect([...store.times]).toEqual([Date.UTC(2017, 9, 21) / 1000, Date.UTC(2017, 9, 21) / 1000, Date.UTC(2017, 10, 1, 13, 5) / 1000]);
      expect(report.invalidTimes.count).toBe(3);
      expect(report.invalidTimes.missing).toBe(1);
      expect(report.dropped.invalidTime).toBe(3);
      expect(report.emptySequences).toEqual({ count: 1, examples: ['2'], action: 'dropped' });
      expect(report.messages.join('\n')).toMatch(/1 entities have no events \("2"\); dropped/);
      expectRowsAccounted(report);
      const kept = await ingestEvents({ events: { path }, schema: s, policy: { invalidTime: 'drop', emptySequences: 'keep' } });
      expect(kept.store.entityIds).toEqual(['1', '2', '3']);
      expect(kept.store.length(1)).toBe(0);
      await expect(ingestEvents({ events: { path }, schema: s, policy: { invalidTime: 'drop', emptySequences: 'fail' } }))
        .rejects.toThrow(/1 entities have no events left \("2"\)/);
    });
  });

  it('counts rows without an entity id and numbers that do not parse', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'events.csv');
      await writeCsv(path, ['client_id', 't', 'mcc', 'amount'], [[1, 1, 'a', '1.5'], [null, 2, 'a', 2], [1, 3, 'b', 'n/a'], [2, 1, null, 4]]);
      await expect(ingestEvents({ events: { path }, schema })).rejects.toThrow(/1 of 4 rows have no entity id in column "client_id" \(rows 2\)/);
      const { store, report } = await ingestEvents({ events: { path }, schema, policy: { missingEntity: 'drop' } });
      expect(report.dropped.missingEntity).toBe(1);
      expect(report.fields.amount.unparsable).toEqual({ count: 1, examples: [{ row: 3, value: 'n/a' }] });
      expect(report.fields.amount.missing).toBe(1);
      expect(report.fields.mcc.missing).toBe(1);
      expect(report.fields.mcc.oov).toBe(1);
      expect([...store.values.amount]).toEqual([Math.fround(Math.log1p(1.5)), 0, Math.fround(Math.log1p(4))]);
      expect(store.codes.mcc[2]).toBe(1);
      expect(report.messages.join('\n')).toMatch(/field "amount": 1 values are not numbers \(row 3: "n\/a"\)/);
      expectRowsAccounted(report);
    });
  });

  it('applies a saved encoder to new data: unseen categories become OOV, nothing is refitted', async () => {
    await withTempDir(async (dir) => {
      const train = join(dir, 'train.csv');
      const test = join(dir, 'test.csv');
      await writeCsv(train, ['client_id', 't', 'mcc', 'amount'], [[1, 0, 'a', 1], [1, 1, 'a', 2], [2, 0, 'b', 3]]);
      await writeCsv(test, ['client_id', 't', 'mcc', 'amount'], [[5, 100, 'b', 1], [5, 101, 'zzz', 1000]]);
      const fitted = (await ingestEvents({ events: { path: train }, schema })).store.encoder;
      const again = EventEncoder.fromJSON(JSON.parse(JSON.stringify(fitted.toJSON())));
      const { store } = await ingestEvents({ events: { path: test }, schema, encoder: again });
      expect([...store.codes.mcc]).toEqual([3, 1]);
      expect(store.encoder.toJSON()).toEqual(fitted.toJSON());
      expect(store.encoder.normalizeTime(store.times[0])).toBe(100);
      await expect(ingestEvents({ events: { path: test }, schema: { ...schema, fields: [schema.fields[0]] }, encoder: again }))
        .rejects.toThrow(/the given encoder has fields \[mcc:categorical, amount:numeric\] but the schema has \[mcc:categorical\]/);
    });
  });

  it('orders non-integer ids by code point, parses timestamps, and leaves no temporary folder behind', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'events.tsv');
      const text = 'who\twhen\tmcc\tamount\nb\t2020-01-02 00:00:00\tx\t1\nB\t2020-01-01\tx\t1\na\t2020-01-01 12:00:00\ty\t2\n';
      await writeFile(path, text);
      // DuckDB's spill folder is made under os.tmpdir(), which follows TMPDIR: point it at an empty folder of our own
      // (this test file runs in its own process) and check that ingestion leaves it empty.
      const spill = join(dir, 'tmp');
      await mkdir(spill);
      const saved = process.env.TMPDIR;
      process.env.TMPDIR = spill;
      const progress: string[] = [];
      try {
        const { store } = await ingestEvents({
          events: { path, format: 'csv', delimiter: '\t' },
          schema: { ...schema, entity: 'who', time: { column: 'when' } },
          onProgress: (p) => progress.push(p.stage),
        });
        expect(store.entityIds).toEqual(['B', 'a', 'b']);
        expect([...store.times]).toEqual([Date.UTC(2020, 0, 1) / 1000, Date.UTC(2020, 0, 1, 12) / 1000, Date.UTC(2020, 0, 2) / 1000]);
        await expect(ingestEvents({ events: { path: join(dir, 'missing.csv') }, schema })).rejects.toThrow(/No files found/);
      } finally {
        if (saved === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = saved;
      }
      expect(progress[0]).toBe('read');
      expect(progress.at(-1)).toBe('done');
      expect(await readdir(spill)).toEqual([]);
    });
  });

  it('validates its options with the valid choices in the message', async () => {
    await expect(ingestEvents({ events: { path: 'x.csv' }, schema, policy: { invalidTime: 'skip' as 'drop' } }))
      .rejects.toThrow(/ingest policy: invalidTime is "skip"; choose one of "fail", "drop"/);
    await expect(ingestEvents({ events: { path: 'x.txt', format: 'json' as 'csv' }, schema }))
      .rejects.toThrow(/format "json" is not "csv" or "parquet"/);
    await expect(ingestEvents({ events: { path: 'x.csv' }, schema: { ...schema, fields: [{ kind: 'categorical', name: 'a b' }] } }))
      .rejects.toThrow(/name "a b" must match/);
  });
});
