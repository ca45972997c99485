/**
 * The compute worker: starts tfjs and a backend (`@sift/backend`) inside the worker, then runs one job at a time
 * from `WORKER_JOBS`, posting progress, the result, or the error. A `cancel` message makes the job's next
 * `ctx.checkpoint()` throw; the page terminates the worker if the job does not stop soon (see `runner.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { describeEnvironment, initBackend, type BackendInfo, type InitBackendOptions } from '@sift/backend';
import { errorInfo, progressWithEta, type FromWorker, type JobName, type ToWorker } from './protocol.js';
import { JobCancelled, WORKER_JOBS, type JobContext, type JobFn } from './worker-jobs.js';

/** The part of `DedicatedWorkerGlobalScope` used here (the DOM lib, not the WebWorker one, types this project). */
interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker): void => { scope.postMessage(m); };

let started: Promise<BackendInfo> | undefined;
const cancelled = new Set<number>();
/** Jobs run one after another, in arrival order. */
let queue: Promise<void> = Promise.resolve();

async function start(m: Extract<ToWorker, { type: 'init' }>): Promise<BackendInfo> {
  const options: InitBackendOptions = { wasmPaths: m.wasmPaths };
  // `describeEnvironment` tries every backend and restores the active one, so run it first, then start the choice.
  const environment = await describeEnvironment(options);
  const info = await initBackend(m.backend === 'auto' ? options : { ...options, prefer: [m.backend] });
  post({ type: 'ready', info, environment });
  return info;
}

async function run<J extends JobName>(id: number, job: J, params: Parameters<JobFn<J>>[0]): Promise<void> {
  const t0 = performance.now();
  const ctx: JobContext = {
    progress(fraction, message) {
      post({ type: 'progress', id, progress: progressWithEta(fraction, (performance.now() - t0) / 1000, message) });
    },
    async checkpoint() {
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (cancelled.has(id)) throw new JobCancelled(`job ${id} was cancelled`);
    },
  };
  try {
    if (started === undefined) throw new Error('the worker got a job before "init"');
    await started;
    const fn = WORKER_JOBS[job] as JobFn<J>;
    const before = tf.memory().numTensors;
    const result = await fn(params, ctx);
    const leaked = tf.memory().numTensors - before;
    if (leaked !== 0) console.warn(`job ${job} left ${leaked} tensor(s) allocated`);
    post({ type: 'result', id, job, result } as FromWorker);
  } catch (err) {
    post(err instanceof JobCancelled ? { type: 'cancelled', id } : { type: 'error', id, error: errorInfo(err) });
  } finally {
    cancelled.delete(id);
  }
}

scope.onmessage = (event) => {
  const m = event.data;
  switch (m.type) {
    case 'init':
      started = start(m);
      started.catch((err: unknown) => { post({ type: 'init-error', error: errorInfo(err) }); });
      break;
    case 'run':
      queue = queue.then(() => run(m.id, m.job, m.params));
      break;
    case 'cancel':
      cancelled.add(m.id);
      break;
  }
};
