import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { perplexityCommand } from './lm.js';

/** Registers `sift eval ...`. */
export function registerEval(program: Command, ctx: CommandContext): void {
  const evalCmd = program.command('eval').description('Evaluate: perplexity of a language model (multiple choice and embedding probes arrive next).');
  perplexityCommand(evalCmd.command('ppl').description('Perplexity (and bits per byte) of a checkpoint on a Brown split, in non-overlapping windows.'), ctx)
    .addHelpText('after', '\nExamples:\n  $ sift eval ppl --model models/small\n  $ sift --json eval ppl --model models/small --split validation --seqlen 128');
}
