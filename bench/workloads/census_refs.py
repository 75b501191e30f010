"""Benchmark workload for bench/census-refs.mjs: a heap holding N references to one object
(`[0] * N`), then, best of ROUNDS, memhunt's census against what a user writes to see the objects
gc does not track (pympler's muppy.get_objects does the same): expand gc.get_objects() through
gc.get_referents, de-duplicated by id in a dict.

    PYTHONPATH=runtimes/python/lib python3 census_refs.py N ROUNDS

Prints one JSON line: seconds (best of ROUNDS) and peak RSS growth (MiB) of each method.
"""
import gc
import json
import resource
import sys
import time

from memhunt import _census


def by_hand():
    seen = {}
    for o in gc.get_objects():
        for r in gc.get_referents(o):
            if not gc.is_tracked(r) and id(r) not in seen:
                seen[id(r)] = r
    return len(seen)


def best(fn, rounds):
    times = []
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024.0


def main(argv):
    n, rounds = int(argv[1]), int(argv[2])
    big = [0] * n
    memhunt_s, memhunt_mib = best(lambda: _census.census(collect=False, top=30), rounds)
    hand_s, hand_mib = best(by_hand, rounds)
    print(json.dumps({'references': len(big), 'python': sys.version.split()[0], 'memhunt': memhunt_s, 'memhuntMiB': memhunt_mib,
                      'byHand': hand_s, 'byHandMiB': hand_mib}))


if __name__ == '__main__':
    main(sys.argv)
