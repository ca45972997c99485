/**
 * PhysioNet/CinC Challenge 2012 (ICU mortality; MLEM "PhysioNet"). Layout of the challenge's training set A:
 * - `set-a/<RecordID>.txt`, one file per ICU stay, a CSV `Time,Parameter,Value` with `HH:MM` times since admission
 *   (hours may exceed 24, e.g. `35:19`); the general descriptors RecordID, Age, Gender, Height, ICUType and Weight
 *   come first at `00:00`, with −1 meaning unknown; then time-series measurements (physionet.org/content/challenge-2012);
 * - `Outcomes-a.txt`: `RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death`.
 *
 * The long format is pivoted in DuckDB into one event per (stay, time) with the 37 time-series variables as fields,
 * as MLEM does (3 categorical: Gender, ICUType, MechVent; 38 numeric: the other 35 series, Weight, Age, Height).
 * Static descriptors are repeated on every event of the stay. Several values of one variable at one time are averaged
 * (counted in `report.preprocessing.mergedMeasurements`); unknown parameters and unparsable values are counted too.
 */
import { ident, lit, num, type Db } from '../duckdb.js';
import { relationOf, requireColumns, runIngest, type IngestResult } from '../ingest.js';
import type { EventSchema, FieldSpec } from '../schema.js';
import { dbOptions, requireFile, withCommon, type DatasetLoadOptions } from './common.js';

/** Time-series variables of the challenge besides MechVent (Weight is both a descriptor and a series). */
export const PHYSIONET_SERIES: readonly string[] = [
  'Albumin', 'ALP', 'ALT', 'AST', 'Bilirubin', 'BUN', 'Cholesterol', 'Creatinine', 'DiasABP', 'FiO2', 'GCS', 'Glucose',
  'HCO3', 'HCT', 'HR', 'K', 'Lactate', 'Mg', 'MAP', 'Na', 'NIDiasABP', 'NIMAP', 'NISysABP', 'PaCO2', 'PaO2', 'pH',
  'Platelets', 'RespRate', 'SaO2', 'SysABP', 'Temp', 'TroponinI', 'TroponinT', 'Urine', 'WBC', 'Weight',
];
const STATIC_NUMERIC = ['Age', 'Height'];
const STATIC_CATEGORICAL = ['Gender', 'ICUType'];
const DESCRIPTORS = ['RecordID', 'Age', 'Gender', 'Height', 'ICUType', 'Weight'];

/** The PhysioNet 2012 schema: times in minutes since admission; numbers standardised, missing = 0 (MLEM's convention). */
export const PHYSIONET_2012_SCHEMA: EventSchema = {
  entity: 'RecordID',
  time: { column: 'minutes', format: 'number' },
  fields: [
    ...[...STATIC_CATEGORICAL, 'MechVent'].map((name): FieldSpec => ({ kind: 'categorical', name })),
    ...[...PHYSIONET_SERIES, ...STATIC_NUMERIC].map((name): FieldSpec => ({ kind: 'numeric', name, transform: 'standardize', fill: 0 })),
  ],
};

const LAYOUT = 'set-a/<RecordID>.txt files (Time,Parameter,Value with HH:MM times) and Outcomes-a.txt ' +
  '(RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death)';

/**
 * Loads PhysioNet 2012 set A (or another set with `set: 'b'`); labels default to `In-hospital_death`.
 * @example
 * const { store, report } = await loadPhysioNet2012({ dir: 'data/physionet' });
 * report.emptySequences; // stays with descriptors only
 */
export async function loadPhysioNet2012(options: DatasetLoadOptions & { set?: string; labels?: readonly string[] }): Promise<IngestResult> {
  const path = await import('node:path'); // Node only: loaded on call, so the package bundles for browsers
  const set = options.set ?? 'a';
  const folder = path.join(options.dir, `set-${set}`);
  const outcomes = path.join(options.dir, `Outcomes-${set}.txt`);
  await requireFile(folder, 'PhysioNet 2012', LAYOUT);
  await requireFile(outcomes, 'PhysioNet 2012', LAYOUT);
  const raw = relationOf({ path: path.join(folder, '*.txt'), format: 'csv' }, 'PhysioNet 2012 records');
  raw.sql = raw.sql.replace(/\)$/, ', filename = true)');
  const prepare = async (db: Db): Promise<Record<string, number>> => {
    await requireColumns(db, raw, [{ column: 'Time', role: 'time' }, { column: 'Parameter', role: 'parameter' }, { column: 'Value', role: 'value' }]);
    // The stay id is the file name (<RecordID>.txt).
    await db.run(`CREATE TABLE __pn AS SELECT regexp_extract(filename, '([^/\\\\]+)\\.txt$', 1) AS rec, "Time" AS time_raw,
      "Parameter" AS param, "Value" AS value_raw, TRY_CAST("Value" AS DOUBLE) AS value FROM ${raw.sql}`, 'reading PhysioNet records');
    const known = [...PHYSIONET_SERIES, 'MechVent', ...DESCRIPTORS].map(lit).join(', ');
    const series = [...PHYSIONET_SERIES, 'MechVent'].map(lit).join(', ');
    const [unknownV, badV, mergedV] = (await db.rows(`SELECT
      count(*) FILTER (param NOT IN (${known})),
      count(*) FILTER (value IS NULL AND value_raw IS NOT NULL),
      (SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c FROM __pn WHERE param IN (${series})
        AND NOT (param = 'Weight' AND value = -1) GROUP BY rec, time_raw, param HAVING count(*) > 1))
      FROM __pn`, 'checking PhysioNet records'))[0] ?? [];
    // Minutes since admission from HH:MM; anything else stays as its raw text and is reported as an invalid time.
    const minutes = `CASE WHEN regexp_full_match(time_raw, '[0-9]+:[0-5][0-9]') THEN CAST(CAST(split_part(time_raw, ':', 1) AS BIGINT) * 60 + ` +
      `CAST(split_part(time_raw, ':', 2) AS BIGINT) AS VARCHAR) ELSE time_raw END`;
    const cols = [
      ...PHYSIONET_SERIES.map((p) => `avg(value) FILTER (param = ${lit(p)}) AS ${ident(p)}`),
      `max(value_raw) FILTER (param = 'MechVent') AS "MechVent"`,
    ];
    const stat = [
      ...STATIC_CATEGORICAL.map((p) => `max(CASE WHEN value = -1 THEN NULL ELSE CAST(value AS BIGINT) END) FILTER (param = ${lit(p)}) AS ${ident(p)}`),
      ...STATIC_NUMERIC.map((p) => `max(CASE WHEN value = -1 THEN NULL ELSE value END) FILTER (param = ${lit(p)}) AS ${ident(p)}`),
    ];
    await db.run(`CREATE TABLE __pn_static AS SELECT rec, ${stat.join(', ')} FROM __pn GROUP BY rec`, 'PhysioNet descriptors');
    await db.run(`CREATE TABLE __pn_events AS SELECT s.rec AS "RecordID", ${minutes.replace(/time_raw/g, 'e.time_raw')} AS minutes,
      ${[...PHYSIONET_SERIES, 'MechVent'].map((p) => `e.${ident(p)}`).join(', ')},
      ${[...STATIC_CATEGORICAL, ...STATIC_NUMERIC].map((p) => `s.${ident(p)}`).join(', ')}
      FROM (SELECT rec, time_raw, ${cols.join(', ')} FROM __pn WHERE param IN (${series})
            AND NOT (param = 'Weight' AND value = -1) GROUP BY rec, time_raw) e
      JOIN __pn_static s ON s.rec = e.rec`, 'pivoting PhysioNet records');
    return { unknownParameterRows: num(unknownV), unparsableValues: num(badV), mergedMeasurements: num(mergedV) };
  };
  return runIngest(withCommon({
    events: { sql: '__pn_events', describe: `PhysioNet 2012 records in "${folder}"` },
    schema: PHYSIONET_2012_SCHEMA,
    labels: {
      relation: relationOf({ path: outcomes, format: 'csv' }, 'PhysioNet 2012 outcomes'),
      entity: 'RecordID', columns: options.labels ?? ['In-hospital_death'],
    },
    prepare,
    knownEntities: 'SELECT DISTINCT rec FROM __pn',
  }, options), dbOptions(options));
}
