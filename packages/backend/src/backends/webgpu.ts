import { LoaderFailure, messageOf } from '../errors.js';
import { isNode } from '../platform.js';
import type { InitBackendOptions } from '../types.js';
import type { BackendLoader, DeviceFacts } from './loader.js';
import type { ModuleImporter } from './tfjs-node.js';

/** The part of the `webgpu` (Dawn for Node) package Sift uses. */
interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/** What the active adapter was, recorded by `prepare` for `describe`. */
let adapterFacts: { description: string; float16: boolean; software: boolean } | undefined;
let nodeGpu: GPU | undefined;

const SOFTWARE_ARCHITECTURES = /swiftshader|llvmpipe|lavapipe|warp|software/i;

const NODE_FIX =
  'install the optional package `webgpu` (pnpm add webgpu) and a Vulkan driver; without a GPU on Linux, Debian\'s ' +
  'chromium ships SwiftShader: apt-get install chromium libvulkan1, then pass ' +
  "vulkanIcd: '/usr/lib/chromium/vk_swiftshader_icd.json' (or set VK_ICD_FILENAMES to it)";

/** Installs the Dawn globals and `navigator.gpu` in Node, once. */
async function nodeNavigatorGpu(options: InitBackendOptions, importer: ModuleImporter): Promise<GPU> {
  if (nodeGpu !== undefined) return nodeGpu;
  let dawn: DawnModule;
  try {
    dawn = (await importer('webgpu')) as DawnModule;
  } catch (err) {
    throw new LoaderFailure('webgpu', `the optional package \`webgpu\` (Dawn for Node) could not be loaded: ${messageOf(err).split('\n')[0] ?? ''}`, NODE_FIX);
  }
  // Dawn reads VK_ICD_FILENAMES when it creates its Vulkan instance, which happens in create().
  if (options.vulkanIcd !== undefined) process.env.VK_ICD_FILENAMES = options.vulkanIcd;
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  }
  nodeGpu = gpu;
  return gpu;
}

function browserGpu(): GPU {
  const gpu = typeof navigator === 'undefined' ? undefined : (navigator as { gpu?: GPU }).gpu;
  if (gpu === undefined) {
    throw new LoaderFailure('webgpu', 'this browser exposes no WebGPU (navigator.gpu is undefined)',
      'use a browser with WebGPU (Chrome/Edge 113+, Safari 26+, Firefox 141+) over https or localhost');
  }
  return gpu;
}

/** Factory so tests can replace the importer. */
export function webgpuLoader(importer: ModuleImporter = (s) => import(/* @vite-ignore */ s)): BackendLoader {
  return {
    name: 'webgpu',
    tfjsName: 'webgpu',
    supported: () => true,
    async prepare(options: InitBackendOptions, explicit: boolean): Promise<void> {
      const gpu = isNode() ? await nodeNavigatorGpu(options, importer) : browserGpu();
      // tfjs-backend-webgpu does not check for a null adapter: do it here, with a reason.
      const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (adapter === null) {
        throw new LoaderFailure('webgpu', 'no WebGPU adapter was found (requestAdapter() returned null)',
          isNode() ? NODE_FIX : 'enable hardware acceleration in the browser, or in headless Chromium pass --enable-unsafe-webgpu');
      }
      const info = adapter.info;
      const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
      const software = fallback || SOFTWARE_ARCHITECTURES.test(`${info.architecture} ${info.description}`);
      const description = [info.vendor, info.architecture, info.description].filter((s) => s !== '').join(' ') || 'unknown adapter';
      const allowSoftware = options.allowSoftwareAdapter ?? explicit;
      if (software && !allowSoftware) {
        throw new LoaderFailure('webgpu',
          `only a software WebGPU adapter is available (${description}); it is ~60x slower than wasm, so automatic choice skips it`,
          "ask for it explicitly: initBackend({ prefer: ['webgpu'] }) or allowSoftwareAdapter: true");
      }
      adapterFacts = { description, float16: adapter.features.has('shader-f16'), software };
      try {
        await import('@tensorflow/tfjs-backend-webgpu');
      } catch (err) {
        throw new LoaderFailure('webgpu', `could not import @tensorflow/tfjs-backend-webgpu: ${messageOf(err)}`,
          'install it: pnpm add @tensorflow/tfjs-backend-webgpu@4.22.0');
      }
    },
    describe(): Promise<DeviceFacts> {
      const facts = adapterFacts ?? { description: 'unknown adapter', float16: false, software: false };
      return Promise.resolve({
        device: `${facts.description} (WebGPU${facts.software ? ', software' : ''})`,
        float16: facts.float16,
        simd: false,
        threads: 1,
        software: facts.software,
      });
    },
  };
}
