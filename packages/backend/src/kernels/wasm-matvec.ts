/**
 * Products of a few rows against a transposed matrix, `A [M, K] · B[N, K]ᵀ` with M small, in WebAssembly SIMD on
 * tfjs-backend-wasm's own memory. This is the shape of single-token decoding (`x Wᵀ` of every Linear layer, one
 * query's attention scores), which tfjs sends to its scalar triple loop at ~1.5 GFLOP/s: it is too few rows for
 * XNNPACK to pay for packing W on every call. Each output is a dot product of two contiguous rows, which f32x4 lanes
 * compute in place, with no copy, because the module imports the backend's `WebAssembly.Memory`.
 *
 * The function, in WAT terms: `mv(M, nb, K, a, b, out, N)`, byte addresses a (A, row-major [M, K]), b (B, row-major
 * [N, K]), out (row-major [M, N]); it writes the first 4·nb columns of out, K a positive multiple of 4:
 *
 *   loop over blocks j < nb                       ;; rows b0..b3 = b + 16Kj + {0, 4K, 8K, 12K}
 *     loop over rows i < M                        ;; x = a + 4Ki, o = out + 4Ni + 16j
 *       acc0..acc3 = 0
 *       loop over p < K/4: xv = v128.load x + 16p
 *                          acc_r = f32x4.add acc_r (f32x4.mul (v128.load b_r + 16p) xv)   for r in 0..3
 *       o[r] = (acc_r[0] + acc_r[1]) + (acc_r[2] + acc_r[3])                               for r in 0..3
 *
 * Each output is Σ over four interleaved partial sums, so it differs from tfjs's sequential loop by float32
 * summation order only (tested against it and a float64 reference).
 */

import { Code, kernelCache, kernelModule } from './wasm-asm.js';

/** mv(M, nb, K, a, b, out, N), see the header. */
export type MatVecFn = (m: number, nb: number, k: number, a: number, b: number, out: number, n: number) => void;

// Locals: params 0 M, 1 nb, 2 K, 3 a, 4 b, 5 out, 6 N; i32 7 j, 8 i, 9 p, 10 x, 11 b0, 12 o, 13 4K (the byte offset of
// row b1 from b0), 14 bRow (b0 at the start of the block), 15 xRow, 16 8K, 17 12K; v128 18..21 acc0..3, 22 xv.
const L = { M: 0, nb: 1, K: 2, a: 3, b: 4, out: 5, N: 6, j: 7, i: 8, p: 9, x: 10, b0: 11, o: 12, rowBytes: 13, bRow: 14, xRow: 15, row2: 16, row3: 17, acc: 18, xv: 22 } as const;

/** The module's bytes; `shared` must match the imported memory (the threaded binary's memory is shared). */
export function matVecBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const c = new Code();
  // rowBytes = 4K, row2 = 8K, row3 = 12K; K becomes K/4 (the inner trip count).
  c.get(L.K).i32(2).shl().set(L.rowBytes);
  c.get(L.rowBytes).i32(2).mul().set(L.row2);
  c.get(L.rowBytes).i32(3).mul().set(L.row3);
  c.get(L.K).i32(2).shrU().set(L.K);
  c.get(L.b).set(L.bRow);
  c.counted(L.j, L.nb, () => {
    c.get(L.a).set(L.xRow);
    c.get(L.out).get(L.j).i32(16).mul().add().set(L.o); // o = out + 16j
    c.counted(L.i, L.M, () => {
      for (let r = 0; r < 4; r++) c.zeroV().set(L.acc + r);
      c.get(L.xRow).set(L.x);
      c.get(L.bRow).set(L.b0);
      c.counted(L.p, L.K, () => {
        c.get(L.x).loadV().set(L.xv);
        for (let r = 0; r < 4; r++) {
          c.get(L.acc + r);
          c.get(L.b0); // b_r + 16p = b0 + r·4K
          if (r > 0) c.get([0, L.rowBytes, L.row2, L.row3][r]).add();
          c.loadV().get(L.xv).f32x4Mul().f32x4Add().set(L.acc + r);
        }
        c.bump(L.x, (k) => k.i32(16));
        c.bump(L.b0, (k) => k.i32(16));
      });
      for (let r = 0; r < 4; r++) {
        c.get(L.o);
        c.get(L.acc + r).lane(0).get(L.acc + r).lane(1).f32Add();
        c.get(L.acc + r).lane(2).get(L.acc + r).lane(3).f32Add();
        c.f32Add().storeF32(4 * r);
      }
      c.bump(L.xRow, (k) => k.get(L.rowBytes));
      c.bump(L.o, (k) => k.get(L.N).i32(4).mul());
    });
    c.bump(L.bRow, (k) => k.get(L.rowBytes).i32(4).mul());
  });
  return kernelModule('mv', 7, 11, 5, c, shared);
}

/**
 * The kernel bound to `memory` (instantiated once per memory), or null where WebAssembly SIMD is missing or the
 * module cannot be instantiated (callers keep tfjs's kernel).
 */
export const matVecFor: (memory: WebAssembly.Memory) => MatVecFn | null = kernelCache('mv', matVecBytes);
