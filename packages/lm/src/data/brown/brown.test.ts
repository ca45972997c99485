import { beforeAll, describe, expect, it } from 'vitest';
import { SiftError } from '@sift/tensor-core';
import { detokenizeParagraph, parseTaggedBrown } from './detokenize.js';
import { BROWN_GENRES, brownGenre } from './genres.js';
import { loadBrown, type BrownCorpus } from './load.js';
import { BROWN_SPLIT_DEFAULTS, loadBrownSplit, splitBrown } from './split.js';

let corpus: BrownCorpus;
beforeAll(async () => {
  corpus = await loadBrown();
});

const byId = (id: string): string => corpus.documents.find((d) => d.id === id)!.text;

describe('loadBrown', () => {
  it('reads 500 documents in 15 genres with the manual counts', () => {
    expect(corpus.documents).toHaveLength(500);
    expect(corpus.version).toMatch(/^\d+\.\d+\.\d+$/);
    for (const g of BROWN_GENRES) {
      expect(corpus.documents.filter((d) => d.genre === g.genre), g.genre).toHaveLength(g.documents);
    }
    expect(new Set(corpus.documents.map((d) => d.genre)).size).toBe(15);
    // NLTK: brown.words() has 1,161,192 tokens.
    expect(corpus.documents.reduce((n, d) => n + d.counts.tokens, 0)).toBe(1_161_192);
    const ca01 = corpus.documents[0];
    expect(ca01).toMatchObject({ id: 'ca01', genre: 'A', category: 'news', source: 'The Atlanta Constitution' });
    expect(corpus.documents[499].id).toBe('cr09');
  });

  it('is cached per folder', async () => {
    expect(await loadBrown()).toBe(corpus);
  });

  it('rebuilds readable text', () => {
    const ca01 = byId('ca01');
    expect(ca01.startsWith('The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary ' +
      'election produced "no evidence" that any irregularities took place.\n\nThe jury further said in term-end ' +
      'presentments that the City Executive Committee, which had over-all charge of the election, "deserves the ' +
      'praise and thanks of the City of Atlanta" for the manner in which the election was conducted.')).toBe(true);
    // Abbreviation at a sentence end, a headline paragraph, brackets, single quotes, a joined hyphen.
    expect(ca01).toContain('won by Mayor-nominate Ivan Allen Jr.\n\n');
    expect(ca01).toContain('\n\nMerger proposed\n\nHowever, the jury said it believes "these two offices');
    expect(ca01).toContain('recommended that: (1) Four additional deputies be employed');
    expect(byId('ca02')).toContain('We\'re getting more \'pro\' letters than \'con\' on horse race betting');
    expect(corpus.documents.map((d) => d.text).join('\n')).toContain('harmful C. & O.-B. & O. merger');
    // Inch marks: `1/8''/nn ''/''` -> 1/8".
    expect(corpus.documents.map((d) => d.text).join('\n')).toContain('the bars being 1/8" brass in 1/4" and 1/2" widths');
  });

  it('leaves no tag remnants or tokenizer spacing', () => {
    const all = corpus.documents.map((d) => d.text).join('\n\n');
    // word/tag pairs (`/nn`, `/vbd`, `/np-tl`; not `/.`, which linguistics texts use: `/r/.`) would follow a word directly and end at a space.
    const tagRe = /\S\/(?:at|nn|nns|np|nps|vb|vbd|vbn|vbg|vbz|jj|in|cc|rb|cd|cs|pps|ppss|ppo|to|md|dt|ql|wdt|be|bez|bedz|hv|hvd|,)(?:-tl|-hl|-nc)*(?=\s|$)/;
    expect(tagRe.exec(all)).toBeNull();
    expect(all).not.toMatch(/``|''/);
    expect(all).not.toMatch(/ [,.;:?!)]( |$)/m);
    expect(all).not.toMatch(/[ (] /);
    expect(all).not.toMatch(/\t|\n\n\n/);
  });

  it('detokenises the corner cases', () => {
    const p = (s: string): string => detokenizeParagraph(parseTaggedBrown(s).paragraphs.flat());
    expect(p("``/`` It's/pps+bez '/' See/vb Joe/np ,/, see/vb Jim/np '/' ''/'' ,/, he/pps said/vbd ./.")).toBe(
      '"It\'s \'See Joe, see Jim\'", he said.');
    expect(p('the/at 1960/cd -/- 1962/cd period/nn ,/, counts/nns //in minute/nn')).toBe('the 1960-1962 period, counts/minute');
    expect(p('Washington/np --/-- and/cc (/( indeed/rb )/) the/at U.S./np ./.')).toBe('Washington -- and (indeed) the U.S.');
    expect(p('The/at-hl Title/nn-hl\nBody/nn ./.')).toBe('The Title Body.');
    expect(parseTaggedBrown('\n\n\tA/at-hl B/nn-hl\nC/nn ./.\n\n\tD/nn ./.\n').counts).toEqual({ tokens: 6, words: 4, sentences: 3, paragraphs: 3 });
  });

  it('fails clearly on a folder without Brown files', async () => {
    await expect(loadBrown({ dir: '/nonexistent/brown' })).rejects.toMatchObject({ code: 'E_IO' });
    await expect(loadBrown({ dir: '/tmp' })).rejects.toThrow(/no Brown files/);
  });
});

describe('genres', () => {
  it('resolve letters, NLTK categories and names; unknown ones list the valid', () => {
    expect(brownGenre('r').genre).toBe('R');
    expect(brownGenre('belles_lettres').genre).toBe('G');
    expect(brownGenre('Fiction: Science').genre).toBe('M');
    expect(() => brownGenre('poetry')).toThrow(SiftError);
    expect(() => brownGenre('poetry')).toThrow(/unknown Brown genre "poetry". Valid genres: A \(news\)/);
  });
});

describe('splitBrown', () => {
  // max(1, round(0.05 n)) per genre: 25 validation and 25 test documents.
  const HELD_OUT: Record<string, number> = { A: 2, B: 1, C: 1, D: 1, E: 2, F: 2, G: 4, H: 2, J: 4, K: 1, L: 1, M: 1, N: 1, P: 1, R: 1 };

  it('is 450 / 25 / 25, stratified by genre, disjoint and complete', () => {
    const s = splitBrown(corpus.documents);
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([450, 25, 25]);
    for (const g of BROWN_GENRES) {
      const n = (docs: readonly { genre: string }[]): number => docs.filter((d) => d.genre === g.genre).length;
      expect([n(s.train), n(s.validation), n(s.test)], g.genre).toEqual([g.documents - 2 * HELD_OUT[g.genre], HELD_OUT[g.genre], HELD_OUT[g.genre]]);
    }
    const ids = [...s.train, ...s.validation, ...s.test].map((d) => d.id);
    expect(new Set(ids).size).toBe(500);
  });

  it('is deterministic, pinned, and changes with the seed', () => {
    const a = splitBrown(corpus.documents);
    const b = splitBrown([...corpus.documents].reverse());
    expect(b.test.map((d) => d.id).sort()).toEqual(a.test.map((d) => d.id));
    expect(a.test.map((d) => d.id)).toEqual(PINNED_TEST);
    expect(a.validation.map((d) => d.id)).toEqual(PINNED_VALIDATION);
    const c = splitBrown(corpus.documents, { seed: BROWN_SPLIT_DEFAULTS.seed + 1 });
    expect(c.test.map((d) => d.id)).not.toEqual(PINNED_TEST);
  });

  it('validates its options', () => {
    expect(() => splitBrown(corpus.documents, { test: 1.2 })).toThrow(/test must be a fraction in \[0, 1\), got 1.2/);
    expect(() => splitBrown(corpus.documents, { test: 0.5, validation: 0.5 })).toThrow(/must be < 1/);
    expect(() => splitBrown([])).toThrow(expect.objectContaining({ code: 'E_EMPTY' }) as Error);
    expect(() => splitBrown(corpus.documents.filter((d) => d.genre === 'M'), { test: 0.45, validation: 0.45 })).toThrow(/genre M has 6/);
  });
});

describe('loadBrownSplit', () => {
  it('filters by genre and fails on unknown genres and empty splits', async () => {
    const sf = await loadBrownSplit({ split: 'test', genres: ['science_fiction', 'R'] });
    expect(sf.map((d) => d.genre).sort()).toEqual(['M', 'R']);
    expect((await loadBrownSplit()).length).toBe(450);
    await expect(loadBrownSplit({ genres: ['Z'] })).rejects.toThrow(/unknown Brown genre "Z"/);
    await expect(loadBrownSplit({ split: 'validation', validation: 0 })).rejects.toMatchObject({ code: 'E_EMPTY' });
    // @ts-expect-error: checking the runtime guard
    await expect(loadBrownSplit({ split: 'dev' })).rejects.toThrow(/split must be/);
  });
});

// The split of seed 1234 (BROWN_SPLIT_DEFAULTS): experiments and token caches depend on it, so a change is deliberate.
const PINNED_TEST: string[] = [
  'ca24', 'ca31', 'cb06', 'cc05', 'cd04', 'ce17', 'ce25', 'cf15', 'cf28', 'cg46',
  'cg50', 'cg51', 'cg69', 'ch11', 'ch16', 'cj05', 'cj27', 'cj36', 'cj40', 'ck28',
  'cl16', 'cm06', 'cn23', 'cp26', 'cr04',
];
const PINNED_VALIDATION: string[] = [
  'ca01', 'ca16', 'cb23', 'cc04', 'cd17', 'ce13', 'ce23', 'cf07', 'cf12', 'cg10',
  'cg60', 'cg65', 'cg72', 'ch23', 'ch27', 'cj13', 'cj21', 'cj30', 'cj42', 'ck01',
  'cl14', 'cm01', 'cn17', 'cp01', 'cr08',
];
