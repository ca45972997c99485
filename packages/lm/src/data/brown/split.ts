import { Rng, SiftError } from '@sift/tensor-core';
import { BROWN_GENRES, brownGenre, type BrownGenre } from './genres.js';
import { loadBrown, type BrownDocument, type LoadBrownOptions } from './load.js';

/** The three splits of the corpus. */
export type BrownSplitName = 'train' | 'validation' | 'test';

/** Options of `splitBrown`. */
export interface BrownSplitOptions {
  /** Seed of the per-genre permutations. Changing it gives another (equally valid) split. */
  seed: number;
  /** Fraction of each genre's documents held out for validation, in [0, 1). */
  validation: number;
  /** Fraction of each genre's documents held out for test, in [0, 1). */
  test: number;
}

/**
 * Defaults of `splitBrown`: 90/5/5 by document, stratified by genre. Per genre, `round(n * fraction)` documents go
 * to validation and to test, at least one each, so every genre (even M, science fiction, 6 texts) is in every split:
 * 450 / 25 / 25 documents.
 */
export const BROWN_SPLIT_DEFAULTS: Readonly<BrownSplitOptions> = Object.freeze({ seed: 1234, validation: 0.05, test: 0.05 });

/** The documents of each split, each in corpus order. */
export type BrownSplits = Readonly<Record<BrownSplitName, readonly BrownDocument[]>>;

function parseSplitOptions(input: Partial<BrownSplitOptions>): BrownSplitOptions {
  const o = { ...BROWN_SPLIT_DEFAULTS, ...Object.fromEntries(Object.entries(input as Record<string, unknown>).filter(([, v]) => v !== undefined)) };
  for (const k of ['validation', 'test'] as const) {
    if (!(typeof o[k] === 'number' && o[k] >= 0 && o[k] < 1)) {
      throw new SiftError('E_CONFIG', `splitBrown: ${k} must be a fraction in [0, 1), got ${String(o[k])}.`);
    }
  }
  if (o.validation + o.test >= 1) {
    throw new SiftError('E_CONFIG', `splitBrown: validation + test must be < 1 to leave training documents, got ` +
      `${o.validation} + ${o.test}.`);
  }
  if (!Number.isFinite(o.seed)) throw new SiftError('E_CONFIG', `splitBrown: seed must be a finite number, got ${String(o.seed)}.`);
  return o;
}

/**
 * Splits documents into train / validation / test deterministically, by document and stratified by genre: each
 * genre's documents (in id order) are permuted by `new Rng(seed).fork('brown-split:' + genre)`; the first
 * `max(1, round(n * test))` go to test, the next `max(1, round(n * validation))` to validation, the rest to train
 * (a fraction of 0 gives 0 documents). The split of a document depends only on its genre's documents and the seed.
 * @example
 * const { train, validation, test } = splitBrown((await loadBrown()).documents);
 * [train.length, validation.length, test.length]; // [450, 25, 25]
 */
export function splitBrown(documents: readonly BrownDocument[], options: Partial<BrownSplitOptions> = {}): BrownSplits {
  const o = parseSplitOptions(options);
  if (documents.length === 0) throw new SiftError('E_EMPTY', 'splitBrown: got no documents to split.');
  const root = new Rng(o.seed);
  const assigned = new Map<string, BrownSplitName>();
  for (const { genre } of BROWN_GENRES) {
    const docs = documents.filter((d) => d.genre === genre).map((d) => d.id).sort();
    const n = docs.length;
    if (n === 0) continue;
    const count = (f: number): number => (f === 0 ? 0 : Math.max(1, Math.round(n * f)));
    const nTest = count(o.test);
    const nVal = count(o.validation);
    if (nTest + nVal >= n) {
      throw new SiftError('E_EMPTY', `splitBrown: genre ${genre} has ${n} document(s), too few for ${nTest} test + ` +
        `${nVal} validation + at least 1 training document. Lower the fractions or add documents.`);
    }
    const perm = root.fork(`brown-split:${genre}`).permutation(n);
    perm.forEach((docIndex, rank) => {
      assigned.set(docs[docIndex], rank < nTest ? 'test' : rank < nTest + nVal ? 'validation' : 'train');
    });
  }
  const out: Record<BrownSplitName, BrownDocument[]> = { train: [], validation: [], test: [] };
  for (const d of documents) out[assigned.get(d.id)!].push(d);
  return out;
}

/** Options of `loadBrownSplit`. */
export interface LoadBrownSplitOptions extends LoadBrownOptions, Partial<BrownSplitOptions> {
  /** Which split; default `'train'`. */
  split?: BrownSplitName;
  /** Keep only these genres (letters, NLTK categories or names); default: all 15. */
  genres?: readonly string[];
}

/**
 * Loads the Brown corpus and returns the documents of one split, optionally only some genres (the fine-tuning
 * domains). Empty results and unknown genres throw a `SiftError`.
 * @example
 * const fiction = await loadBrownSplit({ split: 'validation', genres: ['K', 'L', 'N', 'P'] });
 */
export async function loadBrownSplit(options: LoadBrownSplitOptions = {}): Promise<readonly BrownDocument[]> {
  const split = options.split ?? 'train';
  if (!['train', 'validation', 'test'].includes(split)) {
    throw new SiftError('E_CONFIG', `loadBrownSplit: split must be "train", "validation" or "test", got "${split}".`);
  }
  const genres = options.genres === undefined ? undefined : new Set<BrownGenre>(options.genres.map((g) => brownGenre(g).genre));
  const corpus = await loadBrown(options.dir === undefined ? {} : { dir: options.dir });
  const docs = splitBrown(corpus.documents, {
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.validation === undefined ? {} : { validation: options.validation }),
    ...(options.test === undefined ? {} : { test: options.test }),
  })[split].filter((d) => genres === undefined || genres.has(d.genre));
  if (docs.length === 0) {
    throw new SiftError('E_EMPTY', `loadBrownSplit: the ${split} split has no documents` +
      (genres === undefined ? '' : ` of genre(s) ${[...genres].join(', ')}`) + '. Check the fractions and genres.');
  }
  return docs;
}
