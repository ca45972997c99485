/**
 * `@sift/tensor-core`: the numeric base of Sift on `@tensorflow/tfjs-core` (never a backend): nn modules and
 * optimizers, linear algebra tfjs lacks, mergeable streaming statistics, safetensors I/O, and the seeded generator.
 * @packageDocumentation
 */
export { SiftError, fmtShape, type SiftErrorCode } from './errors.js';
export * from './random/index.js';
export * from './nn/index.js';
export * from './optim/index.js';
export * from './linalg/index.js';
export * from './stats/index.js';
export * from './io/index.js';
