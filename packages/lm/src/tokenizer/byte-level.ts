/**
 * GPT-2's byte-level conventions (Radford et al. 2019, `encoder.py`), shared by every byte-level tokenizer here and
 * by Hugging Face's `ByteLevel` pre-tokenizer and decoder.
 */

/**
 * GPT-2's pre-tokenizer: contractions, optionally space-prefixed letter runs, digit runs and other-symbol runs, then
 * whitespace (a whitespace run before a non-space keeps its last space for the next word). Identical to the pattern
 * of `encoder.py`, `gpt-3-encoder` and HF's `ByteLevel` with `use_regex: true`.
 */
// isolatedDeclarations needs the annotation, which no-inferrable-types would strip from a regex literal.
// eslint-disable-next-line @typescript-eslint/no-inferrable-types
export const GPT2_PRETOKENIZE_PATTERN: RegExp = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * `bytes_to_unicode()`: byte b -> a printable character. Printable Latin-1 bytes map to themselves; the other 68
 * (controls, space, ...) map to U+0100.. in byte order, so a space is `Ġ` (U+0120) and `\n` is `Ċ` (U+010A).
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const out = new Array<string | undefined>(256);
  for (const b of bs) out[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] ??= String.fromCharCode(256 + n++);
  return Object.freeze(out as string[]);
})();

/** The inverse of `BYTE_TO_CHAR`: character code -> byte, or -1 for a character outside the alphabet. */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const t = new Int16Array(512).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => (t[c.charCodeAt(0)] = b));
  return t;
})();

/** A byte-level token string (`Ġthe`) -> its bytes; `undefined` if a character is outside the byte alphabet. */
export function tokenStringToBytes(token: string): Uint8Array | undefined {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    const b = c < 512 ? CHAR_TO_BYTE[c] : -1;
    if (b < 0) return undefined;
    out[i] = b;
  }
  return out;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** UTF-8 decoding that never throws: invalid sequences (a cut multi-byte character) become U+FFFD. */
export function fromUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

/** Escapes a literal for use inside a RegExp. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
