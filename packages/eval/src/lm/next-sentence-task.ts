import { Rng, SiftError } from '@sift/tensor-core';
import { checkKnownKeys, checkNumber } from '../internal/options.js';
import type { MultipleChoiceTask } from './multiple-choice.js';

/** Options of `buildNextSentenceTask`. */
export interface NextSentenceTaskOptions {
  /** Seed: the same documents and seed give the same task, item for item. */
  seed: number;
  /** Choices per item: the true next sentence and numChoices − 1 distractors. */
  numChoices: number;
  /** Sentences of context before the one to pick. */
  contextSentences: number;
  /** Items drawn from each document (fewer when it is short). */
  itemsPerDocument: number;
  /** Task name in reports. */
  name: string;
}

/** Defaults of `buildNextSentenceTask`. */
export const NEXT_SENTENCE_DEFAULTS: NextSentenceTaskOptions = {
  seed: 0, numChoices: 4, contextSentences: 2, itemsPerDocument: 2, name: 'next-sentence',
};

/**
 * Builds a "pick the true next sentence" multiple-choice task from held-out documents, deterministically. For each
 * document, `itemsPerDocument` positions i >= contextSentences are drawn (seeded); the context is sentences
 * i − contextSentences .. i − 1 joined by spaces, the true choice is sentence i, and the distractors are sentences
 * drawn from *other* documents (distinct from the truth and from each other); the choice order is shuffled.
 *
 * Sift's built-in LM task applies this to the Brown corpus's held-out documents (the loader lives in `@sift/lm`);
 * any list of documents split into sentences works. A model that follows discourse beats the 1/numChoices chance.
 * @param documents each document as its sentences, in order
 * @example
 * const task = buildNextSentenceTask(heldOutDocs, { seed: 0 }); // { name: 'next-sentence', items: [...] }
 */
export function buildNextSentenceTask(documents: readonly (readonly string[])[], options: Partial<NextSentenceTaskOptions> = {}): MultipleChoiceTask {
  const w = 'buildNextSentenceTask';
  checkKnownKeys(w, options, Object.keys(NEXT_SENTENCE_DEFAULTS));
  const o = { ...NEXT_SENTENCE_DEFAULTS, ...options };
  checkNumber(w, 'seed', o.seed);
  checkNumber(w, 'numChoices', o.numChoices, { min: 2, integer: true });
  checkNumber(w, 'contextSentences', o.contextSentences, { min: 1, integer: true });
  checkNumber(w, 'itemsPerDocument', o.itemsPerDocument, { min: 1, integer: true });
  const nonEmpty = documents.filter((d) => d.length > 0).length;
  if (nonEmpty < 2) throw new SiftError('E_DATA', `${w}: distractors come from other documents, so at least 2 non-empty documents are needed; got ${nonEmpty}.`);
  const rng = new Rng(o.seed).fork('next-sentence');
  const items: MultipleChoiceTask['items'] = [];
  for (let d = 0; d < documents.length; d++) {
    const doc = documents[d];
    const candidates = doc.length - o.contextSentences;
    if (candidates <= 0) continue;
    const picks = rng.sample(candidates, Math.min(o.itemsPerDocument, candidates)).sort();
    for (const p of picks) {
      const i = p + o.contextSentences;
      const truth = doc[i];
      const chosen = new Set<string>([truth]);
      const distractors: string[] = [];
      for (let attempt = 0; distractors.length < o.numChoices - 1; attempt++) {
        if (attempt > 200 * o.numChoices) {
          throw new SiftError('E_DATA', `${w}: could not find ${o.numChoices - 1} distinct distractors for document ${d} sentence ${i}; ` +
            'the other documents hold too few distinct sentences. Use fewer choices or more documents.');
        }
        const od = rng.int(documents.length);
        const other = documents[od];
        if (od === d || other.length === 0) continue;
        const s = other[rng.int(other.length)];
        if (chosen.has(s)) continue;
        chosen.add(s);
        distractors.push(s);
      }
      const choices = [truth, ...distractors];
      const perm = rng.permutation(o.numChoices);
      const shuffled = Array.from(perm, (k) => choices[k]);
      items.push({ context: doc.slice(i - o.contextSentences, i).join(' '), choices: shuffled, gold: perm.indexOf(0) });
    }
  }
  return { name: o.name, items };
}
