import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { serializeSafetensors } from '@sift/tensor-core';
import { expectNoLeak } from '@sift/tensor-core/testing';
import { JobCancelled, QUIET_CONTEXT, inspectCheckpoint, spdInverseJob, speedCheck, type JobContext } from './worker-jobs.js';

/** The jobs run here in Node on the test backend (wasm), exactly as the worker runs them in the page. */
describe('worker jobs', () => {
  it('speed check: times every repeat, reports progress up to 1, matches a float64 loop', async () => {
    const fractions: number[] = [];
    const ctx: JobContext = { ...QUIET_CONTEXT, progress: (f) => { fractions.push(f); } };
    const r = await speedCheck({ size: 64, repeats: 3, seed: 1 }, ctx);
    await expectNoLeak(() => speedCheck({ size: 16, repeats: 1, seed: 1 }, QUIET_CONTEXT), { label: 'speedCheck' });
    expect(r.backend).toBe(tf.getBackend());
    expect(r.seconds).toHaveLength(3);
    expect(r.gflops).toBeGreaterThan(0);
    expect(r.maxAbsError).toBeLessThan(1e-4); // float32 dot products of 64 terms in [-1, 1]
    expect(fractions.at(-1)).toBe(1);
    await expect(speedCheck({ size: 0, repeats: 1, seed: 0 }, QUIET_CONTEXT)).rejects.toThrow(/size must be an integer/);
  });

  it('speed check stops at the next checkpoint after a cancel, freeing its tensors', async () => {
    let calls = 0;
    const ctx: JobContext = {
      progress: () => undefined,
      checkpoint: () => (++calls > 2 ? Promise.reject(new JobCancelled('cancelled')) : Promise.resolve()),
    };
    const before = tf.memory().numTensors;
    await expect(speedCheck({ size: 32, repeats: 100, seed: 0 }, ctx)).rejects.toBeInstanceOf(JobCancelled);
    expect(calls).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('SPD inverse: A · A⁻¹ = I in float64 (host) and float32 (backend)', async () => {
    const f64 = await spdInverseJob({ size: 40, precision: 'float64', seed: 2 }, QUIET_CONTEXT);
    expect(f64.residual).toBeLessThan(1e-12);
    const f32 = await spdInverseJob({ size: 40, precision: 'float32', seed: 2 }, QUIET_CONTEXT);
    expect(f32.residual).toBeLessThan(1e-4);
    await expectNoLeak(() => spdInverseJob({ size: 8, precision: 'float32', seed: 2 }, QUIET_CONTEXT), { label: 'spdInverseJob' });
  });

  it('inspects a checkpoint File: tensors, sizes, config and tokenizer summaries', async () => {
    const bytes = serializeSafetensors({
      'a.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) },
      'b.bias': { dtype: 'I64', shape: [4], data: new BigInt64Array(4) },
    }, { note: 'x' });
    const r = await inspectCheckpoint({
      model: new File([bytes as Uint8Array<ArrayBuffer>], 'model.safetensors'),
      config: new File(['{"model_type":"gpt2","n_layer":2,"architectures":["GPT2LMHeadModel"],"other":1}'], 'config.json'),
      tokenizer: new File(['{"model":{"type":"WordPiece","vocab":{"a":0,"b":1}}}'], 'tokenizer.json'),
    }, QUIET_CONTEXT);
    expect([...r.tensors].sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { name: 'a.weight', dtype: 'F32', shape: [2, 3], bytes: 24 },
      { name: 'b.bias', dtype: 'I64', shape: [4], bytes: 32 },
    ]);
    expect(r).toMatchObject({ fileBytes: bytes.byteLength, tensorBytes: 56, parameters: 10, metadata: { note: 'x' } });
    expect(r.config).toEqual({ model_type: 'gpt2', n_layer: 2, architectures: 'GPT2LMHeadModel' });
    expect(r.tokenizer).toEqual({ model: 'WordPiece', vocabSize: 2 });
  });

  it('rejects malformed files with SiftError codes that name the file', async () => {
    const bad = new Uint8Array(16);
    new DataView(bad.buffer).setUint32(0, 100, true);
    await expect(inspectCheckpoint({ model: new File([bad], 'bad.safetensors') }, QUIET_CONTEXT))
      .rejects.toMatchObject({ code: 'E_SAFETENSORS', message: expect.stringContaining('bad.safetensors') as unknown });
    await expect(inspectCheckpoint({ model: new File([new Uint8Array(3)], 'tiny.safetensors') }, QUIET_CONTEXT))
      .rejects.toMatchObject({ code: 'E_SAFETENSORS' });
    const good = serializeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    await expect(inspectCheckpoint({ model: new File([good as Uint8Array<ArrayBuffer>], 'm.safetensors'), config: new File(['{oops'], 'config.json') }, QUIET_CONTEXT))
      .rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringContaining('config.json') as unknown });
  });
});
