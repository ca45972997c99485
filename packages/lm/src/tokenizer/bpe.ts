import { SiftError } from '@sift/tensor-core';
import {
  BYTE_TO_CHAR, GPT2_PRETOKENIZE_PATTERN, escapeRegExp, fromUtf8, tokenStringToBytes, utf8,
} from './byte-level.js';
import { guessSpecialIds, type HfAddedToken, type HfTokenizerJson, type Tokenizer, type TokenizerKind } from './types.js';

/** What defines a byte-level BPE tokenizer. */
export interface BpeSpec {
  /** Token string (byte-level alphabet: `Ġthe`) -> id. Must hold all 256 single-byte tokens. */
  vocab: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  /** Merges in priority order (rank 0 first); each `[left, right]` and its concatenation must be in `vocab`. */
  merges: readonly (readonly [string, string])[];
  /** Added tokens (text -> id), recognised in the input before pre-tokenization. May overlap `vocab`. */
  specialTokens?: Readonly<Record<string, number>>;
  /** HF `ByteLevel.add_prefix_space`: prepend a space to text that does not start with one. Default false (GPT-2). */
  addPrefixSpace?: boolean;
  /** HF `BPE.ignore_merges`: a pre-token that is itself in the vocab is emitted whole. Default false. */
  ignoreMerges?: boolean;
}

// Pair keys pack two ids into one double: left * 2^21 + right. Ids must stay below 2^21 (2,097,152).
const PAIR_SHIFT = 2 ** 21;
/** The largest vocabulary `BpeTokenizer` supports. */
export const BPE_MAX_VOCAB: number = PAIR_SHIFT;
// The word cache is cleared when it grows past this many entries (a corpus of unbounded distinct words).
const CACHE_LIMIT = 1 << 20;

/**
 * A byte-level BPE tokenizer (GPT-2's scheme, Sennrich et al. 2016 on bytes): the text is split by GPT-2's regex,
 * each piece's UTF-8 bytes become single-byte tokens, and merges are applied lowest rank first (all occurrences of the
 * best pair at once, as `encoder.py`). Results are cached per pre-token, so encoding a corpus costs one BPE run per
 * distinct word. Built from GPT-2's files (`gpt2TokenizerFromFiles`), a `tokenizer.json` (`BpeTokenizer.fromJSON`)
 * or training (`trainBpe`).
 * @example
 * const tok = BpeTokenizer.fromJSON(JSON.parse(text));
 * tok.decode(tok.encode('Hello world')); // 'Hello world'
 */
export class BpeTokenizer implements Tokenizer {
  readonly kind: TokenizerKind = 'bpe';
  readonly vocabSize: number;
  readonly specialTokens: Readonly<Record<string, number>>;
  readonly eotId: number | undefined;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly addPrefixSpace: boolean;
  readonly ignoreMerges: boolean;

  private readonly vocab: Map<string, number>;
  private readonly idToTok: (string | undefined)[];
  private readonly idBytes: (Uint8Array | undefined)[];
  private readonly mergeList: (readonly [string, string])[];
  private readonly mergeRank = new Map<number, number>();
  private readonly mergeOut: Int32Array;
  private readonly byteIds = new Int32Array(256);
  private readonly specialRe: RegExp | undefined;
  private readonly specialIdSet: Set<number>;
  private readonly cache = new Map<string, number[]>();

  constructor(spec: BpeSpec) {
    const entries: [string, number][] = spec.vocab instanceof Map
      ? [...(spec.vocab as ReadonlyMap<string, number>)]
      : Object.entries(spec.vocab as Readonly<Record<string, number>>);
    this.vocab = new Map();
    let maxId = -1;
    for (const [tok, id] of entries) {
      if (!Number.isInteger(id) || id < 0 || id >= BPE_MAX_VOCAB) {
        throw new SiftError('E_CONFIG', `BpeTokenizer: vocab id of "${tok}" must be an integer in [0, ${BPE_MAX_VOCAB}), got ${id}.`);
      }
      this.vocab.set(tok, id);
      maxId = Math.max(maxId, id);
    }
    const specials = { ...(spec.specialTokens ?? {}) };
    for (const [tok, id] of Object.entries(specials)) {
      if (!Number.isInteger(id) || id < 0 || id >= BPE_MAX_VOCAB) {
        throw new SiftError('E_CONFIG', `BpeTokenizer: special token "${tok}" has id ${id}, expected an integer in [0, ${BPE_MAX_VOCAB}).`);
      }
      maxId = Math.max(maxId, id);
    }
    this.vocabSize = maxId + 1;
    this.idToTok = new Array<string | undefined>(this.vocabSize);
    this.idBytes = new Array<Uint8Array | undefined>(this.vocabSize);
    for (const [tok, id] of this.vocab) {
      this.idToTok[id] = tok;
      this.idBytes[id] = tokenStringToBytes(tok);
    }
    for (const [tok, id] of Object.entries(specials)) {
      this.idToTok[id] = tok;
      this.idBytes[id] = utf8(tok);
    }
    for (let b = 0; b < 256; b++) {
      const id = this.vocab.get(BYTE_TO_CHAR[b]);
      if (id === undefined) {
        throw new SiftError('E_CONFIG', `BpeTokenizer: the vocab lacks the byte-level token for byte ${b} ` +
          `("${BYTE_TO_CHAR[b]}"); a byte-level BPE needs all 256, or some text cannot be encoded.`);
      }
      this.byteIds[b] = id;
    }
    this.mergeList = spec.merges.map(([a, b]) => [a, b] as const);
    this.mergeOut = new Int32Array(this.mergeList.length);
    this.mergeList.forEach(([a, b], rank) => {
      const ia = this.vocab.get(a);
      const ib = this.vocab.get(b);
      const out = this.vocab.get(a + b);
      if (ia === undefined || ib === undefined || out === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new SiftError('E_CONFIG', `BpeTokenizer: merge ${rank} ("${a} ${b}") uses "${missing}", which is not ` +
          'in the vocab. The merges and the vocab come from different tokenizers, or the file is truncated.');
      }
      const key = ia * PAIR_SHIFT + ib;
      if (!this.mergeRank.has(key)) this.mergeRank.set(key, rank);
      this.mergeOut[rank] = out;
    });
    this.specialTokens = Object.freeze(specials);
    this.specialIdSet = new Set(Object.values(specials));
    const names = Object.keys(specials).sort((x, y) => y.length - x.length);
    this.specialRe = names.length === 0 ? undefined : new RegExp(`(${names.map(escapeRegExp).join('|')})`);
    const ids = guessSpecialIds(specials);
    this.eotId = ids.eotId;
    this.bosId = ids.bosId;
    this.eosId = ids.eosId;
    this.addPrefixSpace = spec.addPrefixSpace ?? false;
    this.ignoreMerges = spec.ignoreMerges ?? false;
  }

  /**
   * A `BpeTokenizer` from a Hugging Face `tokenizer.json` object of a GPT-2-style byte-level BPE: model `BPE` without
   * subword prefixes or byte fallback, no normalizer, a `ByteLevel` pre-tokenizer with the GPT-2 regex, a `ByteLevel`
   * (or no) decoder. Anything else throws `SiftError('E_UNSUPPORTED')`; `tokenizerFromJson` then uses
   * `@huggingface/tokenizers` instead.
   */
  static fromJSON(json: HfTokenizerJson): BpeTokenizer {
    const why = byteLevelBpeProblem(json);
    if (why !== undefined) throw new SiftError('E_UNSUPPORTED', `BpeTokenizer.fromJSON: ${why}`);
    const model = json.model;
    const merges = (model.merges ?? []).map((m, i): [string, string] => {
      if (Array.isArray(m)) return [m[0], String(m[1])];
      const parts = m.split(' ');
      if (parts.length !== 2) {
        throw new SiftError('E_CONFIG', `BpeTokenizer.fromJSON: merge ${i} "${m}" is not two space-separated tokens.`);
      }
      return [parts[0], parts[1]];
    });
    const specials: Record<string, number> = {};
    for (const t of json.added_tokens) specials[t.content] = t.id;
    const pre = json.pre_tokenizer as { add_prefix_space?: boolean };
    return new BpeTokenizer({
      vocab: model.vocab as Record<string, number>,
      merges,
      specialTokens: specials,
      addPrefixSpace: pre.add_prefix_space ?? false,
      ignoreMerges: model.ignore_merges === true,
    });
  }

  /** The merges in rank order, as `[left, right]` token strings. */
  get merges(): readonly (readonly [string, string])[] {
    return this.mergeList;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    if (this.specialRe === undefined) {
      this.encodeOrdinary(text, out);
      return out;
    }
    // split() with one capture group alternates ordinary text and special-token matches.
    text.split(this.specialRe).forEach((part, i) => {
      if (i % 2 === 1) out.push(this.specialTokens[part]);
      else if (part.length > 0) this.encodeOrdinary(part, out);
    });
    return out;
  }

  private encodeOrdinary(text: string, out: number[]): void {
    const t = this.addPrefixSpace && !text.startsWith(' ') ? ` ${text}` : text;
    for (const m of t.matchAll(GPT2_PRETOKENIZE_PATTERN)) {
      const word = m[0];
      const hit = this.cache.get(word);
      if (hit !== undefined) {
        for (const id of hit) out.push(id);
        continue;
      }
      const ids = this.bpeWord(word);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
      for (const id of ids) out.push(id);
    }
  }

  /** BPE of one pre-token: repeatedly merge every occurrence of the lowest-ranked adjacent pair. */
  private bpeWord(word: string): number[] {
    const bytes = utf8(word);
    let syms: number[] = Array.from(bytes, (b) => this.byteIds[b]);
    if (this.ignoreMerges) {
      const whole = this.vocab.get(Array.from(bytes, (b) => BYTE_TO_CHAR[b]).join(''));
      if (whole !== undefined) return [whole];
    }
    while (syms.length > 1) {
      let best = Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = this.mergeRank.get(syms[i] * PAIR_SHIFT + syms[i + 1]);
        if (r !== undefined && r < best) best = r;
      }
      if (best === Infinity) break;
      const [a, b] = this.mergeList[best];
      const ia = this.vocab.get(a)!;
      const ib = this.vocab.get(b)!;
      const merged = this.mergeOut[best];
      const next: number[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === ia && syms[i + 1] === ib) {
          next.push(merged);
          i++;
        } else {
          next.push(syms[i]);
        }
      }
      syms = next;
    }
    return syms;
  }

  decode(ids: ArrayLike<number>): string {
    const parts: string[] = [];
    let buf = new Uint8Array(Math.max(16, ids.length * 4));
    let len = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const bytes = Number.isInteger(id) ? this.idBytes[id] : undefined;
      if (bytes === undefined) {
        throw new SiftError('E_DATA', `BpeTokenizer.decode: id ${id} at position ${i} is not in the vocabulary ` +
          `(ids are integers in [0, ${this.vocabSize}) that name a token).`);
      }
      if (this.specialIdSet.has(id) && !this.vocab.has(this.idToTok[id]!)) {
        // Added tokens outside the byte vocab are written as their text, between byte runs.
        parts.push(fromUtf8(buf.subarray(0, len)), this.idToTok[id]!);
        len = 0;
        continue;
      }
      if (len + bytes.length > buf.length) {
        const bigger = new Uint8Array(Math.max(buf.length * 2, len + bytes.length));
        bigger.set(buf.subarray(0, len));
        buf = bigger;
      }
      buf.set(bytes, len);
      len += bytes.length;
    }
    parts.push(fromUtf8(buf.subarray(0, len)));
    return parts.join('');
  }

  idToToken(id: number): string | undefined {
    return this.idToTok[id];
  }

  tokenToId(token: string): number | undefined {
    return this.specialTokens[token] ?? this.vocab.get(token);
  }

  toJSON(): HfTokenizerJson {
    const vocab: Record<string, number> = {};
    for (let id = 0; id < this.vocabSize; id++) {
      const tok = this.idToTok[id];
      if (tok !== undefined && this.vocab.get(tok) === id) vocab[tok] = id;
    }
    const added: HfAddedToken[] = Object.entries(this.specialTokens)
      .sort((x, y) => x[1] - y[1])
      .map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }));
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: this.addPrefixSpace, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
        fuse_unk: false, byte_fallback: false, ignore_merges: this.ignoreMerges,
        vocab,
        merges: this.mergeList.map(([a, b]) => `${a} ${b}`),
      },
    };
  }
}

/** Why a `tokenizer.json` is not a GPT-2-style byte-level BPE that `BpeTokenizer` runs, or `undefined` if it is. */
export function byteLevelBpeProblem(json: HfTokenizerJson): string | undefined {
  const model = json.model as HfTokenizerJson['model'] | undefined;
  if (model === undefined || typeof model !== 'object') return 'the tokenizer.json has no "model" object.';
  if (model.type !== 'BPE') return `model type "${String(model.type)}" is not BPE.`;
  if (model.vocab === undefined || Array.isArray(model.vocab)) return 'the BPE model has no vocab object.';
  if (!Array.isArray(model.merges)) return 'the BPE model has no merges list.';
  for (const k of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    const v = model[k];
    if (v !== undefined && v !== null && v !== '') return `BPE ${k} ${JSON.stringify(v)} is not supported (byte-level BPE uses none).`;
  }
  if (model.byte_fallback === true) return 'BPE byte_fallback is not supported (a byte-level BPE needs none).';
  if (model.dropout !== undefined && model.dropout !== null && model.dropout !== 0) return 'BPE dropout is not supported.';
  if (json.normalizer !== null && json.normalizer !== undefined) return 'a normalizer is not supported (GPT-2 has none).';
  const pre = json.pre_tokenizer as { type?: string; use_regex?: boolean } | null | undefined;
  if (pre?.type !== 'ByteLevel' || pre.use_regex === false) {
    return `pre_tokenizer ${JSON.stringify(pre)} is not supported: expected {"type":"ByteLevel","use_regex":true} (GPT-2).`;
  }
  const dec = json.decoder as { type?: string } | null | undefined;
  if (dec !== null && dec !== undefined && dec.type !== 'ByteLevel') return `decoder type "${String(dec.type)}" is not ByteLevel.`;
  if (!Array.isArray(json.added_tokens)) return 'added_tokens is not a list.';
  return undefined;
}
