"""Benchmark workload: a CPU-bound pure-Python loop (standard library only).

    python3 cpu_loop.py [ITERATIONS]

Prints "WORKLOAD_ELAPSED <wall seconds> <result> <cpu seconds>": wall time measured with
time.perf_counter around the loop only (interpreter and profiler start-up are not counted), and
the process's own CPU time over the same span (time.process_time).
"""
import sys
import time


def work(n):
    acc = 0
    d = {}
    for i in range(n):
        acc = (acc + i * i) % 1000003
        if i % 64 == 0:
            d[i % 4096] = acc
    return acc, len(d)


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 20_000_000
    c0 = time.process_time()
    t0 = time.perf_counter()
    r = work(n)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(f"WORKLOAD_ELAPSED {elapsed:.6f} {r[0]} {cpu:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
