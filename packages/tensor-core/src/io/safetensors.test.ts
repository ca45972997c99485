import { describe, expect, it } from 'vitest';
import { SiftError } from '../errors.js';
import { seeded } from '../testing.js';
import { dtypeSize, SAFETENSORS_DTYPES, type SafeTensor, type SafetensorsDtype } from './dtypes.js';
import { parseSafetensorsHeader } from './header.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';

const enc = new TextEncoder();

/** A file from a header text and a data section (or its length, zero-filled); `n` overrides the length field. */
function file(header: string, data: number | Uint8Array = 0, n?: number): Uint8Array {
  const h = enc.encode(header);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n ?? h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

/** The SiftError thrown by `fn`, or a failure. */
function errorOf(fn: () => unknown): SiftError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SiftError) return err;
    throw new Error(`expected a SiftError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected an error, none was thrown');
}

function randomTensor(dtype: SafetensorsDtype, shape: number[], seed: number): SafeTensor {
  const rng = seeded(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(n * dtypeSize(dtype));
  for (let i = 0; i < bytes.length; i++) bytes[i] = dtype === 'BOOL' ? rng.int(2) : rng.int(256);
  // Every dtype's typed array over random bytes (float NaN payloads are kept because nothing does arithmetic).
  const t = parseSafetensors(serializeSafetensors({ t: { dtype, shape, data: bytes } as SafeTensor }), { copy: true }).get('t');
  return t;
}

function bytesOfData(t: SafeTensor): number[] {
  return Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

describe('serializeSafetensors / parseSafetensors', () => {
  it('round-trips every dtype bit for bit, with metadata, a scalar and an empty tensor', () => {
    const tensors = new Map<string, SafeTensor>();
    SAFETENSORS_DTYPES.forEach((dtype, i) => tensors.set(`t.${dtype}`, randomTensor(dtype, [3, i + 1], i)));
    tensors.set('scalar', { dtype: 'F32', shape: [], data: new Float32Array([2.5]) });
    tensors.set('empty', { dtype: 'I64', shape: [0, 7], data: new BigInt64Array(0) });
    const meta = { format: 'pt', '__proto__': 'data, not a prototype', 'ünï': '✓' };
    const bytes = serializeSafetensors(tensors, meta);
    const parsed = parseSafetensors(bytes);
    expect(parsed.metadata).toEqual(meta);
    expect(Object.getPrototypeOf(parsed.metadata)).toBe(Object.prototype);
    expect(new Set(parsed.names)).toEqual(new Set(tensors.keys()));
    for (const [name, t] of tensors) {
      const back = parsed.get(name);
      expect(back.dtype).toBe(t.dtype);
      expect(back.shape).toEqual(t.shape);
      expect(back.data.constructor).toBe(t.data.constructor);
      expect(bytesOfData(back)).toEqual(bytesOfData(t));
    }
    expect(parsed.get('scalar').data).toEqual(new Float32Array([2.5]));
  });

  it('lays out like the reference: sorted by dtype alignment then name, every tensor aligned, header padded to 8', () => {
    const bytes = serializeSafetensors({
      b: { dtype: 'U8', shape: [3], data: new Uint8Array(3) },
      a: { dtype: 'U8', shape: [1], data: new Uint8Array(1) },
      c: { dtype: 'F64', shape: [1], data: new Float64Array(1) },
      d: { dtype: 'F16', shape: [1], data: new Uint16Array(1) },
      e: { dtype: 'I64', shape: [1], data: new BigInt64Array(1) },
      f: { dtype: 'F32', shape: [1], data: new Float32Array(1) },
    });
    const h = parseSafetensorsHeader(bytes);
    expect(h.headerSize % 8).toBe(0);
    expect([...h.tensors.keys()]).toEqual(['e', 'c', 'f', 'd', 'a', 'b']); // I64 > F64 > F32 > F16 > U8, then by name
    for (const e of h.tensors.values()) expect((h.dataStart + e.dataOffsets[0]) % dtypeSize(e.dtype)).toBe(0);
    // Names sort by code point (UTF-8 byte order), not UTF-16: U+FF61 < U+1F600 although '\uff61' > '\ud83d'.
    const names = ['😀', '｡'];
    const h2 = parseSafetensorsHeader(serializeSafetensors(Object.fromEntries(names.map((n) => [n, { dtype: 'U8', shape: [0], data: new Uint8Array(0) }]))));
    expect([...h2.tensors.keys()]).toEqual(['｡', '😀']);
  });

  it('is byte-identical to the reference implementation\'s own test vectors (safetensors/src/tensor.rs)', () => {
    const data = new Float32Array([0, 1, 2, 3, 4, 5]);
    // test_serialization
    expect(Array.from(serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } }))).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34,
      70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95,
      111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0,
      64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
    // test_serialization_forced_alignement
    expect(Array.from(serializeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data } }))).toEqual([
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70,
      51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97,
      95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0,
      0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
    // test_empty, without and with metadata
    expect(Array.from(serializeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect(Array.from(serializeSafetensors(new Map(), { framework: 'pt' }))).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114,
      97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
    // The crate's doc example (unpadded header, I32 zeros) parses.
    const doc = file('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', 16);
    expect(parseSafetensors(doc).get('test')).toEqual({ dtype: 'I32', shape: [2, 2], data: new Int32Array(4) });
  });

  it('returns zero-copy views when aligned, copies when not (or when asked)', () => {
    const bytes = serializeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array([1, 2, 3, 4]) } });
    const view = parseSafetensors(bytes).get('w');
    expect(view.data.buffer).toBe(bytes.buffer);
    // The same file starting at byte 1 of its buffer: a Float32Array cannot view it, so it is copied.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const copied = parseSafetensors(shifted.subarray(1)).get('w');
    expect(copied.data.buffer).not.toBe(shifted.buffer);
    expect(copied.data).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(parseSafetensors(bytes, { copy: true }).get('w').data.buffer).not.toBe(bytes.buffer);
  });

  it('has()/get()/tensors(); a missing name lists the file\'s tensors', () => {
    const parsed = parseSafetensors(serializeSafetensors({
      a: { dtype: 'I8', shape: [1], data: new Int8Array([1]) },
      b: { dtype: 'I8', shape: [1], data: new Int8Array([2]) },
    }), { source: 'x.safetensors' });
    expect(parsed.has('a')).toBe(true);
    expect(parsed.has('zz')).toBe(false);
    expect([...parsed.tensors().keys()]).toEqual(['a', 'b']);
    const err = errorOf(() => parsed.get('zz'));
    expect(err.code).toBe('E_SAFETENSORS');
    expect(err.message).toMatch(/safetensors file "x.safetensors": has no tensor "zz"; its 2 tensors are "a", "b"/);
  });

  it('accepts raw bytes for any dtype and rejects wrong arrays, lengths, names and metadata', () => {
    const raw = serializeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Uint8Array([0, 0, 128, 63]) } as unknown as SafeTensor });
    expect(parseSafetensors(raw).get('w').data).toEqual(new Float32Array([1]));
    const cases: [() => unknown, string, RegExp][] = [
      [() => serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } as unknown as SafeTensor }), 'E_DTYPE', /F32 needs data as a Float32Array .* got Float64Array/],
      [() => serializeSafetensors({ w: { dtype: 'F16', shape: [2], data: new Float32Array(2) } as unknown as SafeTensor }), 'E_DTYPE', /f32ArrayToF16/],
      [() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), 'E_SHAPE', /2 elements but shape \[3\] has 3/],
      [() => serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Uint8Array(7) } as unknown as SafeTensor }), 'E_SHAPE', /7 raw bytes/],
      [() => serializeSafetensors({ w: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } }), 'E_SHAPE', /dimension -1/],
      [() => serializeSafetensors({ w: { dtype: 'Q4', shape: [1], data: new Uint8Array(1) } as unknown as SafeTensor }), 'E_DTYPE', /unknown dtype "Q4"; valid dtypes are BOOL, U8/],
      [() => serializeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }), 'E_CONFIG', /reserved/],
      [() => serializeSafetensors({ 'bad\ud800': { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }), 'E_CONFIG', /lone UTF-16 surrogate/],
      [() => serializeSafetensors({}, { n: 3 } as unknown as Record<string, string>), 'E_CONFIG', /metadata\["n"\] is number/],
    ];
    for (const [fn, code, message] of cases) {
      const err = errorOf(fn);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
    }
  });
});

describe('parseSafetensors rejects malformed files with a clear E_SAFETENSORS error', () => {
  const ok = (dtype: string, shape: string, offsets: string): string => `{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`;
  const cases: [string, Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', new Uint8Array(5), /is 5 bytes long, shorter than the 8-byte header length/],
    ['header length past the end', file('{}', 0, 100), /header length 100 runs past the end of the 10-byte file/],
    ['header length above the cap', file('{}', 0, 200_000_000), /header length 200000000 is above the 100000000 bytes \(95.4 MiB\) cap/],
    ['header length 2^64 - 1', (() => { const f = file('{}'); f.fill(0xff, 0, 8); return f; })(), /above the .* cap/],
    ['header length 0', file('', 0, 0), /header length is 0/],
    ['invalid UTF-8', (() => { const f = file('{"\u00e9":1}'); f[10] = 0xff; return f; })(), /header is not valid UTF-8/],
    ['invalid JSON', file('{"a":}'), /header is not valid JSON: unexpected "}" at character 5/],
    ['header not an object', file('[1, 2]'), /must be a JSON object starting with '\{' but starts with "\[1, 2\]"/],
    ['leading whitespace', file(' {}'), /must be a JSON object starting with '\{'/],
    ['trailing garbage', file('{} x'), /not valid JSON: unexpected "x" after the JSON value/],
    ['entry not an object', file('{"w":5}'), /tensor "w": entry must be an object \{dtype, shape, data_offsets\}, got number 5/],
    ['missing dtype', file('{"w":{"shape":[1],"data_offsets":[0,4]}}', 4), /tensor "w": entry has no "dtype" field/],
    ['missing shape', file('{"w":{"dtype":"F32","data_offsets":[0,4]}}', 4), /tensor "w": entry has no "shape" field/],
    ['missing data_offsets', file('{"w":{"dtype":"F32","shape":[1]}}', 4), /tensor "w": entry has no "data_offsets" field/],
    ['unknown dtype', file(`{"w":${ok('F8', '[1]', '[0,1]')}}`, 1), /tensor "w": unknown dtype "F8"; valid dtypes are BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64/],
    ['dtype not a string', file('{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}', 4), /unknown dtype number 4/],
    ['negative dimension', file(`{"w":${ok('F32', '[-1]', '[0,4]')}}`, 4), /shape has dimension -1; dimensions must be non-negative integers/],
    ['fractional dimension', file(`{"w":${ok('F32', '[1.5]', '[0,4]')}}`, 4), /shape has dimension 1.5/],
    ['string dimension', file(`{"w":${ok('F32', '["2"]', '[0,8]')}}`, 8), /shape has dimension the string "2"/],
    ['shape not an array', file(`{"w":${ok('F32', '3', '[0,12]')}}`, 12), /shape must be an array of integers, got number 3/],
    ['offsets not a pair', file(`{"w":${ok('F32', '[1]', '[0,4,8]')}}`, 8), /data_offsets must be \[begin, end\], got 3 values/],
    ['negative offset', file(`{"w":${ok('U8', '[1]', '[-1,0]')}}`, 1), /data_offsets \[-1, 0\] must be non-negative integers/],
    ['offset above 2^53', file(`{"w":${ok('U8', '[1]', '[0,18446744073709551615]')}}`, 1), /must be non-negative integers/],
    ['end before begin', file(`{"w":${ok('U8', '[0]', '[4,0]')}}`, 4), /data_offsets \[4, 0\] end before they begin/],
    ['offsets outside the data', file(`{"w":${ok('F32', '[2]', '[0,8]')}}`, 4), /tensor "w" has data_offsets \[0, 8\] outside the data section \[0, 4\]/],
    ['overlap', file(`{"a":${ok('F32', '[2]', '[0,8]')},"b":${ok('F32', '[2]', '[4,12]')}}`, 12), /tensor "b" \(data_offsets \[4, 12\]\) overlaps tensor "a" which ends at 8/],
    ['gap', file(`{"a":${ok('F32', '[1]', '[0,4]')},"b":${ok('F32', '[1]', '[8,12]')}}`, 12), /gap \[4, 8\) before tensor "b"/],
    ['first tensor not at 0', file(`{"a":${ok('F32', '[1]', '[4,8]')}}`, 8), /gap \[0, 4\) before tensor "a"/],
    ['trailing bytes', file(`{"a":${ok('F32', '[1]', '[0,4]')}}`, 8), /the tensors cover 4 bytes of the 8-byte data section; 4 trailing bytes/],
    ['byte length != dtype x shape', file(`{"w":${ok('F32', '[3]', '[0,8]')}}`, 8), /span 8 bytes but dtype F32 x shape \[3\] needs 4 x 3 = 12 bytes/],
    ['shape overflow', file(`{"w":${ok('F64', '[1099511627776,1099511627776]', '[0,8]')}}`, 8), /overflows \(more than 2\^53 bytes\)/],
    ['duplicate names', file(`{"w":${ok('U8', '[1]', '[0,1]')},"w":${ok('U8', '[1]', '[1,2]')}}`, 2), /not valid JSON: duplicate key "w"/],
    ['metadata not an object', file('{"__metadata__":["a"]}'), /"__metadata__" must be an object of strings, got an array/],
    ['metadata with a number', file('{"__metadata__":{"epoch":3}}'), /"__metadata__" values must be strings, but "epoch" is number 3/],
    ['metadata with an object', file('{"__metadata__":{"cfg":{"a":1}}}'), /"cfg" is an object; store structured data as a JSON string/],
    ['deep nesting', file(`{"__metadata__":${'['.repeat(5000)}}`), /nesting deeper than 128/],
  ];
  it.each(cases)('%s', (_label, bytes, message) => {
    const err = errorOf(() => parseSafetensors(bytes, { source: 'bad.safetensors' }));
    expect(err.code).toBe('E_SAFETENSORS');
    expect(err.message).toMatch(/^safetensors file "bad.safetensors": /);
    expect(err.message).toMatch(message);
  });

  it('a configurable header cap, checked before anything is allocated', () => {
    const big = file(`{"__metadata__":{"pad":"${'x'.repeat(100)}"}}`);
    expect(parseSafetensors(big).metadata.pad).toHaveLength(100);
    expect(errorOf(() => parseSafetensors(big, { maxHeaderBytes: 64 })).message).toMatch(/above the 64 bytes cap \(maxHeaderBytes\)/);
    expect(errorOf(() => parseSafetensors(big, { maxHeaderBytes: -1 })).code).toBe('E_CONFIG');
  });

  it('accepts what the reference accepts: padding, unknown entry fields, null metadata, zero-size tensors sharing an offset', () => {
    const f = file(`{"__metadata__":null,"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"extra":1},` +
      `"b":{"dtype":"U8","shape":[2,0],"data_offsets":[0,0]},"c":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}  \n\t`, 1);
    const p = parseSafetensors(f);
    expect(p.metadata).toEqual({});
    expect(p.names).toEqual(['a', 'b', 'c']);
    expect(p.get('b').shape).toEqual([2, 0]);
  });

  it('without a source the message says "safetensors data"', () => {
    expect(errorOf(() => parseSafetensors(new Uint8Array(3))).message).toMatch(/^safetensors data: is 3 bytes long/);
  });
});
