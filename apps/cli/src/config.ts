import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';

/** A config file's contents: global keys (backend, seed, ...) and one section per command path (`prune`, `lm: { train }`). */
export type ConfigFile = Record<string, unknown>;

/** Error in a config file or an option: printed as `sift: <message>`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Reads a JSON (`.json`) or YAML (`.yaml`, `.yml`) config file. */
export function loadConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config file ${path} is not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`config file ${path} must hold an object of options, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value as ConfigFile;
}

/** `--max-tokens` -> `maxTokens`, and kebab keys in config files too. */
function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The names of a command from the root down, without the program: `sift lm train` -> ['lm', 'train']. */
export function commandPath(cmd: Command): string[] {
  const names: string[] = [];
  let c = cmd;
  while (c.parent !== null) {
    names.unshift(c.name());
    c = c.parent;
  }
  return names;
}

/** The config section for a command path (`{ lm: { train: {...} } }` or a flat `"lm train": {...}`). */
export function sectionFor(config: ConfigFile, path: readonly string[]): Record<string, unknown> {
  const flat = config[path.join(' ')];
  if (flat !== undefined && typeof flat === 'object' && flat !== null) return flat as Record<string, unknown>;
  let node: unknown = config;
  for (const name of path) {
    if (node === null || typeof node !== 'object') return {};
    node = (node as Record<string, unknown>)[name];
  }
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>) : {};
}

/**
 * Fills a command's options from a config section where the command line did not set them: flags win, then the
 * config file, then defaults. Unknown keys are an error naming the valid options.
 */
export function applyConfigSection(cmd: Command, section: Record<string, unknown>, file: string): void {
  const known = new Map(cmd.options.map((o) => [o.attributeName(), o]));
  for (const [rawKey, value] of Object.entries(section)) {
    const key = camel(rawKey);
    if (!known.has(key)) {
      // Nested sections for subcommands are fine; anything else is a typo.
      if (value !== null && typeof value === 'object' && !Array.isArray(value) && cmd.commands.some((c) => c.name() === rawKey)) continue;
      throw new UsageError(`config file ${file}: unknown option "${rawKey}" for \`sift ${commandPath(cmd).join(' ')}\`; ` +
        `valid options: ${[...known.keys()].join(', ')}`);
    }
    const source = cmd.getOptionValueSource(key);
    if (source === 'cli' || source === 'env') continue;
    cmd.setOptionValueWithSource(key, value, 'config');
  }
}
