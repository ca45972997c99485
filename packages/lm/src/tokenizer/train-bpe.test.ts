import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBrown, type BrownDocument } from '../data/brown/load.js';
import { BYTE_TO_CHAR, GPT2_PRETOKENIZE_PATTERN } from './byte-level.js';
import { loadTokenizer, saveTokenizer, tokenizerFingerprint } from './files.js';
import { HfTokenizer, tokenizerFromJson } from './hf.js';
import { trainBpe, type TrainBpeProgress } from './train-bpe.js';
import type { HfTokenizerJson } from './types.js';

const FIXTURE = new URL('../../test/fixtures/tokenizer/brown-humor-bpe-512.tokenizer.json', import.meta.url);

/**
 * Textbook BPE training, the independent reference: recount every adjacent pair over the word table before each
 * merge, take the most frequent (ties: the smaller (left id, right id)), replace it everywhere. O(merges x corpus).
 */
function naiveTrain(texts: readonly string[], vocabSize: number, minFrequency: number): [string, string][] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const m of t.matchAll(GPT2_PRETOKENIZE_PATTERN)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  const tokens = [...BYTE_TO_CHAR];
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const words = [...counts].map(([w, f]) => ({ syms: Array.from(new TextEncoder().encode(w)), f }));
  const merges: [string, string][] = [];
  while (tokens.length < vocabSize - 1) {
    const pairs = new Map<number, number>();
    for (const { syms, f } of words) for (let i = 0; i + 1 < syms.length; i++) {
      const k = syms[i] * 2 ** 21 + syms[i + 1];
      pairs.set(k, (pairs.get(k) ?? 0) + f);
    }
    let bestKey = -1;
    let best = 0;
    for (const [k, c] of pairs) if (c > best || (c === best && k < bestKey)) [bestKey, best] = [k, c];
    if (bestKey < 0 || best < minFrequency) break;
    const a = Math.floor(bestKey / 2 ** 21);
    const b = bestKey % 2 ** 21;
    const s = tokens[a] + tokens[b];
    if (!ids.has(s)) {
      ids.set(s, tokens.length);
      tokens.push(s);
    }
    const z = ids.get(s)!;
    merges.push([tokens[a], tokens[b]]);
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(z);
          i++;
        } else out.push(w.syms[i]);
      }
      w.syms = out;
    }
  }
  return merges;
}

let documents: readonly BrownDocument[];
let humor: string[];
let dir: string;
beforeAll(async () => {
  documents = (await loadBrown()).documents;
  humor = documents.filter((d) => d.genre === 'R').map((d) => d.text);
  dir = mkdtempSync(join(tmpdir(), 'sift-bpe-'));
});
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe('trainBpe', () => {
  it('learns the same merges as the textbook algorithm (Brown humor, 9 texts, vocab 700)', () => {
    for (const minFrequency of [2, 1]) {
      const { tokenizer } = trainBpe(humor, { vocabSize: 700, minFrequency });
      expect(tokenizer.merges, `minFrequency ${minFrequency}`).toEqual(naiveTrain(humor, 700, minFrequency));
    }
  });

  it('is deterministic, independent of document order, and pinned by a fixture', () => {
    const a = trainBpe(humor, { vocabSize: 512 });
    const b = trainBpe([...humor].reverse(), { vocabSize: 512 });
    expect(b.tokenizer.merges).toEqual(a.tokenizer.merges);
    const json = JSON.stringify(a.tokenizer.toJSON(), null, 1) + '\n';
    // Regenerate after a deliberate change: SIFT_UPDATE_FIXTURES=1 npx vitest run --project lm train-bpe
    if (process.env.SIFT_UPDATE_FIXTURES === '1') writeFileSync(FIXTURE, json);
    expect(existsSync(FIXTURE), 'fixture missing: run with SIFT_UPDATE_FIXTURES=1').toBe(true);
    const pinned = JSON.parse(readFileSync(FIXTURE, 'utf8')) as HfTokenizerJson;
    expect(a.tokenizer.toJSON()).toEqual(pinned);
    expect(a.report).toMatchObject({ merges: 255, vocabSize: 512 });
    expect(a.tokenizer.specialTokens).toEqual({ '<|endoftext|>': 511 });
  });

  it('trains 8192 on the whole corpus in seconds; the whole corpus round-trips and HF agrees', async () => {
    const progress: TrainBpeProgress[] = [];
    const texts = documents.map((d) => d.text);
    const { tokenizer, report } = trainBpe(texts, { vocabSize: 8192 }, (p) => progress.push(p));
    expect(report).toMatchObject({ vocabSize: 8192, merges: 7935, uniqueWords: expect.any(Number) as number });
    expect(report.seconds).toBeLessThan(30);
    expect(progress.at(-1)).toEqual({ stage: 'merge', done: 7935, total: 7935 });
    expect(progress[0]).toEqual({ stage: 'count', done: 1, total: 500 });
    let tokens = 0;
    for (const t of texts) {
      const ids = tokenizer.encode(t);
      tokens += ids.length;
      expect(tokenizer.decode(ids) === t).toBe(true);
    }
    // The trainer's own final segmentation equals what the encoder produces.
    expect(tokens).toBe(report.tokens);

    const file = join(dir, 'brown-8192', 'tokenizer.json');
    await saveTokenizer(tokenizer, file);
    const hf = tokenizerFromJson(readFileSync(file, 'utf8'), { engine: 'hf' });
    expect(hf).toBeInstanceOf(HfTokenizer);
    for (const t of texts.filter((_, i) => i % 25 === 0)) expect(hf.encode(t)).toEqual(tokenizer.encode(t));
    const loaded = await loadTokenizer(join(dir, 'brown-8192'));
    expect(loaded.encode(texts[1])).toEqual(tokenizer.encode(texts[1]));
    expect(await tokenizerFingerprint(loaded)).toBe(await tokenizerFingerprint(tokenizer));
  });

  it('keeps special-token text out of the merges and gives specials the last ids', () => {
    const { tokenizer } = trainBpe(['ab<|endoftext|>ab ab<|endoftext|>'], { vocabSize: 260, specialTokens: ['<|endoftext|>', '<pad>'], minFrequency: 1 });
    expect(tokenizer.specialTokens).toEqual({ '<|endoftext|>': 258, '<pad>': 259 });
    expect(tokenizer.merges.flat().join('')).not.toMatch(/[<|>]/);
    expect(tokenizer.encode('ab<pad>')).toEqual([tokenizer.tokenToId('ab'), 259]);
  });

  it('stops at minFrequency and validates its options', () => {
    expect(trainBpe('abc abc', { vocabSize: 1000 }).report.vocabSize).toBeLessThan(1000);
    expect(() => trainBpe('x', { vocabSize: 256 })).toThrow(/vocabSize must be an integer in \[257, 2097152\).*got 256/);
    expect(() => trainBpe('x', { vocabSize: 300, minFrequency: 0 })).toThrow(/minFrequency must be an integer >= 1, got 0/);
    expect(() => trainBpe('x', { vocabSize: 300, specialTokens: ['a', 'a'] })).toThrow(/distinct non-empty/);
    expect(() => trainBpe(['', ''], { vocabSize: 300 })).toThrow(expect.objectContaining({ code: 'E_EMPTY' }) as Error);
  });
});
