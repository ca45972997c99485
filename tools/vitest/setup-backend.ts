/**
 * Vitest setup file: starts the backend named by SIFT_TEST_BACKEND (default wasm; set per project in
 * vitest.workspace.ts) before the project's tests run, and fails loudly if it cannot, instead of letting tfjs fall
 * back to another backend. Tests run wasm on one thread (SIFT_TEST_THREADS overrides): their ops are small, where
 * the threaded binary's dispatch costs more than it saves; the threaded path has its own tests in @sift/backend.
 */
import { initBackend, type BackendName } from '@sift/backend';

const wanted = (process.env.SIFT_TEST_BACKEND ?? 'wasm') as BackendName;
const threads = Number(process.env.SIFT_TEST_THREADS ?? 1);
const info = await initBackend({ prefer: [wanted], threads });
if (info.name !== wanted) throw new Error(`test setup: asked for ${wanted}, got ${info.name}`);
