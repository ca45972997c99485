import type { FileHandle } from 'node:fs/promises';
import { SiftError } from '../errors.js';
import type { SafeTensor } from './dtypes.js';
import { writeFileAtomic, type WriteFileAtomicOptions } from './atomic.js';
import {
  badFile, parseHeaderJson, readHeaderLength, resolveParseOptions, type SafetensorsHeader, type SafetensorsParseOptions,
} from './header.js';
import { nodeModules } from './node-modules.js';
import { entryTensor, missingTensor, planSafetensors, safetensorsData, type SafeTensorMap, type SafetensorsData } from './safetensors.js';

// Node reads at most 2 GiB per call; big files are read in 16 MiB pieces (measured a little faster than 64 MiB or
// one fs.readFile on a 200 MB file, and cache-friendlier).
const READ_CHUNK = 16 * 1024 * 1024;

/** Opens `path` for reading; `E_IO` naming the file when it cannot. */
async function openRead(path: string): Promise<{ handle: FileHandle; size: number }> {
  const { fs } = await nodeModules();
  let handle: FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    throw new SiftError('E_IO', `cannot open safetensors file "${path}": ${(err as Error).message}.`, { cause: err });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new SiftError('E_IO', `"${path}" is not a regular file; pass a .safetensors file.`);
    return { handle, size: st.size };
  } catch (err) {
    await handle.close();
    if (err instanceof SiftError) throw err;
    throw new SiftError('E_IO', `cannot stat "${path}": ${(err as Error).message}.`, { cause: err });
  }
}

/** Fills `target` from file position `position`; a short read means the file shrank while being read. */
async function readExactly(handle: FileHandle, target: Uint8Array, position: number, source: string): Promise<number> {
  let done = 0;
  while (done < target.byteLength) {
    const len = Math.min(READ_CHUNK, target.byteLength - done);
    const { bytesRead } = await handle.read(target, done, len, position + done);
    if (bytesRead === 0) {
      badFile(source, `ended after ${position + done} bytes while ${position + target.byteLength} were expected; ` +
        'it is truncated or was changed while being read.');
    }
    done += bytesRead;
  }
  return done;
}

/** Reads and validates the header through an open handle. Returns the header and the bytes read. */
async function readHeader(handle: FileHandle, size: number, source: string, maxHeaderBytes: number):
Promise<{ header: SafetensorsHeader; head: Uint8Array }> {
  if (size < 8) readHeaderLength(new Uint8Array(0), size, maxHeaderBytes, source); // throws "shorter than 8 bytes"
  const prefix = new Uint8Array(8);
  await readExactly(handle, prefix, 0, source);
  const n = readHeaderLength(prefix, size, maxHeaderBytes, source);
  const head = new Uint8Array(8 + n);
  head.set(prefix);
  await readExactly(handle, head.subarray(8), 8, source);
  return { header: parseHeaderJson(head.subarray(8), n, size - 8 - n, source), head };
}

/** Options of the safetensors file readers. `source` defaults to the path. */
export type SafetensorsReadOptions = Omit<SafetensorsParseOptions, 'source'>;

/**
 * Reads and validates only the header of a safetensors file (8 + N bytes, whatever the file's size): names, dtypes,
 * shapes, offsets and `__metadata__`. Node only.
 * @example
 * const { tensors, metadata } = await readSafetensorsHeader('model.safetensors');
 * for (const [name, e] of tensors) console.log(name, e.dtype, e.shape);
 */
export async function readSafetensorsHeader(path: string, options: SafetensorsReadOptions = {}): Promise<SafetensorsHeader> {
  const { maxHeaderBytes } = resolveParseOptions(options);
  const { handle, size } = await openRead(path);
  try {
    return (await readHeader(handle, size, path, maxHeaderBytes)).header;
  } finally {
    await handle.close();
  }
}

/** An open safetensors file from which tensors are read one at a time (`openSafetensorsFile`). */
export interface SafetensorsFileReader {
  /** The file's path. */
  readonly path: string;
  /** The validated header. */
  readonly header: SafetensorsHeader;
  /** `__metadata__`. */
  readonly metadata: Record<string, string>;
  /** Tensor names in file order. */
  readonly names: string[];
  /** Bytes read from the file so far, header included. */
  readonly bytesRead: number;
  /** True when the file holds a tensor called `name`. */
  has(name: string): boolean;
  /** Reads only the bytes of tensor `name` into a fresh, aligned buffer. */
  read(name: string): Promise<SafeTensor>;
  /** Closes the file. Further reads throw. */
  close(): Promise<void>;
}

/**
 * Opens a safetensors file, reads and validates its header, and keeps the file open to read single tensors, each
 * with one positioned read of exactly its bytes: a model larger than memory can be loaded tensor by tensor.
 * Close it when done (`try { ... } finally { await f.close(); }`). Node only.
 * @example
 * const f = await openSafetensorsFile('model.safetensors');
 * try { const wte = await f.read('wte.weight'); } finally { await f.close(); }
 */
export async function openSafetensorsFile(path: string, options: SafetensorsReadOptions = {}): Promise<SafetensorsFileReader> {
  const { maxHeaderBytes } = resolveParseOptions(options);
  const { handle, size } = await openRead(path);
  let header: SafetensorsHeader;
  let bytesRead: number;
  try {
    const h = await readHeader(handle, size, path, maxHeaderBytes);
    header = h.header;
    bytesRead = h.head.byteLength;
  } catch (err) {
    await handle.close();
    throw err;
  }
  let closed = false;
  const names = [...header.tensors.keys()];
  return {
    path,
    header,
    metadata: header.metadata,
    names,
    get bytesRead() {
      return bytesRead;
    },
    has: (name) => header.tensors.has(name),
    async read(name) {
      if (closed) throw new SiftError('E_IO', `safetensors file "${path}" is closed; open it again to read ${JSON.stringify(name)}.`);
      const e = header.tensors.get(name);
      if (e === undefined) return missingTensor(path, name, names);
      const bytes = new Uint8Array(e.dataOffsets[1] - e.dataOffsets[0]);
      bytesRead += await readExactly(handle, bytes, header.dataStart + e.dataOffsets[0], path);
      return entryTensor(e, bytes, false);
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/**
 * Reads one tensor from a safetensors file: the header, then only that tensor's byte range (the rest of the file
 * is never read). For several tensors, keep the file open with `openSafetensorsFile`. Node only.
 * @example
 * const wte = await readTensorFromFile('model.safetensors', 'wte.weight');
 */
export async function readTensorFromFile(path: string, name: string, options: SafetensorsReadOptions = {}): Promise<SafeTensor> {
  const f = await openSafetensorsFile(path, options);
  try {
    return await f.read(name);
  } finally {
    await f.close();
  }
}

/**
 * Reads a whole safetensors file into memory (one aligned buffer) and returns it parsed, as `parseSafetensors`
 * does for bytes. The header is validated before the data is read, so a corrupt file fails without loading it.
 * Node only.
 * @example
 * const file = await readSafetensorsFile('model.safetensors');
 * const t = file.get('wte.weight');
 */
export async function readSafetensorsFile(path: string, options: SafetensorsReadOptions = {}): Promise<SafetensorsData> {
  const { maxHeaderBytes, copy } = resolveParseOptions(options);
  const { handle, size } = await openRead(path);
  try {
    const { header, head } = await readHeader(handle, size, path, maxHeaderBytes);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(size);
    } catch (err) {
      throw new SiftError('E_IO', `safetensors file "${path}" (${size} bytes) does not fit in one buffer here; read ` +
        'tensors one at a time with openSafetensorsFile / readTensorFromFile.', { cause: err });
    }
    await readExactly(handle, bytes, 0, path);
    // The header was validated from the first read; make sure the file did not change in between.
    for (let i = 0; i < head.byteLength; i++) {
      if (bytes[i] !== head[i]) badFile(path, 'changed while being read (its header differs between two reads); read it again.');
    }
    return safetensorsData(header, bytes, copy, path);
  } finally {
    await handle.close();
  }
}

/** What `writeSafetensorsFile` wrote. */
export interface SafetensorsWriteReport {
  /** The file written. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
}

/**
 * Writes tensors to a safetensors file atomically (see `writeFileAtomic`): the file either keeps its old content
 * or gets the complete new one. Bytes are streamed tensor by tensor, not concatenated in memory. The layout is the
 * reference implementation's (see `serializeSafetensors`). Node only.
 * @example
 * await writeSafetensorsFile('out/model.safetensors',
 *   { 'w': { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } }, { format: 'pt' });
 */
export async function writeSafetensorsFile(path: string, tensors: SafeTensorMap, metadata?: Readonly<Record<string, string>>,
  options: WriteFileAtomicOptions = {}): Promise<SafetensorsWriteReport> {
  const plan = planSafetensors(tensors, metadata);
  await writeFileAtomic(path, [plan.head, ...plan.chunks.map((c) => c.bytes)], options);
  return { path, bytes: plan.totalBytes };
}
