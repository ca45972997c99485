/**
 * The page side of the compute worker: starts it on a backend, runs typed jobs with progress, cancels them
 * (cooperatively first, then by terminating and restarting the worker), and restarts on another backend.
 */
import type { BackendInfo, EnvironmentReport } from '@sift/backend';
import type { BackendChoice, ErrorInfo, FromWorker, JobName, JobParams, JobResult, Progress, ToWorker } from './protocol.js';

/** What the worker reported when it started. */
export interface WorkerReady {
  choice: BackendChoice;
  info: BackendInfo;
  environment: EnvironmentReport;
}

/** A job that failed in the worker; `code` is the `SiftError` / `BackendError` code when there is one. */
export class JobError extends Error {
  readonly code: string | undefined;
  constructor(info: ErrorInfo) {
    super(info.message);
    this.name = info.name;
    this.code = info.code;
  }
}

/** A job that was cancelled (`WorkerRunner.cancel`, a backend switch, or `dispose`). */
export class JobCancelledError extends Error {
  override readonly name: string = 'JobCancelledError';
}

/** How the worker is created; the default is the bundled `worker.ts`. */
export type WorkerFactory = () => Worker;

interface Pending {
  resolve(result: unknown): void;
  reject(err: Error): void;
  onProgress: ((p: Progress) => void) | undefined;
}

/** Options of `WorkerRunner`. */
export interface WorkerRunnerOptions {
  /** URL prefix (ending in `/`) the tfjs `.wasm` files are served from. */
  wasmPaths: string;
  /** Milliseconds a cancelled job gets to stop by itself before the worker is terminated. Default 500. */
  cancelGraceMs?: number;
  createWorker?: WorkerFactory;
}

const defaultWorker: WorkerFactory = () => new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'sift-compute' });

/** Runs `DemoJobs` in a Web Worker. One runner per page; labs share it. */
export class WorkerRunner {
  private worker: Worker | undefined;
  private readyPromise: Promise<WorkerReady> | undefined;
  private choice: BackendChoice = 'auto';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly options: Required<WorkerRunnerOptions>;

  constructor(options: WorkerRunnerOptions) {
    this.options = { cancelGraceMs: 500, createWorker: defaultWorker, ...options };
  }

  /** The backend choice the current worker was started with. */
  get backend(): BackendChoice {
    return this.choice;
  }

  /** Jobs sent and not yet finished. */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** (Re)starts the worker on `choice`; jobs still running are cancelled. Resolves when the backend is up. */
  start(choice: BackendChoice): Promise<WorkerReady> {
    this.stopWorker();
    this.choice = choice;
    const worker = this.options.createWorker();
    this.worker = worker;
    this.readyPromise = new Promise<WorkerReady>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const m = event.data;
        if (m.type === 'ready') resolve({ choice, info: m.info, environment: m.environment });
        else if (m.type === 'init-error') reject(new JobError(m.error));
        else this.onJobMessage(m);
      };
      worker.onerror = (event) => {
        const err = new Error(`the compute worker failed: ${event.message}`);
        reject(err);
        this.failAll(err);
      };
    });
    this.post({ type: 'init', backend: choice, wasmPaths: this.options.wasmPaths });
    return this.readyPromise;
  }

  /** Resolves when the current worker is ready (starting it on `auto` if none was started). */
  ready(): Promise<WorkerReady> {
    return this.readyPromise ?? this.start(this.choice);
  }

  /** Runs `job` in the worker. Returns its id (for `cancel`) and the result's promise. */
  run<J extends JobName>(job: J, params: JobParams<J>, onProgress?: (p: Progress) => void): { id: number; result: Promise<JobResult<J>> } {
    const id = this.nextId++;
    const result = new Promise<JobResult<J>>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
    });
    if (this.worker === undefined) void this.start(this.choice).catch(() => undefined);
    this.post({ type: 'run', id, job, params } as ToWorker);
    return { id, result };
  }

  /**
   * Cancels job `id`: asks the worker to stop at the job's next checkpoint; if the job has not stopped after
   * `cancelGraceMs` (a long kernel is running), terminates the worker and starts a fresh one on the same backend.
   */
  cancel(id: number): void {
    if (!this.pending.has(id)) return;
    this.post({ type: 'cancel', id });
    setTimeout(() => {
      if (!this.pending.has(id)) return;
      void this.start(this.choice).catch(() => undefined);
    }, this.options.cancelGraceMs);
  }

  /** Terminates the worker; running jobs are cancelled. */
  dispose(): void {
    this.stopWorker();
    this.readyPromise = undefined;
  }

  private post(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  private stopWorker(): void {
    if (this.worker === undefined) return;
    this.worker.terminate();
    this.worker = undefined;
    this.failAll(new JobCancelledError('cancelled: the worker was stopped'));
  }

  private failAll(err: Error): void {
    const jobs = [...this.pending.values()];
    this.pending.clear();
    for (const p of jobs) p.reject(err);
  }

  private onJobMessage(m: Exclude<FromWorker, { type: 'ready' | 'init-error' }>): void {
    const p = this.pending.get(m.id);
    if (p === undefined) return;
    switch (m.type) {
      case 'progress':
        p.onProgress?.(m.progress);
        return;
      case 'result':
        this.pending.delete(m.id);
        p.resolve(m.result);
        return;
      case 'error':
        this.pending.delete(m.id);
        p.reject(new JobError(m.error));
        return;
      case 'cancelled':
        this.pending.delete(m.id);
        p.reject(new JobCancelledError('cancelled'));
        return;
    }
  }
}
