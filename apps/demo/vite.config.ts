/**
 * Vite config of the demo. `@sift/*` resolve to the packages' TypeScript sources (as in vitest), so the site builds
 * without building the packages first; the tfjs wasm binaries are served and copied under `tfjs-wasm/`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');

/** The folder holding `tfjs-backend-wasm*.wasm`. */
function tfjsWasmDir(): string {
  const require = createRequire(join(here, 'package.json'));
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
}

/** Serves (dev) and emits (build) tfjs-backend-wasm's `.wasm` files as `tfjs-wasm/<name>.wasm`. */
export function tfjsWasmFiles(): Plugin {
  const dir = tfjsWasmDir();
  const files = readdirSync(dir).filter((f) => f.endsWith('.wasm'));
  return {
    name: 'sift-tfjs-wasm',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const m = /\/tfjs-wasm\/([^/?]+\.wasm)(\?|$)/.exec(req.url ?? '');
        const name = m?.[1];
        if (name === undefined || !files.includes(name)) {
          next();
          return;
        }
        res.setHeader('content-type', 'application/wasm');
        res.end(readFileSync(join(dir, name)));
      });
    },
    generateBundle() {
      for (const name of files) this.emitFile({ type: 'asset', fileName: `tfjs-wasm/${name}`, source: readFileSync(join(dir, name)) });
    },
  };
}

/** Node-only packages imported lazily by Sift packages. */
const NODE_ONLY = ['@duckdb/node-api'];

const STUB = '\0sift-node-only';

/**
 * Stands in for Node-only packages (`@duckdb/node-api`) in the bundle: `@sift/eventseq-ssl` loads DuckDB with a dynamic
 * `import()` only for file ingestion, which the site never runs. The stub keeps the native binaries out of the bundle;
 * importing it throws, so a caller would see the package's own "needs Node" error.
 */
export function nodeOnlyStubs(): Plugin {
  return {
    name: 'sift-node-only-stubs',
    enforce: 'pre',
    resolveId(id) {
      return NODE_ONLY.includes(id) ? STUB : null;
    },
    load(id) {
      return id === STUB ? "throw new Error('this package is Node only and is not part of the demo site');" : null;
    },
  };
}

const SIFT_PACKAGES = ['backend', 'tensor-core', 'lm', 'eval', 'nm-sparsity', 'salience', 'gift-sw', 'eventseq-ssl'];

export default defineConfig({
  root: here,
  // Relative asset URLs: the built site works from any folder of a static host.
  base: './',
  resolve: {
    alias: [
      ...SIFT_PACKAGES.map((p) => ({ find: new RegExp(`^@sift/${p}$`), replacement: join(root, 'packages', p, 'src/index.ts') })),
    ],
  },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
  },
  worker: { format: 'es', plugins: () => [nodeOnlyStubs()] },
  plugins: [tfjsWasmFiles(), nodeOnlyStubs()],
});
