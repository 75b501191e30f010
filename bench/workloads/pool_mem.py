"""A multiprocessing Pool job for bench/agent-memory.mjs: 4 workers ('spawn', or 'fork' with argv[1])
each build ~40 MiB of Python objects, hold them 1.5 s, and return a small result; then the parent
builds 20 MiB of its own and holds it 1 s. Plateaus longer than the sampling interval, so both
profilers see the same peak."""
import multiprocessing
import sys
import time


def work(i):
    data = [bytearray(4096) for _ in range(10000)]  # ~40 MiB
    time.sleep(1.5)
    return len(data) + i


if __name__ == '__main__':
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else 'spawn')
    with ctx.Pool(4) as pool:
        print(sum(pool.map(work, range(4))))
    mine = [bytearray(4096) for _ in range(5000)]
    time.sleep(1)
    print(len(mine))
