"""A 3-worker multiprocessing Pool, each worker allocating a known amount (80, 120, 160 MiB),
held 1.5 s together, then released. Waits for a file named by argv[1] to exist before starting
(bench/pool-peak.mjs attaches mprof to this process first), so both tools see the same run."""
import os
import sys
import time
from multiprocessing import Pool

MiB = 1024 * 1024


def work(mib):
    buf = bytearray(b"\x01" * (mib * MiB))
    time.sleep(1.5)
    return len(buf) // MiB


if __name__ == "__main__":
    go = sys.argv[1]
    t0 = time.monotonic()
    while not os.path.exists(go) and time.monotonic() - t0 < 30:
        time.sleep(0.02)
    time.sleep(0.5)
    with Pool(3) as pool:
        print(sum(pool.map(work, [80, 120, 160])))
    time.sleep(0.5)
