"""bench/census-pandas.mjs: FRAMES DataFrames of 20000x10 floats + a str column (the trial's
pd_hold3.py), then one census by TOOL (memhunt's agent in process, or objgraph.show_growth), with
VmHWM reset before it (/proc/self/clear_refs 5). Prints one JSON line."""
import gc
import json
import sys
import time

import numpy as np
import pandas as pd

frames, tool = int(sys.argv[1]), sys.argv[2]
_CACHE = {}
for i in range(frames):
    df = pd.DataFrame(np.random.rand(20000, 10), columns=['c%d' % j for j in range(10)])
    df['key'] = ['k%d_%d' % (i, j) for j in range(len(df))]
    _CACHE[i] = df
del df
gc.collect()


def status(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024.0


with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # VmHWM := VmRSS
before = status('VmHWM')
t = time.perf_counter()
if tool == 'memhunt':
    from memhunt import _census
    _census.census(collect=False, top=30)
else:
    import io
    import objgraph
    objgraph.show_growth(limit=30, file=io.StringIO())
took = time.perf_counter() - t
print(json.dumps({'tool': tool, 'frames': frames, 'rssMiB': before, 'hwmAddedMiB': status('VmHWM') - before, 'seconds': took}))
