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

/**
 * Jobs the worker runs: name -> params and result. Labs add their jobs here (and their implementations to
 * `WORKER_JOBS` in `worker-jobs.ts`), so that the page and the worker agree on the types.
 */
export interface DemoJobs {
  'speed-check': { params: SpeedCheckParams; result: SpeedCheckResult };
  'spd-inverse': { params: SpdInverseParams; result: SpdInverseResult };
  'inspect-checkpoint': { params: InspectCheckpointParams; result: InspectCheckpointResult };
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
