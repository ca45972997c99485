import { SiftError } from '@sift/tensor-core';
import { BYTE_TO_CHAR, escapeRegExp, fromUtf8, utf8 } from './byte-level.js';
import { END_OF_TEXT, guessSpecialIds, type HfAddedToken, type HfTokenizerJson, type Tokenizer, type TokenizerKind } from './types.js';

/**
 * The simplest tokenizer: id = UTF-8 byte (0..255), then special tokens from 256 (`<|endoftext|>` = 256 by default).
 * No training, no files; used by tests and the `tiny` model presets. `decode(encode(x)) === x` for every string.
 * Its `toJSON()` is a byte-level BPE with no merges whose ids equal the bytes, so `@huggingface/tokenizers` loads it
 * and encodes identically.
 * @example
 * const tok = new ByteTokenizer();
 * tok.encode('hi');  // [104, 105]
 * tok.vocabSize;     // 257
 */
export class ByteTokenizer implements Tokenizer {
  readonly kind: TokenizerKind = 'byte';
  readonly vocabSize: number;
  readonly specialTokens: Readonly<Record<string, number>>;
  readonly eotId: number | undefined;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  private readonly specialNames: readonly string[];
  private readonly specialRe: RegExp | undefined;

  /** @param specials special tokens, given ids 256, 257, ... in this order. Default `['<|endoftext|>']`. */
  constructor(specials: readonly string[] = [END_OF_TEXT]) {
    if (new Set(specials).size !== specials.length || specials.some((s) => s.length === 0)) {
      throw new SiftError('E_CONFIG', `ByteTokenizer: special tokens must be distinct non-empty strings, got ${JSON.stringify(specials)}.`);
    }
    this.specialNames = [...specials];
    const map: Record<string, number> = {};
    specials.forEach((s, i) => (map[s] = 256 + i));
    this.specialTokens = Object.freeze(map);
    this.vocabSize = 256 + specials.length;
    const sorted = [...specials].sort((a, b) => b.length - a.length);
    this.specialRe = sorted.length === 0 ? undefined : new RegExp(`(${sorted.map(escapeRegExp).join('|')})`);
    const ids = guessSpecialIds(map);
    this.eotId = ids.eotId;
    this.bosId = ids.bosId;
    this.eosId = ids.eosId;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    const parts = this.specialRe === undefined ? [text] : text.split(this.specialRe);
    parts.forEach((part, i) => {
      if (i % 2 === 1) out.push(this.specialTokens[part]);
      else for (const b of utf8(part)) out.push(b);
    });
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let out = '';
    let run: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (Number.isInteger(id) && id >= 0 && id < 256) {
        run.push(id);
      } else if (Number.isInteger(id) && id >= 256 && id < this.vocabSize) {
        out += fromUtf8(Uint8Array.from(run)) + this.specialNames[id - 256];
        run = [];
      } else {
        throw new SiftError('E_DATA', `ByteTokenizer.decode: id ${id} at position ${i} is outside [0, ${this.vocabSize}).`);
      }
    }
    return out + fromUtf8(Uint8Array.from(run));
  }

  idToToken(id: number): string | undefined {
    if (Number.isInteger(id) && id >= 0 && id < 256) return BYTE_TO_CHAR[id];
    return this.specialNames[id - 256];
  }

  tokenToId(token: string): number | undefined {
    if (token in this.specialTokens) return this.specialTokens[token];
    const b = BYTE_TO_CHAR.indexOf(token);
    return b < 0 ? undefined : b;
  }

  toJSON(): HfTokenizerJson {
    const vocab: Record<string, number> = {};
    BYTE_TO_CHAR.forEach((c, b) => (vocab[c] = b));
    const added: HfAddedToken[] = this.specialNames.map((content, i) => ({
      id: 256 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
    }));
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
        fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [],
      },
    };
  }

  /** Whether a `tokenizer.json` is exactly a `ByteTokenizer` (ids = bytes, no merges); returns its specials if so. */
  static matchJSON(json: HfTokenizerJson): string[] | undefined {
    const m = json.model as HfTokenizerJson['model'] | undefined;
    if (m?.type !== 'BPE' || !Array.isArray(m.merges) || m.merges.length !== 0) return undefined;
    if (m.vocab === undefined || Array.isArray(m.vocab) || Object.keys(m.vocab).length !== 256) return undefined;
    const vocab = m.vocab;
    if (!BYTE_TO_CHAR.every((c, b) => vocab[c] === b)) return undefined;
    const added = [...json.added_tokens].sort((a, b) => a.id - b.id);
    if (!added.every((t, i) => t.id === 256 + i)) return undefined;
    return added.map((t) => t.content);
  }
}
