"""What a fork costs in CPU time and page faults, parent and child (BENCHMARKS.md, "Fork").

    python3 bench/diag/fork_faults.py N [plain|thread|hook|threadhook|woken]

N forks; each child reads, at its first statement, its CPU time since the fork (process_time:
every thread of the child) and its minor faults (ru_minflt), sends them and exits. Printed:
medians of the child's start (wall, from just before os.fork() in the parent; and its 10th
percentile), the child's CPU and faults, and the parent's os.fork() call (wall, CPU, faults).
CPU and faults hardly move with the machine's load; wall times do. `thread`: an extra thread
blocked in recv() (as the agent's); `hook`: empty Python at-fork hooks. Under the agent: run it
with PYTHONPATH=runtimes/python/inject:runtimes/python/lib and MEMHUNT_AGENT_SOCKET=<a listening
Unix socket> (MEMHUNT_DIAG=<label> names the line). `woken` (under the agent): the process sends
itself the wake signal first, as memhunt does before a request, and forks once the agent's thread
is there (MEMHUNT_AGENT_IDLE_S large: the agent awake at every fork) or gone again (small: asleep
after one wake, its at-fork hooks registered).
"""
import os, sys, time, resource
n = int(sys.argv[1]); var = sys.argv[2] if len(sys.argv) > 2 else ''
perf = time.perf_counter; cpu = time.process_time
if 'thread' in var:
    import _thread, _socket
    a, b = _socket.socketpair()
    _thread.start_new_thread(a.recv, (10,))
    time.sleep(0.05)
if 'hook' in var:
    def h(): pass
    os.register_at_fork(before=h, after_in_parent=h, after_in_child=h)
def threads():
    with open('/proc/self/stat') as f:
        return int(f.read().rpartition(')')[2].split()[17])
if 'woken' in var:
    import signal
    os.kill(os.getpid(), signal.SIGURG)
    want = 1 if float(os.environ.get('MEMHUNT_AGENT_IDLE_S', '2')) < 5 else 2
    for w in (2, want):
        for _ in range(2000):
            if threads() == w:
                break
            time.sleep(0.005)
    time.sleep(0.05)
    assert threads() == want, threads()
res = []
for _ in range(n):
    r, w = os.pipe()
    ru0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    c0 = cpu()
    t0 = perf()
    pid = os.fork()
    if pid == 0:
        t = perf()
        c = cpu()
        ru = resource.getrusage(resource.RUSAGE_SELF)
        os.write(w, repr((t, c, ru.ru_minflt)).encode())
        os._exit(0)
    t1 = perf()
    c1 = cpu()
    ru1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    os.close(w)
    t_child, c_child, flt = eval(os.read(r, 200))
    os.close(r)
    os.waitpid(pid, 0)
    res.append(((t_child - t0) * 1000, (t1 - t0) * 1000, c_child * 1000, (c1 - c0) * 1000, flt, ru1 - ru0))
import statistics as st
def md(i): return st.median([x[i] for x in res])
def p10(i): return sorted(x[i] for x in res)[len(res) // 10]
print('%-10s child wall med %5.2f p10 %5.2f | child cpu %5.2f flt %3d | parent fork wall %5.2f cpu %5.2f flt %3d' % (
    os.environ.get('MEMHUNT_DIAG', var or 'plain'), md(0), p10(0), md(2), md(4), md(1), md(3), md(5)))
