/** f(x) and its gradient: writes ∇f(x) into `grad` and returns f(x). */
export type ObjectiveFn = (x: Float64Array, grad: Float64Array) => number;

/** Settings of `minimizeLbfgs`. */
export interface LbfgsOptions {
  /** Stop when max_i |∇f_i| <= gtol. */
  gtol: number;
  /** Iteration cap. */
  maxIter: number;
  /** History pairs kept (L-BFGS memory). */
  memory: number;
}

/** Result of `minimizeLbfgs`. */
export interface LbfgsResult {
  x: Float64Array;
  f: number;
  /** max |∇f| at `x`. */
  gradMax: number;
  iterations: number;
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) if (Math.abs(a[i]) > m) m = Math.abs(a[i]); // indexed: for-of over a typed array is slow in V8
  return m;
}

/**
 * Limited-memory BFGS (Nocedal & Wright, Numerical Optimization, Alg. 7.4 two-loop recursion) with a line search
 * satisfying the strong Wolfe conditions (Alg. 3.5/3.6, c1 = 1e-4, c2 = 0.9, safeguarded cubic interpolation in the
 * zoom). In float64 on typed arrays. For smooth convex objectives such as L2-regularised logistic regression, which
 * is all Sift uses it for.
 */
export function minimizeLbfgs(fg: ObjectiveFn, x0: Float64Array, options: LbfgsOptions): LbfgsResult {
  const n = x0.length;
  const m = options.memory;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let f = fg(x, g);
  const sHist: Float64Array[] = [];
  const yHist: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(n);
  const alpha = new Float64Array(m);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  let iter = 0;
  let gradMax = maxAbs(g);
  while (gradMax > options.gtol && iter < options.maxIter) {
    // Two-loop recursion: dir = −H·g.
    dir.set(g);
    for (let i = sHist.length - 1; i >= 0; i--) {
      const a = rho[i] * dot(sHist[i], dir);
      alpha[i] = a;
      const y = yHist[i];
      for (let j = 0; j < n; j++) dir[j] -= a * y[j];
    }
    let gamma = 1;
    if (sHist.length > 0) {
      const last = sHist.length - 1;
      gamma = dot(sHist[last], yHist[last]) / dot(yHist[last], yHist[last]);
    }
    for (let j = 0; j < n; j++) dir[j] *= gamma;
    for (let i = 0; i < sHist.length; i++) {
      const b = rho[i] * dot(yHist[i], dir);
      const s = sHist[i];
      const a = alpha[i];
      for (let j = 0; j < n; j++) dir[j] += (a - b) * s[j];
    }
    for (let j = 0; j < n; j++) dir[j] = -dir[j];
    let dg = dot(dir, g);
    if (!(dg < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      sHist.length = 0;
      yHist.length = 0;
      rho.length = 0;
      for (let j = 0; j < n; j++) dir[j] = -g[j];
      dg = dot(dir, g);
    }
    const step0 = iter === 0 && sHist.length === 0 ? Math.min(1, 1 / Math.sqrt(dot(g, g))) : 1;
    const ls = wolfeLineSearch(fg, x, f, dir, dg, step0, xNew, gNew);
    if (ls === null) break; // no progress possible at float64 precision
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      s[j] = xNew[j] - x[j];
      y[j] = gNew[j] - g[j];
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (sHist.length === m) {
        sHist.shift();
        yHist.shift();
        rho.shift();
      }
      sHist.push(s);
      yHist.push(y);
      rho.push(1 / sy);
    }
    x.set(xNew);
    g.set(gNew);
    f = ls;
    iter++;
    gradMax = maxAbs(g);
  }
  return { x, f, gradMax, iterations: iter, converged: gradMax <= options.gtol };
}

/**
 * Strong-Wolfe line search along `dir` from `x` (value f0, slope dg0 < 0). On success writes the new point and gradient
 * into `xOut`/`gOut` and returns f there; returns null when no step decreases f (converged to machine precision).
 */
function wolfeLineSearch(
  fg: ObjectiveFn, x: Float64Array, f0: number, dir: Float64Array, dg0: number, step0: number,
  xOut: Float64Array, gOut: Float64Array,
): number | null {
  const c1 = 1e-4, c2 = 0.9;
  const n = x.length;
  const evalAt = (a: number): { f: number; dg: number } => {
    for (let j = 0; j < n; j++) xOut[j] = x[j] + a * dir[j];
    const f = fg(xOut, gOut);
    return { f, dg: dot(gOut, dir) };
  };
  let aPrev = 0, fPrev = f0, dgPrev = dg0;
  let a = step0;
  for (let i = 0; i < 40; i++) {
    const { f, dg } = evalAt(a);
    if (!Number.isFinite(f) || f > f0 + c1 * a * dg0 || (i > 0 && f >= fPrev)) {
      return zoom(evalAt, f0, dg0, aPrev, fPrev, dgPrev, a, f, dg, c1, c2);
    }
    if (Math.abs(dg) <= -c2 * dg0) return f;
    if (dg >= 0) return zoom(evalAt, f0, dg0, a, f, dg, aPrev, fPrev, dgPrev, c1, c2);
    aPrev = a;
    fPrev = f;
    dgPrev = dg;
    a *= 2;
  }
  return null;
}

function zoom(
  evalAt: (a: number) => { f: number; dg: number }, f0: number, dg0: number,
  aLo0: number, fLo0: number, dgLo0: number, aHi0: number, fHi0: number, dgHi0: number, c1: number, c2: number,
): number | null {
  let aLo = aLo0, fLo = fLo0, dgLo = dgLo0, aHi = aHi0, fHi = fHi0, dgHi = dgHi0;
  for (let i = 0; i < 60; i++) {
    let a = cubicMin(aLo, fLo, dgLo, aHi, fHi, dgHi);
    const lo = Math.min(aLo, aHi), hi = Math.max(aLo, aHi), w = hi - lo;
    if (!Number.isFinite(a) || a < lo + 0.1 * w || a > hi - 0.1 * w) a = (aLo + aHi) / 2;
    if (w < 1e-20 * Math.max(1, hi)) break;
    const { f, dg } = evalAt(a);
    if (!Number.isFinite(f) || f > f0 + c1 * a * dg0 || f >= fLo) {
      aHi = a;
      fHi = f;
      dgHi = dg;
    } else {
      if (Math.abs(dg) <= -c2 * dg0) return f;
      if (dg * (aHi - aLo) >= 0) {
        aHi = aLo;
        fHi = fLo;
        dgHi = dgLo;
      }
      aLo = a;
      fLo = f;
      dgLo = dg;
    }
  }
  // Accept the best point seen if it decreased f (Armijo holds at aLo by construction).
  if (aLo > 0 && fLo < f0) {
    evalAt(aLo);
    return fLo;
  }
  return null;
}

/** Minimiser of the cubic through (a, fa, ga) and (b, fb, gb) (Nocedal & Wright eq. 3.59). */
function cubicMin(a: number, fa: number, ga: number, b: number, fb: number, gb: number): number {
  const d1 = ga + gb - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - ga * gb;
  if (!(disc >= 0) || !Number.isFinite(fb)) return Number.NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  return b - (b - a) * ((gb + d2 - d1) / (gb - ga + 2 * d2));
}
