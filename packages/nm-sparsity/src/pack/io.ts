/**
 * Packed checkpoints: a safetensors file with the packed arrays of every layer, plus a JSON sidecar with Sift's own
 * metadata (pattern, shapes, salient layout, bits per weight). Both written atomically; never pickle.
 */
import { SiftError, readSafetensorsFile, writeFileAtomic, writeSafetensorsFile, type SafeTensor } from '@sift/tensor-core';
import { bitsPerWeight, type BitsPerWeight, type PackedNM, type PackedSalient } from './pack.js';

/** The sidecar's per-layer entry. */
export interface PackedLayerMeta {
  rows: number;
  cols: number;
  pattern: string;
  salient: null | { kind: 'structured'; pattern: string } | { kind: 'csr'; nnz: number };
  /** Bits per weight at fp16 values. */
  bitsPerWeight: BitsPerWeight;
}

/** The JSON sidecar of a packed checkpoint. */
export interface PackedSidecar {
  format: 'sift.nm-packed';
  version: 1;
  /** The safetensors file's base name. */
  tensors: string;
  layers: Record<string, PackedLayerMeta>;
  /** Whatever the caller attached (e.g. the prune report's options). */
  metadata: Record<string, unknown>;
}

/** What `savePacked` wrote. */
export interface SavePackedReport {
  path: string;
  sidecar: string;
  bytes: number;
  layers: number;
}

/** The sidecar path of a packed safetensors file: `x.safetensors` -> `x.nm.json`. */
export function sidecarPath(path: string): string {
  return `${path.replace(/\.safetensors$/u, '')}.nm.json`;
}

function u(data: Uint16Array | Uint32Array, shape: number[]): SafeTensor {
  return data instanceof Uint16Array ? { dtype: 'U16', shape, data } : { dtype: 'U32', shape, data };
}

/**
 * Writes packed layers to `path` (safetensors) and its sidecar `sidecarPath(path)`, both atomically.
 * @example
 * await savePacked('out/model.nm.safetensors', { 'h.0.mlp.c_fc': packNM({ weight: w, pattern: '8:16' }) });
 */
export async function savePacked(path: string, layers: Readonly<Record<string, PackedNM>>, metadata: Record<string, unknown> = {}): Promise<SavePackedReport> {
  const tensors: Record<string, SafeTensor> = {};
  const meta: Record<string, PackedLayerMeta> = {};
  for (const [name, p] of Object.entries(layers)) {
    const groups = p.cols / p.m;
    tensors[`${name}.nm.values`] = { dtype: 'F32', shape: [p.rows, groups * p.n], data: p.values };
    tensors[`${name}.nm.codes`] = u(p.codes, [p.rows, groups]);
    let salient: PackedLayerMeta['salient'] = null;
    const s = p.salient;
    if (s?.kind === 'structured') {
      tensors[`${name}.salient.values`] = { dtype: 'F32', shape: [p.rows, (p.cols / s.m) * s.k], data: s.values };
      tensors[`${name}.salient.codes`] = u(s.codes, [p.rows, p.cols / s.m]);
      salient = { kind: 'structured', pattern: `${s.k}:${s.m}` };
    } else if (s?.kind === 'csr') {
      tensors[`${name}.salient.row_ptr`] = { dtype: 'U32', shape: [p.rows + 1], data: s.rowPtr };
      tensors[`${name}.salient.col_idx`] = u(s.colIdx, [s.colIdx.length]);
      tensors[`${name}.salient.values`] = { dtype: 'F32', shape: [s.values.length], data: s.values };
      salient = { kind: 'csr', nnz: s.values.length };
    }
    meta[name] = { rows: p.rows, cols: p.cols, pattern: `${p.n}:${p.m}`, salient, bitsPerWeight: bitsPerWeight(p) };
  }
  const base = path.split('/').at(-1) ?? path;
  const sidecar: PackedSidecar = { format: 'sift.nm-packed', version: 1, tensors: base, layers: meta, metadata };
  const w = await writeSafetensorsFile(path, tensors, { format: 'sift.nm-packed' });
  const sc = sidecarPath(path);
  await writeFileAtomic(sc, `${JSON.stringify(sidecar, null, 2)}\n`);
  return { path, sidecar: sc, bytes: w.bytes, layers: Object.keys(layers).length };
}

function bad(path: string, msg: string): never {
  throw new SiftError('E_DATA', `loadPacked "${path}": ${msg}`);
}

/**
 * Reads a packed checkpoint written by `savePacked`; `unpackNM` of each layer gives exactly the masked weight that
 * was packed.
 * @returns the layers by name, and the sidecar
 */
export async function loadPacked(path: string): Promise<{ layers: Record<string, PackedNM>; sidecar: PackedSidecar }> {
  const { readFile } = await import('node:fs/promises');
  let sidecar: PackedSidecar;
  try {
    sidecar = JSON.parse(await readFile(sidecarPath(path), 'utf8')) as PackedSidecar;
  } catch (err) {
    throw new SiftError('E_IO', `loadPacked: cannot read the sidecar ${sidecarPath(path)} (${(err as Error).message}); it is written next to the safetensors file by savePacked.`, { cause: err });
  }
  const format: string = sidecar.format;
  if (format !== 'sift.nm-packed' || (sidecar.version as number) !== 1) bad(path, `the sidecar is not a sift.nm-packed v1 file (format ${JSON.stringify(sidecar.format)}).`);
  const file = await readSafetensorsFile(path, { copy: true });
  const get = <D extends SafeTensor['dtype']>(name: string, dtypes: D[]): SafeTensor & { dtype: D } => {
    if (!file.has(name)) bad(path, `tensor "${name}" is missing.`);
    const t = file.get(name);
    if (!(dtypes as string[]).includes(t.dtype)) bad(path, `tensor "${name}" has dtype ${t.dtype}, expected ${dtypes.join(' or ')}.`);
    return t as SafeTensor & { dtype: D };
  };
  const layers: Record<string, PackedNM> = {};
  for (const [name, m] of Object.entries(sidecar.layers)) {
    const [n, mm] = m.pattern.split(':').map(Number);
    const values = get(`${name}.nm.values`, ['F32']).data;
    const codes = get(`${name}.nm.codes`, ['U16', 'U32']).data;
    if (values.length !== (m.rows * m.cols * n) / mm || codes.length !== (m.rows * m.cols) / mm) bad(path, `layer "${name}" has arrays of the wrong size for ${m.rows}×${m.cols} at ${m.pattern}.`);
    let salient: PackedSalient | null = null;
    if (m.salient?.kind === 'structured') {
      const [k, sm] = m.salient.pattern.split(':').map(Number);
      salient = {
        kind: 'structured', k, m: sm,
        values: get(`${name}.salient.values`, ['F32']).data,
        codes: get(`${name}.salient.codes`, ['U16', 'U32']).data,
      };
    } else if (m.salient?.kind === 'csr') {
      salient = {
        kind: 'csr',
        rowPtr: get(`${name}.salient.row_ptr`, ['U32']).data,
        colIdx: get(`${name}.salient.col_idx`, ['U16', 'U32']).data,
        values: get(`${name}.salient.values`, ['F32']).data,
      };
    }
    layers[name] = { rows: m.rows, cols: m.cols, n, m: mm, values, codes, salient };
  }
  return { layers, sidecar };
}
