import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { applyConfigSection, commandPath, loadConfig, sectionFor } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-config-'));

describe('config files', () => {
  it('reads JSON and YAML, and finds nested or flat sections', () => {
    writeFileSync(join(dir, 'a.yaml'), 'seed: 3\nlm:\n  train:\n    steps: 10\n');
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ 'lm train': { steps: 20 } }));
    expect(sectionFor(loadConfig(join(dir, 'a.yaml')), ['lm', 'train'])).toEqual({ steps: 10 });
    expect(sectionFor(loadConfig(join(dir, 'b.json')), ['lm', 'train'])).toEqual({ steps: 20 });
    expect(loadConfig(join(dir, 'a.yaml')).seed).toBe(3);
  });

  it('bad files are clear errors', () => {
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    writeFileSync(join(dir, 'arr.yaml'), '- 1\n- 2\n');
    expect(() => loadConfig(join(dir, 'bad.json'))).toThrow(/bad\.json is not valid JSON/);
    expect(() => loadConfig(join(dir, 'arr.yaml'))).toThrow(/must hold an object of options, got an array/);
    expect(() => loadConfig(join(dir, 'missing.json'))).toThrow(/cannot read config file/);
  });

  it('flags win over the config file, which wins over defaults; unknown keys name the valid ones', async () => {
    const seen: Record<string, unknown>[] = [];
    const program = new Command('sift').exitOverride();
    const train = program.command('lm').command('train')
      .option('--steps <n>', 'steps', '100')
      .option('--lr <x>', 'learning rate', '0.001')
      .action((opts: Record<string, unknown>) => { seen.push(opts); });
    program.hook('preAction', (_root, action) => {
      applyConfigSection(action, { steps: 10, lr: 0.5, 'warmup-steps': undefined }, 'cfg.yaml');
    });
    train.option('--warmup-steps <n>', 'warm-up');
    await program.parseAsync(['node', 'sift', 'lm', 'train', '--lr', '0.01']);
    expect(seen[0]).toMatchObject({ steps: 10, lr: '0.01' });
    expect(commandPath(train)).toEqual(['lm', 'train']);
    expect(() => { applyConfigSection(train, { stpes: 1 }, 'cfg.yaml'); })
      .toThrow(/unknown option "stpes" for `sift lm train`; valid options: steps, lr, warmupSteps/);
  });
});
