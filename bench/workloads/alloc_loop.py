"""Benchmark workload for bench/alloc.mjs: an allocation-heavy pure-Python loop (small dicts,
lists and strings made and dropped, a fraction kept), standard library only.

    python3 alloc_loop.py [ITERATIONS]

Prints "WORKLOAD_ELAPSED <wall seconds> <kept> <cpu seconds>" around the loop only.
"""
import sys
import time


def work(n):
    kept = []
    for i in range(n):
        d = {'id': i, 'name': 'item-%d' % i, 'tags': [i, i + 1, i + 2]}
        if i % 16 == 0:
            kept.append(d)
        if len(kept) > 50_000:
            kept = kept[25_000:]
    return len(kept)


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 2_000_000
    c0 = time.process_time()
    t0 = time.perf_counter()
    r = work(n)
    print('WORKLOAD_ELAPSED %.6f %d %.6f' % (time.perf_counter() - t0, r, time.process_time() - c0), flush=True)


if __name__ == '__main__':
    main(sys.argv)
