"""Reference timing for packages/eval/bench/gbdt.bench.ts: sklearn's HistGradientBoostingClassifier on the same data
with the same settings, timing only `fit`.

Run by the bench (`pnpm bench eval`) with Debian's interpreter:

    /usr/bin/python3 tools/crosscheck/eval_gbdt_bench.py X.f32 Y.u8 N_TRAIN N_TEST D PARAMS_JSON

X.f32 holds (N_TRAIN + N_TEST) x D float32 values, row-major; Y.u8 one 0/1 label per row. PARAMS_JSON maps Sift's
LightGBM-style options to sklearn's. Prints one JSON line: {"fit_s": ..., "accuracy": ..., "threads": ...}.
"""
import json
import os
import sys
import time

import numpy as np


def main():
    xp, yp, n_train, n_test, d, params = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), json.loads(sys.argv[6])
    from sklearn.ensemble import HistGradientBoostingClassifier
    x = np.fromfile(xp, dtype=np.float32).reshape(n_train + n_test, d)
    y = np.fromfile(yp, dtype=np.uint8).astype(np.int64)
    model = HistGradientBoostingClassifier(
        max_iter=params['nEstimators'], learning_rate=params['learningRate'], max_leaf_nodes=params['numLeaves'],
        max_depth=None if params['maxDepth'] <= 0 else params['maxDepth'], min_samples_leaf=params['minDataInLeaf'],
        l2_regularization=params['lambdaL2'], max_bins=params['maxBin'], early_stopping=False, random_state=0)
    t0 = time.perf_counter()
    model.fit(x[:n_train], y[:n_train])
    fit_s = time.perf_counter() - t0
    acc = float((model.predict(x[n_train:]) == y[n_train:]).mean())
    threads = os.environ.get('OMP_NUM_THREADS') or str(os.cpu_count())
    print(json.dumps({'fit_s': fit_s, 'accuracy': acc, 'threads': threads}))


if __name__ == '__main__':
    main()
