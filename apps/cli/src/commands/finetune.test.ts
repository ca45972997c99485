import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile } from '@sift/tensor-core';
import type { FinetuneCliReport } from './finetune.js';
import { sift } from '../cli.test-util.js';

const pkgDir = fileURLToPath(new URL('../..', import.meta.url));
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

  it('a killed run resumed with --resume ends exactly as an uninterrupted one; a changed setup is refused', async () => {
    const RUN = ['--quiet', 'finetune', '--model', base, '--method', 'gift-sw', '--salient-columns', '4', '--steps', '40', '--batch-size', '2', '--lr', '1e-3',
      '--genres', 'humor', '--val-windows', '2', '--calib-samples', '4', '--checkpoint-every', '4'];
    const a = join(dir, 'resume-a');
    const whole = await sift('--json', ...RUN, '--out', a);
    expect(whole.code, whole.err).toBe(0);
    const ref = JSON.parse(whole.out) as FinetuneCliReport;
    expect(ref.resumedFrom).toBeNull();
    expect(existsSync(join(a, 'train-state')), 'snapshots are removed once the outputs are written').toBe(false);

    // The same run in a child process, killed (SIGKILL) once a snapshot is on disk, then resumed.
    const b = join(dir, 'resume-b');
    expect(existsSync(join(pkgDir, 'dist/index.js')), 'dist/ is missing: run `pnpm build` first').toBe(true);
    const child = spawn(process.execPath, [join(pkgDir, 'bin/sift.js'), ...RUN, '--out', b], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
    const snapshot = join(b, 'train-state', 'finetune-state.safetensors');
    for (let i = 0; i < 1200 && !existsSync(snapshot); i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGKILL');
    expect(await exited, 'the run finished before it could be killed; make it longer').toBeNull();
    expect(existsSync(join(b, 'model.safetensors'))).toBe(false);

    const refused = await sift(...RUN, '--out', b);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/holds an interrupted fine-tuning run \(train-state\/\); pass --resume to continue it or --force to start over/);
    const changed = await sift(...RUN.map((v) => (v === '4' ? '3' : v)), '--out', b, '--resume');
    expect(changed.code).toBe(2);
    expect(changed.err).toMatch(/--resume: the interrupted run in .* had calibSamples 4, this one 3; give the same options/);
    const longer = await sift(...RUN.map((v) => (v === '40' ? '41' : v)), '--out', b, '--resume');
    expect(longer.code).toBe(2);
    expect(longer.err).toMatch(/--resume: fineTune: cannot resume: steps was 40 in the snapshot and is 41 now/);

    const resumed = await sift('--json', ...RUN, '--out', b, '--resume');
    expect(resumed.code, resumed.err).toBe(0);
    const got = JSON.parse(resumed.out) as FinetuneCliReport;
    expect(got.resumedFrom).toBeGreaterThan(0);
    expect(got.resumedFrom! % 4).toBe(0);
    expect(got.losses).toEqual(ref.losses);
    expect(got.validation).toEqual(ref.validation);
    const history = (d: string): number[] => (JSON.parse(readFileSync(join(d, 'report.json'), 'utf8')) as { history: number[] }).history;
    expect(history(b)).toEqual(history(a));
    expect(readFileSync(join(b, 'model.safetensors')).equals(readFileSync(join(a, 'model.safetensors'))), 'bit-identical merged model').toBe(true);
    expect(readFileSync(join(b, 'adapter.safetensors')).equals(readFileSync(join(a, 'adapter.safetensors'))), 'bit-identical adapter').toBe(true);
    expect(existsSync(join(b, 'train-state'))).toBe(false);
  });

  it('usage errors exit 2 and name the fix', async () => {
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
      [['finetune', '--model', base, '--out', out, '--checkpoint-every', '-1'], /--checkpoint-every must be an integer >= 0, got -1/],
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
