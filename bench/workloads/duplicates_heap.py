"""Benchmark workload for bench/duplicates.mjs: a heap holding big data several times, then timed.

    PYTHONPATH=runtimes/python/lib python3 duplicates_heap.py MIB ROUNDS [MIX]

MIB: the size of one float64 array. Held: the array, its .copy(), a bytes of it, a Fortran-order
2-D copy (other strides), a float32 conversion, a list of the values of its first quarter and of
a quarter-size copy, and two unrelated arrays of the same size: about 7 x MIB of candidate data
of which 4 x MIB are copies (MIX `mixed`, the default). MIX `plain`: the array, its .copy(), a
bytes of it and two unrelated arrays (contiguous buffers only: the compare's best case).

Prints one JSON line: per method the best of ROUNDS wall and CPU (process) times (s) and what each found.
  census      memhunt's census alone (what a census costs without --duplicates)
  duplicates  memhunt's duplicate search after the census (sample hash, full compare), its
              durationMs, the candidate bytes and the groups
  pure*       the same search with the C helpers turned off (the pure-Python fallback)
  fullHash    what a user writes without memhunt: blake2b of every candidate's whole data
              (a.tobytes() for non-contiguous arrays, array('d', list) for lists), grouped by digest
"""
import gc
import hashlib
import json
import sys
import time
from array import array

import numpy as np

from memhunt import _census, _largest, _native

MIB = int(sys.argv[1])
ROUNDS = int(sys.argv[2])
MIX = sys.argv[3] if len(sys.argv) > 3 else 'mixed'
N = MIB * 1024 * 1024 // 8
rng = np.random.default_rng(7)
BASE = rng.random(N)
HELD = {
    'copy': BASE.copy(),
    'raw': BASE.tobytes(),
    'fortran': np.asfortranarray(BASE.reshape(1024, -1)),
    'f32': BASE.astype(np.float32),
    'values': BASE[:N // 4].tolist(),
    'quarter': BASE[:N // 4].copy(),
    'other1': rng.random(N),
    'other2': rng.random(N),
}
if MIX == 'plain':
    for k in ('fortran', 'f32', 'values', 'quarter'):
        del HELD[k]


def full_hash():
    groups = {}
    for o in [BASE] + list(HELD.values()):
        h = hashlib.blake2b(digest_size=16)
        if type(o) is list:
            for i in range(0, len(o), 1 << 16):
                h.update(array('d', o[i:i + (1 << 16)]))
        elif type(o) is bytes:
            h.update(o)
        elif o.flags.c_contiguous:
            h.update(memoryview(o.reshape(-1).view(np.uint8)))
        else:
            h.update(o.tobytes())
        groups.setdefault(h.digest(), []).append(o)
    return sum(1 for g in groups.values() if len(g) > 1)


best = {}
found = {}
for _ in range(ROUNDS):
    gc.collect()
    t = time.perf_counter()
    c = time.process_time()
    _census.census(False, 30)
    best['census'] = min(best.get('census', 1e9), time.perf_counter() - t)
    best['censusCpu'] = min(best.get('censusCpu', 1e9), time.process_time() - c)
    gc.collect()
    t = time.perf_counter()
    c = time.process_time()
    r, _ = _largest.census(False, 30, None, 1 << 20)
    best['censusWithDuplicates'] = min(best.get('censusWithDuplicates', 1e9), time.perf_counter() - t)
    best['censusWithDuplicatesCpu'] = min(best.get('censusWithDuplicatesCpu', 1e9), time.process_time() - c)
    d = r['duplicates']
    best['duplicatesMs'] = min(best.get('duplicatesMs', 1e12), d['durationMs'])
    found['candidateBytes'] = d['candidateBytes']
    found['readBytes'] = d['readBytes']
    found['groups'] = [[(h['path'], h['relation']) for h in g['holders']] for g in d['groups']]
    # The same search through the pure-Python reads and walk (the fallback), same heap, same run.
    _native.set_enabled(False)
    gc.collect()
    t = time.perf_counter()
    c = time.process_time()
    r, _ = _largest.census(False, 30, None, 1 << 20)
    best['pureCensusWithDuplicates'] = min(best.get('pureCensusWithDuplicates', 1e9), time.perf_counter() - t)
    best['pureCensusWithDuplicatesCpu'] = min(best.get('pureCensusWithDuplicatesCpu', 1e9), time.process_time() - c)
    best['pureDuplicatesMs'] = min(best.get('pureDuplicatesMs', 1e12), r['duplicates']['durationMs'])
    found['pureGroups'] = [[(h['path'], h['relation']) for h in g['holders']] for g in r['duplicates']['groups']]
    del r
    _native.set_enabled(True)
    t = time.perf_counter()
    c = time.process_time()
    found['fullHashGroups'] = full_hash()
    best['fullHash'] = min(best.get('fullHash', 1e9), time.perf_counter() - t)
    best['fullHashCpu'] = min(best.get('fullHashCpu', 1e9), time.process_time() - c)
found['native'] = _native.get() is not None
print(json.dumps({'mix': MIX, 'mib': MIB, 'python': sys.version.split()[0], 'best': best, 'found': found}))
