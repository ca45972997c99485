import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { seeded } from '../testing.js';
import {
  bf16ArrayToF32, bf16BitsToF32, f16ArrayToF32, f16BitsToF32, f32ArrayToBf16, f32ArrayToF16, f32ToBf16Bits, f32ToF16Bits,
} from './half.js';
import { parseSafetensors } from './safetensors.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/io/', import.meta.url));

/** binary16 value by its definition (IEEE 754-2008 §3.4), in float64. */
function halfByDefinition(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * 2 ** (e - 15) * (1 + m / 1024);
}

/** bfloat16 value by its definition (8 exponent bits, 7 mantissa bits, bias 127). */
function bf16ByDefinition(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 7) & 0xff;
  const m = h & 0x7f;
  if (e === 255) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -133;
  return sign * 2 ** (e - 127) * (1 + m / 128);
}

const ALL = Uint16Array.from({ length: 65536 }, (_, i) => i);

/** IEEE CRC-32 (zlib.crc32), to compare with numpy / torch over all 65,536 patterns without a 256 KB fixture. */
function crc32(bytes: Uint8Array): number {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = table[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Round-to-nearest-even oracle: the nearer of the two neighbours, in float64; on a tie the one with even bits. */
function nearestEven(x: number, lo: number, hi: number, loBits: number, hiBits: number): number {
  const dl = x - lo;
  const dh = hi - x;
  if (dl < dh) return loBits;
  if (dh < dl) return hiBits;
  return (loBits & 1) === 0 ? loBits : hiBits;
}

/** float32 -> binary16 by searching the sorted positive halves (an oracle independent of the bit tricks). */
function f16Oracle(x: number): number {
  if (Number.isNaN(x)) return -1;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // ties to even beyond the largest half, 65504 (0x7bff)
  let lo = 0;
  let hi = 0x7bff;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (halfByDefinition(mid) <= a) lo = mid;
    else hi = mid;
  }
  if (halfByDefinition(hi) <= a) lo = hi;
  if (halfByDefinition(lo) === a) return sign | lo;
  return sign | nearestEven(a, halfByDefinition(lo), halfByDefinition(lo + 1), lo, lo + 1);
}

describe('float16', () => {
  it('decodes all 65,536 bit patterns exactly as the definition says (scalar and array agree)', () => {
    const arr = f16ArrayToF32(ALL);
    for (let h = 0; h < 65536; h++) {
      const want = halfByDefinition(h);
      if (Number.isNaN(want)) {
        expect(Number.isNaN(arr[h]), `h=${h}`).toBe(true);
      } else if (!Object.is(arr[h], want) || !Object.is(f16BitsToF32(h), want)) {
        expect.fail(`half 0x${h.toString(16)}: got ${arr[h]} / ${f16BitsToF32(h)}, want ${want}`);
      }
    }
  });

  it('encodes every half value back to its own bits; NaNs stay NaN with their sign and payload (quiet bit set)', () => {
    const back = f32ArrayToF16(f16ArrayToF32(ALL));
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      const want = isNaN ? h | 0x0200 : h;
      if (back[h] !== want || f32ToF16Bits(f16BitsToF32(h)) !== want) {
        expect.fail(`half 0x${h.toString(16)} -> 0x${back[h].toString(16)}, want 0x${want.toString(16)}`);
      }
    }
  });

  it('rounds 200,000 random float32 values to nearest even, as a search over all halves does', () => {
    const rng = seeded('f16-oracle');
    const bits = new Uint32Array(200_000);
    for (let i = 0; i < bits.length; i++) {
      // Half the samples in the float16 range (|x| < 2^17), where rounding matters; the rest anywhere.
      const u = rng.nextUint32();
      bits[i] = i % 2 === 0 ? (u & 0x80000000) | (0x33000000 + (u % (0x48000000 - 0x33000000))) : u;
    }
    const xs = new Float32Array(bits.buffer);
    const got = f32ArrayToF16(xs);
    for (let i = 0; i < xs.length; i++) {
      const want = f16Oracle(xs[i]);
      if (want < 0) continue; // NaN, checked above
      if (got[i] !== want) expect.fail(`x=${xs[i]} (0x${bits[i].toString(16)}): got 0x${got[i].toString(16)}, want 0x${want.toString(16)}`);
    }
  });

  it('edge cases: overflow, the 65520 tie, subnormals, the 2^-25 tie, signed zero', () => {
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519.99)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e10)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie with 0 (even)
    expect(f32ToF16Bits(2 ** -25 * 1.0000001)).toBe(0x0001);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 ulps: even
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // tie between the largest subnormal and 2^-14: even
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(NaN) & 0x7e00).toBe(0x7e00);
    expect(Array.from(f32ArrayToF16([1, -2, 1e-8]))).toEqual([0x3c00, 0xc000, 0]);
  });
});

describe('bfloat16', () => {
  it('decodes all 65,536 bit patterns exactly; encodes each back to itself (NaN quieted)', () => {
    const arr = bf16ArrayToF32(ALL);
    const back = f32ArrayToBf16(arr);
    for (let h = 0; h < 65536; h++) {
      const want = bf16ByDefinition(h);
      const isNaN = Number.isNaN(want);
      if (isNaN ? !Number.isNaN(arr[h]) : !Object.is(arr[h], want) || !Object.is(bf16BitsToF32(h), want)) {
        expect.fail(`bf16 0x${h.toString(16)}: got ${arr[h]}, want ${want}`);
      }
      const wantBits = isNaN ? h | 0x40 : h;
      if (back[h] !== wantBits || f32ToBf16Bits(bf16BitsToF32(h)) !== wantBits) {
        expect.fail(`bf16 0x${h.toString(16)} -> 0x${back[h].toString(16)}`);
      }
    }
  });

  it('rounds 200,000 random float32 values to nearest even (float64 oracle on the two neighbours)', () => {
    const rng = seeded('bf16-oracle');
    const bits = new Uint32Array(200_000);
    for (let i = 0; i < bits.length; i++) bits[i] = i % 4 === 0 ? (rng.nextUint32() & 0xffff0000) | 0x8000 : rng.nextUint32();
    const xs = new Float32Array(bits.buffer);
    const got = f32ArrayToBf16(xs);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      if (Number.isNaN(x)) continue;
      const loBits = bits[i] >>> 16;
      const lo = bf16ByDefinition(loBits);
      let want: number;
      if (lo === x) want = loBits;
      else if (!Number.isFinite(lo)) want = loBits;
      else {
        // Neighbour away from zero; its bits are loBits + 1. When that is Inf (0x7f80 / 0xff80), IEEE rounding treats
        // it as 2^128, the next value the exponent range would have.
        const next = bf16ByDefinition(loBits + 1);
        const hiVal = Number.isFinite(next) ? next : Math.sign(next) * 2 ** 128;
        want = nearestEven(Math.abs(x), Math.abs(lo), Math.abs(hiVal), loBits, loBits + 1);
      }
      if (got[i] !== want) expect.fail(`x=${x}: got 0x${got[i].toString(16)}, want 0x${want.toString(16)}`);
    }
  });

  it('edge cases', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(Math.PI)).toBe(0x4049);
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // float32 max rounds up to Inf
    expect(f32ToBf16Bits(-Infinity)).toBe(0xff80);
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
    expect(f32ToBf16Bits(1.4e-45)).toBe(0x0000); // smallest float32 subnormal rounds to 0
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
  });
});

describe('against numpy and torch (tools/crosscheck/safetensors_fixtures.py)', () => {
  const file = parseSafetensors(readFileSync(`${FIXTURES}f16-bf16-rounding.safetensors`), { source: 'f16-bf16-rounding.safetensors' });
  const info = JSON.parse(readFileSync(`${FIXTURES}f16-bf16-rounding.json`, 'utf8')) as {
    count: number; f16_to_f32_crc32: number; bf16_to_f32_crc32: number;
  };

  it('float32 -> float16 matches numpy astype(float16) bit for bit on rounding boundaries (NaN: both NaN)', () => {
    const x = file.get('x');
    const want = file.get('x_f16');
    if (x.dtype !== 'F32' || want.dtype !== 'F16') throw new Error('fixture dtypes');
    expect(x.data.length).toBe(info.count);
    const got = f32ArrayToF16(x.data);
    let nan = 0;
    for (let i = 0; i < x.data.length; i++) {
      if (Number.isNaN(x.data[i])) {
        nan++;
        expect(Number.isNaN(f16BitsToF32(got[i])) && (got[i] & 0x8000) === (want.data[i] & 0x8000)).toBe(true);
      } else if (got[i] !== want.data[i]) {
        expect.fail(`x[${i}]=${x.data[i]}: sift 0x${got[i].toString(16)}, numpy 0x${want.data[i].toString(16)}`);
      }
    }
    expect(nan).toBeLessThan(50);
  });

  it('float32 -> bfloat16 matches torch .to(torch.bfloat16) bit for bit (NaN: both NaN)', () => {
    const x = file.get('x');
    const want = file.get('x_bf16');
    if (x.dtype !== 'F32' || want.dtype !== 'BF16') throw new Error('fixture dtypes');
    const got = f32ArrayToBf16(x.data);
    for (let i = 0; i < x.data.length; i++) {
      if (Number.isNaN(x.data[i])) expect(Number.isNaN(bf16BitsToF32(got[i]))).toBe(true);
      else if (got[i] !== want.data[i]) expect.fail(`x[${i}]=${x.data[i]}: sift 0x${got[i].toString(16)}, torch 0x${want.data[i].toString(16)}`);
    }
  });

  it('float16 -> float32 and bfloat16 -> float32 over all 65,536 patterns give the same bytes as numpy / torch (CRC-32)', () => {
    const f16 = f16ArrayToF32(ALL);
    const bf16 = bf16ArrayToF32(ALL);
    expect(crc32(new Uint8Array(f16.buffer))).toBe(info.f16_to_f32_crc32);
    expect(crc32(new Uint8Array(bf16.buffer))).toBe(info.bf16_to_f32_crc32);
  });
});
