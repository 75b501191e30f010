"""The C helpers (runtimes/python/native/memhunt_heap.c) against the pure-Python code they speed
up: the same census rows on a built heap, the same duplicate groups. Both paths run in this one
process (_native.set_enabled). Skipped where the extension cannot be built (no compiler or headers):
the Python path is then the one every other test runs."""
import gc
import sys
import unittest

from memhunt import _census, _native

try:
    import numpy as np
except ImportError:
    np = None  # type: ignore[assignment]
try:
    import pandas as pd
except ImportError:
    pd = None  # type: ignore[assignment]

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

    def summary(self, name):
        gc.collect()
        r, _ = _census.census(False, 1000)
        return [row for row in r['rows'] if row[0] == name][0][1:], r['objects']


if __name__ == '__main__':
    unittest.main()
