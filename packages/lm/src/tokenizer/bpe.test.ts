import { describe, expect, it } from 'vitest';
import { Rng, SiftError } from '@sift/tensor-core';
import { BpeTokenizer, type BpeSpec } from './bpe.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { HfTokenizer, tokenizerFromJson } from './hf.js';
import type { HfTokenizerJson } from './types.js';

/** A toy byte-level BPE: the 256 bytes in byte order, then merges for "Ġthe", "ing", "aa". */
function toySpec(extra: Partial<BpeSpec> = {}): BpeSpec {
  const vocab = new Map<string, number>(BYTE_TO_CHAR.map((c, b) => [c, b]));
  const merges: [string, string][] = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['i', 'n'], ['in', 'g'], ['a', 'a']];
  for (const [a, b] of merges) if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
  return { vocab, merges, specialTokens: { '<|endoftext|>': vocab.size }, ...extra };
}

/** The textbook algorithm on strings (`encoder.py`'s `bpe`), for comparison. */
function naiveBpe(word: string, merges: readonly (readonly [string, string])[]): string[] {
  const rank = new Map(merges.map(([a, b], i) => [`${a} ${b}`, i]));
  let parts = Array.from(new TextEncoder().encode(word), (b) => BYTE_TO_CHAR[b]);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = rank.get(`${parts[i]} ${parts[i + 1]}`);
      if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
    }
    if (best < 0) return parts;
    const [a, b] = merges[bestRank];
    const next: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) {
        next.push(a + b);
        i++;
      } else next.push(parts[i]);
    }
    parts = next;
  }
}

describe('BpeTokenizer', () => {
  it('applies merges lowest rank first, all occurrences at once, like encoder.py', () => {
    const spec = toySpec();
    const tok = new BpeTokenizer(spec);
    const cases = [' the', ' thing', 'aaaaa', 'singing the', 'thethe', ' t h e', ''];
    for (const text of cases) {
      const want = (text.match(/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu) ?? [])
        .flatMap((w) => naiveBpe(w, spec.merges));
      expect(tok.encode(text).map((id) => tok.idToToken(id)), text).toEqual(want);
    }
    expect(tok.encode('aaaaa').map((id) => tok.idToToken(id))).toEqual(['aa', 'aa', 'a']);
  });

  it('round-trips random well-formed text', () => {
    const tok = new BpeTokenizer(toySpec());
    const rng = new Rng(3);
    for (let t = 0; t < 30; t++) {
      let s = '';
      for (let i = 0; i < 100; i++) s += String.fromCodePoint(rng.int(2) === 0 ? 32 + rng.int(95) : 0x80 + rng.int(0x2ff80));
      // Skip the surrogate range, which no well-formed string holds alone.
      s = s.replace(/[\ud800-\udfff]/gu, 'x');
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('matches @huggingface/tokenizers for add_prefix_space, ignore_merges and both merge formats', () => {
    const text = 'the thing aaaa<|endoftext|>singing';
    for (const extra of [{}, { addPrefixSpace: true }, { ignoreMerges: true }]) {
      const tok = new BpeTokenizer(toySpec(extra));
      const json = tok.toJSON();
      expect(new HfTokenizer(json).encode(text), JSON.stringify(extra)).toEqual(tok.encode(text));
      const pairs: HfTokenizerJson = { ...json, model: { ...json.model, merges: tok.merges.map(([a, b]) => [a, b]) } };
      expect(BpeTokenizer.fromJSON(pairs).encode(text)).toEqual(tok.encode(text));
    }
  });

  it('serializes to a tokenizer.json and back', () => {
    const tok = new BpeTokenizer(toySpec());
    const back = BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)) as HfTokenizerJson);
    expect(back.merges).toEqual(tok.merges);
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect(back.encode('the thing')).toEqual(tok.encode('the thing'));
    expect(back.toJSON()).toEqual(tok.toJSON());
  });

  it('reports inconsistent specs, bad ids and unsupported tokenizer.json files', () => {
    const spec = toySpec();
    const noByte = new Map(spec.vocab as Map<string, number>);
    noByte.delete('Ġ');
    expect(() => new BpeTokenizer({ ...spec, vocab: noByte })).toThrow(/lacks the byte-level token for byte 32/);
    expect(() => new BpeTokenizer({ ...spec, merges: [['x', 'y']] })).toThrow(/merge 0 \("x y"\) uses "xy"/);
    const tok = new BpeTokenizer(spec);
    expect(() => tok.decode([5, tok.vocabSize])).toThrow(/id \d+ at position 1 is not in the vocabulary/);
    const json = tok.toJSON();
    const cases: [Partial<HfTokenizerJson>, RegExp][] = [
      [{ normalizer: { type: 'NFC' } }, /normalizer is not supported/],
      [{ pre_tokenizer: { type: 'Metaspace' } }, /pre_tokenizer .* is not supported/],
      [{ model: { ...json.model, type: 'WordPiece' } }, /model type "WordPiece" is not BPE/],
      [{ model: { ...json.model, byte_fallback: true } }, /byte_fallback/],
      [{ model: { ...json.model, continuing_subword_prefix: '##' } }, /continuing_subword_prefix "##"/],
    ];
    for (const [patch, re] of cases) {
      const bad = { ...json, ...patch };
      expect(() => BpeTokenizer.fromJSON(bad)).toThrow(re);
      expect(() => BpeTokenizer.fromJSON(bad)).toThrow(SiftError);
      expect(() => tokenizerFromJson(bad, { engine: 'sift' })).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }) as Error);
    }
  });
});
