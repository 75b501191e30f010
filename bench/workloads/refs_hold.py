"""How long a back-reference graph holds the program: N objects of one kind in a module-level
list (HELD), a thread of the program ticking every 1 ms, and the graph built in another thread
(as memhunt's agent thread does). One JSON line: the graph's wall and CPU time, the program's
largest gap between ticks and the sum of its gaps of 20 ms or more (the time it was held).
    python3 refs_hold.py memhunt|objgraph float|dict|user N
memhunt: _refs.refs(type, 3, 10), the request `memhunt refs` and the automatic graph make (import
path: PYTHONPATH). objgraph: what a user does by hand: objgraph.by_type(type) (gc.get_objects
only: it never finds untracked floats or dicts, so the middle object of HELD is given to it),
then find_backref_chain(sample, is_proper_module) and show_backrefs([sample]) to a .dot file."""
import gc
import json
import os
import sys
import tempfile
import threading
import time

how, kind, total = sys.argv[1], sys.argv[2], int(sys.argv[3])


class Rec(object):
    def __init__(self, a):
        self.a = a


HELD = []
if kind == 'float':
    HELD.extend(float(i) + 0.5 for i in range(total))
    type_name = 'float'
elif kind == 'dict':
    HELD.extend({'i': i} for i in range(total))
    type_name = 'dict'
else:
    HELD.extend(Rec(i) for i in range(total))
    type_name = '__main__.Rec'
gc.collect()

gaps = []
ticking = True


def ticker():
    last = time.perf_counter()
    while ticking:
        time.sleep(0.001)
        now = time.perf_counter()
        if now - last >= 0.02:
            gaps.append(now - last)
        last = now


out = {}


def graph():
    w0, c0 = time.perf_counter(), time.thread_time()
    if how == 'memhunt':
        from memhunt import _refs
        g = _refs.refs(type_name, 3, 10, None)
        labels = [e['label'] for e in g['edges']]
        out['namesHolder'] = 'HELD' in labels
        out['cut'] = g.get('cut')
    else:
        import objgraph
        found = objgraph.by_type(type_name if kind != 'user' else 'Rec')
        out['objgraphFound'] = len(found)
        sample = HELD[len(HELD) // 2]
        del found
        chain = objgraph.find_backref_chain(sample, objgraph.is_proper_module, max_depth=10)
        out['namesHolder'] = len(chain) > 1
        fd, dot = tempfile.mkstemp(suffix='.dot')
        os.close(fd)
        old = sys.stdout
        sys.stdout = open(os.devnull, 'w')
        try:
            objgraph.show_backrefs([sample], max_depth=5, filename=dot)
        finally:
            sys.stdout.close()
            sys.stdout = old
            os.unlink(dot)
    out['graphMs'] = round((time.perf_counter() - w0) * 1000)
    out['graphCpuMs'] = round((time.thread_time() - c0) * 1000)


t = threading.Thread(target=ticker)
t.start()
time.sleep(0.2)
a = threading.Thread(target=graph)
a.start()
a.join()
time.sleep(0.2)
ticking = False
t.join()
out.update(how=how, kind=kind, n=total, maxGapMs=round(max(gaps or [0]) * 1000), heldMs=round(sum(gaps) * 1000))
print(json.dumps(out))
