import { SiftError } from '../errors.js';
import { dtypeSize, isSafetensorsDtype, SAFETENSORS_DTYPES, type SafetensorsDtype } from './dtypes.js';
import { parseStrictJson, StrictJsonError, type JsonValue } from './strict-json.js';

/** Where one tensor lives in a safetensors file. */
export interface SafetensorsEntry {
  /** Element type. */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first. */
  shape: number[];
  /** `[begin, end)` in bytes, relative to the start of the data section (`SafetensorsHeader.dataStart`). */
  dataOffsets: [number, number];
}

/** The parsed, validated header of a safetensors file. */
export interface SafetensorsHeader {
  /** N, the byte length of the JSON header (the u64 at the start of the file). */
  headerSize: number;
  /** 8 + N: file offset of the data section, to which every `dataOffsets` is relative. */
  dataStart: number;
  /** Byte length of the data section; the tensors cover it exactly. */
  dataSize: number;
  /** The tensors by name, in file (offset) order. */
  tensors: Map<string, SafetensorsEntry>;
  /** The free-form string map stored under `__metadata__` (`{}` when absent). */
  metadata: Record<string, string>;
}

/** Options of the parsers. */
export interface SafetensorsParseOptions {
  /**
   * Largest accepted JSON header, in bytes. Default 100,000,000, the reference implementation's `MAX_HEADER_SIZE`.
   * A length above it is an error before anything is allocated.
   */
  maxHeaderBytes?: number;
  /** Names the input in error messages (a file path, a URL); default "safetensors data". */
  source?: string;
  /**
   * Copy every tensor into its own buffer instead of returning views of the input. Default false: views are
   * zero-copy (except unaligned ones) and share memory with the input, which must then not be modified.
   */
  copy?: boolean;
}

/** Defaults of `SafetensorsParseOptions`. */
export const SAFETENSORS_PARSE_DEFAULTS: Readonly<Required<SafetensorsParseOptions>> = Object.freeze({
  maxHeaderBytes: 100_000_000,
  source: 'safetensors data',
  copy: false,
});

/** Options validated and merged with the defaults. */
export function resolveParseOptions(options: SafetensorsParseOptions = {}): Required<SafetensorsParseOptions> {
  const o = { ...SAFETENSORS_PARSE_DEFAULTS, ...stripUndefined(options) };
  if (!Number.isSafeInteger(o.maxHeaderBytes) || o.maxHeaderBytes < 2) {
    throw new SiftError('E_CONFIG', `safetensors options: maxHeaderBytes must be an integer >= 2, got ${String(o.maxHeaderBytes)}.`);
  }
  if (typeof o.source !== 'string') throw new SiftError('E_CONFIG', 'safetensors options: source must be a string.');
  if (typeof o.copy !== 'boolean') throw new SiftError('E_CONFIG', 'safetensors options: copy must be a boolean.');
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Throws the format error, prefixed with what was being read. */
export function badFile(source: string, problem: string, cause?: unknown): never {
  throw new SiftError('E_SAFETENSORS', `${quoteSource(source)}: ${problem}`, cause === undefined ? undefined : { cause });
}

function quoteSource(source: string): string {
  return source === SAFETENSORS_PARSE_DEFAULTS.source ? source : `safetensors file "${source}"`;
}

const MIB = 1024 * 1024;
function fmtBytes(n: number): string {
  return n >= MIB ? `${n} bytes (${(n / MIB).toFixed(1)} MiB)` : `${n} bytes`;
}

/**
 * Reads the 8-byte little-endian header length N from `prefix` and checks it against the cap and the file size.
 * Returns N. `fileSize` is the size of the whole file.
 */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, maxHeaderBytes: number, source: string): number {
  if (fileSize < 8) {
    badFile(source, `is ${fileSize} bytes long, shorter than the 8-byte header length; it is not a safetensors file ` +
      '(or it was truncated).');
  }
  if (prefix.byteLength < 8) badFile(source, `only ${prefix.byteLength} bytes were given; the header length needs 8.`);
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  // u64 little-endian; a high word above 0 already exceeds any cap (the cap is < 2^32 in practice, checked below).
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // exact below 2^53; larger values are only compared against the cap
  if (n > maxHeaderBytes) {
    badFile(source, `header length ${hi === 0 ? n : n.toExponential(3)} is above the ${fmtBytes(maxHeaderBytes)} cap ` +
      '(maxHeaderBytes); the file is corrupt, not a safetensors file, or needs a larger maxHeaderBytes.');
  }
  if (n < 2) badFile(source, `header length is ${n}; a header holds at least "{}".`);
  if (8 + n > fileSize) {
    badFile(source, `header length ${n} runs past the end of the ${fileSize}-byte file (8 + ${n} > ${fileSize}); ` +
      'the file is truncated or not a safetensors file.');
  }
  return n;
}

/**
 * Parses and validates the header of a safetensors file following the reference implementation
 * (huggingface/safetensors `SafeTensors::read_metadata` and `Metadata::validate`): UTF-8 JSON object starting with
 * `{`, an entry `{ dtype, shape, data_offsets }` per tensor, an optional `__metadata__` string map, and tensors
 * that, sorted by offset, tile the data section `[0, dataSize)` exactly with no gap or overlap, each spanning
 * `dtypeSize * product(shape)` bytes.
 *
 * @param bytes    at least the first `8 + N` bytes of the file
 * @param fileSize the size of the whole file; defaults to `bytes.byteLength` (the whole file was given)
 */
export function parseSafetensorsHeader(bytes: Uint8Array, options: SafetensorsParseOptions & { fileSize?: number } = {}): SafetensorsHeader {
  const { maxHeaderBytes, source } = resolveParseOptions(options);
  const fileSize = options.fileSize ?? bytes.byteLength;
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) {
    throw new SiftError('E_CONFIG', `parseSafetensorsHeader: fileSize must be a non-negative integer, got ${String(fileSize)}.`);
  }
  const n = readHeaderLength(bytes, fileSize, maxHeaderBytes, source);
  if (bytes.byteLength < 8 + n) {
    badFile(source, `only ${bytes.byteLength} bytes were given but the header needs 8 + ${n}.`);
  }
  return parseHeaderJson(bytes.subarray(8, 8 + n), n, fileSize - 8 - n, source);
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes and validates the JSON header (`json` is the N header bytes) given the data-section size. */
export function parseHeaderJson(json: Uint8Array, headerSize: number, dataSize: number, source: string): SafetensorsHeader {
  let text: string;
  try {
    text = decoder.decode(json);
  } catch (err) {
    return badFile(source, `the ${headerSize}-byte header is not valid UTF-8.`, err);
  }
  if (!text.startsWith('{')) {
    badFile(source, `the header must be a JSON object starting with '{' but starts with ${JSON.stringify(text.slice(0, 16))}; ` +
      'this is not a safetensors file.');
  }
  let root: JsonValue;
  try {
    root = parseStrictJson(text);
  } catch (err) {
    if (err instanceof StrictJsonError) badFile(source, `the header is not valid JSON: ${err.message}.`, err);
    throw err;
  }
  if (!(root instanceof Map)) return badFile(source, 'the header is not a JSON object.');

  let metadata: Record<string, string> = {};
  const found: [string, SafetensorsEntry][] = [];
  for (const [name, value] of root) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, source);
      continue;
    }
    found.push([name, parseEntry(name, value, source)]);
  }

  // The reference sorts by (begin, end) and requires each tensor to start where the previous one ended.
  found.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let pos = 0;
  let prev: string | undefined;
  for (const [name, e] of found) {
    const [begin, end] = e.dataOffsets;
    if (end > dataSize || begin > dataSize) {
      badFile(source, `tensor ${JSON.stringify(name)} has data_offsets [${begin}, ${end}] outside the data section ` +
        `[0, ${dataSize}] (file size - 8 - header length); the file is truncated or the header is wrong.`);
    }
    if (begin < pos) {
      badFile(source, `tensor ${JSON.stringify(name)} (data_offsets [${begin}, ${end}]) overlaps tensor ` +
        `${JSON.stringify(prev)} which ends at ${pos}; tensors must not share bytes.`);
    }
    if (begin > pos) {
      badFile(source, `the data section has a gap [${pos}, ${begin}) before tensor ${JSON.stringify(name)}; ` +
        'tensors must cover it contiguously (as the reference implementation requires).');
    }
    pos = end;
    prev = name;
  }
  if (pos !== dataSize) {
    badFile(source, `the tensors cover ${pos} bytes of the ${dataSize}-byte data section; ` +
      `${dataSize - pos} trailing bytes belong to no tensor (the data section must be covered exactly).`);
  }
  return { headerSize, dataStart: 8 + headerSize, dataSize, tensors: new Map(found), metadata };
}

function parseMetadata(value: JsonValue, source: string): Record<string, string> {
  if (value === null) return {}; // serde reads `null` as an absent Option
  if (!(value instanceof Map)) {
    badFile(source, `"__metadata__" must be an object of strings, got ${jsonKind(value)}.`);
  }
  const out: [string, string][] = [];
  for (const [k, v] of value) {
    if (typeof v !== 'string') {
      badFile(source, `"__metadata__" values must be strings, but ${JSON.stringify(k)} is ${jsonKind(v)}; ` +
        'store structured data as a JSON string.');
    }
    out.push([k, v]);
  }
  // fromEntries defines own properties, so a "__proto__" key is data, not a prototype change.
  return Object.fromEntries(out);
}

function parseEntry(name: string, value: JsonValue, source: string): SafetensorsEntry {
  const where = `tensor ${JSON.stringify(name)}`;
  if (!(value instanceof Map)) {
    return badFile(source, `${where}: entry must be an object {dtype, shape, data_offsets}, got ${jsonKind(value)}.`);
  }
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!value.has(field)) badFile(source, `${where}: entry has no "${field}" field (needs dtype, shape, data_offsets).`);
  }
  const dtype = value.get('dtype');
  if (!isSafetensorsDtype(dtype)) {
    badFile(source, `${where}: unknown dtype ${typeof dtype === 'string' ? JSON.stringify(dtype) : jsonKind(dtype)}; ` +
      `valid dtypes are ${SAFETENSORS_DTYPES.join(', ')}.`);
  }
  const shapeV = value.get('shape');
  if (!Array.isArray(shapeV)) badFile(source, `${where}: shape must be an array of integers, got ${jsonKind(shapeV)}.`);
  const shape: number[] = [];
  for (const d of shapeV) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      badFile(source, `${where}: shape has dimension ${typeof d === 'number' ? String(d) : jsonKind(d)}; ` +
        'dimensions must be non-negative integers.');
    }
    shape.push(d);
  }
  const offV = value.get('data_offsets');
  if (!Array.isArray(offV) || offV.length !== 2) {
    return badFile(source, `${where}: data_offsets must be [begin, end], got ${Array.isArray(offV) ? `${offV.length} values` : jsonKind(offV)}.`);
  }
  const [b, e] = offV;
  for (const o of [b, e]) {
    if (typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0) {
      badFile(source, `${where}: data_offsets [${offV.map((x) => JSON.stringify(x)).join(', ')}] must be non-negative integers.`);
    }
  }
  const begin = b as number;
  const end = e as number;
  if (end < begin) badFile(source, `${where}: data_offsets [${begin}, ${end}] end before they begin.`);
  // Element count without overflow: a zero dimension makes it 0 whatever the others are (as in checked_mul).
  const size = dtypeSize(dtype);
  let count = 1;
  if (!shape.includes(0)) {
    for (const d of shape) {
      count *= d;
      if (count * size > Number.MAX_SAFE_INTEGER) {
        badFile(source, `${where}: shape [${shape.join(', ')}] x ${size} bytes overflows (more than 2^53 bytes).`);
      }
    }
  } else {
    count = 0;
  }
  if (end - begin !== count * size) {
    badFile(source, `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but dtype ${dtype} x shape ` +
      `[${shape.join(', ')}] needs ${size} x ${count} = ${count * size} bytes.`);
  }
  return { dtype, shape, dataOffsets: [begin, end] };
}

function jsonKind(v: JsonValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}
