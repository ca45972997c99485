import { Command, CommanderError } from 'commander';
import { registerDemo } from './commands/demo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEval } from './commands/eval.js';
import { registerEventseq } from './commands/eventseq.js';
import { registerFinetune } from './commands/finetune.js';
import { registerLm } from './commands/lm.js';
import { registerPrune } from './commands/prune.js';
import { registerQuantize } from './commands/quantize.js';
import { applyConfigSection, commandPath, loadConfig, sectionFor, UsageError, type ConfigFile } from './config.js';
import { addGlobalOptions, createContext } from './context.js';
import { processOutput, type Output } from './ui/output.js';

/**
 * Builds the `sift` program. Commands write through `io` so that tests can capture them.
 */
export function buildProgram(io: Output, setExit: (code: number) => void): Command {
  const program = new Command('sift')
    .description('Sift: N:M sparsity, GIFT-SW fine-tuning and event-sequence self-supervised learning on TensorFlow.js')
    .version('0.1.0')
    .configureOutput({ writeOut: (s) => { io.out(s.trimEnd()); }, writeErr: (s) => { io.err(s.trimEnd()); } })
    .exitOverride()
    .showHelpAfterError();
  addGlobalOptions(program);
  // Options from --config: the file's top level fills global options, its sections fill each command's.
  program.hook('preAction', (root, action) => {
    const file = root.opts<{ config?: string }>().config;
    if (file === undefined) return;
    const config: ConfigFile = loadConfig(file);
    const globals: Record<string, unknown> = {};
    for (const o of root.options) {
      const k = o.attributeName();
      if (k in config) globals[k] = config[k];
    }
    applyConfigSection(root, globals, file);
    applyConfigSection(action, sectionFor(config, commandPath(action)), file);
  });
  const ctx = createContext(program, io, setExit);
  registerDoctor(program, ctx);
  registerLm(program, ctx);
  registerPrune(program, ctx);
  registerQuantize(program, ctx);
  registerFinetune(program, ctx);
  registerEventseq(program, ctx);
  registerDemo(program, ctx);
  registerEval(program, ctx);
  return program;
}

/**
 * Runs the CLI on `argv` (as `process.argv`: node, script, args...) and returns the exit code: 0 success, 1 a failure
 * while running, 2 a usage error (bad flag, bad config file).
 * @example await main(['node', 'sift', 'doctor', '--json'])
 */
export async function main(argv: readonly string[], io: Output = processOutput): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => { code = c; });
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0; unknown commands and bad flags with 1.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      io.err(`sift: ${err.message}`);
      return 2;
    }
    // One clear sentence (library errors name the problem and the fix); the stack only with --verbose.
    io.err(`sift: ${err instanceof Error ? err.message : String(err)}`);
    if (program.opts<{ verbose?: boolean }>().verbose === true && err instanceof Error && err.stack !== undefined) io.err(err.stack);
    return 1;
  }
  return code;
}
