/**
 * The Event-sequences job of the worker: `@sift/eventseq-ssl`'s synthetic clients (two latent labels), CoLES or MLEM
 * trained for a few epochs, frozen embeddings, a 2-D UMAP map (`umap-js`, its random numbers from our seeded `Rng`)
 * and logistic probes of both labels. A plain function: Node tests call it too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, SiftError } from '@sift/tensor-core';
import { embed, generateSynthetic, probeLabel, splitEntities, trainColes, trainMlem, type TrainProgress } from '@sift/eventseq-ssl';
import { UMAP } from 'umap-js';
import type { EventSeqParams, EventSeqResult } from './protocol.js';
import type { JobContext } from './worker-jobs.js';

function checkRange(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new SiftError('E_CONFIG', `${name} must be an integer in [${lo}, ${hi}], got ${v}.`);
}

/**
 * Generates `clients` synthetic clients, trains CoLES (or CoLES then MLEM) on 70% of them, embeds all, maps the
 * embeddings to 2-D with UMAP and probes both latent labels with a logistic regression on the other 30%.
 * Training is synchronous inside `@sift/eventseq-ssl`; a cancel during it terminates the worker (see `runner.ts`).
 */
export async function eventSeqJob(p: EventSeqParams, ctx: JobContext): Promise<EventSeqResult> {
  checkRange('clients', p.clients, 20, 5000);
  checkRange('epochs', p.epochs, 1, 100);
  checkRange('hiddenSize', p.hiddenSize, 2, 512);
  const method: string = p.method; // from the page: check it anyway
  if (method !== 'coles' && method !== 'mlem') throw new SiftError('E_CONFIG', `method must be 'coles' or 'mlem', got ${JSON.stringify(p.method)}.`);
  ctx.progress(0, `generating ${p.clients} synthetic clients`);
  const { store } = generateSynthetic({ seed: p.seed, numClients: p.clients, minEvents: 15, maxEvents: 40, numCodes: 20 });
  const { train, test } = splitEntities(store, 0.3, p.seed);
  await ctx.checkpoint();
  const stages = p.method === 'mlem' ? 2 : 1;
  const t0 = performance.now();
  const onProgress = (stage: number) => (q: TrainProgress): void => {
    const f = (q.epoch - 1 + q.step / q.stepsPerEpoch) / q.epochs;
    ctx.progress(0.05 + (0.75 * (stage + f)) / stages, `${q.method} epoch ${q.epoch}/${q.epochs}, step ${q.step}/${q.stepsPerEpoch}: loss ${q.loss.toFixed(3)}`);
  };
  const options = {
    seed: p.seed, epochs: p.epochs, batchSize: 16, entities: train,
    encoder: { hiddenSize: p.hiddenSize }, slices: { count: 4, minLength: 10, maxLength: 30 },
  };
  const coles = trainColes(store, { ...options, onProgress: onProgress(0) });
  let encoder = coles.encoder;
  let epochLoss = coles.report.epochLoss;
  if (p.method === 'mlem') {
    await ctx.checkpoint();
    try {
      const mlem = trainMlem(store, coles.encoder, { ...options, onProgress: onProgress(1) });
      encoder = mlem.encoder;
      epochLoss = mlem.report.epochLoss;
    } finally {
      coles.encoder.dispose();
    }
  }
  let x: Awaited<ReturnType<typeof embed>>;
  try {
    await ctx.checkpoint();
    ctx.progress(0.8, 'embedding every client');
    x = await embed(encoder, store);
  } finally {
    encoder.dispose();
  }
  const tTrain = performance.now();
  ctx.progress(0.85, 'probing the frozen embeddings');
  const probes = store.labelNames.map((label) => {
    const reports = probeLabel(x, store, label, train, test, { probes: ['logistic'] });
    const classes = new Set(Array.from(store.labels[label]).filter((v) => Number.isFinite(v))).size;
    return { label, accuracy: reports.length > 0 ? reports[0].metrics.accuracy.mean : Number.NaN, chance: 1 / Math.max(1, classes) };
  });
  await ctx.checkpoint();
  ctx.progress(0.9, 'UMAP map of the embeddings');
  const rows: number[][] = [];
  for (let i = 0; i < x.rows; i++) rows.push(Array.from(x.data.subarray(i * x.cols, (i + 1) * x.cols)));
  const rng = new Rng(p.seed).fork('umap');
  const umap = new UMAP({ nComponents: 2, nNeighbors: Math.min(15, x.rows - 1), minDist: 0.1, nEpochs: 200, random: () => rng.float() });
  const coords = await umap.fitAsync(rows, (epoch) => {
    if (epoch % 50 === 0) ctx.progress(0.9 + (0.1 * epoch) / 200, `UMAP epoch ${epoch}/200`);
    return true;
  });
  const map = new Float32Array(coords.length * 2);
  coords.forEach(([a = 0, b = 0], i) => {
    map[2 * i] = a;
    map[2 * i + 1] = b;
  });
  const colour = store.labelNames.includes('composition') ? 'composition' : store.labelNames.length > 0 ? store.labelNames[0] : null;
  const comp = colour === null ? new Float64Array(x.rows) : store.labels[colour];
  const classes = Int32Array.from(comp, (v) => (Number.isFinite(v) ? v : -1));
  ctx.progress(1, 'done');
  return {
    backend: tf.getBackend(), method: p.method, clients: store.numEntities, events: store.numEvents, epochLoss, map, classes,
    numClasses: Math.max(...classes) + 1, probes, dim: x.cols,
    seconds: { train: (tTrain - t0) / 1000, map: (performance.now() - tTrain) / 1000 },
  };
}
