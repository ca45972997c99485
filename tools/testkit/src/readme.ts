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

/**
 * The `| option | default | meaning |` table documenting `constant` (e.g. `PRUNE_DEFAULTS`) in a README: the first
 * such table after the first heading that names it in backticks, else after its first mention. Returns option ->
 * default text (backticks removed), so a test can check that the README and the exported defaults agree.
 */
export function readmeOptionsTable(readme: string, constant: string): Map<string, string> {
  let at = readme.search(new RegExp(`^#+ .*\`${constant}\``, 'mu'));
  if (at < 0) at = readme.indexOf(`\`${constant}\``);
  if (at < 0) throw new Error(`README never names \`${constant}\``);
  const rest = readme.slice(at);
  const start = rest.indexOf('| option | default |');
  if (start < 0) throw new Error(`README has no "| option | default |" table after \`${constant}\``);
  const rows = new Map<string, string>();
  for (const line of rest.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    rows.set(cells[1].replace(/`/gu, ''), cells[2].replace(/`/gu, ''));
  }
  return rows;
}
