/**
 * N:M selection without salient entries in WebAssembly SIMD: for every element, its rank in its group of M, the count
 * of group members that beat it (a larger score, or an equal score at a lower position), computed four elements at a
 * time with f32x4 comparisons; an element is kept when its rank is below N. That is exactly the (score desc, position
 * asc) order of `topInsert` in select.ts, which stays the reference and the fallback, with no data-dependent branch:
 * the insertion list mispredicts about half its comparisons on real scores (8:16 on 16M scores: ~230 ms in
 * JavaScript, against ~25 ms here including the copies in and out).
 *
 * The function, in WAT terms: `nm(groups, m, N, inp, out)`, byte addresses inp (float32 scores, `groups` groups of m,
 * m a multiple of 4) and out (int32 0/1 per score):
 *
 *   for each group (base = inp + 4m·g, ob = out + 4m·g): for each block of 4 elements ib (iv = v128.load base + 16ib):
 *     r = 0
 *     for j < 4ib:             r −= f32x4.ge (splat s_j) iv        ;; an earlier position: equal scores beat i too
 *     for j in the block:      r −= bitselect (ge, gt, lanes after j)
 *     for j >= 4ib + 4:        r −= f32x4.gt (splat s_j) iv        ;; a later position: only larger scores beat i
 *     v128.store ob + 16ib (v128.and (i32x4.lt_s r N) 1)
 */

/** nm(groups, m, N, inp, out), see the header. */
type NmFn = (groups: number, m: number, n: number, inp: number, out: number) => void;

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

/** Scores per call: the memory holds CHUNK float32 scores and CHUNK int32 flags. */
const CHUNK = 1 << 16;
const IN_AT = 0;
const OUT_AT = 4 * CHUNK;
const PAGES = (8 * CHUNK) / 65536;

// Locals: params 0 groups, 1 m, 2 N, 3 inp, 4 out; i32 5 g, 6 base, 7 ib, 8 nb, 9 j, 10 ob, 11 blockEnd (4ib + 4),
// 12 blockAt (base + 16ib); v128 13 iv, 14 r, 15 sj, 16 nv, 17 one.
const L = { groups: 0, m: 1, N: 2, inp: 3, out: 4, g: 5, base: 6, ib: 7, nb: 8, j: 9, ob: 10, blockEnd: 11, blockAt: 12, iv: 13, r: 14, sj: 15, nv: 16, one: 17 } as const;

/** The module's bytes (its own memory of PAGES pages, exported as `mem`). */
export function nmKernelBytes(): Uint8Array<ArrayBuffer> {
  const SIMD = 0xfd;
  const c: number[] = [];
  const get = (i: number): void => void c.push(0x20, i);
  const set = (i: number): void => void c.push(0x21, i);
  const i32 = (v: number): void => void c.push(0x41, ...sleb(v));
  const simd = (op: number, ...rest: number[]): void => void c.push(SIMD, ...leb(op), ...rest);
  const f32x4Ge = (): void => { simd(0x46); };
  const f32x4Gt = (): void => { simd(0x44); };
  const rMinus = (): void => { // r = i32x4.sub r (mask on the stack)
    set(L.sj); // reuse sj as scratch: the mask
    get(L.r);
    get(L.sj);
    simd(0xb1);
    set(L.r);
  };
  // nv = splat N, one = splat 1, nb = m >> 2
  get(L.N);
  simd(0x11);
  set(L.nv);
  i32(1);
  simd(0x11);
  set(L.one);
  get(L.m);
  i32(2);
  c.push(0x76); // i32.shr_u
  set(L.nb);
  c.push(0x02, 0x40, 0x03, 0x40); // block $exit; loop $groups
  get(L.g);
  get(L.groups);
  c.push(0x4f, 0x0d, 1); // i32.ge_u; br_if $exit
  // base = inp + 4m·g; ob = out + 4m·g
  for (const [dst, src] of [[L.base, L.inp], [L.ob, L.out]] as const) {
    get(src);
    get(L.g);
    get(L.m);
    c.push(0x6c); // i32.mul
    i32(2);
    c.push(0x74, 0x6a); // i32.shl; i32.add
    set(dst);
  }
  i32(0);
  set(L.ib);
  c.push(0x03, 0x40); // loop $blocks
  // blockAt = base + 16ib; iv = load blockAt; r = 0; blockEnd = 4ib + 4
  get(L.base);
  get(L.ib);
  i32(4);
  c.push(0x74, 0x6a);
  set(L.blockAt);
  get(L.blockAt);
  simd(0x00, 2, 0); // v128.load align=4
  set(L.iv);
  simd(0x0c, ...new Array<number>(16).fill(0)); // v128.const 0
  set(L.r);
  get(L.ib);
  i32(2);
  c.push(0x74);
  i32(4);
  c.push(0x6a);
  set(L.blockEnd);
  // Phase 1: j in [0, 4ib): ge.
  const phase = (from: () => void, to: () => void, cmp: () => void): void => {
    from();
    set(L.j);
    c.push(0x02, 0x40, 0x03, 0x40); // block; loop
    get(L.j);
    to();
    c.push(0x4f, 0x0d, 1); // i32.ge_u; br_if (exit the phase)
    get(L.base);
    get(L.j);
    i32(2);
    c.push(0x74, 0x6a);
    simd(0x09, 2, 0); // v128.load32_splat
    get(L.iv);
    cmp();
    rMinus();
    get(L.j);
    i32(1);
    c.push(0x6a);
    set(L.j);
    c.push(0x0c, 0); // br (loop)
    c.push(0x0b, 0x0b); // end loop; end block
  };
  phase(() => { i32(0); }, () => { get(L.blockEnd); i32(4); c.push(0x6b); }, f32x4Ge);
  // Phase 2: the block's own four positions jl: lanes l > jl use ge, the others gt (lane jl itself: x > x is false).
  for (let jl = 0; jl < 4; jl++) {
    const mask: number[] = [];
    for (let l = 0; l < 4; l++) mask.push(...(l > jl ? [0xff, 0xff, 0xff, 0xff] : [0, 0, 0, 0]));
    get(L.blockAt);
    simd(0x09, 2, 4 * jl); // splat s_(4ib + jl)
    set(L.sj);
    get(L.sj);
    get(L.iv);
    f32x4Ge();
    get(L.sj);
    get(L.iv);
    f32x4Gt();
    simd(0x0c, ...mask); // v128.const
    simd(0x52); // v128.bitselect
    rMinus();
  }
  // Phase 3: j in [4ib + 4, m): gt.
  phase(() => { get(L.blockEnd); }, () => { get(L.m); }, f32x4Gt);
  // out[block] = (r < N) & 1
  get(L.ob);
  get(L.ib);
  i32(4);
  c.push(0x74, 0x6a);
  get(L.r);
  get(L.nv);
  simd(0x39); // i32x4.lt_s
  get(L.one);
  simd(0x4e); // v128.and
  simd(0x0b, 2, 0); // v128.store
  // ib++; br_if $blocks (ib < nb)
  get(L.ib);
  i32(1);
  c.push(0x6a, 0x22, L.ib); // i32.add; local.tee ib
  get(L.nb);
  c.push(0x49, 0x0d, 0); // i32.lt_u; br_if $blocks
  c.push(0x0b); // end $blocks
  get(L.g);
  i32(1);
  c.push(0x6a);
  set(L.g);
  c.push(0x0c, 0); // br $groups
  c.push(0x0b, 0x0b, 0x0b); // end $groups; end $exit; end function
  const body = [0x02, 8, 0x7f, 5, 0x7b, ...c]; // 8 i32 locals, 5 v128 locals
  const section = (id: number, content: number[]): number[] => [id, ...leb(content.length), ...content];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x05, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00]), // (i32 ×5) -> ()
    ...section(3, [0x01, 0x00]),
    ...section(5, [0x01, 0x00, ...leb(PAGES)]), // memory: min PAGES, no max
    ...section(7, [0x02, ...name('mem'), 0x02, 0x00, ...name('nm'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ]);
}

/** Signed LEB128 (i32.const takes a signed immediate: 64 needs two bytes). */
function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

interface NmKernel {
  nm: NmFn;
  inp: Float32Array;
  out: Int32Array;
}

let kernel: NmKernel | null | undefined;

function nmKernel(): NmKernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  if (typeof WebAssembly !== 'object') return kernel;
  try {
    const bytes = nmKernelBytes();
    if (!WebAssembly.validate(bytes)) return kernel;
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    const mem = inst.exports.mem as WebAssembly.Memory;
    kernel = { nm: inst.exports.nm as NmFn, inp: new Float32Array(mem.buffer, IN_AT, CHUNK), out: new Int32Array(mem.buffer, OUT_AT, CHUNK) };
  } catch {
    kernel = null; // e.g. a content security policy without 'wasm-unsafe-eval'
  }
  return kernel;
}

/**
 * keep[p] = 1 for the N best of every group of M consecutive scores (no salient entries), in WebAssembly SIMD; returns
 * false (and writes nothing) where the kernel cannot run here or M is not a multiple of 4 (callers use `topInsert`).
 */
export function selectNMSimd(score: Float32Array, n: number, m: number, keep: Uint8Array): boolean {
  const k = m % 4 === 0 && m <= 64 ? nmKernel() : null;
  if (k === null) return false;
  const perCall = Math.floor(CHUNK / m) * m;
  for (let at = 0; at < score.length; at += perCall) {
    const len = Math.min(perCall, score.length - at);
    k.inp.set(score.subarray(at, at + len));
    k.nm(len / m, m, n, IN_AT, OUT_AT);
    keep.set(k.out.subarray(0, len), at);
  }
  return true;
}
