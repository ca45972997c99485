/**
 * The in-memory twin of `ingestEvents`: columns already in JavaScript (a generator's output, a parsed JSON file, a
 * browser upload) become a `SequenceStore` with the same rules (store order, time sort with row-order ties,
 * frequency codes, policy and report), without DuckDB, so it also runs in the browser.
 */
import { SiftError } from '@sift/tensor-core';
import { EventEncoder, FitStatsAccumulator, encodeNumeric, OOV_CODE } from './encoder.js';
import { allIntegerIds, entityComparator } from './entity-order.js';
import type { IngestResult } from './ingest.js';
import {
  fmtExamples, fmtRows, parseIngestPolicy, reportMessages, type CountExamples, type FieldReport, type IngestPolicy,
  type IngestReport, type LabelReport, type RowExample,
} from './report.js';
import { fieldColumn, parseEventSchema, type EventSchema } from './schema.js';
import { INT32_OFFSET_LIMIT, SequenceStore } from './store.js';

/** A value of an in-memory column. `null`, `undefined` and `''` are missing. */
export type CellValue = string | number | bigint | null | undefined;

/** Events as columns of equal length N (one entry per event). */
export interface EventTable {
  /** [N] entity ids. */
  entity: ArrayLike<CellValue>;
  /** [N] times as numbers (any monotone unit); non-finite or missing times are invalid. */
  time: ArrayLike<number | null | undefined>;
  /** [N] per source column, named as the schema's field columns. */
  columns: Readonly<Record<string, ArrayLike<CellValue>>>;
}

/** Labels as columns of equal length: entity id -> numeric label columns. */
export interface LabelTable {
  entity: ArrayLike<CellValue>;
  columns: Readonly<Record<string, ArrayLike<number | string | null | undefined>>>;
}

/** Options of `storeFromTable`. */
export interface StoreFromTableOptions {
  table: EventTable;
  /** `entity` and `time.column` are used in messages only; fields name `table.columns`. */
  schema: EventSchema;
  labels?: LabelTable;
  /** A fitted encoder to apply. Default: fit one on these events. */
  encoder?: EventEncoder;
  policy?: Partial<IngestPolicy>;
  /** Default `float64`. */
  timeDtype?: 'float64' | 'float32';
  /** Words for messages and `report.source`. Default `"in-memory events"`. */
  source?: string;
}

function missing(v: CellValue): boolean {
  return v === null || v === undefined || v === '';
}

function asKey(v: CellValue): string | null {
  return missing(v) ? null : typeof v === 'string' ? v : String(v);
}

/** A numeric cell: `{ x }` (null when missing or non-finite) and whether it was present but not a number. */
function asNumber(v: CellValue): { x: number | null; bad: boolean } {
  if (missing(v)) return { x: null, bad: false };
  if (typeof v === 'number') return { x: Number.isFinite(v) ? v : null, bad: false };
  if (typeof v === 'bigint') return { x: Number(v), bad: false };
  const t = (v!).trim();
  const x = t === '' ? Number.NaN : Number(t);
  const lower = t.toLowerCase();
  const nonFinite = /^[+-]?(inf|infinity|nan)$/.test(lower);
  return { x: Number.isFinite(x) ? x : null, bad: !Number.isFinite(x) && !nonFinite };
}

/**
 * Builds a `SequenceStore` from columns in memory, with the same ordering, encoding, policy and report as
 * `ingestEvents` (and the same store for the same table).
 * @example
 * const { store } = storeFromTable({
 *   table: { entity: ['a', 'a', 'b'], time: [2, 1, 5], columns: { mcc: ['5411', '5812', '5411'], amount: [10, 250, 3] } },
 *   schema: { entity: 'client', time: { column: 'time' }, fields: [
 *     { kind: 'categorical', name: 'mcc' }, { kind: 'numeric', name: 'amount', transform: 'log' }] },
 * });
 * store.length(0); // 2 events for "a", sorted by time
 */
export function storeFromTable(options: StoreFromTableOptions): IngestResult {
  const t0 = performance.now();
  const schema = parseEventSchema(options.schema);
  const policy = parseIngestPolicy(options.policy);
  const src = options.source ?? 'in-memory events';
  const { table } = options;
  const n = table.entity.length;
  if (table.time.length !== n) throw new SiftError('E_SHAPE', `${src}: time has ${table.time.length} rows but entity has ${n}.`);
  for (const f of schema.fields) {
    const col = table.columns[fieldColumn(f)] as ArrayLike<CellValue> | undefined;
    if (col === undefined) {
      throw new SiftError('E_DATA', `${src}: missing column "${fieldColumn(f)}" (${f.kind} field "${f.name}"); it has ` +
        `columns [${Object.keys(table.columns).join(', ')}]. Fix: add it, or set the field's \`column\`.`);
    }
    if (col.length !== n) throw new SiftError('E_SHAPE', `${src}: column "${fieldColumn(f)}" has ${col.length} rows but entity has ${n}.`);
  }

  // Problem rows.
  const noEntity: number[] = [];
  const badTime: RowExample[] = [];
  let badTimeCount = 0;
  let noTimeCount = 0;
  let droppedTime = 0;
  const groups = new Map<string, number[]>();
  for (let r = 0; r < n; r++) {
    const id = asKey(table.entity[r]);
    const t = table.time[r];
    const tOk = typeof t === 'number' && Number.isFinite(t);
    if (!tOk) {
      badTimeCount++;
      if (t === null || t === undefined) noTimeCount++;
      if (badTime.length < 5) badTime.push({ row: r + 1, value: t === null || t === undefined ? null : String(t) });
    }
    if (id === null) {
      noEntity.push(r + 1);
      continue;
    }
    let g = groups.get(id);
    if (g === undefined) groups.set(id, (g = []));
    if (tOk) g.push(r);
    else droppedTime++;
  }
  if (noEntity.length > 0 && policy.missingEntity === 'fail') {
    throw new SiftError('E_DATA', `${src}: ${noEntity.length} of ${n} rows have no entity id (rows ${fmtExamples(noEntity.slice(0, 5))}). ` +
      "Fix: fill them, or set policy.missingEntity: 'drop' (counted in the report).");
  }
  if (badTimeCount > 0 && policy.invalidTime === 'fail') {
    throw new SiftError('E_DATA', `${src}: ${badTimeCount} of ${n} rows have a missing (${noTimeCount}) or non-finite time: ` +
      `${fmtRows(badTime)}. Fix: give every event a finite time, or set policy.invalidTime: 'drop' (counted in the report).`);
  }

  // Entities in store order; events of each by time, ties in row order (Array.prototype.sort is stable).
  const numeric = allIntegerIds(groups.keys());
  const cmp = entityComparator(numeric);
  const allIds = [...groups.keys()].sort(cmp);
  const emptyIds = allIds.filter((id) => groups.get(id)!.length === 0);
  if (emptyIds.length > 0 && policy.emptySequences === 'fail') {
    throw new SiftError('E_DATA', `${src}: ${emptyIds.length} entities have no events left (${fmtExamples(emptyIds.slice(0, 5))}). ` +
      "Fix: set policy.emptySequences: 'drop' (counted) or 'keep' (stored with length 0).");
  }
  const keepEmpty = policy.emptySequences === 'keep';
  let ids = allIds.filter((id) => keepEmpty || groups.get(id)!.length > 0);

  // Labels.
  let labelReport: LabelReport | null = null;
  let droppedWithoutLabels = 0;
  let labelRows: Map<string, number> | null = null;
  const labelValues: Record<string, Float64Array> = {};
  if (options.labels !== undefined) {
    const r = joinLabels(options.labels, ids, policy, cmp, groups);
    labelReport = r.report;
    labelRows = r.rows;
    droppedWithoutLabels = r.droppedEvents;
    ids = r.keep;
  }
  for (const id of ids) groups.get(id)!.sort((a, b) => (table.time[a]!) - (table.time[b]!));

  // Fit, unless given.
  let encoder = options.encoder;
  if (encoder === undefined) {
    const acc = new FitStatsAccumulator(schema);
    for (const id of ids) {
      for (const r of groups.get(id)!) {
        acc.addTime(table.time[r]!);
        for (const f of schema.fields) {
          const v = table.columns[fieldColumn(f)][r];
          if (f.kind === 'categorical') acc.addCategory(f.name, asKey(v));
          else acc.addNumber(f.name, asNumber(v).x);
        }
      }
    }
    encoder = EventEncoder.fit(schema, acc.stats());
  } else {
    const want = schema.fields.map((f) => `${f.name}:${f.kind}`).join(', ');
    const have = encoder.fields.map((f) => `${f.name}:${f.kind}`).join(', ');
    if (want !== have) throw new SiftError('E_CONFIG', `${src}: the given encoder has fields [${have}] but the schema has [${want}].`);
  }

  // Fill the arrays.
  let total = 0;
  for (const id of ids) total += groups.get(id)!.length;
  const offsets = total > INT32_OFFSET_LIMIT ? new BigInt64Array(ids.length + 1) : new Int32Array(ids.length + 1);
  const times = (options.timeDtype ?? 'float64') === 'float64' ? new Float64Array(total) : new Float32Array(total);
  const codes: Record<string, Int32Array> = {};
  const values: Record<string, Float32Array> = {};
  const fields: Record<string, FieldReport> = {};
  for (const f of schema.fields) {
    if (f.kind === 'categorical') {
      codes[f.name] = new Int32Array(total);
      fields[f.name] = { kind: 'categorical', missing: 0, oov: 0 };
    } else {
      values[f.name] = new Float32Array(total);
      fields[f.name] = { kind: 'numeric', missing: 0, unparsable: { count: 0, examples: [] } };
    }
  }
  let pos = 0;
  ids.forEach((id, e) => {
    for (const r of groups.get(id)!) {
      times[pos] = table.time[r]!;
      for (const f of schema.fields) {
        const v = table.columns[fieldColumn(f)][r];
        const rep = fields[f.name];
        if (f.kind === 'categorical') {
          const key = asKey(v);
          const code = key === null ? OOV_CODE : encoder.codeMap(f.name).get(key) ?? OOV_CODE;
          codes[f.name][pos] = code;
          if (key === null) rep.missing++;
          if (code === OOV_CODE) rep.oov = (rep.oov ?? 0) + 1;
        } else {
          const { x, bad } = asNumber(v);
          const enc = encoder.field(f.name);
          values[f.name][pos] = enc.kind === 'numeric' ? encodeNumeric(enc, x) : 0;
          if (x === null) rep.missing++;
          if (bad && rep.unparsable !== undefined) {
            rep.unparsable.count++;
            if (rep.unparsable.examples.length < 5) rep.unparsable.examples.push({ row: r + 1, value: String(v) });
          }
        }
      }
      pos++;
    }
    if (offsets instanceof BigInt64Array) offsets[e + 1] = BigInt(pos);
    else offsets[e + 1] = pos;
  });
  if (options.labels !== undefined && labelRows !== null && labelReport !== null) {
    for (const [name, col] of Object.entries(options.labels.columns)) {
      const a = new Float64Array(ids.length);
      let miss = 0;
      ids.forEach((id, e) => {
        const row = labelRows.get(id);
        const x = row === undefined ? null : asNumber(col[row]).x;
        a[e] = x ?? Number.NaN;
        if (x === null) miss++;
      });
      labelValues[name] = a;
      labelReport.missing[name] = miss;
    }
  }
  const store = new SequenceStore({ entityIds: ids, offsets, times, codes, values, labels: labelValues, encoder });
  const body: Omit<IngestReport, 'messages' | 'seconds'> = {
    source: src, rows: n, events: total, entities: ids.length,
    dropped: { invalidTime: droppedTime, missingEntity: noEntity.length, withoutLabels: droppedWithoutLabels },
    invalidTimes: { count: badTimeCount, missing: noTimeCount, examples: badTime },
    missingEntity: { count: noEntity.length, examples: noEntity.slice(0, 5) },
    emptySequences: { count: emptyIds.length, examples: emptyIds.slice(0, 5), action: keepEmpty ? 'kept' : 'dropped' },
    fields, labels: labelReport, preprocessing: {},
  };
  return { store, report: { ...body, messages: reportMessages(body), seconds: (performance.now() - t0) / 1000 } };
}

/** The label join of `storeFromTable`: which row labels each entity, and which entities stay. */
function joinLabels(labels: LabelTable, candidates: readonly string[], policy: IngestPolicy, cmp: (a: string, b: string) => number,
  groups: ReadonlyMap<string, readonly number[]>): { report: LabelReport; rows: Map<string, number>; keep: string[]; droppedEvents: number } {
  const src = 'in-memory labels';
  const names = Object.keys(labels.columns);
  if (names.length === 0) throw new SiftError('E_CONFIG', `${src}: no label columns given; name at least one.`);
  const m = labels.entity.length;
  for (const [c, col] of Object.entries(labels.columns)) {
    if (col.length !== m) throw new SiftError('E_SHAPE', `${src}: column "${c}" has ${col.length} rows but entity has ${m}.`);
  }
  const invalid: Record<string, CountExamples<RowExample>> = Object.fromEntries(names.map((c) => [c, { count: 0, examples: [] }]));
  const first = new Map<string, number>();
  const conflictIds = new Set<string>();
  let noEntity = 0;
  let dup = 0;
  for (let r = 0; r < m; r++) {
    for (const c of names) {
      const v = labels.columns[c][r];
      if (asNumber(v).bad) {
        const inv = invalid[c];
        inv.count++;
        if (inv.examples.length < 5) inv.examples.push({ row: r + 1, value: String(v) });
      }
    }
    const id = asKey(labels.entity[r]);
    if (id === null) {
      noEntity++;
      continue;
    }
    const f = first.get(id);
    if (f === undefined) {
      first.set(id, r);
      continue;
    }
    dup++;
    for (const c of names) {
      const a = asNumber(labels.columns[c][f]).x;
      const b = asNumber(labels.columns[c][r]).x;
      if (a !== b) conflictIds.add(id);
    }
  }
  for (const c of names) {
    const inv = invalid[c];
    if (inv.count > 0 && policy.invalidLabel === 'fail') {
      throw new SiftError('E_DATA', `${src}: label column "${c}" has ${inv.count} values that are not numbers ` +
        `(${fmtRows(inv.examples)}). Fix: encode them as numbers, or set policy.invalidLabel: 'missing'.`);
    }
  }
  const conflicting = [...conflictIds].sort(cmp);
  if (conflicting.length > 0 && policy.conflictingLabels === 'fail') {
    throw new SiftError('E_DATA', `${src}: ${conflicting.length} entities have several label rows that disagree ` +
      `(${fmtExamples(conflicting.slice(0, 5))}). Fix: keep one row per entity, or set policy.conflictingLabels: 'first'.`);
  }
  const cand = new Set(candidates);
  const withoutEvents = [...first.keys()].filter((id) => !cand.has(id)).sort(cmp);
  if (withoutEvents.length > 0 && policy.labelsWithoutEvents === 'fail') {
    throw new SiftError('E_DATA', `${src}: ${withoutEvents.length} labelled entities have no events ` +
      `(${fmtExamples(withoutEvents.slice(0, 5))}). Fix: check both tables use the same ids, or set policy.labelsWithoutEvents: 'drop'.`);
  }
  const unlabelled = candidates.filter((id) => !first.has(id));
  if (unlabelled.length > 0 && policy.eventsWithoutLabels === 'fail') {
    throw new SiftError('E_DATA', `${src}: ${unlabelled.length} entities with events have no label row ` +
      `(${fmtExamples(unlabelled.slice(0, 5))}). Fix: add their labels, or set policy.eventsWithoutLabels: 'keep' or 'drop'.`);
  }
  const drop = policy.eventsWithoutLabels === 'drop';
  let droppedEvents = 0;
  if (drop) for (const id of unlabelled) droppedEvents += groups.get(id)?.length ?? 0;
  return {
    report: {
      source: src, rows: m, entities: first.size, missingEntity: noEntity, duplicateRows: dup,
      conflicting: { count: conflicting.length, examples: conflicting.slice(0, 5) }, invalid,
      withoutEvents: { count: withoutEvents.length, examples: withoutEvents.slice(0, 5) },
      eventsWithoutLabels: { count: unlabelled.length, examples: unlabelled.slice(0, 5), action: drop ? 'dropped' : 'kept' },
      missing: {},
    },
    rows: first,
    keep: drop ? candidates.filter((id) => first.has(id)) : [...candidates],
    droppedEvents,
  };
}
