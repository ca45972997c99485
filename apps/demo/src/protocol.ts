/**
 * The typed message protocol between the page and the compute worker. Every lab reuses it: a lab adds its jobs to
 * `DemoJobs` (name -> params and result), implements them in the worker (`worker-jobs.ts`), and calls them from the
 * page with `WorkerRunner.run(name, params, onProgress)`.
 *
 * Everything that crosses the boundary is structured-cloneable plain data (typed arrays and `File`s included).
 */
import type { BackendInfo, BackendName, EnvironmentReport } from '@sift/backend';
import type { SafetensorsDtype } from '@sift/tensor-core';

/** The backend the worker starts: one Sift browser backend, or `auto` (`initBackend`'s default preference). */
export type BackendChoice = 'auto' | Extract<BackendName, 'webgpu' | 'wasm' | 'cpu'>;

/** The choices, in the order the backend switch lists them. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'cpu'];

/** Whether `s` names a backend choice (for `?backend=` in the URL). */
export function isBackendChoice(s: string | null | undefined): s is BackendChoice {
  return s != null && (BACKEND_CHOICES as readonly string[]).includes(s);
}

/** Progress of a running job. */
export interface Progress {
  /** Done so far, in [0, 1]. */
  fraction: number;
  /** Estimated seconds left (from the elapsed time and `fraction`); absent before there is anything to go on. */
  etaSeconds?: number;
  /** What the job is doing now, in words. */
  message: string;
}

/** An error as it crosses the boundary: a `SiftError`/`BackendError` keeps its `code`. */
export interface ErrorInfo {
  name: string;
  /** `SiftError` / `BackendError` code, e.g. `E_SAFETENSORS`; absent for other errors. */
  code?: string;
  message: string;
}

/** Parameters of the `speed-check` job: times `tf.matMul` of two `size x size` float32 matrices. */
export interface SpeedCheckParams {
  /** Matrix size n (the product costs 2n³ flops). */
  size: number;
  /** Timed products after one untimed warm-up. */
  repeats: number;
  /** Seed of the `Rng` that fills the matrices. */
  seed: number;
}

/** Result of the `speed-check` job. */
export interface SpeedCheckResult {
  backend: string;
  size: number;
  /** Seconds of each timed product (including reading the result back). */
  seconds: number[];
  /** Median GFLOP/s over the timed products. */
  gflops: number;
  /** Max |tf.matMul - naive float64 loop| over a 64 x 64 product on the same backend. */
  maxAbsError: number;
}

/** Parameters of the `spd-inverse` job: inverts A = XXᵀ/k + I with tensor-core's Cholesky-based `spdInverseAsync`. */
export interface SpdInverseParams {
  size: number;
  /** `float32`: blocked, matMuls on the active backend; `float64`: on the host. */
  precision: 'float32' | 'float64';
  seed: number;
}

/** Result of the `spd-inverse` job. */
export interface SpdInverseResult {
  backend: string;
  size: number;
  precision: 'float32' | 'float64';
  seconds: number;
  /** max |A · A⁻¹ - I|, computed in float64 on the host. */
  residual: number;
}

/** One tensor of a checkpoint header. */
export interface TensorRow {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  bytes: number;
}

/** Parameters of the `inspect-checkpoint` job: the user's files, read in the worker (never uploaded). */
export interface InspectCheckpointParams {
  model: File;
  config?: File;
  tokenizer?: File;
}

/** Result of the `inspect-checkpoint` job. */
export interface InspectCheckpointResult {
  fileName: string;
  fileBytes: number;
  headerBytes: number;
  metadata: Record<string, string>;
  tensors: TensorRow[];
  /** Sum of the tensors' bytes. */
  tensorBytes: number;
  parameters: number;
  /** A few fields of config.json, when given. */
  config?: Record<string, string | number | boolean>;
  /** tokenizer.json's model type and vocabulary size, when given. */
  tokenizer?: { model: string; vocabSize: number };
}

/** Where a language model comes from: the checkpoint bundled with the site, or the user's own files (read locally). */
export type LmSource =
  | { kind: 'bundled'; /** URL of the folder holding config.json, model.safetensors and tokenizer.json (ends in `/`). */ url: string }
  | { kind: 'files'; model: File; config: File; tokenizer: File };

/** The fixed text slices (`public/data/brown-slice.json`): calibration text and test text. */
export interface TextSlice {
  calibration: string;
  test: string;
}

/** The pruning methods of `@sift/nm-sparsity` the lab offers. */
export type SparsityMethod = 'magnitude' | 'wanda' | 'sparsegpt';
/** The corrections the lab offers. */
export type SparsityCorrection = 'none' | 'data-free' | 'data-driven';

/** Parameters of the `sparsity` job: prune a model with `pruneModel`, evaluate it and generate text. */
export interface SparsityParams {
  source: LmSource;
  texts: TextSlice;
  /** `'N:M'` or `'unstructured'` (50%). */
  pattern: string;
  method: SparsityMethod;
  /** Fraction kept dense as salient weights: 0, 1/32 or 1/16 (structured k:32). */
  salientFraction: number;
  varianceCorrection: SparsityCorrection;
  /** Calibration windows drawn from the calibration text (`sampleWindows`, one batch). */
  calibrationWindows: number;
  /** Test windows of `seqlen` tokens for perplexity (the first ones of the test text). */
  pplWindows: number;
  /** Tokens per window (at most the model's context). */
  seqlen: number;
  /** Seed of the calibration windows. */
  seed: number;
  /** Prompt of the generated text (greedy). */
  prompt: string;
  maxNewTokens: number;
}

/** One pruned linear: its mask for the heat-map (0 pruned, 1 kept, 2 salient), row-major [rows, cols]. */
export interface MaskLayer {
  name: string;
  rows: number;
  cols: number;
  mask: Uint8Array;
  sparsity: number;
  reconstructionError: number | null;
  /** Bits per weight of this layer in the packed format (fp16 values). */
  bitsPerWeight: number;
}

/** Perplexity of one model on the test windows. */
export interface PplInfo {
  perplexity: number;
  tokens: number;
  windows: number;
}

/** What the model was. */
export interface LmInfo {
  name: string;
  modelType: string;
  parameters: number;
  blocks: number;
  vocabSize: number;
  context: number;
  /** Stored dtypes of the checkpoint. */
  dtypes: string[];
}

/** Result of the `sparsity` job. */
export interface SparsityResult {
  /** Backend of the perplexities and the generated text. */
  backend: string;
  /** Backend `pruneModel` ran on: the same, except wasm when `backend` is WebGPU (see `lm-jobs.ts`). */
  pruneBackend: string;
  model: LmInfo;
  pattern: string;
  method: SparsityMethod;
  /** Zeros over all pruned weights. */
  sparsity: number;
  dense: PplInfo;
  pruned: PplInfo;
  /** Packed storage in bits per weight over the pruned linears (fp16 values). */
  bits: { metadata: number; values: number; salient: number; total: number; layout: 'N:M' | 'CSR' };
  /** Bytes of the pruned linears: dense fp16 and packed. */
  bytes: { dense: number; packed: number };
  layers: MaskLayer[];
  text: { prompt: string; dense: string; pruned: string };
  seconds: { load: number; dense: number; prune: number; pruned: number };
}

/** Parameters of the `salience` job: GIFT-SW's column salience of one linear, then live fine-tuning of its salient columns. */
export interface SalienceParams {
  source: LmSource;
  texts: TextSlice;
  /** Full path of the linear, e.g. `model.layers.0.mlp.down_proj`; empty = the first one. */
  layer: string;
  /** A `@sift/salience` preset: `gift-sw`, `quik`, `owq` or `wanda`. */
  metric: 'gift-sw' | 'quik' | 'owq' | 'wanda';
  /** Salient columns. */
  k: number;
  /** Fine-tuning steps (0 = only the scores). */
  steps: number;
  lr: number;
  calibrationWindows: number;
  seqlen: number;
  seed: number;
}

/** Result of the `salience` job. */
export interface SalienceResult {
  backend: string;
  model: LmInfo;
  /** Every linear of the model (for the layer choice). */
  linears: { name: string; rows: number; cols: number }[];
  layer: string;
  rows: number;
  cols: number;
  metric: string;
  /** s_j per input column. */
  scores: Float64Array;
  /** The k salient columns, ascending. */
  salient: number[];
  /** Loss (nats/token) at every fine-tuning step, on the same batch (all calibration windows). */
  losses: number[];
  trainableParams: number;
  totalParams: number;
  msPerStep: number;
}

/** Parameters of the `eventseq` job: synthetic clients, CoLES or MLEM, a 2-D UMAP map and probes. */
export interface EventSeqParams {
  method: 'coles' | 'mlem';
  clients: number;
  epochs: number;
  hiddenSize: number;
  seed: number;
}

/** Result of the `eventseq` job. */
export interface EventSeqResult {
  backend: string;
  method: 'coles' | 'mlem';
  clients: number;
  events: number;
  /** Mean training loss per epoch (MLEM: of its own stage, after the CoLES stage). */
  epochLoss: number[];
  /** 2-D UMAP coordinates, [x0, y0, x1, y1, ...] per client. */
  map: Float32Array;
  /** Latent `composition` class per client (the colour). */
  classes: Int32Array;
  numClasses: number;
  /** Test accuracy of a logistic probe on the frozen embeddings, per label. */
  probes: { label: string; accuracy: number; chance: number }[];
  dim: number;
  seconds: { train: number; map: number };
}

/**
 * Jobs the worker runs: name -> params and result. Labs add their jobs here (and their implementations to
 * `WORKER_JOBS` in `worker-jobs.ts`), so that the page and the worker agree on the types.
 */
export interface DemoJobs {
  'speed-check': { params: SpeedCheckParams; result: SpeedCheckResult };
  'spd-inverse': { params: SpdInverseParams; result: SpdInverseResult };
  'inspect-checkpoint': { params: InspectCheckpointParams; result: InspectCheckpointResult };
  sparsity: { params: SparsityParams; result: SparsityResult };
  salience: { params: SalienceParams; result: SalienceResult };
  eventseq: { params: EventSeqParams; result: EventSeqResult };
}

export type JobName = keyof DemoJobs;
export type JobParams<J extends JobName> = DemoJobs[J]['params'];
export type JobResult<J extends JobName> = DemoJobs[J]['result'];

/** Page -> worker. */
export type ToWorker =
  | { type: 'init'; backend: BackendChoice; wasmPaths: string }
  | { [J in JobName]: { type: 'run'; id: number; job: J; params: JobParams<J> } }[JobName]
  | { type: 'cancel'; id: number };

/** Worker -> page. */
export type FromWorker =
  | { type: 'ready'; info: BackendInfo; environment: EnvironmentReport }
  | { type: 'init-error'; error: ErrorInfo }
  | { type: 'progress'; id: number; progress: Progress }
  | { [J in JobName]: { type: 'result'; id: number; job: J; result: JobResult<J> } }[JobName]
  | { type: 'error'; id: number; error: ErrorInfo }
  | { type: 'cancelled'; id: number };

/** Turns anything thrown into an `ErrorInfo`, keeping a `code` when there is one. */
export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { name: err.name, code, message: err.message } : { name: err.name, message: err.message };
  }
  return { name: 'Error', message: String(err) };
}

/**
 * Progress with an ETA: the remaining time at the average rate so far (`elapsed · (1 - f) / f`); no ETA before 1%
 * of the work or before 0.2 s, where it would be noise.
 */
export function progressWithEta(fraction: number, elapsedSeconds: number, message: string): Progress {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  if (f < 0.01 || elapsedSeconds < 0.2) return { fraction: f, message };
  return { fraction: f, etaSeconds: (elapsedSeconds * (1 - f)) / f, message };
}
