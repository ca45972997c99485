/**
 * A few helpers to assemble the small WebAssembly SIMD kernels of this folder from their instructions (no toolchain
 * at build or run time): a function body builder with counted loops, and a one-function module that imports the
 * tfjs-backend-wasm memory it works on.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** Unsigned LEB128. */
export function leb(n: number): number[] {
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

/** Signed LEB128 (i32.const's immediate: 64 needs two bytes). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const SIMD = 0xfd;

/** A function body under construction: `c` holds the instruction bytes. */
export class Code {
  readonly c: number[] = [];

  get(i: number): this { this.c.push(0x20, i); return this; }
  set(i: number): this { this.c.push(0x21, i); return this; }
  i32(v: number): this { this.c.push(0x41, ...sleb(v)); return this; }
  add(): this { this.c.push(0x6a); return this; }
  sub(): this { this.c.push(0x6b); return this; }
  and(): this { this.c.push(0x71); return this; }
  mul(): this { this.c.push(0x6c); return this; }
  shl(): this { this.c.push(0x74); return this; }
  shrU(): this { this.c.push(0x76); return this; }
  /** `local = local + (what \`by\` pushes)` */
  bump(local: number, by: (c: this) => void): this { this.get(local); by(this); this.add(); return this.set(local); }
  /** v128.load (align 4) at the address on the stack + offset. */
  loadV(offset = 0): this { this.c.push(SIMD, 0x00, 2, ...leb(offset)); return this; }
  /** v128.store (align 4). */
  storeV(offset = 0): this { this.c.push(SIMD, 0x0b, 2, ...leb(offset)); return this; }
  /** v128.load32_splat (align 4). */
  splat32(offset = 0): this { this.c.push(SIMD, 0x09, 2, ...leb(offset)); return this; }
  zeroV(): this { this.c.push(SIMD, 0x0c, ...new Array<number>(16).fill(0)); return this; }
  f32x4Add(): this { this.c.push(SIMD, ...leb(0xe4)); return this; }
  f32x4Mul(): this { this.c.push(SIMD, ...leb(0xe6)); return this; }
  /** f32x4.extract_lane */
  lane(l: number): this { this.c.push(SIMD, 0x1f, l); return this; }
  f32Add(): this { this.c.push(0x92); return this; }
  /** f32.store (align 4) at the address below the value + offset. */
  storeF32(offset = 0): this { this.c.push(0x38, 2, ...leb(offset)); return this; }

  /** `for (counter = 0; counter < limit; counter++) body()` with locals counter and limit (skipped when limit is 0). */
  counted(counter: number, limit: number, body: () => void): this {
    this.i32(0).set(counter);
    this.c.push(0x02, 0x40); // block
    this.get(limit);
    this.c.push(0x45, 0x0d, 0); // i32.eqz; br_if 0
    this.c.push(0x03, 0x40); // loop
    body();
    this.get(counter).i32(1).add();
    this.c.push(0x22, counter); // local.tee
    this.get(limit);
    this.c.push(0x49, 0x0d, 0); // i32.lt_u; br_if 0 (loop)
    this.c.push(0x0b, 0x0b); // end loop; end block
    return this;
  }
}

/**
 * A module of one exported function `name` with `params` i32 parameters and no result, locals (`i32Locals` i32 then
 * `v128Locals` v128) and body `code`, importing `env.memory`: shared with a maximum of 4 GiB (the threaded binary's
 * memory) or unshared with no maximum.
 */
export function kernelModule(name: string, params: number, i32Locals: number, v128Locals: number, code: Code, shared: boolean): Uint8Array<ArrayBuffer> {
  const body = [0x02, i32Locals, 0x7f, v128Locals, 0x7b, ...code.c, 0x0b];
  const section = (id: number, content: number[]): number[] => [id, ...leb(content.length), ...content];
  const str = (s: string): number[] => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const limits = shared ? [0x03, 0x01, ...leb(65536)] : [0x00, 0x01];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, params, ...new Array<number>(params).fill(0x7f), 0x00]), // type: (i32 × params) -> ()
    ...section(2, [0x01, ...str('env'), ...str('memory'), 0x02, ...limits]),
    ...section(3, [0x01, 0x00]),
    ...section(7, [0x01, ...str(name), 0x00, 0x00]),
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ]);
}

/** The parts of tfjs-backend-wasm's `BackendWasm` the SIMD kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  /**
   * Emscripten's Module: the single-threaded binary exports its memory, the threaded one keeps it as `wasmMemory`;
   * `tfjs.getThreadsCount` is the pool size.
   */
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown; tfjs?: { getThreadsCount?: () => number } };
}

/** The backend's `WebAssembly.Memory`, which the kernels import, or null when the Module does not expose it. */
export function backendMemory(backend: WasmBackendLike): WebAssembly.Memory | null {
  const m = backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory;
  return m instanceof WebAssembly.Memory ? m : null;
}

/** An exported kernel: i32 arguments (counts and byte addresses), no result. */
export type KernelFn = (...args: number[]) => void;

/**
 * Instantiates `bytes(shared)` on `memory` once per memory and returns its export `name`, or null where WebAssembly
 * SIMD is missing or instantiation fails (e.g. a content security policy without 'wasm-unsafe-eval').
 */
export function kernelCache(name: string, bytes: (shared: boolean) => Uint8Array<ArrayBuffer>): (memory: WebAssembly.Memory) => KernelFn | null {
  const instances = new WeakMap<WebAssembly.Memory, KernelFn | null>();
  return (memory) => {
    let fn = instances.get(memory);
    if (fn !== undefined) return fn;
    fn = null;
    try {
      const shared = typeof SharedArrayBuffer === 'function' && memory.buffer instanceof SharedArrayBuffer;
      const b = bytes(shared);
      if (WebAssembly.validate(b)) {
        const instance = new WebAssembly.Instance(new WebAssembly.Module(b), { env: { memory } });
        fn = instance.exports[name] as KernelFn;
      }
    } catch {
      fn = null;
    }
    instances.set(memory, fn);
    return fn;
  };
}
