import { SiftError, writeFileAtomic } from '@sift/tensor-core';
import {
  NUMERIC_TRANSFORMS, parseEventSchema, type CategoricalFieldSpec, type EventSchema, type NumericTransform,
} from './schema.js';

/** Code of padding in every categorical field (ptls `Embedding(padding_idx=0)`). */
export const PAD_CODE = 0;
/** Code of out-of-vocabulary values: unseen at fit time, rarer than `minCount`, beyond `maxVocab`, or missing. */
export const OOV_CODE = 1;

/** A fitted categorical field: `vocab[i]` has code `i + 2`, most frequent first. */
export interface CategoricalEncoding {
  kind: 'categorical';
  name: string;
  /** Category keys (values as text), by descending training frequency; ties by ascending code point order. */
  vocab: string[];
  /** Training count of each `vocab` entry. */
  counts: number[];
  /** Training events whose value became OOV (rare or beyond `maxVocab`; missing values are in `missing`). */
  oovCount: number;
  /** Training events with a missing value (also coded OOV). */
  missing: number;
}

/** A fitted numeric field. `mean`/`std` are of the value before standardisation (raw, or signed-logged). */
export interface NumericEncoding {
  kind: 'numeric';
  name: string;
  transform: NumericTransform;
  /** Fitted mean (used by the standardising transforms; reported for the others). */
  mean: number;
  /** Fitted population standard deviation; 1 when the training values were constant or absent. */
  std: number;
  /** The encoded value of a missing or non-finite raw value. */
  fill: number;
  /** Training events with a finite value. */
  count: number;
  /** Training events with a missing or non-finite value. */
  missing: number;
}

/** A fitted field. */
export type FieldEncoding = CategoricalEncoding | NumericEncoding;

/** Min-max time normalisation `(t − min) / (max − min)` (MLEM `data_utils.py`); `range` is 1 when max = min. */
export interface TimeEncoding {
  min: number;
  max: number;
}

/** The JSON form of a fitted encoder (what `saveEncoder` writes). */
export interface EventEncoderJSON {
  format: 'sift.event-encoder';
  version: 1;
  fields: FieldEncoding[];
  time: TimeEncoding;
}

/** Counts of one categorical field's values in the training data. */
export interface CategoricalFieldStats {
  kind: 'categorical';
  /** Value (as text) -> number of events. */
  counts: ReadonlyMap<string, number>;
  /** Events with a missing value. */
  missing: number;
}

/** Moments of one numeric field's pre-standardisation values (raw, or signed-logged for the `log*` transforms). */
export interface NumericFieldStats {
  kind: 'numeric';
  /** Events with a finite value. */
  count: number;
  mean: number;
  /** Population variance. */
  variance: number;
  /** Events with a missing or non-finite value. */
  missing: number;
}

/** Everything `EventEncoder.fit` needs, gathered in one pass over the training events (by DuckDB or in memory). */
export interface EncoderFitStats {
  fields: Record<string, CategoricalFieldStats | NumericFieldStats>;
  /** Range of the (parsed) event times; `count` 0 when there are none. */
  time: { min: number; max: number; count: number };
}

/** `sign(x)·log1p(|x|)`: the ptls `log` scaler, odd and defined for every real. */
export function signedLog(x: number): number {
  return x < 0 ? -Math.log1p(-x) : Math.log1p(x);
}

/** Code point order (what DuckDB's binary VARCHAR order is, since UTF-8 byte order = code point order). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF, which sort after every BMP code unit.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * A categorical field's fitted vocabulary: descending count, ties by ascending code point order of the key (so the
 * order is deterministic), cut by `minCount` and `maxVocab`.
 */
export function fitVocabulary(spec: CategoricalFieldSpec, st: CategoricalFieldStats): CategoricalEncoding {
  const minCount = spec.minCount ?? 1;
  const entries = [...st.counts].sort((a, b) => (b[1] - a[1]) || compareCodePoints(a[0], b[0]));
  const kept = entries.filter(([, c]) => c >= minCount).slice(0, spec.maxVocab ?? Infinity);
  let total = 0;
  for (const [, c] of entries) total += c;
  let keptTotal = 0;
  for (const [, c] of kept) keptTotal += c;
  return {
    kind: 'categorical', name: spec.name, vocab: kept.map(([k]) => k), counts: kept.map(([, c]) => c),
    oovCount: total - keptTotal, missing: st.missing,
  };
}

/**
 * A fitted event encoder: categorical codes by training frequency (0 padding, 1 OOV, then 2, 3, ... by descending
 * count), numeric transforms with fitted moments, and min-max time normalisation. Fit it on training data only, save it
 * with the model, and apply it unchanged at inference: unseen categories become OOV.
 *
 * @example
 * const enc = EventEncoder.fit(schema, stats);
 * enc.encodeCategory('mcc', '5411'); // 2 if 5411 is the most frequent MCC
 * enc.encodeCategory('mcc', 'never-seen'); // 1 (OOV)
 * await saveEncoder(enc, 'encoder.json');
 */
export class EventEncoder {
  /** Fitted fields, in schema order. */
  readonly fields: readonly FieldEncoding[];
  readonly time: Readonly<TimeEncoding>;
  private readonly byName = new Map<string, FieldEncoding>();
  private readonly codeMaps = new Map<string, Map<string, number>>();

  private constructor(fields: FieldEncoding[], time: TimeEncoding) {
    this.fields = fields;
    this.time = { ...time };
    for (const f of fields) {
      this.byName.set(f.name, f);
      if (f.kind === 'categorical') {
        const m = new Map<string, number>();
        f.vocab.forEach((k, i) => m.set(k, i + 2));
        this.codeMaps.set(f.name, m);
      }
    }
  }

  /**
   * Fits an encoder from training statistics. Categories: descending count, ties by ascending code point order of the
   * key, so the order is deterministic; `minCount` and `maxVocab` (per field) cut the tail to OOV.
   * @throws SiftError `E_CONFIG` when a field of the schema has no statistics or statistics of the other kind.
   */
  static fit(schema: EventSchema, stats: EncoderFitStats): EventEncoder {
    const s = parseEventSchema(schema);
    const fields = s.fields.map((spec): FieldEncoding => {
      const st = stats.fields[spec.name] as CategoricalFieldStats | NumericFieldStats | undefined;
      if (st?.kind !== spec.kind) {
        throw new SiftError('E_CONFIG', `EventEncoder.fit: field "${spec.name}" (${spec.kind}) has ` +
          `${st === undefined ? 'no statistics' : `${st.kind} statistics`}; statistics were given for ` +
          `[${Object.keys(stats.fields).join(', ')}].`);
      }
      if (spec.kind === 'categorical' && st.kind === 'categorical') return fitVocabulary(spec, st);
      const ns = st as NumericFieldStats;
      const std = Math.sqrt(ns.variance);
      const transform = spec.kind === 'numeric' ? spec.transform ?? 'none' : 'none';
      const fill = spec.kind === 'numeric' ? spec.fill ?? 0 : 0;
      return {
        kind: 'numeric', name: spec.name, transform,
        mean: ns.count > 0 && Number.isFinite(ns.mean) ? ns.mean : 0,
        std: ns.count > 0 && std > 0 && Number.isFinite(std) ? std : 1,
        fill, count: ns.count, missing: ns.missing,
      };
    });
    const t = stats.time;
    const time = t.count > 0 && Number.isFinite(t.min) && Number.isFinite(t.max) ? { min: t.min, max: t.max } : { min: 0, max: 1 };
    return new EventEncoder(fields, time);
  }

  /**
   * Restores an encoder from `toJSON()` output (e.g. a parsed `encoder.json`), validating every part.
   * @throws SiftError `E_DATA` naming the first malformed entry.
   */
  static fromJSON(json: unknown, source = 'encoder JSON'): EventEncoder {
    const bad = (what: string): never => {
      throw new SiftError('E_DATA', `${source}: ${what}. Expected the output of EventEncoder.toJSON() / saveEncoder().`);
    };
    if (typeof json !== 'object' || json === null) return bad('not an object');
    const j = json as Record<string, unknown>;
    if (j.format !== 'sift.event-encoder') bad(`format is ${JSON.stringify(j.format)}, not "sift.event-encoder"`);
    if (j.version !== 1) bad(`version ${JSON.stringify(j.version)} is not supported (this Sift reads version 1)`);
    if (!Array.isArray(j.fields)) return bad('"fields" is not an array');
    const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
    const t = j.time as Record<string, unknown> | null | undefined;
    if (typeof t !== 'object' || t === null || !isNum(t.min) || !isNum(t.max)) return bad('"time" needs finite min and max');
    const time = { min: t.min, max: t.max };
    const names = new Set<string>();
    const fields = (j.fields as unknown[]).map((f, i): FieldEncoding => {
      const at = `fields[${i}]`;
      if (typeof f !== 'object' || f === null) return bad(`${at} is not an object`);
      const g = f as Record<string, unknown>;
      const name = g.name;
      if (typeof name !== 'string' || names.has(name)) return bad(`${at} has a missing or duplicate name`);
      names.add(name);
      const count = (k: string): number => {
        const v = g[k];
        return isNum(v) ? v : 0;
      };
      if (g.kind === 'categorical') {
        const { vocab, counts } = g;
        if (!Array.isArray(vocab) || !vocab.every((v) => typeof v === 'string')) return bad(`${at} ("${name}"): vocab must be strings`);
        if (new Set(vocab).size !== vocab.length) bad(`${at} ("${name}"): vocab has duplicate keys`);
        if (!Array.isArray(counts) || counts.length !== vocab.length || !counts.every(isNum)) {
          return bad(`${at} ("${name}"): counts must be ${vocab.length} numbers`);
        }
        return { kind: 'categorical', name, vocab: [...vocab], counts: [...counts], oovCount: count('oovCount'), missing: count('missing') };
      }
      if (g.kind === 'numeric') {
        const { transform, mean, std, fill } = g;
        if (!NUMERIC_TRANSFORMS.includes(transform as NumericTransform)) bad(`${at} ("${name}"): unknown transform ${JSON.stringify(transform)}`);
        if (!isNum(mean) || !isNum(std) || !(std > 0) || !isNum(fill)) return bad(`${at} ("${name}"): mean, std > 0 and fill must be finite numbers`);
        return {
          kind: 'numeric', name, transform: transform as NumericTransform, mean, std, fill, count: count('count'), missing: count('missing'),
        };
      }
      return bad(`${at}: kind ${JSON.stringify(g.kind)} is not "categorical" or "numeric"`);
    });
    return new EventEncoder(fields, time);
  }

  /** A plain, JSON-serialisable copy. */
  toJSON(): EventEncoderJSON {
    return {
      format: 'sift.event-encoder', version: 1,
      fields: this.fields.map((f) => (f.kind === 'categorical' ? { ...f, vocab: [...f.vocab], counts: [...f.counts] } : { ...f })),
      time: { ...this.time },
    };
  }

  /** The fitted field `name`; throws `E_CONFIG` listing the fields when there is none. */
  field(name: string): FieldEncoding {
    const f = this.byName.get(name);
    if (f === undefined) {
      throw new SiftError('E_CONFIG', `EventEncoder: no field "${name}"; fields are [${this.fields.map((x) => x.name).join(', ')}].`);
    }
    return f;
  }

  /** Names of the categorical fields, in order. */
  get categoricalNames(): string[] {
    return this.fields.filter((f) => f.kind === 'categorical').map((f) => f.name);
  }

  /** Names of the numeric fields, in order. */
  get numericNames(): string[] {
    return this.fields.filter((f) => f.kind === 'numeric').map((f) => f.name);
  }

  /** Embedding table size of a categorical field: `vocab.length + 2` (padding and OOV included). */
  vocabSize(name: string): number {
    const f = this.field(name);
    if (f.kind !== 'categorical') throw new SiftError('E_CONFIG', `EventEncoder.vocabSize: field "${name}" is numeric.`);
    return f.vocab.length + 2;
  }

  /** Code of one value: its rank + 2 when in the vocabulary, else OOV (1). `null`/`undefined` are OOV. */
  encodeCategory(name: string, value: string | number | bigint | null | undefined): number {
    const m = this.codeMaps.get(name);
    if (m === undefined) this.field(name);
    if (value === null || value === undefined) return OOV_CODE;
    return m?.get(typeof value === 'string' ? value : String(value)) ?? OOV_CODE;
  }

  /**
   * The lookup table of a categorical field (key -> code), for bulk encoding. Keys missing from it are OOV.
   */
  codeMap(name: string): ReadonlyMap<string, number> {
    const m = this.codeMaps.get(name);
    if (m === undefined) {
      this.field(name);
      throw new SiftError('E_CONFIG', `EventEncoder.codeMap: field "${name}" is numeric.`);
    }
    return m;
  }

  /** The encoded value of one raw number (float64; stores keep it as float32). Missing or non-finite -> `fill`. */
  encodeNumber(name: string, x: number | null | undefined): number {
    const f = this.field(name);
    if (f.kind !== 'numeric') throw new SiftError('E_CONFIG', `EventEncoder.encodeNumber: field "${name}" is categorical.`);
    return encodeNumeric(f, x);
  }

  /** `(t − min) / (max − min)`, the MLEM time normalisation; 0 at the training minimum, 1 at the maximum. */
  normalizeTime(t: number): number {
    return (t - this.time.min) / timeRange(this.time);
  }
}

/** `max − min`, or 1 when the training times were all equal. */
export function timeRange(t: TimeEncoding): number {
  const r = t.max - t.min;
  return r > 0 ? r : 1;
}

/** The transform of one numeric value under a fitted encoding. */
export function encodeNumeric(f: NumericEncoding, x: number | null | undefined): number {
  if (x === null || x === undefined || !Number.isFinite(x)) return f.fill;
  switch (f.transform) {
    case 'none': return x;
    case 'log': return signedLog(x);
    case 'standardize': return (x - f.mean) / f.std;
    case 'log-standardize': return (signedLog(x) - f.mean) / f.std;
  }
}

/** Whether the fit statistics of a numeric field are of the signed-logged value. */
export function statsOnLog(transform: NumericTransform): boolean {
  return transform === 'log' || transform === 'log-standardize';
}

/**
 * Welford's running mean and population variance. Fed in store order (entity, then time, then source row) by both
 * `ingestEvents` and `storeFromTable`, it gives the same bits on both paths and on every run.
 */
export class Welford {
  private n = 0;
  private m = 0;
  private m2 = 0;

  add(v: number): void {
    this.n++;
    const d = v - this.m;
    this.m += d / this.n;
    this.m2 += d * (v - this.m);
  }

  /** Count, mean and population variance (0 and 0 with no values). */
  result(): { count: number; mean: number; variance: number } {
    return { count: this.n, mean: this.m, variance: this.n > 0 ? this.m2 / this.n : 0 };
  }
}

/**
 * Writes one numeric field's stored column from raw values given in store order, fitting its statistics on the way
 * when there is no fitted encoding yet. Transforms that need no statistics (`none`, `log`) are written straight to
 * float32; the standardising ones keep the raw values (float64) until `finish` gets the fitted mean and std.
 */
export class NumericColumnWriter {
  private readonly out: Float32Array;
  private readonly raw: Float64Array | null;
  private readonly stats = new Welford();
  private readonly enc: NumericEncoding;
  private readonly log: boolean;
  private pos = 0;
  private missing = 0;

  /**
   * @param n      events in the column
   * @param spec   the field's transform and fill
   * @param fitted the fitted encoding to apply, when there is one (then nothing waits for `finish`)
   */
  constructor(n: number, spec: { name: string; transform: NumericTransform; fill: number }, fitted?: NumericEncoding) {
    this.out = new Float32Array(n);
    this.enc = fitted ?? { kind: 'numeric', name: spec.name, transform: spec.transform, mean: 0, std: 1, fill: spec.fill, count: 0, missing: 0 };
    this.log = statsOnLog(this.enc.transform);
    const deferred = fitted === undefined && (spec.transform === 'standardize' || spec.transform === 'log-standardize');
    this.raw = deferred ? new Float64Array(n) : null;
  }

  /** The next event's raw value (`null` or non-finite: missing). */
  push(x: number | null | undefined): void {
    const ok = x !== null && x !== undefined && Number.isFinite(x);
    if (ok) this.stats.add(this.log ? signedLog(x) : x);
    else this.missing++;
    if (this.raw !== null) this.raw[this.pos] = ok ? x : Number.NaN;
    else this.out[this.pos] = encodeNumeric(this.enc, x);
    this.pos++;
  }

  /** Statistics of the values pushed so far (pre-standardisation: raw, or signed-logged). */
  fitStats(): NumericFieldStats {
    return { kind: 'numeric', ...this.stats.result(), missing: this.missing };
  }

  /** The stored column, standardised with `encoding` (the fitted field) when it was deferred. */
  finish(encoding: FieldEncoding): Float32Array {
    if (this.raw !== null) {
      if (encoding.kind !== 'numeric') throw new SiftError('E_CONFIG', `NumericColumnWriter: field "${encoding.name}" is categorical.`);
      for (let i = 0; i < this.raw.length; i++) this.out[i] = encodeNumeric(encoding, this.raw[i]);
    }
    return this.out;
  }
}

/**
 * Gathers `EncoderFitStats` from events in memory, one event at a time: category counts, time range, and Welford
 * moments of the numeric fields (in the order given; feed events in store order to match `ingestEvents`).
 */
export class FitStatsAccumulator {
  private readonly schema: EventSchema;
  private readonly cat = new Map<string, { counts: Map<string, number>; missing: number }>();
  private readonly num = new Map<string, { w: Welford; missing: number; log: boolean }>();
  private tMin = Infinity;
  private tMax = -Infinity;
  private tCount = 0;

  constructor(schema: EventSchema) {
    this.schema = parseEventSchema(schema);
    for (const f of this.schema.fields) {
      if (f.kind === 'categorical') this.cat.set(f.name, { counts: new Map(), missing: 0 });
      else this.num.set(f.name, { w: new Welford(), missing: 0, log: statsOnLog(f.transform ?? 'none') });
    }
  }

  /** Adds one categorical value. */
  addCategory(name: string, value: string | number | bigint | null | undefined): void {
    const s = this.cat.get(name);
    if (s === undefined) throw new SiftError('E_CONFIG', `FitStatsAccumulator: no categorical field "${name}".`);
    if (value === null || value === undefined) {
      s.missing++;
      return;
    }
    const k = typeof value === 'string' ? value : String(value);
    s.counts.set(k, (s.counts.get(k) ?? 0) + 1);
  }

  /** Adds one raw numeric value. */
  addNumber(name: string, x: number | null | undefined): void {
    const s = this.num.get(name);
    if (s === undefined) throw new SiftError('E_CONFIG', `FitStatsAccumulator: no numeric field "${name}".`);
    if (x === null || x === undefined || !Number.isFinite(x)) s.missing++;
    else s.w.add(s.log ? signedLog(x) : x);
  }

  /** Adds one event time. */
  addTime(t: number): void {
    if (t < this.tMin) this.tMin = t;
    if (t > this.tMax) this.tMax = t;
    this.tCount++;
  }

  /** The statistics so far. */
  stats(): EncoderFitStats {
    const fields: EncoderFitStats['fields'] = {};
    for (const [name, s] of this.cat) fields[name] = { kind: 'categorical', counts: new Map(s.counts), missing: s.missing };
    for (const [name, s] of this.num) fields[name] = { kind: 'numeric', ...s.w.result(), missing: s.missing };
    return { fields, time: { min: this.tMin, max: this.tMax, count: this.tCount } };
  }
}

/**
 * Writes an encoder as JSON (atomically: a crash never leaves half a file).
 * @example
 * await saveEncoder(store.encoder, 'runs/age/encoder.json');
 * const same = await loadEncoder('runs/age/encoder.json');
 */
export async function saveEncoder(encoder: EventEncoder, path: string): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(encoder.toJSON(), null, 1)}\n`);
}

/**
 * Reads an encoder written by `saveEncoder`.
 * @throws SiftError `E_IO` when the file cannot be read, `E_DATA` when it is not an encoder.
 */
export async function loadEncoder(path: string): Promise<EventEncoder> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SiftError('E_IO', `loadEncoder: cannot read "${path}": ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SiftError('E_DATA', `loadEncoder: "${path}" is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return EventEncoder.fromJSON(json, `encoder file "${path}"`);
}
