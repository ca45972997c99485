/**
 * float16 (IEEE 754 binary16) and bfloat16 <-> float32, bit-exact.
 *
 * Down-conversions round to nearest, ties to even (as numpy's `astype(np.float16)` and torch's
 * `to(torch.bfloat16)`), keep signed zeros and infinities, produce subnormal halves, overflow to infinity, and map
 * NaN to a quiet NaN of the same sign that keeps the payload's top bits. Up-conversions are exact (every half and
 * bfloat16 value, subnormals included, is a float32) and keep NaN payloads. Arrays are little-endian bit patterns
 * (`Uint16Array`), the way safetensors stores `F16` and `BF16`.
 */

// One shared scratch for the scalar versions: a float32 and its bits.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 bits -> binary16 bits, round to nearest even. `x` is an unsigned 32-bit pattern. */
function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const a = x & 0x7fffffff; // |x| bits
  if (a >= 0x7f800000) {
    // Inf stays Inf; NaN becomes a quiet NaN (bit 9 set) keeping the top 9 payload bits, as x86 F16C does.
    return a === 0x7f800000 ? sign | 0x7c00 : sign | 0x7e00 | ((a >>> 13) & 0x3ff);
  }
  // 65520 = 0x477ff000 is halfway between the largest half (65504, odd mantissa) and 2^16: ties go to even = Inf.
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a >= 0x38800000) {
    // Normal half (|x| >= 2^-14): rebias the exponent (127 -> 15) and drop 13 mantissa bits, rounding to even.
    // A carry out of the mantissa correctly bumps the exponent.
    const r = a - 0x38000000;
    return sign | ((r + 0xfff + ((r >>> 13) & 1)) >>> 13);
  }
  // |x| <= 2^-25 (= 0x33000000) rounds to zero: 2^-25 is the tie between 0 and the smallest subnormal 2^-24.
  if (a <= 0x33000000) return sign;
  // Subnormal half: the result is q * 2^-24 with q = |x| / 2^-24 rounded to even. |x| = s * 2^(e - 150) with the
  // 24-bit significand s, so q = s / 2^(126 - e); the shift is 14..24 here. q = 1024 is the smallest normal, 0x0400.
  const e = a >>> 23;
  const s = (a & 0x7fffff) | 0x800000;
  const shift = 126 - e;
  let q = s >>> shift;
  const rem = s - q * 2 ** shift;
  const half = 2 ** (shift - 1);
  if (rem > half || (rem === half && (q & 1) === 1)) q += 1;
  return sign | q;
}

/** binary16 bits -> float32 bits (exact). */
function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // Inf, NaN (payload kept)
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // rebias 15 -> 127
  if (mant === 0) return sign >>> 0; // signed zero
  // Subnormal half mant * 2^-24: normalise so the leading 1 becomes the implicit bit of a normal float32.
  // lead = 10 - p for the leading 1 at bit p (0..9): the value is 2^(p - 24) * 1.m, float32 exponent p + 103.
  const lead = Math.clz32(mant) - 21;
  const m = (mant << lead) & 0x3ff;
  return (sign | ((113 - lead) << 23) | (m << 13)) >>> 0;
}

let f16Table: Uint32Array | undefined;

/** float32 bits of all 65,536 halves (256 KB), built on first use: array conversion becomes one load a value. */
function f16ToF32Table(): Uint32Array {
  if (f16Table === undefined) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
  }
  return f16Table;
}

/**
 * A binary16 bit pattern (0..65535) as a number (exact).
 * @example
 * f16BitsToF32(0x3c00); // 1
 * f16BitsToF32(0x0001); // 5.960464477539063e-8, the smallest subnormal half
 */
export function f16BitsToF32(h: number): number {
  scratchU32[0] = f16BitsToF32Bits(h & 0xffff);
  return scratchF32[0];
}

/**
 * `x` rounded to binary16, as its bit pattern. `x` is first rounded to float32 (`Math.fround`), so the result is
 * numpy's `np.float32(x).astype(np.float16)`.
 * @example
 * f32ToF16Bits(1);      // 0x3c00
 * f32ToF16Bits(65520);  // 0x7c00 (Infinity: the tie rounds to even)
 */
export function f32ToF16Bits(x: number): number {
  scratchF32[0] = x;
  return f32BitsToF16Bits(scratchU32[0]);
}

/**
 * A bfloat16 bit pattern as a number (exact: the bits are the upper half of a float32).
 * @example
 * bf16BitsToF32(0x3f80); // 1
 */
export function bf16BitsToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

/** float32 bits -> bfloat16 bits, round to nearest even (torch's `round_to_nearest_even`). */
function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x0040) & 0xffff; // NaN: quiet, sign and payload top kept
  // Add 0x7fff plus the lowest kept bit, then truncate: ties go to the even neighbour. Below 2^32 for every non-NaN
  // pattern (the largest, -max float 0xff7fffff, + 0x8000 fits), and a carry into the exponent rounds up to Inf.
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * `x` rounded to bfloat16 (round to nearest even after rounding to float32), as its bit pattern; torch's
 * `torch.tensor(x, dtype=torch.float32).to(torch.bfloat16)`.
 * @example
 * f32ToBf16Bits(1); // 0x3f80
 */
export function f32ToBf16Bits(x: number): number {
  scratchF32[0] = x;
  return f32BitsToBf16Bits(scratchU32[0]);
}

/** The input as float32 bits: a zero-copy view of a `Float32Array`, otherwise a rounded copy. */
function asF32Bits(values: Float32Array | ArrayLike<number>): Uint32Array {
  const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
  return new Uint32Array(f32.buffer, f32.byteOffset, f32.length);
}

/**
 * binary16 bit patterns (safetensors `F16` data) to float32, exactly.
 * @example
 * f16ArrayToF32(new Uint16Array([0x3c00, 0xc000])); // Float32Array [1, -2]
 */
export function f16ArrayToF32(bits: Uint16Array): Float32Array {
  const table = f16ToF32Table();
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]]!;
  return new Float32Array(out.buffer);
}

/**
 * float32 values to binary16 bit patterns (round to nearest even; overflow to Infinity; subnormals kept).
 * Plain numbers are rounded to float32 first.
 * @example
 * f32ArrayToF16(new Float32Array([1, -2, 1e-8])); // Uint16Array [0x3c00, 0xc000, 0x0000]
 */
export function f32ArrayToF16(values: Float32Array | ArrayLike<number>): Uint16Array {
  const src = asF32Bits(values);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16Bits(src[i]);
  return out;
}

/**
 * bfloat16 bit patterns (safetensors `BF16` data) to float32, exactly.
 * @example
 * bf16ArrayToF32(new Uint16Array([0x3f80, 0x4049])); // Float32Array [1, 3.140625]
 */
export function bf16ArrayToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/**
 * float32 values to bfloat16 bit patterns (round to nearest even). Plain numbers are rounded to float32 first.
 * @example
 * f32ArrayToBf16(new Float32Array([1, Math.PI])); // Uint16Array [0x3f80, 0x4049]
 */
export function f32ArrayToBf16(values: Float32Array | ArrayLike<number>): Uint16Array {
  const src = asF32Bits(values);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToBf16Bits(src[i]);
  return out;
}
