import * as tf from '@tensorflow/tfjs-core';
import type { BackendLoader } from './backends/loader.js';
import { LOADERS } from './backends/registry.js';
import { checkThreadsOption } from './backends/wasm-options.js';
import { BackendError, formatAttempts, LoaderFailure, messageOf } from './errors.js';
import { stopGramThreads } from './kernels/wasm-gram.js';
import { isNode } from './platform.js';
import { BACKEND_NAMES, type BackendAttempt, type BackendInfo, type BackendName, type InitBackendOptions } from './types.js';

/** The default order: Node `['cuda', 'webgpu', 'wasm', 'cpu']`, browser `['webgpu', 'wasm', 'cpu']`. */
export function defaultPreference(): BackendName[] {
  return isNode() ? ['cuda', 'webgpu', 'wasm', 'cpu'] : ['webgpu', 'wasm', 'cpu'];
}

function validateNames(prefer: readonly BackendName[]): void {
  if (prefer.length === 0) {
    throw new BackendError('E_BACKEND_UNKNOWN', `initBackend: prefer is empty; list at least one of ${BACKEND_NAMES.join(', ')}`);
  }
  for (const name of prefer) {
    if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
      throw new BackendError('E_BACKEND_UNKNOWN',
        `initBackend: unknown backend "${name}"; valid backends are ${BACKEND_NAMES.join(', ')}`);
    }
  }
}

/**
 * Activates one backend. tfjs's `setBackend` logs failures with console.warn and returns false, and some backends
 * fall back silently (wasm -> cpu): capture the warning as the reason, and check `tf.getBackend()` afterwards.
 */
export async function activate(loader: BackendLoader): Promise<void> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]): void => {
    warnings.push(args.map((a) => messageOf(a)).join(' '));
  };
  let ok: boolean;
  try {
    ok = await tf.setBackend(loader.tfjsName);
    await tf.ready();
  } catch (err) {
    ok = false;
    warnings.push(messageOf(err));
  } finally {
    console.warn = warn;
  }
  const active = tf.getBackend();
  if (!ok) {
    const why = warnings.filter((w) => !/^Initialization of backend \S+ failed$/.test(w.trim())).join('; ');
    throw new LoaderFailure(loader.name, `tfjs could not initialise the "${loader.tfjsName}" backend${why === '' ? '' : `: ${why}`}`);
  }
  if (active !== loader.tfjsName) {
    throw new LoaderFailure(loader.name, `tfjs reported success but fell back to "${active}"`);
  }
}

/**
 * Starts the first backend in `prefer` that works, and says what it got and what it skipped.
 *
 * @example
 * ```ts
 * import { initBackend } from '@sift/backend';
 * const info = await initBackend({ prefer: ['wasm', 'cpu'] });
 * console.log(info.name, info.device, info.threads);
 * ```
 * @throws BackendError `E_BACKEND_UNKNOWN` for a name that is not a backend; `E_BACKEND_OPTION` for an invalid option
 *   value (`threads` not an integer in [1, 64]); `E_BACKEND_UNAVAILABLE` when none of `prefer` can start, listing
 *   each reason and what to install.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const prefer = options.prefer ?? defaultPreference();
  validateNames(prefer);
  checkThreadsOption(options.threads);
  const explicit = prefer.length === 1;
  const fallbacks: BackendAttempt[] = [];
  for (const name of prefer) {
    const loader = LOADERS[name];
    try {
      if (!loader.supported()) {
        throw new LoaderFailure(name, `not available in this runtime (${isNode() ? 'Node' : 'browser'})`);
      }
      await loader.prepare(options, explicit);
      await activate(loader);
      loader.onActive?.();
      const facts = await loader.describe();
      return { name, tfjsName: loader.tfjsName, ...facts, fallbacks };
    } catch (err) {
      if (err instanceof LoaderFailure) {
        fallbacks.push(err.fix === undefined ? { name, reason: err.message } : { name, reason: err.message, fix: err.fix });
      } else {
        fallbacks.push({ name, reason: messageOf(err) });
      }
    }
  }
  const head = explicit
    ? `backend "${prefer[0] ?? ''}" cannot start`
    : `none of the backends [${prefer.join(', ')}] could start`;
  throw new BackendError('E_BACKEND_UNAVAILABLE', `${head}:\n${formatAttempts(fallbacks)}`, fallbacks);
}

/**
 * Disposes a started backend (its tensors and device memory) while keeping it startable again later.
 * The active backend becomes unset; the next tfjs op or `initBackend` call starts one again.
 */
export function disposeBackend(name: BackendName): void {
  const tfjsName = LOADERS[name].tfjsName;
  // tfjs types findBackendFactory as never null, but it returns null for an unregistered name.
  const factory = tf.findBackendFactory(tfjsName) as ReturnType<typeof tf.findBackendFactory> | null;
  if (factory === null) return;
  tf.removeBackend(tfjsName);
  if (name === 'wasm') stopGramThreads(); // its workers hold the old backend's memory
  // removeBackend also forgets the factory; register it again so that the backend can be started later.
  tf.registerBackend(tfjsName, factory, 1);
}
