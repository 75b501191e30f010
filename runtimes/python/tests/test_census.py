"""Census correctness against a brute-force reference (run by src/agents/python-agent.test.ts).

    PYTHONPATH=runtimes/python/lib python3 -m unittest discover -s runtimes/python/tests

The reference walks the same object set the slow, obvious way: gc.get_objects(), then every
untracked object reachable through gc.get_referents, de-duplicated with a dict keyed by id.
"""
import gc
import sys
import unittest

from memhunt import _census, _util


def reference_census(extra_roots=()):
    objs = gc.get_objects()
    seen = {}
    stack = []
    for o in objs:
        for r in gc.get_referents(o):
            if not gc.is_tracked(r) and id(r) not in seen:
                seen[id(r)] = r
                stack.append(r)
    while stack:
        o = stack.pop()
        for r in gc.get_referents(o):
            if not gc.is_tracked(r) and id(r) not in seen:
                seen[id(r)] = r
                stack.append(r)
    counts = {}
    sizes = {}
    for o in objs + list(seen.values()):
        name = _util.type_name(type(o))
        counts[name] = counts.get(name, 0) + 1
        sizes[name] = sizes.get(name, 0) + sys.getsizeof(o)
    return counts, sizes


class Leaf(object):
    __slots__ = ('a', 'b')

    def __init__(self, a, b):
        self.a = a
        self.b = b


class Weird(object):
    def __sizeof__(self):
        raise RuntimeError('no size for you')


class CensusTest(unittest.TestCase):
    def setUp(self):
        # The first census of a process creates a few hundred objects of its own (type names,
        # descriptors looked up once): compare censuses taken after that.
        _census.census(collect=False, top=None)
        gc.collect()

    def test_counts_untracked_objects_once(self):
        # 3000 unique strings, each held twice (list + tuple), 3000 floats held once, and shared
        # small ints: a census must count each object once.
        strings = ['census-test-string-%d' % i for i in range(3000)]
        holder = (tuple(strings), [float(i) + 0.5 for i in range(3000)], [7] * 5000)
        leaves = [Leaf(s, i * 1000003) for i, s in enumerate(strings)]
        gc.collect()  # untracks the tuple of strings, as it would be in a long-running program
        names = ('str', 'float', 'int', 'tuple', __name__ + '.Leaf')
        result, counts = _census.census(collect=False, top=1000)
        rows = {r[0]: r for r in result['rows']}
        self.assertGreaterEqual(rows[__name__ + '.Leaf'][1], 3000)
        self.assertEqual(counts[__name__ + '.Leaf'], rows[__name__ + '.Leaf'][1])
        self.assertEqual(result['objects'], sum(r[1] for r in result['rows']))
        self.assertEqual(result['totalBytes'], sum(r[2] for r in result['rows']))
        mine = [(rows[n][1], rows[n][2]) for n in names]
        # Only plain numbers survive into the reference run: the census's own result (type-name
        # strings, rows) would otherwise be counted by the reference.
        del result, counts, rows
        ref_counts, ref_sizes = reference_census()
        for name, (count, size) in zip(names, mine):
            # The census and the reference run at different moments: allow the few objects each
            # of them creates (its own frames, strings, ints).
            self.assertAlmostEqual(count, ref_counts[name], delta=60, msg=name)
            self.assertAlmostEqual(size, ref_sizes[name], delta=60 * 120, msg=name)
        del holder, leaves

    def test_fast_path_is_calibrated(self):
        if sys.version_info < (3, 13) or not hasattr(sys, '_is_gil_enabled') or sys._is_gil_enabled():
            self.assertIsNotNone(_census._BASE, 'reference-count fast path should work on this CPython')

    def test_same_result_without_fast_path(self):
        data = [('k%d' % i, i * 7919) for i in range(2000)]
        gc.collect()
        names = ('str', 'int', 'tuple')
        counts = _census.census(collect=False, top=None)[1]
        fast = [counts[n] for n in names]
        del counts
        saved = _census._BASE
        _census._BASE = None
        try:
            counts = _census.census(collect=False, top=None)[1]
            slow = [counts[n] for n in names]
            del counts
        finally:
            _census._BASE = saved
        for name, a, b in zip(names, fast, slow):
            self.assertAlmostEqual(a, b, delta=40, msg=name)
        del data

    def test_top_and_other(self):
        result, _ = _census.census(collect=True, top=3)
        self.assertEqual(len(result['rows']), 4)
        self.assertEqual(result['rows'][-1][0], '(other)')
        self.assertTrue(result['collected'])
        sizes = [r[2] for r in result['rows'][:3]]
        self.assertEqual(sizes, sorted(sizes, reverse=True))

    def test_sizeof_that_raises_is_survived(self):
        w = [Weird() for _ in range(3)]
        result, counts = _census.census(collect=False, top=None)
        self.assertEqual(counts[__name__ + '.Weird'], 3)
        del w

    def test_locals_of_a_running_function_in_another_thread(self):
        import threading
        ready = threading.Event()
        done = threading.Event()

        def hold():
            blob = b'y' * 3000000  # only referenced by this running function's frame
            ready.set()
            done.wait(10)
            return len(blob)

        t = threading.Thread(target=hold)
        t.start()
        ready.wait(10)
        try:
            result, _ = _census.census(collect=False, top=None)
            rows = {r[0]: r for r in result['rows']}
            self.assertGreaterEqual(rows['bytes'][2], 3000000)
        finally:
            done.set()
            t.join()

    def test_numpy_views_keep_their_base_counted(self):
        try:
            import numpy as np
        except ImportError:
            self.skipTest('numpy not installed')
        view = np.ones(1000000)[::2]  # the 8 MB base is only referenced by view.base
        objs = np.array(['numpy-object-item-%d' % i for i in range(1000)], dtype=object)
        # Both arrays are locals of this running function: visible through its frame, as for
        # memhunt.snapshot(), which passes its caller's frame.
        result, _ = _census.census(collect=False, top=None, caller_frame=sys._getframe())
        rows = {r[0]: r for r in result['rows']}
        self.assertGreaterEqual(rows['numpy.ndarray'][2], 8000000)
        self.assertTrue(any('numpy' in n for n in result['notes']))
        # the strings inside the object array are reachable only through it
        self.assertGreaterEqual(rows['str'][1], 1000)
        del view, objs

    def test_pandas_frames_are_sized_deep(self):
        try:
            import pandas as pd
        except ImportError:
            self.skipTest('pandas not installed')
        frame = pd.DataFrame({'name': ['pandas-row-%d' % i for i in range(5000)], 'x': range(5000)})
        deep = int(frame.memory_usage(deep=True).sum())
        result, _ = _census.census(collect=False, top=None, caller_frame=sys._getframe())
        rows = {r[0]: r for r in result['rows']}
        name = [n for n in rows if n.endswith('.DataFrame')]
        self.assertEqual(len(name), 1, name)
        self.assertEqual(rows[name[0]][1], 1)
        self.assertAlmostEqual(rows[name[0]][2], deep, delta=deep * 0.01)
        self.assertTrue(any('pandas' in n and 'memory_usage(deep=True)' in n for n in result['notes']))
        del frame


if __name__ == '__main__':
    unittest.main()
