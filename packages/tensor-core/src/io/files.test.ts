import { mkdir, mkdtemp, open, readdir, readFile, rm, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiftError } from '../errors.js';
import type { SafeTensor } from './dtypes.js';
import { writeFileAtomic } from './atomic.js';
import { openSafetensorsFile, readSafetensorsFile, readSafetensorsHeader, readTensorFromFile, writeSafetensorsFile } from './files.js';
import { serializeSafetensors } from './safetensors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sift-io-files-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<SiftError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SiftError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

/** Counts the bytes every FileHandle.read returns while `fn` runs (an independent check of what was read). */
async function countReads<T>(fn: () => Promise<T>): Promise<{ result: T; bytes: number }> {
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  // eslint-disable-next-line @typescript-eslint/unbound-method -- saved to be restored on the prototype, never called unbound
  const originalFn = proto.read;
  let bytes = 0;
  const patched = async function (this: FileHandle, ...args: unknown[]): Promise<{ bytesRead: number }> {
    const r = await (originalFn as unknown as (...a: unknown[]) => Promise<{ bytesRead: number }>).apply(this, args);
    bytes += r.bytesRead;
    return r;
  };
  Object.defineProperty(proto, 'read', { value: patched, configurable: true, writable: true });
  try {
    return { result: await fn(), bytes };
  } finally {
    Object.defineProperty(proto, 'read', { value: originalFn, configurable: true, writable: true });
  }
}

const tensors: Record<string, SafeTensor> = {
  a: { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
  b: { dtype: 'I64', shape: [2], data: new BigInt64Array([-1n, 2n ** 60n]) },
  c: { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) },
};

describe('safetensors files', () => {
  it('writeSafetensorsFile then readSafetensorsFile / readSafetensorsHeader / openSafetensorsFile', async () => {
    const path = join(dir, 'model.safetensors');
    const report = await writeSafetensorsFile(path, tensors, { format: 'pt' });
    const onDisk = await readFile(path);
    expect(report).toEqual({ path, bytes: onDisk.byteLength });
    expect(new Uint8Array(onDisk)).toEqual(serializeSafetensors(tensors, { format: 'pt' }));

    const file = await readSafetensorsFile(path);
    expect(file.metadata).toEqual({ format: 'pt' });
    for (const [name, t] of Object.entries(tensors)) expect(file.get(name)).toEqual(t);

    const header = await readSafetensorsHeader(path);
    expect([...header.tensors.keys()]).toEqual(['b', 'a', 'c']);
    expect(header.tensors.get('a')).toEqual({ dtype: 'F32', shape: [2, 3], dataOffsets: [16, 40] });

    const f = await openSafetensorsFile(path);
    try {
      expect(f.bytesRead).toBe(header.dataStart);
      expect(await f.read('a')).toEqual(tensors.a);
      expect(f.bytesRead).toBe(header.dataStart + 24);
      await expect(f.read('zz')).rejects.toThrow(/has no tensor "zz"; its 3 tensors are "b", "a", "c"/);
    } finally {
      await f.close();
    }
    await expect(f.read('a')).rejects.toThrow(/is closed/);
    expect(await readTensorFromFile(path, 'c')).toEqual(tensors.c);
  });

  it('readTensorFromFile reads only the header and that tensor from a 3 GB (sparse) file', async () => {
    // "big" is F32 [750,000,000] = 3e9 bytes of holes; "small" follows it. Loading the whole file would take 3 GB.
    const path = join(dir, 'big.safetensors');
    const small = new Float32Array([1, 2, 3, 4]);
    const headerJson = '{"big":{"dtype":"F32","shape":[750000000],"data_offsets":[0,3000000000]},' +
      '"small":{"dtype":"F32","shape":[4],"data_offsets":[3000000000,3000000016]}}';
    const head = new TextEncoder().encode(headerJson.padEnd(Math.ceil(headerJson.length / 8) * 8, ' '));
    const prefix = new Uint8Array(8 + head.length);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(head.length), true);
    prefix.set(head, 8);
    await writeFile(path, prefix);
    const dataStart = prefix.length;
    await truncate(path, dataStart + 3_000_000_016);
    const h = await open(path, 'r+');
    await h.write(new Uint8Array(small.buffer), 0, 16, dataStart + 3_000_000_000);
    await h.close();

    const { result, bytes } = await countReads(() => readTensorFromFile(path, 'small'));
    expect(result).toEqual({ dtype: 'F32', shape: [4], data: small });
    expect(bytes).toBe(dataStart + 16);

    const header = await countReads(() => readSafetensorsHeader(path));
    expect(header.bytes).toBe(dataStart);
    expect(header.result.dataSize).toBe(3_000_000_016);
  });

  it('a bad file names its path and the problem; a missing file is E_IO', async () => {
    const short = join(dir, 'short.safetensors');
    await writeFile(short, new Uint8Array(3));
    let err = await rejection(readSafetensorsFile(short));
    expect(err.code).toBe('E_SAFETENSORS');
    expect(err.message).toContain(`safetensors file "${short}": is 3 bytes long`);
    err = await rejection(readSafetensorsHeader(short));
    expect(err.code).toBe('E_SAFETENSORS');

    const lying = join(dir, 'lying.safetensors');
    const bytes = serializeSafetensors(tensors);
    await writeFile(lying, bytes.subarray(0, bytes.length - 4)); // truncated data section
    err = await rejection(readTensorFromFile(lying, 'a'));
    expect(err.message).toMatch(/lying.safetensors": tensor "a" has data_offsets \[16, 40\] outside the data section \[0, 38\]/);

    err = await rejection(readSafetensorsFile(join(dir, 'nope.safetensors')));
    expect(err.code).toBe('E_IO');
    expect(err.message).toMatch(/cannot open safetensors file ".*nope.safetensors": ENOENT/);
    err = await rejection(readSafetensorsFile(dir));
    expect(err.code).toBe('E_IO');
    expect(err.message).toMatch(/is not a regular file/);
  });
});

describe('writeFileAtomic', () => {
  const leftovers = async (d: string): Promise<string[]> => (await readdir(d)).filter((f) => f.includes('.tmp-'));

  it('replaces the file in one step and leaves no temporary file', async () => {
    const d = join(dir, 'atomic1');
    await mkdir(d);
    const path = join(d, 'report.json');
    await writeFileAtomic(path, 'old');
    await writeFileAtomic(path, '{"ünï": "✓"}\n');
    expect(await readFile(path, 'utf8')).toBe('{"ünï": "✓"}\n');
    await writeFileAtomic(path, [new Uint8Array([1, 2]), new Uint8Array([3])], { fsync: false });
    expect(Array.from(await readFile(path))).toEqual([1, 2, 3]);
    expect(await readdir(d)).toEqual(['report.json']);
  });

  it('on a failure mid-write keeps the old file and removes the temporary one', async () => {
    const d = join(dir, 'atomic2');
    await mkdir(d);
    const path = join(d, 'model.safetensors');
    await writeFileAtomic(path, 'old content');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(1 << 20);
      await Promise.resolve(); // the failure comes after the first chunk was written
      throw new Error('disk full (simulated)');
    }
    const err = await rejection(writeFileAtomic(path, failing()));
    expect(err.code).toBe('E_IO');
    expect(err.message).toMatch(/writing ".*model.safetensors" failed: disk full \(simulated\)\. The file was left unchanged/);
    expect(err.cause).toBeInstanceOf(Error);
    expect(await readFile(path, 'utf8')).toBe('old content');
    expect(await leftovers(d)).toEqual([]);

    // Rename onto a folder fails after the data was written: the temporary file is removed too.
    const target = join(d, 'a-folder');
    await mkdir(target);
    expect((await rejection(writeFileAtomic(target, 'x'))).code).toBe('E_IO');
    expect(await leftovers(d)).toEqual([]);
    // A missing folder is created; a path under a file is an error.
    await writeFileAtomic(join(d, 'no', 'such', 'f'), 'x');
    expect(await readFile(join(d, 'no', 'such', 'f'), 'utf8')).toBe('x');
    await writeFile(join(d, 'plain'), 'p');
    expect((await rejection(writeFileAtomic(join(d, 'plain', 'f'), 'x'))).message).toMatch(/check that the folder exists/);
  });

  it('concurrent writers: the file ends up as exactly one of them, never a mix', async () => {
    const d = join(dir, 'atomic3');
    await mkdir(d);
    const path = join(d, 'f.bin');
    const versions = Array.from({ length: 8 }, (_, i) => new Uint8Array(200_000).fill(i + 1));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v, { fsync: false })));
    const got = new Uint8Array(await readFile(path));
    expect(got.length).toBe(200_000);
    expect(got.every((b) => b === got[0])).toBe(true);
    expect(await leftovers(d)).toEqual([]);
  });

  it('writeSafetensorsFile does not create the target when a tensor is invalid', async () => {
    const path = join(dir, 'never.safetensors');
    const err = await rejection(writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }));
    expect(err.code).toBe('E_SHAPE');
    await expect(readFile(path)).rejects.toThrow(/ENOENT/);
  });
});
