import type { TestContext } from 'vitest';

/**
 * Skips the running test with a reason that is both printed (`[skip reason] ...`, which `pnpm test` points to) and
 * attached to the test result. Use only for a missing optional part: a GPU, a native binding, a system package.
 */
export function skipBecause(ctx: TestContext, reason: string): never {
  console.log(`[skip reason] ${reason}`);
  ctx.skip(reason);
  throw new Error('unreachable: ctx.skip throws');
}
