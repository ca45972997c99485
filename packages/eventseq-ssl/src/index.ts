/**
 * `@sift/eventseq-ssl`: self-supervised learning on event sequences (MLEM, arXiv:2401.15935, and its baselines).
 * This entry exports the data layer (`data/`); encoders (`nn/`) and methods (`methods/`) are exported beside it.
 * @packageDocumentation
 */
export * from './data/index.js';
