/**
 * The jobs the worker runs. Each takes its params and a `JobContext` (progress, cooperative cancellation) and
 * returns a plain result. They run on whatever tfjs backend the worker started; they are also plain functions that
 * Node tests can call.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, SiftError, parseSafetensors, parseSafetensorsHeader, spdInverseAsync } from '@sift/tensor-core';
import { eventSeqJob } from './eventseq-job.js';
import { salienceJob, sparsityJob } from './lm-jobs.js';
import type {
  DemoJobs, InspectCheckpointParams, InspectCheckpointResult, JobName, JobParams, JobResult,
  SpdInverseParams, SpdInverseResult, SpeedCheckParams, SpeedCheckResult,
} from './protocol.js';

/** What a job gets besides its params. */
export interface JobContext {
  /** Reports progress (`fraction` in [0, 1]); the ETA is added from the elapsed time. */
  progress(fraction: number, message: string): void;
  /** Throws `JobCancelled` when the page asked to cancel; call it between steps (it also yields to messages). */
  checkpoint(): Promise<void>;
}

/** Thrown by `JobContext.checkpoint` after a cancel request. */
export class JobCancelled extends Error {
  override readonly name: string = 'JobCancelled';
}

/** A job implementation. */
export type JobFn<J extends JobName> = (params: JobParams<J>, ctx: JobContext) => Promise<JobResult<J>>;

/** A context that reports nothing and never cancels (for tests and direct calls). */
export const QUIET_CONTEXT: JobContext = {
  progress: () => undefined,
  checkpoint: () => Promise.resolve(),
};

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function checkInt(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new SiftError('E_CONFIG', `${name} must be an integer in [${lo}, ${hi}], got ${v}.`);
  }
}

/** Max |tf.matMul(a, b) - naive float64 product| for an n x n product on the active backend. */
async function matMulError(rng: Rng, n: number): Promise<number> {
  const a = rng.fillUniform(new Float32Array(n * n), -1, 1);
  const b = rng.fillUniform(new Float32Array(n * n), -1, 1);
  const c = tf.tidy(() => tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])));
  const got = await c.data();
  c.dispose();
  let err = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
      err = Math.max(err, Math.abs(s - got[i * n + j]));
    }
  }
  return err;
}

/** Times `tf.matMul` of two n x n float32 matrices on the active backend (median of `repeats`, after a warm-up). */
export async function speedCheck(p: SpeedCheckParams, ctx: JobContext): Promise<SpeedCheckResult> {
  checkInt('size', p.size, 1, 8192);
  checkInt('repeats', p.repeats, 1, 10_000);
  const rng = new Rng(p.seed);
  const n = p.size;
  ctx.progress(0, 'checking results against a float64 loop');
  const maxAbsError = await matMulError(rng.fork('check'), 64);
  const a = tf.tensor2d(rng.fork('a').fillUniform(new Float32Array(n * n), -1, 1), [n, n]);
  const b = tf.tensor2d(rng.fork('b').fillUniform(new Float32Array(n * n), -1, 1), [n, n]);
  const seconds: number[] = [];
  try {
    for (let r = -1; r < p.repeats; r++) {
      await ctx.checkpoint();
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
      const dt = (performance.now() - t0) / 1000;
      if (r >= 0) seconds.push(dt);
      const done = r + 1;
      const last = seconds.at(-1);
      ctx.progress(done / p.repeats, r < 0 ? 'warm-up done'
        : `product ${done}/${p.repeats}: ${last === undefined ? '?' : ((2 * n ** 3) / last / 1e9).toFixed(2)} GFLOP/s`);
    }
  } finally {
    a.dispose();
    b.dispose();
  }
  return { backend: tf.getBackend(), size: n, seconds, gflops: (2 * n ** 3) / median(seconds) / 1e9, maxAbsError };
}

/** Inverts A = XXᵀ/k + I (SPD by construction) with tensor-core's `spdInverseAsync` and checks A · A⁻¹ = I. */
export async function spdInverseJob(p: SpdInverseParams, ctx: JobContext): Promise<SpdInverseResult> {
  checkInt('size', p.size, 1, 4096);
  const n = p.size;
  const k = 2 * n;
  ctx.progress(0, `building a ${n} x ${n} SPD matrix`);
  const x = new Rng(p.seed).fillNormal(new Float32Array(n * k));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += x[i * k + t] * x[j * k + t];
      const v = s / k + (i === j ? 1 : 0);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  await ctx.checkpoint();
  ctx.progress(0.3, `inverting (Cholesky, ${p.precision})`);
  const t0 = performance.now();
  let inv: Float64Array | Float32Array;
  if (p.precision === 'float64') {
    inv = await spdInverseAsync(a, { precision: 'float64', name: 'demo SPD matrix' });
  } else {
    const t = tf.tensor2d(Float32Array.from(a), [n, n]);
    const r = await spdInverseAsync(t, { precision: 'float32', name: 'demo SPD matrix' });
    inv = await r.data() as Float32Array;
    t.dispose();
    r.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  await ctx.checkpoint();
  ctx.progress(0.8, 'checking A · A⁻¹ = I');
  let residual = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < n; t++) s += a[i * n + t] * inv[t * n + j];
      residual = Math.max(residual, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  ctx.progress(1, 'done');
  return { backend: tf.getBackend(), size: n, precision: p.precision, seconds, residual };
}

/** Reads a JSON file the user chose, with an error naming the file. */
async function readJson(file: File, what: string): Promise<unknown> {
  const text = await file.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SiftError('E_CONFIG', `${file.name} (${what}) is not valid JSON: ${err instanceof Error ? err.message : String(err)}. ` +
      `Choose the ${what} that came with the checkpoint.`);
  }
}

const CONFIG_FIELDS = ['model_type', 'architectures', 'n_layer', 'num_hidden_layers', 'n_embd', 'hidden_size',
  'n_head', 'num_attention_heads', 'vocab_size', 'n_positions', 'max_position_embeddings', 'torch_dtype'];

function configSummary(json: unknown, name: string): Record<string, string | number | boolean> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new SiftError('E_CONFIG', `${name} must hold a JSON object (a Hugging Face style config.json).`);
  }
  const out: Record<string, string | number | boolean> = {};
  for (const key of CONFIG_FIELDS) {
    const v = (json as Record<string, unknown>)[key];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[key] = v;
    else if (Array.isArray(v)) out[key] = v.map(String).join(', ');
  }
  return out;
}

function tokenizerSummary(json: unknown, name: string): { model: string; vocabSize: number } {
  const model = (json as { model?: { type?: unknown; vocab?: unknown } } | null)?.model;
  if (model === undefined || typeof model !== 'object') {
    throw new SiftError('E_CONFIG', `${name} has no "model" object; it is not a Hugging Face tokenizer.json.`);
  }
  const vocab = model.vocab;
  const vocabSize = Array.isArray(vocab) ? vocab.length : vocab !== null && typeof vocab === 'object' ? Object.keys(vocab).length : 0;
  return { model: typeof model.type === 'string' ? model.type : 'unknown', vocabSize };
}

/**
 * Lists a user's checkpoint: validates the header from the file's first bytes (so a malformed multi-GB file fails
 * at once), then parses the whole file with `parseSafetensors` (the tensors a lab will use), and summarises
 * config.json and tokenizer.json when given. Nothing leaves the browser.
 */
export async function inspectCheckpoint(p: InspectCheckpointParams, ctx: JobContext): Promise<InspectCheckpointResult> {
  const file = p.model;
  const source = file.name;
  ctx.progress(0, `reading the header of ${source}`);
  const prefix = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  let headerLength = 0;
  if (prefix.byteLength === 8) {
    const view = new DataView(prefix.buffer);
    headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  }
  // The header check reads at most 100 MB; parseSafetensorsHeader reports a bad length itself.
  const headBytes = new Uint8Array(await file.slice(0, 8 + Math.min(headerLength, 100 * 2 ** 20)).arrayBuffer());
  const header = parseSafetensorsHeader(headBytes, { fileSize: file.size, source });
  await ctx.checkpoint();
  ctx.progress(0.2, `reading ${source} (${file.size} bytes)`);
  const data = parseSafetensors(new Uint8Array(await file.arrayBuffer()), { source });
  await ctx.checkpoint();
  const tensors = data.names.map((name) => {
    const e = header.tensors.get(name)!;
    return { name, dtype: e.dtype, shape: [...e.shape], bytes: e.dataOffsets[1] - e.dataOffsets[0] };
  });
  const result: InspectCheckpointResult = {
    fileName: source,
    fileBytes: file.size,
    headerBytes: header.headerSize,
    metadata: data.metadata,
    tensors,
    tensorBytes: tensors.reduce((s, t) => s + t.bytes, 0),
    parameters: tensors.reduce((s, t) => s + t.shape.reduce((q, d) => q * d, 1), 0),
  };
  ctx.progress(0.8, 'reading config.json and tokenizer.json');
  if (p.config !== undefined) result.config = configSummary(await readJson(p.config, 'config.json'), p.config.name);
  if (p.tokenizer !== undefined) result.tokenizer = tokenizerSummary(await readJson(p.tokenizer, 'tokenizer.json'), p.tokenizer.name);
  ctx.progress(1, 'done');
  return result;
}

/** Every job the worker knows, by name. Labs add theirs here. */
export const WORKER_JOBS: { [J in keyof DemoJobs]: JobFn<J> } = {
  'speed-check': speedCheck,
  'spd-inverse': spdInverseJob,
  'inspect-checkpoint': inspectCheckpoint,
  sparsity: sparsityJob,
  salience: salienceJob,
  eventseq: eventSeqJob,
};
