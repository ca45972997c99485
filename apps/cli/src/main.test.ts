import { describe, expect, it } from 'vitest';
import { main } from './main.js';
import type { Output } from './ui/output.js';

function capture(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), isTTY: false };
}

describe('sift CLI', () => {
  it('doctor --json reports every backend and a default that starts', async () => {
    const io = capture();
    const code = await main(['node', 'sift', '--json', 'doctor'], io);
    expect(code).toBe(0);
    const report = JSON.parse(io.stdout.join('\n')) as { backends: { name: string; available: boolean }[]; defaultBackend: string };
    expect(report.backends.map((b) => b.name)).toEqual(['cuda', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
    expect(report.backends.find((b) => b.name === 'wasm')?.available).toBe(true);
    expect(['cuda', 'tensorflow', 'webgpu', 'wasm']).toContain(report.defaultBackend);
  });

  it('doctor prints a table with reasons and fixes', async () => {
    const io = capture();
    await main(['node', 'sift', 'doctor'], io);
    const text = io.stdout.join('\n');
    expect(text).toMatch(/backend\s+starts\s+device \/ reason/);
    expect(text).toMatch(/wasm\s+yes\s+.*WebAssembly, SIMD/);
    expect(text).toMatch(/Default backend: \w+/);
  });

  it('an unknown command is a usage error with the help hint, exit code 2', async () => {
    const io = capture();
    const code = await main(['node', 'sift', 'frobnicate'], io);
    expect(code).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/unknown command 'frobnicate'/);
  });

  it('a bad global option is a usage error naming the valid values', async () => {
    const io = capture();
    expect(await main(['node', 'sift', '--backend', 'tpu', 'doctor'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/--backend must be one of auto, cuda, tensorflow, webgpu, wasm, cpu, got "tpu"/);
  });

  it('--help lists doctor', async () => {
    const io = capture();
    const code = await main(['node', 'sift', '--help'], io);
    expect(code).toBe(0);
    expect(io.stdout.join('\n')).toMatch(/doctor/);
  });
});
