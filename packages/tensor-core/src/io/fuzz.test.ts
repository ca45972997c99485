/**
 * Fuzzing of the safetensors parser (fast-check, seeded): whatever the bytes, `parseSafetensors` either returns a
 * file whose tensors lie inside the input, or throws `SiftError('E_SAFETENSORS')`; never a RangeError/TypeError,
 * and never an allocation out of proportion to the input (ArrayBuffer memory is measured around each call).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SiftError } from '../errors.js';
import { SAFETENSORS_DTYPES, type SafeTensor, type SafetensorsDtype, dtypeSize } from './dtypes.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';

const RUNS = 1000;
const MIB = 1024 * 1024;

/** Parses `bytes` and checks the contract. Returns whether the input was accepted. */
function checkParse(bytes: Uint8Array): boolean {
  const before = process.memoryUsage().arrayBuffers;
  let accepted = false;
  try {
    const file = parseSafetensors(bytes, { source: 'fuzz' });
    let total = 0;
    for (const [, t] of file.tensors()) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      expect(t.data.length).toBe(n);
      expect(t.data.byteLength).toBe(n * dtypeSize(t.dtype));
      total += t.data.byteLength;
    }
    expect(total).toBeLessThanOrEqual(bytes.byteLength);
    expect(file.header.dataStart + file.header.dataSize).toBe(bytes.byteLength);
    accepted = true;
  } catch (err) {
    if (!(err instanceof SiftError) || err.code !== 'E_SAFETENSORS') {
      throw new Error(`parse threw ${String(err)} (not SiftError E_SAFETENSORS) on ${bytes.byteLength} bytes: ` +
        JSON.stringify(new TextDecoder().decode(bytes.subarray(0, 200))), { cause: err });
    }
  }
  // Views share the input; copies (unaligned tensors) and the header's strings are bounded by the input size.
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThanOrEqual(4 * bytes.byteLength + MIB);
  return accepted;
}

function withLength(n: bigint, rest: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + rest.length);
  new DataView(out.buffer).setBigUint64(0, n, true);
  out.set(rest, 8);
  return out;
}

function withHeader(header: string, dataLen: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

const dtypeArb: fc.Arbitrary<SafetensorsDtype> = fc.constantFrom(...SAFETENSORS_DTYPES);
const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });

/** A valid tensor map: random dtypes and small shapes, random bytes. */
const tensorsArb: fc.Arbitrary<Map<string, SafeTensor>> = fc
  .uniqueArray(fc.tuple(fc.string({ maxLength: 6, unit: 'grapheme' }), dtypeArb, shapeArb), { maxLength: 5, selector: (t) => t[0] })
  .chain((specs) => fc.tuple(...specs.map(([name, dtype, shape]) => fc
    .uint8Array({ minLength: shape.reduce((a, b) => a * b, 1) * dtypeSize(dtype), maxLength: shape.reduce((a, b) => a * b, 1) * dtypeSize(dtype) })
    .map((data): [string, SafeTensor] => [name, { dtype, shape, data } as SafeTensor]))))
  .map((entries) => new Map(entries.filter(([name]) => name !== '__metadata__')));

describe('parseSafetensors under fuzzing (fast-check, seeded, 1,000 runs each)', () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      checkParse(bytes);
    }), { seed: 1, numRuns: RUNS });
  });

  it('random bytes behind a plausible or hostile header length', () => {
    const lenArb = fc.oneof(fc.bigInt({ min: 0n, max: 400n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
    fc.assert(fc.property(lenArb, fc.uint8Array({ maxLength: 300 }), (n, rest) => {
      checkParse(withLength(n, rest));
    }), { seed: 2, numRuns: RUNS });
  });

  it('random JSON (and random text) as the header', () => {
    const textArb = fc.oneof(fc.json(), fc.string({ unit: 'binary', maxLength: 60 }), fc.json().map((j) => `{"t":${j}}`));
    fc.assert(fc.property(textArb, fc.integer({ min: 0, max: 64 }), (text, dataLen) => {
      checkParse(withHeader(text, dataLen));
    }), { seed: 3, numRuns: RUNS });
  });

  it('structured headers with valid and invalid fields (dtype, shape, offsets, metadata, huge sizes)', () => {
    const num = fc.oneof(
      fc.integer({ min: 0, max: 64 }), fc.constantFrom(-1, 1.5, 2 ** 53, 2 ** 64, 1e308, -0),
      fc.constant('2'), fc.constant(null),
    );
    const entryArb = fc.record({
      dtype: fc.oneof(dtypeArb, fc.constantFrom('F8', 'f32', 7, null)),
      shape: fc.oneof(fc.array(num, { maxLength: 3 }), num),
      data_offsets: fc.oneof(fc.tuple(num, num), fc.array(num, { maxLength: 3 }), num),
    }, { requiredKeys: [] });
    const metaArb = fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string({ maxLength: 4 }), fc.integer())), fc.constant(null), fc.integer());
    const headerArb = fc.tuple(fc.dictionary(fc.string({ maxLength: 4 }), entryArb, { maxKeys: 4 }), fc.option(metaArb));
    let accepted = 0;
    fc.assert(fc.property(headerArb, fc.integer({ min: 0, max: 64 }), ([entries, meta], dataLen) => {
      const header: Record<string, unknown> = { ...entries };
      if (meta !== null) header.__metadata__ = meta;
      if (checkParse(withHeader(JSON.stringify(header), dataLen))) accepted++;
    }), { seed: 4, numRuns: RUNS });
    expect(accepted).toBeGreaterThan(0); // some headers happen to be valid, so both paths are exercised
  });

  it('valid files round-trip, and mutated ones (flips, truncation, insertion, new length, digit edits) never crash', () => {
    const mutationArb = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
      fc.record({ kind: fc.constant('length' as const), n: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
      fc.record({ kind: fc.constant('digit' as const), at: fc.nat(), value: fc.constantFrom(...'0123456789-.e"[]{},:'.split('')) }),
    );
    let mutatedAccepted = 0;
    fc.assert(fc.property(tensorsArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (tensors, mutations) => {
      const valid = serializeSafetensors(tensors, { k: 'v' });
      expect(checkParse(valid)).toBe(true);
      let bytes = valid;
      for (const m of mutations) {
        if (m.kind === 'flip' && bytes.length > 0) {
          bytes = bytes.slice();
          bytes[m.at % bytes.length] = m.value;
        } else if (m.kind === 'truncate') {
          bytes = bytes.slice(0, m.at % (bytes.length + 1));
        } else if (m.kind === 'insert') {
          const at = m.at % (bytes.length + 1);
          bytes = new Uint8Array([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
        } else if (m.kind === 'length' && bytes.length >= 8) {
          bytes = bytes.slice();
          new DataView(bytes.buffer).setBigUint64(0, m.n, true);
        } else if (m.kind === 'digit' && bytes.length > 8) {
          // Edit inside the JSON header, where a digit change moves offsets and shapes.
          const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
          const end = Math.min(bytes.length, 8 + n);
          if (end > 8) {
            bytes = bytes.slice();
            bytes[8 + (m.at % (end - 8))] = m.value.charCodeAt(0);
          }
        }
      }
      if (checkParse(bytes)) mutatedAccepted++;
    }), { seed: 5, numRuns: RUNS });
    expect(mutatedAccepted).toBeGreaterThan(0);
  });
});
