import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { seeded } from '@sift/tensor-core/testing';
import { binomial, codeBits } from '../pattern.js';
import { selectNM, selectUnstructured } from '../mask/select.js';
import { decodeTable, rankSubset, unrankSubset } from './combinadic.js';
import { loadPacked, savePacked } from './io.js';
import { bitsPerWeight, packNM, packedMatVec, unpackNM } from './pack.js';

function popcount(x: number): number {
  let c = 0;
  for (let v = x; v !== 0; v &= v - 1) c++;
  return c;
}

describe('combinatorial number system', () => {
  it('round-trips all 12,870 8:16 patterns; codes are exactly 0 … C(16,8)−1', () => {
    const p = { n: 8, m: 16 };
    const seen = new Uint8Array(12870);
    let count = 0;
    const cols = new Uint8Array(8);
    for (let bits = 0; bits < 1 << 16; bits++) {
      if (popcount(bits) !== 8) continue;
      count++;
      const code = rankSubset(bits, p);
      expect(code).toBeLessThan(12870);
      seen[code]++;
      unrankSubset(code, p, cols);
      let back = 0;
      for (const c of cols) back |= 1 << c;
      if (back !== bits) throw new Error(`pattern ${bits.toString(2)} -> ${code} -> ${back.toString(2)}`);
    }
    expect(count).toBe(12870);
    expect(seen.every((v) => v === 1)).toBe(true);
    expect(decodeTable(p)!.length).toBe(12870 * 8);
  });

  it('round-trips every 2:4, 4:8 and 3:8 pattern, and samples of 16:32', () => {
    for (const p of [{ n: 2, m: 4 }, { n: 4, m: 8 }, { n: 3, m: 8 }]) {
      const codes = new Set<number>();
      for (let bits = 0; bits < 1 << p.m; bits++) {
        if (popcount(bits) !== p.n) continue;
        const code = rankSubset(bits, p);
        codes.add(code);
        const back = (unrankSubset(code, p) as Uint8Array).reduce((a, c) => a | (1 << c), 0);
        expect(back).toBe(bits);
      }
      expect(codes.size).toBe(binomial(p.m, p.n));
    }
    const rng = seeded('16:32');
    const p = { n: 16, m: 32 };
    for (let t = 0; t < 500; t++) {
      const perm = rng.permutation(32).slice(0, 16);
      const bits = perm.reduce((a, c) => (a | (1 << c)) >>> 0, 0);
      const code = rankSubset(bits, p);
      expect(code).toBeLessThan(binomial(32, 16));
      expect((unrankSubset(code, p) as Uint8Array).reduce((a, c) => (a | (1 << c)) >>> 0, 0)).toBe(bits);
    }
  });

  it('code bits and metadata per weight match the table of the brief (§2.6)', () => {
    expect([codeBits({ n: 2, m: 4 }), codeBits({ n: 4, m: 8 }), codeBits({ n: 8, m: 16 }), codeBits({ n: 16, m: 32 })]).toEqual([3, 7, 14, 30]);
    const w = new Float32Array(4 * 32);
    for (const [pat, meta, total] of [['2:4', 0.75, 8.75], ['4:8', 0.875, 8.875], ['8:16', 0.875, 8.875], ['16:32', 0.9375, 8.9375]] as const) {
      const b = bitsPerWeight(packNM({ weight: w, shape: [4, 32], pattern: pat }));
      expect(b.metadata).toBe(meta);
      expect(b.total).toBe(total); // fp16 values: 16·N/M + metadata
    }
  });
});

describe('packed N:M format', () => {
  const rows = 6, cols = 64;
  const rng = seeded('pack');
  const w = rng.fillNormal(new Float32Array(rows * cols));
  const score = w.map(Math.abs);

  it('unpack(pack(W ⊙ M)) is exactly W ⊙ M, with CSR or structured salient weights beside it', () => {
    for (const countSalient of [true, false]) {
      const salS = selectNM(score, rows, cols, 1, 16);
      const salU = selectUnstructured(score, rows, cols, 1 - 1 / 16, 'layer');
      for (const [sal, layout] of [[null, 'csr'], [salS, { k: 1, m: 16 }], [salS, 'csr'], [salU, 'csr']] as const) {
        const keep = selectNM(score, rows, cols, 8, 16, sal, countSalient);
        const masked = w.map((v, i) => (keep[i] === 1 || sal?.[i] === 1 ? v : 0));
        const packed = packNM({ weight: masked, shape: [rows, cols], pattern: '8:16', nmMask: keep, ...(sal === null ? {} : { salientMask: sal, salientLayout: layout }) });
        expect(unpackNM(packed)).toEqual(masked);
        expect(packed.codes).toBeInstanceOf(Uint16Array);
        const x = rng.fillNormal(new Float32Array(cols));
        const y = packedMatVec(packed, x);
        for (let r = 0; r < rows; r++) {
          let ref = 0;
          for (let j = 0; j < cols; j++) ref += masked[r * cols + j] * x[j];
          expect(Math.abs(y[r] - ref)).toBeLessThan(1e-5 * (1 + Math.abs(ref)));
        }
      }
    }
  });

  it('bits per weight: structured 1:16 salient adds (16 + ceil(log2 16))/16, CSR adds values, indices and row pointers', () => {
    const salS = selectNM(score, rows, cols, 1, 16);
    const keep = selectNM(score, rows, cols, 8, 16, salS, true);
    const s = packNM({ weight: w, shape: [rows, cols], pattern: '8:16', nmMask: keep, salientMask: salS, salientLayout: { k: 1, m: 16 } });
    expect(bitsPerWeight(s).salient).toBe((16 + 4) / 16);
    const c = packNM({ weight: w, shape: [rows, cols], pattern: '8:16', nmMask: keep, salientMask: salS });
    expect(bitsPerWeight(c).salient).toBe((24 * (16 + 6) + 32 * 7) / (rows * cols));
  });

  it('rejects a group with more than N kept entries, naming row and columns', () => {
    const keep = new Uint8Array(rows * cols).fill(1);
    expect(() => packNM({ weight: w, shape: [rows, cols], pattern: '2:4', nmMask: keep })).toThrow(/row 0, columns 0\.\.3 keep 4 entries; the 2:4 pattern allows 2/u);
  });

  it('packedMatVec equals the dense masked product for a tensor weight at 2:4 and 16:32', () => {
    for (const [n, m] of [[2, 4], [16, 32]]) {
      const keep = selectNM(score, rows, cols, n, m);
      const masked = w.map((v, i) => (keep[i] === 1 ? v : 0));
      const t = tf.tensor2d(masked, [rows, cols]);
      const packed = packNM({ weight: t, pattern: { n, m } });
      const x = rng.fillNormal(new Float32Array(cols));
      const ref = tf.matMul(t, tf.tensor2d(x, [cols, 1]));
      const y = packedMatVec(packed, x);
      const r = ref.dataSync();
      for (let i = 0; i < rows; i++) expect(Math.abs(y[i] - r[i])).toBeLessThan(1e-4);
      tf.dispose([t, ref]);
    }
  });

  it('savePacked/loadPacked restore the exact masked weights (safetensors + JSON sidecar)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nm-pack-'));
    try {
      const salS = selectNM(score, rows, cols, 1, 32);
      const keep = selectNM(score, rows, cols, 8, 16, salS, false);
      const masked = w.map((v, i) => (keep[i] === 1 || salS[i] === 1 ? v : 0));
      const keep2 = selectNM(score, rows, cols, 2, 4);
      const masked2 = w.map((v, i) => (keep2[i] === 1 ? v : 0));
      const layers = {
        'h.0.fc': packNM({ weight: masked, shape: [rows, cols], pattern: '8:16', nmMask: keep, salientMask: salS, salientLayout: { k: 1, m: 32 } }),
        'h.0.proj': packNM({ weight: masked2, shape: [rows, cols], pattern: '2:4' }),
        'h.1.fc': packNM({ weight: masked, shape: [rows, cols], pattern: '8:16', nmMask: keep, salientMask: salS }),
      };
      const path = join(dir, 'model.safetensors');
      const rep = await savePacked(path, layers, { note: 'test' });
      expect(rep.sidecar).toBe(join(dir, 'model.nm.json'));
      const back = await loadPacked(path);
      expect(unpackNM(back.layers['h.0.fc'])).toEqual(masked);
      expect(unpackNM(back.layers['h.0.proj'])).toEqual(masked2);
      expect(unpackNM(back.layers['h.1.fc'])).toEqual(masked);
      expect(back.sidecar.layers['h.0.proj'].bitsPerWeight.metadata).toBe(0.75);
      expect(back.sidecar.metadata).toEqual({ note: 'test' });
      await expect(loadPacked(join(dir, 'missing.safetensors'))).rejects.toThrow(/cannot read the sidecar/u);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
