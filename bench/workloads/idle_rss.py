"""Prints this process's VmRSS, RssAnon and RssFile (KiB) as JSON after 0.5 s of sleep: what an idle
Python process holds (bench/agent-memory.mjs)."""
import json
import time

time.sleep(0.5)
out = {}
with open('/proc/self/status') as f:
    for line in f:
        k = line.split(':')[0]
        if k in ('VmRSS', 'RssAnon', 'RssFile'):
            out[k] = int(line.split()[1])
print(json.dumps(out))
