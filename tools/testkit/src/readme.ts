import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Extracts the first ```ts block of a package README, writes it under `<pkgDir>/.readme/` (git-ignored) and imports
 * it, so the example runs through vitest's transform with workspace aliases, exactly as written. Returns whatever the
 * module exports, for extra assertions.
 */
export async function runReadmeExample(pkgDir: string): Promise<Record<string, unknown>> {
  const text = readFileSync(join(pkgDir, 'README.md'), 'utf8');
  const match = /```ts\n([\s\S]*?)```/.exec(text);
  if (match?.[1] === undefined) throw new Error(`${pkgDir}/README.md has no \`\`\`ts example block`);
  const dir = join(pkgDir, '.readme');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'example.ts');
  writeFileSync(file, match[1]);
  return (await import(/* @vite-ignore */ `${pathToFileURL(file).href}?t=${Date.now()}`)) as Record<string, unknown>;
}
