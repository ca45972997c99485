// Runs one benchmark file and prints its rows as a JSON line prefixed by BENCH_ROWS, for tools/bench/run.mjs.
import { pathToFileURL } from 'node:url';
import type { BenchFile } from './harness.js';

const file = process.argv.at(2);
if (file === undefined) throw new Error('usage: run-one.ts <file.bench.ts>');
const mod = (await import(pathToFileURL(file).href)) as { default: BenchFile };
const rows = await mod.default();
process.stdout.write(`BENCH_ROWS ${JSON.stringify(rows)}\n`);
process.exit(0);
