import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { GRAM_KERNEL, GramThreads, gramOnHeap, gramThreadsRunning, packedLength, packFor, packX, packXWasm, splitBlockRows, syrkBytes, syrkFor, wasmGramInstalled } from './wasm-gram.js';
import { expectNoGrowth, kernelInstallTests, maxRelErr, tensor, values } from './test-data.js';

/** float64 XᵀX of row-major X [n, d]. */
function naiveGram(x: ArrayLike<number>, n: number, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < d; i++) {
      const xi = x[t * d + i];
      for (let j = 0; j < d; j++) out[i * d + j] += xi * x[t * d + j];
    }
  }
  return out;
}

function isSymmetric(c: ArrayLike<number>, d: number): boolean {
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) if (!Object.is(c[i * d + j], c[j * d + i])) return false;
  return true;
}

const gram = (x: tf.Tensor): tf.Tensor => tf.engine().runKernel(GRAM_KERNEL, { x });

describe('wasm Gram kernel (SiftGram)', () => {
  kernelInstallTests('fastBatchMatMul', wasmGramInstalled);

  it('equals a float64 XᵀX (rel. error < 2e-6) and is exactly symmetric: slab edges, one block, d not a multiple of 8, no rows', () => {
    // [n, d]: 128-row slabs (one partial), a single 8-wide block, the fallback for d mod 8 != 0, n = 0.
    for (const [n, d] of [[300, 24], [128, 8], [129, 16], [5, 40], [20, 12], [0, 16]] as const) {
      const x = tensor([n, d], n + d);
      const c = gram(x);
      expect(c.shape).toEqual([d, d]);
      const got = c.dataSync();
      expect(maxRelErr(got, naiveGram(x.dataSync(), n, d)), `[${n}, ${d}]`).toBeLessThan(n === 0 ? Infinity : 2e-6);
      if (n === 0) expect(Array.from(got).every((v) => v === 0)).toBe(true);
      expect(isSymmetric(got, d), `[${n}, ${d}]`).toBe(true);
      tf.dispose([x, c]);
    }
    expect(gramThreadsRunning()).toBe(1); // the single-threaded binary's memory is not shared: no workers
  });

  it('frees nothing twice and leaks nothing across repeated calls', () => {
    const x = tensor([260, 32], 7);
    expectNoGrowth(() => { gram(x).dispose(); });
    x.dispose();
  });

  it('rejects a non-matrix input with a message naming the shape', () => {
    const x = tensor([2, 3, 8], 3);
    expect(() => gram(x)).toThrow(/SiftGram: x must be a matrix \[n, d\], got shape \[2,3,8\]/);
    x.dispose();
  });
});

describe('Gram block rows on worker threads', () => {
  // A shared memory of its own (the threaded binary's memory is shared; the test backend runs on one thread).
  const n = 333;
  const d = 48;
  const memory = new WebAssembly.Memory({ initial: 4, maximum: 64, shared: true });
  const heap = new Float32Array(memory.buffer);
  const xOff = 1024;
  const pOff = xOff + 4 * n * d;
  const cOff = pOff + 4 * packedLength(n, d);
  heap.set(values(n * d, 11), xOff >> 2);
  packX(heap, xOff >> 2, pOff >> 2, n, d);
  const syrk = syrkFor(memory)!;
  const teams: GramThreads[] = [];
  afterAll(() => { for (const t of teams) t.terminate(); });

  it('the shared-memory module validates and instantiates', () => {
    expect(WebAssembly.validate(syrkBytes(true))).toBe(true);
    expect(syrk).not.toBeNull();
  });

  it('the packing module writes the same slabs as the JavaScript packX (odd slab padded with a zero row)', () => {
    const pack = packFor(memory)!;
    const len = packedLength(n, d);
    const qOff = cOff + 4 * d * d;
    heap.fill(Number.NaN, qOff >> 2, (qOff >> 2) + len); // the padding must be written, not assumed
    packXWasm(pack, heap, xOff, qOff, n, d);
    expect(Array.from(heap.subarray(qOff >> 2, (qOff >> 2) + len))).toEqual(Array.from(heap.subarray(pOff >> 2, (pOff >> 2) + len)));
  });

  it('2 and 3 threads give results bit-identical to one thread', () => {
    gramOnHeap(syrk, heap, pOff, cOff, n, d);
    const one = heap.slice(cOff >> 2, (cOff >> 2) + d * d);
    expect(maxRelErr(one, naiveGram(heap.subarray(xOff >> 2, (xOff >> 2) + n * d), n, d))).toBeLessThan(2e-6);
    for (const threads of [2, 3]) {
      const team = new GramThreads(memory, threads);
      teams.push(team);
      heap.fill(Number.NaN, cOff >> 2, (cOff >> 2) + d * d); // the team must zero C itself
      team.gram(syrk, heap, pOff, cOff, n, d);
      expect(Array.from(heap.subarray(cOff >> 2, (cOff >> 2) + d * d)), `${threads} threads`).toEqual(Array.from(one));
    }
  });

  it('splitBlockRows covers every block row once, in ranges of about equal work', () => {
    const blocks = (jb: number): number => ((4 * jb + 3) >> 3) + 1;
    for (const [J, parts] of [[192, 2], [192, 3], [5, 4], [1, 2], [1024, 8]] as const) {
      const b = splitBlockRows(J, parts);
      expect(b.length).toBe(parts + 1);
      expect(b[0]).toBe(0);
      expect(b[parts]).toBe(J);
      for (let k = 1; k <= parts; k++) expect(b[k]).toBeGreaterThanOrEqual(b[k - 1]);
      const work = b.slice(1).map((end, k) => { let w = 0; for (let jb = b[k]; jb < end; jb++) w += blocks(jb); return w; });
      const total = work.reduce((p, w) => p + w, 0);
      // Each range is within one block row's work of an equal share.
      for (const w of work) expect(Math.abs(w - total / parts)).toBeLessThanOrEqual(blocks(J - 1) + 1);
    }
  });
});
