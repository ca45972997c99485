import { initBackend, type BackendInfo, type BackendName } from '@sift/backend';
import type { Command } from 'commander';
import { setHostThreads } from '@sift/tensor-core';
import { UsageError } from './config.js';
import type { Output } from './ui/output.js';
import { createProgress, type Progress } from './ui/progress.js';

/** Options every command accepts (set on the program, before the command name, or in the config file's top level). */
export interface GlobalOptions {
  /** Backend to compute on; `auto` tries cuda, webgpu, wasm, cpu. */
  backend: BackendName | 'auto';
  /** Seed for everything random. */
  seed: number;
  /** Print machine-readable JSON on stdout instead of tables. */
  json: boolean;
  /** No progress bars or informational lines. */
  quiet: boolean;
  /** Print the stack trace of an error. */
  verbose: boolean;
  /** wasm threads and host linear-algebra threads (default: all cores). */
  threads?: number;
  /** Config file (JSON or YAML). */
  config?: string;
}

/** What a command's action gets: where to write, the global options, and helpers. */
export interface CommandContext {
  io: Output;
  /** The global options, merged from flags and the config file. */
  globals(): GlobalOptions;
  /** Sets the process exit code. */
  setExit(code: number): void;
  /** A progress bar on stderr (silent when not a TTY, with --json or --quiet). */
  progress(): Progress;
  /** Starts the backend the user asked for and says which one started (on stderr). */
  startBackend(): Promise<BackendInfo>;
  /** Informational line on stderr (suppressed by --quiet and --json). */
  info(line: string): void;
}

/** Parses an integer option, with the option's name in the error. */
export function parseIntOption(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw new UsageError(`${name} must be an integer, got "${value}"`);
    return n;
  };
}

/** Builds the context for a program whose global options are defined by `addGlobalOptions`. */
export function createContext(program: Command, io: Output, setExit: (code: number) => void): CommandContext {
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const quiet = (): boolean => globals().quiet || globals().json;
  return {
    io,
    globals,
    setExit,
    progress: () => createProgress(io, { enabled: !quiet() }),
    info: (line) => {
      if (!quiet()) io.err(line);
    },
    async startBackend() {
      const g = globals();
      const opts: Parameters<typeof initBackend>[0] = {};
      if (g.backend !== 'auto') opts.prefer = [g.backend];
      if (g.threads !== undefined) (opts as { threads?: number }).threads = g.threads;
      // The host float64 linear algebra (SparseGPT's and GPTQ's H⁻¹ and block updates) follows --threads too.
      setHostThreads(g.threads ?? 'auto');
      const info = await initBackend(opts);
      if (!quiet()) {
        io.err(`backend: ${info.name} (${info.device})`);
        for (const f of info.fallbacks) io.err(`  skipped ${f.name}: ${f.reason}`);
      }
      return info;
    },
  };
}

const BACKENDS = ['auto', 'cuda', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/** Adds the global options to the program. */
export function addGlobalOptions(program: Command): Command {
  return program
    .option('--backend <name>', `compute backend: ${BACKENDS.join(', ')}`, (v) => {
      if (!BACKENDS.includes(v)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got "${v}"`);
      return v;
    }, 'auto')
    .option('--seed <n>', 'seed for everything random', parseIntOption('--seed'), 0)
    .option('--threads <n>', 'wasm and host linear-algebra threads (default: all cores)', parseIntOption('--threads'))
    .option('--json', 'print machine-readable JSON on stdout', false)
    .option('--quiet', 'no progress bars or informational lines', false)
    .option('--verbose', 'print stack traces of errors', false)
    .option('--config <file>', 'read options from a JSON or YAML file (flags win)');
}
