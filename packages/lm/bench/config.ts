/** Sizes of the lm benchmarks (kept as data, STYLE.md): the `small` preset, a few steps only (< 2 min in all). */
export const TRAIN_BENCH = {
  preset: 'small',
  /** A BPE vocabulary as the preset's; ids are random (throughput does not depend on the text). */
  vocabSize: 4096,
  batchSize: 8,
  seqLen: 128,
  warmupSteps: 1,
  steps: 3,
  promptTokens: 16,
  newTokens: 32,
  /** Generation runs, on both sides: warm-up (JIT) and timed (median). */
  genWarmup: 2,
  genRepeats: 5,
  seed: 7,
} as const;
