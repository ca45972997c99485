/**
 * The packed gemm kernel against a naive triple loop, for every transpose and structure flag, on sizes that are not
 * multiples of the 4×4 tile and that cross the KC = 512 / MC = 64 packing blocks. Tolerance: 1e-12 relative (float64,
 * sums of <= 300 products in a different order).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../random/rng.js';
import { gemmKernelBytes } from './gemm-wasm.js';
import { type GemmStructure, gemm, hostThreadsReady, rankOneRowsF64, setGemmKernel, setHostThreads } from './gemm.js';
import { naiveMatMul, relMaxDiff } from './reference.js';

function rand(n: number, rng: Rng): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** op(X) as a dense [r, c] row-major matrix with the structural zeros applied. */
function structured(x: Float64Array, r: number, c: number, tri: 'lower' | 'upper' | undefined): Float64Array {
  const y = x.slice();
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      // op(A) [m, k], element (i, p): zero where p > i (lower) / p < i (upper). op(B) [k, n], element (p, j): zero
      // where j > p (lower) / j < p (upper). Both are "column index vs row index" of the dense matrix.
      if (tri === 'lower' && j > i) y[i * c + j] = 0;
      if (tri === 'upper' && j < i) y[i * c + j] = 0;
    }
  }
  return y;
}

describe('gemm (packed float64 kernel)', () => {
  const cases: [number, number, number][] = [[1, 1, 1], [3, 5, 2], [7, 9, 13], [70, 66, 300], [65, 130, 530]];
  const rng = new Rng('gemm');
  for (const [m, n, k] of cases) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        it(`C += alpha op(A) op(B), [${m}, ${k}]·[${k}, ${n}], transA ${transA}, transB ${transB}`, () => {
          const a = rand(m * k, rng);
          const b = rand(k * n, rng);
          const c0 = rand(m * n, rng);
          const c = c0.slice();
          gemm(m, n, k, -0.5, { data: a, off: 0, ld: transA ? m : k, trans: transA }, { data: b, off: 0, ld: transB ? k : n, trans: transB }, 1, { data: c, off: 0, ld: n });
          const ref = naiveMatMul(a, b, m, k, n, transA, transB);
          for (let i = 0; i < m * n; i++) ref[i] = c0[i] - 0.5 * ref[i];
          expect(relMaxDiff(c, ref)).toBeLessThan(1e-12);
        });
      }
    }
  }

  it('works on strided sub-views and leaves the rest of C alone (beta = 0)', () => {
    const ld = 40;
    const big = rand(50 * ld, rng);
    const before = big.slice();
    const a = rand(13 * 17, rng);
    const b = rand(17 * 11, rng);
    gemm(13, 11, 17, 1, { data: a, off: 0, ld: 17, trans: false }, { data: b, off: 0, ld: 11, trans: false }, 0, { data: big, off: 3 * ld + 5, ld });
    const ref = naiveMatMul(a, b, 13, 17, 11);
    for (let i = 0; i < 50; i++) {
      for (let j = 0; j < ld; j++) {
        const inside = i >= 3 && i < 16 && j >= 5 && j < 16;
        const want = inside ? ref[(i - 3) * 11 + (j - 5)] : before[i * ld + j];
        expect(Math.abs(big[i * ld + j] - want)).toBeLessThan(1e-12 * (1 + Math.abs(want)));
      }
    }
  });

  const structures: GemmStructure[] = [
    { cLowerFrom: 0 }, { cLowerFrom: 5 }, { aTri: 'lower' }, { aTri: 'upper' }, { bTri: 'lower' }, { bTri: 'upper' },
    { aTri: 'upper', bTri: 'lower', cLowerFrom: 0 },
  ];
  for (const s of structures) {
    for (const [m, n, k] of [[9, 9, 9], [70, 70, 70], [260, 131, 259]] as const) {
      it(`structure ${JSON.stringify(s)} at ${m}: zero parts are not read, the band is the only part written`, () => {
        const a = rand(m * k, rng);
        const b = rand(k * n, rng);
        const c0 = rand(m * n, rng);
        const c = c0.slice();
        // Poison the structural zeros: gemm must not read them.
        const aPoison = a.slice();
        const bPoison = b.slice();
        for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) {
          if ((s.aTri === 'lower' && p > i) || (s.aTri === 'upper' && p < i)) aPoison[i * k + p] = Number.NaN;
        }
        for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) {
          if ((s.bTri === 'lower' && j > p) || (s.bTri === 'upper' && j < p)) bPoison[p * n + j] = Number.NaN;
        }
        gemm(m, n, k, 1, { data: aPoison, off: 0, ld: k, trans: false }, { data: bPoison, off: 0, ld: n, trans: false }, 1, { data: c, off: 0, ld: n }, s);
        const ref = naiveMatMul(structured(a, m, k, s.aTri), structured(b, k, n, s.bTri), m, k, n);
        let worst = 0;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            const inBand = s.cLowerFrom === undefined || j <= i + s.cLowerFrom;
            const want = inBand ? c0[i * n + j] + ref[i * n + j] : c0[i * n + j];
            const err = Math.abs(c[i * n + j] - want) / (1 + Math.abs(want));
            worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
          }
        }
        expect(worst).toBeLessThan(1e-13 * k);
      });
    }
  }
});

describe('gemm micro-kernels', () => {
  it('the wasm SIMD kernel runs here and is bit-identical to the JavaScript kernel (transposes, structures, edges)', () => {
    expect(WebAssembly.validate(gemmKernelBytes(1, false))).toBe(true);
    expect(WebAssembly.validate(gemmKernelBytes(1, true))).toBe(true);
    expect(setGemmKernel('wasm')).toBe('wasm'); // Node 20 has wasm SIMD
    const rng = new Rng('kernels');
    const structures: GemmStructure[] = [{}, { cLowerFrom: 0 }, { cLowerFrom: 5 }, { aTri: 'lower' }, { aTri: 'upper', bTri: 'lower' }, { bTri: 'upper', cLowerFrom: 2 }];
    try {
      for (const [m, n, k] of [[1, 1, 1], [5, 3, 7], [70, 66, 300], [130, 1030, 9], [64, 64, 513]] as const) {
        for (const s of structures) {
          for (const [transA, transB] of [[false, false], [true, true], [true, false]] as const) {
            const a = rand(m * k, rng);
            const b = rand(k * n, rng);
            const c0 = rand(m * n, rng);
            const run = (kernel: 'wasm' | 'js'): Float64Array => {
              setGemmKernel(kernel);
              const c = c0.slice();
              gemm(m, n, k, -0.75, { data: a, off: 0, ld: transA ? m : k, trans: transA }, { data: b, off: 0, ld: transB ? k : n, trans: transB },
                1, { data: c, off: 0, ld: n }, s);
              return c;
            };
            const js = run('js');
            const wasm = run('wasm');
            let same = true;
            for (let i = 0; i < js.length; i++) if (!Object.is(js[i], wasm[i])) same = false;
            expect(same, `[${m}, ${k}]·[${k}, ${n}] ${JSON.stringify(s)} transA ${transA} transB ${transB}`).toBe(true);
          }
        }
      }
    } finally {
      setGemmKernel('wasm');
    }
  });
});

describe('gemm on host threads', () => {
  it('worker threads run tiles on the shared memory and give bit-identical results for 1, 2 and 3 threads', async () => {
    const rng = new Rng('threads');
    // Big enough that every list crosses PARALLEL_MIN_WORK (and m crosses the MB = 1024-row list boundary), plus the
    // structures Cholesky and the triangular inverse use.
    const cases: [number, number, number, GemmStructure][] = [
      [1100, 260, 600, {}], [700, 700, 256, { cLowerFrom: 0 }], [600, 300, 600, { aTri: 'lower' }], [300, 600, 300, { bTri: 'lower' }],
    ];
    const inputs = cases.map(([m, n, k]) => ({ a: rand(m * k, rng), b: rand(k * n, rng), c0: rand(m * n, rng) }));
    const results: Float64Array[][] = [];
    try {
      for (const threads of [1, 2, 3]) {
        expect(setHostThreads(threads)).toBe(threads);
        expect(await hostThreadsReady()).toBe(threads);
        results.push(cases.map(([m, n, k, s], i) => {
          const c = inputs[i].c0.slice();
          gemm(m, n, k, 0.5, { data: inputs[i].a, off: 0, ld: k, trans: false }, { data: inputs[i].b, off: 0, ld: n, trans: false }, 1, { data: c, off: 0, ld: n }, s);
          return c;
        }));
      }
    } finally {
      setHostThreads('auto');
    }
    for (const i of cases.keys()) {
      for (const r of results.slice(1)) {
        let same = true;
        for (let j = 0; j < r[i].length; j++) if (!Object.is(r[i][j], results[0][i][j])) same = false;
        expect(same, `case ${i}: threads differ from one thread`).toBe(true);
      }
    }
    // And the threaded result is right: the unstructured case against the naive product.
    const [m0, n0, k0] = cases[0];
    const ref = naiveMatMul(inputs[0].a, inputs[0].b, m0, k0, n0).map((v, j) => inputs[0].c0[j] + 0.5 * v);
    expect(relMaxDiff(results[1][0], ref)).toBeLessThan(1e-12);
  });

  it('setHostThreads rejects counts that are not positive integers', () => {
    expect(() => setHostThreads(0)).toThrow(/positive integer or 'auto'/);
    expect(() => setHostThreads(1.5)).toThrow(/positive integer or 'auto'/);
  });
});

describe('rankOneRowsF64', () => {
  it('equals the plain per-row loop exactly, with a row list, all rows, and counts not a multiple of 4', () => {
    const rng = new Rng('rank-one');
    const R = 11;
    const ld = 9;
    for (const rows of [null, Int32Array.from([0, 3, 4, 7, 8, 10, 2]), new Int32Array(0)]) {
      const count = rows === null ? R : rows.length;
      const w = rand(R * ld, rng);
      const e = rand(R * 5, rng);
      const u = rand(40, rng);
      const want = w.slice();
      for (let t = 0; t < count; t++) {
        const r = rows === null ? t : rows[t];
        for (let k = 2; k < 8; k++) want[r * ld + k] -= e[r * 5 + 3] * u[17 + k];
      }
      rankOneRowsF64(w, ld, rows, count, e, 5, 3, u, 17, 2, 8);
      expect(Array.from(w)).toEqual(Array.from(want));
    }
  });
});
