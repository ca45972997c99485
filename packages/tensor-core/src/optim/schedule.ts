import { SiftError } from '../errors.js';

/**
 * A learning-rate schedule as plain, serializable data; `lrAt(schedule, step)` evaluates it. Steps count from 0
 * (the step about to be taken).
 */
export type LrSchedule =
  | { kind: 'constant'; lr: number }
  | { kind: 'warmup-cosine'; baseLr: number; warmupSteps: number; totalSteps: number; minLr: number }
  | { kind: 'step'; baseLr: number; stepSize: number; gamma: number };

function check(where: string, field: string, v: number, ok: boolean, want: string): void {
  if (!ok || !Number.isFinite(v)) throw new SiftError('E_CONFIG', `${where}: ${field} must be ${want}, got ${v}.`);
}

/** A constant learning rate. */
export function constantLr(lr: number): LrSchedule {
  check('constantLr', 'lr', lr, lr >= 0, '>= 0');
  return { kind: 'constant', lr };
}

/**
 * Linear warm-up then cosine decay to `minLr` (nanoGPT's schedule):
 * - step < warmupSteps: baseLr · (step + 1) / warmupSteps (never 0; reaches baseLr at step warmupSteps − 1);
 * - warmupSteps ≤ step < totalSteps: minLr + (baseLr − minLr) · ½(1 + cos(π · (step − warmupSteps) / (totalSteps − warmupSteps)));
 * - step ≥ totalSteps: minLr.
 */
export function warmupCosine(options: { baseLr: number; warmupSteps?: number; totalSteps: number; minLr?: number }): LrSchedule {
  const { baseLr, warmupSteps = 0, totalSteps, minLr = 0 } = options;
  const w = 'warmupCosine';
  check(w, 'baseLr', baseLr, baseLr >= 0, '>= 0');
  check(w, 'minLr', minLr, minLr >= 0 && minLr <= baseLr, 'in [0, baseLr]');
  check(w, 'warmupSteps', warmupSteps, Number.isInteger(warmupSteps) && warmupSteps >= 0, 'an integer >= 0');
  check(w, 'totalSteps', totalSteps, Number.isInteger(totalSteps) && totalSteps > warmupSteps, `an integer > warmupSteps (${warmupSteps})`);
  return { kind: 'warmup-cosine', baseLr, warmupSteps, totalSteps, minLr };
}

/** Step decay (PyTorch's `StepLR`): baseLr · gamma^⌊step / stepSize⌋. */
export function stepDecay(options: { baseLr: number; stepSize: number; gamma?: number }): LrSchedule {
  const { baseLr, stepSize, gamma = 0.1 } = options;
  check('stepDecay', 'baseLr', baseLr, baseLr >= 0, '>= 0');
  check('stepDecay', 'stepSize', stepSize, Number.isInteger(stepSize) && stepSize > 0, 'a positive integer');
  check('stepDecay', 'gamma', gamma, gamma > 0, '> 0');
  return { kind: 'step', baseLr, stepSize, gamma };
}

/**
 * The learning rate of `schedule` at `step` (0-based).
 * @example
 * const s = warmupCosine({ baseLr: 3e-4, warmupSteps: 100, totalSteps: 2000, minLr: 3e-5 });
 * lrAt(s, 0); // 3e-6
 */
export function lrAt(schedule: LrSchedule, step: number): number {
  if (!(Number.isInteger(step) && step >= 0)) throw new SiftError('E_CONFIG', `lrAt: step must be an integer >= 0, got ${step}.`);
  switch (schedule.kind) {
    case 'constant':
      return schedule.lr;
    case 'step':
      return schedule.baseLr * Math.pow(schedule.gamma, Math.floor(step / schedule.stepSize));
    case 'warmup-cosine': {
      const { baseLr, warmupSteps, totalSteps, minLr } = schedule;
      if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
      if (step >= totalSteps) return minLr;
      const p = (step - warmupSteps) / (totalSteps - warmupSteps);
      return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * p));
    }
  }
}

/** Checks a schedule that came from JSON (a saved training state); returns it typed. */
export function parseLrSchedule(value: unknown): LrSchedule {
  const v = value as Partial<Record<string, unknown>> | null;
  const num = (k: string): number => (typeof v?.[k] === 'number' ? v[k] : NaN);
  switch (v?.kind) {
    case 'constant':
      return constantLr(num('lr'));
    case 'warmup-cosine':
      return warmupCosine({ baseLr: num('baseLr'), warmupSteps: num('warmupSteps'), totalSteps: num('totalSteps'), minLr: num('minLr') });
    case 'step':
      return stepDecay({ baseLr: num('baseLr'), stepSize: num('stepSize'), gamma: num('gamma') });
    default:
      throw new SiftError('E_CONFIG', `unknown LR schedule ${JSON.stringify(value)}; kinds: constant, warmup-cosine, step.`);
  }
}
