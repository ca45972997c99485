/**
 * `@sift/testkit`: helpers for Sift's own tests (private, never published).
 * @packageDocumentation
 */
export { readmeOptionsTable, runReadmeExample, type ReadmeExampleOptions } from './readme.js';
export { skipBecause } from './skip.js';
