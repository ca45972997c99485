import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IngestResult } from '../ingest.js';
import { withTempDir, writeCsv } from '../test-helpers.js';
import { loadAgeGroup } from './age-group.js';
import { ALPHA_BATTLE_SCHEMA, loadAlphaBattle } from './alpha-battle.js';
import {
  writeAgeGroupLayout, writeAlphaBattleLayout, writePhysioNetLayout, writeRosbankLayout, type MiniExpectation,
} from './mini-layouts.js';
import { loadPhysioNet2012, PHYSIONET_2012_SCHEMA } from './physionet-2012.js';
import { loadRosbank } from './rosbank.js';

/** Entities, events per entity and labels are what the generator wrote; times are sorted within each entity. */
function expectLoaded({ store, report }: IngestResult, want: MiniExpectation): void {
  const order = want.entities.map((id, i) => [id, want.eventsPerEntity[i]] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => Number(a[0]) - Number(b[0]));
  expect(store.entityIds).toEqual(order.map(([id]) => id));
  expect(order.map((_, i) => store.length(i))).toEqual(order.map(([, n]) => n));
  for (const [name, byId] of Object.entries(want.labels)) {
    expect([...store.label(name)]).toEqual(order.map(([id]) => byId.get(id)));
  }
  for (let i = 0; i < store.numEntities; i++) {
    for (let j = store.start(i) + 1; j < store.end(i); j++) expect(store.times[j]).toBeGreaterThanOrEqual(store.times[j - 1]);
  }
  expect(report.rows).toBe(report.events + report.dropped.invalidTime + report.dropped.missingEntity + report.dropped.withoutLabels);
}

describe('dataset loaders on generated mini datasets in the publishers\' layouts', () => {
  it('Age group: transactions_train.csv + train_target.csv', async () => {
    await withTempDir(async (dir) => {
      const want = await writeAgeGroupLayout(dir);
      const result = await loadAgeGroup({ dir });
      expectLoaded(result, want);
      expect(result.report.events).toBe(want.rows);
      expect(result.report.messages).toEqual([]);
      expect(result.store.encoder.categoricalNames).toEqual(['small_group']);
      // transactions_test.csv: clients without labels, kept with NaN labels for self-supervised training.
      await writeCsv(join(dir, 'transactions_test.csv'), ['client_id', 'trans_date', 'small_group', 'amount_rur'], [[5, 3, 1, '10.00'], [6, 2, 999, '1.50']]);
      const withTest = await loadAgeGroup({ dir, includeTest: true });
      expect(withTest.store.entityIds.slice(0, 2)).toEqual(['5', '6']);
      expect(withTest.report.labels?.eventsWithoutLabels).toEqual({ count: 2, examples: ['5', '6'], action: 'kept' });
      await expect(loadAgeGroup({ dir: join(dir, 'nope') })).rejects.toThrow(
        /Age group: ".*nope\/transactions_train\.csv" not found\. Expected the dataset's own layout: transactions_train\.csv \(client_id,trans_date,small_group,amount_rur\)/);
    });
  });

  it('Rosbank churn: train.csv with TRDATETIME like 21OCT17:00:00:00 and targets on every row', async () => {
    await withTempDir(async (dir) => {
      const want = await writeRosbankLayout(dir);
      const result = await loadRosbank({ dir });
      expectLoaded(result, want);
      const { store, report } = result;
      store.entityIds.forEach((id, i) => { expect(store.times[store.start(i)]).toBe(want.firstTime.get(id)); });
      expect(report.labels?.duplicateRows).toBe(0);
      expect(report.labels?.conflicting.count).toBe(0);
      // Empty channel_type cells are missing values, counted and coded OOV.
      expect(report.fields.channel_type.missing).toBeGreaterThan(0);
      expect(report.fields.channel_type.oov).toBe(report.fields.channel_type.missing);
      expect(store.encoder.categoricalNames).toEqual(['mcc', 'channel_type', 'currency', 'trx_category']);
      // test.csv has no target columns; its clients are kept unlabelled.
      await writeCsv(join(dir, 'test.csv'), ['PERIOD', 'cl_id', 'MCC', 'channel_type', 'currency', 'TRDATETIME', 'amount', 'trx_category'],
        [['01/10/2017', 500, 5411, 'type1', 810, '05OCT17:10:00:00', '12.5', 'POS']]);
      const withTest = await loadRosbank({ dir, includeTest: true });
      expect(withTest.store.entityIds.at(-1)).toBe('500');
      expect(withTest.store.label('target_flag').at(-1)).toBeNaN();
    });
  });

  it('Alpha Battle: train_transactions_contest/part_*.parquet + train_target.csv, ordered by transaction_number', async () => {
    await withTempDir(async (dir) => {
      const want = await writeAlphaBattleLayout(dir);
      const result = await loadAlphaBattle({ dir });
      expectLoaded(result, want);
      const { store } = result;
      for (let i = 0; i < store.numEntities; i++) {
        expect([...store.times.subarray(store.start(i), store.end(i))]).toEqual(Array.from({ length: store.length(i) }, (_, j) => j + 1));
      }
      expect(Object.keys(store.codes)).toHaveLength(15);
      expect(Object.keys(store.values)).toEqual(['amnt', 'hour_diff', 'days_before']);
      expect(ALPHA_BATTLE_SCHEMA.fields).toHaveLength(18);
      expect(result.report.messages).toEqual([]);
    });
  });

  it('PhysioNet 2012: set-a/<RecordID>.txt long format pivoted per time, Outcomes-a.txt labels', async () => {
    await withTempDir(async (dir) => {
      const want = await writePhysioNetLayout(dir);
      const result = await loadPhysioNet2012({ dir });
      expectLoaded(result, want);
      const { store, report } = result;
      expect(PHYSIONET_2012_SCHEMA.fields.filter((f) => f.kind === 'categorical')).toHaveLength(3);
      expect(PHYSIONET_2012_SCHEMA.fields.filter((f) => f.kind === 'numeric')).toHaveLength(38);
      // The record with descriptors only is an empty sequence; its outcome is a label without events.
      const emptyId = want.entities.at(-1)!;
      expect(report.emptySequences).toEqual({ count: 1, examples: [emptyId], action: 'dropped' });
      expect(report.labels?.withoutEvents).toEqual({ count: 1, examples: [emptyId] });
      expect(report.preprocessing).toEqual({ unknownParameterRows: 0, unparsableValues: 0, mergedMeasurements: 5 });
      // Times are minutes since admission; HR is averaged at a repeated time, then standardised.
      const hr = store.encoder.field('HR');
      if (hr.kind !== 'numeric') throw new Error('HR is numeric');
      store.entityIds.forEach((id, i) => {
        const got = [...store.values.HR.subarray(store.start(i), store.end(i))];
        expect(got).toEqual(want.heartRates.get(id)!.map((v) => Math.fround((v - hr.mean) / hr.std)));
        expect(store.times[store.start(i)]).toBe(7);
      });
      // Fields absent from these files are all missing (stored as the fill value 0).
      expect(report.fields.Albumin.missing).toBe(report.events);
      // A malformed time is reported with its raw text, then dropped on request.
      await writeFile(join(dir, 'set-a', '999999.txt'), 'Time,Parameter,Value\n00:00,RecordID,999999\n00:00,Gender,1\n1x:00,HR,80\n01:00,HR,81\n');
      await expect(loadPhysioNet2012({ dir })).rejects.toThrow(/1 of \d+ rows have a time in column "minutes" that is missing \(0\) or cannot be read as a number: row \d+: "1x:00"/);
      const dropped = await loadPhysioNet2012({ dir, policy: { invalidTime: 'drop', eventsWithoutLabels: 'drop' } });
      expect(dropped.report.invalidTimes.examples.map((e) => e.value)).toEqual(['1x:00']);
      expect(dropped.report.labels?.eventsWithoutLabels).toEqual({ count: 1, examples: ['999999'], action: 'dropped' });
      await mkdir(join(dir, 'empty'));
      await expect(loadPhysioNet2012({ dir: join(dir, 'empty') })).rejects.toThrow(/PhysioNet 2012: ".*set-a" not found/);
    });
  });
});
