/**
 * A seeded synthetic event-sequence dataset with known latent structure (MLEM brief §5, modelled on Age and
 * Pendulum): the embedded default dataset, generated in memory.
 *
 * Each client has two independent labels with the same balanced marginals:
 * - `composition` (A): which of C prototype code distributions π_A ~ Dirichlet(0.3) over K "MCC" codes its events
 *   come from. The client mixes it with a personal draw: π_client = (1 − w)·π_A + w·Dirichlet(α_personal), its
 *   identity, which CoLES exploits. Log-amounts are N(μ_{A,code} + offset_client, σ).
 * - `dynamics` (B): how events follow each other. Codes follow the Markov matrix
 *   P_B = (1 − λ_B)·1·π_clientᵀ + λ_B·I (repeat the previous code with probability λ_B, else draw afresh), and
 *   times follow a Hawkes process with branching ratio α_B (or, with `timing: 'exponential'`, Δt ~ Exp(rate_client)).
 *
 * Why this Markov matrix: π_client is its stationary distribution for every λ_B, and the first code is drawn from
 * π_client, so every event's code has marginal π_client whatever B is. The code histogram therefore carries A and not
 * B (in expectation), and the composition-normalised repeat rate (P̂(repeat) − Σπ̂²)/(1 − Σπ̂²) estimates λ_B whatever
 * A is: B and not A. The tests check both directions.
 */
import { Rng, SiftError } from '@sift/tensor-core';
import { storeFromTable, type EventTable, type LabelTable } from './from-table.js';
import type { IngestReport } from './report.js';
import type { EventSchema } from './schema.js';
import type { SequenceStore } from './store.js';

/** Options of `generateSynthetic`. */
export interface SyntheticOptions {
  seed: number;
  /** Number of clients (sequences). */
  numClients: number;
  /** K, the number of event codes. */
  numCodes: number;
  /** C, classes of each label. */
  numClasses: number;
  /** Sequence lengths are uniform in [minEvents, maxEvents], independent of the labels. */
  minEvents: number;
  maxEvents: number;
  /** Dirichlet concentration of the class prototypes π_A (sparse at 0.3). */
  prototypeConcentration: number;
  /** Dirichlet concentration of each client's personal draw. */
  personalConcentration: number;
  /** w, the weight of the personal draw in π_client. */
  personalWeight: number;
  /** λ_B per dynamics class: probability of repeating the previous code. Length C. */
  repeatProbability: readonly number[];
  /** `hawkes` (α_B per dynamics class) or `exponential` (Δt ~ Exp(rate_client), no label in the times). */
  timing: 'hawkes' | 'exponential';
  /** α_B, the Hawkes branching ratio per dynamics class (each in [0, 1)). Length C. */
  hawkesBranching: readonly number[];
  /** β, the Hawkes kernel decay φ(t) = α·β·e^(−βt), per time unit (days). */
  hawkesDecay: number;
  /** Client base rates are exp(N(log(baseRate), rateLogStd)) events per day. */
  baseRate: number;
  rateLogStd: number;
  /** μ_{A,code} ~ N(amountLogMean, amountClassStd); client offsets ~ N(0, amountClientStd); event noise σ. */
  amountLogMean: number;
  amountClassStd: number;
  amountClientStd: number;
  amountNoiseStd: number;
}

/** Defaults of `SyntheticOptions`: 1000 clients of 30–300 events over 30 codes, 4 classes per label. */
export const SYNTHETIC_DEFAULTS: Readonly<SyntheticOptions> = {
  seed: 0,
  numClients: 1000,
  numCodes: 30,
  numClasses: 4,
  minEvents: 30,
  maxEvents: 300,
  prototypeConcentration: 0.3,
  personalConcentration: 1,
  personalWeight: 0.3,
  repeatProbability: [0, 0.25, 0.5, 0.75],
  timing: 'hawkes',
  hawkesBranching: [0.1, 0.3, 0.5, 0.7],
  hawkesDecay: 1,
  baseRate: 1,
  rateLogStd: 0.5,
  amountLogMean: 3,
  amountClassStd: 1,
  amountClientStd: 0.5,
  amountNoiseStd: 0.5,
};

/** The schema of the synthetic events: `mcc` codes (as text "0".."K-1") and a positive `amount` (signed-logged). */
export const SYNTHETIC_SCHEMA: EventSchema = {
  entity: 'client',
  time: { column: 'time', format: 'number' },
  fields: [
    { kind: 'categorical', name: 'mcc' },
    { kind: 'numeric', name: 'amount', transform: 'log' },
  ],
};

/** The generating parameters, for tests and for checking what a model recovers. */
export interface SyntheticLatents {
  /** [C][K] π_A, the composition prototypes. */
  prototypes: Float64Array[];
  /** [C][K] μ_{A,code}, mean log-amounts. */
  amountMeans: Float64Array[];
  /** [C] λ_B. */
  repeatProbability: number[];
  /** [C] α_B (Hawkes timing only; reported either way). */
  hawkesBranching: number[];
  /** Per client, in generation order (client `i` has id `c{i}` zero-padded; the store orders ids by code point). */
  clients: {
    /** [n] composition label A. */
    composition: Int32Array;
    /** [n] dynamics label B. */
    dynamics: Int32Array;
    /** [n][K] π_client. */
    mix: Float64Array[];
    /** [n] log-amount offsets. */
    amountOffset: Float64Array;
    /** [n] base event rates (per day). */
    rate: Float64Array;
  };
}

/** What `generateSynthetic` returns. */
export interface SyntheticDataset {
  /** The events as columns (`mcc` as text codes, `amount` raw, `time` in days). */
  table: EventTable;
  /** `composition` and `dynamics` labels per client. */
  labels: LabelTable;
  /** The encoded store (encoder fitted on all clients). */
  store: SequenceStore;
  report: IngestReport;
  latents: SyntheticLatents;
  /** The options used, defaults filled in. */
  options: SyntheticOptions;
}

function validate(o: SyntheticOptions): void {
  const bad = (what: string): never => {
    throw new SiftError('E_CONFIG', `generateSynthetic: ${what}.`);
  };
  const int = (k: keyof SyntheticOptions, min: number): void => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(`${k} must be an integer >= ${min}, got ${String(v)}`);
  };
  int('numClients', 1);
  int('numCodes', 2);
  int('numClasses', 1);
  int('minEvents', 1);
  int('maxEvents', 1);
  if (o.maxEvents < o.minEvents) bad(`maxEvents ${o.maxEvents} < minEvents ${o.minEvents}`);
  if (o.repeatProbability.length !== o.numClasses || !o.repeatProbability.every((p) => p >= 0 && p < 1)) {
    bad(`repeatProbability needs ${o.numClasses} values in [0, 1), got [${o.repeatProbability.join(', ')}]`);
  }
  if (o.hawkesBranching.length !== o.numClasses || !o.hawkesBranching.every((p) => p >= 0 && p < 1)) {
    bad(`hawkesBranching needs ${o.numClasses} values in [0, 1) (a stable process), got [${o.hawkesBranching.join(', ')}]`);
  }
  if ((o.timing as string) !== 'hawkes' && (o.timing as string) !== 'exponential') bad(`timing "${o.timing}" is not "hawkes" or "exponential"`);
  for (const k of ['prototypeConcentration', 'personalConcentration', 'hawkesDecay', 'baseRate'] as const) {
    if (!(o[k] > 0)) bad(`${k} must be > 0, got ${o[k]}`);
  }
  if (!(o.personalWeight >= 0 && o.personalWeight <= 1)) bad(`personalWeight must be in [0, 1], got ${o.personalWeight}`);
}

/** Balanced labels: a permutation of 0..n−1 taken modulo C, so class sizes differ by at most one. */
function balanced(n: number, c: number, rng: Rng): Int32Array {
  const p = rng.permutation(n);
  return Int32Array.from(p, (v) => v % c);
}

/**
 * Generates the synthetic dataset. The same options give bit-identical output.
 * @example
 * const { store, latents } = generateSynthetic({ seed: 1, numClients: 200 });
 * store.label('composition'); // Float64Array of 0..3, balanced
 */
export function generateSynthetic(options: Partial<SyntheticOptions> = {}): SyntheticDataset {
  const o: SyntheticOptions = { ...SYNTHETIC_DEFAULTS, ...options };
  validate(o);
  const root = new Rng(o.seed);
  const C = o.numClasses;
  const K = o.numCodes;
  const paramRng = root.fork('parameters');
  const prototypes = Array.from({ length: C }, () => paramRng.dirichlet(o.prototypeConcentration, K));
  const amountMeans = Array.from({ length: C }, () => Float64Array.from({ length: K }, () => paramRng.normal(o.amountLogMean, o.amountClassStd)));
  const labelRng = root.fork('labels');
  const composition = balanced(o.numClients, C, labelRng.fork('composition'));
  const dynamics = balanced(o.numClients, C, labelRng.fork('dynamics'));

  const width = String(o.numClients - 1).length;
  const entity: string[] = [];
  const time: number[] = [];
  const mcc: string[] = [];
  const amount: number[] = [];
  const mix: Float64Array[] = [];
  const amountOffset = new Float64Array(o.numClients);
  const rate = new Float64Array(o.numClients);
  const ids: string[] = [];
  for (let i = 0; i < o.numClients; i++) {
    // One stream per client: adding clients never changes the earlier ones.
    const rng = root.fork(`client:${i}`);
    const a = composition[i];
    const b = dynamics[i];
    const personal = rng.dirichlet(o.personalConcentration, K);
    const pi = new Float64Array(K);
    for (let k = 0; k < K; k++) pi[k] = (1 - o.personalWeight) * prototypes[a][k] + o.personalWeight * personal[k];
    mix.push(pi);
    amountOffset[i] = rng.normal(0, o.amountClientStd);
    rate[i] = o.baseRate * Math.exp(rng.normal(0, o.rateLogStd));
    const n = o.minEvents + rng.int(o.maxEvents - o.minEvents + 1);
    const id = `c${String(i).padStart(width, '0')}`;
    ids.push(id);
    const lambda = o.repeatProbability[b];
    const alpha = o.hawkesBranching[b];
    const beta = o.hawkesDecay;
    let prev = -1;
    let t = 0;
    let excitation = 0; // Σ α·β·e^(−β(t − t_j)) over past events: the Hawkes intensity above the base rate
    for (let j = 0; j < n; j++) {
      const code = prev >= 0 && rng.float() < lambda ? prev : rng.categorical(pi);
      prev = code;
      if (o.timing === 'exponential') {
        if (j > 0) t += rng.exponential(rate[i]);
      } else if (j > 0) {
        // Ogata thinning; the intensity only decays between events, so its current value bounds it until the next one.
        for (;;) {
          const bound = rate[i] + excitation;
          const w = rng.exponential(bound);
          t += w;
          excitation *= Math.exp(-beta * w);
          if (rng.float() * bound <= rate[i] + excitation) break;
        }
      }
      excitation += alpha * beta;
      entity.push(id);
      time.push(t);
      mcc.push(String(code));
      amount.push(Math.exp(rng.normal(amountMeans[a][code] + amountOffset[i], o.amountNoiseStd)));
    }
  }
  const table: EventTable = { entity, time, columns: { mcc, amount } };
  const labels: LabelTable = { entity: ids, columns: { composition: Float64Array.from(composition), dynamics: Float64Array.from(dynamics) } };
  const { store, report } = storeFromTable({ table, schema: SYNTHETIC_SCHEMA, labels, source: `synthetic (seed ${o.seed})` });
  return {
    table, labels, store, report, options: o,
    latents: {
      prototypes, amountMeans, repeatProbability: [...o.repeatProbability], hawkesBranching: [...o.hawkesBranching],
      clients: { composition, dynamics, mix, amountOffset, rate },
    },
  };
}
