/**
 * The shared benchmark harness. A benchmark file (`packages/<pkg>/bench/*.bench.ts`) default-exports an async
 * function returning rows; each row puts Sift's figure beside a reference measured in the same run, so the ratio
 * survives a noisy machine.
 */
export interface BenchRow {
  /** What is measured, e.g. "matmul 512^3". */
  name: string;
  /** Sift's figure. */
  value: number;
  /** Its unit, e.g. "GFLOP/s" or "ms". */
  unit: string;
  /** The reference it is compared with, e.g. "cpu backend". */
  reference: string;
  /** The reference's figure, in the same unit. */
  referenceValue: number;
  /** Whether larger is better for this unit (GFLOP/s: true; ms: false). */
  higherIsBetter: boolean;
}

export type BenchFile = () => Promise<BenchRow[]>;

/** Median wall time in milliseconds of `fn` over `repeats` runs, after `warmup` runs. */
export async function medianMs(fn: () => unknown, { warmup = 1, repeats = 5 } = {}): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

/** What a Python reference run returned: its parsed JSON output, or why there is none. */
export type PythonResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const PYTHON = '/usr/bin/python3';
let pythonReady: PythonResult<null> | undefined;

/**
 * Whether Debian's Python with torch and numpy is there for same-run references. `pnpm bench` (tools/bench/run.mjs)
 * installs the missing Debian packages with apt-get before any benchmark runs, or says why it could not; here a
 * benchmark only checks, and reports its row without a reference when they are still missing.
 */
export async function ensurePythonTorch(): Promise<PythonResult<null>> {
  if (pythonReady !== undefined) return pythonReady;
  const { spawnSync } = await import('node:child_process');
  if (spawnSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0) return (pythonReady = { ok: true, value: null });
  const reason = `PyTorch reference unavailable: ${PYTHON} lacks torch/numpy and \`pnpm bench\` could not install ` +
    'python3-torch python3-numpy (see its first lines); install them to get the reference column';
  process.stderr.write(`bench: ${reason}\n`);
  return (pythonReady = { ok: false, reason });
}

/**
 * Runs a Python reference script with Debian's interpreter (after `ensurePythonTorch`) and parses the last stdout
 * line as JSON. `threads` sets OMP/OpenBLAS threads (default: all cores, as PyTorch would use).
 */
export async function runPython<T>(script: string, args: readonly string[] = [], threads?: number): Promise<PythonResult<T>> {
  const ready = await ensurePythonTorch();
  if (!ready.ok) return ready;
  const { spawnSync } = await import('node:child_process');
  const env = threads === undefined ? process.env : { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const r = spawnSync(PYTHON, [script, ...args], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    const last = (r.stderr || '').trim().split('\n').pop() ?? '';
    return { ok: false, reason: `python ${script} failed (exit ${String(r.status)}): ${last}` };
  }
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return { ok: true, value: JSON.parse(line) as T };
  } catch {
    return { ok: false, reason: `python ${script} printed no JSON on its last line: ${line.slice(0, 200)}` };
  }
}
