import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSynthetic, loadStore } from '@sift/eventseq-ssl';
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
