/**
 * Worker threads for the float64 gemm: each instantiates the tile kernel (gemm-wasm.ts) on the same shared memory and
 * runs a range of a tile list when told. Tiles are disjoint 4×4 outputs, so the split changes nothing in any result
 * (bit-identical for every thread count). The calling thread runs the first range and blocks in `Atomics.wait` for
 * the rest; the workers block in `Atomics.wait` between lists, so a list costs one wake-up, not a message.
 *
 * Node only (`worker_threads`, reached synchronously through `process.getBuiltinModule`, Node 20.16+); elsewhere
 * there is no team and gemm runs on the calling thread.
 */
import type { TilesFn } from './gemm-wasm.js';

/** The parts of `node:worker_threads`' Worker used here. */
interface WorkerLike {
  unref(): void;
  terminate(): Promise<number>;
}
type WorkerCtor = new (source: string, options: { eval: true; workerData: unknown; execArgv: string[] }) => WorkerLike;

interface ProcessLike {
  getBuiltinModule?: (id: string) => unknown;
}

function builtin(id: string): unknown {
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (typeof proc?.getBuiltinModule !== 'function') return null;
  return proc.getBuiltinModule(id) ?? null;
}

/** Cores this process may use (Node's `os.availableParallelism`), or 1 where that is unknown. */
export function availableCores(): number {
  const os = builtin('node:os') as { availableParallelism?: () => number } | null;
  return typeof os?.availableParallelism === 'function' ? Math.max(1, os.availableParallelism()) : 1;
}

/** Whether a team can run here: worker_threads and shared memory. */
export function teamsSupported(): boolean {
  return typeof SharedArrayBuffer === 'function' && typeof Atomics === 'object' &&
    (builtin('node:worker_threads') as { Worker?: WorkerCtor } | null)?.Worker !== undefined;
}

// ctrl layout (Int32Array on a SharedArrayBuffer): the command sequence number, the list address, then per slot
// [t0, t1] at RANGE + 2·slot, the last sequence done (or −1 on failure) at DONE + slot, 1 once ready at READY + slot.
const SEQ = 0;
const LIST = 1;
const RANGE = 2;
/** The most threads a team runs (the calling thread included). */
export const MAX_THREADS = 16;
const DONE = RANGE + 2 * MAX_THREADS;
const READY = DONE + MAX_THREADS;
const CTRL_LEN = READY + MAX_THREADS;
/** How long the calling thread waits for a worker's tiles before it gives up. */
const WAIT_MS = 120_000;

const SOURCE = `'use strict';
const { workerData } = require('node:worker_threads');
const { memory, bytes, ctrl, slot } = workerData;
const tiles = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.tiles;
let seen = Atomics.load(ctrl, ${SEQ});
Atomics.store(ctrl, ${READY} + slot, 1);
for (;;) {
  Atomics.wait(ctrl, ${SEQ}, seen);
  const s = Atomics.load(ctrl, ${SEQ});
  if (s === seen) continue;
  if (s < 0) break;
  seen = s;
  let v = s;
  try {
    const t0 = Atomics.load(ctrl, ${RANGE} + 2 * slot);
    const t1 = Atomics.load(ctrl, ${RANGE} + 2 * slot + 1);
    if (t1 > t0) tiles(Atomics.load(ctrl, ${LIST}), t0, t1);
  } catch (e) {
    v = -1;
  }
  Atomics.store(ctrl, ${DONE} + slot, v);
  Atomics.notify(ctrl, ${DONE} + slot);
}`;

/** `threads − 1` workers on a shared memory, plus the calling thread. */
export class GemmTeam {
  private readonly workers: WorkerLike[] = [];
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(4 * CTRL_LEN));
  private seq = 0;

  /** Starts the workers; they become usable as each finishes compiling (until then the calling thread does their share). */
  constructor(readonly memory: WebAssembly.Memory, bytes: Uint8Array, readonly threads: number, private readonly tiles: TilesFn) {
    const Worker = (builtin('node:worker_threads') as { Worker?: WorkerCtor } | null)?.Worker;
    if (Worker === undefined) throw new Error('GemmTeam: worker_threads is not available here');
    if (threads < 2 || threads > MAX_THREADS) throw new Error(`GemmTeam: threads must be in [2, ${String(MAX_THREADS)}], got ${String(threads)}`);
    for (let t = 1; t < threads; t++) {
      // execArgv []: not the parent's flags (a parent started with --input-type=module would make this source ESM).
      const w = new Worker(SOURCE, { eval: true, workerData: { memory, bytes, ctrl: this.ctrl, slot: t }, execArgv: [] });
      w.unref(); // never keeps the process alive
      this.workers.push(w);
    }
  }

  /** Workers ready to take tiles now. */
  readyWorkers(): number {
    let n = 0;
    for (let t = 1; t < this.threads; t++) if (Atomics.load(this.ctrl, READY + t) === 1) n++;
    return n;
  }

  /**
   * Runs the tiles [0, count) of the list at byte address `list`, split by work: `work[t]` is the cumulative work
   * (K steps) of tiles 0 … t. Returns when every tile is done.
   */
  run(list: number, count: number, work: Float64Array): void {
    const ready: number[] = [];
    for (let t = 1; t < this.threads; t++) if (Atomics.load(this.ctrl, READY + t) === 1) ready.push(t);
    const parts = ready.length + 1;
    const total = count === 0 ? 0 : work[count - 1];
    // Cut points: the first tile whose cumulative work reaches each share.
    const cuts = [0];
    let t = 0;
    for (let p = 1; p < parts; p++) {
      const target = (total * p) / parts;
      while (t < count && work[t] < target) t++;
      cuts.push(Math.min(count, t + 1));
    }
    cuts.push(count);
    Atomics.store(this.ctrl, LIST, list);
    for (let s = 1; s < this.threads; s++) {
      const at = ready.indexOf(s);
      Atomics.store(this.ctrl, RANGE + 2 * s, at < 0 ? 0 : cuts[at + 1]);
      Atomics.store(this.ctrl, RANGE + 2 * s + 1, at < 0 ? 0 : cuts[at + 2]);
    }
    const seq = (this.seq = (this.seq % 0x3fffffff) + 1);
    Atomics.store(this.ctrl, SEQ, seq);
    Atomics.notify(this.ctrl, SEQ);
    this.tiles(list, cuts[0], cuts[1]);
    for (const [k, s] of ready.entries()) {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const v = Atomics.load(this.ctrl, DONE + s);
        if (v === seq) break;
        if (v === -1 || Date.now() > deadline) {
          // A worker that failed or hangs is dropped; its tiles run here (the same values, whatever it wrote).
          Atomics.store(this.ctrl, READY + s, 0);
          Atomics.store(this.ctrl, DONE + s, 0);
          this.tiles(list, cuts[k + 1], cuts[k + 2]);
          break;
        }
        Atomics.wait(this.ctrl, DONE + s, v, 1000);
      }
    }
  }

  /** Stops the workers. */
  terminate(): void {
    Atomics.store(this.ctrl, SEQ, -1);
    Atomics.notify(this.ctrl, SEQ);
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
