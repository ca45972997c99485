import { Command, CommanderError } from 'commander';
import { registerDoctor } from './commands/doctor.js';
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
  registerDoctor(program, io, setExit);
  return program;
}

/**
 * Runs the CLI on `argv` (as `process.argv`: node, script, args...) and returns the exit code.
 * @example await main(['node', 'sift', 'doctor', '--json'])
 */
export async function main(argv: readonly string[], io: Output = processOutput): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => { code = c; });
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode;
    }
    io.err(`sift: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  return code;
}
