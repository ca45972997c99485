// Shared by the command tests (excluded from the package: `!dist/**/*.test.*`).
import { main } from './main.js';
import type { Output } from './ui/output.js';

/** What one in-process `sift` run printed and returned. */
export interface SiftRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `sift <args>` in-process with captured stdout/stderr (not a TTY). */
export async function sift(...args: string[]): Promise<SiftRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: Output = { out: (l) => stdout.push(l), err: (l) => stderr.push(l), isTTY: false };
  const code = await main(['node', 'sift', ...args], io);
  return { code, out: stdout.join('\n'), err: stderr.join('\n') };
}
