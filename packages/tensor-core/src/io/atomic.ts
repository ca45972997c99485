import { SiftError } from '../errors.js';
import { nodeModules } from './node-modules.js';

/** What `writeFileAtomic` writes: bytes, a string (UTF-8), or chunks produced in order (sync or async). */
export type AtomicWriteData = Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Options of `writeFileAtomic`. */
export interface WriteFileAtomicOptions {
  /** fsync the file before the rename and the folder after it, so the new content survives a power loss. Default true. */
  fsync?: boolean;
  /** File mode of a new file (before the umask). Default 0o666. */
  mode?: number;
}

/** Defaults of `WriteFileAtomicOptions`. */
export const WRITE_FILE_ATOMIC_DEFAULTS: Readonly<Required<WriteFileAtomicOptions>> = Object.freeze({ fsync: true, mode: 0o666 });

// Node cannot write more than 2 GiB in one call; larger chunks are written in pieces.
const MAX_WRITE = 1 << 30;

/**
 * Writes a file atomically: the data goes to `<path>.tmp-<random>` in the same folder, is fsynced, and is renamed
 * over `path` (a rename within a folder is atomic on POSIX and on NTFS). Readers see the old file or the new one,
 * never a half-written one; after any error (including one thrown by a chunk iterator) the temporary file is removed,
 * the target is left as it was, and a `SiftError('E_IO')` names the file and the cause. Missing parent folders are
 * created. Node only.
 * @example
 * await writeFileAtomic('out/report.json', JSON.stringify(report, null, 2) + '\n');
 */
export async function writeFileAtomic(path: string, data: AtomicWriteData, options: WriteFileAtomicOptions = {}): Promise<void> {
  const { fsync, mode } = { ...WRITE_FILE_ATOMIC_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (typeof path !== 'string' || path.length === 0) throw new SiftError('E_CONFIG', 'writeFileAtomic: path must be a non-empty string.');
  const { fs, path: nodePath, crypto } = await nodeModules();
  // The random suffix only keeps concurrent writers (other processes too) apart; it need not be reproducible, so it
  // comes from the OS, not from a seeded Rng.
  const tmp = `${path}.tmp-${crypto.randomBytes(6).toString('hex')}`;
  let handle: Awaited<ReturnType<typeof fs.open>> | undefined;
  let created = false;
  try {
    // Reports and checkpoints usually go to folders that do not exist yet (out/run-3/...).
    await fs.mkdir(nodePath.dirname(path), { recursive: true });
    handle = await fs.open(tmp, 'wx', mode);
    created = true;
    const chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array> =
      typeof data === 'string' ? [new TextEncoder().encode(data)] : data instanceof Uint8Array ? [data] : data;
    let position = 0;
    for await (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) throw new SiftError('E_CONFIG', 'writeFileAtomic: every chunk must be a Uint8Array.');
      for (let off = 0; off < chunk.byteLength;) {
        const len = Math.min(MAX_WRITE, chunk.byteLength - off);
        const { bytesWritten } = await handle.write(chunk, off, len, position);
        off += bytesWritten;
        position += bytesWritten;
      }
    }
    if (fsync) await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, path);
    created = false;
  } catch (err) {
    await handle?.close().catch(() => undefined);
    if (created) await fs.rm(tmp, { force: true }).catch(() => undefined);
    if (err instanceof SiftError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new SiftError('E_IO', `writing "${path}" failed: ${why}. The file was left unchanged ` +
      '(check that the folder exists, is writable and has free space).', { cause: err });
  }
  if (fsync) await fsyncDir(nodePath.dirname(path));
}

/** Makes a rename durable by fsyncing its folder; best effort (Windows and some file systems refuse). */
async function fsyncDir(dir: string): Promise<void> {
  const { fs } = await nodeModules();
  let h: Awaited<ReturnType<typeof fs.open>> | undefined;
  try {
    h = await fs.open(dir, 'r');
    await h.sync();
  } catch {
    // Not supported here: the rename is still atomic, only its durability across a crash is weaker.
  } finally {
    await h?.close().catch(() => undefined);
  }
}
