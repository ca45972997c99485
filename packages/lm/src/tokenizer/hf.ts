import * as hfTokenizers from '@huggingface/tokenizers';
import { SiftError } from '@sift/tensor-core';
import { BpeTokenizer, byteLevelBpeProblem } from './bpe.js';
import { ByteTokenizer } from './byte-tokenizer.js';
import { guessSpecialIds, type HfTokenizerJson, type Tokenizer, type TokenizerKind } from './types.js';

/**
 * The part of `@huggingface/tokenizers`' `Tokenizer` used here. The package's own .d.ts files use extension-less
 * relative imports that TypeScript's NodeNext resolution cannot follow, so the types are restated.
 */
interface HfLibTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { clean_up_tokenization_spaces: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
}
const HfLibTokenizerCtor = (hfTokenizers as unknown as { Tokenizer: new (json: object, config: object) => HfLibTokenizer }).Tokenizer;

/** Model types of a `tokenizer.json` that `@huggingface/tokenizers` 0.2 runs. */
export const HF_SUPPORTED_MODELS: readonly string[] = Object.freeze(['BPE', 'WordPiece', 'Unigram']);

/** The part of a `tokenizer_config.json` that names special tokens (optional). */
export interface HfTokenizerConfig {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  [key: string]: unknown;
}

/**
 * Any `tokenizer.json` that `@huggingface/tokenizers` runs (BPE incl. Llama-style Metaspace/byte-fallback,
 * WordPiece, Unigram), behind the common `Tokenizer` interface. `encode` adds no BOS/EOS (the post-processor's
 * template is not applied) and `decode` does not "clean up" spaces, so byte-level tokenizers round-trip exactly.
 * @example
 * const tok = new HfTokenizer(JSON.parse(tokenizerJsonText));
 */
export class HfTokenizer implements Tokenizer {
  readonly kind: TokenizerKind = 'hf';
  readonly vocabSize: number;
  readonly specialTokens: Readonly<Record<string, number>>;
  readonly eotId: number | undefined;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  private readonly lib: HfLibTokenizer;
  private readonly json: HfTokenizerJson;

  constructor(json: HfTokenizerJson, config: HfTokenizerConfig = {}) {
    const type = (json.model as HfTokenizerJson['model'] | undefined)?.type;
    if (type === undefined || !HF_SUPPORTED_MODELS.includes(type)) {
      throw new SiftError('E_UNSUPPORTED', `tokenizer.json model type "${String(type)}" is not supported. Supported: ` +
        `${HF_SUPPORTED_MODELS.join(', ')} (through @huggingface/tokenizers). Export the tokenizer with one of them.`);
    }
    this.json = structuredClone(json);
    try {
      this.lib = new HfLibTokenizerCtor(structuredClone(json), structuredClone(config));
    } catch (err) {
      throw new SiftError('E_UNSUPPORTED', `@huggingface/tokenizers cannot load this ${type} tokenizer.json: ` +
        `${(err as Error).message}.`, { cause: err });
    }
    let maxId = -1;
    for (const id of this.lib.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const specials: Record<string, number> = {};
    for (const t of json.added_tokens) if (t.special) specials[t.content] = t.id;
    this.specialTokens = Object.freeze(specials);
    const named = (v: HfTokenizerConfig['bos_token']): number | undefined => {
      const name = typeof v === 'string' ? v : v?.content;
      return name === undefined ? undefined : this.lib.token_to_id(name);
    };
    const guess = guessSpecialIds(specials);
    this.bosId = named(config.bos_token) ?? guess.bosId;
    this.eosId = named(config.eos_token) ?? guess.eosId;
    this.eotId = guess.eotId ?? this.eosId;
  }

  encode(text: string): number[] {
    return text.length === 0 ? [] : this.lib.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: ArrayLike<number>): string {
    const arr = Array.from(ids);
    for (const [i, id] of arr.entries()) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new SiftError('E_DATA', `HfTokenizer.decode: id ${id} at position ${i} is outside [0, ${this.vocabSize}).`);
      }
    }
    return arr.length === 0 ? '' : this.lib.decode(arr, { clean_up_tokenization_spaces: false });
  }

  idToToken(id: number): string | undefined {
    return this.lib.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.lib.token_to_id(token);
  }

  toJSON(): HfTokenizerJson {
    return structuredClone(this.json);
  }
}

/** Options of `tokenizerFromJson`. */
export interface TokenizerFromJsonOptions {
  /**
   * `'auto'` (default): a GPT-2-style byte-level BPE runs on Sift's `BpeTokenizer` (same ids as
   * `@huggingface/tokenizers`, about 10x faster on a corpus: an unbounded per-word cache and numeric pair keys), a
   * no-merge byte vocabulary on `ByteTokenizer`, anything else on `@huggingface/tokenizers`. `'hf'` forces the
   * library; `'sift'` forces Sift's own (byte-level BPE only).
   */
  engine?: 'auto' | 'hf' | 'sift';
  /** `tokenizer_config.json` (names BOS/EOS for `HfTokenizer`). */
  config?: HfTokenizerConfig;
}

/**
 * Loads a Hugging Face `tokenizer.json` (object or text) as a `Tokenizer`. Unsupported model types throw
 * `SiftError('E_UNSUPPORTED')` listing the supported ones.
 * @example
 * const tok = tokenizerFromJson(await (await fetch(url)).text());
 */
export function tokenizerFromJson(input: HfTokenizerJson | string, options: TokenizerFromJsonOptions = {}): Tokenizer {
  let json: HfTokenizerJson;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input) as HfTokenizerJson;
    } catch (err) {
      throw new SiftError('E_CONFIG', `tokenizer.json is not valid JSON: ${(err as Error).message}.`, { cause: err });
    }
  } else {
    json = input;
  }
  if (typeof json !== 'object' || typeof json.model !== 'object' || !Array.isArray(json.added_tokens)) {
    throw new SiftError('E_CONFIG', 'tokenizer.json must be an object with "model" and "added_tokens" (a Hugging Face ' +
      'tokenizers file).');
  }
  const engine = options.engine ?? 'auto';
  if (!['auto', 'hf', 'sift'].includes(engine)) {
    throw new SiftError('E_CONFIG', `tokenizerFromJson: engine must be "auto", "hf" or "sift", got "${engine as string}".`);
  }
  const problem = byteLevelBpeProblem(json);
  if (engine === 'sift' && problem !== undefined) throw new SiftError('E_UNSUPPORTED', `tokenizerFromJson (engine "sift"): ${problem}`);
  if (engine !== 'hf' && problem === undefined) {
    const specials = ByteTokenizer.matchJSON(json);
    return specials !== undefined ? new ByteTokenizer(specials) : BpeTokenizer.fromJSON(json);
  }
  return new HfTokenizer(json, options.config);
}
