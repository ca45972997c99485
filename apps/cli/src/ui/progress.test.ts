import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration, renderBar } from './progress.js';
import type { Output } from './output.js';

describe('progress', () => {
  it('formats durations', () => {
    expect(formatDuration(5)).toBe('0:05');
    expect(formatDuration(125)).toBe('2:05');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Number.NaN)).toBe('--:--');
  });

  it('renders a bar with an ETA extrapolated from the elapsed time', () => {
    const line = renderBar({ stage: 'train', done: 25, total: 100, info: { loss: 3.2101 } }, 10, 20);
    expect(line).toBe('train [#####...............]  25%  25/100  ETA 0:30  loss 3.210');
    expect(renderBar({ stage: 'prune', done: 4, total: 4 }, 65, 4)).toBe('prune [####] 100%  4/4  in 1:05');
  });

  it('draws only on a TTY, throttled, and always the final state', () => {
    const lines: string[] = [];
    let t = 0;
    const tty: Output = { out: () => undefined, err: (l) => lines.push(l), isTTY: true };
    const p = createProgress(tty, { minIntervalMs: 100, now: () => t });
    for (let i = 1; i <= 10; i++) {
      t += 30;
      p.update({ stage: 's', done: i, total: 10 });
    }
    // 300 ms of updates at 30 ms spacing: the first draw, then one every >= 100 ms, plus the final one.
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.length).toBeLessThanOrEqual(5);
    expect(lines.at(-1)).toMatch(/100%\s+10\/10/);
    const quiet: string[] = [];
    const pipe: Output = { out: () => undefined, err: (l) => quiet.push(l), isTTY: false };
    const q = createProgress(pipe);
    q.update({ stage: 's', done: 1, total: 2 });
    q.finish();
    expect(quiet).toEqual([]);
  });
});
