import { SiftError } from '@sift/tensor-core';

/**
 * How a numeric field is transformed before it is stored (MLEM brief §1, ptls `TrxEncoder` scalers):
 * - `none`: the raw value;
 * - `log`: signed log, `sign(x)·log1p(|x|)` (ptls `log` scaler; MLEM logs amounts at preparation);
 * - `standardize`: `(x − mean) / std` with mean and std fitted on the training data;
 * - `log-standardize`: signed log, then standardised with the fitted mean/std of the logged values.
 */
export type NumericTransform = 'none' | 'log' | 'standardize' | 'log-standardize';

/** Every `NumericTransform`, for validation and messages. */
export const NUMERIC_TRANSFORMS: readonly NumericTransform[] = ['none', 'log', 'standardize', 'log-standardize'];

/** A categorical event field: values become integer codes by frequency (0 = padding, 1 = out-of-vocabulary). */
export interface CategoricalFieldSpec {
  kind: 'categorical';
  /** The field's name in the store and in batches. */
  name: string;
  /** The source column; defaults to `name`. */
  column?: string;
  /** Keep at most this many categories (the most frequent); the rest map to OOV (1). Default: all. */
  maxVocab?: number;
  /** Categories seen fewer than this many times in training map to OOV (1). Default 1. */
  minCount?: number;
}

/** A numeric event field, stored as float32 after its transform. */
export interface NumericFieldSpec {
  kind: 'numeric';
  /** The field's name in the store and in batches. */
  name: string;
  /** The source column; defaults to `name`. */
  column?: string;
  /** Default `none`. */
  transform?: NumericTransform;
  /**
   * The encoded value stored where the raw value is missing or not a finite number. Default 0, the MLEM convention
   * ("0 means missing", brief §4 PhysioNet).
   */
  fill?: number;
}

/** One event field. */
export type FieldSpec = CategoricalFieldSpec | NumericFieldSpec;

/**
 * How the time column is read.
 * - `auto` (default): a number, else a timestamp (`2017-10-21 13:05:00`), in seconds since 1970;
 * - `number`: a plain number (days, seconds, an event counter: any monotone unit);
 * - `timestamp`: a date or timestamp, as seconds since 1970;
 * - any other string: a `strptime` format (DuckDB's, e.g. `%d%b%y:%H:%M:%S`), as seconds since 1970.
 */
export type TimeFormat = 'auto' | 'number' | 'timestamp' | (string & Record<never, never>);

/** The time column. */
export interface TimeSpec {
  column: string;
  /** Default `auto`. */
  format?: TimeFormat;
}

/**
 * A flat event table's layout: one row per event, with the entity id, the time and the event fields
 * (MLEM brief §1, ptls `docs/sequential_data_definition.md`).
 * @example
 * const schema: EventSchema = {
 *   entity: 'client_id',
 *   time: { column: 'trans_date', format: 'number' },
 *   fields: [
 *     { kind: 'categorical', name: 'small_group' },
 *     { kind: 'numeric', name: 'amount_rur', transform: 'log' },
 *   ],
 * };
 */
export interface EventSchema {
  /** The entity (client, patient) id column. */
  entity: string;
  time: TimeSpec;
  /** Event fields, in the order batches list them. Names are unique. */
  fields: FieldSpec[];
}

/** The column a field reads. */
export function fieldColumn(f: FieldSpec): string {
  return f.column ?? f.name;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Checks a schema and returns it with defaults filled in. Throws `E_CONFIG` naming the field and the problem.
 * Field names must be identifier-like (`[A-Za-z_][A-Za-z0-9_.-]*`) because they become tensor names.
 */
export function parseEventSchema(schema: EventSchema): EventSchema {
  const where = 'event schema';
  if (typeof schema !== 'object') throw new SiftError('E_CONFIG', `${where}: expected an object, got ${typeof schema}.`);
  if (typeof schema.entity !== 'string' || schema.entity === '') {
    throw new SiftError('E_CONFIG', `${where}: "entity" must name the entity id column, got ${JSON.stringify(schema.entity)}.`);
  }
  if (typeof schema.time !== 'object' || typeof schema.time.column !== 'string' || schema.time.column === '') {
    throw new SiftError('E_CONFIG', `${where}: "time.column" must name the time column, got ${JSON.stringify(schema.time)}.`);
  }
  if (!Array.isArray(schema.fields)) {
    throw new SiftError('E_CONFIG', `${where}: "fields" must be an array of field specs.`);
  }
  const seen = new Set<string>();
  const fields = schema.fields.map((f, i): FieldSpec => {
    const at = `${where}: fields[${i}]`;
    if (typeof f.name !== 'string' || !NAME_RE.test(f.name)) {
      throw new SiftError('E_CONFIG', `${at}: name ${JSON.stringify(f.name)} must match ${NAME_RE.source} (it names tensors).`);
    }
    if (seen.has(f.name)) throw new SiftError('E_CONFIG', `${at}: duplicate field name "${f.name}"; names must be unique.`);
    seen.add(f.name);
    if (f.column !== undefined && (typeof f.column !== 'string' || f.column === '')) {
      throw new SiftError('E_CONFIG', `${at} ("${f.name}"): column must be a non-empty string.`);
    }
    if (f.kind === 'categorical') {
      if (f.maxVocab !== undefined && !(Number.isInteger(f.maxVocab) && f.maxVocab >= 0)) {
        throw new SiftError('E_CONFIG', `${at} ("${f.name}"): maxVocab must be a non-negative integer, got ${f.maxVocab}.`);
      }
      if (f.minCount !== undefined && !(Number.isInteger(f.minCount) && f.minCount >= 1)) {
        throw new SiftError('E_CONFIG', `${at} ("${f.name}"): minCount must be an integer >= 1, got ${f.minCount}.`);
      }
      return { ...f };
    }
    if ((f as { kind: unknown }).kind === 'numeric') {
      const transform = f.transform ?? 'none';
      if (!NUMERIC_TRANSFORMS.includes(transform)) {
        throw new SiftError('E_CONFIG', `${at} ("${f.name}"): transform "${transform}" is not one of ` +
          `${NUMERIC_TRANSFORMS.join(', ')}.`);
      }
      const fill = f.fill ?? 0;
      if (!Number.isFinite(fill)) throw new SiftError('E_CONFIG', `${at} ("${f.name}"): fill must be a finite number, got ${fill}.`);
      return { ...f, transform, fill };
    }
    throw new SiftError('E_CONFIG', `${at}: kind ${JSON.stringify((f as { kind: unknown }).kind)} is not "categorical" or "numeric".`);
  });
  return { entity: schema.entity, time: { column: schema.time.column, format: schema.time.format ?? 'auto' }, fields };
}
