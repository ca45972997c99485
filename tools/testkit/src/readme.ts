import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Which example of a README to run. */
export interface ReadmeExampleOptions {
  /**
   * A heading line, e.g. `'## safetensors I/O'`: run the first ```ts block after it. Default: the README's first
   * ```ts block.
   */
  section?: string;
}

/**
 * Extracts a ```ts block of a package README (its first, or the first of a section), writes it under
 * `<pkgDir>/.readme/` (git-ignored) and imports it, so the example runs through vitest's transform with workspace
 * aliases, exactly as written. Returns whatever the module exports, for extra assertions.
 */
export async function runReadmeExample(pkgDir: string, options: ReadmeExampleOptions = {}): Promise<Record<string, unknown>> {
  const text = readFileSync(join(pkgDir, 'README.md'), 'utf8');
  const at = options.section === undefined ? 0 : text.indexOf(options.section);
  const where = options.section === undefined ? '' : ` in its "${options.section}" section`;
  const match = at < 0 ? null : /```ts\n([\s\S]*?)```/.exec(text.slice(at));
  if (match?.[1] === undefined) throw new Error(`${pkgDir}/README.md has no \`\`\`ts example block${where}`);
  const dir = join(pkgDir, '.readme');
  mkdirSync(dir, { recursive: true });
  // One file per section and per vitest project: a package's projects (wasm, cpu) run in parallel.
  const slug = (options.section ?? 'example').replace(/[^a-z0-9]+/giu, '-').replace(/^-|-$/gu, '').toLowerCase();
  const file = join(dir, `${slug}-${process.env.SIFT_TEST_BACKEND ?? 'default'}.ts`);
  writeFileSync(file, match[1]);
  return (await import(/* @vite-ignore */ `${pathToFileURL(file).href}?t=${Date.now()}`)) as Record<string, unknown>;
}
