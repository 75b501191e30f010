"""Benchmark workload for bench/census.mjs: builds a heap, then times heap censuses on it.

    PYTHONPATH=runtimes/python/lib python3 census_heap.py SHAPE OBJECTS ROUNDS

SHAPE: `mixed`, records as a data pipeline holds them (an instance with a name string, a float,
a list of tags and a tuple of ints: about half the objects are untracked str/int/float/tuple), or
`containers` (dicts and lists of shared small values: nearly every object is tracked). OBJECTS is
the size of the heap as memhunt's census counts it (tracked + untracked); the records are added
until the census counts at least that many.

Prints one JSON line: per method the best of ROUNDS wall times (s) and what each method saw.
  bare      for o in gc.get_objects(): sys.getsizeof(o)   (tracked objects only, no grouping)
  memhunt   memhunt's census (tracked + untracked, by type, with sizes), with its C walk when built
  memhuntPure  the same census through the pure-Python walk (the fallback)
  *Cpu      process CPU time of the same (best of ROUNDS): the machine is shared
  memhuntTrackedOnly  the same over gc.get_objects() only (the objects the bare loop sees)
  objgraph  objgraph.typestats() (tracked only, counts by type name, no sizes), if importable
  muppy     pympler: summary.summarize(muppy.get_objects()), if importable
"""
import gc
import json
import sys
import time

from memhunt import _census, _native


class Record(object):
    def __init__(self, i):
        self.name = 'record-%d' % i
        self.value = i * 0.5
        self.tags = [i, 'tag']
        self.pos = (i, i + 1)


def build(shape, n):
    if shape == 'mixed':
        return [Record(i) for i in range(n)]
    return [[{'k': 1, 'v': None}, [0, 1]] for _ in range(n)]


def best(fn, rounds):
    times = []
    out = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def best_cpu(fn, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main(argv):
    shape, target, rounds = argv[1], int(argv[2]), int(argv[3])
    per_record = 7 if shape == 'mixed' else 4
    heap = build(shape, target // per_record)
    gc.collect()
    counted = _census.census(collect=False, top=1)[0]['objects']
    while counted < target:
        heap.extend(build(shape, max(1000, (target - counted) // per_record)))
        gc.collect()
        counted = _census.census(collect=False, top=1)[0]['objects']
    gc.collect()
    result = {'python': sys.version.split()[0], 'shape': shape, 'tracked': len(gc.get_objects())}

    def bare():
        for o in gc.get_objects():
            sys.getsizeof(o)
    result['bare'] = best(bare, rounds)[0]
    result['bareCpu'] = best_cpu(bare, rounds)
    t, census = best(lambda: _census.census(collect=False, top=30)[0], rounds)
    result['memhunt'] = t
    result['memhuntCpu'] = best_cpu(lambda: _census.census(collect=False, top=30), rounds)
    result['native'] = _native.get() is not None
    # The pure-Python walk (the fallback where the C helpers cannot be built), same heap, same run.
    _native.set_enabled(False)
    result['memhuntPure'] = best(lambda: _census.census(collect=False, top=30)[0], rounds)[0]
    result['memhuntPureCpu'] = best_cpu(lambda: _census.census(collect=False, top=30), rounds)
    _native.set_enabled(True)
    result['objects'] = census['objects']
    result['totalBytes'] = census['totalBytes']
    # The same census over gc.get_objects() only: what the bare loop sees, grouped and sized.
    result['memhuntTrackedOnly'] = best(lambda: _census.census(collect=False, top=30, untracked=False), rounds)[0]
    result['top'] = census['rows'][:5]
    try:
        import objgraph
        result['objgraph'] = best(objgraph.typestats, rounds)[0]
    except ImportError:
        result['objgraph'] = None
    try:
        from pympler import muppy, summary
        result['muppy'] = best(lambda: summary.summarize(muppy.get_objects()), rounds)[0]
    except ImportError:
        result['muppy'] = None
    print(json.dumps(result), flush=True)
    del heap


if __name__ == '__main__':
    main(sys.argv)
