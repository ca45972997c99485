import * as tf from '@tensorflow/tfjs-core';
import {
  SiftError, fmtShape, readShardedSafetensors, safeTensorToTf, tfToSafeTensor, writeFileAtomic, writeShardedSafetensors,
  type SafeTensor, type SafetensorsDtype, type ShardProgress,
} from '@sift/tensor-core';
import { lmNodeModules } from '../internal/node.js';
import type { CausalLM } from './causal-lm.js';
import { createModel } from './build.js';
import { parseModelConfig, toHfConfig, type ModelConfig, type TorchDtype } from './config.js';

/** Float dtypes a checkpoint may store. */
export type CheckpointDtype = 'F32' | 'F16' | 'BF16';

const TO_TORCH: Record<CheckpointDtype, TorchDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const FROM_TORCH: Record<TorchDtype, CheckpointDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

/** GPT-2's `Conv1D` layers store their weight as [in, out]: transposed relative to Sift's `Linear` [out, in]. */
const CONV1D = /\.(c_attn|c_proj|c_fc)\.weight$/;

/** Tensors HF checkpoints may hold that are not parameters (causal-mask and RoPE buffers). */
const IGNORED = [/\.attn\.bias$/, /\.attn\.masked_bias$/, /\.rotary_emb\.inv_freq$/];

function isConv1d(config: ModelConfig, name: string): boolean {
  return config.model_type === 'gpt2' && CONV1D.test(name);
}

/** Options of `loadCheckpoint`. */
export interface LoadCheckpointOptions {
  /** Use this config instead of the folder's `config.json`. */
  config?: ModelConfig;
  /** Called after each shard file is read. */
  onProgress?: (p: ShardProgress) => void;
}

/** What `loadCheckpoint` / `loadWeights` did. */
export interface LoadCheckpointReport {
  /** Files read (index first, then shards). */
  files: string[];
  /** Parameters loaded. */
  tensors: number;
  /** Scalars loaded. */
  parameters: number;
  /** Stored dtypes seen. */
  dtypes: SafetensorsDtype[];
  /** Tensors of the file that were skipped on purpose (tied `lm_head.weight`, mask and RoPE buffers). */
  ignored: string[];
}

/**
 * Copies Hugging Face-named tensors into a model, after checking them all: each parameter must be present (GPT-2 files
 * saved without the `transformer.` prefix are accepted) with its HF shape (GPT-2's Conv1D weights [in, out] are
 * transposed to [out, in]); unknown tensors are errors. F32/F16/BF16 are read as float32.
 * @throws SiftError `E_STATE_DICT` naming the missing, mis-shaped or unexpected tensor
 */
export function loadWeights(model: CausalLM, tensors: ReadonlyMap<string, SafeTensor>, files: string[] = []): LoadCheckpointReport {
  const config = model.config;
  const params = model.namedParameters();
  const known = new Set(params.map(([n]) => n));
  const lookup = (name: string): [string, SafeTensor] | undefined => {
    const t = tensors.get(name);
    if (t !== undefined) return [name, t];
    if (config.model_type === 'gpt2' && name.startsWith('transformer.')) {
      const bare = name.slice('transformer.'.length);
      const b = tensors.get(bare);
      if (b !== undefined) return [bare, b];
    }
    return undefined;
  };
  const used = new Set<string>();
  const missing: string[] = [];
  const plan: [tf.Variable, string, SafeTensor][] = [];
  for (const [name, v] of params) {
    const found = lookup(name);
    if (found === undefined) {
      missing.push(name);
      continue;
    }
    const [fileName, t] = found;
    used.add(fileName);
    const want = isConv1d(config, name) ? [v.shape[1]!, v.shape[0]] : v.shape;
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new SiftError('E_STATE_DICT', `checkpoint tensor "${fileName}" has shape ${fmtShape(t.shape)}, expected ${fmtShape(want)} ` +
        `for this ${config.model_type} config${isConv1d(config, name) ? ' (GPT-2 Conv1D layout [in, out])' : ''}. Check config.json ` +
        '(sizes, heads, vocabulary) against the weights.');
    }
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
      throw new SiftError('E_STATE_DICT', `checkpoint tensor "${fileName}" is ${t.dtype}; model weights must be F32, F16 or BF16.`);
    }
    plan.push([v, name, t]);
  }
  if (missing.length > 0) {
    throw new SiftError('E_STATE_DICT', `checkpoint is missing ${missing.length} tensor(s) of this ${config.model_type} model: ` +
      `${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}. Check that the files and config.json belong together.`);
  }
  const ignored: string[] = [];
  const unexpected: string[] = [];
  const tied = config.tie_word_embeddings;
  for (const name of tensors.keys()) {
    if (used.has(name)) continue;
    if (IGNORED.some((re) => re.test(name)) || (tied && name === 'lm_head.weight')) ignored.push(name);
    else if (!known.has(name)) unexpected.push(name);
  }
  if (unexpected.length > 0) {
    throw new SiftError('E_STATE_DICT', `checkpoint has ${unexpected.length} unexpected tensor(s) for this ${config.model_type} ` +
      `config: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', ...' : ''}. Check config.json (layers, ` +
      'tie_word_embeddings, biases) or remove them.');
  }
  const dtypes = new Set<SafetensorsDtype>();
  let parameters = 0;
  for (const [v, name, t] of plan) {
    dtypes.add(t.dtype);
    tf.tidy(() => {
      const x = safeTensorToTf(t, { name });
      v.assign(isConv1d(config, name) ? tf.transpose(x) : x);
    });
    parameters += v.size;
  }
  return { files, tensors: plan.length, parameters, dtypes: [...dtypes], ignored };
}

/**
 * Loads a Hugging Face checkpoint folder: `config.json` plus `model.safetensors` or a sharded
 * `model.safetensors.index.json`. F32, F16 and BF16 tensors are read as float32; the stored dtype becomes the
 * config's `torch_dtype` (when it has none), so `saveCheckpoint` writes it back the same. Node only.
 * @throws SiftError `E_IO` for a missing file, `E_CONFIG` for a bad config, `E_STATE_DICT` naming a missing,
 *   mis-shaped or unexpected tensor
 * @example
 * const { model } = await loadCheckpoint('checkpoints/small');
 * const logits = model.forward(ids);
 */
export async function loadCheckpoint(dir: string, options: LoadCheckpointOptions = {}): Promise<{ model: CausalLM; report: LoadCheckpointReport }> {
  const { fs, path } = await lmNodeModules('loadCheckpoint');
  let config = options.config;
  if (config === undefined) {
    const file = path.join(dir, 'config.json');
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      throw new SiftError('E_IO', `loadCheckpoint: cannot read "${file}": ${(err as Error).message}. A checkpoint folder needs ` +
        'config.json beside model.safetensors.', { cause: err });
    }
    config = parseModelConfig(text);
  }
  const read = await readShardedSafetensors(dir, options.onProgress === undefined ? {} : { onProgress: options.onProgress });
  if (config.torch_dtype === undefined) {
    const first = read.tensors.values().next().value;
    if (first !== undefined && (first.dtype === 'F32' || first.dtype === 'F16' || first.dtype === 'BF16')) {
      config = { ...config, torch_dtype: TO_TORCH[first.dtype] };
    }
  }
  const model = createModel(config);
  try {
    return { model, report: loadWeights(model, read.tensors, read.files) };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** Options of `saveCheckpoint`. */
export interface SaveCheckpointOptions {
  /** Stored float dtype. Default the config's `torch_dtype`, else F32. */
  dtype?: CheckpointDtype;
  /** Shard size limit in bytes; above it, `model-0000i-of-0000n.safetensors` + an index are written. Default 5e9 (HF). */
  maxShardBytes?: number;
  /** Called after each file is written. */
  onProgress?: (p: ShardProgress) => void;
}

/** Defaults of `SaveCheckpointOptions`. */
export const SAVE_CHECKPOINT_DEFAULTS: { maxShardBytes: number } = { maxShardBytes: 5_000_000_000 };

/** What `saveCheckpoint` wrote. */
export interface SaveCheckpointReport {
  /** The folder. */
  dir: string;
  /** Files written (shards, index if sharded, config.json). */
  files: string[];
  /** Stored dtype. */
  dtype: CheckpointDtype;
  /** Tensors written. */
  tensors: number;
  /** Bytes of tensor data. */
  bytes: number;
}

/**
 * The model's weights under Hugging Face names and layout (GPT-2 Conv1D weights transposed to [in, out]; a tied head
 * is not written, as `save_pretrained` does), as `SafeTensor`s of `dtype`.
 */
export async function hfTensors(model: CausalLM, dtype: CheckpointDtype = 'F32'): Promise<Map<string, SafeTensor>> {
  const out = new Map<string, SafeTensor>();
  for (const [name, v] of model.namedParameters()) {
    const x = isConv1d(model.config, name) ? tf.transpose(v) : v;
    try {
      out.set(name, await tfToSafeTensor(x, { dtype, name }));
    } finally {
      if (x !== v) x.dispose();
    }
  }
  return out;
}

/**
 * Writes a Hugging Face checkpoint folder: `config.json` and `model.safetensors` (or shards + index), HF tensor
 * names and layout, every file atomic. It loads back with `loadCheckpoint` (and with transformers'
 * `from_pretrained`) unchanged. Node only.
 * @example
 * await saveCheckpoint(model, 'out/small', { dtype: 'BF16' });
 */
export async function saveCheckpoint(model: CausalLM, dir: string, options: SaveCheckpointOptions = {}): Promise<SaveCheckpointReport> {
  const { path } = await lmNodeModules('saveCheckpoint');
  const dtype = options.dtype ?? (model.config.torch_dtype === undefined ? 'F32' : FROM_TORCH[model.config.torch_dtype]);
  if (!(dtype in TO_TORCH)) {
    throw new SiftError('E_CONFIG', `saveCheckpoint: dtype must be F32, F16 or BF16, got ${JSON.stringify(dtype)}.`);
  }
  const tensors = await hfTensors(model, dtype);
  const written = await writeShardedSafetensors(dir, tensors, {
    maxShardBytes: options.maxShardBytes ?? SAVE_CHECKPOINT_DEFAULTS.maxShardBytes,
    metadata: { format: 'pt' },
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const configFile = path.join(dir, 'config.json');
  const config = { ...toHfConfig(model.config), torch_dtype: TO_TORCH[dtype] };
  await writeFileAtomic(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const files = [...written.shards.map((s) => s.file), ...(written.indexFile === undefined ? [] : [written.indexFile]), configFile];
  return { dir, files, dtype, tensors: tensors.size, bytes: written.totalSize };
}
