import type { BackendInfo, BackendName, InitBackendOptions } from '../types.js';

/** What a loader reports about the device once its backend is active. */
export type DeviceFacts = Pick<BackendInfo, 'device' | 'float16' | 'simd' | 'threads' | 'software'>;

/**
 * One backend plugin: how to make tfjs able to start it, and how to describe it once started.
 * `prepare` throws a `LoaderFailure` (reason + fix) when the backend cannot start; it must not activate the backend.
 */
export interface BackendLoader {
  readonly name: BackendName;
  /** The name tfjs registers the backend under. */
  readonly tfjsName: string;
  /** Whether the backend exists in this runtime at all (e.g. `cuda` is Node only). */
  supported(): boolean;
  /**
   * Imports the tfjs backend package and does pre-flight checks.
   * @param explicit the caller asked for this backend alone, so slow-but-correct devices are acceptable
   */
  prepare(options: InitBackendOptions, explicit: boolean): Promise<void>;
  /** Called once the backend is active, to adjust it (optional). */
  onActive?(): void;
  /** Facts about the active backend's device. */
  describe(): Promise<DeviceFacts>;
}
