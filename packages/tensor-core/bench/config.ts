// Sizes and repeats of the tensor-core benchmarks, kept as data (STYLE.md: "benchmark configs kept as data").

/** Matrix sizes d of the linear-algebra benchmarks (GPT-2 small's width, a 2k model, Llama-7B's width). */
export const LINALG_SIZES: readonly number[] = [768, 2048, 4096];

/** Timed repeats (after one warm-up run) per size; one cold run at d = 4096, where a float64 inverse takes ~30 s. */
export function linalgRepeats(d: number): { warmup: number; repeats: number } {
  return d <= 768 ? { warmup: 1, repeats: 5 } : d <= 2048 ? { warmup: 1, repeats: 1 } : { warmup: 0, repeats: 1 };
}

/** Block size of the float32 path (its default). */
export const FLOAT32_BLOCK = 256;

/** Gram accumulation: a stream of `batches` activation batches [tokens, d] (SparseGPT's 128 × 2048 tokens, in slices). */
export const GRAM_STREAM = { tokens: 2048, d: 4096, batches: 3 } as const;
