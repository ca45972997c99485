/** Formatting helpers shared by the labs. */

/** Bytes in binary units: `1.50 MiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(2)} ${units[u] ?? ''}`;
}

/** Seconds as `8.3 ms`, `0.42 s`, `4.2 s`, `12 s`, `3 min 05 s`. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 0.1) return `${(s * 1000).toFixed(1)} ms`;
  if (s < 1) return `${s.toFixed(2)} s`;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, '0')} s`;
}

/** A shape as `[768, 3072]` (`[]` for a scalar). */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A count with thousands separators: `124,439,808`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
