import { SiftError } from '@sift/tensor-core';

/** A Brown corpus genre letter (Francis & Kučera 1964/1979): A..R without I, O and Q. */
export type BrownGenre = 'A' | 'B' | 'C' | 'D' | 'E' | 'F' | 'G' | 'H' | 'J' | 'K' | 'L' | 'M' | 'N' | 'P' | 'R';

/** One row of the genre table. */
export interface BrownGenreInfo {
  /** The letter used in the file names (`ca01` is genre A). */
  readonly genre: BrownGenre;
  /** NLTK's category name, as in the package's `cats.txt` (`news`, `belles_lettres`, ...). */
  readonly category: string;
  /** The corpus manual's name, e.g. "press: reportage". */
  readonly name: string;
  /** Number of documents in the corpus (500 in all). */
  readonly documents: number;
}

/**
 * The 15 genres of the Brown corpus with NLTK's category names and the manual's titles. The fine-tuning experiments
 * use genres as domains (e.g. train on fiction K..P, test on learned J).
 */
export const BROWN_GENRES: readonly BrownGenreInfo[] = Object.freeze([
  { genre: 'A', category: 'news', name: 'press: reportage', documents: 44 },
  { genre: 'B', category: 'editorial', name: 'press: editorial', documents: 27 },
  { genre: 'C', category: 'reviews', name: 'press: reviews', documents: 17 },
  { genre: 'D', category: 'religion', name: 'religion', documents: 17 },
  { genre: 'E', category: 'hobbies', name: 'skill and hobbies', documents: 36 },
  { genre: 'F', category: 'lore', name: 'popular lore', documents: 48 },
  { genre: 'G', category: 'belles_lettres', name: 'belles-lettres', documents: 75 },
  { genre: 'H', category: 'government', name: 'miscellaneous: government & house organs', documents: 30 },
  { genre: 'J', category: 'learned', name: 'learned', documents: 80 },
  { genre: 'K', category: 'fiction', name: 'fiction: general', documents: 29 },
  { genre: 'L', category: 'mystery', name: 'fiction: mystery and detective', documents: 24 },
  { genre: 'M', category: 'science_fiction', name: 'fiction: science', documents: 6 },
  { genre: 'N', category: 'adventure', name: 'fiction: adventure and western', documents: 29 },
  { genre: 'P', category: 'romance', name: 'fiction: romance and love story', documents: 29 },
  { genre: 'R', category: 'humor', name: 'humor', documents: 9 },
] as const satisfies readonly BrownGenreInfo[]);

/**
 * Resolves a genre given as a letter (`'K'`, `'k'`), an NLTK category (`'fiction'`) or the manual's name
 * (`'fiction: general'`). Unknown names throw a `SiftError('E_CONFIG')` that lists the valid ones.
 * @example
 * brownGenre('humor').genre; // 'R'
 */
export function brownGenre(name: string): BrownGenreInfo {
  const key = name.trim().toLowerCase();
  const hit = BROWN_GENRES.find((g) => g.genre.toLowerCase() === key || g.category === key || g.name === key);
  if (hit === undefined) {
    const valid = BROWN_GENRES.map((g) => `${g.genre} (${g.category})`).join(', ');
    throw new SiftError('E_CONFIG', `unknown Brown genre "${name}". Valid genres: ${valid}.`);
  }
  return hit;
}
