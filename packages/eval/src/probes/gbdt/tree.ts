import { HistThreads, histKernel, sharedF64, sharedI32, sharedU8, splitKernel } from './hist-threads.js';

/**
 * One regression tree of a gradient-boosted model, as flat typed arrays (LightGBM's layout). Internal node i tests
 * `x[splitFeature[i]] <= threshold[i]` (equivalently bin <= splitBin[i]); a child index c >= 0 is a node, c < 0 is
 * leaf ~c. A tree with one leaf has no nodes.
 */
export interface GbdtTree {
  readonly numLeaves: number;
  readonly splitFeature: Int32Array;
  readonly splitBin: Int32Array;
  readonly threshold: Float64Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** Gain of each split (objective decrease, before shrinkage). */
  readonly splitGain: Float64Array;
  /** Leaf outputs, shrinkage (learning rate) applied. */
  readonly leafValue: Float64Array;
}

/** Settings the learner reads (a subset of `GbdtOptions`). */
export interface TreeSettings {
  numLeaves: number;
  maxDepth: number;
  minDataInLeaf: number;
  minSumHessianInLeaf: number;
  minGainToSplit: number;
  lambdaL1: number;
  lambdaL2: number;
}

/** Soft-threshold of a gradient sum by λ1 (LightGBM `ThresholdL1`). */
function thresholdL1(g: number, l1: number): number {
  return g > l1 ? g - l1 : g < -l1 ? g + l1 : 0;
}

/**
 * Grows leaf-wise (best-first) histogram trees on pre-binned data, LightGBM's serial tree learner: each leaf keeps
 * a gradient/hessian/count histogram per feature; a split builds the smaller child's histogram from its rows and gets
 * the larger child's as parent − smaller (histogram subtraction), so each level costs about half a pass over the data.
 * Rows of a leaf are a contiguous range of `rows` (partitioned stably in place). Buffers are reused across trees.
 */
export class TreeLearner {
  private readonly n: number;
  private readonly binned: Uint8Array;
  private readonly numBins: Int32Array;
  private readonly hoff: Int32Array;
  private readonly histSize: number;
  private readonly s: TreeSettings;
  private readonly pool: Float64Array[] = [];
  /** Row indices; leaf l owns rows[leafBegin[l] .. leafBegin[l] + leafCount[l]). */
  private readonly rows: Int32Array;
  private readonly tmp: Int32Array;
  private readonly og: Float64Array;
  private readonly oh: Float64Array;
  // Per-leaf state (capacity numLeaves).
  private readonly leafBegin: Int32Array;
  private readonly leafCount: Int32Array;
  private readonly leafG: Float64Array;
  private readonly leafH: Float64Array;
  private readonly leafDepth: Int32Array;
  private readonly leafParent: Int32Array;
  private readonly leafIsLeft: Uint8Array;
  private readonly leafHist: (Float64Array | null)[];
  private readonly bestGain: Float64Array;
  private readonly bestFeature: Int32Array;
  private readonly bestBin: Int32Array;
  private readonly bestLG: Float64Array;
  private readonly bestLH: Float64Array;
  private grad: Float64Array = new Float64Array(0);
  private hess: Float64Array = new Float64Array(0);
  private features: Int32Array = new Int32Array(0);
  private readonly threads: HistThreads | null;
  private readonly split = new Float64Array(5);

  /**
   * @param binned column-major bins `[D][N]`
   * @param numBins bins per feature
   */
  constructor(binned: Uint8Array, n: number, numBins: Int32Array, settings: TreeSettings, threads = 1) {
    this.n = n;
    const shared = threads > 1;
    this.binned = shared ? sharedU8(binned) : binned;
    this.numBins = numBins;
    this.s = settings;
    const d = numBins.length;
    this.hoff = new Int32Array(d);
    let off = 0;
    for (let f = 0; f < d; f++) {
      this.hoff[f] = off;
      off += 3 * numBins[f];
    }
    this.histSize = off;
    this.rows = shared ? sharedI32(n) : new Int32Array(n);
    this.tmp = new Int32Array(n);
    this.og = shared ? sharedF64(n) : new Float64Array(n);
    this.oh = shared ? sharedF64(n) : new Float64Array(n);
    this.threads = shared
      ? new HistThreads(threads, { binned: this.binned, og: this.og, oh: this.oh, rows: this.rows, n, hoff: this.hoff, numBins })
      : null;
    const L = settings.numLeaves;
    this.leafBegin = new Int32Array(L);
    this.leafCount = new Int32Array(L);
    this.leafG = new Float64Array(L);
    this.leafH = new Float64Array(L);
    this.leafDepth = new Int32Array(L);
    this.leafParent = new Int32Array(L);
    this.leafIsLeft = new Uint8Array(L);
    this.leafHist = new Array<Float64Array | null>(L).fill(null);
    this.bestGain = new Float64Array(L);
    this.bestFeature = new Int32Array(L);
    this.bestBin = new Int32Array(L);
    this.bestLG = new Float64Array(L);
    this.bestLH = new Float64Array(L);
  }

  private acquire(): Float64Array {
    return this.pool.pop() ?? (this.threads === null ? new Float64Array(this.histSize) : sharedF64(this.histSize));
  }

  /** Stops the histogram workers, if any. The learner is unusable afterwards. */
  close(): void {
    this.threads?.close();
  }

  private release(leaf: number): void {
    const h = this.leafHist[leaf];
    if (h) this.pool.push(h);
    this.leafHist[leaf] = null;
  }

  /**
   * Grows one tree on the rows `bag[0 .. bagCount)` (ascending) with gradients `grad`, hessians `hess` (length N)
   * and the candidate features `features` (ascending). Leaf values are −T(G)/(H + λ2) · `shrinkage`, T the L1
   * soft-threshold.
   */
  grow(grad: Float64Array, hess: Float64Array, bag: Int32Array, bagCount: number, features: Int32Array, shrinkage: number): GbdtTree {
    this.grad = grad;
    this.hess = hess;
    this.features = features;
    const L = this.s.numLeaves;
    const splitFeature = new Int32Array(L - 1);
    const splitBin = new Int32Array(L - 1);
    const left = new Int32Array(L - 1);
    const right = new Int32Array(L - 1);
    const splitGain = new Float64Array(L - 1);
    this.rows.set(bag.subarray(0, bagCount));
    let g = 0, h = 0;
    for (let k = 0; k < bagCount; k++) {
      const r = bag[k];
      g += grad[r];
      h += hess[r];
    }
    this.leafBegin[0] = 0;
    this.leafCount[0] = bagCount;
    this.leafG[0] = g;
    this.leafH[0] = h;
    this.leafDepth[0] = 0;
    this.leafParent[0] = -1;
    let numLeaves = 1;
    if (this.canSplit(0)) {
      const hist = this.acquire();
      this.buildHist(hist, 0, bagCount);
      this.leafHist[0] = hist;
    }
    this.findBest(0);
    for (let node = 0; node < L - 1; node++) {
      let best = -1;
      let bestGain = 0;
      for (let l = 0; l < numLeaves; l++) {
        if (this.bestGain[l] > bestGain) {
          bestGain = this.bestGain[l]!;
          best = l;
        }
      }
      if (best < 0) break;
      const leaf = best;
      const nl = numLeaves++;
      const f = this.bestFeature[leaf];
      const bin = this.bestBin[leaf];
      splitFeature[node] = f;
      splitBin[node] = bin;
      splitGain[node] = bestGain;
      left[node] = ~leaf;
      right[node] = ~nl;
      const parent = this.leafParent[leaf];
      if (parent >= 0) {
        if (this.leafIsLeft[leaf] === 1) left[parent] = node;
        else right[parent] = node;
      }
      this.leafParent[leaf] = node;
      this.leafIsLeft[leaf] = 1;
      this.leafParent[nl] = node;
      this.leafIsLeft[nl] = 0;
      // Partition the leaf's rows stably: bin <= split bin stays in `leaf`, the rest goes to `nl`.
      const begin = this.leafBegin[leaf];
      const count = this.leafCount[leaf];
      const lc = this.partition(begin, count, f * this.n, bin);
      this.leafCount[leaf] = lc;
      this.leafBegin[nl] = begin + lc;
      this.leafCount[nl] = count - lc;
      const pg = this.leafG[leaf], ph = this.leafH[leaf];
      this.leafG[leaf] = this.bestLG[leaf]!;
      this.leafH[leaf] = this.bestLH[leaf]!;
      this.leafG[nl] = pg - this.bestLG[leaf];
      this.leafH[nl] = ph - this.bestLH[leaf];
      const depth = this.leafDepth[leaf] + 1;
      this.leafDepth[leaf] = depth;
      this.leafDepth[nl] = depth;
      // Histograms: build the smaller child, subtract it from the parent's for the larger one.
      const parentHist = this.leafHist[leaf]!;
      this.leafHist[leaf] = null;
      const small = lc <= count - lc ? leaf : nl;
      const large = small === leaf ? nl : leaf;
      const smallSplits = this.canSplit(small), largeSplits = this.canSplit(large);
      if (largeSplits || smallSplits) {
        const sh = this.acquire();
        this.buildHist(sh, this.leafBegin[small], this.leafCount[small], largeSplits ? parentHist : null);
        this.leafHist[small] = sh;
        if (largeSplits) {
          this.leafHist[large] = parentHist; // parent − small, subtracted by buildHist
        } else {
          this.pool.push(parentHist);
        }
      } else {
        this.pool.push(parentHist);
      }
      this.findBest(leaf);
      this.findBest(nl);
    }
    for (let l = 0; l < numLeaves; l++) this.release(l);
    const leafValue = new Float64Array(numLeaves);
    for (let l = 0; l < numLeaves; l++) {
      leafValue[l] = (-thresholdL1(this.leafG[l], this.s.lambdaL1) / (this.leafH[l] + this.s.lambdaL2)) * shrinkage;
      if (!Number.isFinite(leafValue[l])) leafValue[l] = 0;
    }
    const nodes = numLeaves - 1;
    return {
      numLeaves,
      splitFeature: splitFeature.slice(0, nodes),
      splitBin: splitBin.slice(0, nodes),
      threshold: new Float64Array(nodes),
      left: left.slice(0, nodes),
      right: right.slice(0, nodes),
      splitGain: splitGain.slice(0, nodes),
      leafValue,
    };
  }

  private canSplit(leaf: number): boolean {
    const s = this.s;
    return (s.maxDepth <= 0 || this.leafDepth[leaf] < s.maxDepth) &&
      this.leafCount[leaf] >= 2 * s.minDataInLeaf &&
      this.leafH[leaf] >= 2 * s.minSumHessianInLeaf;
  }

  /**
   * Histogram of rows[begin .. begin+count) over the current features: [g, h, count] per bin (`histKernel`); with
   * `parent`, the larger sibling's histogram is then parent − this one (histogram subtraction), in place of `parent`.
   */
  private buildHist(hist: Float64Array, begin: number, count: number, parent: Float64Array | null = null): void {
    const { rows, og, oh, grad, hess, binned, n, hoff, numBins, features } = this;
    // Ordered gradients: gather once so the per-feature loops read them sequentially.
    for (let k = 0; k < count; k++) {
      const r = rows[begin + k];
      og[k] = grad[r]!;
      oh[k] = hess[r]!;
    }
    if (this.threads !== null) this.threads.build(hist, begin, count, features, parent);
    else histKernel(hist, begin, count, rows, og, oh, binned, n, hoff, numBins, features, 0, features.length, parent);
  }

  private partition(begin: number, count: number, base: number, bin: number): number {
    const { rows, tmp, binned } = this;
    let l = begin, t = 0;
    const end = begin + count;
    for (let k = begin; k < end; k++) {
      const r = rows[k];
      if (binned[base + r] <= bin) rows[l++] = r;
      else tmp[t++] = r;
    }
    rows.set(tmp.subarray(0, t), l);
    return l - begin;
  }

  /** Best split of a leaf over the current features, or gain 0 (no split) when none beats minGainToSplit. */
  private findBest(leaf: number): void {
    this.bestGain[leaf] = 0;
    const hist = this.leafHist[leaf];
    if (!hist || !this.canSplit(leaf)) {
      this.release(leaf);
      return;
    }
    const { lambdaL1: l1, lambdaL2: l2, minDataInLeaf: minData, minSumHessianInLeaf: minHess } = this.s;
    const G = this.leafG[leaf], H = this.leafH[leaf], C = this.leafCount[leaf];
    const tg = thresholdL1(G, l1);
    const shift = (tg * tg) / (H + l2) + this.s.minGainToSplit;
    const { features, hoff, numBins } = this;
    let r: Float64Array;
    if (this.threads !== null) r = this.threads.bestSplit(hist, features, G, H, C, l1, l2, minData, minHess, shift);
    else {
      r = this.split;
      splitKernel(hist, features, 0, features.length, hoff, numBins, G, H, C, l1, l2, minData, minHess, shift, r, 0);
    }
    const [best, bf, bb, blg, blh] = r;
    if (bf < 0) {
      this.release(leaf);
      return;
    }
    this.bestGain[leaf] = best;
    this.bestFeature[leaf] = bf;
    this.bestBin[leaf] = bb;
    this.bestLG[leaf] = blg;
    this.bestLH[leaf] = blh;
  }
}

/** Leaf index reached by a row of raw features (`x[offset + f]`). */
export function leafOfRaw(tree: GbdtTree, x: ArrayLike<number>, offset: number): number {
  if (tree.numLeaves === 1) return 0;
  let node = 0;
  while (node >= 0) node = x[offset + tree.splitFeature[node]] <= tree.threshold[node] ? tree.left[node] : tree.right[node];
  return ~node;
}

/** Leaf index reached by row `i` of column-major binned data with N rows. */
export function leafOfBinned(tree: GbdtTree, binned: Uint8Array, n: number, i: number): number {
  if (tree.numLeaves === 1) return 0;
  let node = 0;
  while (node >= 0) node = binned[tree.splitFeature[node] * n + i] <= tree.splitBin[node] ? tree.left[node] : tree.right[node];
  return ~node;
}
