/**
 * Turns the POS-tagged Brown text (NLTK's "form C": `The/at jury/nn said/vbd ./.`) back into readable prose.
 *
 * File layout, as NLTK's `TaggedCorpusReader` reads it: paragraphs are blocks separated by blank lines, each line of
 * a block is one sentence, and a token is `word/tag` split at the LAST slash (`1/2/cd` is the word `1/2`). Tags with
 * `-hl` mark headlines, which we keep as their own paragraph.
 */

/** A parsed sentence: its words (tags stripped) and whether every tag carried `-hl` (a headline). */
export interface BrownSentence {
  words: string[];
  headline: boolean;
}

/** Counts gathered while parsing one file. */
export interface BrownParseCounts {
  /** Tagged tokens (punctuation included): 1,161,192 in the whole corpus. */
  tokens: number;
  /** Tokens that contain a letter or a digit. */
  words: number;
  sentences: number;
  paragraphs: number;
}

const HAS_ALNUM = /[\p{L}\p{N}]/u;

/** Parses one tagged file into paragraphs of sentences. */
export function parseTaggedBrown(raw: string): { paragraphs: BrownSentence[][]; counts: BrownParseCounts } {
  const counts: BrownParseCounts = { tokens: 0, words: 0, sentences: 0, paragraphs: 0 };
  const paragraphs: BrownSentence[][] = [];
  for (const block of raw.split(/\n[ \t]*\n/)) {
    const sentences: BrownSentence[] = [];
    for (const line of block.split('\n')) {
      const tokens = line.split(/[ \t]+/).filter((t) => t.length > 0);
      if (tokens.length === 0) continue;
      const words: string[] = [];
      let headline = true;
      for (const token of tokens) {
        const slash = token.lastIndexOf('/');
        // Every token of the corpus has a tag; a bare word (none seen) is kept whole rather than dropped.
        const word = slash > 0 ? token.slice(0, slash) : token;
        const tag = slash > 0 ? token.slice(slash + 1) : '';
        if (!tag.includes('-hl')) headline = false;
        words.push(word);
        counts.tokens++;
        if (HAS_ALNUM.test(word)) counts.words++;
      }
      sentences.push({ words, headline });
    }
    if (sentences.length === 0) continue;
    // A headline line opens its own paragraph; the sentences after it form another.
    let current: BrownSentence[] = [];
    for (const s of sentences) {
      if (s.headline) {
        if (current.length > 0) paragraphs.push(current);
        paragraphs.push([s]);
        current = [];
      } else {
        current.push(s);
      }
    }
    if (current.length > 0) paragraphs.push(current);
  }
  counts.sentences = paragraphs.reduce((n, p) => n + p.length, 0);
  counts.paragraphs = paragraphs.length;
  return { paragraphs, counts };
}

// Tokens written against the previous one (no space before).
const CLOSERS = new Set([',', '.', ';', ':', '?', '!', ')', ']', '}', "''", '%']);
// Tokens written against the next one (no space after).
const OPENERS = new Set(['``', '(', '[', '{']);
// Tokens written against both neighbours: `1960 - 1962` -> `1960-1962`, `counts / minute` -> `counts/minute`.
const JOINERS = new Set(['-', '/']);

/**
 * Joins the words of one paragraph into text: no space before closing punctuation, none after opening brackets and
 * quotes, Brown's `` `` `` and `''` become `"`, a lone `'` is an opening or closing single quote by context, `-` and
 * `/` join their neighbours, `--` keeps its spaces, and the sentence-final `.` after an abbreviation (`Jr. .`) is
 * dropped, and inch marks (`1/8'' ''`) become `1/8"`. Contractions (`didn't`) and possessives (`Texas'`) are single
 * tokens in Brown already.
 */
export function detokenizeParagraph(sentences: readonly BrownSentence[]): string {
  const words = sentences.flatMap((s) => s.words);
  let out = '';
  // True when the next token must not be preceded by a space (start, or after an opener or joiner).
  let glue = true;
  let singleOpen = false;
  for (let i = 0; i < words.length; i++) {
    let w = words[i];
    if (w.length > 2 && w.endsWith("''")) {
      // Inches: Brown tags `1/8"` as the word `1/8''` followed by a stray `''` token (all 61 cases).
      w = `${w.slice(0, -2)}"`;
      if (words[i + 1] === "''") i++;
    }
    if (w === '.' && out.endsWith(".") && !out.endsWith("..")) continue; // "Jr. ." -> "Jr."
    if (w === "'") {
      // Brown writes single quotes as a lone token with no open/close mark: it closes an open quote (unless it comes
      // right after an opener) or anything followed by closing punctuation or the paragraph's end; else it opens.
      const last = i + 1 >= words.length;
      if ((singleOpen && !glue) || last || CLOSERS.has(words[i + 1])) {
        out += "'";
        glue = false;
        singleOpen = false;
      } else {
        out += (glue ? '' : ' ') + "'";
        glue = true;
        singleOpen = true;
      }
      continue;
    }
    if (CLOSERS.has(w)) {
      out += w === "''" ? '"' : w;
      glue = false;
    } else if (OPENERS.has(w)) {
      out += (glue ? '' : ' ') + (w === '``' ? '"' : w);
      glue = true;
    } else if (JOINERS.has(w)) {
      out += w;
      glue = true;
    } else {
      out += (glue ? '' : ' ') + w;
      glue = false;
    }
  }
  return out;
}

/** Detokenises a whole parsed file: paragraphs joined by a blank line. */
export function detokenizeBrown(paragraphs: readonly (readonly BrownSentence[])[]): string {
  return paragraphs.map(detokenizeParagraph).join('\n\n');
}
