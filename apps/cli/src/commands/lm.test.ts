import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sift } from '../cli.test-util.js';

const pkgDir = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sift-cli-lm-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface TrainJson { training: { steps: number; valPerplexity: number | null; history: { step: number; loss: number }[] } }

const TRAIN = ['lm', 'train', '--preset', 'tiny', '--steps', '30', '--batch-size', '2', '--checkpoint-every', '5', '--genres', 'humor'];

describe('sift lm', () => {
  it('train, a killed run resumed with --resume ends exactly as an uninterrupted one; generate and eval read the result', async () => {
    const a = join(dir, 'a');
    const whole = await sift('--json', '--quiet', ...TRAIN, '--out', a);
    expect(whole.code, whole.err).toBe(0);
    const ref = JSON.parse(whole.out) as TrainJson;
    expect(ref.training.steps).toBe(30);

    // The same run in a child process, killed (SIGKILL) once a training checkpoint is on disk, then resumed.
    const b = join(dir, 'b');
    expect(existsSync(join(pkgDir, 'dist/index.js')), 'dist/ is missing: run `pnpm build` first').toBe(true);
    const child = spawn(process.execPath, [join(pkgDir, 'bin/sift.js'), '--quiet', ...TRAIN, '--out', b], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
    const state = join(b, 'train-state');
    for (let i = 0; i < 600 && !(existsSync(state) && readdirSync(state).length > 0); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    const code = await exited;
    expect(code, 'the run finished before it could be killed; make it longer').toBeNull();
    expect(existsSync(join(b, 'model.safetensors'))).toBe(false);

    const refused = await sift(...TRAIN, '--out', b);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/pass --resume to continue it or --force to start over/);
    const resumed = await sift('--json', '--quiet', ...TRAIN, '--out', b, '--resume');
    expect(resumed.code, resumed.err).toBe(0);
    const got = JSON.parse(resumed.out) as TrainJson;
    expect(got.training.steps).toBe(30);
    expect(got.training.history.at(-1)).toEqual(ref.training.history.at(-1));
    expect(got.training.valPerplexity).toBe(ref.training.valPerplexity);

    const gen = await sift('--json', '--quiet', '--seed', '3', 'lm', 'generate', '--model', a, '--prompt', 'The', '--max-new-tokens', '5', '--sample', '--top-k', '20');
    expect(gen.code, gen.err).toBe(0);
    const g1 = JSON.parse(gen.out) as { tokens: number; completion: string };
    expect(g1.tokens).toBe(5);
    const again = await sift('--json', '--quiet', '--seed', '3', 'lm', 'generate', '--model', a, '--prompt', 'The', '--max-new-tokens', '5', '--sample', '--top-k', '20');
    expect((JSON.parse(again.out) as { completion: string }).completion).toBe(g1.completion); // seeded

    const ppl = await sift('--json', '--quiet', 'eval', 'ppl', '--model', a, '--split', 'validation', '--genres', 'humor', '--seqlen', '64');
    expect(ppl.code, ppl.err).toBe(0);
    const report = JSON.parse(ppl.out) as { perplexity: number; bitsPerByte: number; tokens: number };
    expect(report.perplexity).toBeGreaterThan(1);
    expect(report.perplexity).toBeLessThan(257); // better than uniform over bytes after 30 steps
    // Byte tokenizer: one token per byte, but for the <|endoftext|> between documents (1 in ~2000 tokens here).
    expect(Math.abs(report.bitsPerByte / Math.log2(report.perplexity) - 1)).toBeLessThan(0.01);
  });

  it('usage errors exit 2 and name the fix', async () => {
    const cases: [string[], RegExp][] = [
      [['lm', 'train', '--preset', 'huge', '--out', join(dir, 'x')], /--preset must be one of tiny, small, small-half/],
      [['lm', 'train', '--preset', 'tiny', '--steps', 'ten', '--out', join(dir, 'x')], /--steps must be an integer/],
      [['eval', 'ppl', '--model', join(dir, 'a'), '--split', 'dev'], /--split must be one of train, validation, test/],
      [['lm', 'generate', '--model', join(dir, 'a')], /required option '--prompt <text>' not specified/],
    ];
    for (const [args, message] of cases) {
      const r = await sift(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
    // A missing or incomplete checkpoint folder is a usage error in every command that reads one.
    for (const args of [['lm', 'generate', '--prompt', 'x'], ['lm', 'eval'], ['eval', 'ppl']]) {
      const missing = await sift(...args, '--model', join(dir, 'nope'));
      expect(missing.code, args.join(' ')).toBe(2);
      expect(missing.err).toMatch(/--model .*nope is not a folder; give a checkpoint folder written by `sift lm train`/);
    }
    mkdirSync(join(dir, 'empty'));
    const partial = await sift('lm', 'generate', '--prompt', 'x', '--model', join(dir, 'empty'));
    expect(partial.code).toBe(2);
    expect(partial.err).toMatch(/lacks config\.json.*model\.safetensors/);
  });
});
