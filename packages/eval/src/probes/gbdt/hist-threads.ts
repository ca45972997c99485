/**
 * Histogram building on worker threads in Node (sklearn and LightGBM build histograms with OpenMP threads). The
 * features of a leaf's histogram are split into one contiguous range per thread; each range is built by exactly one
 * thread, in the same row order as on one thread, so the histograms (and the trees) are bit-identical for any thread
 * count. The binned data, the ordered gradients, the row indices and the histograms live in SharedArrayBuffers; the
 * calling thread posts a range to each worker, builds its own range, then blocks in `Atomics.wait` until every worker
 * has stored its sequence number. `fitGbdt` stays synchronous. Elsewhere (browsers, where the main thread may not
 * block) one thread builds everything.
 */

/** The shared arrays of one fit. */
export interface HistData {
  /** Column-major bins [D][N]. */
  binned: Uint8Array;
  /** Ordered gradients and hessians: og[k] is the gradient of the leaf's k-th row. */
  og: Float64Array;
  oh: Float64Array;
  /** Row indices of the leaves. */
  rows: Int32Array;
  n: number;
  /** Offset of feature f's histogram ([g, h, count] per bin). */
  hoff: Int32Array;
  numBins: Int32Array;
}

/**
 * Histogram of rows[begin .. begin+count) over features[q0 .. q1): zeroes those features' ranges, then adds
 * [g, h, 1] per row and feature; with `parent`, then subtracts the result from it over the same features. Features
 * go four at a time in one pass over the rows: updates to four separate histograms interleave, so a CPU rarely has two
 * in-flight read-modify-writes to the same bin (which stall), and the row loads are shared (~2.5x faster).
 * Self-contained (no references outside its body): the workers run its source text.
 */
export function histKernel(
  hist: Float64Array, begin: number, count: number, rows: Int32Array, og: Float64Array, oh: Float64Array,
  binned: Uint8Array, n: number, hoff: Int32Array, numBins: Int32Array, features: Int32Array, q0: number, q1: number,
  parent: Float64Array | null,
): void {
  for (let q = q0; q < q1; q++) {
    const f = features[q];
    hist.fill(0, hoff[f], hoff[f] + 3 * numBins[f]);
  }
  let q = q0;
  for (; q + 4 <= q1; q += 4) {
    const f0 = features[q], f1 = features[q + 1], f2 = features[q + 2], f3 = features[q + 3];
    const o0 = hoff[f0], o1 = hoff[f1], o2 = hoff[f2], o3 = hoff[f3];
    const b0 = f0 * n, b1 = f1 * n, b2 = f2 * n, b3 = f3 * n;
    for (let k = 0; k < count; k++) {
      const r = rows[begin + k];
      const g = og[k], h = oh[k];
      const i0 = o0 + 3 * binned[b0 + r], i1 = o1 + 3 * binned[b1 + r];
      const i2 = o2 + 3 * binned[b2 + r], i3 = o3 + 3 * binned[b3 + r];
      hist[i0] += g; hist[i0 + 1] += h; hist[i0 + 2] += 1;
      hist[i1] += g; hist[i1 + 1] += h; hist[i1 + 2] += 1;
      hist[i2] += g; hist[i2 + 1] += h; hist[i2 + 2] += 1;
      hist[i3] += g; hist[i3 + 1] += h; hist[i3 + 2] += 1;
    }
  }
  for (; q < q1; q++) {
    const f = features[q];
    const off = hoff[f];
    const base = f * n;
    for (let k = 0; k < count; k++) {
      const i = off + 3 * binned[base + rows[begin + k]];
      hist[i] += og[k];
      hist[i + 1] += oh[k];
      hist[i + 2] += 1;
    }
  }
  if (parent !== null) {
    // Histogram subtraction for the sibling, on the same feature range: parent −= hist.
    for (let t = q0; t < q1; t++) {
      const f = features[t];
      const end = hoff[f] + 3 * numBins[f];
      for (let i = hoff[f]; i < end; i++) parent[i] -= hist[i];
    }
  }
}

/**
 * Best split of a leaf (gradient sum G, hessian sum H, C rows) over features[q0 .. q1) of its histogram: the largest
 * gain T(gl)²/(hl+λ2) + T(G−gl)²/(hr+λ2) − shift above 0, scanning bins left to right, first feature and bin on ties
 * (T: the L1 soft-threshold). Writes [gain, feature, bin, gl, hl] at out[at ..] (gain 0, feature −1 when none).
 * Self-contained, as `histKernel`: the workers run its source text.
 */
export function splitKernel(
  hist: Float64Array, features: Int32Array, q0: number, q1: number, hoff: Int32Array, numBins: Int32Array,
  G: number, H: number, C: number, l1: number, l2: number, minData: number, minHess: number, shift: number,
  out: Float64Array, at: number,
): void {
  let best = 0, bf = -1, bb = -1, blg = 0, blh = 0;
  for (let q = q0; q < q1; q++) {
    const f = features[q];
    const off = hoff[f];
    const last = numBins[f] - 1;
    let gl = 0, hl = 0, cl = 0;
    for (let b = 0; b < last; b++) {
      const i = off + 3 * b;
      const c = hist[i + 2];
      if (c === 0) continue; // an empty bin repeats the previous threshold's split
      gl += hist[i];
      hl += hist[i + 1];
      cl += c;
      if (cl < minData || hl < minHess) continue;
      const hr = H - hl;
      if (C - cl < minData || hr < minHess) break;
      const gr = G - gl;
      const tl = gl > l1 ? gl - l1 : gl < -l1 ? gl + l1 : 0;
      const tr = gr > l1 ? gr - l1 : gr < -l1 ? gr + l1 : 0;
      const gain = (tl * tl) / (hl + l2) + (tr * tr) / (hr + l2) - shift;
      if (gain > best) {
        best = gain;
        bf = f;
        bb = b;
        blg = gl;
        blh = hl;
      }
    }
  }
  out[at] = best;
  out[at + 1] = bf;
  out[at + 2] = bb;
  out[at + 3] = blg;
  out[at + 4] = blh;
}

/** The parts of `node:worker_threads` used here. */
interface WorkerLike {
  postMessage(message: unknown): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  unref(): void;
  terminate(): Promise<number>;
}
type WorkerCtor = new (source: string, options: { eval: true; workerData: unknown }) => WorkerLike;

/** `node:worker_threads`'s Worker when running in Node 20.16+ (synchronous `process.getBuiltinModule`), else null. */
function nodeWorker(): WorkerCtor | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function' || typeof SharedArrayBuffer !== 'function') return null;
  const wt = proc.getBuiltinModule('node:worker_threads') as { Worker?: WorkerCtor } | undefined;
  return wt?.Worker ?? null;
}

/** Logical CPUs in Node (`os.availableParallelism`), or 1. */
export function cpuCount(): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const os = proc?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
  return os?.availableParallelism?.() ?? 1;
}

/** Whether histogram threads can start here (Node with worker_threads and SharedArrayBuffer). */
export function histThreadsAvailable(): boolean {
  return nodeWorker() !== null;
}

/** A Float64Array on a SharedArrayBuffer. */
export function sharedF64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(8 * length));
}

/** An Int32Array on a SharedArrayBuffer. */
export function sharedI32(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * length));
}

/** A copy of `a` on a SharedArrayBuffer. */
export function sharedU8(a: Uint8Array): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(a.length));
  out.set(a);
  return out;
}

/** How long the calling thread waits for a worker before giving up (a worker that died never answers). */
const WAIT_MS = 120_000;

/** Worker threads that build feature ranges of histograms over shared data. */
export class HistThreads {
  /** Threads that build a histogram, the calling one included. */
  readonly threads: number;
  private readonly workers: WorkerLike[];
  private readonly ctrl: Int32Array;
  private seq = 0;
  private failure: Error | null = null;
  /** Histogram buffers already sent to the workers, by id: each is posted once, then builds name it by id. */
  private readonly ids = new Map<Float64Array, number>();
  private readonly features: Int32Array;
  private lastFeatures: Int32Array | null = null;
  /** [gain, feature, bin, gl, hl] per thread from `splitKernel`. */
  private readonly result: Float64Array;

  /**
   * Starts `threads − 1` workers over `data` (its arrays must be on SharedArrayBuffers).
   * @throws Error when worker_threads is not available (check `histThreadsAvailable()` first)
   */
  constructor(threads: number, private readonly data: HistData) {
    const Worker = nodeWorker();
    if (Worker === null) throw new Error('HistThreads: worker_threads is not available here');
    this.threads = threads;
    this.ctrl = sharedI32(threads);
    this.features = sharedI32(data.numBins.length);
    this.result = sharedF64(5 * threads);
    const source = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const histKernel = ${histKernel.toString()};
const splitKernel = ${splitKernel.toString()};
const { binned, og, oh, rows, n, hoff, numBins, features, result, ctrl, slot } = workerData;
const bufs = [];
parentPort.on('message', (m) => {
  if (m.op === 'reg') {
    bufs[m.id] = m.buf;
    return;
  }
  let v = m.seq;
  try {
    if (m.op === 'build') {
      histKernel(bufs[m.hist], m.begin, m.count, rows, og, oh, binned, n, hoff, numBins, features, m.q0, m.q1, m.parent < 0 ? null : bufs[m.parent]);
    } else {
      splitKernel(bufs[m.hist], features, m.q0, m.q1, hoff, numBins, m.G, m.H, m.C, m.l1, m.l2, m.minData, m.minHess, m.shift, result, 5 * slot);
    }
  } catch (e) {
    v = -1;
  }
  Atomics.store(ctrl, slot, v);
  Atomics.notify(ctrl, slot);
});`;
    this.workers = [];
    for (let t = 1; t < threads; t++) {
      const w = new Worker(source, { eval: true, workerData: { ...data, features: this.features, result: this.result, ctrl: this.ctrl, slot: t } });
      w.unref(); // never keeps the process alive
      w.on('error', (err) => {
        this.failure = err;
        Atomics.store(this.ctrl, t, -1);
        Atomics.notify(this.ctrl, t);
      });
      this.workers.push(w);
    }
  }

  /** `histKernel` over all of `features`, split across the threads; returns when every range is built. */
  build(hist: Float64Array, begin: number, count: number, features: Int32Array, parent: Float64Array | null): void {
    const d = this.data;
    const { seq, q0 } = this.post(features, { op: 'build', hist: this.idOf(hist), parent: parent === null ? -1 : this.idOf(parent), begin, count });
    histKernel(hist, begin, count, d.rows, d.og, d.oh, d.binned, d.n, d.hoff, d.numBins, features, 0, q0, parent);
    this.wait(seq);
  }

  /**
   * `splitKernel` over all of `features`, split across the threads, merged in feature order with the same strict
   * comparison as one scan (so the same split on ties). Returns [gain, feature, bin, gl, hl] (a view, valid until the
   * next call).
   */
  bestSplit(hist: Float64Array, features: Int32Array, G: number, H: number, C: number, l1: number, l2: number, minData: number,
    minHess: number, shift: number): Float64Array {
    const d = this.data;
    const r = this.result;
    const { seq, q0 } = this.post(features, { op: 'best', hist: this.idOf(hist), G, H, C, l1, l2, minData, minHess, shift });
    splitKernel(hist, features, 0, q0, d.hoff, d.numBins, G, H, C, l1, l2, minData, minHess, shift, r, 0);
    this.wait(seq);
    for (let t = 1; t < this.threads; t++) {
      if (r[5 * t] > r[0]) for (let k = 0; k < 5; k++) r[k] = r[5 * t + k];
    }
    return r;
  }

  /**
   * Posts `message` with a feature range to each worker: ranges in multiples of 4 features (the histogram kernel's
   * interleave width) at the end of the list; the calling thread keeps [0, q0).
   */
  private post(features: Int32Array, message: Record<string, number | string>): { seq: number; q0: number } {
    if (features !== this.lastFeatures) {
      this.features.set(features);
      this.lastFeatures = features;
    }
    const nf = features.length;
    const T = this.threads;
    const seq = ++this.seq;
    const per = Math.floor(nf / T / 4) * 4;
    for (let t = 1; t < T; t++) {
      const q0 = nf - (T - t) * per;
      this.workers[t - 1].postMessage({ ...message, q0, q1: q0 + per, seq });
    }
    return { seq, q0: nf - (T - 1) * per };
  }

  /** Blocks until every worker has stored `seq` (or throws when one failed or went silent). */
  private wait(seq: number): void {
    for (let t = 1; t < this.threads; t++) {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const v = Atomics.load(this.ctrl, t);
        if (v === seq) break;
        if (v === -1) throw new Error(`GBDT histogram worker ${t} failed${this.failure === null ? '' : `: ${this.failure.message}`}`);
        if (Date.now() > deadline) throw new Error(`GBDT histogram worker ${t} did not answer within ${WAIT_MS / 1000} s`);
        Atomics.wait(this.ctrl, t, v, 1000);
      }
    }
  }

  /** The id of a histogram buffer, posting it to the workers the first time. */
  private idOf(buf: Float64Array): number {
    let id = this.ids.get(buf);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(buf, id);
      for (const w of this.workers) w.postMessage({ op: 'reg', id, buf });
    }
    return id;
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
