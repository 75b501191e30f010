"""The C helpers (runtimes/python/native/memhunt_heap.c) against the pure-Python code they speed
up: the same census rows on a built heap, the same duplicate groups. Both paths run in this one
process (_native.set_enabled). Skipped where the extension cannot be built (no compiler or headers):
the Python path is then the one every other test runs."""
import gc
import os
import unittest

from memhunt import _census, _native

#: Under MEMHUNT_NATIVE=0 these tests would run as they do without it: each turns the helpers on
#: first (set_enabled(True) ignores MEMHUNT_NATIVE) or does not use them. src/agents/python-agent.test.ts
#: runs the suite once more with MEMHUNT_NATIVE=0 on an interpreter that already ran it with the
#: helpers: there they are skipped (3 s of CPU repeated for nothing).
SAME_WITHOUT_THE_SWITCH = os.environ.get('MEMHUNT_NATIVE') == '0'
SAME_REASON = 'the same with and without MEMHUNT_NATIVE=0 (run by the interpreter\'s run with the helpers)'

try:
    import numpy as np
except ImportError:
    np = None  # type: ignore[assignment]

HELD = []  # type: list


class Rec(object):
    def __init__(self, i):
        self.name = 'rec-%d' % i
        self.value = i * 0.5
        self.tags = [i, 'tag']
        self.pos = (i, i + 1)


class Slotted(object):
    __slots__ = ('a', 'b')

    def __init__(self, i):
        self.a = str(i) * 3
        self.b = (i, 'x%d' % i)


class Sized(object):
    def __sizeof__(self):
        return 1000


class Raises(object):
    def __sizeof__(self):
        raise ValueError('no size')


def _heap():
    held = [Rec(i) for i in range(20000)] + [Slotted(i) for i in range(3000)] + [Sized(), Raises()]
    held.append({'t': tuple(str(i) for i in range(3000)), 'floats': [float(i) for i in range(40000)],
                 'shared': [7] * 50000, 'big': list(range(5 * _census.BIG)), 'fs': frozenset(str(i) for i in range(100))})
    if np is not None:
        a = np.arange(100000.0)
        held += [a[::2], a.reshape(100, -1).T, np.array(['a%d' % i for i in range(999)] + [None], dtype=object)]
    try:
        # Imported here, not with the module: unittest discover imports every test module first,
        # and pandas' import-time objects moved test_census's brute-force reference (str sizes).
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        held.append(pd.DataFrame({'x': np.arange(1000), 's': ['q%d' % i for i in range(1000)]}))
    return held


def _both(nat, untracked):
    """Both walks over one gc.get_objects() list (nothing is created in between that it reaches)."""
    with _census._Quiet():
        objs = gc.get_objects()
        v1 = _census.CensusVisitor()
        v2 = _census.CensusVisitor()
        _census._drop(objs, _census.instance_parts(v1) + _census.instance_parts(v2))
        t1 = _census.walk(objs, v1, untracked)
        t2 = _census.native_walk(nat, objs, v2, untracked)
        del objs
    return t1, t2, v1.result(None), v2.result(None)


@unittest.skipIf(SAME_WITHOUT_THE_SWITCH, SAME_REASON)
class NativeCensusTest(unittest.TestCase):
    def setUp(self):
        _native.set_enabled(True)
        self.nat = _native.get()
        if self.nat is None:
            self.skipTest('the C helpers could not be built here: %s' % _native.why())
        HELD[:] = _heap()
        gc.collect()

    def tearDown(self):
        HELD[:] = []
        _native.set_enabled(True)

    def test_same_rows_as_the_python_walk(self):
        for untracked in (True, False):
            t1, t2, r1, r2 = _both(self.nat, untracked)
            self.assertEqual(t1, t2)
            self.assertEqual(r1[1:3], r2[1:3])  # objects, bytes
            self.assertEqual(r1[0], r2[0])      # every row: name, count, bytes
            self.assertEqual(r1[3], r2[3])      # notes (numpy, pandas)
        rows = {r[0]: r for r in r2[0]}
        self.assertEqual(rows[Rec.__module__ + '.Rec'][1], 20000)

    def test_census_uses_it_and_falls_back(self):
        gc.collect()
        name = Rec.__module__ + '.Rec'
        a = self.summary(name)
        _native.set_enabled(False)
        b = self.summary(name)
        self.assertEqual(a[0], b[0])
        # The state drifts by a few objects between two censuses (what the first one left).
        self.assertLess(abs(a[1] - b[1]), 200)

    def test_a_failing_c_walk_falls_back_to_python(self):
        """The C walk raising (a bug, an object it cannot read) costs the census nothing: the
        Python walk counts the same objects from a fresh visitor, and the notes say why."""
        gc.collect()
        name = Rec.__module__ + '.Rec'
        good = self.summary(name)

        class Broken(object):
            def __getattr__(self, attr):
                def fail(*args, **kwargs):
                    raise SystemError('census_walk: an object it cannot read')
                return fail

        _native._mod = Broken()
        try:
            r, _ = _census.census(False, 1000)
            self.assertIsNone(_native.get())
            self.assertIn('its C walk failed (SystemError', _native.why())
            self.assertTrue(any('pure-Python walk' in n and 'SystemError' in n for n in r['notes']), r['notes'])
            row = [row for row in r['rows'] if row[0] == name][0]
            self.assertEqual(row[1:], good[0])
            # The same for a census with the largest objects (its visitor restarts with its options).
            _native._mod = Broken()
            from memhunt import _largest
            held = [bytearray(1 << 20) for _ in range(3)]
            r2, _ = _largest.census(False, 30, 3, None)
            self.assertIsNone(_native.get())
            self.assertTrue(any('SystemError' in n for n in r2['notes']), r2['notes'])
            self.assertGreaterEqual(len([o for o in r2['largest'] if o['bytes'] >= 1 << 20]), 3, r2['largest'])
            del held
        finally:
            _native.set_enabled(True)

    def summary(self, name):
        gc.collect()
        r, _ = _census.census(False, 1000)
        return [row for row in r['rows'] if row[0] == name][0][1:], r['objects']


DUPS = {}  # type: dict


def _groups(result):
    d = result['duplicates']
    return (sorted(sorted((h['path'], h['relation'], h['bytes']) for h in g['holders']) for g in d['groups']),
            sorted(h['path'] for h in d['changed']), d['candidates'], d['candidateBytes'])


@unittest.skipIf(SAME_WITHOUT_THE_SWITCH, SAME_REASON)
class NativeDuplicatesTest(unittest.TestCase):
    """The duplicate search through the C reads and through the Python ones: the same groups."""

    def setUp(self):
        _native.set_enabled(True)
        if _native.get() is None:
            self.skipTest('the C helpers could not be built here: %s' % _native.why())

    def tearDown(self):
        DUPS.clear()
        _native.set_enabled(True)

    def both(self, largest=None):
        from memhunt import _largest
        out = []
        for on in (True, False):
            _native.set_enabled(on)
            gc.collect()
            r, _ = _largest.census(False, 5, largest, 1 << 20)
            big = r.get('largest', [])
            # Objects of one size may come in either walk's order: the sizes, and the paths above the last size.
            last = big[-1]['bytes'] if big else 0
            out.append((_groups(r), ([e['bytes'] for e in big], sorted(e['path'] for e in big if e['bytes'] > last))))
            del r
        return out

    def test_buffers_lists_and_text(self):
        from array import array
        values = [i * 0.25 for i in range(300000)]
        DUPS['values'] = values
        DUPS['raw'] = array('d', values).tobytes()
        DUPS['ba'] = bytearray(DUPS['raw'])
        DUPS['ints'] = list(range(300000))
        DUPS['iraw'] = array('q', DUPS['ints']).tobytes()
        DUPS['text'] = 'abc' * 500000
        DUPS['text2'] = 'abc' * 500000
        near = bytearray(DUPS['raw'])
        near[1234567] ^= 1  # same size, one byte apart, outside every sample
        DUPS['near'] = near
        DUPS['mixed'] = values[:-1] + [1]  # not all floats: not numbers
        (n, ln), (p, lp) = self.both(largest=4)
        self.assertEqual(n, p)
        self.assertEqual(ln, lp)
        groups = n[0]
        self.assertEqual(len(groups), 3, groups)
        self.assertNotIn('near', str(groups))

    @unittest.skipIf(np is None, 'numpy is not installed for this interpreter')
    def test_arrays_strides_and_conversions(self):
        base = np.random.default_rng(3).random(1 << 19)  # 4 MiB
        DUPS['base'] = base
        DUPS['copy'] = base.copy()
        DUPS['fortran'] = np.asfortranarray(base.reshape(1024, -1))
        DUPS['fortran_f32'] = np.asfortranarray(base.reshape(1024, -1).astype(np.float32))
        DUPS['f32'] = base.astype(np.float32)
        DUPS['strided'] = np.asfortranarray(base.reshape(8, 16, -1))  # 3-D: read by the generic strided path
        DUPS['list'] = base.tolist()
        DUPS['raw'] = base.tobytes()
        DUPS['view'] = base[::2]
        ints = np.arange(1 << 19, dtype=np.int64)
        DUPS['ints'] = ints
        DUPS['ints32'] = ints.astype(np.int32)
        DUPS['intsf'] = ints.astype(np.float64)
        other = base.copy()
        other[300001] += 1.0
        DUPS['other'] = other
        DUPS['big_endian'] = base.astype('>f8')
        (n, _), (p, _) = self.both()
        self.maxDiff = None
        self.assertEqual(n, p)
        groups = n[0]
        text = str(groups)
        self.assertNotIn("'other'", text)
        first = [g for g in groups if any("['base']" in h[0] for h in g)][0]
        names = sorted(h[0].rsplit('[', 1)[-1] for h in first)
        for k in ('copy', 'fortran', 'fortran_f32', 'f32', 'strided', 'list', 'raw'):
            self.assertIn("'%s']" % k, names)


def _rss_kib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


@unittest.skipIf(SAME_WITHOUT_THE_SWITCH, SAME_REASON)
class NativeTrimTest(unittest.TestCase):
    """What a census leaves (BENCHMARKS.md, "What a census leaves"): the walk's buffers are freed in
    the agent's thread's own glibc arena, below blocks that stay; trim() gives those pages back."""

    def setUp(self):
        _native.set_enabled(True)
        if _native.get() is None:
            self.skipTest('the C helpers could not be built here: %s' % _native.why())
        if not hasattr(_native.get(), 'trim') or _native.get().trim() is None:
            self.skipTest('no malloc_trim in this C library')

    def test_a_threads_freed_blocks_go_back(self):
        import _thread
        done = _thread.allocate_lock()
        done.acquire()
        got = {}

        def in_a_thread():
            # 8 MiB in blocks above pymalloc's 512 bytes (malloc: this thread's arena), one kept at
            # the top: free() alone cannot give the pages below it back.
            blocks = [bytes(2048) for _ in range(4096)]
            keep = bytearray(4096)
            del blocks
            got['freed'] = _rss_kib()
            _native.trim()
            got['trimmed'] = _rss_kib()
            got['keep'] = keep
            done.release()

        _thread.start_new_thread(in_a_thread, ())
        done.acquire()
        self.assertGreater(got['freed'] - got['trimmed'], 4096, got)

    def test_the_digest_needs_no_hashlib(self):
        # hashlib loads OpenSSL's libcrypto (+3.4-4.8 MiB of RSS) into the program.
        import hashlib
        from memhunt import _alloc
        src = _alloc.source_path('memhunt_heap.c')
        with open(src, 'rb') as f:
            self.assertEqual(_alloc.source_digest(src), hashlib.sha256(f.read()).hexdigest()[:12])


@unittest.skipIf(SAME_WITHOUT_THE_SWITCH, SAME_REASON)
class BytecodeTest(unittest.TestCase):
    def test_writes_what_the_import_did_not(self):
        import importlib
        import importlib.util
        import marshal
        import os
        import shutil
        import sys
        import tempfile
        from memhunt import _bytecode
        d = tempfile.mkdtemp()
        try:
            with open(os.path.join(d, 'mh_bytecode_probe.py'), 'w') as f:
                f.write('X = 42\n')
            sys.path.insert(0, d)
            flag = sys.dont_write_bytecode
            sys.dont_write_bytecode = True
            try:
                mod = importlib.import_module('mh_bytecode_probe')
            finally:
                sys.dont_write_bytecode = flag
                sys.path.remove(d)
            cached = mod.__spec__.cached
            self.assertFalse(os.path.exists(cached))
            _bytecode.cache_own(d)
            st = os.stat(mod.__file__)
            self.assertTrue(_bytecode._fresh(cached, importlib.util.MAGIC_NUMBER, st.st_mtime, st.st_size))
            with open(cached, 'rb') as f:
                code = marshal.loads(f.read()[16:])
            ns = {}
            exec(code, ns)
            self.assertEqual(ns['X'], 42)
            written = os.stat(cached).st_ino
            _bytecode.cache_own(d)  # fresh: left as it is (a write replaces the file: a new inode)
            self.assertEqual(os.stat(cached).st_ino, written)
        finally:
            sys.modules.pop('mh_bytecode_probe', None)
            shutil.rmtree(d)


if __name__ == '__main__':
    unittest.main()
