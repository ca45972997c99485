import { SiftError } from '../errors.js';
import {
  arrayNameOf, assertLittleEndian, bytesOf, dtypeArrayCtor, dtypeRank, dtypeSize, isSafetensorsDtype, SAFETENSORS_DTYPES,
  shapeSize, typedView, type SafeTensor,
} from './dtypes.js';
import {
  badFile, parseSafetensorsHeader, resolveParseOptions, type SafetensorsEntry, type SafetensorsHeader,
  type SafetensorsParseOptions,
} from './header.js';

/**
 * A parsed safetensors file held in memory. Tensors are materialised on access: `get(name)` returns a view of the
 * input bytes (zero-copy when aligned, a copy otherwise or with `{ copy: true }`).
 */
export interface SafetensorsData {
  /** The validated header: entries in file order, sizes, `__metadata__`. */
  readonly header: SafetensorsHeader;
  /** `__metadata__` (a string map; `{}` when the file has none). */
  readonly metadata: Record<string, string>;
  /** Tensor names in file order. */
  readonly names: string[];
  /** True when the file holds a tensor called `name`. */
  has(name: string): boolean;
  /** The tensor `name`; throws `E_SAFETENSORS` listing the available names when there is none. */
  get(name: string): SafeTensor;
  /** Every tensor by name, in file order. */
  tensors(): Map<string, SafeTensor>;
}

/** Tensors to write: a `Map` or a plain record, name -> tensor. */
export type SafeTensorMap = ReadonlyMap<string, SafeTensor> | Readonly<Record<string, SafeTensor>>;

/**
 * Parses a whole safetensors file held in memory (a `Uint8Array`, a Node `Buffer`, or
 * `new Uint8Array(arrayBuffer)` from a browser `File`). Validates the header fully (see `parseSafetensorsHeader`);
 * tensor data is not touched until `get` / `tensors()`. Browser-safe.
 *
 * Every malformed input throws `SiftError('E_SAFETENSORS')` naming `options.source` and the problem; memory use is
 * proportional to the input.
 * @example
 * const file = parseSafetensors(new Uint8Array(await blob.arrayBuffer()), { source: blob.name });
 * const wte = file.get('wte.weight'); // { dtype: 'F32', shape: [50257, 768], data: Float32Array }
 */
export function parseSafetensors(bytes: Uint8Array, options: SafetensorsParseOptions = {}): SafetensorsData {
  if (!(bytes instanceof Uint8Array)) {
    throw new SiftError('E_SAFETENSORS', 'parseSafetensors: expected a Uint8Array (use new Uint8Array(arrayBuffer)).');
  }
  const o = resolveParseOptions(options);
  const header = parseSafetensorsHeader(bytes, { maxHeaderBytes: o.maxHeaderBytes, source: o.source });
  return safetensorsData(header, bytes, o.copy, o.source);
}

/** Wraps a validated header and the whole file's bytes. */
export function safetensorsData(header: SafetensorsHeader, bytes: Uint8Array, copy: boolean, source: string): SafetensorsData {
  const names = [...header.tensors.keys()];
  const get = (name: string): SafeTensor => {
    const e = header.tensors.get(name);
    if (e === undefined) return missingTensor(source, name, names);
    return entryTensor(e, bytes.subarray(header.dataStart + e.dataOffsets[0], header.dataStart + e.dataOffsets[1]), copy);
  };
  return {
    header,
    metadata: header.metadata,
    names,
    has: (name) => header.tensors.has(name),
    get,
    tensors: () => new Map(names.map((n) => [n, get(n)])),
  };
}

/** A `SafeTensor` of entry `e` over exactly its bytes. */
export function entryTensor(e: SafetensorsEntry, bytes: Uint8Array, copy: boolean): SafeTensor {
  return { dtype: e.dtype, shape: [...e.shape], data: typedView(e.dtype, bytes, copy) } as SafeTensor;
}

/** Throws "no tensor named ..." with the names the file does have. */
export function missingTensor(source: string, name: string, names: readonly string[]): never {
  const shown = names.slice(0, 20).map((n) => JSON.stringify(n)).join(', ');
  return badFile(source, `has no tensor ${JSON.stringify(name)}; its ${names.length} tensors are ` +
    `${names.length === 0 ? '(none)' : shown}${names.length > 20 ? ', ...' : ''}.`);
}

/** A serialisation plan: header bytes (with the 8-byte length) and tensor bytes in file order. */
export interface SafetensorsPlan {
  /** The 8-byte length followed by the padded JSON header. */
  head: Uint8Array;
  /** Tensor bytes in file order. */
  chunks: { name: string; bytes: Uint8Array }[];
  /** Total file size, bytes. */
  totalBytes: number;
}

/**
 * Code-point order, which is the byte order of the UTF-8 encodings (Rust's `String` `Ord`, Python's `sorted`),
 * unlike `<` on UTF-16 code units.
 */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done === true) return y.done === true ? 0 : -1;
    if (y.done === true) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

const LONE_SURROGATE = /\p{Surrogate}/u;

function entriesOf(tensors: SafeTensorMap): [string, SafeTensor][] {
  if (tensors instanceof Map) return [...(tensors as ReadonlyMap<string, SafeTensor>).entries()];
  const raw: unknown = tensors; // checked at run time for JavaScript callers
  if (typeof raw !== 'object' || raw === null) {
    throw new SiftError('E_CONFIG', 'serializeSafetensors: tensors must be a Map or a record of name -> SafeTensor.');
  }
  return Object.entries(tensors as Record<string, SafeTensor>);
}

/** Checks a tensor to be written and returns its bytes. */
function checkTensor(name: string, t: SafeTensor): Uint8Array {
  const where = `serializeSafetensors: tensor ${JSON.stringify(name)}`;
  const raw: unknown = t; // checked at run time for JavaScript callers
  if (typeof raw !== 'object' || raw === null) throw new SiftError('E_CONFIG', `${where} is not a { dtype, shape, data } record.`);
  if (!isSafetensorsDtype(t.dtype)) {
    throw new SiftError('E_DTYPE', `${where}: unknown dtype ${JSON.stringify(t.dtype)}; valid dtypes are ${SAFETENSORS_DTYPES.join(', ')}.`);
  }
  if (!Array.isArray(t.shape)) throw new SiftError('E_SHAPE', `${where}: shape must be an array of integers.`);
  const count = shapeSize(t.shape, where);
  const ctor = dtypeArrayCtor(t.dtype);
  const data = t.data as unknown;
  const size = dtypeSize(t.dtype);
  // Raw little-endian bytes are accepted for every dtype (packed formats, bit patterns from elsewhere).
  if (data instanceof Uint8Array && !(ctor === Uint8Array)) {
    if (data.byteLength !== count * size) {
      throw new SiftError('E_SHAPE', `${where}: ${data.byteLength} raw bytes but dtype ${t.dtype} x shape ` +
        `[${t.shape.join(', ')}] needs ${count * size}.`);
    }
    return data;
  }
  if (!(data instanceof ctor)) {
    const got = ArrayBuffer.isView(data) ? data.constructor.name : typeof data;
    const hint = t.dtype === 'F16' ? ' (convert float32 values with f32ArrayToF16)' :
      t.dtype === 'BF16' ? ' (convert float32 values with f32ArrayToBf16)' : '';
    throw new SiftError('E_DTYPE', `${where}: dtype ${t.dtype} needs data as a ${arrayNameOf(t.dtype)} (or raw bytes in ` +
      `a Uint8Array), got ${got}${hint}.`);
  }
  if (data.length !== count) {
    throw new SiftError('E_SHAPE', `${where}: ${data.length} elements but shape [${t.shape.join(', ')}] has ${count}.`);
  }
  return bytesOf(data);
}

/**
 * Lays out a file like the reference serializer: tensors sorted by dtype alignment (largest first, in the
 * reference's enum order) then by name, so every tensor starts at a multiple of its element size; the JSON header
 * compact, `__metadata__` first (keys sorted), tensor entries in file order, padded with spaces to a multiple of 8.
 */
export function planSafetensors(tensors: SafeTensorMap, metadata?: Readonly<Record<string, string>>): SafetensorsPlan {
  assertLittleEndian();
  const items = entriesOf(tensors).map(([name, t]) => {
    if (name === '__metadata__') {
      throw new SiftError('E_CONFIG', 'serializeSafetensors: "__metadata__" is reserved for the metadata map; rename the tensor.');
    }
    if (LONE_SURROGATE.test(name)) {
      throw new SiftError('E_CONFIG', `serializeSafetensors: tensor name ${JSON.stringify(name)} has a lone UTF-16 surrogate, which UTF-8 cannot store.`);
    }
    return { name, dtype: t.dtype, shape: t.shape, bytes: checkTensor(name, t) };
  });
  items.sort((a, b) => dtypeRank(b.dtype) - dtypeRank(a.dtype) || compareCodePoints(a.name, b.name));

  const parts: string[] = [];
  if (metadata !== undefined) {
    const raw: unknown = metadata;
    if (typeof raw !== 'object' || raw === null) throw new SiftError('E_CONFIG', 'serializeSafetensors: metadata must be a record of strings.');
    const keys = Object.keys(metadata).sort(compareCodePoints);
    const kv: string[] = [];
    for (const k of keys) {
      const v = metadata[k] as unknown;
      if (typeof v !== 'string') {
        throw new SiftError('E_CONFIG', `serializeSafetensors: metadata[${JSON.stringify(k)}] is ${typeof v}; safetensors ` +
          'metadata values must be strings (JSON.stringify structured values).');
      }
      if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) {
        throw new SiftError('E_CONFIG', `serializeSafetensors: metadata[${JSON.stringify(k)}] has a lone UTF-16 surrogate.`);
      }
      kv.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${kv.join(',')}}`);
  }
  let offset = 0;
  const chunks: { name: string; bytes: Uint8Array }[] = [];
  for (const it of items) {
    const end = offset + it.bytes.byteLength;
    parts.push(`${JSON.stringify(it.name)}:{"dtype":"${it.dtype}","shape":[${it.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    chunks.push({ name: it.name, bytes: it.bytes });
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerSize = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + headerSize);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, headerSize % 2 ** 32, true);
  dv.setUint32(4, Math.floor(headerSize / 2 ** 32), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.byteLength);
  return { head, chunks, totalBytes: head.byteLength + offset };
}

/**
 * Serialises tensors to safetensors bytes, laid out as the reference implementation does: byte-identical to
 * Python's `safetensors.torch.save` for the same tensors and at most one metadata key (the reference writes several
 * metadata keys in hash order; Sift sorts them). Browser-safe.
 *
 * Each tensor's `data` must be its dtype's typed array (`Float32Array` for F32, `Uint16Array` bits for F16/BF16,
 * `BigInt64Array` for I64, `Uint8Array` for BOOL, ...) or raw little-endian bytes in a `Uint8Array`.
 * @example
 * const bytes = serializeSafetensors(
 *   { w: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } },
 *   { format: 'pt' },
 * );
 */
export function serializeSafetensors(tensors: SafeTensorMap, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const plan = planSafetensors(tensors, metadata);
  const out = new Uint8Array(plan.totalBytes);
  out.set(plan.head, 0);
  let pos = plan.head.byteLength;
  for (const c of plan.chunks) {
    out.set(c.bytes, pos);
    pos += c.bytes.byteLength;
  }
  return out;
}
