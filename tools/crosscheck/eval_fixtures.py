"""Reference values for @sift/eval's metric, probe and geometry tests, computed with sklearn / numpy / scipy.

Run from the repository root with Debian's interpreter (sklearn 1.2, numpy 1.24, scipy 1.10):

    /usr/bin/python3 tools/crosscheck/eval_fixtures.py

It writes packages/eval/test/fixtures/eval-fixtures.json (small: the inputs are embedded so the TypeScript tests
feed Sift exactly the same numbers). The GBDT task is produced by a 32-bit LCG that the tests re-implement, so only
its parameters and sklearn's scores are stored.
"""
import json
import os
import sys

import numpy as np
import scipy
import sklearn
from scipy.spatial.distance import cdist
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, log_loss, mean_absolute_error, mean_squared_error, roc_auc_score

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'eval', 'test', 'fixtures', 'eval-fixtures.json')


def r(a):
    """Inputs: rounded to 6 decimals (the stored numbers are then exactly what both sides compute on)."""
    return np.asarray(a, dtype=np.float64).round(6).tolist()


def full(a):
    """Reference outputs at full float64 precision."""
    return np.asarray(a, dtype=np.float64).tolist()


def lcg_task(seed, n, d, flip):
    """The nonlinear binary task of the GBDT test; packages/eval/src/probes/gbdt/gbdt.test.ts has the same code."""
    s = seed & 0xFFFFFFFF

    def u():
        nonlocal s
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        return s / 4294967296.0

    x = np.zeros((n, d))
    y = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for j in range(d):
            x[i, j] = 2.0 * u() - 1.0
        f = x[i, 0] * x[i, 1] + 0.5 * x[i, 2] * x[i, 2] - 0.5 * x[i, 3] * x[i, 3]
        yi = 1 if f > 0 else 0
        if u() < flip:
            yi = 1 - yi
        y[i] = yi
    return x, y


def twonn_reference(x, fraction=0.9):
    """TwoNN as in Ansuini et al. 2019 (`estimate`), after Facco et al. 2017: drop r1 = 0 and r1 = r2, fit through 0."""
    dist = cdist(x, x)
    y = np.sort(dist, axis=1, kind='quicksort')
    k1, k2 = y[:, 1], y[:, 2]
    zeros = np.where(k1 == 0)[0]
    degeneracies = np.where(k1 == k2)[0]
    good = np.setdiff1d(np.arange(y.shape[0]), np.array(zeros))
    good = np.setdiff1d(good, np.array(degeneracies))
    k1, k2 = k1[good], k2[good]
    npoints = int(np.floor(good.shape[0] * fraction))
    n = good.shape[0]
    mu = np.sort(np.divide(k2, k1), axis=None, kind='quicksort')
    femp = np.arange(1, n + 1, dtype=np.float64) / n
    xs = np.log(mu[:-2])
    ys = -np.log(1 - femp[:-2])
    reg = LinearRegression(fit_intercept=False).fit(xs[0:npoints, np.newaxis], ys[0:npoints, np.newaxis])
    return float(reg.coef_[0][0])


def main():
    rng = np.random.RandomState(20240601)
    fx = {'versions': {'sklearn': sklearn.__version__, 'numpy': np.__version__, 'scipy': scipy.__version__, 'python': sys.version.split()[0]}}

    # Classification metrics; scores rounded to 1 decimal so many are tied.
    n = 120
    yb = rng.randint(0, 2, size=n)
    scores = np.round(rng.rand(n) * 0.6 + 0.3 * yb, 1)
    predb = (rng.rand(n) < 0.5).astype(int) ^ (rng.rand(n) < 0.7).astype(int) * yb
    pb = np.clip(rng.rand(n) * 0.5 + 0.4 * yb, 0, 1)
    k = 4
    ym = rng.randint(0, k, size=n)
    pm = rng.dirichlet(np.ones(k), size=n)
    pm[np.arange(n), ym] += 0.3
    pm /= pm.sum(axis=1, keepdims=True)
    predm = pm.argmax(axis=1)
    predm[:10] = 3  # some errors and an over-predicted class
    fx['metrics'] = {
        'yBinary': yb.tolist(), 'scores': r(scores), 'predBinary': predb.tolist(), 'probBinary': r(pb),
        'yMulti': ym.tolist(), 'probaMulti': r(pm), 'predMulti': predm.tolist(), 'numClasses': k,
        'rocAuc': roc_auc_score(yb, scores),
        'rocAucOvr': roc_auc_score(ym, np.asarray(r(pm)), multi_class='ovr', average='macro'),
        'logLossBinary': log_loss(yb, np.asarray(r(pb))),
        'logLossMulti': log_loss(ym, np.asarray(r(pm)), labels=list(range(k))),
        'accuracyMulti': accuracy_score(ym, predm),
        'f1Binary': f1_score(yb, predb),
        'f1Macro': f1_score(ym, predm, average='macro'),
    }
    yt = rng.randn(n)
    yp = yt + 0.3 * rng.randn(n)
    fx['metrics'].update({'yReg': r(yt), 'predReg': r(yp), 'mse': mean_squared_error(r(yt), r(yp)), 'mae': mean_absolute_error(r(yt), r(yp))})

    # Multinomial logistic regression (3 classes) and binary, converged to the optimum.
    nl, dl = 300, 5
    xl = rng.randn(nl, dl)
    wl = rng.randn(3, dl)
    yl = np.argmax(xl @ wl.T + 0.8 * rng.randn(nl, 3), axis=1)
    xl = np.asarray(r(xl))
    # The reference optimum of sklearn's multinomial objective, from its newton-cg solver: sklearn 1.2's lbfgs stops on
    # scipy's relative-f test (ftol = 64 eps) about 4e-5 away in the coefficients whatever `tol` is; newton-cg reaches
    # the optimum to ~1e-9 (scipy L-BFGS-B on the same objective with ftol 1e-16 agrees).
    clf = LogisticRegression(C=0.5, multi_class='multinomial', solver='newton-cg', tol=1e-10, max_iter=100000).fit(xl, yl)
    xq = np.asarray(r(rng.randn(20, dl)))
    yb2 = (xl[:, 0] - 0.5 * xl[:, 1] + 0.7 * rng.randn(nl) > 0).astype(int)
    clf2 = LogisticRegression(C=2.0, multi_class='multinomial', solver='newton-cg', tol=1e-10, max_iter=100000).fit(xl, yb2)
    fx['logistic'] = {
        'x': xl.tolist(), 'y': yl.tolist(), 'c': 0.5, 'coef': full(clf.coef_), 'intercept': full(clf.intercept_ - clf.intercept_.mean()),
        'xQuery': xq.tolist(), 'proba': full(clf.predict_proba(xq)),
        'yBinary': yb2.tolist(), 'cBinary': 2.0, 'coefBinary': full(clf2.coef_[0]), 'interceptBinary': float(clf2.intercept_[0]),
        'probaBinary': full(clf2.predict_proba(xq)),
    }

    # Ridge.
    yr = xl @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.7 + 0.1 * rng.randn(nl)
    rid = Ridge(alpha=2.0).fit(xl, r(yr))
    ols = LinearRegression().fit(xl, r(yr))
    fx['ridge'] = {'y': r(yr), 'alpha': 2.0, 'coef': full(rid.coef_), 'intercept': float(rid.intercept_),
                   'olsCoef': full(ols.coef_), 'olsIntercept': float(ols.intercept_)}

    # Anisotropy: a cloud with one dominant direction.
    xa = rng.randn(200, 16) @ np.diag(np.linspace(3, 0.2, 16)) + 2.0 * np.outer(rng.randn(200), rng.randn(16))
    xa = np.asarray(r(xa))
    sv = np.linalg.svd(xa, compute_uv=False)
    fx['anisotropy'] = {'x': xa.tolist(), 'singularValues': full(sv), 'anisotropy': float(sv[0] / sv.sum())}

    # TwoNN on a noisy 3-D linear manifold in 12-D.
    z = rng.rand(500, 3)
    xt = z @ rng.randn(3, 12) + 0.01 * rng.randn(500, 12)
    xt = np.asarray(r(xt))
    fx['twoNN'] = {'x': xt.tolist(), 'dimension': twonn_reference(xt)}

    # GBDT vs logistic on a nonlinear task, and sklearn's HistGradientBoostingClassifier with matching settings.
    task = {'seed': 12345, 'nTrain': 3000, 'nTest': 2000, 'd': 10, 'flip': 0.05}
    x, y = lcg_task(task['seed'], task['nTrain'] + task['nTest'], task['d'], task['flip'])
    xtr, ytr, xte, yte = x[:task['nTrain']], y[:task['nTrain']], x[task['nTrain']:], y[task['nTrain']:]
    hgb = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
                                         l2_regularization=0.0, max_bins=255, early_stopping=False, random_state=0).fit(xtr, ytr)
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(xtr, ytr)
    fx['gbdtTask'] = dict(task, hgbAccuracy=accuracy_score(yte, hgb.predict(xte)), logisticAccuracy=accuracy_score(yte, lr.predict(xte)),
                          firstLabels=y[:20].tolist(), firstRow=r(x[0]))

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(fx, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes); HGB acc {fx["gbdtTask"]["hgbAccuracy"]:.4f}, '
          f'logistic acc {fx["gbdtTask"]["logisticAccuracy"]:.4f}, TwoNN {fx["twoNN"]["dimension"]:.4f}')


if __name__ == '__main__':
    main()
