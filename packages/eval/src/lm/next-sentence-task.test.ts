import { describe, expect, it } from 'vitest';
import { buildNextSentenceTask } from './next-sentence-task.js';

const docs = Array.from({ length: 12 }, (_, d) => Array.from({ length: 3 + (d % 5) }, (_, i) => `Document ${d} says sentence ${i}.`));

describe('buildNextSentenceTask', () => {
  it('each item: context = the k sentences before, gold = the true next one, distractors from other documents', () => {
    const task = buildNextSentenceTask(docs, { seed: 1, contextSentences: 2, itemsPerDocument: 2, numChoices: 4 });
    expect(task.name).toBe('next-sentence');
    // Documents with L sentences give min(2, L - 2) items.
    expect(task.items).toHaveLength(docs.reduce((s, d) => s + Math.min(2, d.length - 2), 0));
    for (const item of task.items) {
      expect(item.choices).toHaveLength(4);
      expect(new Set(item.choices).size).toBe(4);
      const truth = item.choices[item.gold];
      const [, d, i] = /Document (\d+) says sentence (\d+)\./u.exec(truth)!.map(Number);
      expect(item.context).toBe(`${docs[d][i - 2]} ${docs[d][i - 1]}`);
      for (const [k, c] of item.choices.entries()) {
        if (k !== item.gold) expect(c.startsWith(`Document ${d} `)).toBe(false);
      }
    }
  });

  it('is deterministic in the seed and puts the answer at every position', () => {
    const a = buildNextSentenceTask(docs, { seed: 5, itemsPerDocument: 3 });
    expect(buildNextSentenceTask(docs, { seed: 5, itemsPerDocument: 3 })).toEqual(a);
    expect(buildNextSentenceTask(docs, { seed: 6, itemsPerDocument: 3 })).not.toEqual(a);
    expect(new Set(a.items.map((it) => it.gold))).toEqual(new Set([0, 1, 2, 3]));
  });

  it('rejects a single document and too few distinct distractors, and validates options', () => {
    expect(() => buildNextSentenceTask([docs[0]])).toThrow(/at least 2 non-empty documents/);
    expect(() => buildNextSentenceTask([['a', 'b', 'c'], ['x', 'x']], { numChoices: 4 })).toThrow(/distinct distractors/);
    expect(() => buildNextSentenceTask(docs, { numChoices: 1 })).toThrow(/"numChoices"/);
  });
});
