import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiftError } from '../errors.js';
import type { SafeTensor } from './dtypes.js';
import { readSafetensorsFile } from './files.js';
import { parseSafetensorsIndex, readShardedSafetensors, writeShardedSafetensors, type ShardProgress } from './sharded.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sift-io-sharded-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const u8 = (n: number, fill: number): SafeTensor => ({ dtype: 'U8', shape: [n], data: new Uint8Array(n).fill(fill) });

// Sizes 40, 40, 100, 20, 30 bytes with maxShardBytes 64. huggingface_hub's split_state_dict_into_shards_factory:
// t0 opens shard A; t1 would tip it over (80 > 64): A closes, t1 opens B; t2 (100 > 64) gets its own shard right away,
// before B; t3 joins B (60); t4 tips B over: B closes, t4 opens the last one. -> [t0], [t2], [t1, t3], [t4].
const tensors = new Map<string, SafeTensor>([['t0', u8(40, 0)], ['t1', u8(40, 1)], ['t2', u8(100, 2)], ['t3', u8(20, 3)], ['t4', u8(30, 4)]]);

async function rejection(p: Promise<unknown>): Promise<SiftError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SiftError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('writeShardedSafetensors / readShardedSafetensors', () => {
  it('splits like Hugging Face, names the shards model-0000i-of-0000N, writes a sorted index', async () => {
    const dir = join(root, 'ckpt');
    const progress: ShardProgress[] = [];
    const report = await writeShardedSafetensors(dir, tensors, { maxShardBytes: 64, indexMetadata: { total_parameters: 230 }, onProgress: (p) => progress.push(p) });
    const names = ['model-00001-of-00004.safetensors', 'model-00002-of-00004.safetensors', 'model-00003-of-00004.safetensors', 'model-00004-of-00004.safetensors'];
    expect(report.shards.map((s) => s.file)).toEqual(names.map((n) => join(dir, n)));
    expect(report.shards.map((s) => s.tensors)).toEqual([1, 1, 2, 1]);
    expect(report.totalSize).toBe(230);
    expect(report.indexFile).toBe(join(dir, 'model.safetensors.index.json'));
    expect(progress.map((p) => `${p.done}/${p.total}`)).toEqual(['1/5', '2/5', '3/5', '4/5', '5/5']);
    // json.dumps(index, indent=2, sort_keys=True) + "\n", as transformers writes it.
    expect(await readFile(report.indexFile!, 'utf8')).toBe(`{
  "metadata": {
    "total_parameters": 230,
    "total_size": 230
  },
  "weight_map": {
    "t0": "model-00001-of-00004.safetensors",
    "t1": "model-00003-of-00004.safetensors",
    "t2": "model-00002-of-00004.safetensors",
    "t3": "model-00003-of-00004.safetensors",
    "t4": "model-00004-of-00004.safetensors"
  }
}
`);
    const shard3 = await readSafetensorsFile(join(dir, names[2]));
    expect(shard3.names).toEqual(['t1', 't3']);
    expect(shard3.metadata).toEqual({ format: 'pt' });

    for (const from of [dir, report.indexFile!]) {
      const back = await readShardedSafetensors(from);
      expect(new Set(back.tensors.keys())).toEqual(new Set(tensors.keys()));
      for (const [k, t] of tensors) expect(back.tensors.get(k)).toEqual(t);
      expect(back.metadata).toEqual({ total_parameters: 230, total_size: 230 });
      expect(back.shardMetadata.get(names[0])).toEqual({ format: 'pt' });
      expect(back.files).toHaveLength(5);
    }
  });

  it('one shard is written as model.safetensors without an index; stale files of an earlier save are removed', async () => {
    const dir = join(root, 'resave');
    await writeShardedSafetensors(dir, tensors, { maxShardBytes: 64, fsync: false });
    await writeFile(join(dir, 'config.json'), '{}'); // not ours: kept
    const two = await writeShardedSafetensors(dir, tensors, { maxShardBytes: 150, fsync: false });
    expect(two.shards.map((s) => s.file.slice(dir.length + 1))).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(two.removed.map((f) => f.slice(dir.length + 1)).sort()).toEqual([1, 2, 3, 4].map((i) => `model-0000${i}-of-00004.safetensors`));
    const one = await writeShardedSafetensors(dir, tensors, { fsync: false });
    expect(one.indexFile).toBeUndefined();
    expect(one.shards).toEqual([{ file: join(dir, 'model.safetensors'), tensors: 5, bytes: expect.any(Number) as number }]);
    // The stale index goes first, so a reader never follows it to a missing shard.
    expect(one.removed[0]).toBe(join(dir, 'model.safetensors.index.json'));
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors']);
    const back = await readShardedSafetensors(dir);
    expect(back.metadata).toEqual({});
    expect(back.tensors.get('t2')).toEqual(tensors.get('t2'));
    expect((await readShardedSafetensors(join(dir, 'model.safetensors'))).tensors.size).toBe(5);
  });

  it('an empty tensor set is one empty model.safetensors', async () => {
    const dir = join(root, 'empty');
    const r = await writeShardedSafetensors(dir, {}, { fsync: false });
    expect(r.shards).toHaveLength(1);
    expect((await readShardedSafetensors(dir)).tensors.size).toBe(0);
  });

  it('errors: missing shard, tensor not in its shard, unsafe shard names, bad JSON, empty folder, bad options', async () => {
    const dir = join(root, 'broken');
    await writeShardedSafetensors(dir, tensors, { maxShardBytes: 64, fsync: false });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8')) as { weight_map: Record<string, string> };

    await writeFile(indexPath, JSON.stringify({ ...index, weight_map: { ...index.weight_map, t9: 'model-00009-of-00009.safetensors' } }));
    let err = await rejection(readShardedSafetensors(dir));
    expect(err.code).toBe('E_IO');
    expect(err.message).toMatch(/names shard "model-00009-of-00009.safetensors" \(for "t9" and 0 more\) but ".*" does not exist/);

    await writeFile(indexPath, JSON.stringify({ ...index, weight_map: { ...index.weight_map, t0: 'model-00002-of-00004.safetensors' } }));
    err = await rejection(readShardedSafetensors(dir));
    expect(err.code).toBe('E_SAFETENSORS');
    expect(err.message).toMatch(/says tensor "t0" is in "model-00002-of-00004.safetensors", but that shard has no such tensor/);

    for (const bad of ['../../etc/passwd', '/abs/model.safetensors', 'sub\\x.safetensors', '..']) {
      expect(() => parseSafetensorsIndex(JSON.stringify({ weight_map: { w: bad } }), 'i.json')).toThrow(/must be a plain file name/);
    }
    expect(() => parseSafetensorsIndex('{"weight_map": 3}')).toThrow(/has no "weight_map" object/);
    expect(() => parseSafetensorsIndex('{"weight_map": {"w": 1}}')).toThrow(/weight_map\["w"\] must be a shard file name, got number/);
    await writeFile(indexPath, '{ not json');
    err = await rejection(readShardedSafetensors(indexPath));
    expect(err.message).toMatch(/index ".*model.safetensors.index.json" is not valid JSON/);

    const empty = join(root, 'nothing');
    await mkdir(empty);
    await writeFile(join(empty, 'adapter_model.safetensors'), '');
    err = await rejection(readShardedSafetensors(empty));
    expect(err.message).toMatch(/has neither model.safetensors.index.json nor model.safetensors; it has adapter_model.safetensors \(set baseName/);
    expect((await rejection(readShardedSafetensors(join(root, 'missing')))).code).toBe('E_IO');

    expect((await rejection(writeShardedSafetensors(join(root, 'x'), tensors, { maxShardBytes: 0 }))).code).toBe('E_CONFIG');
    // A bad tensor in the last shard is found before any shard is written.
    const bad = new Map(tensors).set('t5', { dtype: 'F32', shape: [9], data: new Float32Array(2) });
    expect((await rejection(writeShardedSafetensors(join(root, 'bad'), bad, { maxShardBytes: 64 }))).code).toBe('E_SHAPE');
    await expect(readdir(join(root, 'bad'))).rejects.toThrow(/ENOENT/); // not even the folder
    expect((await rejection(writeShardedSafetensors(join(root, 'x'), tensors, { baseName: '../model' }))).code).toBe('E_CONFIG');
  });
});
