/**
 * The losses of CoLES (margin contrastive with hard negatives, InfoNCE), MLEM's SigLIP alignment and the generative
 * reconstruction (MLEM brief §2). Each returns a scalar and is differentiable in its tensor inputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '@sift/tensor-core';

/** Options of `colesMarginLoss`. */
export interface MarginLossOptions {
  /** m in max(0, m − ‖z_i − z_j‖)². Default 0.5 (ptls Age). */
  margin: number;
  /** Hard negatives per anchor: the closest other-group embeddings. Default 5 (ptls `HardNegativePairSelector`). */
  negCount: number;
}

/** Defaults of `MarginLossOptions`. */
export const MARGIN_LOSS_DEFAULTS: Readonly<MarginLossOptions> = { margin: 0.5, negCount: 5 };

/** Options of `colesInfoNceLoss`. */
export interface InfoNceOptions {
  /** τ: similarities are cosine / τ. Default 0.1 (MLEM ABank). */
  temperature: number;
  /** Leave positives out of the denominator (MLEM's DecoupledInfoNCE). Default true. */
  decoupled: boolean;
}

/** Defaults of `InfoNceOptions`. */
export const INFONCE_DEFAULTS: Readonly<InfoNceOptions> = { temperature: 0.1, decoupled: true };

function checkGroups(where: string, z: tf.Tensor, groups: ArrayLike<number>): number {
  if (z.rank !== 2) throw new SiftError('E_SHAPE', `${where}: embeddings must be [N, D], got ${fmtShape(z.shape)}.`);
  const n = z.shape[0];
  if (groups.length !== n) throw new SiftError('E_SHAPE', `${where}: ${groups.length} group ids for ${n} embeddings; pass one per row.`);
  return n;
}

/** Pairs (i, j) of the margin loss: all same-group pairs i < j, and for each anchor its `negCount` nearest others. */
export function marginLossPairs(zData: ArrayLike<number>, n: number, d: number, groups: ArrayLike<number>, negCount: number):
  { pos: [number, number][]; neg: [number, number][] } {
  const pos: [number, number][] = [];
  const neg: [number, number][] = [];
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const diff = zData[i * d + k] - zData[j * d + k];
        s += diff * diff;
      }
      dist[i * n + j] = s;
      dist[j * n + i] = s;
      if (groups[i] === groups[j]) pos.push([i, j]);
    }
  }
  for (let i = 0; i < n; i++) {
    const others: number[] = [];
    for (let j = 0; j < n; j++) if (groups[j] !== groups[i]) others.push(j);
    others.sort((a, b) => dist[i * n + a] - dist[i * n + b] || a - b);
    for (const j of others.slice(0, negCount)) neg.push([i, j]);
  }
  return { pos, neg };
}

/**
 * CoLES's contrastive loss with margin (ptls `ContrastiveLoss` + `HardNegativePairSelector`), a SUM over pairs:
 *   L = Σ_{same group i<j} ‖z_i − z_j‖² + Σ_{anchor i, j ∈ hard negatives(i)} max(0, m − ‖z_i − z_j‖)².
 * Hard negatives are chosen on the current values (no gradient through the choice), as ptls does on detached ones.
 * @param z [N, D] embeddings (ptls L2-normalises them first)
 * @param groups N group ids (the entity of each view)
 * @example
 * const loss = colesMarginLoss(l2Normalize(z), [0, 0, 1, 1], { margin: 0.5, negCount: 1 });
 */
export function colesMarginLoss(z: tf.Tensor, groups: ArrayLike<number>, options: Partial<MarginLossOptions> = {}): tf.Scalar {
  const o = { ...MARGIN_LOSS_DEFAULTS, ...options };
  const n = checkGroups('colesMarginLoss', z, groups);
  const d = z.shape[1]!;
  const { pos, neg } = marginLossPairs(z.dataSync(), n, d, groups, o.negCount);
  return tf.tidy(() => {
    let loss = tf.scalar(0);
    if (pos.length > 0) {
      const a = tf.gather(z, tf.tensor1d(pos.map((p) => p[0]), 'int32'));
      const b = tf.gather(z, tf.tensor1d(pos.map((p) => p[1]), 'int32'));
      loss = tf.add(loss, tf.sum(tf.square(tf.sub(a, b))));
    }
    if (neg.length > 0) {
      const a = tf.gather(z, tf.tensor1d(neg.map((p) => p[0]), 'int32'));
      const b = tf.gather(z, tf.tensor1d(neg.map((p) => p[1]), 'int32'));
      const dist = tf.sqrt(tf.add(tf.sum(tf.square(tf.sub(a, b)), 1), 1e-12));
      loss = tf.add(loss, tf.sum(tf.square(tf.relu(tf.sub(o.margin, dist)))));
    }
    return loss;
  });
}

/** Rows divided by their L2 norm (+1e-12). */
export function l2Normalize(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.div(z, tf.sqrt(tf.add(tf.sum(tf.square(z), -1, true), 1e-12))));
}

/**
 * InfoNCE over views with several positives per anchor, on cosine similarities s_ij / τ. For each anchor i with at
 * least one positive: ℓ_i = LSE_{k ∈ D(i)} s_ik − LSE_{j ∈ P(i)} s_ij, where P(i) is the other views of i's group and
 * D(i) is the other groups' views (decoupled, MLEM's DecoupledInfoNCE) or every view but i (classic). Mean over
 * anchors.
 * @example
 * const loss = colesInfoNceLoss(z, [0, 0, 1, 1], { temperature: 0.1 });
 */
export function colesInfoNceLoss(z: tf.Tensor, groups: ArrayLike<number>, options: Partial<InfoNceOptions> = {}): tf.Scalar {
  const o = { ...INFONCE_DEFAULTS, ...options };
  const n = checkGroups('colesInfoNceLoss', z, groups);
  if (!(o.temperature > 0)) throw new SiftError('E_CONFIG', `colesInfoNceLoss: temperature must be > 0, got ${o.temperature}.`);
  const posMask = new Float32Array(n * n);
  const denMask = new Float32Array(n * n);
  const anchors = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const same = groups[i] === groups[j];
      if (same) {
        posMask[i * n + j] = 1;
        anchors[i] = 1;
      }
      if (!same || !o.decoupled) denMask[i * n + j] = 1;
    }
  }
  let count = 0;
  for (const a of anchors) count += a;
  if (count === 0) throw new SiftError('E_DATA', 'colesInfoNceLoss: no row has a positive (every group has one view); use >= 2 views per entity.');
  return tf.tidy(() => {
    const zn = l2Normalize(z);
    const s = tf.div(tf.matMul(zn, zn, false, true), o.temperature);
    const masked = (m: Float32Array): tf.Tensor => tf.add(s, tf.mul(tf.sub(1, tf.tensor2d(m, [n, n])), -1e9));
    const lseDen = tf.logSumExp(masked(denMask), 1);
    const lsePos = tf.logSumExp(masked(posMask), 1);
    const a = tf.tensor1d(anchors);
    return tf.div<tf.Scalar>(tf.sum(tf.mul(tf.sub(lseDen, lsePos), a)), count);
  });
}

/** Options of `siglipLoss`. */
export interface SiglipOptions {
  /** L2-normalise both sides first (MLEM does, except on PhysioNet and Rosbank). Default true. */
  normalize: boolean;
}

/**
 * SigLIP's pairwise sigmoid loss (MLEM's alignment): logits ℓ_ij = e^{t′}·⟨ĝ_i, ĉ_j⟩ + b, labels y_ii = +1 and
 * y_ij = −1 otherwise, L = (1/N) Σ_i Σ_j −log σ(y_ij·ℓ_ij).
 * @param g [N, D] generative latents (trained)
 * @param c [N, D] contrastive embeddings (frozen)
 * @param logScale t′ (scalar tensor; MLEM initialises log 10)
 * @param bias b (scalar tensor; MLEM initialises −10)
 * @example
 * const loss = siglipLoss(g, c, tf.scalar(Math.log(10)), tf.scalar(-10));
 */
export function siglipLoss(g: tf.Tensor, c: tf.Tensor, logScale: tf.Tensor, bias: tf.Tensor, options: Partial<SiglipOptions> = {}): tf.Scalar {
  const normalize = options.normalize ?? true;
  if (g.rank !== 2 || c.rank !== 2 || g.shape[0] !== c.shape[0] || g.shape[1] !== c.shape[1]) {
    throw new SiftError('E_SHAPE', `siglipLoss: g and c must both be [N, D], got ${fmtShape(g.shape)} and ${fmtShape(c.shape)}.`);
  }
  const n = g.shape[0];
  return tf.tidy(() => {
    const gn = normalize ? l2Normalize(g) : g;
    const cn = normalize ? l2Normalize(c) : c;
    const logits = tf.add(tf.mul(tf.exp(logScale), tf.matMul(gn, cn, false, true)), bias);
    const y = tf.sub(tf.mul(tf.eye(n), 2), 1);
    // log σ(u) = min(u, 0) − log1p(e^{−|u|}), stable; written out because tf.logSigmoid's custom gradient closes over
    // its input, which an enclosing tidy frees before the backward pass.
    const u = tf.mul(y, logits);
    const logSig = tf.sub(tf.minimum(u, 0), tf.log1p(tf.exp(tf.neg(tf.abs(u)))));
    return tf.div<tf.Scalar>(tf.neg(tf.sum(logSig)), n);
  });
}
