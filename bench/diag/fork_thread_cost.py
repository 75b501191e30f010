"""What a fork child pays for the agent's parts, one at a time, without memhunt (BENCHMARKS.md,
"Fork"): the median time from just before os.fork() to the child's first statement, over 60 forks.

    python3 bench/diag/fork_thread_cost.py none|hook|thread|stat

  none    no at-fork hook
  hook    an after_in_child hook that does nothing
  thread  an after_in_child hook that starts a thread running nothing (what the agent's reconnect
          costs at least: the new thread needs the GIL once, and the child's main thread then
          waits for a CPU to get it back)
  stat    a before-fork hook that reads /proc/self/stat (the agent's thread count on 3.12+)
"""
import _thread
import os
import sys
import time

mode = sys.argv[1]
perf = time.perf_counter


def noop():
    pass


def read_stat():
    with open('/proc/self/stat', 'rb') as f:
        f.read()


if mode == 'thread':
    os.register_at_fork(after_in_child=lambda: _thread.start_new_thread(noop, ()))
elif mode == 'hook':
    os.register_at_fork(after_in_child=lambda: None)
elif mode == 'stat':
    os.register_at_fork(before=read_stat)
elif mode != 'none':
    sys.exit('usage: fork_thread_cost.py none|hook|thread|stat')
ms = []
for _ in range(60):
    r, w = os.pipe()
    t0 = perf()
    pid = os.fork()
    if pid == 0:
        os.write(w, repr(perf()).encode())
        os._exit(0)
    os.close(w)
    t = float(os.read(r, 64))
    os.close(r)
    os.waitpid(pid, 0)
    ms.append((t - t0) * 1000)
ms.sort()
print('%s %s: child start median %.2f ms, quartiles %.2f-%.2f ms' % (sys.version.split()[0], mode, ms[30], ms[15], ms[45]))
