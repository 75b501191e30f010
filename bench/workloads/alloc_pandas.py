"""Benchmark workload for bench/alloc.mjs: the pandas job of issue 13 (rounds of building a
300 k-row DataFrame, a two-key groupby/agg and a 100 k-record from_records).

    python3 alloc_pandas.py [ROUNDS]

Prints "WORKLOAD_ELAPSED <wall seconds> <rows> <cpu seconds>" around the work only (imports and
profiler start-up not counted).
"""
import sys
import time

import numpy as np
import pandas as pd


def job(rounds):
    rng = np.random.default_rng(1)
    total = 0
    for _ in range(rounds):
        df = pd.DataFrame({'a': rng.integers(0, 100, 300_000), 'b': rng.integers(0, 50, 300_000),
                           'x': rng.random(300_000), 's': [str(i % 1000) for i in range(300_000)]})
        g = df.groupby(['a', 'b']).agg({'x': ['sum', 'mean'], 's': 'count'})
        recs = pd.DataFrame.from_records([{'k': i, 'v': i * 0.5, 'name': 'n%d' % i} for i in range(100_000)])
        total += len(g) + len(recs)
    return total


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 6
    c0 = time.process_time()
    t0 = time.perf_counter()
    r = job(n)
    print('WORKLOAD_ELAPSED %.6f %d %.6f' % (time.perf_counter() - t0, r, time.process_time() - c0), flush=True)


if __name__ == '__main__':
    main(sys.argv)
