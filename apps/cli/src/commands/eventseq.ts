import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  generateSynthetic, ingestEvents, loadAgeGroup, loadAlphaBattle, loadPhysioNet2012, loadRosbank, parseEventSchema,
  saveStore, type EventSchema, type IngestProgress, type IngestResult, type SequenceStore,
} from '@sift/eventseq-ssl';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../config.js';
import { parseIntOption, type CommandContext } from '../context.js';
import { checkOutputs } from '../outputs.js';

/** Public datasets `sift eventseq prepare --dataset` reads, in their publishers' file layouts. */
const DATASETS = {
  'age-group': loadAgeGroup,
  rosbank: loadRosbank,
  'alpha-battle': loadAlphaBattle,
  'physionet-2012': loadPhysioNet2012,
} as const;
type DatasetName = keyof typeof DATASETS;

/** Options of `sift eventseq prepare`. */
export interface PrepareOptions {
  out: string;
  synthetic?: boolean;
  clients?: number;
  dataset?: string;
  dir?: string;
  events?: string;
  schema?: string;
  labels?: string;
  labelEntity?: string;
  labelColumns?: string;
  force?: boolean;
}

/** What `prepare` produced, as printed with `--json`. */
export interface PrepareSummary {
  source: string;
  entities: number;
  events: number;
  labels: string[];
  fields: string[];
  messages: string[];
  files: { tensors: string; sidecar: string };
  seconds: number;
}

function readSchemaFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --schema ${path} (${(err as Error).message})`);
  }
  try {
    return /\.ya?ml$/iu.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--schema ${path} is not valid ${/\.ya?ml$/iu.test(path) ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
}

/** Builds the sequence store the options describe (exactly one source: synthetic, a dataset, or an events table). */
async function buildStore(o: PrepareOptions, seed: number, onProgress: (p: IngestProgress) => void): Promise<{ store: SequenceStore; source: string; messages: string[] }> {
  const sources = [o.synthetic === true, o.dataset !== undefined, o.events !== undefined].filter(Boolean).length;
  if (sources !== 1) throw new UsageError('give exactly one source: --synthetic, --dataset <name> --dir <folder>, or --events <file> --schema <file>');
  if (o.synthetic === true) {
    const { store, report } = generateSynthetic({ seed, ...(o.clients === undefined ? {} : { numClients: o.clients }) });
    return { store, source: `synthetic (seed ${String(seed)}, ${String(store.numEntities)} clients)`, messages: report.messages };
  }
  let result: IngestResult;
  if (o.dataset !== undefined) {
    if (!(o.dataset in DATASETS)) throw new UsageError(`--dataset must be one of ${Object.keys(DATASETS).join(', ')}, got "${o.dataset}"`);
    if (o.dir === undefined) throw new UsageError(`--dataset ${o.dataset} needs --dir <folder with its files>`);
    result = await DATASETS[o.dataset as DatasetName]({ dir: o.dir, onProgress });
    return { store: result.store, source: `${o.dataset} (${o.dir})`, messages: result.report.messages };
  }
  if (o.schema === undefined) throw new UsageError('--events needs --schema <schema.json|yaml> naming the entity, time and field columns');
  const schema = parseEventSchema(readSchemaFile(o.schema) as EventSchema); // checked field by field inside
  if (o.labels !== undefined && (o.labelEntity === undefined || o.labelColumns === undefined)) {
    throw new UsageError('--labels needs --label-entity <column> and --label-columns <a,b,...>');
  }
  result = await ingestEvents({
    events: { path: o.events ?? '' },
    schema,
    ...(o.labels === undefined ? {} : {
      labels: { path: o.labels, entity: o.labelEntity ?? '', columns: (o.labelColumns ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '') },
    }),
    onProgress,
  });
  return { store: result.store, source: o.events ?? '', messages: result.report.messages };
}

/** Runs `sift eventseq prepare`. */
export async function runPrepare(o: PrepareOptions, ctx: CommandContext): Promise<PrepareSummary> {
  const t0 = performance.now();
  checkOutputs([`${o.out}.safetensors`, `${o.out}.json`], o.force === true);
  const progress = ctx.progress();
  const { store, source, messages } = await buildStore(o, ctx.globals().seed, (p) => {
    progress.update({ stage: p.stage, done: p.done, total: p.total });
  });
  progress.finish();
  const files = await saveStore(store, o.out);
  return {
    source, entities: store.numEntities, events: store.numEvents, labels: store.labelNames,
    fields: store.encoder.fields.map((f) => f.name), messages, files, seconds: (performance.now() - t0) / 1000,
  };
}

function formatPrepare(s: PrepareSummary): string {
  const rows: [string, string][] = [
    ['source', s.source], ['sequences', String(s.entities)], ['events', String(s.events)],
    ['fields', s.fields.join(', ')], ['labels', s.labels.length === 0 ? '(none)' : s.labels.join(', ')],
    ['wrote', `${s.files.tensors}, ${s.files.sidecar}`], ['time', `${s.seconds.toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  lines.push('', s.messages.length === 0 ? 'No data problems.' : `Data problems:\n${s.messages.map((m) => `  - ${m}`).join('\n')}`);
  return lines.join('\n');
}

/** Registers `sift eventseq ...` on the program. */
export function registerEventseq(program: Command, ctx: CommandContext): void {
  const eventseq = program.command('eventseq').description('Event sequences: prepare data (train, embed and eval arrive with the methods).');
  eventseq
    .command('prepare')
    .description('Turn events (the synthetic default, a public dataset in its own layout, or your CSV/Parquet table) into an encoded sequence store.')
    .requiredOption('--out <prefix>', 'output prefix: writes <prefix>.safetensors and <prefix>.json')
    .option('--synthetic', 'the embedded synthetic dataset (known latent labels: composition, dynamics)')
    .option('--clients <n>', 'synthetic: number of clients', parseIntOption('--clients'))
    .option('--dataset <name>', `a public dataset: ${Object.keys(DATASETS).join(', ')}`)
    .option('--dir <folder>', '--dataset: the folder with its files')
    .option('--events <file>', 'your events table (CSV or Parquet; a glob works), one row per event')
    .option('--schema <file>', '--events: the EventSchema (JSON or YAML): entity, time, fields')
    .option('--labels <file>', '--events: a label table joined by entity')
    .option('--label-entity <column>', '--labels: its entity id column')
    .option('--label-columns <list>', '--labels: comma-separated label columns')
    .option('--force', 'overwrite existing outputs', false)
    .addHelpText('after', [
      '', 'Examples:',
      '  $ sift eventseq prepare --synthetic --clients 2000 --out data/synthetic',
      '  $ sift eventseq prepare --dataset age-group --dir ~/data/age --out data/age',
      '  $ sift eventseq prepare --events tx.csv --schema schema.yaml --labels target.csv --label-entity client_id --label-columns bins --out data/tx',
    ].join('\n'))
    .action(async (opts: PrepareOptions) => {
      const summary = await runPrepare(opts, ctx);
      ctx.io.out(ctx.globals().json ? JSON.stringify(summary, null, 2) : formatPrepare(summary));
    });
}
