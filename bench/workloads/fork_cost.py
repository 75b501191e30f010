"""Fork cost, as a program sees it (bench/fork.mjs). Prints one JSON line.

  fork N   N times: os.fork(); the child sends its first clock reading through a pipe and exits
           with os._exit. childStartMs = child's first statement - just before os.fork() in the
           parent (CLOCK_MONOTONIC is the same clock in both); roundTripMs = until waitpid returned.
  pool N   multiprocessing Pool(2, maxtasksperchild=1) ('fork' start method) running N trivial
           tasks: every task is a new forked worker. wallMs of the whole map.
"""
import json
import os
import sys
import time

mode, n = sys.argv[1], int(sys.argv[2])
perf = time.perf_counter


def square(x):
    return x * x


if mode == 'fork':
    child_ms, round_ms = [], []
    for _ in range(n):
        r, w = os.pipe()
        t0 = perf()
        pid = os.fork()
        if pid == 0:
            t = perf()
            os.write(w, repr(t).encode())
            os._exit(0)
        os.close(w)
        t_child = float(os.read(r, 64))
        os.close(r)
        os.waitpid(pid, 0)
        t1 = perf()
        child_ms.append((t_child - t0) * 1000)
        round_ms.append((t1 - t0) * 1000)
    child_ms.sort()
    round_ms.sort()
    print(json.dumps({'mode': mode, 'n': n, 'childStartMs': child_ms[n // 2], 'roundTripMs': round_ms[n // 2]}))
elif mode == 'pool':
    import multiprocessing
    ctx = multiprocessing.get_context('fork')
    t0 = perf()
    with ctx.Pool(2, maxtasksperchild=1) as pool:
        pool.map(square, range(n), chunksize=1)
    print(json.dumps({'mode': mode, 'n': n, 'wallMs': (perf() - t0) * 1000}))
