import type { BackendAttempt, BackendName } from './types.js';

/**
 * Error codes of `BackendError`: an unknown backend name, no backend could start, or an invalid option value
 * (e.g. `threads: 0`).
 */
export type BackendErrorCode = 'E_BACKEND_UNKNOWN' | 'E_BACKEND_UNAVAILABLE' | 'E_BACKEND_OPTION';

/**
 * A backend could not start. `attempts` lists each backend that was tried with its reason and fix, so callers
 * (and `sift doctor`) can show them.
 */
export class BackendError extends Error {
  override readonly name = 'BackendError';
  readonly code: BackendErrorCode;
  readonly attempts: BackendAttempt[];

  constructor(code: BackendErrorCode, message: string, attempts: BackendAttempt[] = []) {
    super(message);
    this.code = code;
    this.attempts = attempts;
  }
}

/** Formats attempts as `"  - wasm: reason. Fix: ..."` lines. */
export function formatAttempts(attempts: readonly BackendAttempt[]): string {
  return attempts
    .map((a) => `  - ${a.name}: ${a.reason}${a.fix === undefined ? '' : `\n      fix: ${a.fix}`}`)
    .join('\n');
}

/** A failure inside one backend loader: carries the fix to suggest. */
export class LoaderFailure extends Error {
  override readonly name = 'LoaderFailure';
  readonly backend: BackendName;
  readonly fix: string | undefined;
  constructor(backend: BackendName, reason: string, fix?: string) {
    super(reason);
    this.backend = backend;
    this.fix = fix;
  }
}

/** The message of anything thrown, without a stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err) {
    const m = err.message;
    if (typeof m === 'string') return m;
  }
  return String(err);
}
