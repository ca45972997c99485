import type { Output } from './output.js';

/** What library progress callbacks report: a stage name and how far along it is. */
export interface ProgressEvent {
  stage: string;
  done: number;
  total: number;
  /** Extra fields to show (e.g. loss, tokens/s). */
  info?: Record<string, number | string>;
}

/** A progress display for one command. */
export interface Progress {
  /** Reports progress; redraws at most every `minIntervalMs`. */
  update(event: ProgressEvent): void;
  /** Finishes the current bar (prints its final state on a TTY). */
  finish(): void;
}

/** Formats seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function formatInfo(info: Record<string, number | string> | undefined): string {
  if (info === undefined) return '';
  return Object.entries(info)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4)) : v}`)
    .join('  ');
}

/**
 * Renders one line: `stage [#######.......] 45% 450/1000 ETA 0:45 loss 3.21`. The ETA extrapolates the rate since
 * the stage started.
 */
export function renderBar(event: ProgressEvent, elapsedSeconds: number, width = 24): string {
  const frac = event.total > 0 ? Math.min(1, event.done / event.total) : 0;
  const filled = Math.round(frac * width);
  const eta = event.done > 0 ? (elapsedSeconds * (event.total - event.done)) / event.done : Number.NaN;
  const parts = [
    `${event.stage} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}%`,
    `${event.done}/${event.total}`,
    event.done >= event.total ? `in ${formatDuration(elapsedSeconds)}` : `ETA ${formatDuration(eta)}`,
    formatInfo(event.info),
  ];
  return parts.filter((p) => p !== '').join('  ');
}

/**
 * A progress bar on standard error with an ETA, redrawn in place on a TTY. When standard error is not a TTY (CI,
 * pipes, `--json`, `--quiet`) it prints nothing.
 */
export function createProgress(io: Output, options: { enabled?: boolean; minIntervalMs?: number; now?: () => number } = {}): Progress {
  const enabled = (options.enabled ?? true) && io.isTTY;
  const minInterval = options.minIntervalMs ?? 100;
  const now = options.now ?? (() => performance.now());
  let stage: string | undefined;
  let stageStart = 0;
  let lastDraw = -Infinity;
  let last: ProgressEvent | undefined;
  let open = false;
  const draw = (e: ProgressEvent, final: boolean): void => {
    if (!enabled) return;
    const line = renderBar(e, (now() - stageStart) / 1000);
    io.err(`\r\x1b[2K${line}${final ? '' : '\x1b[1A'}`);
    open = !final;
  };
  return {
    update(e) {
      if (e.stage !== stage) {
        if (open && last !== undefined) draw(last, true);
        stage = e.stage;
        stageStart = now();
        lastDraw = -Infinity;
      }
      last = e;
      const t = now();
      if (t - lastDraw >= minInterval || e.done >= e.total) {
        lastDraw = t;
        draw(e, e.done >= e.total);
      }
    },
    finish() {
      if (open && last !== undefined) draw(last, true);
    },
  };
}
