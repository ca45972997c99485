import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { embed, generateSynthetic, loadSequenceEncoder, loadStore } from '@sift/eventseq-ssl';
import { readSafetensorsFile } from '@sift/tensor-core';
import { main } from '../main.js';
import type { Output } from '../ui/output.js';

function capture(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), isTTY: false };
}

const dir = mkdtempSync(join(tmpdir(), 'sift-cli-eventseq-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function sift(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const code = await main(['node', 'sift', ...args], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('sift eventseq prepare', () => {
  it('writes the seeded synthetic store, the same as the library makes, and refuses to overwrite without --force', async () => {
    const out = join(dir, 'syn');
    const r = await sift('--json', '--seed', '7', 'eventseq', 'prepare', '--synthetic', '--clients', '60', '--out', out);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out) as { entities: number; events: number; labels: string[] };
    const ref = generateSynthetic({ seed: 7, numClients: 60 }).store;
    expect(summary).toMatchObject({ entities: 60, events: ref.numEvents, labels: ['composition', 'dynamics'] });
    const loaded = await loadStore(out);
    expect(Array.from(loaded.codes.mcc)).toEqual(Array.from(ref.codes.mcc));
    expect(Array.from(loaded.offsets, Number)).toEqual(Array.from(ref.offsets, Number));

    const again = await sift('eventseq', 'prepare', '--synthetic', '--clients', '60', '--out', out);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already exist; pass --force to overwrite/);
    expect((await sift('--quiet', 'eventseq', 'prepare', '--synthetic', '--clients', '30', '--out', out, '--force')).code).toBe(0);
    expect((await loadStore(out)).numEntities).toBe(30);
  });

  it('ingests a CSV with a YAML schema and a label table, and reports data problems', async () => {
    const events = join(dir, 'tx.csv');
    writeFileSync(events, 'client_id,day,mcc,amount\n1,3,a,10\n1,1,b,-2\n2,5,a,7\n2,,a,1\n3,2,c,4\n');
    const labels = join(dir, 'target.csv');
    writeFileSync(labels, 'client_id,bins\n1,0\n2,1\n3,1\n');
    const schema = join(dir, 'schema.yaml');
    writeFileSync(schema, 'entity: client_id\ntime: { column: day, format: number }\nfields:\n  - { kind: categorical, name: mcc }\n  - { kind: numeric, name: amount, transform: log }\n');
    const out = join(dir, 'tx');
    const failing = await sift('eventseq', 'prepare', '--events', events, '--schema', schema, '--out', out);
    expect(failing.code).toBe(1); // a missing time fails by default, with the option that would drop it
    expect(failing.err).toMatch(/^sift: .*day/mu);
    expect(failing.err).not.toMatch(/\n\s+at /u); // no stack trace without --verbose
    const missing = await sift('--json', 'eventseq', 'prepare', '--events', join(dir, 'nope.csv'), '--schema', schema, '--out', out);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.csv/u);
    writeFileSync(events, 'client_id,day,mcc,amount\n1,3,a,10\n1,1,b,-2\n2,5,a,7\n3,2,c,4\n');
    const ok = await sift('--json', 'eventseq', 'prepare', '--events', events, '--schema', schema, '--labels', labels,
      '--label-entity', 'client_id', '--label-columns', 'bins', '--out', out);
    expect(ok.code).toBe(0);
    const summary = JSON.parse(ok.out) as { entities: number; events: number; labels: string[]; fields: string[] };
    expect(summary).toMatchObject({ entities: 3, events: 4, labels: ['bins'], fields: ['mcc', 'amount'] });
    const store = await loadStore(out);
    expect(Array.from(store.label('bins'))).toEqual([0, 1, 1]);
  });

  it('usage errors exit 2 with the fix', async () => {
    const cases: [string[], RegExp][] = [
      [['eventseq', 'prepare', '--out', join(dir, 'x')], /give exactly one source/],
      [['eventseq', 'prepare', '--synthetic', '--dataset', 'rosbank', '--out', join(dir, 'x')], /give exactly one source/],
      [['eventseq', 'prepare', '--dataset', 'mnist', '--dir', dir, '--out', join(dir, 'x')], /--dataset must be one of age-group, rosbank, alpha-battle, physionet-2012/],
      [['eventseq', 'prepare', '--dataset', 'rosbank', '--out', join(dir, 'x')], /needs --dir/],
      [['eventseq', 'prepare', '--events', 'a.csv', '--out', join(dir, 'x')], /--events needs --schema/],
      [['eventseq', 'prepare', '--synthetic', '--clients', 'many', '--out', join(dir, 'x')], /--clients must be an integer/],
    ];
    for (const [args, message] of cases) {
      const r = await sift(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
  });
});

describe('sift eventseq train, embed, eval', () => {
  const small = ['--clients', '40', '--epochs', '1', '--hidden', '8', '--batch-size', '16', '--max-len', '40'];

  it('trains CoLES then MLEM on it, embeds to CSV and safetensors, and probes every label', async () => {
    const coles = join(dir, 'coles');
    const t = await sift('--json', '--quiet', 'eventseq', 'train', '--data', 'synthetic', '--method', 'coles', ...small, '--out', coles);
    expect(t.code, t.err).toBe(0);
    const train = JSON.parse(t.out) as { method: string; split: { train: number; heldOut: number }; report: { epochs: number; epochLoss: number[] } };
    expect(train).toMatchObject({ method: 'coles', split: { train: 28, heldOut: 12 }, report: { epochs: 1 } });
    expect(Number.isFinite(train.report.epochLoss[0])).toBe(true);
    expect(existsSync(join(coles, 'encoder.safetensors')) && existsSync(join(coles, 'encoder.json')) && existsSync(join(coles, 'train.json'))).toBe(true);

    const again = await sift('eventseq', 'train', '--data', 'synthetic', '--method', 'coles', ...small, '--out', coles);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already exist; pass --force to overwrite/);

    const mlem = join(dir, 'mlem');
    const m = await sift('--json', '--quiet', 'eventseq', 'train', '--data', 'synthetic', '--method', 'mlem', '--teacher', coles, ...small, '--out', mlem);
    expect(m.code, m.err).toBe(0);
    expect((JSON.parse(m.out) as { teacher: unknown }).teacher).toEqual({ source: 'given', dir: coles });

    // CSV: id + e0..e7, one row per client, equal to the library's embeddings of the same store; labels beside it.
    const csv = join(dir, 'mlem.csv');
    const e = await sift('--json', '--quiet', 'eventseq', 'embed', '--model', mlem, '--data', 'synthetic', '--clients', '40', '--out', csv);
    expect(e.code, e.err).toBe(0);
    expect(JSON.parse(e.out)).toMatchObject({ rows: 40, dim: 8, format: 'csv', files: { labels: join(dir, 'mlem.labels.csv') } });
    const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(['id', ...Array.from({ length: 8 }, (_, j) => `e${String(j)}`)].join(','));
    expect(lines).toHaveLength(41);
    const store = generateSynthetic({ seed: 0, numClients: 40, minEvents: 20, maxEvents: 100, numCodes: 20 }).store;
    const encoder = await loadSequenceEncoder(join(mlem, 'encoder'));
    const ref = await embed(encoder, store);
    encoder.dispose();
    const row1 = lines[2].split(',');
    expect(row1[0]).toBe(store.entityIds[1]);
    row1.slice(1).forEach((v, j) => { expect(Math.fround(Number(v))).toBe(ref.data[8 + j]); }); // float32 round trip
    const labels = readFileSync(join(dir, 'mlem.labels.csv'), 'utf8').trimEnd().split('\n');
    expect(labels[0]).toBe('id,composition,dynamics');
    expect(labels[1]).toBe(`${store.entityIds[0]},${String(store.label('composition')[0])},${String(store.label('dynamics')[0])}`);

    const st = join(dir, 'mlem.safetensors');
    expect((await sift('--quiet', 'eventseq', 'embed', '--model', mlem, '--data', 'synthetic', '--clients', '40', '--out', st)).code).toBe(0);
    const file = await readSafetensorsFile(st, { copy: true });
    expect(file.get('embeddings').shape).toEqual([40, 8]);
    expect(Array.from(file.get('embeddings').data as Float32Array)).toEqual(Array.from(ref.data));
    expect(JSON.parse(file.metadata.ids)).toEqual([...store.entityIds]);
    expect((await sift('eventseq', 'embed', '--model', mlem, '--data', 'synthetic', '--clients', '40', '--out', csv)).code).toBe(2);

    const ev = await sift('--json', '--quiet', 'eventseq', 'eval', '--model', mlem, '--data', 'synthetic', '--clients', '40');
    expect(ev.code, ev.err).toBe(0);
    const report = JSON.parse(ev.out) as { split: { source: string }; rows: { target: string; probe: string; accuracy: number; test: number }[] };
    expect(report.split.source).toBe('model');
    expect(report.rows.map((r) => `${r.target}/${r.probe}`)).toEqual(['composition/logistic', 'composition/gbdt', 'dynamics/logistic', 'dynamics/gbdt']);
    for (const r of report.rows) {
      expect(r.test).toBe(12);
      expect(r.accuracy).toBeGreaterThanOrEqual(0);
      expect(r.accuracy).toBeLessThanOrEqual(1);
    }
    const text = await sift('--quiet', 'eventseq', 'eval', '--model', mlem, '--data', 'synthetic', '--clients', '40', '--probes', 'logistic');
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/target\s+probe\s+accuracy/);
    expect(text.out).toMatch(/composition\s+logistic\s+\d\.\d{3}/);
  });

  it('MLEM without --teacher trains CoLES first and says so', async () => {
    const out = join(dir, 'mlem2');
    const r = await sift('eventseq', 'train', '--data', 'synthetic', '--method', 'mlem', ...small, '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/training CoLES first/);
    expect(r.out).toMatch(/teacher\s+CoLES trained first/);
    expect(existsSync(join(out, 'teacher', 'encoder.safetensors'))).toBe(true);
  });

  it('a killed run (in the CoLES teacher or in MLEM itself) resumed with --resume ends exactly as an uninterrupted one', async () => {
    const args = ['eventseq', 'train', '--data', 'synthetic', '--method', 'mlem', '--clients', '96', '--epochs', '4', '--hidden', '8', '--batch-size', '8', '--max-len', '40'];
    const ref = join(dir, 'resume-ref');
    const whole = await sift('--json', '--quiet', ...args, '--out', ref);
    expect(whole.code, whole.err).toBe(0);
    expect(existsSync(join(ref, 'train-state')), 'snapshots are removed once the model is written').toBe(false);
    const pkgDir = fileURLToPath(new URL('../..', import.meta.url));
    expect(existsSync(join(pkgDir, 'dist/index.js')), 'dist/ is missing: run `pnpm build` first').toBe(true);
    const losses = (out: string): unknown => {
      const r = JSON.parse(out) as { report: { epochLoss: number[] }; teacherReport: { epochLoss: number[] } };
      return [r.teacherReport.epochLoss, r.report.epochLoss];
    };
    for (const phase of ['teacher', 'main'] as const) {
      const out = join(dir, `resume-${phase}`);
      const child = spawn(process.execPath, [join(pkgDir, 'bin/sift.js'), '--quiet', ...args, '--out', out], { stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
      const state = join(out, 'train-state', 'eventseq-state.safetensors');
      const reached = (): boolean => existsSync(state) && readFileSync(state).toString('latin1').includes(`\\"phase\\":\\"${phase}\\"`);
      for (let i = 0; i < 2400 && !reached(); i++) await new Promise((r) => setTimeout(r, 10));
      child.kill('SIGKILL');
      expect(await exited, `the run finished before a ${phase} snapshot could be seen; make it longer`).toBeNull();
      expect(existsSync(join(out, 'encoder.safetensors'))).toBe(false);
      const refused = await sift(...args, '--out', out);
      expect(refused.code).toBe(2);
      expect(refused.err).toMatch(/holds an interrupted training run \(train-state\/\); pass --resume to continue it or --force to start over/);
      const other = await sift(...args.map((v) => (v === '4' ? '5' : v)), '--out', out, '--resume');
      expect(other.code).toBe(2);
      expect(other.err).toMatch(/--resume: the interrupted run in .* had epochs 4, this one 5/);
      const resumed = await sift('--json', '--quiet', ...args, '--out', out, '--resume');
      expect(resumed.code, resumed.err).toBe(0);
      expect(losses(resumed.out), phase).toEqual(losses(whole.out));
      const from = (JSON.parse(resumed.out) as { resumedFrom: { phase: string; epoch: number } }).resumedFrom;
      expect(from.phase).toBe(phase);
      expect(from.epoch).toBeGreaterThanOrEqual(1);
      expect(from.epoch).toBeLessThan(4);
      for (const f of ['encoder.safetensors', 'teacher/encoder.safetensors']) {
        expect(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))), `${phase}: ${f} bit-identical`).toBe(true);
      }
      expect(existsSync(join(out, 'train-state'))).toBe(false);
    }
  });

  it('usage errors exit 2 and name the fix', async () => {
    const cases: [string[], RegExp][] = [
      [['eventseq', 'train', '--data', 'synthetic', '--method', 'bert', '--out', join(dir, 'x')], /--method must be one of coles, generative, hybrid, mlem, supervised/],
      [['eventseq', 'train', '--method', 'coles', '--out', join(dir, 'x')], /required option '--data/],
      [['eventseq', 'train', '--data', join(dir, 'nope'), '--method', 'coles', '--out', join(dir, 'x')], /nope\.safetensors and .*nope\.json not found; write it with `sift eventseq prepare/],
      [['eventseq', 'train', '--data', 'synthetic', '--method', 'coles', '--encoder', 'lstm', '--out', join(dir, 'x')], /--encoder must be one of gru, transformer/],
      [['eventseq', 'train', '--data', 'synthetic', '--method', 'coles', '--teacher', dir, '--out', join(dir, 'x')], /--teacher applies to --method mlem only/],
      [['eventseq', 'train', '--data', 'synthetic', '--method', 'coles', '--holdout', 'half', '--out', join(dir, 'x')], /--holdout must be a number/],
      [['eventseq', 'embed', '--model', join(dir, 'coles'), '--data', 'synthetic', '--out', join(dir, 'e.txt')], /--out must end in \.csv or \.safetensors/],
      [['eventseq', 'embed', '--model', join(dir, 'none'), '--data', 'synthetic', '--out', join(dir, 'e.csv')], /none.*not found; train one with `sift eventseq train/],
      [['eventseq', 'eval', '--model', join(dir, 'coles'), '--data', 'synthetic', '--probes', 'knn'], /--probes must list logistic and\/or gbdt/],
    ];
    for (const [args, message] of cases) {
      const r = await sift(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});
