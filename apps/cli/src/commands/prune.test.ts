import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPacked, unpackNM } from '@sift/nm-sparsity';
import { readSafetensorsFile } from '@sift/tensor-core';
import type { PruneCliReport } from './prune.js';
import { sift } from '../cli.test-util.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-cli-prune-'));
const base = join(dir, 'tiny');
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// A tiny model trained for a few steps: pruning needs real (not random) weights only loosely; the point is the path.
beforeAll(async () => {
  const r = await sift('--quiet', 'lm', 'train', '--preset', 'tiny', '--steps', '12', '--batch-size', '2', '--genres', 'humor', '--out', base);
  expect(r.code, r.err).toBe(0);
});

const CALIB = ['--calib-samples', '8', '--calib-batch-size', '4', '--genres', 'humor'];

/** Weights [out, in] of every pruned linear in an HF checkpoint folder, by layer path. */
async function weights(folder: string, names: readonly string[]): Promise<Map<string, { data: Float32Array; shape: number[] }>> {
  const file = await readSafetensorsFile(join(folder, 'model.safetensors'));
  return new Map(names.map((n) => {
    const t = file.get(`${n}.weight`);
    return [n, { data: t.data as Float32Array, shape: [...t.shape] }];
  }));
}

describe('sift prune', () => {
  it('SparseGPT 8:16 with 1:16 structured salient weights: packed + dense checkpoints agree, every group keeps <= 8, eval ppl reads it', async () => {
    const out = join(dir, 'sgpt-8x16');
    const r = await sift('--json', '--quiet', '--seed', '3', 'prune', '--model', base, '--out', out, '--pattern', '8:16', '--method', 'sparsegpt',
      '--salient-fraction', '0.0625', '--salient-group', '16', '--variance-correction', 'data-free', ...CALIB);
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out) as PruneCliReport;
    expect(rep.layers).toHaveLength(14); // 7 linears per block, 2 blocks
    expect(rep.options).toMatchObject({ method: 'sparsegpt', pattern: '8:16', salientFraction: 0.0625, varianceCorrection: 'data-free' });
    expect(rep.calibration).toMatchObject({ samples: 8, seqlen: 64, seed: 3, tokens: 512 });
    for (const l of rep.layers) {
      expect(l.sparsity).toBeCloseTo(0.5, 6); // salient weights count toward the 8 kept
      expect(l.salientFraction).toBeCloseTo(1 / 16, 6);
      expect(l.gamma).not.toBeNull();
      // 14-bit code per 16 weights, 8 fp16 values, and 1:16 salient: (16 + ceil(log2 16)) / 16 = 1.25
      expect(l.bitsPerWeight).toEqual({ metadata: 14 / 16, values: 8, salient: 1.25, total: 14 / 16 + 8 + 1.25 });
    }
    expect(rep.bitsPerWeight?.total).toBeCloseTo(10.125, 10);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toMatchObject({ command: 'prune', sparsity: rep.sparsity });

    // Independent checks on the files: the dense checkpoint keeps at most 8 of every 16 inputs per row, and the
    // packed checkpoint unpacks to exactly those weights.
    const names = rep.layers.map((l) => l.name);
    const dense = await weights(out, names);
    const { layers, sidecar } = await loadPacked(join(out, 'packed.safetensors'));
    expect(Object.keys(layers).sort()).toEqual([...names].sort());
    expect(sidecar.layers[names[0]].pattern).toBe('8:16');
    for (const name of names) {
      const { data, shape } = dense.get(name) ?? { data: new Float32Array(), shape: [0, 0] };
      const [rows, cols] = shape;
      for (let i = 0; i < rows; i++) {
        for (let g = 0; g < cols; g += 16) {
          let nz = 0;
          for (let j = g; j < g + 16; j++) if (data[i * cols + j] !== 0) nz++;
          expect(nz).toBeLessThanOrEqual(8);
        }
      }
      expect(Array.from(unpackNM(layers[name]))).toEqual(Array.from(data));
    }

    const ppl = await sift('--json', '--quiet', 'eval', 'ppl', '--model', out, '--split', 'validation', '--genres', 'humor');
    expect(ppl.code, ppl.err).toBe(0);
    const p = JSON.parse(ppl.out) as { perplexity: number };
    expect(Number.isFinite(p.perplexity)).toBe(true);
    expect(p.perplexity).toBeLessThan(257); // still better than uniform over bytes
    const gen = await sift('--json', '--quiet', 'lm', 'generate', '--model', out, '--prompt', 'The', '--max-new-tokens', '3');
    expect(gen.code, gen.err).toBe(0);
  });

  it('unstructured magnitude at 60%, options from a YAML config; no packed format; the same seed gives the same weights', async () => {
    const cfg = join(dir, 'prune.yaml');
    writeFileSync(cfg, 'seed: 5\nprune:\n  pattern: unstructured\n  method: magnitude\n  sparsity: 0.6\n  calib-samples: 4\n  genres: humor\n');
    const a = join(dir, 'mag-a');
    const r = await sift('--json', '--quiet', '--config', cfg, 'prune', '--model', base, '--out', a);
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out) as PruneCliReport;
    expect(rep.options).toMatchObject({ method: 'magnitude', pattern: 'unstructured', sparsity: 0.6 });
    expect(rep.calibration.seed).toBe(5);
    expect(rep.sparsity).toBeCloseTo(0.6, 3);
    expect(rep.packed.path).toBeNull();
    expect(rep.bitsPerWeight).toBeNull();
    expect(existsSync(join(a, 'packed.safetensors'))).toBe(false);

    // Wanda depends on the (seeded) calibration windows: two runs with one seed agree bit for bit, another differs.
    const w = ['prune', '--model', base, '--pattern', '2:4', '--method', 'wanda', '--calib-samples', '4', '--genres', 'humor'];
    for (const [name, seed] of [['w1', '7'], ['w2', '7'], ['w3', '8']] as const) {
      const x = await sift('--quiet', '--seed', seed, ...w, '--out', join(dir, name));
      expect(x.code, x.err).toBe(0);
    }
    const bytes = (n: string): Buffer => readFileSync(join(dir, n, 'model.safetensors'));
    expect(bytes('w1').equals(bytes('w2'))).toBe(true);
    expect(bytes('w1').equals(bytes('w3'))).toBe(false);
    // --force overwrites; the table goes to stdout.
    const again = await sift('--quiet', '--seed', '7', ...w, '--out', join(dir, 'w1'), '--force');
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/model\.layers\.0\.mlp\.down_proj\s+64x128\s+0\.500/);
    expect(again.out).toMatch(/pruned 14 layers .* wanda at 2:4: sparsity 0\.5000, 8\.750 bits per weight/);
    // --force also clears what the earlier run wrote and this one does not (no packed file for unstructured).
    expect(existsSync(join(dir, 'w3', 'packed.safetensors'))).toBe(true);
    const u = await sift('--quiet', 'prune', '--model', base, '--out', join(dir, 'w3'), '--pattern', 'unstructured', '--method', 'magnitude', '--calib-samples', '2', '--genres', 'humor', '--force');
    expect(u.code, u.err).toBe(0);
    expect(existsSync(join(dir, 'w3', 'packed.safetensors'))).toBe(false);
    expect(existsSync(join(dir, 'w3', 'packed.nm.json'))).toBe(false);
  });

  it('usage errors exit 2 with one sentence naming the fix; --help has examples', async () => {
    const out = join(dir, 'bad');
    const cases: [string[], RegExp][] = [
      [['prune', '--model', base, '--out', out, '--pattern', '3:2'], /N:M needs integers 0 < N < M <= 64, got 3:2/],
      [['prune', '--model', base, '--out', out, '--pattern', 'half'], /"half" is not an N:M pattern/],
      [['prune', '--model', base, '--out', out, '--pattern', '4:24', '--block-size', '48'], /has 64 inputs, not a multiple of M=24 .*use a pattern whose M divides it \(2:4, 4:8, 8:16, 16:32\)/],
      [['prune', '--model', base, '--out', out, '--method', 'obs'], /--method must be one of magnitude, wanda, sparsegpt, got "obs"/],
      [['prune', '--model', base, '--out', out, '--variance-correction', 'both'], /--variance-correction must be one of none, data-free, data-driven/],
      [['prune', '--model', base, '--out', out, '--mean-fix'], /meanFix needs varianceCorrection 'data-driven'/],
      [['prune', '--model', base, '--out', out, '--variance-correction', 'data-driven', '--mean-fix'], /--mean-fix shifts each pruned layer's bias, but model\.layers\.0\.self_attn\.q_proj has none/],
      [['prune', '--model', base, '--out', out, '--sparsity', 'lots'], /--sparsity must be a number, got "lots"/],
      [['prune', '--model', join(dir, 'nope'), '--out', out], /--model .*nope is not a folder/],
      [['prune', '--model', base, '--out', join(dir, 'sgpt-8x16')], /already exist.*pass --force to overwrite/],
      [['prune', '--model', base], /required option '--out <dir>' not specified/],
    ];
    for (const [args, message] of cases) {
      const r = await sift(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(message);
    }
    expect(existsSync(out)).toBe(false); // nothing written by a refused command
    const help = await sift('prune', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Examples:\n\s+\$ sift prune --model/);
    expect(help.out).toMatch(/--salient-fraction <rho>/);
  });
});
