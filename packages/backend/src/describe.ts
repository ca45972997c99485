import * as tf from '@tensorflow/tfjs-core';
import { LoaderFailure, messageOf } from './errors.js';
import { initBackend } from './init.js';
import { cpuSummary, isNode } from './platform.js';
import { BACKEND_NAMES, type BackendName, type BackendStatus, type EnvironmentReport, type InitBackendOptions } from './types.js';

/**
 * Tries every backend and reports which can start, their devices, and why the others cannot. Restores the backend
 * that was active before the call. This is what `sift doctor` prints.
 *
 * @param options passed to each start (e.g. `vulkanIcd`); each backend is tried alone, so software adapters count.
 */
export async function describeEnvironment(options: Omit<InitBackendOptions, 'prefer'> = {}): Promise<EnvironmentReport> {
  const previous = tf.getBackend() as string | undefined;
  const backends: BackendStatus[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      const info = await initBackend({ ...options, prefer: [name] });
      backends.push({
        name, available: true, device: info.device, simd: info.simd, threads: info.threads,
        float16: info.float16, software: info.software,
      });
    } catch (err) {
      const attempt = (err as { attempts?: { reason: string; fix?: string }[] }).attempts?.[0];
      const status: BackendStatus = { name, available: false, reason: attempt?.reason ?? messageOf(err) };
      if (attempt?.fix !== undefined) status.fix = attempt.fix;
      else if (err instanceof LoaderFailure && err.fix !== undefined) status.fix = err.fix;
      backends.push(status);
    }
  }
  if (previous !== undefined && previous !== tf.getBackend()) await tf.setBackend(previous);
  const { cores, platform } = await cpuSummary();
  // What the default preference would pick: the first available, skipping software adapters (as initBackend does).
  const order: BackendName[] = isNode() ? ['cuda', 'webgpu', 'wasm', 'cpu'] : ['webgpu', 'wasm', 'cpu'];
  const defaultBackend = order.find((n) => backends.some((b) => b.name === n && b.available && b.software !== true));
  const report: EnvironmentReport = {
    runtime: isNode() ? 'node' : 'browser',
    runtimeVersion: isNode() ? process.version : navigator.userAgent,
    platform,
    cpus: cores,
    tfjsVersion: tf.version_core,
    backends,
  };
  if (defaultBackend !== undefined) report.defaultBackend = defaultBackend;
  return report;
}
