/** A progress bar, status line and cancel button for one job at a time; labs share it. */
import { formatSeconds } from './format.js';
import { el } from './labs.js';
import type { JobName, JobParams, JobResult, Progress } from './protocol.js';
import { JobCancelledError, JobError, type WorkerRunner } from './runner.js';

/** The outcome of `JobControls.run`. */
export type JobOutcome<R> = { ok: true; result: R } | { ok: false; cancelled: boolean; error: Error & { code?: string | undefined } };

/** Progress UI bound to one runner. */
export class JobControls {
  readonly root: HTMLElement;
  private readonly bar: HTMLProgressElement;
  private readonly status: HTMLElement;
  private readonly cancelButton: HTMLButtonElement;
  private current: number | undefined;

  constructor(private readonly runner: WorkerRunner, testId: string) {
    this.bar = el('progress', { max: '1', value: '0', 'data-testid': `${testId}-progress` });
    this.status = el('span', { class: 'status', 'data-testid': `${testId}-status` }, 'idle');
    this.cancelButton = el('button', { type: 'button', 'data-testid': `${testId}-cancel` }, 'Cancel');
    this.cancelButton.disabled = true;
    this.cancelButton.addEventListener('click', () => {
      if (this.current !== undefined) {
        this.status.textContent = 'cancelling…';
        this.runner.cancel(this.current);
      }
    });
    this.root = el('div', { class: 'job' }, this.bar, this.cancelButton, this.status);
  }

  /** Whether a job started here is still running. */
  get running(): boolean {
    return this.current !== undefined;
  }

  /** Runs `job`, showing its progress; never throws (the outcome says what happened). */
  async run<J extends JobName>(job: J, params: JobParams<J>): Promise<JobOutcome<JobResult<J>>> {
    const { id, result } = this.runner.run(job, params, (p) => { this.show(p); });
    this.current = id;
    this.cancelButton.disabled = false;
    this.bar.value = 0;
    this.status.textContent = 'starting…';
    this.root.dataset.state = 'running';
    try {
      const r = await result;
      this.bar.value = 1;
      this.status.textContent = 'done';
      this.root.dataset.state = 'done';
      return { ok: true, result: r };
    } catch (err) {
      const cancelled = err instanceof JobCancelledError;
      const error = err instanceof Error ? err : new Error(String(err));
      this.status.textContent = cancelled ? 'cancelled' : `failed: ${error.message}`;
      this.root.dataset.state = cancelled ? 'cancelled' : 'failed';
      return { ok: false, cancelled, error: err instanceof JobError ? err : error };
    } finally {
      this.current = undefined;
      this.cancelButton.disabled = true;
    }
  }

  private show(p: Progress): void {
    this.bar.value = p.fraction;
    const eta = p.etaSeconds === undefined ? '' : ` · about ${formatSeconds(p.etaSeconds)} left`;
    this.status.textContent = `${Math.round(p.fraction * 100)}% · ${p.message}${eta}`;
  }
}
