/**
 * Sequence store persistence: the typed arrays in one safetensors file (bit-exact), the rest (entity ids, the fitted
 * encoder) in a JSON sidecar beside it (DESIGN.md "Checkpoints": safetensors plus a JSON sidecar, never pickle).
 */
import { readSafetensorsFile, SiftError, writeFileAtomic, writeSafetensorsFile, type SafeTensor } from '@sift/tensor-core';
import { EventEncoder, type EventEncoderJSON } from './encoder.js';
import { SequenceStore } from './store.js';

/** The sidecar JSON of a saved store. */
export interface StoreSidecar {
  format: 'sift.sequence-store';
  version: 1;
  /** File name of the tensors, relative to the sidecar. */
  tensors: string;
  numEntities: number;
  numEvents: number;
  entityIds: string[];
  labels: string[];
  encoder: EventEncoderJSON;
}

/** Where a store lives: `<base>.safetensors` and `<base>.json`. */
export function storePaths(path: string): { tensors: string; sidecar: string } {
  const base = path.replace(/\.(safetensors|json)$/, '');
  return { tensors: `${base}.safetensors`, sidecar: `${base}.json` };
}

/**
 * Saves a store as `<base>.safetensors` (tensors `offsets`, `times`, `codes.<field>`, `values.<field>`,
 * `labels.<name>`) and `<base>.json` (ids, encoder). `path` may end in `.safetensors` or name the base.
 * Both files are written atomically.
 * @example
 * await saveStore(store, 'data/age-train');         // data/age-train.safetensors + data/age-train.json
 * const again = await loadStore('data/age-train');  // bit-identical arrays
 */
export async function saveStore(store: SequenceStore, path: string): Promise<{ tensors: string; sidecar: string }> {
  const paths = storePaths(path);
  const tensors: Record<string, SafeTensor> = {};
  const e = store.numEntities;
  const n = store.numEvents;
  tensors.offsets = store.offsets instanceof BigInt64Array
    ? { dtype: 'I64', shape: [e + 1], data: store.offsets }
    : { dtype: 'I32', shape: [e + 1], data: store.offsets };
  tensors.times = store.times instanceof Float64Array
    ? { dtype: 'F64', shape: [n], data: store.times }
    : { dtype: 'F32', shape: [n], data: store.times };
  for (const [k, a] of Object.entries(store.codes)) tensors[`codes.${k}`] = { dtype: 'I32', shape: [n], data: a };
  for (const [k, a] of Object.entries(store.values)) tensors[`values.${k}`] = { dtype: 'F32', shape: [n], data: a };
  for (const [k, a] of Object.entries(store.labels)) tensors[`labels.${k}`] = { dtype: 'F64', shape: [e], data: a };
  await writeSafetensorsFile(paths.tensors, tensors, { format: 'sift.sequence-store', version: '1' });
  const nodePath = await import('node:path');
  const sidecar: StoreSidecar = {
    format: 'sift.sequence-store', version: 1, tensors: nodePath.basename(paths.tensors), numEntities: e, numEvents: n,
    entityIds: [...store.entityIds], labels: store.labelNames, encoder: store.encoder.toJSON(),
  };
  await writeFileAtomic(paths.sidecar, `${JSON.stringify(sidecar)}\n`);
  return paths;
}

/**
 * Loads a store saved by `saveStore`.
 * @throws SiftError `E_IO` when a file is missing, `E_DATA` when the files do not form a valid store.
 */
export async function loadStore(path: string): Promise<SequenceStore> {
  const paths = storePaths(path);
  const { readFile } = await import('node:fs/promises');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(paths.sidecar, 'utf8'));
  } catch (err) {
    throw new SiftError('E_IO', `loadStore: cannot read the sidecar "${paths.sidecar}": ${(err as Error).message}. ` +
      'A store is two files, <base>.safetensors and <base>.json, written by saveStore.', { cause: err });
  }
  const bad = (what: string): never => {
    throw new SiftError('E_DATA', `loadStore: "${paths.sidecar}" / "${paths.tensors}": ${what}.`);
  };
  const side = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (side.format !== 'sift.sequence-store' || side.version !== 1) bad(`not a version-1 Sift sequence store sidecar (format ${JSON.stringify(side.format)})`);
  const entityIds = side.entityIds;
  if (!Array.isArray(entityIds) || !entityIds.every((x) => typeof x === 'string')) return bad('entityIds must be strings');
  const labelNames = side.labels;
  if (!Array.isArray(labelNames) || !labelNames.every((x) => typeof x === 'string')) return bad('labels must be strings');
  const encoder = EventEncoder.fromJSON(side.encoder, `store sidecar "${paths.sidecar}"`);
  const file = await readSafetensorsFile(paths.tensors, { copy: true });
  const get = (name: string): SafeTensor => {
    if (!file.has(name)) bad(`tensor "${name}" is missing (tensors: ${file.names.join(', ')})`);
    return file.get(name);
  };
  const offsetsT = get('offsets');
  const timesT = get('times');
  if (offsetsT.dtype !== 'I32' && offsetsT.dtype !== 'I64') bad(`offsets has dtype ${offsetsT.dtype}, expected I32 or I64`);
  if (timesT.dtype !== 'F64' && timesT.dtype !== 'F32') bad(`times has dtype ${timesT.dtype}, expected F64 or F32`);
  const codes: Record<string, Int32Array> = {};
  const values: Record<string, Float32Array> = {};
  for (const f of encoder.fields) {
    if (f.kind === 'categorical') {
      const t = get(`codes.${f.name}`);
      if (t.dtype !== 'I32') bad(`codes.${f.name} has dtype ${t.dtype}, expected I32`);
      codes[f.name] = t.data as Int32Array;
    } else {
      const t = get(`values.${f.name}`);
      if (t.dtype !== 'F32') bad(`values.${f.name} has dtype ${t.dtype}, expected F32`);
      values[f.name] = t.data as Float32Array;
    }
  }
  const labels: Record<string, Float64Array> = {};
  for (const name of labelNames) {
    const t = get(`labels.${name}`);
    if (t.dtype !== 'F64') bad(`labels.${name} has dtype ${t.dtype}, expected F64`);
    labels[name] = t.data as Float64Array;
  }
  return new SequenceStore({
    entityIds, offsets: offsetsT.data as Int32Array | BigInt64Array,
    times: timesT.data as Float64Array | Float32Array, codes, values, labels, encoder,
  });
}
