/** What `sift finetune` and `sift eventseq train` share to resume an interrupted run from `<out>/train-state/`. */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../config.js';

/** The folder, inside `--out`, of a run's snapshots (removed once the outputs are written). */
export const STATE_DIR = 'train-state';

/**
 * Refuses an output folder that holds an interrupted run unless `--resume` (continue it) or `--force` (start over:
 * its snapshots are removed). `what` names the run in the message, e.g. "fine-tuning run".
 */
export function checkInterrupted(out: string, o: { resume?: boolean; force?: boolean }, what: string): void {
  const dir = join(out, STATE_DIR);
  if (!existsSync(dir) || o.resume === true) return;
  if (o.force === true) rmSync(dir, { recursive: true, force: true });
  else throw new UsageError(`${out} holds an interrupted ${what} (${STATE_DIR}/); pass --resume to continue it or --force to start over`);
}

/** Compares the setup saved with a snapshot to this run's, key by key; a usage error names the first difference. */
export function checkSameSetup(out: string, was: Record<string, unknown> | undefined, now: Record<string, unknown>): void {
  const show = (v: unknown): string => {
    const t = v === undefined ? 'unset' : JSON.stringify(v);
    return t.length > 80 ? `${t.slice(0, 77)}...` : t;
  };
  for (const [key, value] of Object.entries(now)) {
    if (JSON.stringify(was?.[key]) !== JSON.stringify(value)) {
      throw new UsageError(`--resume: the interrupted run in ${out} had ${key} ${show(was?.[key])}, this one ${show(value)}; ` +
        'give the same options (and global --seed) as the interrupted run, or --force to start over');
    }
  }
}
