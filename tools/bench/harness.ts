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
