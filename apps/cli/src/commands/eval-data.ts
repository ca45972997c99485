/**
 * Inputs of `sift eval probe` and `sift eval mc`: feature and label tables from CSV (a header row; an optional `id`
 * column joins features to labels, as `sift eventseq embed` writes them: `id,e0,e1,...`), NumPy `.npy` (float32/64,
 * int32/64, C order) and safetensors files; and the sentence splitter that turns Brown documents into the
 * next-sentence multiple-choice task.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseSafetensors, safeTensorToF32 } from '@sift/tensor-core';
import { UsageError } from '../config.js';

/** A table read from a file: numeric rows, or raw cells for labels, with optional row ids. */
export interface Table {
  /** Column names (CSV header; `e0..` / `label` for arrays). */
  columns: string[];
  /** Row ids (the `id` column of a CSV), or null. */
  ids: string[] | null;
  /** Cells by column (strings as read, for labels that may be names). */
  cells: string[][];
  rows: number;
}

/** Splits CSV text into records (RFC 4180: quoted fields may hold commas, doubled quotes and newlines). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      field = '';
      if (!(record.length === 1 && record[0] === '')) records.push(record);
      record = [];
    } else field += c;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

function readCsv(path: string, option: string): Table {
  const records = parseCsv(readFileSync(path, 'utf8'));
  if (records.length < 2) throw new UsageError(`${option} ${path} has no data rows; a CSV needs a header row and one row per example`);
  const header = records[0].map((h) => h.trim());
  const idCol = header.indexOf('id');
  const columns = header.filter((_, j) => j !== idCol);
  const cells: string[][] = columns.map(() => []);
  const ids: string[] | null = idCol < 0 ? null : [];
  for (const [r, rec] of records.slice(1).entries()) {
    if (rec.length !== header.length) {
      throw new UsageError(`${option} ${path} line ${String(r + 2)} has ${String(rec.length)} fields, the header has ${String(header.length)}`);
    }
    let c = 0;
    for (let j = 0; j < rec.length; j++) {
      if (j === idCol) ids?.push(rec[j]);
      else cells[c++].push(rec[j].trim());
    }
  }
  return { columns, ids, cells, rows: records.length - 1 };
}

/** Parses a NumPy `.npy` file (format 1.x-3.x, little-endian float32/float64/int32/int64, C order) into rows. */
export function parseNpy(bytes: Uint8Array, path = 'array.npy'): { shape: number[]; data: Float64Array } {
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== '\x93NUMPY') throw new UsageError(`${path} is not a NumPy .npy file (bad magic)`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/u.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/u.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/u.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined) throw new UsageError(`${path}: cannot read the .npy header ${header.trim()}`);
  if (fortran) throw new UsageError(`${path} is in Fortran order; save it with numpy.ascontiguousarray first`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const data = new Float64Array(n);
  const readers: Record<string, [number, (o: number) => number]> = {
    '<f4': [4, (o) => view.getFloat32(o, true)], '<f8': [8, (o) => view.getFloat64(o, true)],
    '<i4': [4, (o) => view.getInt32(o, true)], '<i8': [8, (o) => Number(view.getBigInt64(o, true))],
    '|u1': [1, (o) => view.getUint8(o)], '|i1': [1, (o) => view.getInt8(o)], '|b1': [1, (o) => view.getUint8(o)],
  };
  const reader = readers[descr] as [number, (o: number) => number] | undefined;
  if (reader === undefined) throw new UsageError(`${path} has dtype ${descr}; use float32, float64, int32, int64 or uint8 (little-endian)`);
  const [size, get] = reader;
  if (offset + n * size > bytes.byteLength) throw new UsageError(`${path} is truncated: shape (${shape.join(', ')}) needs ${String(n * size)} bytes of data`);
  for (let i = 0; i < n; i++) data[i] = get(offset + i * size);
  return { shape, data };
}

function arrayTable(shape: number[], data: ArrayLike<number>, path: string, option: string, kind: 'features' | 'labels', labelName = 'label'): Table {
  if (kind === 'labels' && !(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw new UsageError(`${option} ${path} has shape [${shape.join(', ')}]; labels must be one value per row ([N] or [N, 1])`);
  }
  if (kind === 'features' && shape.length !== 2) throw new UsageError(`${option} ${path} has shape [${shape.join(', ')}]; features must be [N, D]`);
  const rows = shape[0];
  const cols = shape.length === 2 ? shape[1] : 1;
  const columns = kind === 'labels' ? [labelName] : Array.from({ length: cols }, (_, j) => `e${String(j)}`);
  const cells = columns.map((_, j) => Array.from({ length: rows }, (_unused, i) => String(data[i * cols + j])));
  return { columns, ids: null, cells, rows };
}

/**
 * Reads a feature or label table from `.csv`, `.npy` or `.safetensors`. A safetensors file gives its only tensor, the
 * first of `tensors` it holds, or by default `embeddings` (features) / `labels` (labels); `sift eventseq embed` writes
 * `embeddings` [N, D] and one `labels.<name>` [N] per label.
 */
export function readTable(path: string, option: string, kind: 'features' | 'labels', tensors: readonly string[] = []): Table {
  if (!existsSync(path)) throw new UsageError(`${option} ${path} does not exist`);
  const lower = path.toLowerCase();
  if (lower.endsWith('.csv')) return readCsv(path, option);
  if (lower.endsWith('.npy')) {
    const { shape, data } = parseNpy(readFileSync(path), path);
    return arrayTable(shape, data, path, option, kind);
  }
  if (lower.endsWith('.safetensors')) {
    const bytes = readFileSync(path);
    const file = parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { source: path });
    const names = file.names;
    const name = tensors.length > 0 ? tensors.find((t) => file.has(t))
      : names.length === 1 ? names[0] : names.find((n) => n === (kind === 'features' ? 'embeddings' : 'labels'));
    if (name === undefined) {
      throw new UsageError(`${option} ${path} holds tensors ${names.join(', ')}; name the one to use with --${kind}-tensor` +
        (kind === 'labels' ? ' (or --label-column <name> for labels.<name>)' : ''));
    }
    const t = file.get(name);
    const data: ArrayLike<number> = t.dtype === 'F64' ? t.data : safeTensorToF32(t, { name });
    return arrayTable([...t.shape], data, path, option, kind, name);
  }
  throw new UsageError(`${option} ${path}: unknown file type; use .csv (header row, optional id column), .npy or .safetensors`);
}

/**
 * Splits a Brown document's text (sentences separated by a space, paragraphs by a blank line) into sentences: a
 * sentence ends at `.`, `?` or `!` (optionally followed by closing quotes or brackets) before whitespace and an
 * upper-case letter, digit or opening quote. Headlines are paragraphs of their own and stay whole. A heuristic: an
 * abbreviation such as "Mr. Smith" also splits, which only makes some items easier or harder, the same for every model.
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  for (const para of text.split(/\n\s*\n/u)) {
    const p = para.replace(/\s+/gu, ' ').trim();
    if (p === '') continue;
    for (const s of p.split(/(?<=[.?!]["')\]]*)\s+(?=["'([]?[A-Z0-9])/u)) {
      const t = s.trim();
      if (t.split(' ').length >= 3) out.push(t);
    }
  }
  return out;
}
