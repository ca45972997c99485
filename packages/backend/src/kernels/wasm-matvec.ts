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

/** mv(M, nb, K, a, b, out, N), see the header. */
export type MatVecFn = (m: number, nb: number, k: number, a: number, b: number, out: number, n: number) => void;

function leb(n: number): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

// Locals: params 0 M, 1 nb, 2 K, 3 a, 4 b, 5 out, 6 N; i32 7 j, 8 i, 9 p, 10 x, 11 b0, 12 o, 13 4K (the byte offset of
// row b1 from b0), 14 bRow (b0 at the start of the block), 15 xRow, 16 8K, 17 12K; v128 18..21 acc0..3, 22 xv.
const L = { M: 0, nb: 1, K: 2, a: 3, b: 4, out: 5, N: 6, j: 7, i: 8, p: 9, x: 10, b0: 11, o: 12, rowBytes: 13, bRow: 14, xRow: 15, row2: 16, row3: 17, acc: 18, xv: 22 } as const;

/** The module's bytes; `shared` must match the imported memory (the threaded binary's memory is shared). */
export function matVecBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const SIMD = 0xfd;
  const c: number[] = [];
  const get = (i: number): void => void c.push(0x20, i);
  const set = (i: number): void => void c.push(0x21, i);
  const i32 = (v: number): void => void c.push(0x41, ...leb(v));
  const add = (): void => void c.push(0x6a);
  const mul = (): void => void c.push(0x6c);
  const loadV = (offset: number): void => void c.push(SIMD, 0x00, 2, ...leb(offset)); // v128.load align=4
  /** `local = local + v` */
  const bump = (local: number, by: () => void): void => { get(local); by(); add(); set(local); };
  /** A counted loop: `counter` from 0 while < limit (the block is skipped when limit is 0). */
  const counted = (counter: number, limit: number, body: () => void): void => {
    i32(0);
    set(counter);
    c.push(0x02, 0x40); // block
    get(limit);
    c.push(0x45, 0x0d, 0); // i32.eqz; br_if 0
    c.push(0x03, 0x40); // loop
    body();
    get(counter);
    i32(1);
    add();
    c.push(0x22, counter); // local.tee
    get(limit);
    c.push(0x49, 0x0d, 0); // i32.lt_u; br_if 0 (loop)
    c.push(0x0b, 0x0b); // end loop; end block
  };

  // rowBytes = 4K; K becomes K/4 (the inner trip count).
  get(L.K); i32(2); c.push(0x74); set(L.rowBytes); // i32.shl
  get(L.rowBytes); i32(2); mul(); set(L.row2);
  get(L.rowBytes); i32(3); mul(); set(L.row3);
  get(L.K); i32(2); c.push(0x76); set(L.K); // i32.shr_u
  get(L.b); set(L.bRow);
  counted(L.j, L.nb, () => {
    get(L.a); set(L.xRow);
    // o = out + 16j
    get(L.out); get(L.j); i32(16); mul(); add(); set(L.o);
    counted(L.i, L.M, () => {
      for (let r = 0; r < 4; r++) { c.push(SIMD, 0x0c, ...new Array<number>(16).fill(0)); set(L.acc + r); } // v128.const 0
      get(L.xRow); set(L.x);
      get(L.bRow); set(L.b0);
      counted(L.p, L.K, () => {
        get(L.x); loadV(0); set(L.xv);
        for (let r = 0; r < 4; r++) {
          get(L.acc + r);
          get(L.b0); // b_r + 16p = b0 + r·4K
          if (r > 0) { get([0, L.rowBytes, L.row2, L.row3][r]); add(); }
          loadV(0);
          get(L.xv);
          c.push(SIMD, ...leb(0xe6), SIMD, ...leb(0xe4)); // f32x4.mul; f32x4.add
          set(L.acc + r);
        }
        bump(L.x, () => { i32(16); });
        bump(L.b0, () => { i32(16); });
      });
      for (let r = 0; r < 4; r++) {
        get(L.o);
        for (const [l0, l1] of [[0, 1], [2, 3]]) {
          get(L.acc + r); c.push(SIMD, 0x1f, l0); // f32x4.extract_lane
          get(L.acc + r); c.push(SIMD, 0x1f, l1);
          c.push(0x92); // f32.add
        }
        c.push(0x92);
        c.push(0x38, 2, ...leb(4 * r)); // f32.store align=4 offset=4r
      }
      bump(L.xRow, () => { get(L.rowBytes); });
      bump(L.o, () => { get(L.N); i32(4); mul(); });
    });
    bump(L.bRow, () => { get(L.rowBytes); i32(4); mul(); });
  });
  c.push(0x0b);
  const body = [0x02, 11, 0x7f, 5, 0x7b, ...c]; // 11 i32 locals, 5 v128 locals
  const section = (id: number, content: number[]): number[] => [id, ...leb(content.length), ...content];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const limits = shared ? [0x03, 0x01, ...leb(65536)] : [0x00, 0x01];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x07, ...new Array<number>(7).fill(0x7f), 0x00]), // type: (i32 × 7) -> ()
    ...section(2, [0x01, ...name('env'), ...name('memory'), 0x02, ...limits]), // import the backend's memory
    ...section(3, [0x01, 0x00]),
    ...section(7, [0x01, ...name('mv'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ]);
}

const instances = new WeakMap<WebAssembly.Memory, MatVecFn | null>();

/**
 * The kernel bound to `memory` (instantiated once per memory), or null where WebAssembly SIMD is missing or the
 * module cannot be instantiated (callers keep tfjs's kernel).
 */
export function matVecFor(memory: WebAssembly.Memory): MatVecFn | null {
  let fn = instances.get(memory);
  if (fn !== undefined) return fn;
  fn = null;
  try {
    const shared = (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer !== undefined &&
      memory.buffer instanceof SharedArrayBuffer;
    const bytes = matVecBytes(shared);
    if (WebAssembly.validate(bytes)) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
      fn = instance.exports.mv as MatVecFn;
    }
  } catch {
    fn = null; // e.g. a content security policy without 'wasm-unsafe-eval'
  }
  instances.set(memory, fn);
  return fn;
}
