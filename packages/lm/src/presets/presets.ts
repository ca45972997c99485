import { Rng, SiftError, writeFileAtomic } from '@sift/tensor-core';
import { loadBrownSplit } from '../data/brown/split.js';
import { encodeDocuments } from '../data/stream.js';
import { lmNodeModules } from '../internal/node.js';
import type { CausalLM } from '../model/causal-lm.js';
import { createModel } from '../model/build.js';
import { saveCheckpoint, type SaveCheckpointReport } from '../model/checkpoint.js';
import { parseModelConfig, type ModelConfig } from '../model/config.js';
import { ByteTokenizer } from '../tokenizer/byte-tokenizer.js';
import { loadTokenizer, saveTokenizer } from '../tokenizer/files.js';
import { trainBpe } from '../tokenizer/train-bpe.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { trainLm, type TrainHooks, type TrainOptions, type TrainReport } from '../train/train.js';

/** The tokenizer of a preset: bytes, or a byte-level BPE trained on the Brown train split. */
export type PresetTokenizer = { kind: 'byte' } | { kind: 'bpe'; vocabSize: number };

/** A recipe: architecture (a HF config without the vocabulary), tokenizer and training schedule. */
export interface LmPreset {
  /** What it is for. */
  description: string;
  /** HF `config.json` fields; `vocab_size` and the special ids come from the tokenizer. */
  model: Record<string, unknown>;
  /** Tokenizer. */
  tokenizer: PresetTokenizer;
  /** Training options (`trainLm`). */
  train: Omit<TrainOptions, 'checkpointDir'>;
}

/** Names of the presets. */
export type PresetName = 'tiny' | 'small' | 'small-half';

const LLAMA = { model_type: 'llama', hidden_act: 'silu', rope_theta: 10000, rms_norm_eps: 1e-5, tie_word_embeddings: true, initializer_range: 0.02 };

/**
 * The training recipe of `small` and `small-half`, sized for about 20 minutes on 2 cores: tfjs-backend-wasm trains
 * `small` at ~300-450 tokens/s there (measured: 6.5 s per 16 x 128 step on one thread of an idle machine; see
 * bench/train.bench.ts), so 400 steps of 8 x 128 tokens (~0.4 M tokens, a third of an epoch of Brown's train split
 * under BPE 4096).
 */
const SMALL_TRAIN: LmPreset['train'] = {
  steps: 400, batchSize: 8, seqLen: 128, lr: 2e-3, minLr: 2e-4, warmupSteps: 30, weightDecay: 0.1, betas: [0.9, 0.95], gradClip: 1,
  evalEvery: 100, evalBatches: 16, logEvery: 10, checkpointEvery: 50, seed: 0,
};

/**
 * The presets. All are Llama-style (RMSNorm, RoPE, SwiGLU, GQA, head tied to the embedding), so N:M sparsity and
 * GIFT-SW see the q/k/v/o/gate/up/down linears of a modern LLM.
 * - `tiny`: d=64, 2 layers, bytes (V=257), context 64: trains in seconds, for tests and examples.
 * - `small`: d=256, 4 layers, 8 heads of 32 (4 kv heads), SwiGLU 704, context 128, BPE 4096: 2.95 M
 *   non-embedding + 1.05 M embedding parameters. Every linear's input width (256, 704) is a multiple of 32.
 * - `small-half`: d=192, 4 layers, 6 heads (3 kv), SwiGLU 512: 0.55x the non-embedding parameters of `small`
 *   (the dense model a 50%-sparse `small` must beat); input widths 192, 512.
 */
export const PRESETS: Readonly<Record<PresetName, LmPreset>> = {
  tiny: {
    description: 'test-sized Llama on bytes: trains in seconds',
    model: { ...LLAMA, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 },
    tokenizer: { kind: 'byte' },
    train: { steps: 200, batchSize: 8, seqLen: 64, lr: 3e-3, minLr: 3e-4, warmupSteps: 20, weightDecay: 0.1, betas: [0.9, 0.95], gradClip: 1, evalEvery: 0, evalBatches: 4, logEvery: 10, checkpointEvery: 100, seed: 0 },
  },
  small: {
    description: '~4 M-parameter Llama on Brown (BPE 4096), for N:M and GIFT-SW experiments',
    model: { ...LLAMA, hidden_size: 256, intermediate_size: 704, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 4, max_position_embeddings: 128 },
    tokenizer: { kind: 'bpe', vocabSize: 4096 },
    train: SMALL_TRAIN,
  },
  'small-half': {
    description: 'dense model with 0.55x the non-embedding parameters of small (same recipe)',
    model: { ...LLAMA, hidden_size: 192, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 6, num_key_value_heads: 3, max_position_embeddings: 128 },
    tokenizer: { kind: 'bpe', vocabSize: 4096 },
    train: SMALL_TRAIN,
  },
};

function preset(name: string): LmPreset {
  const p = (PRESETS as Record<string, LmPreset | undefined>)[name];
  if (p === undefined) throw new SiftError('E_CONFIG', `unknown preset "${name}"; presets: ${Object.keys(PRESETS).join(', ')}.`);
  return p;
}

/**
 * The model config of a preset for a tokenizer's vocabulary (`vocab_size`, `bos_token_id`/`eos_token_id` = its
 * end-of-text id).
 */
export function presetConfig(name: PresetName, tokenizer: Pick<Tokenizer, 'vocabSize' | 'eotId'>): ModelConfig {
  const p = preset(name);
  const ids = tokenizer.eotId === undefined ? {} : { bos_token_id: tokenizer.eotId, eos_token_id: tokenizer.eotId };
  return parseModelConfig({ ...p.model, vocab_size: tokenizer.vocabSize, ...ids });
}

/** Parameter counts of a model: all, the embedding (and an untied head), and the rest. */
export function countParameters(model: CausalLM): { total: number; embedding: number; nonEmbedding: number } {
  let total = 0;
  let embedding = 0;
  for (const [name, v] of model.namedParameters()) {
    total += v.size;
    if (/(^|\.)(wte|wpe|embed_tokens)\.weight$|^lm_head\.weight$/.test(name)) embedding += v.size;
  }
  return { total, embedding, nonEmbedding: total - embedding };
}

/** Options of `trainPreset`. */
export interface TrainPresetOptions {
  /** Output folder: HF checkpoint (`config.json`, `model.safetensors`), `tokenizer.json`, `report.json`, `train-state/`. */
  outDir: string;
  /** Overrides of the preset's training options (e.g. fewer `steps`). */
  train?: Partial<Omit<TrainOptions, 'checkpointDir'>>;
  /** Train on these Brown genres only (letters or names). Default all. */
  genres?: readonly string[];
  /** Seed of the weights. Default 0. */
  seed?: number;
}

/** What `trainPreset` returns (also written to `report.json`). */
export interface TrainPresetReport {
  preset: PresetName;
  /** HF config of the trained model. */
  config: ModelConfig;
  /** Parameter counts. */
  parameters: { total: number; embedding: number; nonEmbedding: number };
  /** Tokens in the train and validation streams. */
  streamTokens: { train: number; validation: number };
  /** The training run. */
  training: TrainReport;
  /** The saved checkpoint. */
  checkpoint: SaveCheckpointReport;
}

/**
 * Trains a preset on the Brown corpus (train split; validation split for the loss) and saves a Hugging Face
 * checkpoint with its `tokenizer.json`. Rerunning with the same `outDir` resumes from the last training checkpoint
 * (`train-state/`). Node only.
 * @example
 * const report = await trainPreset('small', { outDir: 'models/small' }, { onProgress: (p) => console.log(p) });
 * report.training.valPerplexity;
 */
export async function trainPreset(name: PresetName, options: TrainPresetOptions, hooks: TrainHooks = {}): Promise<TrainPresetReport> {
  const p = preset(name);
  const { fs, path } = await lmNodeModules('trainPreset');
  await fs.mkdir(options.outDir, { recursive: true });
  const genres = options.genres === undefined ? {} : { genres: options.genres };
  const train = await loadBrownSplit({ split: 'train', ...genres });
  const validation = await loadBrownSplit({ split: 'validation', ...genres });
  const tokFile = path.join(options.outDir, 'tokenizer.json');
  let tokenizer: Tokenizer;
  if (p.tokenizer.kind === 'byte') {
    tokenizer = new ByteTokenizer();
  } else if (await fs.access(tokFile).then(() => true, () => false)) {
    tokenizer = await loadTokenizer(tokFile);
  } else {
    tokenizer = trainBpe(train.map((d) => d.text), { vocabSize: p.tokenizer.vocabSize }).tokenizer;
  }
  await saveTokenizer(tokenizer, tokFile);
  const trainIds = encodeDocuments(tokenizer, train);
  const valIds = encodeDocuments(tokenizer, validation);
  const config = presetConfig(name, tokenizer);
  const model = createModel(config, { rng: new Rng(options.seed ?? 0).fork(`preset:${name}`) });
  try {
    const opts: Omit<TrainOptions, 'checkpointDir'> = { ...p.train, ...options.train };
    // Fewer steps than the recipe's warm-up (a quick run): warm up for a tenth of the run instead.
    if (options.train?.warmupSteps === undefined && opts.warmupSteps >= opts.steps) opts.warmupSteps = Math.floor(opts.steps / 10);
    const training = await trainLm(model, { train: trainIds, validation: valIds },
      { ...opts, checkpointDir: path.join(options.outDir, 'train-state') }, hooks);
    const checkpoint = await saveCheckpoint(model, options.outDir);
    const report: TrainPresetReport = {
      preset: name, config, parameters: countParameters(model),
      streamTokens: { train: trainIds.length, validation: valIds.length }, training, checkpoint,
    };
    await writeFileAtomic(path.join(options.outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    model.dispose();
  }
}
