"""Same-run reference for packages/backend/bench/matmul.bench.ts: float32 matmul GFLOP/s of numpy and PyTorch
(Debian's builds run matmul on OpenBLAS's own threads: all cores unless OPENBLAS_NUM_THREADS says otherwise), median of `repeats` after 2 warm-up runs. Prints one JSON line."""
import json
import sys
import time

import numpy as np
import torch


def median_ms(fn, repeats):
    for _ in range(2):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    m, k, n, repeats = (int(v) for v in sys.argv[1:5])
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    flop = 2.0 * m * k * n
    np_ms = median_ms(lambda: a @ b, repeats)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    torch_ms = median_ms(lambda: ta @ tb, repeats)
    print(json.dumps({"numpy": flop / (np_ms * 1e6), "torch": flop / (torch_ms * 1e6),
                      "torchVersion": torch.__version__}))


main()
