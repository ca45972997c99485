/**
 * The float64 gemm tile kernel in WebAssembly SIMD (f64x2): a module of two functions, assembled below from their
 * instructions, on a memory it imports (shared where worker threads can run tiles on it too).
 *
 * `micro(K, a, b, out)` computes the same 4×4 register tile as gemm.ts's JavaScript kernel, with byte addresses a
 * (packed op(A) micro-panel, 4 doubles per step), b (packed op(B) micro-panel, 4 doubles per step) and out (16
 * doubles, the tile row-major). Each accumulator gets the same products added in the same order, and wasm rounds each
 * f64x2 lane as a scalar double op (no FMA), so results are bit-identical to the JavaScript kernel:
 *
 *   block  (br_if 0 (i32.eqz K))
 *     loop
 *       b01 = v128.load b; b23 = v128.load offset=16 b
 *       for i in 0..3: a = v128.load64_splat offset=8i a
 *                      c[2i] = f64x2.add c[2i] (f64x2.mul a b01); c[2i+1] = f64x2.add c[2i+1] (f64x2.mul a b23)
 *       a += 32; b += 32; br_if 0 (K = K − 1)
 *     end
 *   end
 *   for j in 0..7: v128.store offset=16j out c[j]
 *
 * `tiles(list, t0, t1)` runs `micro` for the tiles t0 … t1−1 of a tile list (4 i32 per tile: K, a, b, out), so one
 * call from JavaScript covers thousands of tiles and a worker thread can take a range of them:
 *
 *   block  (br_if 0 (i32.ge_u t0 t1))
 *     p = list + 16·t0
 *     loop
 *       call micro (i32.load p) (i32.load offset=4 p) (i32.load offset=8 p) (i32.load offset=12 p)
 *       p += 16; br_if 0 ((t0 = t0 + 1) < t1)
 *     end
 *   end
 */

/** `tiles(list, t0, t1)`: runs the tiles [t0, t1) of the list at byte address `list`. */
export type TilesFn = (list: number, t0: number, t1: number) => void;

function leb(n: number): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/** The body of `micro` (function 0). */
function microBody(): number[] {
  const SIMD = 0xfd;
  const ALIGN8 = 3; // memarg alignment exponent: 8-byte aligned (panels are double arrays, not 16-byte aligned)
  const code: number[] = [];
  const get = (i: number): void => void code.push(0x20, i);
  const set = (i: number): void => void code.push(0x21, i);
  // Locals: 0 K, 1 a, 2 b, 3 out (params); 4..11 the accumulators c[0..7]; 12 b01, 13 b23, 14 the splat a_i.
  code.push(0x02, 0x40); // block
  get(0);
  code.push(0x45, 0x0d, 0x00); // i32.eqz; br_if 0
  code.push(0x03, 0x40); // loop
  get(2);
  code.push(SIMD, 0x00, ALIGN8, 0); // v128.load
  set(12);
  get(2);
  code.push(SIMD, 0x00, ALIGN8, 16);
  set(13);
  for (let i = 0; i < 4; i++) {
    get(1);
    code.push(SIMD, 0x0a, ALIGN8, 8 * i); // v128.load64_splat
    set(14);
    for (const [acc, bv] of [[4 + 2 * i, 12], [5 + 2 * i, 13]]) {
      get(acc);
      get(14);
      get(bv);
      code.push(SIMD, ...leb(0xf2), SIMD, ...leb(0xf0)); // f64x2.mul; f64x2.add
      set(acc);
    }
  }
  for (const p of [1, 2]) {
    get(p);
    code.push(0x41, 32, 0x6a); // i32.const 32; i32.add
    set(p);
  }
  get(0);
  code.push(0x41, 1, 0x6b, 0x22, 0, 0x0d, 0); // i32.const 1; i32.sub; local.tee 0; br_if 0 (loop)
  code.push(0x0b, 0x0b); // end loop; end block
  for (let j = 0; j < 8; j++) {
    get(3);
    get(4 + j);
    code.push(SIMD, 0x0b, ALIGN8, 16 * j); // v128.store
  }
  code.push(0x0b);
  return [0x01, 11, 0x7b, ...code]; // 11 locals of type v128
}

/** The body of `tiles` (function 1). */
function tilesBody(): number[] {
  // Locals: 0 list, 1 t0, 2 t1 (params); 3 p.
  const code: number[] = [0x02, 0x40, 0x20, 1, 0x20, 2, 0x4f, 0x0d, 0]; // block; t0 >= t1 (u): br_if 0
  code.push(0x20, 0, 0x20, 1, 0x41, 4, 0x74, 0x6a, 0x21, 3); // p = list + (t0 << 4)
  code.push(0x03, 0x40); // loop
  for (const off of [0, 4, 8, 12]) code.push(0x20, 3, 0x28, 2, off); // i32.load align=4 offset
  code.push(0x10, 0); // call micro
  code.push(0x20, 3, 0x41, 16, 0x6a, 0x21, 3); // p += 16
  code.push(0x20, 1, 0x41, 1, 0x6a, 0x22, 1, 0x20, 2, 0x49, 0x0d, 0); // t0 = t0 + 1; br_if 0 (t0 < t1)
  code.push(0x0b, 0x0b, 0x0b); // end loop; end block; end
  return [0x01, 0x01, 0x7f, ...code]; // 1 local of type i32
}

/** The module's bytes, importing `env.memory` of exactly `pages` 64 KiB pages (`shared` must match the memory). */
export function gemmKernelBytes(pages: number, shared: boolean): Uint8Array<ArrayBuffer> {
  const section = (id: number, content: number[]): number[] => [id, ...leb(content.length), ...content];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const micro = microBody();
  const tiles = tilesBody();
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    // types: 0 (i32 i32 i32 i32) -> (), 1 (i32 i32 i32) -> ()
    ...section(1, [0x02, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x00, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]),
    // import env.memory: limits flag 1 (min and max) or 3 (shared, min and max)
    ...section(2, [0x01, ...name('env'), ...name('memory'), 0x02, shared ? 0x03 : 0x01, ...leb(pages), ...leb(pages)]),
    ...section(3, [0x02, 0x00, 0x01]), // function 0 has type 0, function 1 type 1
    ...section(7, [0x01, ...name('tiles'), 0x00, 0x01]), // micro stays internal: tiles calls it
    ...section(10, [0x02, ...leb(micro.length), ...micro, ...leb(tiles.length), ...tiles]),
  ]);
}

/** The kernel instantiated on its memory. */
export interface WasmTiles {
  readonly memory: WebAssembly.Memory;
  /** The module's bytes (workers instantiate the same module on the same memory). */
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly tiles: TilesFn;
}

/**
 * Instantiates the kernel on a new memory of `pages` pages (shared when `shared`), or returns null where WebAssembly,
 * its SIMD extension or shared memory is missing (callers keep the JavaScript kernel).
 */
export function createWasmTiles(pages: number, shared: boolean): WasmTiles | null {
  if (typeof WebAssembly !== 'object') return null;
  const bytes = gemmKernelBytes(pages, shared);
  try {
    if (!WebAssembly.validate(bytes)) return null;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    return { memory, bytes, tiles: instance.exports.tiles as TilesFn };
  } catch {
    return null; // e.g. a content security policy without 'wasm-unsafe-eval'
  }
}
