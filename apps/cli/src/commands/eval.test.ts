import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crossValidateProbe, matrix } from '@sift/eval';
import { Rng, writeSafetensorsFile } from '@sift/tensor-core';
import { parseCsv, parseNpy, splitSentences } from './eval-data.js';
import type { McCliReport, ProbeCliReport } from './eval.js';
import { sift } from '../cli.test-util.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-cli-eval-'));
const base = join(dir, 'tiny');
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A NumPy v1.0 .npy file, written from the format's specification (little-endian, C order). */
function npy(descr: '<f4' | '<f8' | '<i8', shape: number[], values: readonly number[]): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const size = descr === '<f4' ? 4 : 8;
  const body = Buffer.alloc(values.length * size);
  values.forEach((v, i) => {
    if (descr === '<f4') body.writeFloatLE(v, i * 4);
    else if (descr === '<f8') body.writeDoubleLE(v, i * 8);
    else body.writeBigInt64LE(BigInt(v), i * 8);
  });
  const pre = Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

// Three classes in 4 dimensions: class c has mean 3·e_c (separable), rows in a seeded order.
const rng = new Rng(11);
const N = 60;
const D = 4;
const classes = Array.from({ length: N }, (_, i) => i % 3);
const x = Array.from({ length: N }, (_, i) => Array.from({ length: D }, (_unused, j) => (j === classes[i] ? 3 : 0) + 0.3 * rng.normal()));

beforeAll(async () => {
  const r = await sift('--quiet', 'lm', 'train', '--preset', 'tiny', '--steps', '12', '--batch-size', '2', '--genres', 'humor', '--out', base);
  expect(r.code, r.err).toBe(0);
});

describe('sift eval mc', () => {
  it('next-sentence on Brown: seeded items, accuracy within [0, 1], chance 1/4; a JSONL task file', async () => {
    const args = ['eval', 'mc', '--model', base, '--split', 'validation', '--items-per-document', '1', '--batch-size', '16'];
    const a = await sift('--json', '--quiet', '--seed', '4', ...args);
    expect(a.code, a.err).toBe(0);
    const r = JSON.parse(a.out) as McCliReport;
    expect(r).toMatchObject({ task: 'next-sentence', n: 25, numChoices: 4, chance: 0.25, maxChoiceTokens: 32 });
    expect(r.acc).toBeGreaterThanOrEqual(0);
    expect(r.acc).toBeLessThanOrEqual(1);
    expect(r.accStderr).toBeCloseTo(Math.sqrt((r.acc * (1 - r.acc)) / (r.n - 1)), 10); // lm-eval's sample stderr
    const again = JSON.parse((await sift('--json', '--quiet', '--seed', '4', ...args)).out) as McCliReport;
    expect(again.acc).toBe(r.acc);
    expect(again.accNorm).toBe(r.accNorm);

    const file = join(dir, 'task.jsonl');
    writeFileSync(file, [
      { context: 'The cat sat on the', choices: ['mat.', 'xqzv.'], gold: 0 },
      { context: 'One, two,', choices: ['three', 'zzzz', 'qqqq'], gold: 0 },
      { context: 'He said', choices: ['that', 'yes'], gold: 1 },
    ].map((o) => JSON.stringify(o)).join('\n'));
    const t = await sift('--quiet', 'eval', 'mc', '--model', base, '--task', file);
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/over 3 items \(chance 0\.444\)/);
  });

  it('splits Brown text into sentences', () => {
    expect(splitSentences('The jury said. It was "fine." But why? Yes!\n\nA headline here\n\nNo, said he. 1960 was good.'))
      .toEqual(['The jury said.', 'It was "fine."', 'A headline here', 'No, said he.', '1960 was good.']); // < 3 words dropped
  });
});

describe('sift eval probe', () => {
  it('CSV features and labels joined by id (shuffled, one label missing) give the same report as the library on the joined arrays', async () => {
    const feats = join(dir, 'emb.csv');
    const labels = join(dir, 'labels.csv');
    writeFileSync(feats, ['id,e0,e1,e2,e3', ...x.map((row, i) => `c${String(i)},${row.join(',')}`)].join('\n'));
    const order = rng.permutation(N);
    // Class names with a comma (quoted), the first client without a label.
    const names = ['"red, dark"', 'green', 'blue'];
    writeFileSync(labels, ['id,age,group', ...Array.from(order, (i) => `c${String(i)},${String(20 + i)},${i === 0 ? '' : names[classes[i]]}`)].join('\n'));
    const r = await sift('--json', '--quiet', '--seed', '2', 'eval', 'probe', '--features', feats, '--labels', labels, '--label-column', 'group', '--folds', '3', '--repeats', '2');
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out) as ProbeCliReport;
    expect(rep).toMatchObject({ rows: N - 1, dims: D, dropped: 1, classes: ['blue', 'green', 'red, dark'], probe: 'logistic', folds: 3, seeds: [2, 3] });
    expect(rep.metrics.accuracy.mean).toBe(1);
    // The same rows through the library directly (rows 1..N-1 in file order; classes sorted: blue 0, green 1, red 2).
    const remap = [2, 1, 0];
    const lib = crossValidateProbe({
      x: matrix(x.slice(1)), y: classes.slice(1).map((c) => remap[c]), task: 'classification', probe: { kind: 'logistic' }, folds: 3, seeds: [2, 3],
    });
    expect(rep.metrics.logLoss.values).toEqual(lib.metrics.logLoss.values);

    const text = await sift('--quiet', 'eval', 'probe', '--features', feats, '--labels', labels, '--label-column', 'group', '--probe', 'gbdt', '--folds', '2', '--repeats', '1');
    expect(text.code, text.err).toBe(0);
    // (GBDT's 20 rows per leaf leave ~30 training rows unsplit: the point here is the table and the summary line.)
    expect(text.out).toMatch(/^metric\s+mean\s+std\n[- ]+\naccuracy\s+\d\.\d{4}\s+\d\.\d{4}\nrocAuc/);
    expect(text.out).toMatch(/accuracy \d\.\d{4} ± \d\.\d{4} \(gbdt, 2-fold x 1 seeds, 59 rows x 4 features, 3 classes, 1 rows without a label dropped\)/);
  });

  it('.npy and .safetensors inputs; ridge regression recovers a linear target', async () => {
    const w = [1, -2, 0.5, 3];
    const y = x.map((row) => row.reduce((s, v, j) => s + v * w[j], 0));
    writeFileSync(join(dir, 'x.npy'), npy('<f8', [N, D], x.flat()));
    writeFileSync(join(dir, 'y.npy'), npy('<f8', [N], y));
    writeFileSync(join(dir, 'c.npy'), npy('<i8', [N], classes));
    const parsed = parseNpy(npy('<f4', [2, 2], [1, 2, 3, 4.5]));
    expect(parsed.shape).toEqual([2, 2]);
    expect(Array.from(parsed.data)).toEqual([1, 2, 3, 4.5]);
    const ridge = await sift('--json', '--quiet', 'eval', 'probe', '--features', join(dir, 'x.npy'), '--labels', join(dir, 'y.npy'), '--probe', 'ridge', '--folds', '3', '--repeats', '1', '--scaling', 'none');
    expect(ridge.code, ridge.err).toBe(0);
    const rr = JSON.parse(ridge.out) as ProbeCliReport;
    expect(rr.task).toBe('regression');
    const mean = y.reduce((a, b) => a + b, 0) / N;
    const variance = y.reduce((a, b) => a + (b - mean) ** 2, 0) / N;
    expect(rr.metrics.mse.mean / variance).toBeLessThan(0.01); // alpha 1 shrinks a little; the target is exactly linear

    await writeSafetensorsFile(join(dir, 'emb.safetensors'), { embeddings: { dtype: 'F32', shape: [N, D], data: Float32Array.from(x.flat()) } });
    const st = await sift('--json', '--quiet', 'eval', 'probe', '--features', join(dir, 'emb.safetensors'), '--labels', join(dir, 'c.npy'), '--folds', '3', '--repeats', '1');
    expect(st.code, st.err).toBe(0);
    expect((JSON.parse(st.out) as ProbeCliReport).metrics.accuracy.mean).toBe(1);

    // `sift eventseq embed --out x.safetensors` layout: embeddings and labels.<name> (NaN = no label) in one file.
    const withNan = Float64Array.from(classes, (c, i) => (i === 5 ? Number.NaN : c));
    await writeSafetensorsFile(join(dir, 'seq.safetensors'), {
      embeddings: { dtype: 'F32', shape: [N, D], data: Float32Array.from(x.flat()) },
      'labels.klass': { dtype: 'F64', shape: [N], data: withNan },
      'labels.other': { dtype: 'F64', shape: [N], data: new Float64Array(N) },
    });
    const es = await sift('--json', '--quiet', 'eval', 'probe', '--features', join(dir, 'seq.safetensors'), '--label-column', 'klass', '--folds', '3', '--repeats', '1');
    expect(es.code, es.err).toBe(0);
    expect(JSON.parse(es.out)).toMatchObject({ rows: N - 1, dropped: 1, labelColumn: 'labels.klass', classes: ['0', '1', '2'] });
  });

  it('parses quoted CSV fields; usage errors exit 2', async () => {
    expect(parseCsv('a,b\r\n"x, ""y""",2\n\n3,"multi\nline"\n')).toEqual([['a', 'b'], ['x, "y"', '2'], ['3', 'multi\nline']]);
    const feats = join(dir, 'emb.csv');
    writeFileSync(join(dir, 'short.npy'), npy('<f8', [5], [0, 1, 0, 1, 0]));
    const cases: [string[], RegExp][] = [
      [['eval', 'probe', '--features', feats, '--labels', join(dir, 'labels.csv'), '--probe', 'svm'], /--probe must be one of logistic, ridge, gbdt, got "svm"/],
      [['eval', 'probe', '--features', join(dir, 'none.csv'), '--labels', join(dir, 'labels.csv')], /--features .*none\.csv does not exist/],
      [['eval', 'probe', '--features', feats, '--labels', join(dir, 'labels.csv')], /several columns \(age, group\); choose the label with --label-column/],
      [['eval', 'probe', '--features', feats, '--labels', join(dir, 'short.npy')], /--features has 60 rows but the labels have 5/],
      [['eval', 'probe', '--features', feats, '--labels', join(dir, 'labels.csv'), '--label-column', 'group', '--task', 'regression'], /regression needs numeric labels/],
      [['eval', 'probe', '--features', feats], /give the labels with --labels <file>/],
      [['eval', 'mc', '--model', join(dir, 'nope')], /nope is not a folder/],
      [['eval', 'mc', '--model', base, '--task', 'hellaswag'], /--task must be next-sentence .* or a \.jsonl file/],
    ];
    for (const [args, message] of cases) {
      const r = await sift(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(message);
    }
    const help = await sift('eval', 'probe', '--help');
    expect(help.out).toMatch(/Examples:\n\s+\$ sift eval probe/);
  });
});
