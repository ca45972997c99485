import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile } from '@sift/tensor-core';
import type { FinetuneCliReport } from './finetune.js';
import { sift } from '../cli.test-util.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-cli-finetune-'));
const base = join(dir, 'tiny');
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  const r = await sift('--quiet', 'lm', 'train', '--preset', 'tiny', '--steps', '12', '--batch-size', '2', '--genres', 'humor', '--out', base);
  expect(r.code, r.err).toBe(0);
});

// tiny: d 64, SwiGLU 128, 4 query / 2 kv heads of 16: per block q 64x64, k 32x64, v 32x64, o 64x64, gate 128x64,
// up 128x64, down 64x128 (out x in), 2 blocks. Σout = 2·512 = 1024, Σin = 2·512 = 1024, all parameters 90,496.
const SUM_OUT = 1024;
const SUM_IN = 1024;
const TRAIN = ['--steps', '4', '--batch-size', '2', '--lr', '1e-3', '--genres', 'humor', '--val-windows', '4', '--calib-samples', '4'];
const LINEARS = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']
  .flatMap((p) => [0, 1].map((b) => `model.layers.${String(b)}.${p}`));

describe('sift finetune', () => {
  it('GIFT-SW trains k columns per linear: the merged model differs from the base only in those columns; LoRA at the same budget', async () => {
    const out = join(dir, 'gift');
    const r = await sift('--json', '--quiet', 'finetune', '--model', base, '--out', out, '--method', 'gift-sw', '--salient-columns', '4', ...TRAIN);
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out) as FinetuneCliReport;
    expect(rep.trainableParams).toBe(4 * SUM_OUT);
    expect(rep.layers).toBe(14);
    expect(rep.training).toMatchObject({ steps: 4, lr: 1e-3, batchSize: 2, seqlen: 64 });
    expect(Number.isFinite(rep.losses.last)).toBe(true);
    expect(rep.validation?.windows).toBe(4);
    expect(rep.adapter).toBe(join(out, 'adapter.safetensors'));
    const adapter = await readSafetensorsFile(join(out, 'adapter.safetensors'));
    const sidecar = JSON.parse(readFileSync(join(out, 'adapter.gift.json'), 'utf8')) as { layers: Record<string, { k: number }> };
    expect(Object.keys(sidecar.layers).sort()).toEqual([...LINEARS].sort());
    const before = await readSafetensorsFile(join(base, 'model.safetensors'));
    const after = await readSafetensorsFile(join(out, 'model.safetensors'));
    let changedOutside = 0;
    let changedInside = 0;
    for (const name of LINEARS) {
      const cols = new Set(Array.from(adapter.get(`${name}.salient_idx`).data, Number));
      expect(cols.size).toBe(4);
      const t0 = before.get(`${name}.weight`);
      const w0 = t0.data as Float32Array;
      const w1 = after.get(`${name}.weight`).data as Float32Array;
      const [rows, n] = t0.shape;
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < n; j++) {
          if (w0[i * n + j] === w1[i * n + j]) continue;
          if (cols.has(j)) changedInside++;
          else changedOutside++;
        }
      }
    }
    expect(changedOutside).toBe(0); // noise is for training only; the frozen columns come back unchanged
    expect(changedInside).toBeGreaterThan(0);
    for (const t of ['model.embed_tokens.weight', 'model.norm.weight']) expect(Array.from(after.get(t).data as Float32Array)).toEqual(Array.from(before.get(t).data as Float32Array));

    // LoRA without --rank takes the GIFT-SW budget: r = round(k·Σout / Σ(in + out)) = 2, so r·Σ(in + out) = k·Σout.
    const lora = await sift('--json', '--quiet', 'finetune', '--model', base, '--out', join(dir, 'lora'), '--method', 'lora', '--salient-columns', '4', ...TRAIN);
    expect(lora.code, lora.err).toBe(0);
    const lr = JSON.parse(lora.out) as FinetuneCliReport;
    expect(lr.methodOptions).toMatchObject({ rank: 2, rankFromBudget: true });
    expect(lr.trainableParams).toBe(2 * (SUM_IN + SUM_OUT));
    expect(lr.trainableParams).toBe(rep.trainableParams);
    expect(existsSync(join(dir, 'lora', 'adapter.json'))).toBe(true);
    const ppl = await sift('--json', '--quiet', 'eval', 'ppl', '--model', join(dir, 'lora'), '--split', 'validation', '--genres', 'humor');
    expect(ppl.code, ppl.err).toBe(0);
  });

  it('DoRA with an explicit rank and full fine-tuning print their trainable parameters; Post-GIFT-SW trains the quantizer\'s columns', async () => {
    const dora = await sift('--quiet', 'finetune', '--model', base, '--out', join(dir, 'dora'), '--method', 'dora', '--rank', '1', ...TRAIN);
    expect(dora.code, dora.err).toBe(0);
    // rank 1: Σ(in + out) for A and B, plus one magnitude per output row.
    expect(dora.out).toMatch(new RegExp(`trainable parameters: ${(SUM_IN + 2 * SUM_OUT).toLocaleString('en-US')} of`));
    const full = await sift('--json', '--quiet', 'finetune', '--model', base, '--out', join(dir, 'full'), '--method', 'full', ...TRAIN);
    expect(full.code, full.err).toBe(0);
    const fr = JSON.parse(full.out) as FinetuneCliReport;
    expect(fr.trainableParams).toBe(fr.totalParams);
    expect(fr.adapter).toBeNull();

    const q = await sift('--quiet', 'quantize', '--model', base, '--out', join(dir, 'q4'), '--bits', '4', '--method', 'rtn', '--salient-columns', '3', '--calib-samples', '4', '--genres', 'humor');
    expect(q.code, q.err).toBe(0);
    const post = await sift('--json', '--quiet', 'finetune', '--quantized', join(dir, 'q4'), '--out', join(dir, 'post'), ...TRAIN);
    expect(post.code, post.err).toBe(0);
    expect((JSON.parse(post.out) as FinetuneCliReport).trainableParams).toBe(3 * SUM_OUT);
    const qcols = await readSafetensorsFile(join(dir, 'q4', 'quantized.safetensors'));
    const acols = await readSafetensorsFile(join(dir, 'post', 'adapter.safetensors'));
    for (const name of LINEARS) expect(Array.from(acols.get(`${name}.salient_idx`).data as Int32Array)).toEqual(Array.from(qcols.get(`${name}.salient_idx`).data as Int32Array));
  });

  it('usage errors exit 2; there is no --resume (the library keeps no fine-tuning state)', async () => {
    const out = join(dir, 'bad');
    const cases: [string[], RegExp][] = [
      [['finetune', '--model', base, '--out', out, '--method', 'qlora'], /--method must be one of gift-sw, lora, dora, full, got "qlora"/],
      [['finetune', '--model', base, '--quantized', base, '--out', out], /give exactly one of --model <dir> \(the checkpoint to fine-tune\) and --quantized <dir>/],
      [['finetune', '--out', out], /give exactly one of --model <dir>/],
      [['finetune', '--quantized', base, '--out', out], /lacks quantized\.safetensors/],
      [['finetune', '--model', base, '--out', out, '--noise-bits', '5'], /--noise-bits must be one of 2, 3, 4, 8, got 5/],
      [['finetune', '--model', base, '--out', out, '--steps', '0'], /--steps must be an integer >= 1, got 0/],
      [['finetune', '--model', join(dir, 'nope'), '--out', out], /nope is not a folder/],
      [['finetune', '--model', base, '--out', join(dir, 'full')], /already exist.*pass --force/],
      [['finetune', '--model', base, '--out', out, '--resume'], /unknown option '--resume'/],
    ];
    for (const [args, message] of cases) {
      const r = await sift(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
    const help = await sift('finetune', '--help');
    expect(help.out).toMatch(/Examples:\n\s+\$ sift finetune/);
  });
});
