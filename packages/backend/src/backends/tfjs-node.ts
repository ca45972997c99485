import { LoaderFailure, messageOf } from '../errors.js';
import { cpuSummary, isNode } from '../platform.js';
import type { BackendName } from '../types.js';
import type { BackendLoader, DeviceFacts } from './loader.js';

/**
 * Imports a module by a name held in a variable, so that bundlers and TypeScript do not try to resolve optional
 * packages that are usually absent. Replaced in tests to simulate a missing package.
 */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/**
 * Finds an installed package's folder, or `undefined` when it is not installed. Replaced in tests.
 */
export type PackageLocator = (pkg: string) => Promise<string | undefined>;

const defaultImporter: ModuleImporter = (specifier) => import(/* @vite-ignore */ specifier);

const defaultLocator: PackageLocator = async (pkg) => {
  const { createRequire } = await import('node:module');
  const path = await import('node:path');
  try {
    return path.dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    return undefined;
  }
};

/** Whether node-pre-gyp's binding (`lib/napi-v<N>/tfjs_binding.node`) exists in the package folder. */
async function hasBinding(dir: string): Promise<boolean> {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const lib = path.join(dir, 'lib');
  if (!fs.existsSync(lib)) return false;
  return fs.readdirSync(lib).some((d) => d.startsWith('napi-v') && fs.existsSync(path.join(lib, d, 'tfjs_binding.node')));
}

function installFix(pkg: string): string {
  const cuda = pkg.endsWith('-gpu') ? ', an NVIDIA driver with CUDA 11.2 and cuDNN 8.1' : '';
  return `pnpm add ${pkg}@4.22.0 on a machine with internet access${cuda}; its install script downloads libtensorflow ` +
    `(with pnpm, set allowBuilds: { '${pkg}': true } in pnpm-workspace.yaml)`;
}

/**
 * Loader factory for the two libtensorflow backends, which tfjs both registers as `tensorflow`.
 * The binding is looked for before importing: a failed import of tfjs-node leaves half its kernels registered and
 * floods the console on the next attempt.
 */
export function tfjsNodeLoader(
  name: Extract<BackendName, 'cuda' | 'tensorflow'>,
  importer: ModuleImporter = defaultImporter,
  locate: PackageLocator = defaultLocator,
): BackendLoader {
  const pkg = name === 'cuda' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  let failure: LoaderFailure | undefined;
  return {
    name,
    tfjsName: 'tensorflow',
    supported: isNode,
    async prepare(): Promise<void> {
      if (failure !== undefined) throw failure;
      const dir = await locate(pkg);
      if (dir === undefined) {
        failure = new LoaderFailure(name, `the optional package ${pkg} is not installed`, installFix(pkg));
      } else if (!(await hasBinding(dir))) {
        failure = new LoaderFailure(name,
          `${pkg} is installed but its native binding (lib/napi-v*/tfjs_binding.node) is missing: its install script did not run or could not download libtensorflow`,
          `reinstall it where its install script may run and reach the internet: ${installFix(pkg)}`);
      } else {
        try {
          await importer(pkg);
          return;
        } catch (err) {
          failure = new LoaderFailure(name, `${pkg} failed to load: ${messageOf(err).split('\n')[0] ?? ''}`, installFix(pkg));
        }
      }
      throw failure;
    },
    async describe(): Promise<DeviceFacts> {
      const device = name === 'cuda' ? 'CUDA GPU via libtensorflow (@tensorflow/tfjs-node-gpu)' : 'CPU via libtensorflow (@tensorflow/tfjs-node)';
      // libtensorflow sizes its intra-op thread pool to the logical cores.
      const { cores } = await cpuSummary();
      return { device, float16: false, simd: false, threads: cores, software: false };
    },
  };
}
