/**
 * The Sparsity, Salience & GIFT-SW and Event-sequence jobs, run in Node on the test backend (wasm) as the worker runs
 * them, on the bundled `small` checkpoint (given as user files, the path the file inputs take) and small settings.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { parsePattern } from '@sift/nm-sparsity';
import { eventSeqJob } from './eventseq-job.js';
import { salienceJob, sparsityJob } from './lm-jobs.js';
import type { LmSource, SparsityParams, TextSlice } from './protocol.js';
import { QUIET_CONTEXT } from './worker-jobs.js';

const publicDir = fileURLToPath(new URL('../public/', import.meta.url));
const modelDir = join(publicDir, 'models/small');

function files(): LmSource {
  const f = (name: string, type: string): File => new File([readFileSync(join(modelDir, name))], name, { type });
  return { kind: 'files', model: f('model.safetensors', 'application/octet-stream'), config: f('config.json', 'application/json'), tokenizer: f('tokenizer.json', 'application/json') };
}

const slice = JSON.parse(readFileSync(join(publicDir, 'data/brown-slice.json'), 'utf8')) as { calibration: { text: string }; test: { text: string } };
const texts: TextSlice = { calibration: slice.calibration.text, test: slice.test.text };

const base: SparsityParams = {
  source: files(), texts, pattern: '8:16', method: 'wanda', salientFraction: 0, varianceCorrection: 'none',
  calibrationWindows: 2, pplWindows: 2, seqlen: 32, seed: 0, prompt: 'The jury said', maxNewTokens: 3,
};

/** Kept entries (mask != 0) per group of m consecutive columns of every row. */
function groupCounts(mask: Uint8Array, rows: number, cols: number, m: number): Set<number> {
  const counts = new Set<number>();
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += m) {
      let c = 0;
      for (let k = 0; k < m; k++) if (mask[r * cols + g + k] !== 0) c++;
      counts.add(c);
    }
  }
  return counts;
}

describe('lab jobs', () => {
  it('sparsity: Wanda 8:16 keeps exactly 8 of every 16, 8.875 bits per weight, finite perplexities and text', async () => {
    const before = tf.memory().numTensors;
    const fractions: number[] = [];
    const r = await sparsityJob({ ...base, source: files() }, { ...QUIET_CONTEXT, progress: (f) => { fractions.push(f); } });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.model).toMatchObject({ modelType: 'llama', blocks: 4, vocabSize: 4096, context: 128, dtypes: ['F16'] });
    expect(r.layers).toHaveLength(4 * 7); // q, k, v, o, gate, up, down per block
    for (const l of r.layers) expect(groupCounts(l.mask, l.rows, l.cols, 16)).toEqual(new Set([8]));
    expect(r.sparsity).toBeCloseTo(0.5, 6);
    // fp16 values: 16 · 8/16 = 8 bits, plus a 14-bit code per 16 weights (ceil(log2 C(16, 8)) = 14).
    expect(r.bits.values).toBeCloseTo(8, 9);
    expect(r.bits.metadata).toBeCloseTo(14 / 16, 9);
    expect(r.bytes.packed).toBe(Math.ceil((r.bytes.dense / 2) * 8.875 / 8));
    expect(r.dense.tokens).toBe(2 * 31);
    expect(Number.isFinite(r.dense.perplexity) && Number.isFinite(r.pruned.perplexity)).toBe(true);
    expect(r.pruned.perplexity).not.toBe(r.dense.perplexity); // (62 test tokens: too few to say which is lower)
    expect(r.text.dense.length).toBeGreaterThan(0);
    expect(fractions.at(-1)).toBe(1);
  });

  it('sparsity: SparseGPT 2:4 with 1/32 salient weights and data-driven correction; unstructured uses CSR', async () => {
    const r = await sparsityJob({ ...base, source: files(), method: 'sparsegpt', pattern: '2:4', salientFraction: 1 / 32, varianceCorrection: 'data-driven' }, QUIET_CONTEXT);
    const salient = r.layers.map((l) => l.mask.filter((v) => v === 2).length / l.mask.length);
    for (const s of salient) expect(s).toBeCloseTo(1 / 32, 9);
    // Salient weights count toward N: still 2 of every 4 kept.
    for (const l of r.layers) expect(groupCounts(l.mask, l.rows, l.cols, parsePattern('2:4').m)).toEqual(new Set([2]));
    expect(r.bits.salient).toBeGreaterThan(0);
    const u = await sparsityJob({ ...base, source: files(), method: 'magnitude', pattern: 'unstructured' }, QUIET_CONTEXT);
    expect(u.bits.layout).toBe('CSR');
    expect(u.sparsity).toBeCloseTo(0.5, 2);
  });

  it('sparsity: a bad config.json names the field', async () => {
    const src = files();
    if (src.kind !== 'files') throw new Error('unreachable');
    const config = new File([JSON.stringify({ model_type: 'llama' })], 'config.json');
    await expect(sparsityJob({ ...base, source: { ...src, config } }, QUIET_CONTEXT)).rejects.toThrow(/config|hidden_size|vocab_size/);
  });

  it('salience: the k best columns by the score, and fine-tuning only them lowers the loss on the batch', async () => {
    const before = tf.memory().numTensors;
    const r = await salienceJob({
      source: files(), texts, layer: 'model.layers.1.mlp.down_proj', metric: 'gift-sw', k: 4, steps: 3, lr: 1e-2,
      calibrationWindows: 2, seqlen: 32, seed: 0,
    }, QUIET_CONTEXT);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.linears).toHaveLength(28);
    expect([r.rows, r.cols]).toEqual([256, 704]);
    expect(r.scores).toHaveLength(704);
    const top = Array.from(r.scores.keys()).sort((a, b) => r.scores[b] - r.scores[a] || a - b).slice(0, 4).sort((a, b) => a - b);
    expect(r.salient).toEqual(top);
    expect(r.losses).toHaveLength(3);
    expect(r.losses[2]).toBeLessThan(r.losses[0]); // the same batch every step: the k columns fit it
    expect(r.trainableParams).toBe(4 * 256);
  });

  it('event sequences: CoLES and MLEM embeddings, a 2-D map of every client and probe accuracies', async () => {
    const r = await eventSeqJob({ method: 'coles', clients: 40, epochs: 1, hiddenSize: 8, seed: 0 }, QUIET_CONTEXT);
    expect(r.clients).toBe(40);
    expect(r.map).toHaveLength(80);
    expect(r.map.every((v) => Number.isFinite(v))).toBe(true);
    expect(r.classes).toHaveLength(40);
    expect(r.probes.map((p) => p.label).sort()).toEqual(['composition', 'dynamics']);
    for (const p of r.probes) expect(p.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.epochLoss).toHaveLength(1);
    const m = await eventSeqJob({ method: 'mlem', clients: 40, epochs: 1, hiddenSize: 8, seed: 0 }, QUIET_CONTEXT);
    expect(m.method).toBe('mlem');
    expect(m.map).toHaveLength(80);
    expect(m.map.every((v) => Number.isFinite(v))).toBe(true);
  });
});
