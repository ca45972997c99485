import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStrictJson, StrictJsonError, type JsonValue } from './strict-json.js';

/** Maps -> plain objects, for comparison with JSON.parse. */
function plain(v: JsonValue): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

describe('parseStrictJson', () => {
  it('agrees with JSON.parse on 1,000 random JSON documents (fast-check, seeded)', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'medium' }), (text) => {
        const want = JSON.parse(text) as unknown;
        expect(plain(parseStrictJson(text))).toEqual(want);
        // With whitespace around, as padded headers have.
        expect(plain(parseStrictJson(` \n\t${text}\r `))).toEqual(want);
      }),
      { seed: 11, numRuns: 1000 },
    );
  });

  it('decodes escapes, surrogate pairs and numbers', () => {
    expect(parseStrictJson('"a\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"')).toBe('a"\\/\b\f\n\r\té😀');
    expect(parseStrictJson('[0, -0, 1.5e3, -2E-2, 9007199254740993]')).toEqual([0, -0, 1500, -0.02, 9007199254740992]);
    expect(parseStrictJson('{"__proto__": 1}')).toEqual(new Map([['__proto__', 1]]));
  });

  it.each([
    ['{"a":1,"a":2}', /duplicate key "a"/],
    ['{"x":{"k":1,"k":1}}', /duplicate key "k"/],
    ['"\\ud800"', /lone surrogate/],
    ['"\\udc00x"', /lone surrogate/],
    ['"\ud800"', /lone surrogate/],
    ['"a\nb"', /control character/],
    ['"\\x41"', /invalid escape/],
    ['01', /after the JSON value/],
    ['1.', /invalid number/],
    ['-', /invalid number/],
    ['+1', /unexpected/],
    ['{"a" 1}', /expected ':'/],
    ['{"a":1,}', /expected a string key/],
    ['[1 2]', /expected ',' or '\]'/],
    ['tru', /unexpected/],
    ['NaN', /unexpected/],
    ['{"a":1} x', /after the JSON value/],
    ['"abc', /unterminated string/],
    ['', /unexpected end/],
    ['\ufeff{}', /unexpected/],
  ])('rejects %j', (text, message) => {
    expect(() => parseStrictJson(text)).toThrow(StrictJsonError);
    expect(() => parseStrictJson(text)).toThrow(message);
  });

  it('caps nesting at 128 without exhausting the stack (100,000 levels)', () => {
    expect(() => parseStrictJson('['.repeat(100_000))).toThrow(/nesting deeper than 128/);
    expect(() => parseStrictJson('{"a":'.repeat(100_000))).toThrow(/nesting deeper than 128/);
    expect(parseStrictJson(`${'['.repeat(128)}${']'.repeat(128)}`)).toBeInstanceOf(Array);
  });
});
