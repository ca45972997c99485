import { SiftError } from '@sift/tensor-core';
import type { EventEncoder } from './encoder.js';

/** The parts of a `SequenceStore`; see its fields. */
export interface SequenceStoreParts {
  entityIds: readonly string[];
  offsets: Int32Array | BigInt64Array;
  times: Float64Array | Float32Array;
  codes: Readonly<Record<string, Int32Array>>;
  values: Readonly<Record<string, Float32Array>>;
  labels?: Readonly<Record<string, Float64Array>>;
  encoder: EventEncoder;
}

/** Above this many events, offsets no longer fit an Int32Array and are kept as a BigInt64Array. */
export const INT32_OFFSET_LIMIT: number = 2 ** 31 - 1;

/**
 * Encoded event sequences in flat typed arrays (the ptls "feature dict", packed): event `j` of entity `i` is row
 * `offsets[i] + j` of every per-event array, and each entity's events are sorted by time (ties in source order).
 *
 * Shapes (E entities, N events in all):
 * - `entityIds` [E], `offsets` [E + 1] (Int32, or BigInt64 beyond 2^31 − 1 events), `labels[name]` [E] (NaN = none);
 * - `times` [N] raw times (float64, or float32 when asked for), normalised by the encoder when batched;
 * - `codes[field]` [N] Int32 codes (0 pad, 1 OOV, 2.. by frequency), `values[field]` [N] Float32 encoded numbers.
 *
 * @example
 * const { store } = await ingestEvents({ events: { path: 'events.csv' }, schema });
 * for (let i = 0; i < store.numEntities; i++) console.log(store.entityIds[i], store.length(i));
 */
export class SequenceStore {
  /** Entity ids, in store order (numeric order when every id is an integer, else code point order). */
  readonly entityIds: readonly string[];
  /** [E + 1] event offsets. */
  readonly offsets: Int32Array | BigInt64Array;
  /** [N] raw event times (seconds for timestamps, the source unit for numbers). */
  readonly times: Float64Array | Float32Array;
  /** [N] codes per categorical field. */
  readonly codes: Readonly<Record<string, Int32Array>>;
  /** [N] encoded values per numeric field. */
  readonly values: Readonly<Record<string, Float32Array>>;
  /** [E] label columns; NaN where an entity has no label. */
  readonly labels: Readonly<Record<string, Float64Array>>;
  /** The encoder the codes and values were made with (also normalises `times` in batches). */
  readonly encoder: EventEncoder;
  private index: Map<string, number> | undefined;

  /** Wraps and validates the parts (lengths, offsets, sorted times, field names); throws `E_DATA` on a mismatch. */
  constructor(parts: SequenceStoreParts) {
    this.entityIds = parts.entityIds;
    this.offsets = parts.offsets;
    this.times = parts.times;
    this.codes = parts.codes;
    this.values = parts.values;
    this.labels = parts.labels ?? {};
    this.encoder = parts.encoder;
    this.validate();
  }

  /** E. */
  get numEntities(): number {
    return this.entityIds.length;
  }

  /** N. */
  get numEvents(): number {
    return this.times.length;
  }

  /** Names of the label columns. */
  get labelNames(): string[] {
    return Object.keys(this.labels);
  }

  /** Index of entity `i`'s first event. */
  start(i: number): number {
    return Number(this.offsets[i]);
  }

  /** One past entity `i`'s last event. */
  end(i: number): number {
    return Number(this.offsets[i + 1]);
  }

  /** Number of events of entity `i`. */
  length(i: number): number {
    return Number(this.offsets[i + 1]) - Number(this.offsets[i]);
  }

  /** Store index of an entity id, or −1. */
  indexOf(id: string): number {
    if (this.index === undefined) {
      this.index = new Map();
      this.entityIds.forEach((e, i) => this.index?.set(e, i));
    }
    return this.index.get(id) ?? -1;
  }

  /** The label column `name`; throws `E_CONFIG` listing the label names when there is none. */
  label(name: string): Float64Array {
    const l = this.labels[name] as Float64Array | undefined;
    if (l === undefined) {
      throw new SiftError('E_CONFIG', `SequenceStore: no label "${name}"; labels are [${this.labelNames.join(', ')}].`);
    }
    return l;
  }

  /**
   * A new store holding the given entities (store indices, in the given order), e.g. a train/test split. Copies the
   * events.
   */
  subset(indices: ArrayLike<number>): SequenceStore {
    const list = Array.from(indices, (i) => this.checkIndex(i));
    let n = 0;
    for (const i of list) n += this.length(i);
    const offsets = n > INT32_OFFSET_LIMIT ? new BigInt64Array(list.length + 1) : new Int32Array(list.length + 1);
    const times = this.times instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
    const codes = Object.fromEntries(Object.keys(this.codes).map((k) => [k, new Int32Array(n)]));
    const values = Object.fromEntries(Object.keys(this.values).map((k) => [k, new Float32Array(n)]));
    const labels = Object.fromEntries(Object.keys(this.labels).map((k) => [k, new Float64Array(list.length)]));
    const ids: string[] = [];
    let pos = 0;
    for (const [k, i] of list.entries()) {
      const s = this.start(i);
      const e = this.end(i);
      ids.push(this.entityIds[i]);
      times.set(this.times.subarray(s, e), pos);
      for (const [name, arr] of Object.entries(codes)) arr.set(this.codes[name].subarray(s, e), pos);
      for (const [name, arr] of Object.entries(values)) arr.set(this.values[name].subarray(s, e), pos);
      for (const [name, arr] of Object.entries(labels)) arr[k] = this.labels[name][i]!;
      pos += e - s;
      if (offsets instanceof BigInt64Array) offsets[k + 1] = BigInt(pos);
      else offsets[k + 1] = pos;
    }
    return new SequenceStore({ entityIds: ids, offsets, times, codes, values, labels, encoder: this.encoder });
  }

  private checkIndex(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.numEntities) {
      throw new SiftError('E_CONFIG', `SequenceStore: entity index ${i} is out of range [0, ${this.numEntities}).`);
    }
    return i;
  }

  private validate(): void {
    const bad = (what: string): never => {
      throw new SiftError('E_DATA', `SequenceStore: ${what}.`);
    };
    const e = this.entityIds.length;
    const n = this.times.length;
    if (this.offsets.length !== e + 1) bad(`offsets has ${this.offsets.length} entries, expected entities + 1 = ${e + 1}`);
    if (Number(this.offsets[0]) !== 0) bad(`offsets[0] is ${this.offsets[0]}, expected 0`);
    if (Number(this.offsets[e]) !== n) bad(`offsets[${e}] is ${this.offsets[e]}, expected the number of events ${n}`);
    if (this.offsets instanceof Int32Array && n > INT32_OFFSET_LIMIT) bad(`${n} events need BigInt64Array offsets`);
    for (let i = 0; i < e; i++) {
      const s = Number(this.offsets[i]);
      const t = Number(this.offsets[i + 1]);
      if (t < s) bad(`offsets decrease at entity ${i} ("${this.entityIds[i]}"): ${s} then ${t}`);
      for (let j = s + 1; j < t; j++) {
        if (!(this.times[j] >= this.times[j - 1])) {
          bad(`entity ${i} ("${this.entityIds[i]}") has times out of order at event ${j - s}: ${this.times[j - 1]} then ${this.times[j]}`);
        }
      }
    }
    if (new Set(this.entityIds).size !== e) bad('entity ids are not unique');
    const want = (kind: 'categorical' | 'numeric'): string[] => this.encoder.fields.filter((f) => f.kind === kind).map((f) => f.name);
    const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));
    if (!same(Object.keys(this.codes), want('categorical'))) {
      bad(`codes are for [${Object.keys(this.codes).join(', ')}] but the encoder's categorical fields are [${want('categorical').join(', ')}]`);
    }
    if (!same(Object.keys(this.values), want('numeric'))) {
      bad(`values are for [${Object.keys(this.values).join(', ')}] but the encoder's numeric fields are [${want('numeric').join(', ')}]`);
    }
    for (const [k, a] of Object.entries(this.codes)) {
      if (!(a instanceof Int32Array) || a.length !== n) bad(`codes "${k}" must be an Int32Array of ${n} events`);
    }
    for (const [k, a] of Object.entries(this.values)) {
      if (!(a instanceof Float32Array) || a.length !== n) bad(`values "${k}" must be a Float32Array of ${n} events`);
    }
    for (const [k, a] of Object.entries(this.labels)) {
      if (!(a instanceof Float64Array) || a.length !== e) bad(`label "${k}" must be a Float64Array of ${e} entities`);
    }
  }
}
