/**
 * Cross-check against PyTorch 1.13 (LAPACK), fixture from tools/crosscheck/linalg_fixtures.py. In particular
 * SparseGPT's `Hinv`, computed verbatim as IST-DASLab/sparsegpt does (dead inputs, 1% damping,
 * chol(cholinv(chol(H)), upper=True)), must equal `choleskyInverseUpper` after `fixDeadInputs`.
 *
 * Tolerances (max |Δ| / max |torch|): float64 1e-12 (κ <= 100), 1e-10 (κ = 1e3; torch's route squares κ for U);
 * float32 path against torch float32: 1e-3 (both carry errors ~κ·ε32 at κ = 1e3).
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { fixDeadInputs } from './dead-inputs.js';
import { relMaxDiff } from './reference.js';
import { cholesky, choleskyInverseUpper, spdInverse } from './spd.js';

interface SpdCase { n: number; a: number[]; l: number[]; inv: number[]; u: number[] }
interface Fixture {
  torch: string;
  cases: {
    spd_8: SpdCase;
    spd_33: SpdCase;
    sparsegpt: { n: number; tokens: number; x: number[]; h: number[]; dead: number[]; percdamp: number; hinv: number[] };
    sparsegpt_f32: { n: number; percdamp: number; a: number[]; hinv: number[] };
  };
}

const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/linalg/torch-linalg.json', import.meta.url), 'utf8')) as Fixture;

describe('linalg against PyTorch (torch.linalg.cholesky / cholesky_inverse, LAPACK)', () => {
  for (const [key, tol] of [['spd_8', 1e-12], ['spd_33', 1e-10]] as const) {
    it(`${key}: L, A⁻¹ and the upper Cholesky factor of A⁻¹`, () => {
      const c = fixture.cases[key];
      const a = Float64Array.from(c.a);
      expect(relMaxDiff(cholesky(a), c.l)).toBeLessThan(tol);
      expect(relMaxDiff(spdInverse(a), c.inv)).toBeLessThan(tol);
      expect(relMaxDiff(choleskyInverseUpper(a), c.u)).toBeLessThan(tol);
    });
  }

  it("SparseGPT's Hinv with dead inputs and percdamp = 0.01 (float64)", () => {
    const c = fixture.cases.sparsegpt;
    const h = Float64Array.from(c.h);
    const { dead } = fixDeadInputs(h);
    expect(Array.from(dead)).toEqual(c.dead);
    expect(relMaxDiff(choleskyInverseUpper(h, { damp: c.percdamp, name: 'fixture Hessian' }), c.hinv)).toBeLessThan(1e-10);
  });

  it("SparseGPT's Hinv in float32 (the blocked tfjs path, tensor in and out) agrees with torch float32", () => {
    const c = fixture.cases.sparsegpt_f32;
    const t = tf.tensor2d(Float32Array.from(c.a), [c.n, c.n]);
    const u = choleskyInverseUpper(t, { damp: c.percdamp, precision: 'float32', blockSize: 8 });
    expect(relMaxDiff(u.dataSync(), c.hinv)).toBeLessThan(1e-3);
    expect(relMaxDiff(choleskyInverseUpper(Float64Array.from(c.a), { damp: c.percdamp }), c.hinv)).toBeLessThan(1e-3);
    tf.dispose([t, u]);
  });
});
