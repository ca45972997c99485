/**
 * A strict JSON (RFC 8259) parser for safetensors headers. `JSON.parse` would do, except that it silently keeps the
 * last of two equal keys (a file could then hold two tensors with one name, and readers would disagree on which
 * one is real) and accepts lone surrogates that the Rust reference rejects. This one rejects both, caps nesting
 * (serde_json's limit is 128) so a hostile header cannot exhaust the stack, and returns objects as `Map`s so that
 * keys such as `__proto__` are plain data. It allocates only in proportion to its input.
 */

/** A parsed JSON value: objects are `Map`s in document order. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A parsed JSON object. */
export type JsonObject = Map<string, JsonValue>;

/** Why a text is not acceptable JSON, and at which character (UTF-16 index). */
export class StrictJsonError extends Error {
  override readonly name: string = 'StrictJsonError';
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at character ${position}`);
    this.position = position;
  }
}

const MAX_DEPTH = 128;

/** Parses `text` as one JSON value followed only by whitespace. Throws `StrictJsonError`. */
export function parseStrictJson(text: string): JsonValue {
  let i = 0;
  const n = text.length;

  const fail = (msg: string, at = i): never => {
    throw new StrictJsonError(msg, at);
  };
  const skipWs = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const describe = (at: number): string => (at >= n ? 'end of input' : JSON.stringify(text.slice(at, at + 1)));

  const parseString = (): string => {
    // Precondition: text[i] === '"'.
    i++;
    const start = i;
    let out = '';
    let chunk = start;
    for (;;) {
      if (i >= n) fail('unterminated string', start - 1);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(chunk, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c >= 0xd800 && c <= 0xdfff) {
        // Raw surrogates come from a UTF-16 string built by the caller; a decoded UTF-8 header has only pairs.
        const hi = c <= 0xdbff;
        const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
        if (!hi || next < 0xdc00 || next > 0xdfff) fail('lone surrogate in string');
        i += 2;
        continue;
      }
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(chunk, i);
      i++;
      if (i >= n) fail('unterminated escape');
      const e = text.charCodeAt(i);
      switch (e) {
        case 0x22: out += '"'; break;
        case 0x5c: out += '\\'; break;
        case 0x2f: out += '/'; break;
        case 0x62: out += '\b'; break;
        case 0x66: out += '\f'; break;
        case 0x6e: out += '\n'; break;
        case 0x72: out += '\r'; break;
        case 0x74: out += '\t'; break;
        case 0x75: {
          const u = hex4(i + 1);
          i += 4;
          if (u >= 0xd800 && u <= 0xdbff) {
            // A high surrogate must be followed by an escaped low surrogate (serde_json's rule).
            if (text.charCodeAt(i + 1) !== 0x5c || text.charCodeAt(i + 2) !== 0x75) fail('lone surrogate in \\u escape');
            const lo = hex4(i + 3);
            if (lo < 0xdc00 || lo > 0xdfff) fail('lone surrogate in \\u escape');
            out += String.fromCharCode(u, lo);
            i += 6;
          } else if (u >= 0xdc00 && u <= 0xdfff) {
            fail('lone surrogate in \\u escape');
          } else {
            out += String.fromCharCode(u);
          }
          break;
        }
        default:
          fail(`invalid escape \\${text[i] ?? ''}`);
      }
      i++;
      chunk = i;
    }
  };

  const hex4 = (at: number): number => {
    if (at + 4 > n) fail('truncated \\u escape', at);
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = text.charCodeAt(at + k);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) fail('invalid hex digit in \\u escape', at + k);
      v = v * 16 + d;
    }
    return v;
  };

  const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

  const parseNumber = (): number => {
    const start = i;
    if (text.charCodeAt(i) === 0x2d) i++;
    if (text.charCodeAt(i) === 0x30) {
      i++;
    } else if (isDigit(text.charCodeAt(i))) {
      while (isDigit(text.charCodeAt(i))) i++;
    } else {
      fail('invalid number', start);
    }
    if (text.charCodeAt(i) === 0x2e) {
      i++;
      if (!isDigit(text.charCodeAt(i))) fail('invalid number', start);
      while (isDigit(text.charCodeAt(i))) i++;
    }
    const c = text.charCodeAt(i);
    if (c === 0x65 || c === 0x45) {
      i++;
      const s = text.charCodeAt(i);
      if (s === 0x2b || s === 0x2d) i++;
      if (!isDigit(text.charCodeAt(i))) fail('invalid number', start);
      while (isDigit(text.charCodeAt(i))) i++;
    }
    return Number(text.slice(start, i));
  };

  const literal = (word: string, value: JsonValue): JsonValue => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return value;
    }
    return fail(`unexpected ${describe(i)}`);
  };

  const parseValue = (depth: number): JsonValue => {
    skipWs();
    if (i >= n) fail('unexpected end of input');
    const c = text.charCodeAt(i);
    if (c === 0x7b) return parseObject(depth + 1);
    if (c === 0x5b) return parseArray(depth + 1);
    if (c === 0x22) return parseString();
    if (c === 0x2d || isDigit(c)) return parseNumber();
    if (c === 0x74) return literal('true', true);
    if (c === 0x66) return literal('false', false);
    if (c === 0x6e) return literal('null', null);
    return fail(`unexpected ${describe(i)}`);
  };

  const parseArray = (depth: number): JsonValue[] => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    i++;
    const out: JsonValue[] = [];
    skipWs();
    if (text.charCodeAt(i) === 0x5d) {
      i++;
      return out;
    }
    for (;;) {
      out.push(parseValue(depth));
      skipWs();
      const c = text.charCodeAt(i);
      if (c === 0x2c) {
        i++;
        continue;
      }
      if (c === 0x5d) {
        i++;
        return out;
      }
      fail(`expected ',' or ']' but found ${describe(i)}`);
    }
  };

  const parseObject = (depth: number): JsonObject => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    i++;
    const out: JsonObject = new Map();
    skipWs();
    if (text.charCodeAt(i) === 0x7d) {
      i++;
      return out;
    }
    for (;;) {
      skipWs();
      if (text.charCodeAt(i) !== 0x22) fail(`expected a string key but found ${describe(i)}`);
      const keyAt = i;
      const key = parseString();
      if (out.has(key)) fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
      skipWs();
      if (text.charCodeAt(i) !== 0x3a) fail(`expected ':' but found ${describe(i)}`);
      i++;
      out.set(key, parseValue(depth));
      skipWs();
      const c = text.charCodeAt(i);
      if (c === 0x2c) {
        i++;
        continue;
      }
      if (c === 0x7d) {
        i++;
        return out;
      }
      fail(`expected ',' or '}' but found ${describe(i)}`);
    }
  };

  const value = parseValue(0);
  skipWs();
  if (i < n) fail(`unexpected ${describe(i)} after the JSON value`);
  return value;
}
