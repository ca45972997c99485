import * as tf from '@tensorflow/tfjs-core';
import { SiftError } from '../errors.js';
import { shapeSize, type SafeTensor, type SafetensorsDtype } from './dtypes.js';
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16 } from './half.js';

/** Options of `safeTensorToTf` and `safeTensorToF32`. */
export interface SafeTensorToTfOptions {
  /** The tensor's name, for error messages. */
  name?: string;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function label(name: string | undefined): string {
  return name === undefined ? 'tensor' : `tensor ${JSON.stringify(name)}`;
}

/** 64-bit or unsigned 32-bit integers -> Int32Array, or `E_DTYPE` at the first value out of int32 range. */
function toInt32Checked(data: BigInt64Array | BigUint64Array | Uint32Array, dtype: SafetensorsDtype, name?: string): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (v < INT32_MIN || v > INT32_MAX) {
      throw new SiftError('E_DTYPE', `${label(name)}: ${dtype} value ${String(data[i])} at flat index ${i} does not fit ` +
        `tfjs's int32 [${INT32_MIN}, ${INT32_MAX}]; tfjs has no 64-bit integers. Keep it as a SafeTensor (BigInt64Array) ` +
        'or re-encode the ids.');
    }
    out[i] = v;
  }
  return out;
}

/**
 * The values of a floating-point or integer `SafeTensor` as float32: F32 as is (not copied), F16/BF16 decoded
 * exactly, F64 and integers rounded to the nearest float32. BOOL gives 0/1. F8 dtypes throw `E_DTYPE`.
 * @example
 * const w = safeTensorToF32(file.get('lm_head.weight')); // Float32Array, whatever the stored float dtype
 */
export function safeTensorToF32(t: SafeTensor, options: SafeTensorToTfOptions = {}): Float32Array {
  switch (t.dtype) {
    case 'F32': return t.data;
    case 'F16': return f16ArrayToF32(t.data);
    case 'BF16': return bf16ArrayToF32(t.data);
    case 'I64': case 'U64': {
      const out = new Float32Array(t.data.length);
      for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
      return out;
    }
    case 'BOOL': return Float32Array.from(t.data, (v) => (v === 0 ? 0 : 1));
    case 'F8_E4M3': case 'F8_E5M2':
      throw new SiftError('E_DTYPE', `${label(options.name)}: ${t.dtype} (float8) decoding is not supported; ` +
        'dequantize it before saving or read its raw bits from .data.');
    default: return Float32Array.from(t.data);
  }
}

/**
 * A tfjs tensor holding a `SafeTensor`'s values: F32/F16/BF16/F64 -> float32 (F64 rounded), I8/U8/I16/U16/I32 ->
 * int32, U32/I64/U64 -> int32 after a range check (`E_DTYPE` on the first value outside int32), BOOL -> bool.
 * F8 dtypes throw `E_DTYPE`. The caller owns (and disposes) the result. On tfjs's cpu backend an F32 or I32 tensor
 * may share memory with `t.data`: do not modify the source bytes afterwards.
 * @example
 * const w = safeTensorToTf(file.get('h.0.attn.c_attn.weight'), { name: 'h.0.attn.c_attn.weight' });
 * // ... use w ...
 * w.dispose();
 */
export function safeTensorToTf(t: SafeTensor, options: SafeTensorToTfOptions = {}): tf.Tensor {
  const count = shapeSize(t.shape, label(options.name));
  if (t.data.length !== count) {
    throw new SiftError('E_SHAPE', `${label(options.name)}: ${t.data.length} elements but shape [${t.shape.join(', ')}] has ${count}.`);
  }
  const shape = [...t.shape];
  switch (t.dtype) {
    case 'F32': case 'F16': case 'BF16': case 'F64': case 'F8_E4M3': case 'F8_E5M2':
      return tf.tensor(safeTensorToF32(t, options), shape, 'float32');
    case 'I32': return tf.tensor(t.data, shape, 'int32');
    case 'I8': case 'U8': case 'I16': case 'U16': return tf.tensor(Int32Array.from(t.data), shape, 'int32');
    case 'U32': case 'I64': case 'U64': return tf.tensor(toInt32Checked(t.data, t.dtype, options.name), shape, 'int32');
    case 'BOOL': return tf.tensor(Uint8Array.from(t.data, (v) => (v === 0 ? 0 : 1)), shape, 'bool');
  }
}

/** Options of `tfToSafeTensor`. */
export interface TfToSafeTensorOptions {
  /**
   * The stored dtype. Default: F32 for float32 tensors, I32 for int32, BOOL for bool. A float32 tensor can be stored
   * as F16 or BF16 (round to nearest even) or F64; an int32 tensor as I64, I16, I8, U8, U16 or U32 (`E_DTYPE` on a
   * value out of range); a bool tensor as U8.
   */
  dtype?: SafetensorsDtype;
  /** The tensor's name, for error messages. */
  name?: string;
}

const FROM_FLOAT32: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64'];
const FROM_INT32: readonly SafetensorsDtype[] = ['I32', 'I64', 'I16', 'I8', 'U8', 'U16', 'U32'];
const FROM_BOOL: readonly SafetensorsDtype[] = ['BOOL', 'U8'];

const INT_RANGE: Partial<Record<SafetensorsDtype, [number, number]>> = {
  I8: [-128, 127], U8: [0, 255], I16: [-32768, 32767], U16: [0, 65535], U32: [0, 2 ** 32 - 1],
};

function fromTfValues(values: tf.TypedArray | string[], tfDtype: tf.DataType, shape: number[], options: TfToSafeTensorOptions): SafeTensor {
  const where = label(options.name);
  const allowed = tfDtype === 'float32' ? FROM_FLOAT32 : tfDtype === 'int32' ? FROM_INT32 : tfDtype === 'bool' ? FROM_BOOL : [];
  if (allowed.length === 0 || typeof values[0] === 'string' || Array.isArray(values)) {
    throw new SiftError('E_DTYPE', `${where}: tfjs dtype ${tfDtype} cannot be stored in safetensors; use float32, int32 or bool.`);
  }
  const dtype = options.dtype ?? allowed[0];
  if (!allowed.includes(dtype)) {
    throw new SiftError('E_DTYPE', `${where}: tfjs dtype ${tfDtype} can be stored as ${allowed.join(', ')}, not ${dtype}; ` +
      'tf.cast it first to change its kind.');
  }
  if (tfDtype === 'float32') {
    const f = values as Float32Array;
    switch (dtype) {
      case 'F16': return { dtype, shape, data: f32ArrayToF16(f) };
      case 'BF16': return { dtype, shape, data: f32ArrayToBf16(f) };
      case 'F64': return { dtype, shape, data: Float64Array.from(f) };
      default: return { dtype: 'F32', shape, data: f.slice() };
    }
  }
  if (tfDtype === 'bool') {
    const b = values as Uint8Array;
    return dtype === 'U8' ? { dtype, shape, data: b.slice() } : { dtype: 'BOOL', shape, data: b.slice() };
  }
  const v = values as Int32Array;
  if (dtype === 'I32') return { dtype, shape, data: v.slice() };
  if (dtype === 'I64') return { dtype, shape, data: BigInt64Array.from(v, (x) => BigInt(x)) };
  const [lo, hi] = INT_RANGE[dtype]!;
  for (let i = 0; i < v.length; i++) {
    if (v[i] < lo || v[i] > hi) {
      throw new SiftError('E_DTYPE', `${where}: value ${v[i]} at flat index ${i} is outside ${dtype} [${lo}, ${hi}]; ` +
        'store it as I32 or clamp it first.');
    }
  }
  switch (dtype) {
    case 'I8': return { dtype, shape, data: Int8Array.from(v) };
    case 'U8': return { dtype, shape, data: Uint8Array.from(v) };
    case 'I16': return { dtype, shape, data: Int16Array.from(v) };
    case 'U16': return { dtype, shape, data: Uint16Array.from(v) };
    default: return { dtype: 'U32', shape, data: Uint32Array.from(v) };
  }
}

/**
 * A tfjs tensor's values as a `SafeTensor` (a copy; `x` is not disposed), optionally in another stored dtype
 * (see `TfToSafeTensorOptions.dtype`). Reads the values with `await x.data()`.
 * @example
 * const t = await tfToSafeTensor(weight, { dtype: 'BF16' }); // { dtype: 'BF16', shape, data: Uint16Array }
 */
export async function tfToSafeTensor(x: tf.Tensor, options: TfToSafeTensorOptions = {}): Promise<SafeTensor> {
  return fromTfValues(await x.data(), x.dtype, [...x.shape], options);
}

/** `tfToSafeTensor`, reading the values synchronously with `x.dataSync()` (blocks on GPU backends). */
export function tfToSafeTensorSync(x: tf.Tensor, options: TfToSafeTensorOptions = {}): SafeTensor {
  return fromTfValues(x.dataSync(), x.dtype, [...x.shape], options);
}
