import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import {
  embed, embeddingGeometry, generateSynthetic, ingestEvents, loadAgeGroup, loadAlphaBattle, loadPhysioNet2012, loadRosbank,
  loadSequenceEncoder, loadStore, METHODS, parseEventSchema, probeLabel, saveSequenceEncoder, saveStore,
  SEQUENCE_ENCODER_DEFAULTS, splitEntities, TRAIN_DEFAULTS, trainSnapshotInfo,
  type EmbedResult, type EventSchema, type GeometryReport, type IngestProgress, type IngestResult, type MethodName,
  type SequenceEncoder, type SequenceStore, type TrainCall, type TrainOptions, type TrainReport,
} from '@sift/eventseq-ssl';
import {
  SiftError, parseTrainingState, serializeTrainingState, writeFileAtomic, writeSafetensorsFile, type SafeTensor, type TrainingState,
} from '@sift/tensor-core';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../config.js';
import { parseIntOption, type CommandContext } from '../context.js';
import { checkOutputs } from '../outputs.js';
import { STATE_DIR, checkInterrupted, checkSameSetup } from './resume.js';
import { formatTable } from '../ui/table.js';

/** Parses a number option, with the option's name in the error. */
function parseNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name} must be a number, got "${value}"`);
    return n;
  };
}

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

// ---------------------------------------------------------------------------------------------------------------
// train, embed, eval

const METHOD_NAMES = Object.keys(METHODS) as MethodName[];
const BACKBONES = ['gru', 'transformer'] as const;
const PROBE_KINDS = ['logistic', 'gbdt'] as const;

/**
 * What `--data synthetic` means: the event-sequence benchmark's dataset (`generateSynthetic` with seed 0), with
 * `--clients` clients. The labels `composition` and `dynamics` are known latents.
 */
export const SYNTHETIC_DATA = { seed: 0, numClients: 500, minEvents: 20, maxEvents: 100, numCodes: 20 } as const;

/** Files of a model folder written by `sift eventseq train`. */
export const MODEL_FILES = { tensors: 'encoder.safetensors', sidecar: 'encoder.json', report: 'train.json' } as const;

/** The data options of train, embed and eval. */
export interface DataOptions {
  /** A prefix written by `sift eventseq prepare`, or `synthetic`. */
  data: string;
  /** `--data synthetic`: number of clients. */
  clients?: number;
}

/** Loads `--data`: a prepared store, or the embedded synthetic dataset. */
async function loadData(o: DataOptions): Promise<{ store: SequenceStore; source: string }> {
  if (o.data === 'synthetic') {
    const numClients = o.clients ?? SYNTHETIC_DATA.numClients;
    if (numClients < 4) throw new UsageError(`--clients must be at least 4, got ${String(numClients)}`);
    const { store } = generateSynthetic({ ...SYNTHETIC_DATA, numClients });
    return { store, source: `synthetic (${String(numClients)} clients)` };
  }
  if (o.clients !== undefined) throw new UsageError('--clients applies to --data synthetic only');
  const base = o.data.replace(/\.(safetensors|json)$/u, '');
  const missing = [`${base}.safetensors`, `${base}.json`].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new UsageError(`--data ${o.data}: ${missing.join(' and ')} not found; write it with \`sift eventseq prepare --out ${base} ...\`, or pass --data synthetic`);
  }
  return { store: await loadStore(base), source: base };
}

/** Refuses data encoded with another `EventEncoder` than the model's (codes would mean other categories). */
function checkSameEncoding(encoder: SequenceEncoder, store: SequenceStore, what: string): void {
  if (JSON.stringify(encoder.eventEncoder.toJSON()) !== JSON.stringify(store.encoder.toJSON())) {
    throw new UsageError(`${what} was trained on data encoded differently from --data (other fields, vocabularies or numeric ` +
      'statistics); use the data it was trained on, or train a model on this data');
  }
}

function modelBase(dir: string): string {
  return join(dir, MODEL_FILES.tensors.replace(/\.safetensors$/u, ''));
}

async function loadModel(dir: string, flag: string): Promise<SequenceEncoder> {
  const missing = [MODEL_FILES.tensors, MODEL_FILES.sidecar].map((f) => join(dir, f)).filter((p) => !existsSync(p));
  if (missing.length > 0) throw new UsageError(`${flag} ${dir}: ${missing.join(' and ')} not found; train one with \`sift eventseq train --out ${dir} ...\``);
  return loadSequenceEncoder(modelBase(dir));
}

/** The held-out split of train and eval: `holdout` of the sequences (seeded), or none when 0. */
function split(store: SequenceStore, holdout: number, seed: number): { train: number[]; test: number[] } {
  if (!(holdout >= 0 && holdout < 1)) throw new UsageError(`--holdout must be in [0, 1), got ${String(holdout)}`);
  if (holdout === 0) return { train: Array.from({ length: store.numEntities }, (_, i) => i).filter((i) => store.length(i) > 0), test: [] };
  return splitEntities(store, holdout, seed);
}

/** Options of `sift eventseq train`. */
export interface EventseqTrainOptions extends DataOptions {
  method: string;
  out: string;
  teacher?: string;
  epochs?: number;
  batchSize?: number;
  hidden?: number;
  encoder: string;
  layers?: number;
  lr?: number;
  maxLen?: number;
  label?: string;
  holdout: number;
  resume?: boolean;
  force?: boolean;
}

const TRAIN_STATE_FILE = 'eventseq-state.safetensors';

/** What the CLI stores beside the library's snapshot (metadata `sift_cli`). */
interface EventseqResumeInfo {
  /** `teacher`: MLEM's CoLES teacher was training; `main`: the method itself. */
  phase: 'teacher' | 'main';
  teacherReport: TrainReport | null;
  setup: Record<string, unknown>;
}

/** What `sift eventseq train` prints with `--json` (also written to `<out>/train.json`). */
export interface EventseqTrainSummary {
  method: MethodName;
  data: string;
  /** The held-out split (eval reuses it): fraction and seed; sequences trained on and held out. */
  split: { holdout: number; seed: number; train: number; heldOut: number };
  /** MLEM's frozen CoLES encoder: the `--teacher` folder, or the one trained first (saved in `<out>/teacher`). */
  teacher: { source: 'given' | 'trained'; dir: string } | null;
  report: TrainReport;
  teacherReport: TrainReport | null;
  /** Where a killed run was resumed (`--resume`): the phase (MLEM's CoLES teacher or the method) and the epoch, or null. */
  resumedFrom: { phase: 'teacher' | 'main'; epoch: number } | null;
  files: { tensors: string; sidecar: string; report: string };
  seconds: number;
}

/** Runs `sift eventseq train`. */
export async function runEventseqTrain(o: EventseqTrainOptions, ctx: CommandContext): Promise<EventseqTrainSummary> {
  const t0 = performance.now();
  if (!METHOD_NAMES.includes(o.method as MethodName)) throw new UsageError(`--method must be one of ${METHOD_NAMES.join(', ')}, got "${o.method}"`);
  const method = o.method as MethodName;
  if (!(BACKBONES as readonly string[]).includes(o.encoder)) throw new UsageError(`--encoder must be one of ${BACKBONES.join(', ')}, got "${o.encoder}"`);
  if (o.teacher !== undefined && method !== 'mlem') throw new UsageError('--teacher applies to --method mlem only');
  if (o.label !== undefined && method !== 'supervised') throw new UsageError('--label applies to --method supervised only');
  const files = { tensors: join(o.out, MODEL_FILES.tensors), sidecar: join(o.out, MODEL_FILES.sidecar), report: join(o.out, MODEL_FILES.report) };
  checkOutputs([files.tensors, files.sidecar], o.force === true);
  const { store, source } = await loadData(o);
  const seed = ctx.globals().seed;
  const parts = split(store, o.holdout, seed);
  const setup: Record<string, unknown> = {
    method, data: source, seed, holdout: o.holdout, teacher: o.teacher ?? null, epochs: o.epochs ?? null, batchSize: o.batchSize ?? null,
    hidden: o.hidden ?? null, encoder: o.encoder, layers: o.layers ?? null, lr: o.lr ?? null, maxLen: o.maxLen ?? null, label: o.label ?? null,
  };
  const stateDir = join(o.out, STATE_DIR);
  const stateFile = join(stateDir, TRAIN_STATE_FILE);
  checkInterrupted(o.out, o, 'training run');
  let snapshot: TrainingState | null = null;
  let resumeInfo: EventseqResumeInfo | null = null;
  let resumedFrom: EventseqTrainSummary['resumedFrom'] = null;
  if (o.resume === true && existsSync(stateFile)) {
    const parsed = parseTrainingState(readFileSync(stateFile), stateFile);
    snapshot = parsed;
    resumeInfo = JSON.parse('sift_cli' in parsed.metadata ? parsed.metadata.sift_cli : '{}') as EventseqResumeInfo;
    try {
      checkSameSetup(o.out, resumeInfo.setup, setup);
    } catch (err) {
      tf.dispose(Object.values(parsed.tensors));
      throw err;
    }
    const info = trainSnapshotInfo(parsed);
    resumedFrom = { phase: resumeInfo.phase, epoch: info.epoch };
    ctx.info(`resuming ${resumeInfo.phase === 'teacher' ? 'the CoLES teacher of MLEM' : info.method} in ${o.out} after epoch ${String(info.epoch)} of ${String(info.epochs)}`);
  } else if (o.resume === true) {
    ctx.info(`--resume: no snapshot in ${stateDir}; starting from epoch 0`);
  }
  /** Writes each epoch's snapshot atomically (the loop is synchronous: a temporary file and a rename). */
  const saver = (phase: EventseqResumeInfo['phase'], teacherReport: TrainReport | null) => (state: TrainingState): void => {
    mkdirSync(stateDir, { recursive: true });
    const info: EventseqResumeInfo = { phase, teacherReport, setup };
    const tmp = `${stateFile}.tmp-${String(process.pid)}`;
    writeFileSync(tmp, serializeTrainingState(state, { sift_cli: JSON.stringify(info) }));
    renameSync(tmp, stateFile);
  };
  /** The library's refusal of a snapshot (other options or data) is a usage error. */
  const resumable = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (snapshot !== null && err instanceof SiftError && err.code === 'E_CONFIG' && err.message.includes('cannot resume')) throw new UsageError(`--resume: ${err.message}`);
      throw err;
    }
  };
  await ctx.startBackend();
  const progress = ctx.progress();
  const options: Partial<TrainOptions> & TrainCall = {
    seed, entities: parts.train,
    ...(o.epochs === undefined ? {} : { epochs: o.epochs }),
    ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
    ...(o.lr === undefined ? {} : { lr: o.lr }),
    ...(o.maxLen === undefined ? {} : { maxLen: o.maxLen }),
    ...(o.label === undefined ? {} : { label: o.label }),
    encoder: {
      backbone: o.encoder as (typeof BACKBONES)[number], seed,
      ...(o.hidden === undefined ? {} : { hiddenSize: o.hidden }),
      ...(o.layers === undefined ? {} : { numLayers: o.layers }),
    },
    onProgress: (p) => {
      progress.update({
        stage: `train ${p.method}`, done: (p.epoch - 1) * p.stepsPerEpoch + p.step, total: p.epochs * p.stepsPerEpoch,
        info: { epoch: `${String(p.epoch)}/${String(p.epochs)}`, loss: p.loss, 'events/s': p.eventsPerSecond },
      });
    },
  };
  let teacher: SequenceEncoder | undefined;
  let teacherInfo: EventseqTrainSummary['teacher'] = null;
  let teacherReport: TrainReport | null = null;
  let encoder: SequenceEncoder | undefined;
  try {
    if (method === 'mlem') {
      if (o.teacher !== undefined) {
        teacher = await loadModel(o.teacher, '--teacher');
        checkSameEncoding(teacher, store, `the --teacher model in ${o.teacher}`);
        teacherInfo = { source: 'given', dir: o.teacher };
      } else if (resumeInfo?.phase === 'main') {
        // The teacher was complete when the interrupted run took its snapshot; it is saved in <out>/teacher.
        const dir = join(o.out, 'teacher');
        teacher = await loadModel(dir, '--resume: the saved teacher');
        teacherReport = resumeInfo.teacherReport;
        teacherInfo = { source: 'trained', dir };
      } else {
        ctx.info('MLEM needs a frozen CoLES encoder and no --teacher was given: training CoLES first with the same options');
        const fromSnapshot = resumeInfo?.phase === 'teacher' ? snapshot : null;
        const coles = resumable(() => METHODS.coles.train(store, {
          ...options, onEpoch: saver('teacher', null), ...(fromSnapshot === null ? {} : { resume: fromSnapshot }),
        }, {}));
        teacher = coles.encoder;
        teacherReport = coles.report;
        const dir = join(o.out, 'teacher');
        mkdirSync(dir, { recursive: true });
        await saveSequenceEncoder(teacher, modelBase(dir));
        teacherInfo = { source: 'trained', dir };
      }
    }
    const mainSnapshot = resumeInfo?.phase === 'main' ? snapshot : null;
    const result = resumable(() => METHODS[method].train(store, {
      ...options, onEpoch: saver('main', teacherReport), ...(mainSnapshot === null ? {} : { resume: mainSnapshot }),
    }, teacher === undefined ? {} : { contrastive: teacher }));
    encoder = result.encoder;
    progress.finish();
    mkdirSync(o.out, { recursive: true });
    await saveSequenceEncoder(encoder, modelBase(o.out));
    const summary: EventseqTrainSummary = {
      method, data: source, split: { holdout: o.holdout, seed, train: parts.train.length, heldOut: parts.test.length },
      teacher: teacherInfo, report: result.report, teacherReport, resumedFrom, files, seconds: (performance.now() - t0) / 1000,
    };
    await writeFileAtomic(files.report, `${JSON.stringify(summary, null, 1)}\n`);
    rmSync(stateDir, { recursive: true, force: true }); // the model is written: nothing left to resume
    return summary;
  } finally {
    if (snapshot !== null) tf.dispose(Object.values(snapshot.tensors));
    progress.finish();
    teacher?.dispose();
    encoder?.dispose();
  }
}

function formatTrain(s: EventseqTrainSummary): string {
  const r = s.report;
  const rows: [string, string][] = [
    ['method', s.method], ['data', s.data],
    ['sequences', `${String(s.split.train)} trained on, ${String(s.split.heldOut)} held out (--holdout ${String(s.split.holdout)}, seed ${String(s.split.seed)})`],
    ...(s.teacher === null ? [] : [['teacher', s.teacher.source === 'given' ? s.teacher.dir : `CoLES trained first, saved in ${s.teacher.dir}`] as [string, string]]),
    ['epochs', `${String(r.epochs)} (${String(r.steps)} steps${r.stoppedEarly ? ', stopped early' : ''})`],
    ['loss', r.epochLoss.map((l) => l.toPrecision(4)).join(' -> ')],
    ['speed', `${Math.round(r.eventsPerSecond).toLocaleString('en-US')} events/s`],
    ['wrote', `${s.files.tensors}, ${s.files.sidecar}, ${s.files.report}`], ['time', `${s.seconds.toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** Options of `sift eventseq embed`. */
export interface EventseqEmbedOptions extends DataOptions {
  model: string;
  out: string;
  batchSize?: number;
  maxLen?: number;
  force?: boolean;
}

/** What `sift eventseq embed` prints with `--json`. */
export interface EventseqEmbedSummary {
  rows: number;
  dim: number;
  format: 'csv' | 'safetensors';
  files: { embeddings: string; labels: string | null };
  labels: string[];
  seconds: number;
}

/** The labels CSV written beside a CSV of embeddings: `emb.csv` -> `emb.labels.csv`. */
export function labelsPath(out: string): string {
  return out.replace(/\.csv$/iu, '.labels.csv');
}

function csvCell(s: string): string {
  return /[",\r\n]/u.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A float32 value in the fewest digits that read back to the same float32 (9 significant digits at most). */
function f32(v: number): string {
  return Number.isNaN(v) ? '' : String(Number(v.toPrecision(9)));
}

/** Runs `sift eventseq embed`. */
export async function runEventseqEmbed(o: EventseqEmbedOptions, ctx: CommandContext): Promise<EventseqEmbedSummary> {
  const t0 = performance.now();
  const format = /\.csv$/iu.test(o.out) ? 'csv' : /\.safetensors$/iu.test(o.out) ? 'safetensors' : undefined;
  if (format === undefined) throw new UsageError(`--out must end in .csv or .safetensors, got "${o.out}"`);
  const { store } = await loadData(o);
  const withLabels = format === 'csv' && store.labelNames.length > 0;
  const files = { embeddings: o.out, labels: withLabels ? labelsPath(o.out) : null };
  checkOutputs([files.embeddings, ...(files.labels === null ? [] : [files.labels])], o.force === true);
  await ctx.startBackend();
  const encoder = await loadModel(o.model, '--model');
  const progress = ctx.progress();
  let x: EmbedResult;
  try {
    checkSameEncoding(encoder, store, `the model in ${o.model}`);
    x = await embed(encoder, store, {
      ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
      ...(o.maxLen === undefined ? {} : { maxLen: o.maxLen }),
      onProgress: (p) => { progress.update({ stage: 'embed', done: p.done, total: p.total }); },
    });
  } finally {
    progress.finish();
    encoder.dispose();
  }
  if (format === 'csv') {
    const lines = [['id', ...Array.from({ length: x.cols }, (_, j) => `e${String(j)}`)].join(',')];
    for (let i = 0; i < x.rows; i++) {
      const row = [csvCell(store.entityIds[i])];
      for (let j = 0; j < x.cols; j++) row.push(f32(x.data[i * x.cols + j]));
      lines.push(row.join(','));
    }
    await writeFileAtomic(files.embeddings, `${lines.join('\n')}\n`);
    if (files.labels !== null) {
      const names = store.labelNames;
      const cols = names.map((n) => store.label(n));
      const out = [['id', ...names.map(csvCell)].join(',')];
      for (let i = 0; i < store.numEntities; i++) {
        out.push([csvCell(store.entityIds[i]), ...cols.map((c) => (Number.isFinite(c[i]) ? String(c[i]) : ''))].join(','));
      }
      await writeFileAtomic(files.labels, `${out.join('\n')}\n`);
    }
  } else {
    const tensors: Record<string, SafeTensor> = { embeddings: { dtype: 'F32', shape: [x.rows, x.cols], data: x.data } };
    for (const name of store.labelNames) tensors[`labels.${name}`] = { dtype: 'F64', shape: [x.rows], data: store.label(name) };
    await writeSafetensorsFile(files.embeddings, tensors, { format: 'sift.embeddings', ids: JSON.stringify(store.entityIds) });
  }
  return { rows: x.rows, dim: x.cols, format, files, labels: store.labelNames, seconds: (performance.now() - t0) / 1000 };
}

/** Options of `sift eventseq eval`. */
export interface EventseqEvalOptions extends DataOptions {
  model: string;
  holdout?: number;
  probes: string;
  batchSize?: number;
  maxLen?: number;
}

/** One row of `sift eventseq eval`: a probe on one target. */
export interface EventseqEvalRow {
  target: string;
  probe: string;
  classes: number;
  train: number;
  test: number;
  accuracy: number;
  rocAuc: number;
  logLoss: number;
  f1Macro: number;
}

/** What `sift eventseq eval` prints with `--json`. */
export interface EventseqEvalSummary {
  model: string;
  data: string;
  split: { holdout: number; seed: number; source: 'flag' | 'model' | 'default' };
  rows: EventseqEvalRow[];
  /** Targets that were not probed, and why (e.g. not class indices). */
  skipped: { target: string; reason: string }[];
  geometry: GeometryReport;
  seconds: number;
}

function readTrainSplit(dir: string): { holdout: number; seed: number } | null {
  try {
    const s = JSON.parse(readFileSync(join(dir, MODEL_FILES.report), 'utf8')) as Partial<EventseqTrainSummary>;
    return s.split !== undefined && s.split.holdout > 0 ? { holdout: s.split.holdout, seed: s.split.seed } : null;
  } catch {
    return null;
  }
}

/** Runs `sift eventseq eval`: the library's probe protocol (frozen embeddings, logistic and GBDT probes) per target. */
export async function runEventseqEval(o: EventseqEvalOptions, ctx: CommandContext): Promise<EventseqEvalSummary> {
  const t0 = performance.now();
  const probes = o.probes.split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const p of probes) if (!(PROBE_KINDS as readonly string[]).includes(p)) throw new UsageError(`--probes must list ${PROBE_KINDS.join(' and/or ')}, got "${p}"`);
  if (probes.length === 0) throw new UsageError(`--probes must list ${PROBE_KINDS.join(' and/or ')}`);
  if (o.holdout !== undefined && !(o.holdout > 0 && o.holdout < 1)) throw new UsageError(`--holdout must be in (0, 1), got ${String(o.holdout)}`);
  const { store, source } = await loadData(o);
  if (store.labelNames.length === 0) throw new UsageError(`--data ${o.data} has no labels to probe; prepare it with --labels (or use --data synthetic)`);
  // The split the model was trained with (its held-out part was never trained on), unless --holdout overrides it.
  const trained = readTrainSplit(o.model);
  const splitUsed = o.holdout !== undefined ? { holdout: o.holdout, seed: ctx.globals().seed, source: 'flag' as const }
    : trained !== null ? { ...trained, source: 'model' as const } : { holdout: 0.3, seed: ctx.globals().seed, source: 'default' as const };
  if (splitUsed.source === 'default') ctx.info('the model records no held-out split: probing on a fresh 30% split (sequences the encoder may have trained on)');
  const parts = split(store, splitUsed.holdout, splitUsed.seed);
  await ctx.startBackend();
  const encoder = await loadModel(o.model, '--model');
  const progress = ctx.progress();
  try {
    checkSameEncoding(encoder, store, `the model in ${o.model}`);
    const x = await embed(encoder, store, {
      ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
      ...(o.maxLen === undefined ? {} : { maxLen: o.maxLen }),
      onProgress: (p) => { progress.update({ stage: 'embed', done: p.done, total: p.total }); },
    });
    const rows: EventseqEvalRow[] = [];
    const skipped: EventseqEvalSummary['skipped'] = [];
    const names = store.labelNames;
    names.forEach((target, k) => {
      progress.update({ stage: 'probe', done: k, total: names.length, info: { target } });
      const y = store.label(target);
      const known = (ids: number[]): number[] => ids.filter((i) => Number.isFinite(y[i]));
      const train = known(parts.train);
      const test = known(parts.test);
      const values = [...train, ...test].map((i) => y[i]);
      if (values.some((v) => !Number.isInteger(v) || v < 0)) {
        skipped.push({ target, reason: 'not class indices (0, 1, 2, ...); the probes here classify' });
        return;
      }
      const classes = new Set(values).size;
      if (classes < 2 || train.length < 2 || test.length < 1) {
        skipped.push({ target, reason: `too few labelled sequences or classes (${String(train.length)} train, ${String(test.length)} test, ${String(classes)} classes)` });
        return;
      }
      for (const r of probeLabel(x, store, target, train, test, { probes: probes as (typeof PROBE_KINDS)[number][] })) {
        const m = (name: string): number => (Object.hasOwn(r.metrics, name) ? r.metrics[name].mean : Number.NaN);
        rows.push({
          target, probe: r.probe, classes, train: train.length, test: test.length,
          accuracy: m('accuracy'), rocAuc: m('rocAuc'), logLoss: m('logLoss'), f1Macro: m('f1Macro'),
        });
      }
      progress.update({ stage: 'probe', done: k + 1, total: names.length, info: { target } });
    });
    const geometry = await embeddingGeometry(x, ctx.globals().seed);
    return {
      model: o.model, data: source, split: splitUsed, rows, skipped, geometry, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    progress.finish();
    encoder.dispose();
  }
}

function formatEval(s: EventseqEvalSummary): string {
  const n = (v: number, d = 3): string => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const table = formatTable(['target', 'probe', 'accuracy', 'ROC-AUC', 'log-loss', 'F1 macro', 'classes', 'train/test'],
    s.rows.map((r) => [r.target, r.probe, n(r.accuracy), n(r.rocAuc), n(r.logLoss), n(r.f1Macro), String(r.classes), `${String(r.train)}/${String(r.test)}`]));
  const lines = [
    `model ${s.model} on ${s.data}; probes scored on ${(s.split.holdout * 100).toFixed(0)}% of the sequences held out (seed ${String(s.split.seed)}, ` +
      `${s.split.source === 'model' ? 'the split the model was trained with' : s.split.source === 'flag' ? '--holdout' : 'default'})`,
    '', table, '',
    `embedding geometry: anisotropy ${n(s.geometry.anisotropy)}, intrinsic dimension (TwoNN) ${n(s.geometry.intrinsicDimension, 1)}`,
  ];
  for (const k of s.skipped) lines.push(`skipped ${k.target}: ${k.reason}`);
  lines.push(`time ${s.seconds.toFixed(1)} s`);
  return lines.join('\n');
}

/** Registers `sift eventseq ...` on the program. */
export function registerEventseq(program: Command, ctx: CommandContext): void {
  const eventseq = program.command('eventseq').description('Event sequences: prepare data, train an encoder (CoLES, generative, hybrid, MLEM, supervised), embed, evaluate with probes.');
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

  const dataOptions = (cmd: Command): Command => cmd
    .requiredOption('--data <prefix|synthetic>', 'a store written by `sift eventseq prepare` (its prefix), or `synthetic` (the embedded dataset)')
    .option('--clients <n>', `--data synthetic: number of clients (default ${String(SYNTHETIC_DATA.numClients)})`, parseIntOption('--clients'));

  dataOptions(eventseq.command('train')
    .description('Train a sequence encoder with one method and save it (encoder.safetensors + encoder.json, the fitted event encoding included).'))
    .requiredOption('--method <name>', `one of ${METHOD_NAMES.join(', ')}`)
    .requiredOption('--out <dir>', `model folder: ${MODEL_FILES.tensors}, ${MODEL_FILES.sidecar}, ${MODEL_FILES.report}`)
    .option('--teacher <dir>', 'MLEM only: the frozen CoLES model to align with (a `--method coles` folder); without it MLEM trains CoLES first with the same options and saves it in <out>/teacher')
    .option('--epochs <n>', `passes over the training sequences (default ${String(TRAIN_DEFAULTS.epochs)})`, parseIntOption('--epochs'))
    .option('--batch-size <n>', `sequences per step (default ${String(TRAIN_DEFAULTS.batchSize)})`, parseIntOption('--batch-size'))
    .option('--hidden <n>', `embedding size H (default ${String(SEQUENCE_ENCODER_DEFAULTS.hiddenSize)})`, parseIntOption('--hidden'))
    .option('--encoder <kind>', `backbone: ${BACKBONES.join(', ')}`, 'gru')
    .option('--layers <n>', `GRU or Transformer layers (default ${String(SEQUENCE_ENCODER_DEFAULTS.numLayers)})`, parseIntOption('--layers'))
    .option('--lr <rate>', 'AdamW learning rate (default: the method\'s own)', parseNumber('--lr'))
    .option('--max-len <n>', `keep the last N events of each sequence (default ${String(TRAIN_DEFAULTS.maxLen)})`, parseIntOption('--max-len'))
    .option('--label <name>', 'supervised only: the label to fit (default: the data\'s first label)')
    .option('--holdout <fraction>', 'sequences held out from training (seeded by --seed); `eventseq eval` probes them', parseNumber('--holdout'), 0.3)
    .option('--resume', 'continue the interrupted run in --out from its last epoch snapshot (same options and --seed)', false)
    .option('--force', 'overwrite an existing model in --out', false)
    .addHelpText('after', [
      '', 'A snapshot is taken after every epoch (in <out>/train-state); a killed run continues with --resume.', '', 'Examples:',
      '  $ sift eventseq train --data synthetic --method coles --epochs 5 --hidden 32 --out models/coles',
      '  $ sift eventseq train --data synthetic --method mlem --teacher models/coles --out models/mlem',
      '  $ sift eventseq train --data data/age --method generative --encoder transformer --out models/gen-age',
    ].join('\n'))
    .action(async (opts: EventseqTrainOptions) => {
      const summary = await runEventseqTrain(opts, ctx);
      ctx.io.out(ctx.globals().json ? JSON.stringify(summary, null, 2) : formatTrain(summary));
    });

  dataOptions(eventseq.command('embed')
    .description('Embed every sequence with a trained model: a CSV (id, e0..eN; labels in <out>.labels.csv) or safetensors file.'))
    .requiredOption('--model <dir>', 'a folder written by `sift eventseq train`')
    .requiredOption('--out <file>', 'embeddings.csv (id, e0, e1, ...; plus <name>.labels.csv: id and one column per label) or embeddings.safetensors (tensor `embeddings` [N, H], `labels.<name>`, ids in the metadata)')
    .option('--batch-size <n>', 'sequences per forward pass (default 128)', parseIntOption('--batch-size'))
    .option('--max-len <n>', 'keep the last N events (default 1000)', parseIntOption('--max-len'))
    .option('--force', 'overwrite existing outputs', false)
    .addHelpText('after', '\nExamples:\n  $ sift eventseq embed --model models/mlem --data synthetic --out mlem.csv\n  $ sift eventseq embed --model models/coles --data data/age --out age.safetensors')
    .action(async (opts: EventseqEmbedOptions) => {
      const s = await runEventseqEmbed(opts, ctx);
      ctx.io.out(ctx.globals().json ? JSON.stringify(s, null, 2)
        : `embedded ${String(s.rows)} sequences into ${String(s.dim)} dimensions; wrote ${s.files.embeddings}${s.files.labels === null ? '' : ` and ${s.files.labels}`} in ${s.seconds.toFixed(1)} s`);
    });

  dataOptions(eventseq.command('eval')
    .description('Probe a trained model\'s frozen embeddings on every label of the data (MLEM\'s protocol: logistic and GBDT probes on held-out sequences).'))
    .requiredOption('--model <dir>', 'a folder written by `sift eventseq train`')
    .option('--holdout <fraction>', 'test part (default: the split the model was trained with, else 0.3 seeded by --seed)', parseNumber('--holdout'))
    .option('--probes <list>', `comma-separated: ${PROBE_KINDS.join(', ')}`, PROBE_KINDS.join(','))
    .option('--batch-size <n>', 'sequences per forward pass (default 128)', parseIntOption('--batch-size'))
    .option('--max-len <n>', 'keep the last N events (default 1000)', parseIntOption('--max-len'))
    .addHelpText('after', '\nExamples:\n  $ sift eventseq eval --model models/mlem --data synthetic\n  $ sift --json eventseq eval --model models/coles --data data/age --probes logistic')
    .action(async (opts: EventseqEvalOptions) => {
      const s = await runEventseqEval(opts, ctx);
      ctx.io.out(ctx.globals().json ? JSON.stringify(s, null, 2) : formatEval(s));
    });
}
