import { SiftError } from '@sift/tensor-core';

/**
 * What ingestion does with each kind of problem row. Nothing is dropped silently: whatever the choice, the
 * `IngestReport` counts it.
 */
export interface IngestPolicy {
  /** Event rows whose time is missing or cannot be parsed. */
  invalidTime: 'fail' | 'drop';
  /** Event rows without an entity id. */
  missingEntity: 'fail' | 'drop';
  /** Entities left without events (every row dropped, or a known entity with no rows): drop, fail, or keep at length 0. */
  emptySequences: 'drop' | 'fail' | 'keep';
  /** Label rows whose entity has no (stored) events. They cannot be stored; `drop` counts them. */
  labelsWithoutEvents: 'drop' | 'fail';
  /** Entities with events but no label row: keep them with NaN labels (self-supervised training uses them), drop, or fail. */
  eventsWithoutLabels: 'keep' | 'drop' | 'fail';
  /** A label value that is not a number: fail, or count it and store NaN. */
  invalidLabel: 'fail' | 'missing';
  /** An entity with several label rows that disagree: fail, or keep its first row (file order). */
  conflictingLabels: 'fail' | 'first';
}

/** Defaults of `IngestPolicy`: fail on malformed input, drop what cannot be stored, keep unlabelled entities. */
export const INGEST_POLICY_DEFAULTS: Readonly<IngestPolicy> = {
  invalidTime: 'fail',
  missingEntity: 'fail',
  emptySequences: 'drop',
  labelsWithoutEvents: 'drop',
  eventsWithoutLabels: 'keep',
  invalidLabel: 'fail',
  conflictingLabels: 'fail',
};

const POLICY_CHOICES: { [K in keyof IngestPolicy]: readonly IngestPolicy[K][] } = {
  invalidTime: ['fail', 'drop'],
  missingEntity: ['fail', 'drop'],
  emptySequences: ['drop', 'fail', 'keep'],
  labelsWithoutEvents: ['drop', 'fail'],
  eventsWithoutLabels: ['keep', 'drop', 'fail'],
  invalidLabel: ['fail', 'missing'],
  conflictingLabels: ['fail', 'first'],
};

/** Merges a partial policy over the defaults; throws `E_CONFIG` naming a bad key or value and the valid choices. */
export function parseIngestPolicy(p: Partial<IngestPolicy> = {}): IngestPolicy {
  const out = { ...INGEST_POLICY_DEFAULTS };
  for (const [k, v] of Object.entries(p)) {
    const choices = (POLICY_CHOICES as Record<string, readonly string[] | undefined>)[k];
    if (choices === undefined) {
      throw new SiftError('E_CONFIG', `ingest policy: unknown key "${k}"; keys are ${Object.keys(POLICY_CHOICES).join(', ')}.`);
    }
    if ((v as unknown) === undefined) continue;
    if (!choices.includes(v)) {
      throw new SiftError('E_CONFIG', `ingest policy: ${k} is ${JSON.stringify(v)}; choose one of ${choices.map((c) => `"${c}"`).join(', ')}.`);
    }
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** A count with the first few offending items, for messages. */
export interface CountExamples<T = string> {
  count: number;
  /** Up to 5 examples, in store or file order. */
  examples: T[];
}

/** A bad row: its 1-based data row number (header not counted; across files in glob order) and raw text. */
export interface RowExample {
  row: number;
  value: string | null;
}

/** Per-field counts over the stored events. */
export interface FieldReport {
  kind: 'categorical' | 'numeric';
  /** Stored events whose value was missing (NULL, empty, or for numbers non-finite or unparsable). */
  missing: number;
  /** Numeric: values present in the source that are not numbers (a subset of `missing`). */
  unparsable?: CountExamples<RowExample>;
  /** Categorical: stored events coded OOV (1), missing values included. */
  oov?: number;
}

/** What happened to the labels. */
export interface LabelReport {
  /** Where they came from. */
  source: string;
  /** Label rows read. */
  rows: number;
  /** Distinct entities among them. */
  entities: number;
  /** Label rows without an entity id (never joinable; counted, not used). */
  missingEntity: number;
  /** Rows beyond the first for the same entity. */
  duplicateRows: number;
  /** Entities whose label rows disagree. */
  conflicting: CountExamples;
  /** Label values that are not numbers, per label column. */
  invalid: Record<string, CountExamples<RowExample>>;
  /** Labelled entities without stored events (dropped or failed per policy). */
  withoutEvents: CountExamples;
  /** Stored-candidate entities without a label row. */
  eventsWithoutLabels: CountExamples & { action: 'kept' | 'dropped' };
  /** Stored entities whose label is NaN, per label column (no row, or a missing/invalid value). */
  missing: Record<string, number>;
}

/**
 * Every count of an ingestion. `rows = events + dropped.invalidTime + dropped.missingEntity + dropped.withoutLabels`
 * holds exactly: no row disappears without a reason.
 */
export interface IngestReport {
  /** The events' source, as given. */
  source: string;
  /** Event rows read. */
  rows: number;
  /** Events stored. */
  events: number;
  /** Entities stored. */
  entities: number;
  /** Event rows not stored, by reason. */
  dropped: { invalidTime: number; missingEntity: number; withoutLabels: number };
  /** Rows whose time is missing or unparsable (`missing` of them were empty), with examples. */
  invalidTimes: CountExamples<RowExample> & { missing: number };
  /** Rows without an entity id (their 1-based row numbers as examples). */
  missingEntity: CountExamples<number>;
  /** Entities without events, and what was done with them. */
  emptySequences: CountExamples & { action: 'dropped' | 'kept' };
  /** Per event field. */
  fields: Record<string, FieldReport>;
  /** `null` when no labels were given. */
  labels: LabelReport | null;
  /** Extra counts from a dataset loader's own preprocessing (e.g. merged duplicate measurements). */
  preprocessing: Record<string, number>;
  /** One readable line per non-zero problem count. */
  messages: string[];
  /** Wall time in seconds. */
  seconds: number;
}

/** Progress of a long ingestion. */
export interface IngestProgress {
  stage: 'read' | 'check' | 'labels' | 'fit' | 'encode' | 'done';
  /** Rows done in this stage (for `encode`: events written). */
  done: number;
  /** Rows in this stage, when known. */
  total: number;
}

/** `"a", "b", "c"` for up to 5 examples. */
export function fmtExamples(items: readonly unknown[]): string {
  return items.map((x) => (typeof x === 'string' ? JSON.stringify(x) : String(x))).join(', ');
}

/** `row 5: "32OCT17"` style examples. */
export function fmtRows(items: readonly RowExample[]): string {
  return items.map((r) => `row ${r.row}: ${r.value === null ? 'empty' : JSON.stringify(r.value)}`).join('; ');
}

/** The human-readable lines of a report: one per non-zero problem count. */
export function reportMessages(r: Omit<IngestReport, 'messages' | 'seconds'>): string[] {
  const m: string[] = [];
  if (r.invalidTimes.count > 0) {
    m.push(`${r.invalidTimes.count} of ${r.rows} rows have a missing (${r.invalidTimes.missing}) or unparsable time ` +
      `(${fmtRows(r.invalidTimes.examples)}); ${r.dropped.invalidTime} dropped.`);
  }
  if (r.missingEntity.count > 0) {
    m.push(`${r.missingEntity.count} rows have no entity id (rows ${fmtExamples(r.missingEntity.examples)}); dropped.`);
  }
  if (r.emptySequences.count > 0) {
    m.push(`${r.emptySequences.count} entities have no events (${fmtExamples(r.emptySequences.examples)}); ${r.emptySequences.action}.`);
  }
  for (const [name, f] of Object.entries(r.fields)) {
    if (f.unparsable !== undefined && f.unparsable.count > 0) {
      m.push(`field "${name}": ${f.unparsable.count} values are not numbers (${fmtRows(f.unparsable.examples)}); stored as the fill value.`);
    }
    if (f.missing > 0) m.push(`field "${name}": ${f.missing} stored events have no value.`);
  }
  const l = r.labels;
  if (l !== null) {
    if (l.missingEntity > 0) m.push(`labels: ${l.missingEntity} rows have no entity id; not used.`);
    if (l.duplicateRows > 0) m.push(`labels: ${l.duplicateRows} extra rows repeat an entity (${l.conflicting.count} disagree).`);
    for (const [name, c] of Object.entries(l.invalid)) {
      if (c.count > 0) m.push(`labels: column "${name}" has ${c.count} values that are not numbers (${fmtRows(c.examples)}); stored as NaN.`);
    }
    if (l.withoutEvents.count > 0) {
      m.push(`labels: ${l.withoutEvents.count} labelled entities have no events (${fmtExamples(l.withoutEvents.examples)}); dropped.`);
    }
    if (l.eventsWithoutLabels.count > 0) {
      m.push(`labels: ${l.eventsWithoutLabels.count} entities have events but no label ` +
        `(${fmtExamples(l.eventsWithoutLabels.examples)}); ${l.eventsWithoutLabels.action}.`);
    }
  }
  for (const [k, v] of Object.entries(r.preprocessing)) if (v > 0) m.push(`preprocessing: ${k} = ${v}.`);
  return m;
}
