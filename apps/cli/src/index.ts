/**
 * `@sift/cli`: the `sift` command. The binary is `bin/sift.js`; `main` is exported for embedding and tests.
 * @packageDocumentation
 */
export { main, buildProgram } from './main.js';
export type { Output } from './ui/output.js';
