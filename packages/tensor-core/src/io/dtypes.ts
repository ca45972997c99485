import { SiftError } from '../errors.js';

/**
 * The safetensors dtypes Sift reads and writes, spelled as in the file header. The order is the reference
 * implementation's `Dtype` enum order (huggingface/safetensors `tensor.rs`), which its serializer sorts by.
 */
export const SAFETENSORS_DTYPES: readonly SafetensorsDtype[] = [
  'BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64',
];

/** A safetensors dtype name. F16/BF16 and F8_* are kept as raw bits; convert with `f16ArrayToF32` etc. */
export type SafetensorsDtype =
  | 'BOOL' | 'U8' | 'I8' | 'F8_E5M2' | 'F8_E4M3' | 'I16' | 'U16' | 'F16' | 'BF16'
  | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64';

/** The in-memory typed array of each dtype (little-endian, as in the file). */
export interface SafetensorsArrayMap {
  BOOL: Uint8Array;
  U8: Uint8Array;
  I8: Int8Array;
  F8_E5M2: Uint8Array;
  F8_E4M3: Uint8Array;
  I16: Int16Array;
  U16: Uint16Array;
  /** IEEE 754 binary16 bit patterns. */
  F16: Uint16Array;
  /** bfloat16 bit patterns (the upper half of a float32). */
  BF16: Uint16Array;
  I32: Int32Array;
  U32: Uint32Array;
  F32: Float32Array;
  F64: Float64Array;
  I64: BigInt64Array;
  U64: BigUint64Array;
}

/** Any of the typed arrays a `SafeTensor` can hold. */
export type SafetensorsArray = SafetensorsArrayMap[SafetensorsDtype];

/**
 * One tensor of dtype `D`: row-major (C order) `data` of `product(shape)` elements. `shape: []` is a scalar.
 * @example
 * const t: SafeTensorOf<'F32'> = { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };
 */
export interface SafeTensorOf<D extends SafetensorsDtype> {
  /** The element type, as written in the file header. */
  dtype: D;
  /** Dimensions, outermost first. Each is a non-negative integer. */
  shape: number[];
  /** The elements. For a parsed file this may be a view into the file's bytes (see `parseSafetensors`). */
  data: SafetensorsArrayMap[D];
}

/**
 * A tensor as stored in a safetensors file, independent of tfjs. Narrow on `dtype` to get the typed `data`.
 * @example
 * if (t.dtype === 'BF16') use(bf16ArrayToF32(t.data)); // t.data: Uint16Array here
 */
export type SafeTensor = { [D in SafetensorsDtype]: SafeTensorOf<D> }[SafetensorsDtype];

interface TypedArrayCtor {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): SafetensorsArray;
  new (length: number): SafetensorsArray;
}

/** Element size in bytes and typed-array constructor of each dtype. */
const DTYPE_INFO: Record<SafetensorsDtype, { size: number; ctor: TypedArrayCtor; rank: number }> = {
  BOOL: { size: 1, ctor: Uint8Array, rank: 0 },
  U8: { size: 1, ctor: Uint8Array, rank: 1 },
  I8: { size: 1, ctor: Int8Array, rank: 2 },
  F8_E5M2: { size: 1, ctor: Uint8Array, rank: 3 },
  F8_E4M3: { size: 1, ctor: Uint8Array, rank: 4 },
  I16: { size: 2, ctor: Int16Array, rank: 5 },
  U16: { size: 2, ctor: Uint16Array, rank: 6 },
  F16: { size: 2, ctor: Uint16Array, rank: 7 },
  BF16: { size: 2, ctor: Uint16Array, rank: 8 },
  I32: { size: 4, ctor: Int32Array, rank: 9 },
  U32: { size: 4, ctor: Uint32Array, rank: 10 },
  F32: { size: 4, ctor: Float32Array, rank: 11 },
  F64: { size: 8, ctor: Float64Array, rank: 12 },
  I64: { size: 8, ctor: BigInt64Array, rank: 13 },
  U64: { size: 8, ctor: BigUint64Array, rank: 14 },
};

/** True when `s` names a dtype Sift supports. */
export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_INFO, s);
}

/** Bytes per element of `dtype` (1, 2, 4 or 8). */
export function dtypeSize(dtype: SafetensorsDtype): number {
  return DTYPE_INFO[dtype].size;
}

/** Position in the reference enum order; the serializer writes higher ranks (larger alignment) first. */
export function dtypeRank(dtype: SafetensorsDtype): number {
  return DTYPE_INFO[dtype].rank;
}

/** The typed-array constructor of `dtype`. */
export function dtypeArrayCtor(dtype: SafetensorsDtype): TypedArrayCtor {
  return DTYPE_INFO[dtype].ctor;
}

/**
 * Number of elements of `shape` (1 for a scalar). Throws `E_SHAPE` on a dimension that is not a non-negative safe
 * integer or a product above 2^53.
 */
export function shapeSize(shape: readonly number[], where = 'tensor'): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new SiftError('E_SHAPE', `${where}: shape [${shape.join(', ')}] has dimension ${d}; ` +
        'every dimension must be a non-negative integer.');
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) {
    throw new SiftError('E_SHAPE', `${where}: shape [${shape.join(', ')}] has more than 2^53 elements.`);
  }
  return n;
}

/** JS engines Sift targets are little-endian; safetensors is too. Checked once, so a big-endian host fails loudly. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Throws `E_UNSUPPORTED` on a big-endian host, where typed-array views would read the wrong byte order. */
export function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) {
    throw new SiftError('E_UNSUPPORTED', 'safetensors I/O needs a little-endian host; this JavaScript engine is big-endian.');
  }
}

/**
 * A typed array of `dtype` over `bytes` (which holds exactly `count * size` bytes). Zero-copy when the bytes are
 * aligned to the element size in their `ArrayBuffer`; otherwise (or with `copy`) the bytes are copied to a fresh,
 * aligned buffer, because a `Float32Array` view needs a byte offset that is a multiple of 4.
 */
export function typedView(dtype: SafetensorsDtype, bytes: Uint8Array, copy = false): SafetensorsArray {
  assertLittleEndian();
  const { size, ctor } = DTYPE_INFO[dtype];
  const count = bytes.byteLength / size;
  if (!copy && bytes.byteOffset % size === 0) return new ctor(bytes.buffer, bytes.byteOffset, count);
  const fresh = new Uint8Array(bytes.byteLength);
  fresh.set(bytes);
  return new ctor(fresh.buffer, 0, count);
}

/** The bytes of a typed array, without copying. */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Name of the typed array `dtype` expects, for messages. */
export function arrayNameOf(dtype: SafetensorsDtype): string {
  return DTYPE_INFO[dtype].ctor.name;
}
