"""In-process cost of the sampling hooks alone, without memhunt's sampler or agent beside them
(a complement to bench/alloc.mjs, whose whole-process ratios include memhunt's own CPU on a shared
machine): the same workload in one interpreter, timed with process_time, min of ROUNDS.

    python3 bench/alloc_inprocess.py plain|hooks [pandas|loop] [ROUNDS]

Run `plain` and `hooks` alternately several times; the ratio of their minima is the hooks' cost.
With `hooks`, numpy's handler is sampled too (set before pandas/numpy are imported, as the agent
does).
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'runtimes', 'python', 'lib'))
sys.path.insert(0, os.path.join(HERE, 'workloads'))

mode = sys.argv[1]
workload = sys.argv[2] if len(sys.argv) > 2 else 'loop'
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
if mode == 'hooks':
    from memhunt import _alloc
    mod = _alloc.load()
    mod.start(524288.0, 128, 1)
    _alloc._native = mod
    sys.meta_path.insert(0, _alloc._NumpyHook())
if workload == 'pandas':
    import alloc_pandas

    def run():
        alloc_pandas.job(2)
else:
    import alloc_loop

    def run():
        alloc_loop.work(600_000)
best = float('inf')
for _ in range(rounds):
    c = time.process_time()
    run()
    best = min(best, time.process_time() - c)
    if mode == 'hooks':
        mod.drain()  # as the agent's thread does every second
print('%s %s %.4f' % (mode, workload, best))
