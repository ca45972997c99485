/**
 * Packed storage of quantized weights: real b-bit codes (a little-endian bit stream, 2/3/4/8 bits per weight), the
 * per-row steps Δ and the salient columns in float32, in one safetensors file, with a JSON sidecar for Sift's own
 * metadata (bits, shapes, k). Both are written atomically (tensor-core's `writeSafetensorsFile`, `writeFileAtomic`).
 */
import {
  SiftError, readSafetensorsFile, writeFileAtomic, writeSafetensorsFile, type SafeTensor,
} from '@sift/tensor-core';
import { QUANT_BITS, qmax, type QuantBits } from './grid.js';
import type { QuantizedWeight } from './quantize.js';

/**
 * Packs signed codes in [−2^{b−1}, 2^{b−1} − 1] into a bit stream: code + 2^{b−1} (unsigned, b bits) at bit offset
 * b·t, least significant bit first. 3-bit codes cross byte boundaries.
 * @returns ⌈n·b / 8⌉ bytes
 * @example
 * packCodes(Int8Array.from([-2, 1, 0, -1]), 2); // Uint8Array [0b01_10_11_00] = [108]
 */
export function packCodes(codes: Int8Array, bits: QuantBits): Uint8Array {
  if (!QUANT_BITS.includes(bits)) throw new SiftError('E_CONFIG', `packCodes: bits must be one of ${QUANT_BITS.join(', ')}, got ${bits}.`);
  const off = qmax(bits) + 1;
  const out = new Uint8Array(Math.ceil((codes.length * bits) / 8));
  let bit = 0;
  for (let t = 0; t < codes.length; t++, bit += bits) {
    const u = codes[t] + off;
    if (u < 0 || u >= 2 * off) throw new SiftError('E_CONFIG', `packCodes: code ${codes[t]} at ${t} does not fit in ${bits} bits.`);
    const byte = bit >> 3;
    const shift = bit & 7;
    const v = u << shift;
    out[byte] |= v & 0xff;
    if (shift + bits > 8) out[byte + 1] |= v >> 8;
  }
  return out;
}

/** Inverse of `packCodes`: n signed codes from a bit stream. */
export function unpackCodes(bytes: Uint8Array, n: number, bits: QuantBits): Int8Array {
  if (!QUANT_BITS.includes(bits)) throw new SiftError('E_CONFIG', `unpackCodes: bits must be one of ${QUANT_BITS.join(', ')}, got ${bits}.`);
  if (bytes.length < Math.ceil((n * bits) / 8)) {
    throw new SiftError('E_DATA', `unpackCodes: ${bytes.length} bytes hold fewer than ${n} codes of ${bits} bits.`);
  }
  const off = qmax(bits) + 1;
  const maskBits = (1 << bits) - 1;
  const out = new Int8Array(n);
  let bit = 0;
  for (let t = 0; t < n; t++, bit += bits) {
    const byte = bit >> 3;
    const shift = bit & 7;
    const v = (bytes[byte] | (shift + bits > 8 ? bytes[byte + 1] << 8 : 0)) >> shift;
    out[t] = (v & maskBits) - off;
  }
  return out;
}

/** The sidecar's entry for one layer. */
export interface QuantizedLayerMeta {
  rows: number;
  cols: number;
  bits: QuantBits;
  /** Salient (full-precision) columns. */
  k: number;
  /** Storage bits per weight, scales and salient columns included (float32 values). */
  bitsPerWeight: number;
}

/** The JSON sidecar of a packed quantized checkpoint. */
export interface QuantizedSidecar {
  format: 'sift.gift-sw.quantized';
  version: 1;
  /** The safetensors file's base name. */
  tensors: string;
  layers: Record<string, QuantizedLayerMeta>;
  /** Whatever the caller attached (e.g. the quantization report's options). */
  metadata: Record<string, unknown>;
}

/** What `saveQuantized` wrote. */
export interface SaveQuantizedReport {
  path: string;
  sidecar: string;
  /** Bytes of the safetensors file. */
  bytes: number;
  layers: number;
}

/** The sidecar path of a packed file: `x.safetensors` -> `x.quant.json`. */
export function quantizedSidecarPath(path: string): string {
  return `${path.replace(/\.safetensors$/u, '')}.quant.json`;
}

function bitsPerWeight(q: QuantizedWeight): number {
  const k = q.salient.length;
  const total = q.rows * (q.cols - k) * q.bits + q.rows * 32 + q.rows * k * 32 + k * 32;
  return total / (q.rows * q.cols);
}

/**
 * Writes quantized layers to `path` (safetensors: `<name>.qcodes` U8, `<name>.scales` F32 [out], `<name>.salient_idx`
 * I32 [k], `<name>.salient_weight` F32 [out, k]) and the sidecar `quantizedSidecarPath(path)`, both atomically.
 * @example
 * await saveQuantized('out/model.q3.safetensors', { 'h.0.mlp.up': quantizeRtn(w, salient, { bits: 3 }) });
 */
export async function saveQuantized(path: string, layers: Readonly<Record<string, QuantizedWeight>>,
  metadata: Record<string, unknown> = {}): Promise<SaveQuantizedReport> {
  const tensors: Record<string, SafeTensor> = {};
  const meta: Record<string, QuantizedLayerMeta> = {};
  for (const [name, q] of Object.entries(layers)) {
    const k = q.salient.length;
    const packed = packCodes(q.codes, q.bits);
    tensors[`${name}.qcodes`] = { dtype: 'U8', shape: [packed.length], data: packed };
    tensors[`${name}.scales`] = { dtype: 'F32', shape: [q.rows], data: q.scales };
    tensors[`${name}.salient_idx`] = { dtype: 'I32', shape: [k], data: q.salient };
    tensors[`${name}.salient_weight`] = { dtype: 'F32', shape: [q.rows, k], data: q.salientValues };
    meta[name] = { rows: q.rows, cols: q.cols, bits: q.bits, k, bitsPerWeight: bitsPerWeight(q) };
  }
  const sidecar: QuantizedSidecar = {
    format: 'sift.gift-sw.quantized', version: 1, tensors: path.split('/').at(-1) ?? path, layers: meta, metadata,
  };
  const w = await writeSafetensorsFile(path, tensors, { format: 'sift.gift-sw.quantized' });
  const sc = quantizedSidecarPath(path);
  await writeFileAtomic(sc, `${JSON.stringify(sidecar, null, 2)}\n`);
  return { path, sidecar: sc, bytes: w.bytes, layers: Object.keys(layers).length };
}

function bad(path: string, msg: string): never {
  throw new SiftError('E_DATA', `loadQuantized("${path}"): ${msg}`);
}

/**
 * Reads a packed checkpoint written by `saveQuantized` back into `QuantizedWeight`s (dequantize each with
 * `dequantizeWeight`, or load them into a model with `loadQuantizedInto`).
 * @throws SiftError 'E_DATA' for a missing or inconsistent sidecar/tensor, 'E_IO' for unreadable files
 */
export async function loadQuantized(path: string): Promise<{ layers: Record<string, QuantizedWeight>; sidecar: QuantizedSidecar }> {
  const { readFile } = await import('node:fs/promises');
  const scPath = quantizedSidecarPath(path);
  let sidecar: QuantizedSidecar;
  try {
    sidecar = JSON.parse(await readFile(scPath, 'utf8')) as QuantizedSidecar;
  } catch (err) {
    throw new SiftError('E_IO', `loadQuantized: cannot read the sidecar "${scPath}" (${(err as Error).message}); it is written next to ` +
      'the safetensors file by saveQuantized.', { cause: err });
  }
  if ((sidecar.format as string) !== 'sift.gift-sw.quantized' || (sidecar.version as number) !== 1) {
    bad(path, `the sidecar has format ${JSON.stringify(sidecar.format)} v${String(sidecar.version)}, expected 'sift.gift-sw.quantized' v1.`);
  }
  const file = await readSafetensorsFile(path, { copy: true });
  const layers: Record<string, QuantizedWeight> = {};
  for (const [name, m] of Object.entries(sidecar.layers)) {
    const get = (suffix: string): SafeTensor => file.get(`${name}.${suffix}`);
    const codes = get('qcodes');
    const scales = get('scales');
    const idx = get('salient_idx');
    const sw = get('salient_weight');
    if (codes.dtype !== 'U8' || scales.dtype !== 'F32' || idx.dtype !== 'I32' || sw.dtype !== 'F32') {
      bad(path, `layer "${name}" has tensors of unexpected dtypes (${codes.dtype}, ${scales.dtype}, ${idx.dtype}, ${sw.dtype}).`);
    }
    if (scales.data.length !== m.rows || idx.data.length !== m.k || sw.data.length !== m.rows * m.k) {
      bad(path, `layer "${name}": tensor sizes disagree with the sidecar (rows ${m.rows}, k ${m.k}).`);
    }
    layers[name] = {
      rows: m.rows, cols: m.cols, bits: m.bits, scales: scales.data, salient: idx.data,
      codes: unpackCodes(codes.data, m.rows * (m.cols - m.k), m.bits), salientValues: sw.data,
    };
  }
  return { layers, sidecar };
}
