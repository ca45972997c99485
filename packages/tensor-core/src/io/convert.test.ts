import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SiftError } from '../errors.js';
import { expectNoLeak, expectTensorsClose } from '../testing.js';
import type { SafeTensor } from './dtypes.js';
import { safeTensorToF32, safeTensorToTf, tfToSafeTensor, tfToSafeTensorSync } from './convert.js';
import { f32ArrayToBf16, f32ArrayToF16 } from './half.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';

async function thrown(fn: () => unknown): Promise<SiftError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof SiftError) return err;
    throw err;
  }
  throw new Error('expected a SiftError');
}

describe('safeTensorToTf', () => {
  it('maps every dtype to float32 / int32 / bool with the right values', async () => {
    const cases: [SafeTensor, tf.DataType, number[]][] = [
      [{ dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) }, 'float32', [1.5, -2]],
      [{ dtype: 'F16', shape: [3], data: f32ArrayToF16([1, -0.5, 65504]) }, 'float32', [1, -0.5, 65504]],
      [{ dtype: 'BF16', shape: [2], data: f32ArrayToBf16([1, 3.140625]) }, 'float32', [1, 3.140625]],
      [{ dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, 1e-50]) }, 'float32', [Math.fround(Math.PI), 0]],
      [{ dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) }, 'int32', [-128, 127]],
      [{ dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) }, 'int32', [0, 255]],
      [{ dtype: 'I16', shape: [1], data: new Int16Array([-32768]) }, 'int32', [-32768]],
      [{ dtype: 'U16', shape: [1], data: new Uint16Array([65535]) }, 'int32', [65535]],
      [{ dtype: 'I32', shape: [2, 1], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) }, 'int32', [-(2 ** 31), 2 ** 31 - 1]],
      [{ dtype: 'U32', shape: [1], data: new Uint32Array([2 ** 31 - 1]) }, 'int32', [2 ** 31 - 1]],
      [{ dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 31n), 0n, 2n ** 31n - 1n]) }, 'int32', [-(2 ** 31), 0, 2 ** 31 - 1]],
      [{ dtype: 'U64', shape: [1], data: new BigUint64Array([7n]) }, 'int32', [7]],
      [{ dtype: 'BOOL', shape: [3], data: new Uint8Array([0, 1, 2]) }, 'bool', [0, 1, 1]],
    ];
    for (const [st, dtype, values] of cases) {
      const t = safeTensorToTf(st);
      try {
        expect(t.dtype, st.dtype).toBe(dtype);
        expect(t.shape).toEqual(st.shape);
        expect(Array.from(await t.data()), st.dtype).toEqual(values);
      } finally {
        t.dispose();
      }
    }
    const scalar = safeTensorToTf({ dtype: 'F32', shape: [], data: new Float32Array([4]) });
    expect(scalar.rank).toBe(0);
    scalar.dispose();
  });

  it('64-bit and unsigned 32-bit values beyond int32 are an E_DTYPE error naming the tensor, value and index', async () => {
    let err = await thrown(() => safeTensorToTf({ dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 2n ** 40n]) }, { name: 'ids' }));
    expect(err.code).toBe('E_DTYPE');
    expect(err.message).toMatch(/tensor "ids": I64 value 1099511627776 at flat index 1 does not fit tfjs's int32/);
    err = await thrown(() => safeTensorToTf({ dtype: 'U32', shape: [1], data: new Uint32Array([2 ** 31]) }));
    expect(err.message).toMatch(/U32 value 2147483648 at flat index 0/);
    err = await thrown(() => safeTensorToTf({ dtype: 'F8_E4M3', shape: [1], data: new Uint8Array(1) }));
    expect(err.code).toBe('E_DTYPE');
    err = await thrown(() => safeTensorToTf({ dtype: 'F32', shape: [3], data: new Float32Array(2) }));
    expect(err.code).toBe('E_SHAPE');
  });

  it('safeTensorToF32 decodes every float dtype and does not copy F32', () => {
    const f = new Float32Array([1, 2]);
    expect(safeTensorToF32({ dtype: 'F32', shape: [2], data: f })).toBe(f);
    expect(Array.from(safeTensorToF32({ dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) }))).toEqual([1]);
    expect(Array.from(safeTensorToF32({ dtype: 'I64', shape: [1], data: new BigInt64Array([-3n]) }))).toEqual([-3]);
  });

  it('does not leak tensors', async () => {
    const st: SafeTensor = { dtype: 'BF16', shape: [4, 4], data: new Uint16Array(16).fill(0x3f80) };
    await expectNoLeak(() => safeTensorToTf(st), { label: 'safeTensorToTf' });
    const x = tf.ones([4, 4]);
    await expectNoLeak(() => tfToSafeTensor(x, { dtype: 'F16' }), { label: 'tfToSafeTensor' });
    await expectNoLeak(() => tfToSafeTensorSync(x), { label: 'tfToSafeTensorSync' });
    x.dispose();
  });
});

describe('tfToSafeTensor', () => {
  it('float32 -> F32 (a copy), F16, BF16 (round to nearest even), F64', async () => {
    const values = [1, -2.5, 0.1, 70000, 1e-6];
    const x = tf.tensor(values, [5]);
    try {
      const f32 = await tfToSafeTensor(x);
      expect(f32.dtype).toBe('F32');
      expect(Array.from(f32.data as Float32Array)).toEqual(values.map(Math.fround));
      (f32.data as Float32Array)[0] = 99;
      expect((await x.data())[0]).toBe(1); // the tensor is untouched
      expect(await tfToSafeTensor(x, { dtype: 'F16' })).toEqual({ dtype: 'F16', shape: [5], data: f32ArrayToF16(values) });
      expect(tfToSafeTensorSync(x, { dtype: 'BF16' })).toEqual({ dtype: 'BF16', shape: [5], data: f32ArrayToBf16(values) });
      expect(Array.from((await tfToSafeTensor(x, { dtype: 'F64' })).data as Float64Array)).toEqual(values.map(Math.fround));
    } finally {
      x.dispose();
    }
  });

  it('int32 -> I32, I64, and narrow integer dtypes with a range check; bool -> BOOL or U8', async () => {
    const x = tf.tensor([-1, 0, 300], [3], 'int32');
    const b = tf.tensor([true, false], [2], 'bool');
    try {
      expect((await tfToSafeTensor(x)).data).toEqual(new Int32Array([-1, 0, 300]));
      expect((await tfToSafeTensor(x, { dtype: 'I64' })).data).toEqual(new BigInt64Array([-1n, 0n, 300n]));
      expect((await tfToSafeTensor(x, { dtype: 'I16' })).data).toEqual(new Int16Array([-1, 0, 300]));
      const err = await thrown(() => tfToSafeTensor(x, { dtype: 'U8', name: 'idx' }));
      expect(err.message).toMatch(/tensor "idx": value -1 at flat index 0 is outside U8 \[0, 255\]/);
      expect(await tfToSafeTensor(b)).toEqual({ dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) });
      expect((await tfToSafeTensor(b, { dtype: 'U8' })).dtype).toBe('U8');
      const kind = await thrown(() => tfToSafeTensor(x, { dtype: 'F32' }));
      expect(kind.message).toMatch(/tfjs dtype int32 can be stored as I32, I64, I16, I8, U8, U16, U32, not F32; tf.cast it first/);
    } finally {
      x.dispose();
      b.dispose();
    }
    const s = tf.tensor(['a'], [1], 'string');
    expect((await thrown(() => tfToSafeTensor(s))).message).toMatch(/tfjs dtype string cannot be stored/);
    s.dispose();
  });

  it('round-trips through safetensors bytes', async () => {
    const x = tf.randomUniform([3, 5], -4, 4, 'float32', 1);
    const i = tf.tensor([[1, 2], [3, 4]], [2, 2], 'int32');
    try {
      const bytes = serializeSafetensors({ x: await tfToSafeTensor(x), i: await tfToSafeTensor(i, { dtype: 'I64' }) });
      const file = parseSafetensors(bytes);
      const x2 = safeTensorToTf(file.get('x'));
      const i2 = safeTensorToTf(file.get('i'));
      expectTensorsClose(x2, x, { atol: 0, rtol: 0 });
      expect(i2.dtype).toBe('int32');
      expect(await i2.array()).toEqual([[1, 2], [3, 4]]);
      tf.dispose([x2, i2]);
    } finally {
      tf.dispose([x, i]);
    }
  });
});
