import { describeEnvironment, type EnvironmentReport } from '@sift/backend';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import type { Output } from '../ui/output.js';
import { formatTable } from '../ui/table.js';

/** Options of `sift doctor`. */
export interface DoctorOptions {
  json?: boolean;
  vulkanIcd?: string;
}

/** Renders the environment report for a terminal. */
export function formatDoctor(env: EnvironmentReport): string {
  const rows = env.backends.map((b) => [
    b.name,
    b.available ? (b.software === true ? 'yes (software)' : 'yes') : 'no',
    b.available ? (b.device ?? '') : (b.reason ?? ''),
  ]);
  const lines = [
    `Sift doctor: ${env.runtime} ${env.runtimeVersion} on ${env.platform}, ${env.cpus} logical CPUs, tfjs-core ${env.tfjsVersion}`,
    '',
    formatTable(['backend', 'starts', 'device / reason'], rows),
  ];
  const fixes = env.backends.filter((b) => !b.available && b.fix !== undefined);
  if (fixes.length > 0) {
    lines.push('', 'To enable:');
    for (const b of fixes) lines.push(`  ${b.name}: ${b.fix ?? ''}`);
  }
  lines.push('', env.defaultBackend === undefined
    ? 'No backend can start: Sift cannot compute here.'
    : `Default backend: ${env.defaultBackend} (what \`initBackend()\` picks with no options).`);
  return lines.join('\n');
}

/** Runs `sift doctor`; returns the exit code (1 when no backend can start). */
export async function runDoctor(options: DoctorOptions, io: Output): Promise<number> {
  const env = await describeEnvironment(options.vulkanIcd === undefined ? {} : { vulkanIcd: options.vulkanIcd });
  io.out(options.json === true ? JSON.stringify(env, null, 2) : formatDoctor(env));
  return env.defaultBackend === undefined ? 1 : 0;
}

/** Registers `sift doctor` on the program. */
export function registerDoctor(program: Command, ctx: CommandContext): void {
  program
    .command('doctor')
    .description('Show which compute backends can start here, their devices, and how to enable the others.')
    .option('--vulkan-icd <path>', 'Vulkan ICD manifest for WebGPU in Node (e.g. /usr/lib/chromium/vk_swiftshader_icd.json)')
    .addHelpText('after', '\nExamples:\n  $ sift doctor\n  $ sift --json doctor\n  $ sift doctor --vulkan-icd /usr/lib/chromium/vk_swiftshader_icd.json')
    .action(async (opts: { vulkanIcd?: string }) => {
      ctx.setExit(await runDoctor({ ...opts, json: ctx.globals().json }, ctx.io));
    });
}
