"""Allocation sites: growth is measured against the previous snapshot, whoever asked for it."""
import tracemalloc
import unittest

from memhunt import _agent, _trace

KEEP = []


def grow(n):
    for i in range(n):
        KEEP.append('x' * 100 + str(i))  # GROW


def grow_line(result):
    for row in result['bySize']:
        if row['code'].endswith('# GROW'):
            return row
    return None


class TraceGrowthTest(unittest.TestCase):
    def setUp(self):
        del KEEP[:]
        self.was_tracing = tracemalloc.is_tracing()
        if not self.was_tracing:
            tracemalloc.start(1)

    def tearDown(self):
        del KEEP[:]
        if not self.was_tracing:
            tracemalloc.stop()

    def test_delta_is_since_the_previous_snapshot_not_the_first(self):
        state = _agent.State()
        first = _trace.snapshot(50, state)
        self.assertTrue(all(r['bytesDelta'] is None for r in first['bySize']), 'the first has no previous')
        grow(10000)
        second = grow_line(_trace.snapshot(50, state))
        self.assertIsNotNone(second)
        self.assertEqual(second['bytesDelta'], second['bytes'], 'the line allocated nothing before')
        third = grow_line(_trace.snapshot(50, state))
        # Nothing grew since the second (a list resize or a temporary may move a few bytes).
        self.assertLess(abs(third['bytesDelta']), 1024, third)
        grow(5000)
        fourth = grow_line(_trace.snapshot(50, state))
        self.assertEqual(fourth['bytesDelta'], fourth['bytes'] - third['bytes'])
        self.assertGreater(fourth['bytesDelta'], 5000 * 100)
        self.assertLess(fourth['bytesDelta'], fourth['bytes'] // 2)


if __name__ == '__main__':
    unittest.main()
