/**
 * Interop with Python both ways. The fixture python-written.safetensors comes from
 * tools/crosscheck/safetensors_fixtures.py (struct + json + numpy/torch, reference layout); its .json sidecar holds
 * the expected values. Sift must read it exactly, and must write byte-identical bytes for the same tensors. When
 * Debian's python3 with numpy is present, a file written by Sift is also parsed by the script's own reader.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipBecause } from '@sift/testkit';
import { describe, expect, it } from 'vitest';
import type { SafeTensor, SafetensorsDtype } from './dtypes.js';
import { writeSafetensorsFile } from './files.js';
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16 } from './half.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/io/', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../../../../tools/crosscheck/safetensors_fixtures.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

type JsonScalar = number | string | boolean;
interface Described {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: SafetensorsDtype; shape: number[]; values: JsonScalar[]; data_offsets?: [number, number] }>;
}

const num = (v: JsonScalar): number => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(v));

/** A SafeTensor from the script's JSON description (independent of the parser). */
function fromDescription(d: Described['tensors'][string]): SafeTensor {
  const { dtype, shape, values } = d;
  switch (dtype) {
    case 'F32': return { dtype, shape, data: Float32Array.from(values, num) };
    case 'F64': return { dtype, shape, data: Float64Array.from(values, num) };
    case 'F16': return { dtype, shape, data: f32ArrayToF16(values.map(num)) };
    case 'BF16': return { dtype, shape, data: f32ArrayToBf16(values.map(num)) };
    case 'I64': return { dtype, shape, data: BigInt64Array.from(values, (v) => BigInt(v as string)) };
    case 'U64': return { dtype, shape, data: BigUint64Array.from(values, (v) => BigInt(v as string)) };
    case 'BOOL': return { dtype, shape, data: Uint8Array.from(values, (v) => (v === true ? 1 : 0)) };
    case 'I8': return { dtype, shape, data: Int8Array.from(values, num) };
    case 'U8': return { dtype, shape, data: Uint8Array.from(values, num) };
    case 'I16': return { dtype, shape, data: Int16Array.from(values, num) };
    case 'U16': return { dtype, shape, data: Uint16Array.from(values, num) };
    case 'I32': return { dtype, shape, data: Int32Array.from(values, num) };
    case 'U32': return { dtype, shape, data: Uint32Array.from(values, num) };
    default: throw new Error(`fixture dtype ${dtype}`);
  }
}

/** Sift's view of a tensor's values in the script's JSON convention. */
function describeValues(t: SafeTensor): JsonScalar[] {
  const f = (x: number): JsonScalar => (Number.isNaN(x) ? 'nan' : x === Infinity ? 'inf' : x === -Infinity ? '-inf' : x);
  switch (t.dtype) {
    case 'F16': return Array.from(f16ArrayToF32(t.data), f);
    case 'BF16': return Array.from(bf16ArrayToF32(t.data), f);
    case 'F32': case 'F64': return Array.from(t.data, f);
    case 'I64': case 'U64': return Array.from(t.data, (v) => v.toString());
    case 'BOOL': return Array.from(t.data, (v) => v !== 0);
    default: return Array.from(t.data as ArrayLike<number>);
  }
}

describe('safetensors interop with Python (tools/crosscheck/safetensors_fixtures.py)', () => {
  it('reads the Python-written file with identical values, names, order and metadata', async () => {
    const bytes = await readFile(join(FIXTURES, 'python-written.safetensors'));
    const want = JSON.parse(await readFile(join(FIXTURES, 'python-written.json'), 'utf8')) as Described & { order: string[]; header_size: number };
    const file = parseSafetensors(bytes, { source: 'python-written.safetensors' });
    expect(file.header.headerSize).toBe(want.header_size);
    expect(file.names).toEqual(want.order);
    expect(file.metadata).toEqual(want.metadata);
    expect(new Set(file.names)).toEqual(new Set(Object.keys(want.tensors)));
    for (const [name, d] of Object.entries(want.tensors)) {
      const t = file.get(name);
      expect(t.dtype, name).toBe(d.dtype);
      expect(t.shape, name).toEqual(d.shape);
      // toEqual treats -0 and 0 as different and NaN as equal: an exact comparison.
      expect(describeValues(t), name).toEqual(d.values);
    }
  });

  it('writes byte-identical bytes for the same tensors and metadata (the reference layout)', async () => {
    const bytes = new Uint8Array(await readFile(join(FIXTURES, 'python-written.safetensors')));
    const want = JSON.parse(await readFile(join(FIXTURES, 'python-written.json'), 'utf8')) as Described;
    const tensors = new Map(Object.entries(want.tensors).map(([k, d]) => [k, fromDescription(d)]));
    expect(serializeSafetensors(tensors, want.metadata)).toEqual(bytes);
  });

  it('a file written by Sift is parsed by the Python reader with the same content', async (ctx) => {
    try {
      execFileSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' });
    } catch {
      skipBecause(ctx, `${PYTHON} with numpy is not available (apt install python3-numpy) for the live Python check`);
    }
    const dir = await mkdtemp(join(tmpdir(), 'sift-io-interop-'));
    try {
      const tensors: Record<string, SafeTensor> = {
        'encoder.layer.0.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array([0.1, -0, NaN, Infinity, 1e-45, 3]) },
        'half': { dtype: 'F16', shape: [3], data: f32ArrayToF16([0.1, 65504, -1e-7]) },
        'brain': { dtype: 'BF16', shape: [1, 2], data: f32ArrayToBf16([Math.PI, -1e38]) },
        'event_ids': { dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 63n), 0n, 2n ** 62n + 1n]) },
        'offsets': { dtype: 'I32', shape: [4], data: new Int32Array([0, 3, 3, 7]) },
        'packed': { dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 128, 254, 255]) },
        'mask': { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
        'f64': { dtype: 'F64', shape: [], data: new Float64Array([Math.E]) },
        'i16': { dtype: 'I16', shape: [2], data: new Int16Array([-2, 2]) },
        '名前 "q"\n': { dtype: 'U16', shape: [0], data: new Uint16Array(0) },
      };
      const metadata = { format: 'pt', sift: '{"pattern":"8:16"}', 'ключ': 'значение' };
      const path = join(dir, 'sift.safetensors');
      await writeSafetensorsFile(path, tensors, metadata);
      const out = execFileSync(PYTHON, [SCRIPT, 'check', path], { encoding: 'utf8' });
      const py = JSON.parse(out) as Described & { aligned: boolean };
      expect(py.aligned).toBe(true);
      expect(py.metadata).toEqual(metadata);
      expect(new Set(Object.keys(py.tensors))).toEqual(new Set(Object.keys(tensors)));
      for (const [name, t] of Object.entries(tensors)) {
        expect(py.tensors[name].dtype, name).toBe(t.dtype);
        expect(py.tensors[name].shape, name).toEqual(t.shape);
        expect(py.tensors[name].values, name).toEqual(describeValues(t));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
