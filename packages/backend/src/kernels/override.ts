/**
 * Swapping a tfjs-backend-wasm kernel for Sift's wrapper of it, and back, through tfjs's kernel registry. The
 * original's setup function is kept, so a swap works before or after the backend starts.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A registered wasm kernel, or undefined when tfjs-backend-wasm is not imported (tf.getKernel's type omits that). */
export function wasmKernel(name: string): tf.KernelConfig | undefined {
  return tf.getKernel(name, 'wasm');
}

/** Install / uninstall / query one kernel override. */
export interface KernelOverride {
  /** Registers the wrapper (idempotent; a no-op when the kernel, or one the wrapper needs, is not registered). */
  install(): void;
  /** Restores the original kernel. */
  uninstall(): void;
  /** Whether the wrapper is the registered kernel. */
  installed(): boolean;
}

/**
 * An override of the wasm kernel `name`: `wrap` builds the replacement from the original (or returns null when a
 * kernel it needs is missing, and nothing is installed).
 */
export function wasmKernelOverride(name: string, wrap: (original: tf.KernelConfig) => tf.KernelFunc | null): KernelOverride {
  let original: tf.KernelConfig | null = null;
  return {
    install(): void {
      if (original !== null) return;
      const found = wasmKernel(name);
      const fn = found === undefined ? null : wrap(found);
      if (found === undefined || fn === null) return;
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel({ ...found, kernelFunc: fn });
      original = found;
    },
    uninstall(): void {
      if (original === null) return;
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel(original);
      original = null;
    },
    installed: () => original !== null,
  };
}
