import { SiftError } from '../errors.js';
import { dtypeSize, shapeSize, type SafeTensor } from './dtypes.js';
import { writeFileAtomic } from './atomic.js';
import { readSafetensorsFile, type SafetensorsReadOptions } from './files.js';
import { nodeModules } from './node-modules.js';
import { compareCodePoints, planSafetensors, type SafeTensorMap } from './safetensors.js';

/** Progress of a sharded read or write: `done` of `total` files. */
export interface ShardProgress {
  /** What is happening. */
  stage: 'read' | 'write';
  /** Files finished so far. */
  done: number;
  /** Files in all. */
  total: number;
  /** The file just finished. */
  file: string;
}

/** Options of `readShardedSafetensors`. */
export interface ReadShardedOptions extends SafetensorsReadOptions {
  /** File-name stem used when a folder is given: `<baseName>.safetensors.index.json` or `<baseName>.safetensors`. Default "model". */
  baseName?: string;
  /** Called after each shard is read. */
  onProgress?: (p: ShardProgress) => void;
}

/** A checkpoint read by `readShardedSafetensors`. */
export interface ShardedSafetensors {
  /** Every tensor named in the index (or in the single file), by name. */
  tensors: Map<string, SafeTensor>;
  /** The index's `metadata` object (HF puts `total_size` there); `{}` for a single file. */
  metadata: Record<string, unknown>;
  /** Each shard's `__metadata__`, by shard file name. */
  shardMetadata: Map<string, Record<string, string>>;
  /** The files read: the index (if any), then the shards, as full paths. */
  files: string[];
}

/** A Hugging Face sharded-checkpoint index, `model.safetensors.index.json`. */
export interface SafetensorsIndex {
  /** Free-form; HF writes `{ total_size }` (bytes of tensor data). */
  metadata: Record<string, unknown>;
  /** Tensor name -> shard file name (in the index's folder). */
  weight_map: Record<string, string>;
}

/** Checks that a shard name from an index is a plain file name: no folders, no `..`, nothing absolute. */
function checkShardName(name: string, indexPath: string): void {
  if (name.length === 0 || name === '.' || name === '..' || /[/\\]/.test(name) || name.includes('\0')) {
    throw new SiftError('E_SAFETENSORS', `index "${indexPath}": shard file name ${JSON.stringify(name)} must be a plain ` +
      'file name in the index\'s folder (no folders, no "..").');
  }
}

/** Parses and validates the JSON text of a `model.safetensors.index.json`. */
export function parseSafetensorsIndex(text: string, indexPath = 'index'): SafetensorsIndex {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SiftError('E_SAFETENSORS', `index "${indexPath}" is not valid JSON: ${(err as Error).message}.`, { cause: err });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SiftError('E_SAFETENSORS', `index "${indexPath}" must be a JSON object { metadata, weight_map }.`);
  }
  const { metadata = {}, weight_map: wm } = raw as { metadata?: unknown; weight_map?: unknown };
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) {
    throw new SiftError('E_SAFETENSORS', `index "${indexPath}" has no "weight_map" object (tensor name -> shard file).`);
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new SiftError('E_SAFETENSORS', `index "${indexPath}": "metadata" must be an object.`);
  }
  for (const [k, v] of Object.entries(wm)) {
    if (typeof v !== 'string') {
      throw new SiftError('E_SAFETENSORS', `index "${indexPath}": weight_map[${JSON.stringify(k)}] must be a shard file name, got ${typeof v}.`);
    }
    checkShardName(v, indexPath);
  }
  return { metadata: metadata as Record<string, unknown>, weight_map: wm as Record<string, string> };
}

/**
 * Reads a checkpoint that is either sharded (Hugging Face's `model.safetensors.index.json` plus the shard files its
 * `weight_map` names) or a single `model.safetensors`. `path` is the index file, a `.safetensors` file, or the
 * folder that holds them. Every tensor the index lists must be in the shard it names. Node only.
 * @example
 * const ckpt = await readShardedSafetensors('checkpoints/llama');      // a folder
 * const q = ckpt.tensors.get('model.layers.0.self_attn.q_proj.weight');
 */
export async function readShardedSafetensors(path: string, options: ReadShardedOptions = {}): Promise<ShardedSafetensors> {
  const { fs, path: np } = await nodeModules();
  const baseName = options.baseName ?? 'model';
  let target = path;
  let st;
  try {
    st = await fs.stat(path);
  } catch (err) {
    throw new SiftError('E_IO', `cannot read checkpoint "${path}": ${(err as Error).message}.`, { cause: err });
  }
  if (st.isDirectory()) {
    const index = np.join(path, `${baseName}.safetensors.index.json`);
    const single = np.join(path, `${baseName}.safetensors`);
    if (await exists(index)) target = index;
    else if (await exists(single)) target = single;
    else {
      const seen = (await fs.readdir(path)).filter((f) => f.endsWith('.safetensors') || f.endsWith('.json'));
      throw new SiftError('E_IO', `folder "${path}" has neither ${baseName}.safetensors.index.json nor ${baseName}.safetensors` +
        `${seen.length > 0 ? `; it has ${seen.slice(0, 10).join(', ')} (set baseName or pass the file)` : ''}.`);
    }
  }
  const readOpts: SafetensorsReadOptions = { maxHeaderBytes: options.maxHeaderBytes, copy: options.copy };
  if (!target.endsWith('.json')) {
    const file = await readSafetensorsFile(target, readOpts);
    options.onProgress?.({ stage: 'read', done: 1, total: 1, file: target });
    return {
      tensors: file.tensors(),
      metadata: {},
      shardMetadata: new Map([[np.basename(target), file.metadata]]),
      files: [target],
    };
  }

  let text: string;
  try {
    text = await fs.readFile(target, 'utf8');
  } catch (err) {
    throw new SiftError('E_IO', `cannot read index "${target}": ${(err as Error).message}.`, { cause: err });
  }
  const index = parseSafetensorsIndex(text, target);
  const dir = np.dirname(target);
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(index.weight_map)) {
    const list = byShard.get(shard);
    if (list === undefined) byShard.set(shard, [name]);
    else list.push(name);
  }
  const tensors = new Map<string, SafeTensor>();
  const shardMetadata = new Map<string, Record<string, string>>();
  const files = [target];
  let done = 0;
  for (const [shard, names] of byShard) {
    const file = np.join(dir, shard);
    if (!(await exists(file))) {
      throw new SiftError('E_IO', `index "${target}" names shard "${shard}" (for ${JSON.stringify(names[0])} and ` +
        `${names.length - 1} more) but "${file}" does not exist; download or copy every shard.`);
    }
    const data = await readSafetensorsFile(file, readOpts);
    for (const name of names) {
      if (!data.has(name)) {
        throw new SiftError('E_SAFETENSORS', `index "${target}" says tensor ${JSON.stringify(name)} is in "${shard}", ` +
          'but that shard has no such tensor; the index and the shards do not match.');
      }
      tensors.set(name, data.get(name));
    }
    shardMetadata.set(shard, data.metadata);
    files.push(file);
    done += 1;
    options.onProgress?.({ stage: 'read', done, total: byShard.size, file });
  }
  return { tensors, metadata: index.metadata, shardMetadata, files };
}

async function exists(p: string): Promise<boolean> {
  const { fs } = await nodeModules();
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

/** Options of `writeShardedSafetensors`. */
export interface WriteShardedOptions {
  /** Largest shard, in bytes of tensor data; a tensor larger than this gets a shard of its own. Default 5e9 (HF's "5GB"). */
  maxShardBytes?: number;
  /** `__metadata__` of every shard. Default `{ format: 'pt' }`, which transformers' loader expects. */
  metadata?: Readonly<Record<string, string>>;
  /** Extra fields for the index's `metadata` (beside `total_size`, which is always written). */
  indexMetadata?: Readonly<Record<string, unknown>>;
  /** File-name stem: `<baseName>-00001-of-00003.safetensors`, `<baseName>.safetensors.index.json`. Default "model". */
  baseName?: string;
  /** fsync each file (see `writeFileAtomic`). Default true. */
  fsync?: boolean;
  /** Called after each file is written. */
  onProgress?: (p: ShardProgress) => void;
}

/** Defaults of `WriteShardedOptions`. */
export const WRITE_SHARDED_DEFAULTS: Readonly<{ maxShardBytes: number; metadata: Readonly<Record<string, string>>; baseName: string; fsync: boolean }> =
  Object.freeze({ maxShardBytes: 5_000_000_000, metadata: Object.freeze({ format: 'pt' }), baseName: 'model', fsync: true });

/** What `writeShardedSafetensors` wrote. */
export interface ShardedWriteReport {
  /** Shard files (full paths), in order. */
  shards: { file: string; tensors: number; bytes: number }[];
  /** The index file, or `undefined` when everything fit in one `<baseName>.safetensors` (as HF does). */
  indexFile: string | undefined;
  /** Bytes of tensor data (the index's `total_size`). */
  totalSize: number;
  /** Stale files of an earlier save that were removed (other shard counts, an index left from a sharded save). */
  removed: string[];
}

/** Splits tensors into shards exactly as huggingface_hub's `split_state_dict_into_shards_factory`. */
function planShards(entries: [string, SafeTensor][], maxShardBytes: number): { shards: [string, SafeTensor][][]; total: number } {
  const shards: [string, SafeTensor][][] = [];
  let current: [string, SafeTensor][] = [];
  let currentSize = 0;
  let total = 0;
  for (const [name, t] of entries) {
    const size = shapeSize(t.shape, `tensor ${JSON.stringify(name)}`) * dtypeSize(t.dtype);
    total += size;
    if (size > maxShardBytes) {
      shards.push([[name, t]]); // its own shard, placed where it tips over, as HF does
      continue;
    }
    if (currentSize + size > maxShardBytes && current.length > 0) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push([name, t]);
    currentSize += size;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return { shards, total };
}

const SHARD_FILE = (base: string): RegExp =>
  new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(-\\d{5}-of-\\d{5})?\\.safetensors(\\.index\\.json)?$`);

/**
 * Writes a checkpoint the way Hugging Face does: tensors split into shards of at most `maxShardBytes` (in the given
 * order, HF's algorithm) as `model-00001-of-0000N.safetensors`, plus `model.safetensors.index.json`
 * (`{ metadata: { total_size }, weight_map }`, keys sorted, 2-space indent); a single shard is written as
 * `model.safetensors` with no index. Every file is written atomically, the index last, and stale files of an earlier
 * save with another shard count are then removed, so a reader never follows an index to missing shards. Node only.
 * @example
 * const report = await writeShardedSafetensors('out/ckpt', tensors, { maxShardBytes: 2e9 });
 * // report.shards[0].file === 'out/ckpt/model-00001-of-00002.safetensors'
 */
export async function writeShardedSafetensors(dir: string, tensors: SafeTensorMap, options: WriteShardedOptions = {}): Promise<ShardedWriteReport> {
  const o = { ...WRITE_SHARDED_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as
    typeof WRITE_SHARDED_DEFAULTS & WriteShardedOptions;
  if (!(o.maxShardBytes > 0) || !Number.isFinite(o.maxShardBytes)) {
    throw new SiftError('E_CONFIG', `writeShardedSafetensors: maxShardBytes must be a positive number of bytes, got ${String(o.maxShardBytes)}.`);
  }
  if (!/^[\w.-]+$/.test(o.baseName) || o.baseName.startsWith('.')) {
    throw new SiftError('E_CONFIG', `writeShardedSafetensors: baseName ${JSON.stringify(o.baseName)} must be a plain name such as "model".`);
  }
  const entries: [string, SafeTensor][] = tensors instanceof Map
    ? [...(tensors as ReadonlyMap<string, SafeTensor>).entries()]
    : Object.entries(tensors as Record<string, SafeTensor>);
  const { shards, total } = planShards(entries, o.maxShardBytes);
  // Lay out (and so validate) every shard before writing any, so a bad tensor cannot leave a half-written checkpoint.
  const plans = shards.map((s) => planSafetensors(new Map(s), o.metadata));
  const { fs, path: np } = await nodeModules();
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (err) {
    throw new SiftError('E_IO', `cannot create folder "${dir}": ${(err as Error).message}.`, { cause: err });
  }
  const n = shards.length;
  const totalFiles = n === 1 ? 1 : n + 1;
  const report: ShardedWriteReport = { shards: [], indexFile: undefined, totalSize: total, removed: [] };
  const written = new Set<string>();
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const name = n === 1 ? `${o.baseName}.safetensors`
      : `${o.baseName}-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    const file = np.join(dir, name);
    const plan = plans[i];
    await writeFileAtomic(file, [plan.head, ...plan.chunks.map((c) => c.bytes)], { fsync: o.fsync });
    const bytes = plan.totalBytes;
    for (const [t] of shards[i]) weightMap[t] = name;
    report.shards.push({ file, tensors: shards[i].length, bytes });
    written.add(name);
    o.onProgress?.({ stage: 'write', done: i + 1, total: totalFiles, file });
  }
  if (n > 1) {
    const indexName = `${o.baseName}.safetensors.index.json`;
    const indexFile = np.join(dir, indexName);
    const metadata = sortKeys({ ...o.indexMetadata, total_size: total });
    const sortedMap = Object.fromEntries(Object.keys(weightMap).sort(compareCodePoints).map((k) => [k, weightMap[k]]));
    await writeFileAtomic(indexFile, `${JSON.stringify({ metadata, weight_map: sortedMap }, null, 2)}\n`, { fsync: o.fsync });
    report.indexFile = indexFile;
    written.add(indexName);
    o.onProgress?.({ stage: 'write', done: totalFiles, total: totalFiles, file: indexFile });
  }
  // Remove what an earlier save left behind: other shard counts, or an index that would now point to old shards.
  // A stale index goes first, so that no reader follows it to a shard removed a moment earlier.
  const pattern = SHARD_FILE(o.baseName);
  const stale = (await fs.readdir(dir)).filter((f) => pattern.test(f) && !written.has(f));
  stale.sort((a, b) => Number(b.endsWith('.json')) - Number(a.endsWith('.json')));
  for (const f of stale) {
    const full = np.join(dir, f);
    await fs.rm(full, { force: true });
    report.removed.push(full);
  }
  return report;
}

/** A copy of a JSON-like value with object keys sorted at every level (Python's `json.dumps(sort_keys=True)`). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.keys(v).sort(compareCodePoints).map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}
