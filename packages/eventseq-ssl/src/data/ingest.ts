/**
 * Ingestion of flat event tables (one row per event: entity id, time, fields) from CSV or Parquet into a
 * `SequenceStore`. DuckDB does the reading, grouping and sorting, out of core: the events are loaded into a DuckDB
 * table (which spills to disk beyond `memoryLimit`), checked, counted and sorted there, and the sorted result is
 * streamed chunk by chunk straight into preallocated typed arrays. No JavaScript array of row objects is ever built.
 */
import { SiftError } from '@sift/tensor-core';
import type { DuckDBDataChunk, JS } from '@duckdb/node-api';
import { Db, ident, lit, num, str, type DuckDbOptions } from './duckdb.js';
import {
  EventEncoder, fitVocabulary, NumericColumnWriter, OOV_CODE, type CategoricalFieldStats, type EncoderFitStats,
} from './encoder.js';
import { entityOrderSql, INTEGER_ID_PATTERN } from './entity-order.js';
import {
  fmtExamples, fmtRows, parseIngestPolicy, reportMessages, type CountExamples, type FieldReport, type IngestPolicy,
  type IngestProgress, type IngestReport, type LabelReport, type RowExample,
} from './report.js';
import { fieldColumn, parseEventSchema, type EventSchema, type TimeFormat } from './schema.js';
import { INT32_OFFSET_LIMIT, SequenceStore } from './store.js';

/** A CSV or Parquet table on disk. */
export interface TableSource {
  /** A file, a glob (`data/part_*.parquet`), or a list of them. */
  path: string | readonly string[];
  /** Default: `parquet` for `.parquet`/`.pq` paths, else `csv`. */
  format?: 'csv' | 'parquet';
  /** CSV delimiter. Default: detected by DuckDB. */
  delimiter?: string;
  /** CSV: whether the first line holds column names. Default true. */
  header?: boolean;
}

/** A label table: one row per entity (repeats must agree), entity id -> numeric label columns. */
export interface LabelSource extends TableSource {
  /** The entity id column of the label table. */
  entity: string;
  /** Label columns; each is read as a number. */
  columns: readonly string[];
}

/** Options of `ingestEvents`. */
export interface IngestOptions extends DuckDbOptions {
  events: TableSource;
  schema: EventSchema;
  labels?: LabelSource;
  /** A fitted encoder to apply (inference, or a test split). Default: fit one on these events. */
  encoder?: EventEncoder;
  /** What to do with problem rows; see `INGEST_POLICY_DEFAULTS`. */
  policy?: Partial<IngestPolicy>;
  /** Storage of raw times. Default `float64` (float32 loses seconds beyond ~2^24 s ≈ 194 days of epoch offset). */
  timeDtype?: 'float64' | 'float32';
  onProgress?: (p: IngestProgress) => void;
}

/** What `ingestEvents` and the dataset loaders return. */
export interface IngestResult {
  store: SequenceStore;
  report: IngestReport;
}

/** Defaults of `IngestOptions` besides the policy (`INGEST_POLICY_DEFAULTS`). */
export const INGEST_DEFAULTS: Readonly<{ timeDtype: 'float64' | 'float32' }> = { timeDtype: 'float64' };

/** A relation usable after `FROM` (a table function call or a table name), with words for messages. */
export interface Relation {
  sql: string;
  describe: string;
}

/** The internal form of an ingestion, shared by `ingestEvents` and the dataset loaders. */
export interface IngestPlan {
  events: Relation;
  schema: EventSchema;
  labels?: { relation: Relation; entity: string; columns: readonly string[] };
  encoder?: EventEncoder;
  policy?: Partial<IngestPolicy>;
  timeDtype?: 'float64' | 'float32';
  onProgress?: (p: IngestProgress) => void;
  /** Runs first, on the same database (a loader's reshaping); returns its own counts for `report.preprocessing`. */
  prepare?: (db: Db) => Promise<Record<string, number>>;
  /** A query of one VARCHAR column: entities known to exist even without event rows (they count as empty sequences). */
  knownEntities?: string;
}

const NUMERIC_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/i;
const TEMPORAL_TYPE = /^(DATE|TIMESTAMP.*)$/i;

/** The relation of a file source: `read_csv(...)` with every column as text (we parse), or `read_parquet(...)`. */
export function relationOf(source: TableSource, role: string): Relation {
  const paths = typeof source.path === 'string' ? [source.path] : [...source.path];
  if (paths.length === 0 || paths.some((p) => typeof p !== 'string' || p === '')) {
    throw new SiftError('E_CONFIG', `${role}: path must be a non-empty string or list of strings, got ${JSON.stringify(source.path)}.`);
  }
  const format: string = source.format ?? (/\.(parquet|pq)$/i.test(paths[0] ?? '') ? 'parquet' : 'csv');
  const list = `[${paths.map(lit).join(', ')}]`;
  const what = `${role} ${paths.length === 1 && !/[*?[]/.test(paths[0]) ? 'file' : 'files'} ${paths.map((p) => `"${p}"`).join(', ')}`;
  if (format === 'parquet') return { sql: `read_parquet(${list})`, describe: what };
  if (format !== 'csv') throw new SiftError('E_CONFIG', `${role}: format "${format}" is not "csv" or "parquet".`);
  const opts = [`all_varchar = true`, `header = ${source.header ?? true}`];
  if (source.delimiter !== undefined) opts.push(`delim = ${lit(source.delimiter)}`);
  return { sql: `read_csv(${list}, ${opts.join(', ')})`, describe: what };
}

/**
 * Reads a flat event table (CSV or Parquet) into a `SequenceStore`: one sequence per entity, sorted by time with ties
 * kept in file order; optional labels joined from a second table. Fits the encoder on these events unless one is
 * given. Every problem (missing columns, unparsable times, empty sequences, labels without events and events without
 * labels) is counted in the report; `policy` decides whether it drops or fails.
 *
 * @example
 * const { store, report } = await ingestEvents({
 *   events: { path: 'data/transactions_train.csv' },
 *   schema: {
 *     entity: 'client_id', time: { column: 'trans_date', format: 'number' },
 *     fields: [{ kind: 'categorical', name: 'small_group' }, { kind: 'numeric', name: 'amount_rur', transform: 'log' }],
 *   },
 *   labels: { path: 'data/train_target.csv', entity: 'client_id', columns: ['bins'] },
 * });
 * console.log(report.messages.join('\n'));
 * @throws SiftError `E_IO` for a missing file; `E_DATA` for a missing column (naming the file, the column and the
 *   columns present) or a problem the policy says to fail on; `E_CONFIG` for a bad option.
 */
export async function ingestEvents(options: IngestOptions): Promise<IngestResult> {
  const plan: IngestPlan = {
    events: relationOf(options.events, 'events'),
    schema: options.schema,
  };
  if (options.labels !== undefined) {
    plan.labels = { relation: relationOf(options.labels, 'labels'), entity: options.labels.entity, columns: options.labels.columns };
  }
  if (options.encoder !== undefined) plan.encoder = options.encoder;
  if (options.policy !== undefined) plan.policy = options.policy;
  if (options.timeDtype !== undefined) plan.timeDtype = options.timeDtype;
  if (options.onProgress !== undefined) plan.onProgress = options.onProgress;
  return runIngest(plan, options);
}

/** Checks that `relation` has every needed column; throws `E_DATA` naming the source, the missing ones and those present. */
export async function requireColumns(db: Db, relation: Relation, needed: readonly { column: string; role: string }[]): Promise<Map<string, string>> {
  const cols = await db.describe(relation.sql, `reading ${relation.describe}`);
  const types = new Map(cols.map((c) => [c.name, c.type]));
  const missing = needed.filter((n) => !types.has(n.column));
  if (missing.length > 0) {
    const list = missing.map((m) => `"${m.column}" (${m.role})`).join(', ');
    throw new SiftError('E_DATA', `${relation.describe}: missing column${missing.length > 1 ? 's' : ''} ${list}; it has ` +
      `columns [${cols.map((c) => c.name).join(', ')}]. Fix: rename the column in the file, or point the schema at an ` +
      'existing column (a field\'s `column`, `time.column`, `entity`, or the label `columns`).');
  }
  return types;
}

function finite(x: string): string {
  return `(CASE WHEN isfinite(${x}) THEN ${x} END)`;
}

/** SQL for the parsed time (DOUBLE, NULL when missing or unparsable) of a column of DuckDB type `type`. */
export function timeSql(col: string, type: string, format: TimeFormat): string {
  const c = ident(col);
  const text = `CAST(${c} AS VARCHAR)`;
  if (NUMERIC_TYPE.test(type) && (format === 'auto' || format === 'number')) return finite(`CAST(${c} AS DOUBLE)`);
  if (TEMPORAL_TYPE.test(type) && (format === 'auto' || format === 'timestamp')) return `CAST(epoch(${c}) AS DOUBLE)`;
  switch (format) {
    case 'number': return finite(`TRY_CAST(${text} AS DOUBLE)`);
    case 'timestamp': return `CAST(epoch(TRY_CAST(${text} AS TIMESTAMP)) AS DOUBLE)`;
    case 'auto': return `coalesce(${finite(`TRY_CAST(${text} AS DOUBLE)`)}, CAST(epoch(TRY_CAST(${text} AS TIMESTAMP)) AS DOUBLE))`;
    default: return `CAST(epoch(try_strptime(${text}, ${lit(format)})) AS DOUBLE)`;
  }
}

function describeFormat(format: TimeFormat): string {
  return format === 'auto' ? 'a number or a timestamp' : format === 'number' ? 'a number' : format === 'timestamp' ? 'a timestamp' : `format "${format}"`;
}

/** One count query's first row. */
async function one(db: Db, sql: string, what: string): Promise<JS[]> {
  return (await db.rows(sql, what))[0] ?? [];
}

async function rowExamples(db: Db, table: string, where: string, valueCol: string, what: string): Promise<RowExample[]> {
  const rows = await db.rows(`SELECT rowid + 1, ${valueCol} FROM ${table} WHERE ${where} ORDER BY rowid LIMIT 5`, what);
  return rows.map((r) => ({ row: num(r[0]), value: r[1] === null ? null : str(r[1]) }));
}

/** Runs an ingestion plan on a fresh DuckDB database. */
export async function runIngest(plan: IngestPlan, dbOptions: DuckDbOptions = {}): Promise<IngestResult> {
  const t0 = performance.now();
  const schema = parseEventSchema(plan.schema);
  const policy = parseIngestPolicy(plan.policy);
  const timeDtype = plan.timeDtype ?? INGEST_DEFAULTS.timeDtype;
  if ((timeDtype as string) !== 'float64' && (timeDtype as string) !== 'float32') {
    throw new SiftError('E_CONFIG', `ingest: timeDtype "${timeDtype}" is not "float64" or "float32".`);
  }
  if (plan.encoder !== undefined) checkEncoderMatches(plan.encoder, schema);
  const progress = plan.onProgress ?? ((): void => undefined);
  const src = plan.events.describe;
  const db = await Db.open(dbOptions);
  try {
    const preprocessing = plan.prepare === undefined ? {} : await plan.prepare(db);
    progress({ stage: 'read', done: 0, total: 0 });
    // 1. Load the events into a DuckDB table: ids and categories as text, times and numbers parsed (NULL when not).
    const types = await requireColumns(db, plan.events, [
      { column: schema.entity, role: 'entity id' },
      { column: schema.time.column, role: 'time' },
      ...schema.fields.map((f) => ({ column: fieldColumn(f), role: `${f.kind} field "${f.name}"` })),
    ]);
    const tcol = schema.time.column;
    const tSql = timeSql(tcol, types.get(tcol) ?? 'VARCHAR', schema.time.format ?? 'auto');
    // Raw text is kept only where parsing failed (for the report's examples), so the table stays compact.
    const select = [
      `CAST(${ident(schema.entity)} AS VARCHAR) AS __e`,
      `${tSql} AS __t`,
      `CASE WHEN ${tSql} IS NULL THEN CAST(${ident(tcol)} AS VARCHAR) END AS __traw`,
    ];
    schema.fields.forEach((f, i) => {
      const c = ident(fieldColumn(f));
      if (f.kind === 'categorical') {
        select.push(`CAST(${c} AS VARCHAR) AS __c${i}`);
      } else if (NUMERIC_TYPE.test(types.get(fieldColumn(f)) ?? '')) {
        select.push(`${finite(`CAST(${c} AS DOUBLE)`)} AS __n${i}`, `NULL::VARCHAR AS __r${i}`);
      } else {
        const parsed = `TRY_CAST(CAST(${c} AS VARCHAR) AS DOUBLE)`;
        select.push(`${finite(parsed)} AS __n${i}`, `CASE WHEN ${c} IS NOT NULL AND ${parsed} IS NULL THEN CAST(${c} AS VARCHAR) END AS __r${i}`);
      }
    });
    // CREATE TABLE AS keeps the scan order (DuckDB preserves insertion order), so rowid is the row's place in the
    // file(s): the stable tie-break for equal times.
    await db.run(`CREATE TABLE __ev AS SELECT ${select.join(', ')} FROM ${plan.events.sql}`, `reading ${src}`);

    // 2. Count problems.
    progress({ stage: 'check', done: 0, total: 0 });
    const [rowsV, noEntV, badTimeV, noTimeV, droppedTimeV] = await one(db,
      'SELECT count(*), count(*) FILTER (__e IS NULL), count(*) FILTER (__t IS NULL), ' +
      'count(*) FILTER (__t IS NULL AND __traw IS NULL), count(*) FILTER (__t IS NULL AND __e IS NOT NULL) FROM __ev', `counting ${src}`);
    const rows = num(rowsV);
    const missingEntity: CountExamples<number> = {
      count: num(noEntV),
      examples: (await db.rows('SELECT rowid + 1 FROM __ev WHERE __e IS NULL ORDER BY rowid LIMIT 5', src)).map((r) => num(r[0])),
    };
    const invalidTimes = {
      count: num(badTimeV), missing: num(noTimeV),
      examples: await rowExamples(db, '__ev', '__t IS NULL', '__traw', src),
    };
    if (missingEntity.count > 0 && policy.missingEntity === 'fail') {
      throw new SiftError('E_DATA', `${src}: ${missingEntity.count} of ${rows} rows have no entity id in column ` +
        `"${schema.entity}" (rows ${fmtExamples(missingEntity.examples)}). Fix: remove or fill them, or set ` +
        "policy.missingEntity: 'drop' to skip them (they are counted in the report).");
    }
    if (invalidTimes.count > 0 && policy.invalidTime === 'fail') {
      throw new SiftError('E_DATA', `${src}: ${invalidTimes.count} of ${rows} rows have a time in column "${tcol}" that is ` +
        `missing (${invalidTimes.missing}) or cannot be read as ${describeFormat(schema.time.format ?? 'auto')}: ` +
        `${fmtRows(invalidTimes.examples)}. Fix: set schema.time.format to this column's format (a strptime pattern such ` +
        "as '%d%b%y:%H:%M:%S'), or set policy.invalidTime: 'drop' to skip these rows (they are counted in the report).");
    }

    // 3. Entities: every id seen (plus known ones), with its number of usable events.
    await db.run('CREATE TABLE __ent AS SELECT __e, count(__t) AS n FROM __ev WHERE __e IS NOT NULL GROUP BY __e', 'grouping entities');
    if (plan.knownEntities !== undefined) {
      await db.run(`INSERT INTO __ent SELECT k, 0 FROM (${plan.knownEntities}) AS known(k) ` +
        'WHERE k IS NOT NULL AND k NOT IN (SELECT __e FROM __ent)', 'adding known entities');
    }
    const numericIds = (await one(db, `SELECT coalesce(bool_and(regexp_full_match(__e, ${lit(INTEGER_ID_PATTERN)})), false) FROM __ent`,
      'checking entity ids'))[0] === true;
    const order = (alias: string): string => entityOrderSql(`${alias}__e`, numericIds);
    const empty = {
      count: num((await one(db, 'SELECT count(*) FROM __ent WHERE n = 0', 'counting empty sequences'))[0]),
      examples: (await db.rows(`SELECT __e FROM __ent WHERE n = 0 ORDER BY ${order('')} LIMIT 5`, 'empty sequences')).map((r) => str(r[0])),
    };
    if (empty.count > 0 && policy.emptySequences === 'fail') {
      throw new SiftError('E_DATA', `${src}: ${empty.count} entities have no events left (${fmtExamples(empty.examples)}): ` +
        'every row of theirs had an invalid time, or they are known entities without rows. Fix: set ' +
        "policy.emptySequences: 'drop' (counted) or 'keep' (stored with length 0).");
    }
    const keepEmpty = policy.emptySequences === 'keep';
    await db.run(`CREATE TABLE __cand AS SELECT __e, n FROM __ent WHERE n > 0 ${keepEmpty ? 'OR n = 0' : ''}`, 'selecting entities');

    // 4. Labels.
    let labels: LabelReport | null = null;
    let droppedWithoutLabels = 0;
    if (plan.labels !== undefined) {
      const r = await readLabels(db, plan.labels, policy, order);
      labels = r.report;
      droppedWithoutLabels = r.droppedEvents;
      progress({ stage: 'labels', done: labels.rows, total: labels.rows });
    } else {
      await db.run('CREATE TABLE __keep AS SELECT __e, n FROM __cand', 'selecting entities');
    }
    // Entities in store order get an integer rank __k, so the big sort compares integers rather than ids.
    await db.run(`CREATE TABLE __order AS SELECT __e, n, CAST(row_number() OVER (ORDER BY ${order('')}) AS INTEGER) AS __k ` +
      'FROM __keep', 'ordering entities');
    await db.run('CREATE VIEW __fin AS SELECT ev.rowid AS __row, o.__k, ev.* FROM __ev ev JOIN __order o ON o.__e = ev.__e ' +
      'WHERE ev.__t IS NOT NULL', 'selecting events');

    // 5. Vocabularies: from the given encoder, or fitted on the stored events (counts by DuckDB, then `fitVocabulary`,
    //    as `EventEncoder.fit` does). Numeric statistics are fitted while streaming (step 7).
    const catStats: Record<string, CategoricalFieldStats> = {};
    let timeStats = { min: 0, max: 1, count: 0 };
    if (plan.encoder === undefined) {
      progress({ stage: 'fit', done: 0, total: schema.fields.length });
      for (const [i, f] of schema.fields.entries()) {
        if (f.kind !== 'categorical') continue;
        const rows = await db.rows(`SELECT __c${i}, count(*) FROM __fin GROUP BY __c${i}`, `counting categories of "${f.name}"`);
        const counts = new Map<string, number>();
        let missing = 0;
        for (const [k, c] of rows) {
          if (k === null) missing += num(c);
          else counts.set(str(k), num(c));
        }
        catStats[f.name] = { kind: 'categorical', counts, missing };
      }
      const r = await one(db, 'SELECT min(__t), max(__t), count(*) FROM __fin', 'fitting the time range');
      timeStats = { min: num(r[0]), max: num(r[1]), count: num(r[2]) };
    }
    const given = plan.encoder;
    for (const [i, f] of schema.fields.entries()) {
      if (f.kind !== 'categorical') continue;
      const enc = given === undefined ? fitVocabulary(f, catStats[f.name]) : given.field(f.name);
      if (enc.kind === 'categorical') await db.vocabTable(`__v${i}`, enc.vocab);
    }

    // 6. Entities in store order, and offsets.
    const entRows = await db.rows('SELECT __e, n FROM __order ORDER BY __k', 'ordering entities');
    const entityIds = entRows.map((r) => str(r[0]));
    let total = 0;
    for (const r of entRows) total += num(r[1]);
    const offsets = total > INT32_OFFSET_LIMIT ? new BigInt64Array(entRows.length + 1) : new Int32Array(entRows.length + 1);
    let acc = 0;
    entRows.forEach((r, i) => {
      acc += num(r[1]);
      if (offsets instanceof BigInt64Array) offsets[i + 1] = BigInt(acc);
      else offsets[i + 1] = acc;
    });

    // 7. Stream the sorted events: codes (joined in DuckDB) and numbers (written by `NumericColumnWriter`, which fits
    //    their statistics in store order when there is no encoder) into typed arrays.
    const times = timeDtype === 'float64' ? new Float64Array(total) : new Float32Array(total);
    const codes: Record<string, Int32Array> = {};
    const writers = new Map<string, NumericColumnWriter>();
    const cols = ['f.__t'];
    const joins: string[] = [];
    const sinks: ((chunk: DuckDBDataChunk, col: number, pos: number) => void)[] = [];
    const fields: Record<string, FieldReport> = {};
    schema.fields.forEach((f, i) => {
      if (f.kind === 'categorical') {
        const out = (codes[f.name] = new Int32Array(total));
        const rep: FieldReport = (fields[f.name] = { kind: 'categorical', missing: 0, oov: 0 });
        cols.push(`coalesce(v${i}.code, ${OOV_CODE})`);
        joins.push(`LEFT JOIN __v${i} v${i} ON v${i}.k = f.__c${i}`);
        sinks.push((chunk, col, pos) => {
          const v = chunk.getColumnVector(col);
          let oov = 0;
          for (let r = 0; r < chunk.rowCount; r++) {
            const c = v.getItem(r) as number;
            out[pos + r] = c;
            if (c === OOV_CODE) oov++;
          }
          rep.oov = (rep.oov ?? 0) + oov;
        });
      } else {
        const fitted = given?.field(f.name);
        const writer = new NumericColumnWriter(total, { name: f.name, transform: f.transform ?? 'none', fill: f.fill ?? 0 },
          fitted?.kind === 'numeric' ? fitted : undefined);
        writers.set(f.name, writer);
        const rep: FieldReport = (fields[f.name] = { kind: 'numeric', missing: 0 });
        cols.push(`f.__n${i}`);
        sinks.push((chunk, col) => {
          const v = chunk.getColumnVector(col);
          let missing = 0;
          for (let r = 0; r < chunk.rowCount; r++) {
            const x = v.getItem(r) as number | null;
            if (x === null) missing++;
            writer.push(x);
          }
          rep.missing += missing;
        });
      }
    });
    let pos = 0;
    let chunks = 0;
    progress({ stage: 'encode', done: 0, total });
    await db.stream(`SELECT ${cols.join(', ')} FROM __fin f ${joins.join(' ')} ORDER BY f.__k, f.__t, f.__row`,
      'sorting and encoding events', (chunk) => {
        const tv = chunk.getColumnVector(0);
        for (let r = 0; r < chunk.rowCount; r++) times[pos + r] = tv.getItem(r) as number;
        sinks.forEach((sink, k) => { sink(chunk, k + 1, pos); });
        pos += chunk.rowCount;
        if (++chunks % 64 === 0) progress({ stage: 'encode', done: pos, total });
      });
    if (pos !== total) {
      throw new SiftError('E_DATA', `ingest: internal mismatch, streamed ${pos} events but counted ${total}. Please report this.`);
    }
    let encoder = given;
    if (encoder === undefined) {
      const stats: EncoderFitStats = { fields: { ...catStats }, time: timeStats };
      for (const [name, w] of writers) stats.fields[name] = w.fitStats();
      encoder = EventEncoder.fit(schema, stats);
    }
    const values: Record<string, Float32Array> = {};
    for (const [name, w] of writers) values[name] = w.finish(encoder.field(name));
    // Missing categorical values and unparsable numbers, over the stored events.
    for (const [i, f] of schema.fields.entries()) {
      const rep = fields[f.name];
      if (f.kind === 'categorical') {
        rep.missing = num((await one(db, `SELECT count(*) FILTER (__c${i} IS NULL) FROM __fin`, `field ${f.name}`))[0]);
      } else {
        const c = num((await one(db, `SELECT count(__r${i}) FROM __fin`, `field ${f.name}`))[0]);
        const examples = c > 0 ? await rowExamples(db, '__ev', `__r${i} IS NOT NULL AND __t IS NOT NULL AND __e IN (SELECT __e FROM __order)`, `__r${i}`, f.name) : [];
        rep.unparsable = { count: c, examples };
      }
    }

    // 8. Labels in store order.
    const labelArrays: Record<string, Float64Array> = {};
    if (plan.labels !== undefined && labels !== null) {
      const names = plan.labels.columns;
      const sel = names.map((_, i) => `l.__l${i}`).join(', ');
      const lr = await db.rows(`SELECT ${sel} FROM __order k LEFT JOIN __lab l ON l.__e = k.__e ORDER BY k.__k`, 'joining labels');
      names.forEach((name, i) => {
        const a = new Float64Array(lr.length);
        let missing = 0;
        lr.forEach((row, e) => {
          a[e] = num(row[i]);
          if (Number.isNaN(a[e])) missing++;
        });
        labelArrays[name] = a;
        labels.missing[name] = missing;
      });
    }

    const store = new SequenceStore({ entityIds, offsets, times, codes, values, labels: labelArrays, encoder });
    const body: Omit<IngestReport, 'messages' | 'seconds'> = {
      source: src, rows, events: total, entities: entityIds.length,
      dropped: { invalidTime: num(droppedTimeV), missingEntity: missingEntity.count, withoutLabels: droppedWithoutLabels },
      invalidTimes, missingEntity,
      emptySequences: { ...empty, action: keepEmpty ? 'kept' : 'dropped' },
      fields, labels, preprocessing,
    };
    progress({ stage: 'done', done: total, total });
    return { store, report: { ...body, messages: reportMessages(body), seconds: (performance.now() - t0) / 1000 } };
  } finally {
    await db.close();
  }
}

/** Throws `E_CONFIG` unless the encoder's fields are the schema's (same names and kinds). */
function checkEncoderMatches(encoder: EventEncoder, schema: EventSchema): void {
  const want = schema.fields.map((f) => `${f.name}:${f.kind}`).join(', ');
  const have = encoder.fields.map((f) => `${f.name}:${f.kind}`).join(', ');
  if (want !== have) {
    throw new SiftError('E_CONFIG', `ingest: the given encoder has fields [${have}] but the schema has [${want}]. ` +
      'Use the schema the encoder was fitted with.');
  }
}

/** Loads, checks and aggregates the label table into `__lab`, then fixes the stored entity set `__keep`. */
async function readLabels(db: Db, spec: NonNullable<IngestPlan['labels']>, policy: IngestPolicy,
  order: (alias: string) => string): Promise<{ report: LabelReport; droppedEvents: number }> {
  const rel = spec.relation;
  const src = rel.describe;
  if (spec.columns.length === 0) throw new SiftError('E_CONFIG', `${src}: no label columns given; name at least one.`);
  await requireColumns(db, rel, [
    { column: spec.entity, role: 'entity id' },
    ...spec.columns.map((c) => ({ column: c, role: 'label' })),
  ]);
  const sel = [`CAST(${ident(spec.entity)} AS VARCHAR) AS __e`];
  spec.columns.forEach((c, i) => {
    const text = `CAST(${ident(c)} AS VARCHAR)`;
    sel.push(`${text} AS __lr${i}`, `${finite(`TRY_CAST(${text} AS DOUBLE)`)} AS __l${i}`);
  });
  await db.run(`CREATE TABLE __labraw AS SELECT ${sel.join(', ')} FROM ${rel.sql}`, `reading ${src}`);
  const [rowsV, noEntV] = await one(db, 'SELECT count(*), count(*) FILTER (__e IS NULL) FROM __labraw', src);
  const invalid: Record<string, CountExamples<RowExample>> = {};
  for (const [i, c] of spec.columns.entries()) {
    const cond = `__lr${i} IS NOT NULL AND __l${i} IS NULL`;
    const count = num((await one(db, `SELECT count(*) FILTER (${cond}) FROM __labraw`, src))[0]);
    invalid[c] = { count, examples: count > 0 ? await rowExamples(db, '__labraw', cond, `__lr${i}`, src) : [] };
    if (count > 0 && policy.invalidLabel === 'fail') {
      throw new SiftError('E_DATA', `${src}: label column "${c}" has ${count} values that are not numbers ` +
        `(${fmtRows(invalid[c].examples)}). Fix: encode the labels as numbers, or set policy.invalidLabel: 'missing' ` +
        'to store NaN for them (counted in the report).');
    }
  }
  const firsts = spec.columns.map((_, i) => `first(__l${i} ORDER BY __row) AS __l${i}`).join(', ');
  const conflict = spec.columns.map((_, i) => `count(DISTINCT __l${i}) > 1 OR (count(__l${i}) > 0 AND count(__l${i}) < count(*))`).join(' OR ');
  await db.run(`CREATE TABLE __lab AS SELECT __e, ${firsts}, count(*) AS __rows, (${conflict}) AS __conflict ` +
    'FROM (SELECT rowid AS __row, * FROM __labraw) WHERE __e IS NOT NULL GROUP BY __e', `grouping ${src}`);
  const [entV, dupV, confV] = await one(db, 'SELECT count(*), coalesce(sum(__rows - 1), 0), count(*) FILTER (__conflict) FROM __lab', src);
  const conflicting: CountExamples = {
    count: num(confV),
    examples: (await db.rows(`SELECT __e FROM __lab WHERE __conflict ORDER BY ${order('')} LIMIT 5`, src)).map((r) => str(r[0])),
  };
  if (conflicting.count > 0 && policy.conflictingLabels === 'fail') {
    throw new SiftError('E_DATA', `${src}: ${conflicting.count} entities have several label rows that disagree ` +
      `(${fmtExamples(conflicting.examples)}). Fix: keep one row per entity, or set policy.conflictingLabels: 'first' ` +
      'to use the first row of each (counted in the report).');
  }
  const noEvents = 'NOT EXISTS (SELECT 1 FROM __cand c WHERE c.__e = l.__e)';
  const withoutEvents: CountExamples = {
    count: num((await one(db, `SELECT count(*) FROM __lab l WHERE ${noEvents}`, src))[0]),
    examples: (await db.rows(`SELECT l.__e FROM __lab l WHERE ${noEvents} ORDER BY ${order('l.')} LIMIT 5`, src)).map((r) => str(r[0])),
  };
  if (withoutEvents.count > 0 && policy.labelsWithoutEvents === 'fail') {
    throw new SiftError('E_DATA', `${src}: ${withoutEvents.count} labelled entities have no events ` +
      `(${fmtExamples(withoutEvents.examples)}). Fix: check that the label and event files cover the same entities ` +
      `(same id column, same id format), or set policy.labelsWithoutEvents: 'drop' (counted in the report).`);
  }
  const noLabel = 'NOT EXISTS (SELECT 1 FROM __lab l WHERE l.__e = c.__e)';
  const [nlV, nlEventsV] = await one(db, `SELECT count(*), coalesce(sum(n), 0) FROM __cand c WHERE ${noLabel}`, src);
  const eventsWithoutLabels = {
    count: num(nlV),
    examples: (await db.rows(`SELECT c.__e FROM __cand c WHERE ${noLabel} ORDER BY ${order('c.')} LIMIT 5`, src)).map((r) => str(r[0])),
    action: policy.eventsWithoutLabels === 'drop' ? 'dropped' as const : 'kept' as const,
  };
  if (eventsWithoutLabels.count > 0 && policy.eventsWithoutLabels === 'fail') {
    throw new SiftError('E_DATA', `${src}: ${eventsWithoutLabels.count} entities with events have no label row ` +
      `(${fmtExamples(eventsWithoutLabels.examples)}). Fix: add their labels, or set policy.eventsWithoutLabels: ` +
      "'keep' (NaN labels) or 'drop' (counted in the report).");
  }
  const drop = policy.eventsWithoutLabels === 'drop';
  await db.run(`CREATE TABLE __keep AS SELECT __e, n FROM __cand c ${drop ? `WHERE NOT (${noLabel})` : ''}`, 'selecting entities');
  return {
    report: {
      source: src, rows: num(rowsV), entities: num(entV), missingEntity: num(noEntV), duplicateRows: num(dupV),
      conflicting, invalid, withoutEvents, eventsWithoutLabels, missing: {},
    },
    droppedEvents: drop ? num(nlEventsV) : 0,
  };
}
