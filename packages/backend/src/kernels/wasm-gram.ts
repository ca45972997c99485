/**
 * The Gram matrix XᵀX of a tall X [n, d] (calibration statistics: SparseGPT's and GPTQ's Hessian 2/n XᵀX) in
 * WebAssembly SIMD on tfjs-backend-wasm's memory. XNNPACK computes all d² entries and packs X on every product;
 * this kernel computes only the blocks that touch the lower triangle (about half the work), then mirrors them.
 *
 * X is first packed in slabs of SLAB_ROWS rows (a slab stays in L2 while every block sweeps it), each slab padded
 * with a zero row to an even count Tp and stored by 8-column groups: P[slab][g][t][0..8] = X[t0 + t, 8g .. 8g+8].
 * Every block then reads two sequential streams of 32 bytes per row.
 *
 * The function, in WAT terms: `syrk(Tp, d, p, c, jb0, jb1)`, byte addresses p (one packed slab, Tp even) and c (C,
 * row-major [d, d], d a multiple of 8); it adds Σ_t X[t, j]·X[t, i] to C[j, i] for the 4×8 blocks
 * j ∈ [4jb, 4jb+4), i ∈ [8ib, 8ib+8) with jb ∈ [jb0, jb1) and 8ib <= 4jb + 3:
 *
 *   for jb in jb0 .. jb1: for ib in 0 ..= (4jb + 3) >> 3:
 *     acc[0..8] = 0                                 ;; acc[2r + h]: C[4jb + r, 8ib + 4h .. +4]
 *     pi = p + 32·Tp·ib; pj = p + 32·Tp·(jb >> 1) + 16·(jb & 1)
 *     for each of the Tp rows (pi += 32, pj += 32):
 *       a0, a1 = v128.load pi, pi + 16
 *       s_r = v128.load32_splat pj + 4r                                 for r in 0..3
 *       acc[2r + h] = f32x4.add acc[2r + h] (f32x4.mul a_h s_r)
 *     C[4jb + r, 8ib + 4h ..] += acc[2r + h]
 *
 * Threads split the block rows jb (distinct rows of C). Each entry is a float32 sum of per-slab float32 sums, in the
 * same order for any thread count.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmKernel } from './override.js';
import { backendMemory, Code, kernelCache, kernelModule, type WasmBackendLike } from './wasm-asm.js';

/** syrk(Tp, d, p, c, jb0, jb1), see the header. */
export type SyrkFn = (t: number, d: number, p: number, c: number, jb0: number, jb1: number) => void;

// Locals: params 0 Tp, 1 d, 2 p, 3 c, 4 jb0, 5 jb1; i32 6 jb, 7 ib, 8 ibEnd, 9 t, 10 pi, 11 pj, 12 rowBytes (4d),
// 13 cp (C's block address), 14 jCount (jb1 − jb0), 15 jk (0 .. jCount), 16 groupBytes (32·Tp), 17 unused;
// v128 18..25 acc, 26 a0, 27 a1, 28 s.
const L = { T: 0, d: 1, p: 2, c: 3, jb0: 4, jb1: 5, jb: 6, ib: 7, ibEnd: 8, t: 9, pi: 10, pj: 11, rowBytes: 12, cp: 13, jCount: 14, jk: 15, groupBytes: 16, acc: 18, a0: 26, a1: 27, s: 28 } as const;

/** The module's bytes; `shared` must match the imported memory. */
export function syrkBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const c = new Code();
  c.get(L.d).i32(2).shl().set(L.rowBytes);
  c.get(L.T).i32(5).shl().set(L.groupBytes);
  c.get(L.jb1).get(L.jb0).sub().set(L.jCount);
  c.counted(L.jk, L.jCount, () => {
    c.get(L.jb0).get(L.jk).add().set(L.jb);
    // ibEnd = ((4jb + 3) >> 3) + 1
    c.get(L.jb).i32(4).mul().i32(3).add().i32(3).shrU().i32(1).add().set(L.ibEnd);
    c.counted(L.ib, L.ibEnd, () => {
      for (let k = 0; k < 8; k++) c.zeroV().set(L.acc + k);
      c.get(L.p).get(L.ib).get(L.groupBytes).mul().add().set(L.pi);
      // pj = p + groupBytes·(jb >> 1) + 16·(jb & 1)
      c.get(L.p).get(L.jb).i32(1).shrU().get(L.groupBytes).mul().add();
      c.get(L.jb).i32(1).and();
      c.i32(4).shl().add().set(L.pj);
      // One row per iteration: with two (as first written), TurboFan hoisted both rows' 12 loads above the arithmetic,
      // needed 20 vector registers of x64's 16 and spilled 4 accumulators and 3 splats to the stack on every
      // iteration; one row needs 15 and runs ~1.5x faster (V8 then unrolls the loop itself, without spills).
      c.counted(L.t, L.T, () => {
        c.get(L.pi).loadV(0).set(L.a0);
        c.get(L.pi).loadV(16).set(L.a1);
        for (let r = 0; r < 4; r++) {
          c.get(L.pj).splat32(4 * r).set(L.s);
          for (let h = 0; h < 2; h++) {
            c.get(L.acc + 2 * r + h).get(h === 0 ? L.a0 : L.a1).get(L.s).f32x4Mul().f32x4Add().set(L.acc + 2 * r + h);
          }
        }
        c.bump(L.pi, (k) => k.i32(32));
        c.bump(L.pj, (k) => k.i32(32));
      });
      // cp = c + 4jb·rowBytes + 32ib: C[4jb, 8ib]
      c.get(L.c).get(L.jb).get(L.rowBytes).mul().i32(4).mul().add().get(L.ib).i32(32).mul().add().set(L.cp);
      for (let r = 0; r < 4; r++) {
        for (let h = 0; h < 2; h++) {
          c.get(L.cp);
          c.get(L.cp).loadV(16 * h).get(L.acc + 2 * r + h).f32x4Add();
          c.storeV(16 * h);
        }
        if (r < 3) c.bump(L.cp, (k) => k.get(L.rowBytes));
      }
    });
  });
  return kernelModule('syrk', 6, 12, 11, c, shared);
}

/** The kernel bound to `memory` (instantiated once per memory), or null where it cannot run. */
export const syrkFor: (memory: WebAssembly.Memory) => SyrkFn | null = kernelCache('syrk', syrkBytes);

/** Rows of X per slab: 128 rows of d = 768 floats are 384 KiB, within a core's L2. */
export const SLAB_ROWS = 128;

/** Floats of the packed X of n rows and d columns: every slab padded to an even row count. */
export function packedLength(n: number, d: number): number {
  const slabs = Math.ceil(n / SLAB_ROWS);
  const last = n - (slabs - 1) * SLAB_ROWS;
  return slabs === 0 ? 0 : ((slabs - 1) * SLAB_ROWS + last + (last & 1)) * d;
}

/** The slabs of the packed X: [start row, rows, padded rows Tp, float offset in P]. */
export function slabs(n: number, d: number): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  let off = 0;
  for (let t0 = 0; t0 < n; t0 += SLAB_ROWS) {
    const T = Math.min(SLAB_ROWS, n - t0);
    const Tp = T + (T & 1);
    out.push([t0, T, Tp, off]);
    off += Tp * d;
  }
  return out;
}

/** pack(T, d, x, p, Tp): rows x .. x+T of X (byte address, d floats each) into the slab at byte address p. */
export type PackFn = (t: number, d: number, x: number, p: number, tp: number) => void;

/**
 * The packing as a module (v128 copies of 8-float groups: ~5x faster than the JavaScript loop of `packX`, which stays
 * as the fallback and the reference). In WAT terms, for t < T: src = x + 4dt, dst = p + 32t; for g < d/8:
 * v128.store dst (v128.load src); v128.store dst+16 (v128.load src+16); src += 32; dst += 32·Tp.
 */
export function packBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  // Locals: params 0 T, 1 d, 2 x, 3 p, 4 Tp; i32 5 t, 6 g, 7 G, 8 src, 9 dst, 10 rowBytes (4d), 11 groupStride (32·Tp).
  const c = new Code();
  c.get(1).i32(3).shrU().set(7);
  c.get(1).i32(2).shl().set(10);
  c.get(4).i32(5).shl().set(11);
  c.counted(5, 0, () => {
    c.get(2).get(5).get(10).mul().add().set(8);
    c.get(3).get(5).i32(5).shl().add().set(9);
    c.counted(6, 7, () => {
      c.get(9).get(8).loadV(0).storeV(0);
      c.get(9).get(8).loadV(16).storeV(16);
      c.bump(8, (k) => k.i32(32));
      c.bump(9, (k) => k.get(11));
    });
  });
  return kernelModule('pack', 5, 7, 0, c, shared);
}

/** The packing module bound to `memory`, or null. */
export const packFor: (memory: WebAssembly.Memory) => PackFn | null = kernelCache('pack', packBytes);

/** `packX` with the module (byte addresses x and p): the slabs' rows, then their zero rows in JavaScript. */
export function packXWasm(pack: PackFn, heap: Float32Array, x: number, p: number, n: number, d: number): void {
  const G = d >> 3;
  for (const [t0, T, Tp, off] of slabs(n, d)) {
    pack(T, d, x + 4 * t0 * d, p + 4 * off, Tp);
    const f = (p >> 2) + off;
    if (Tp > T) for (let g = 0; g < G; g++) heap.fill(0, f + 8 * (g * Tp + T), f + 8 * (g * Tp + Tp));
  }
}

/** Packs X (float index x, [n, d] row-major) into P (float index p, `packedLength` floats), as in the header. */
export function packX(heap: Float32Array, x: number, p: number, n: number, d: number): void {
  const G = d >> 3;
  for (const [t0, T, Tp, off] of slabs(n, d)) {
    for (let t = 0; t < T; t++) {
      const src = x + (t0 + t) * d;
      let dst = p + off + 8 * t;
      for (let g = 0; g < G; g++, dst += 8 * Tp) {
        const s = src + 8 * g;
        heap[dst] = heap[s]; heap[dst + 1] = heap[s + 1]; heap[dst + 2] = heap[s + 2]; heap[dst + 3] = heap[s + 3];
        heap[dst + 4] = heap[s + 4]; heap[dst + 5] = heap[s + 5]; heap[dst + 6] = heap[s + 6]; heap[dst + 7] = heap[s + 7];
      }
    }
    if (Tp > T) for (let g = 0; g < G; g++) heap.fill(0, p + off + 8 * (g * Tp + T), p + off + 8 * (g * Tp + Tp));
  }
}

/**
 * Block rows [jb0, jb1) of C over every slab of the packed X at byte address p (C at byte address c).
 */
function syrkSlabs(syrk: SyrkFn, p: number, c: number, n: number, d: number, jb0: number, jb1: number): void {
  for (const [, , Tp, off] of slabs(n, d)) syrk(Tp, d, p + 4 * off, c, jb0, jb1);
}

/**
 * C = XᵀX (full and symmetric) from the packed X at byte address p into C at byte address c: C is zeroed, each slab
 * adds its lower blocks (on this thread, or split between `team`'s threads), then the lower triangle is mirrored.
 * `heap` is a Float32Array over the whole memory.
 */
export function gramOnHeap(syrk: SyrkFn, heap: Float32Array, p: number, c: number, n: number, d: number, team: GramThreads | null = null): void {
  const C = heap.subarray(c >> 2, (c >> 2) + d * d);
  C.fill(0);
  if (team === null) syrkSlabs(syrk, p, c, n, d, 0, d >> 2);
  else team.blockRows(syrk, p, c, n, d);
  mirrorLower(C, d);
}

/**
 * Work of the block rows jb < J (block row jb has ((4jb + 3) >> 3) + 1 blocks), split into `parts` contiguous ranges
 * of about equal work: the boundaries [0, b1, .., J].
 */
export function splitBlockRows(J: number, parts: number): number[] {
  const blocks = (jb: number): number => ((4 * jb + 3) >> 3) + 1;
  let total = 0;
  for (let jb = 0; jb < J; jb++) total += blocks(jb);
  const bounds = [0];
  let acc = 0;
  for (let jb = 0; jb < J && bounds.length < parts; jb++) {
    acc += blocks(jb);
    if (acc >= (total * bounds.length) / parts) bounds.push(jb + 1);
  }
  while (bounds.length < parts) bounds.push(J);
  bounds.push(J);
  return bounds;
}

/** C[i, j] = C[j, i] for j > i (C row-major [d, d]). */
export function mirrorLower(C: Float32Array, d: number): void {
  for (let j = 1; j < d; j++) {
    const row = j * d;
    for (let i = 0; i < j; i++) C[i * d + j] = C[row + i];
  }
}

/** The parts of `node:worker_threads`' Worker used here. */
interface WorkerLike {
  postMessage(message: unknown): void;
  on(event: 'error', listener: (err: Error) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}
type WorkerCtor = new (source: string, options: { eval: true; workerData: unknown; execArgv: string[] }) => WorkerLike;

/** `node:worker_threads`' Worker in Node 20.16+ (synchronous `process.getBuiltinModule`), else null. */
function nodeWorker(): WorkerCtor | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') return null;
  const wt = proc.getBuiltinModule('node:worker_threads') as { Worker?: WorkerCtor } | undefined;
  return wt?.Worker ?? null;
}

/** How long the calling thread waits for a worker's block rows before it gives up. */
const WAIT_MS = 120_000;

/**
 * Worker threads that run `syrk` on block rows of the same shared memory (the threaded binary's): each thread owns a
 * contiguous range of block rows, i.e. distinct rows of C, over every slab, so no two threads write the same entry
 * and each entry is summed in the same order as on one thread (results are bit-identical for any thread count).
 * The calling thread takes the first range and blocks in `Atomics.wait` for the others.
 */
export class GramThreads {
  private readonly workers: WorkerLike[] = [];
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(4 * 64));
  private seq = 0;
  private failure: Error | null = null;

  /** Starts `threads − 1` workers on `memory` (shared); throws where worker_threads is missing. */
  constructor(readonly memory: WebAssembly.Memory, readonly threads: number) {
    const Worker = nodeWorker();
    if (Worker === null) throw new Error('GramThreads: worker_threads is not available here');
    const source = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { memory, bytes, ctrl, slot } = workerData;
const syrk = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.syrk;
parentPort.on('message', (m) => {
  let v = m.seq;
  try {
    for (const [Tp, off] of m.slabs) syrk(Tp, m.d, m.p + 4 * off, m.c, m.jb0, m.jb1);
  } catch (e) {
    v = -1;
  }
  Atomics.store(ctrl, slot, v);
  Atomics.notify(ctrl, slot);
});`;
    const bytes = syrkBytes(true);
    for (let t = 1; t < threads; t++) {
      // execArgv []: not the parent's flags (a parent started with --input-type=module would make this source ESM).
      const w = new Worker(source, { eval: true, workerData: { memory, bytes, ctrl: this.ctrl, slot: t }, execArgv: [] });
      w.unref(); // never keeps the process alive
      w.on('error', (err) => {
        this.failure = err;
        Atomics.store(this.ctrl, t, -1);
        Atomics.notify(this.ctrl, t);
      });
      this.workers.push(w);
    }
  }

  /** C = XᵀX as `gramOnHeap` (from the packed X at byte address p), the block rows split between the threads. */
  gram(syrk: SyrkFn, heap: Float32Array, p: number, c: number, n: number, d: number): void {
    gramOnHeap(syrk, heap, p, c, n, d, this);
  }

  /** Adds every slab's lower blocks to C, the block rows split between the threads; returns when all are done. */
  blockRows(syrk: SyrkFn, p: number, c: number, n: number, d: number): void {
    const bounds = splitBlockRows(d >> 2, this.threads);
    const slabList = slabs(n, d).map(([, , Tp, off]) => [Tp, off]);
    const seq = ++this.seq;
    for (let t = 1; t < this.threads; t++) {
      this.workers[t - 1].postMessage({ d, p, c, slabs: slabList, jb0: bounds[t], jb1: bounds[t + 1], seq });
    }
    syrkSlabs(syrk, p, c, n, d, bounds[0], bounds[1]);
    for (let t = 1; t < this.threads; t++) {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const v = Atomics.load(this.ctrl, t);
        if (v === seq) break;
        if (v === -1) throw new Error(`Gram worker ${String(t)} failed${this.failure === null ? '' : `: ${this.failure.message}`}`);
        if (Date.now() > deadline) throw new Error(`Gram worker ${String(t)} did not answer within ${String(WAIT_MS / 1000)} s`);
        Atomics.wait(this.ctrl, t, v, 1000);
      }
    }
  }

  /** Stops the workers (they hold the memory). */
  terminate(): void {
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}

let pool: GramThreads | null = null;

/**
 * The worker pool for `memory` with `threads` threads in all, or null when it cannot run here (one thread, an
 * unshared memory, no worker_threads, more than 64 threads). One pool lives at a time: a new memory or thread count
 * stops the previous one.
 */
export function gramThreadsFor(memory: WebAssembly.Memory, threads: number): GramThreads | null {
  if (threads < 2 || threads > 64 || typeof SharedArrayBuffer !== 'function' || !(memory.buffer instanceof SharedArrayBuffer)) return null;
  if (pool !== null && pool.memory === memory && pool.threads === threads) return pool;
  stopGramThreads();
  try {
    pool = new GramThreads(memory, threads);
  } catch {
    pool = null;
  }
  return pool;
}

/** Threads of the running Gram pool (1 when none runs). */
export function gramThreadsRunning(): number {
  return pool?.threads ?? 1;
}

/** Stops the Gram worker pool, if any (`disposeBackend` does). */
export function stopGramThreads(): void {
  pool?.terminate();
  pool = null;
}

/**
 * Name of the Gram kernel (inputs `{ x }`, X [n, d] float32; output XᵀX [d, d] float32). `@sift/tensor-core`'s
 * `ActivationStats` runs it when the active backend registers it, and a plain `matMul` otherwise.
 */
export const GRAM_KERNEL = 'SiftGram';

let threadsBroken = false;

function gramKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = args.inputs.x;
  const backend = args.backend as WasmBackendLike;
  if (x?.shape.length !== 2) throw new Error(`${GRAM_KERNEL}: x must be a matrix [n, d], got shape [${String(x?.shape)}]`);
  const [n, d] = x.shape as [number, number];
  const m = backendMemory(backend);
  const syrk = m === null ? null : syrkFor(m);
  if (m === null || syrk === null || x.dtype !== 'float32' || d % 8 !== 0) {
    // The plain product (Sift's BatchMatMul materialises the transpose and runs XNNPACK).
    const bmm = tf.getKernel('BatchMatMul', 'wasm');
    return bmm.kernelFunc({ inputs: { a: x, b: x }, attrs: { transposeA: true, transposeB: false }, backend: args.backend as tf.KernelBackend }) as tf.TensorInfo;
  }
  const out = backend.makeOutput([d, d], 'float32');
  if (n === 0) {
    backend.typedArrayFromHeap(out).fill(0);
    return out;
  }
  const packed = backend.makeOutput([packedLength(n, d)], 'float32');
  try {
    // Addresses and the heap view after the allocations (a growing memory detaches older views).
    const xa = backend.typedArrayFromHeap(x).byteOffset;
    const ca = backend.typedArrayFromHeap(out).byteOffset;
    const pa = backend.typedArrayFromHeap(packed).byteOffset;
    const heap = new Float32Array(m.buffer);
    const pack = packFor(m);
    if (pack === null) packX(heap, xa >> 2, pa >> 2, n, d);
    else packXWasm(pack, heap, xa, pa, n, d);
    const threads = threadsBroken ? 1 : backend.wasm?.tfjs?.getThreadsCount?.() ?? 1;
    const team = gramThreadsFor(m, threads);
    if (team !== null) {
      try {
        team.gram(syrk, heap, pa, ca, n, d);
        return out;
      } catch {
        threadsBroken = true; // a worker failed: one thread from now on (same results)
        stopGramThreads();
      }
    }
    gramOnHeap(syrk, heap, pa, ca, n, d);
    return out;
  } finally {
    backend.disposeData(packed.dataId);
  }
}

/** Registers the Gram kernel for wasm (idempotent; a no-op when tfjs-backend-wasm is not imported). */
export function installWasmGram(): void {
  if (wasmKernel(GRAM_KERNEL) !== undefined || wasmKernel('BatchMatMul') === undefined) return;
  tf.registerKernel({ kernelName: GRAM_KERNEL, backendName: 'wasm', kernelFunc: gramKernel });
}

/** Unregisters it: `ActivationStats` then computes XᵀX with `matMul`. */
export function uninstallWasmGram(): void {
  if (wasmKernel(GRAM_KERNEL) !== undefined) tf.unregisterKernel(GRAM_KERNEL, 'wasm');
}

/** Whether the Gram kernel is registered for wasm. */
export function wasmGramInstalled(): boolean {
  return wasmKernel(GRAM_KERNEL) !== undefined;
}
