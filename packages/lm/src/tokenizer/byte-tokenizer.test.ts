import { describe, expect, it } from 'vitest';
import { Rng } from '@sift/tensor-core';
import { loadBrown } from '../data/brown/load.js';
import { ByteTokenizer } from './byte-tokenizer.js';
import { HfTokenizer, tokenizerFromJson } from './hf.js';

/** Random well-formed text: ASCII, Latin-1, CJK, emoji (astral), whitespace runs. */
function randomText(rng: Rng, n: number): string {
  const pools = [[0x20, 0x7e], [0xa0, 0xff], [0x4e00, 0x4fff], [0x1f300, 0x1f64f], [0x09, 0x0d]] as const;
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = pools[rng.int(pools.length)];
    s += String.fromCodePoint(lo + rng.int(hi - lo + 1));
  }
  return s;
}

describe('ByteTokenizer', () => {
  it('maps UTF-8 bytes to ids and specials after them', () => {
    const tok = new ByteTokenizer();
    expect(tok.vocabSize).toBe(257);
    expect(tok.specialTokens).toEqual({ '<|endoftext|>': 256 });
    expect([tok.eotId, tok.bosId, tok.eosId]).toEqual([256, 256, 256]);
    expect(tok.encode('hé')).toEqual([104, 0xc3, 0xa9]);
    expect(tok.encode('a<|endoftext|>b')).toEqual([97, 256, 98]);
    expect(tok.decode([97, 256, 98])).toBe('a<|endoftext|>b');
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([])).toBe('');
    expect(tok.idToToken(32)).toBe('Ġ');
    expect(tok.tokenToId('Ġ')).toBe(32);
    expect(tok.tokenToId('<|endoftext|>')).toBe(256);
    const custom = new ByteTokenizer(['<bos>', '<eos>']);
    expect([custom.vocabSize, custom.bosId, custom.eosId]).toEqual([258, 256, 257]);
  });

  it('round-trips random text and the whole Brown corpus', async () => {
    const tok = new ByteTokenizer();
    const rng = new Rng(7);
    for (let i = 0; i < 50; i++) {
      const s = randomText(rng, 200);
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    const { documents } = await loadBrown();
    for (const d of documents) expect(tok.decode(tok.encode(d.text))).toBe(d.text);
  });

  it('saves a tokenizer.json that @huggingface/tokenizers encodes identically', () => {
    const tok = new ByteTokenizer();
    const hf = new HfTokenizer(tok.toJSON());
    const text = 'Byte level: héllo 世界 🤗\n\n  x<|endoftext|>y';
    expect(hf.encode(text)).toEqual(tok.encode(text));
    expect(hf.decode(tok.encode(text))).toBe(text);
    const back = tokenizerFromJson(JSON.stringify(tok.toJSON()));
    expect(back).toBeInstanceOf(ByteTokenizer);
    expect(back.encode(text)).toEqual(tok.encode(text));
  });

  it('rejects bad ids and bad specials', () => {
    const tok = new ByteTokenizer();
    expect(() => tok.decode([1, 257])).toThrow(/id 257 at position 1 is outside \[0, 257\)/);
    expect(() => tok.decode([1.5])).toThrow(/id 1.5/);
    expect(() => new ByteTokenizer(['a', 'a'])).toThrow(/distinct non-empty/);
  });
});
