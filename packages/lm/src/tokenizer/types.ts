/** Which implementation is behind a `Tokenizer`. */
export type TokenizerKind = 'byte' | 'bpe' | 'hf';

/**
 * The common tokenizer interface of `@sift/lm`: text <-> token ids, special tokens, and a Hugging Face
 * `tokenizer.json` form. Implemented by `ByteTokenizer` (256 bytes + specials), `BpeTokenizer` (byte-level BPE: GPT-2
 * files, trained, or a byte-level `tokenizer.json`) and `HfTokenizer` (any `tokenizer.json` that
 * `@huggingface/tokenizers` runs).
 *
 * `encode` recognises the literal text of special tokens (`<|endoftext|>` in the input becomes one id), as Hugging
 * Face tokenizers do; ordinary text never contains them. `decode` writes special tokens back as their text.
 */
export interface Tokenizer {
  readonly kind: TokenizerKind;
  /** Number of ids: every id is in [0, vocabSize). */
  readonly vocabSize: number;
  /** Special (added) tokens: text -> id, e.g. `{ '<|endoftext|>': 50256 }`. */
  readonly specialTokens: Readonly<Record<string, number>>;
  /** Document separator for token streams: `<|endoftext|>` where present, else the EOS id. */
  readonly eotId: number | undefined;
  /** Beginning-of-sequence id (GPT-2: the same `<|endoftext|>`). */
  readonly bosId: number | undefined;
  /** End-of-sequence id. */
  readonly eosId: number | undefined;
  /** Text -> ids. No BOS/EOS is added; the data pipeline adds separators itself. */
  encode(text: string): number[];
  /** Ids -> text. For the byte-level tokenizers `decode(encode(x)) === x` for every string x. */
  decode(ids: ArrayLike<number>): string;
  /** The token string of an id (byte-level form, e.g. `Ġthe`), or `undefined`. */
  idToToken(id: number): string | undefined;
  /** The id of a token string, or `undefined`. */
  tokenToId(token: string): number | undefined;
  /** The tokenizer as a Hugging Face `tokenizer.json` object (`JSON.stringify` it to save). */
  toJSON(): HfTokenizerJson;
}

/** An entry of `added_tokens` in a `tokenizer.json`. */
export interface HfAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The `model` part of a `tokenizer.json` (only BPE is typed in full; other models pass through). */
export interface HfModelJson {
  type?: string;
  vocab?: Record<string, number> | [string, number][];
  /** BPE merges: `"a b"` strings (tokenizers < 0.20) or `[a, b]` pairs. */
  merges?: (string | [string, number | string])[];
  [key: string]: unknown;
}

/** A Hugging Face `tokenizer.json`, the fields this package reads or writes; others are kept as they are. */
export interface HfTokenizerJson {
  version?: string;
  truncation?: unknown;
  padding?: unknown;
  added_tokens: HfAddedToken[];
  normalizer: unknown;
  pre_tokenizer: unknown;
  post_processor: unknown;
  decoder: unknown;
  model: HfModelJson;
  [key: string]: unknown;
}

/** The name of GPT-2's only special token, its document separator. */
export const END_OF_TEXT = '<|endoftext|>';

/** Picks BOS / EOS / end-of-text ids from special tokens by their usual names. */
export function guessSpecialIds(specials: Readonly<Record<string, number>>): { bosId?: number; eosId?: number; eotId?: number } {
  const pick = (names: readonly string[]): number | undefined => {
    for (const n of names) if (n in specials) return specials[n];
    return undefined;
  };
  const eot = pick([END_OF_TEXT]);
  const bos = pick(['<|begin_of_text|>', '<s>', '<bos>', '[CLS]', '<|startoftext|>']) ?? eot;
  const eos = pick(['<|end_of_text|>', '</s>', '<eos>', '[SEP]', '<|im_end|>']) ?? eot;
  const out: { bosId?: number; eosId?: number; eotId?: number } = {};
  if (bos !== undefined) out.bosId = bos;
  if (eos !== undefined) out.eosId = eos;
  if ((eot ?? eos) !== undefined) out.eotId = eot ?? eos;
  return out;
}
