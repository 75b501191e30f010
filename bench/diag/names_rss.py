"""An idle process with N extra interned names, for the agent's memory on 3.13 (BENCHMARKS.md,
"The agent's own memory on 3.13"):

    python3 bench/diag/names_rss.py N

Interns N names (as a program's own modules would), imports json, sleeps 0.5 s and prints its
VmRSS, RssAnon and RssFile (KiB) as JSON. Run it plain and with the agent (memhunt run, or
PYTHONPATH=runtimes/python/inject:runtimes/python/lib MEMHUNT_AGENT_SOCKET=<a listening socket>):
with N = 0 a near-empty script shows a table doubling the agent's names brought forward."""
import sys
import time

keep = [sys.intern('memhunt_diag_name_%d' % i) for i in range(int(sys.argv[1]))]
import json  # noqa: E402  (after the names: the order is the point)

time.sleep(0.5)
out = {}
with open('/proc/self/status') as f:
    for line in f:
        k = line.split(':')[0]
        if k in ('VmRSS', 'RssAnon', 'RssFile'):
            out[k] = int(line.split()[1])
print(json.dumps(out))
