import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile } from '@sift/tensor-core';
import type { QuantizeCliReport } from './quantize.js';
import { sift } from '../cli.test-util.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-cli-quantize-'));
const base = join(dir, 'tiny');
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  const r = await sift('--quiet', 'lm', 'train', '--preset', 'tiny', '--steps', '12', '--batch-size', '2', '--genres', 'humor', '--out', base);
  expect(r.code, r.err).toBe(0);
});

const CALIB = ['--calib-samples', '8', '--genres', 'humor'];

describe('sift quantize', () => {
  it('RTN 3-bit with 4 salient columns: non-salient weights on the row grid, salient columns untouched, exact storage bits', async () => {
    const out = join(dir, 'rtn3');
    const r = await sift('--json', '--quiet', 'quantize', '--model', base, '--out', out, '--bits', '3', '--method', 'rtn', '--salient-columns', '4', ...CALIB);
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out) as QuantizeCliReport;
    expect(rep.layers).toHaveLength(14);
    const orig = await readSafetensorsFile(join(base, 'model.safetensors'));
    const deq = await readSafetensorsFile(join(out, 'model.safetensors'));
    const packed = await readSafetensorsFile(join(out, 'quantized.safetensors'));
    let bits = 0;
    let size = 0;
    for (const l of rep.layers) {
      const [rows, cols] = l.shape;
      expect(l.k).toBe(4);
      expect(l.error).toBeNull(); // RTN collects no Hessian
      // Storage: b bits per non-salient weight + a float32 scale per row + float32 salient columns + their indices.
      const want = (rows * (cols - 4) * 3 + rows * 32 + rows * 4 * 32 + 4 * 32) / (rows * cols);
      expect(l.bitsPerWeight).toBeCloseTo(want, 12);
      bits += want * rows * cols;
      size += rows * cols;
      const w0 = orig.get(`${l.name}.weight`).data as Float32Array;
      const w = deq.get(`${l.name}.weight`).data as Float32Array;
      const scales = packed.get(`${l.name}.scales`).data as Float32Array;
      const salient = new Set(l.salient);
      expect(Array.from(packed.get(`${l.name}.salient_idx`).data as Int32Array)).toEqual(l.salient);
      let changedSalient = 0;
      let offGrid = 0;
      let minCode = 0;
      let maxCode = 0;
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const v = w[i * cols + j];
          if (salient.has(j)) {
            if (v !== w0[i * cols + j]) changedSalient++;
          } else {
            const q = v / scales[i];
            offGrid = Math.max(offGrid, Math.abs(q - Math.round(q)));
            minCode = Math.min(minCode, Math.round(q));
            maxCode = Math.max(maxCode, Math.round(q));
          }
        }
      }
      expect(changedSalient).toBe(0);
      expect(offGrid).toBeLessThan(1e-4); // on the grid, up to float32 rounding of code·Δ
      expect(minCode).toBeGreaterThanOrEqual(-4); // 3-bit codes in [-4, 3]
      expect(maxCode).toBeLessThanOrEqual(3);
    }
    expect(rep.bitsPerWeight).toBeCloseTo(bits / size, 10);
    expect(existsSync(join(out, 'quantized.quant.json'))).toBe(true);
    const ppl = await sift('--json', '--quiet', 'eval', 'ppl', '--model', out, '--split', 'validation', '--genres', 'humor');
    expect(ppl.code, ppl.err).toBe(0);
    expect(Number.isFinite((JSON.parse(ppl.out) as { perplexity: number }).perplexity)).toBe(true);
  });

  it('GPTQ reports its Hessian error; random salient columns follow --seed', async () => {
    const g = await sift('--json', '--quiet', 'quantize', '--model', base, '--out', join(dir, 'gptq'), '--bits', '4', '--salient-columns', '2', ...CALIB);
    expect(g.code, g.err).toBe(0);
    const rep = JSON.parse(g.out) as QuantizeCliReport;
    expect(rep.options).toMatchObject({ method: 'gptq', bits: 4, k: 2, metric: 'gift-sw' });
    for (const l of rep.layers) expect(l.error).toBeGreaterThanOrEqual(0);
    const cols = async (seed: string, name: string): Promise<number[][]> => {
      const r = await sift('--json', '--quiet', '--seed', seed, 'quantize', '--model', base, '--out', join(dir, name), '--bits', '2',
        '--method', 'rtn', '--metric', 'random', '--salient-columns', '3', '--calib-samples', '2', '--genres', 'humor');
      expect(r.code, r.err).toBe(0);
      return (JSON.parse(r.out) as QuantizeCliReport).layers.map((l) => l.salient);
    };
    const a = await cols('1', 'r1');
    expect(await cols('1', 'r2')).toEqual(a);
    expect(await cols('2', 'r3')).not.toEqual(a);
  });

  it('usage errors exit 2', async () => {
    const out = join(dir, 'bad');
    const cases: [string[], RegExp][] = [
      [['quantize', '--model', base, '--out', out, '--bits', '5'], /--bits must be one of 2, 3, 4, 8, got 5/],
      [['quantize', '--model', base, '--out', out, '--method', 'awq'], /--method must be one of rtn, gptq, got "awq"/],
      [['quantize', '--model', base, '--out', out, '--metric', 'hessian'], /--metric must be one of gift-sw, quik, owq, wanda, random/],
      [['quantize', '--model', base, '--out', out, '--salient-columns', '64'], /--salient-columns 64 must be below the 64 inputs of model\.layers\.0\.self_attn\.q_proj/],
      [['quantize', '--model', join(dir, 'nope'), '--out', out], /nope is not a folder/],
      [['quantize', '--model', base, '--out', join(dir, 'gptq')], /already exist.*pass --force/],
    ];
    for (const [args, message] of cases) {
      const r = await sift(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
    const help = await sift('quantize', '--help');
    expect(help.out).toMatch(/Examples:\n\s+\$ sift quantize/);
  });
});
