/** True under Node.js (not in a browser or a web worker). */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions === 'object' && typeof process.versions.node === 'string';
}

interface NodeOs {
  cpus(): { model: string }[];
  platform(): string;
  arch(): string;
}

/** Node's `os` module, loaded lazily so that browser bundles never see it. */
export async function nodeOs(): Promise<NodeOs> {
  const os = (await import('node:os')) as unknown as { default?: NodeOs } & NodeOs;
  return os.default ?? os;
}

/** Logical cores and the CPU model. */
export async function cpuSummary(): Promise<{ cores: number; model: string; platform: string }> {
  if (isNode()) {
    const os = await nodeOs();
    const cpus = os.cpus();
    return { cores: cpus.length, model: cpus[0]?.model.trim() ?? 'unknown CPU', platform: `${os.platform()}-${os.arch()}` };
  }
  const cores = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency : 1;
  return { cores, model: 'browser CPU', platform: typeof navigator !== 'undefined' ? navigator.userAgent : 'unknown' };
}
