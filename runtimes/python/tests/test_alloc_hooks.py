"""The allocation hooks (runtimes/python/native/memhunt_alloc.c) under a sampling rate high enough
that most allocations of a few hundred bytes are sampled: pymalloc's own bookkeeping (its arena array grows as the
program holds tens of MiB of small objects; 3.10+'s arena map) is then sampled halfway through, in
several threads, with collections running. With plain pymalloc the MEM/OBJ hooks run without their
BUSY bracket (fast_nested), which is safe only because taking a stack allocates nothing: the program
must run to its end, and the stacks of known lines (a function, a generator, a comprehension) must
be right. Each case runs in a child interpreter (the hooks cannot be started twice in one process).
Skipped where the extension cannot be built."""
import os
import subprocess
import sys
import textwrap
import unittest

LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib')

CHILD = textwrap.dedent('''
    import gc, sys, threading
    sys.path.insert(0, %(lib)r)
    from memhunt import _alloc
    m = _alloc.load()
    m.start(1024.0, 128, 7)

    def gen(n):
        for i in range(n):
            yield bytearray(3000001)  # MARK_GEN

    def known():
        return bytearray(5000003)  # MARK_KNOWN

    class K(object):
        def __init__(self):
            self.b = [bytearray(4000007) for _ in range(1)]  # MARK_COMP

    held = []

    def churn():
        for r in range(2):
            held.append([{'i': i, 's': 'v%%d' %% i, 'l': [i] * 3} for i in range(30000)])
            if len(held) > 6:
                held.pop(0)
            gc.collect(0)
            m.drain_batch('/nonexistent/')

    ths = [threading.Thread(target=churn) for _ in range(2)]
    for t in ths:
        t.start()
    churn()
    for t in ths:
        t.join()
    m.drain_batch('/nonexistent/')
    k = known(); g = list(gen(1)); kk = K()
    rows, stacks, frees = m.drain_batch('/nonexistent/')
    st = dict((s[0], s[1]) for s in stacks)
    for size, mark in ((5000003, 'MARK_KNOWN'), (3000001, 'MARK_GEN'), (4000007, 'MARK_COMP')):
        got = [st[r[1]][0] for r in rows if r[2] in (size, size + 1)]
        print(mark, got[0][1] if got else None, got[0][2] if got else None)
    print('fast_nested', m.fast_nested())
''')


def _can_build():
    sys.path.insert(0, LIB)
    try:
        from memhunt import _alloc
        if _alloc.unsupported():
            return False
        _alloc.build()
        return True
    except Exception:
        return False
    finally:
        sys.path.remove(LIB)


@unittest.skipIf(os.environ.get('MEMHUNT_NATIVE') == '0', 'C helpers switched off (MEMHUNT_NATIVE=0)')
@unittest.skipUnless(_can_build(), 'the allocation hooks cannot be built here')
class SamplingInsideTheAllocator(unittest.TestCase):
    def run_child(self, env_extra):
        env = dict(os.environ)
        env.pop('PYTHONMALLOC', None)
        env.update(env_extra)
        p = subprocess.run([sys.executable, '-c', CHILD % {'lib': LIB}], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr.decode('utf-8', 'replace')[-2000:])
        lines = dict(row.split(' ', 1) for row in p.stdout.decode().splitlines())
        src = (CHILD % {'lib': LIB}).splitlines()
        for mark, name in (('MARK_KNOWN', 'known'), ('MARK_GEN', 'gen'), ('MARK_COMP', 'comp')):
            want = [i + 1 for i, text in enumerate(src) if text.rstrip().endswith('# ' + mark)][0]
            got_name, got_line = lines[mark].rsplit(' ', 1)
            self.assertEqual(got_line, str(want), '%s: %s' % (mark, lines[mark]))
            if name != 'comp':  # a comprehension is its own frame before 3.12, inlined since
                self.assertEqual(got_name, name)
        return lines

    def test_plain_pymalloc_unbracketed(self):
        lines = self.run_child({})
        # 3.8-3.10 read frame objects that exist; 3.11-3.13 the interpreter's frames (when CPython's
        # internal headers are installed, as Debian's python3-dev and pyenv do).
        import sysconfig
        header = os.path.join(sysconfig.get_paths().get('include') or '', 'internal', 'pycore_frame.h')
        if sys.version_info < (3, 11) or (sys.version_info < (3, 14) and os.path.exists(header)):
            self.assertEqual(lines['fast_nested'], 'True')

    def test_malloc_bracketed(self):
        lines = self.run_child({'PYTHONMALLOC': 'malloc'})
        self.assertEqual(lines['fast_nested'], 'False')


if __name__ == '__main__':
    unittest.main()
