import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readShardedSafetensors, type SafeTensor } from '@sift/tensor-core';
import { loadCheckpoint, loadWeights, saveCheckpoint } from './checkpoint.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/models/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'sift-lm-ckpt-'));
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });

function bytes(t: SafeTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

async function expectSameTensors(a: string, b: string): Promise<void> {
  const x = (await readShardedSafetensors(a)).tensors;
  const y = (await readShardedSafetensors(b)).tensors;
  expect([...y.keys()].sort()).toEqual([...x.keys()].sort());
  for (const [name, t] of x) {
    const u = y.get(name)!;
    expect(u.dtype, name).toBe(t.dtype);
    expect(u.shape, name).toEqual(t.shape);
    expect(Buffer.compare(Buffer.from(bytes(u)), Buffer.from(bytes(t))), `bytes of ${name}`).toBe(0);
  }
}

describe('HF checkpoints', () => {
  for (const [name, dtype] of [['gpt2-tiny', 'F32'], ['llama-tiny', 'BF16']] as const) {
    it(`${name} (${dtype}): saved by Sift, byte-identical to the PyTorch file, loads back unchanged`, async () => {
      const { model, report } = await loadCheckpoint(`${FIXTURES}${name}`);
      expect(report.dtypes).toEqual([dtype]);
      const out = join(tmp, name);
      const saved = await saveCheckpoint(model, out);
      expect(saved.dtype).toBe(dtype);
      await expectSameTensors(`${FIXTURES}${name}`, out);
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(cfg).toMatchObject({ model_type: name.slice(0, name.indexOf('-')), torch_dtype: dtype === 'F32' ? 'float32' : 'bfloat16' });

      // sharded, and F16: save -> load -> save gives the same bytes
      const sharded = join(tmp, `${name}-sharded`);
      const r = await saveCheckpoint(model, sharded, { maxShardBytes: 40_000, dtype: 'F16' });
      expect(readdirSync(sharded)).toContain('model.safetensors.index.json');
      expect(r.files.length).toBeGreaterThan(3);
      const { model: back } = await loadCheckpoint(sharded);
      expect(back.config).toEqual({ ...model.config, torch_dtype: 'float16' });
      const again = join(tmp, `${name}-again`);
      await saveCheckpoint(back, again);
      await expectSameTensors(sharded, again);
      model.dispose();
      back.dispose();
    });
  }

  it('names a missing, mis-shaped or unexpected tensor', async () => {
    const { model } = await loadCheckpoint(`${FIXTURES}gpt2-tiny`);
    const file = (await readShardedSafetensors(`${FIXTURES}gpt2-tiny`)).tensors;
    const without = new Map(file);
    without.delete('transformer.h.1.mlp.c_fc.bias');
    expect(() => loadWeights(model, without)).toThrow(/missing 1 tensor\(s\).*transformer\.h\.1\.mlp\.c_fc\.bias/);
    const bad = new Map(file);
    bad.set('transformer.h.0.attn.c_attn.weight', { dtype: 'F32', shape: [192, 64], data: new Float32Array(192 * 64) });
    expect(() => loadWeights(model, bad)).toThrow(/"transformer\.h\.0\.attn\.c_attn\.weight" has shape \[192, 64\], expected \[64, 192\].*Conv1D/);
    const extra = new Map(file);
    extra.set('transformer.h.2.ln_1.weight', { dtype: 'F32', shape: [64], data: new Float32Array(64) });
    expect(() => loadWeights(model, extra)).toThrow(/unexpected tensor\(s\).*transformer\.h\.2\.ln_1\.weight/);
    // HF's causal-mask buffers, a tied lm_head, and GPT2Model files without the "transformer." prefix are accepted
    const hf = new Map<string, SafeTensor>([...file].map(([k, v]) => [k.replace(/^transformer\./, ''), v]));
    hf.set('h.0.attn.bias', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    hf.set('lm_head.weight', file.get('transformer.wte.weight')!);
    expect(loadWeights(model, hf).ignored.sort()).toEqual(['h.0.attn.bias', 'lm_head.weight']);
    await expect(loadCheckpoint(join(tmp, 'nope'))).rejects.toThrow(/cannot read .*config\.json/);
    model.dispose();
  });
});
