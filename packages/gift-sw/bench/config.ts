// Sizes of the gift-sw benchmarks, kept as data (STYLE.md). The stack is like @sift/lm's `small` preset: d = 256,
// 4 blocks, SwiGLU width 4d; k = 8 salient columns (~3% of d, the paper's ratio), LoRA at the same budget.

/** The transformer-like stack and the training batch (tokens = rows of x). */
export const STACK = { d: 256, hidden: 1024, blocks: 4, classes: 64, tokens: 128, k: 8, steps: 2 } as const;

/** The GPTQ layer: down_proj of that stack ([out, in] = [256, 1024]), 4 bits, block 128, k = 8. */
export const GPTQ_LAYER = { rows: 256, cols: 1024, k: 8, bits: 4, blockSize: 128, tokens: 2048, repeats: 3 } as const;
