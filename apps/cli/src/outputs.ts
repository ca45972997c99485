import { existsSync } from 'node:fs';
import { UsageError } from './config.js';

/**
 * Refuses to overwrite existing outputs unless `--force` was given. Outputs themselves are written atomically by the
 * libraries (temporary file, then rename), so an interrupted command never leaves a half-written file behind.
 */
export function checkOutputs(paths: readonly string[], force: boolean): void {
  if (force) return;
  const existing = paths.filter((p) => existsSync(p));
  if (existing.length > 0) {
    throw new UsageError(`${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; pass --force to overwrite, or choose another --out`);
  }
}
