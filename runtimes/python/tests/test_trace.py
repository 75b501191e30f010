"""Allocation sites: growth is measured against the previous snapshot, whoever asked for it."""
import os
import tracemalloc
import unittest

from memhunt import _state, _trace

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
        state = _state.State()
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

    def test_line_stats_equal_the_public_filter_and_statistics(self):
        import json
        grow(3000)
        junk = [json.dumps({'k': i}) for i in range(2000)]  # a stdlib file's lines too
        from memhunt import _util
        packed = [_util.pack_counts({'a%d' % i: i}) for i in range(500)]  # the agent's own: excluded
        snap = tracemalloc.take_snapshot()
        fast = _trace._line_stats(snap)
        slow = [(st.traceback[0].filename, st.traceback[0].lineno, st.size, st.count)
                for st in snap.filter_traces(_trace._filters()).statistics('lineno')]
        self.assertEqual(sorted(fast), sorted(slow))
        self.assertEqual([r[2] for r in fast], sorted((r[2] for r in fast), reverse=True), 'largest first')
        self.assertTrue(any(r[0] == __file__ for r in fast))
        self.assertFalse(any('memhunt' + os.sep + '_util' in r[0] for r in fast), 'the agent leaves itself out')
        del junk, packed

    def test_pseudo_files_are_the_users_only_for_command_line_code(self):
        # numpy < 1.25 wraps its functions in "<__array_function__ internals>": a 305 MiB spike at
        # the user's line was put on it, labelled (main).
        self.assertEqual(_trace._package_of('<__array_function__ internals>', None), 'numpy')
        self.assertEqual(_trace._package_of('<string>', None), '(main)')
        self.assertEqual(_trace._package_of('<stdin>', None), '(main)')
        self.assertEqual(_trace._package_of('<frozen importlib._bootstrap>', None), 'stdlib')
        self.assertEqual(_trace._package_of('<attrs generated init abc>', None), '(generated)')


if __name__ == '__main__':
    unittest.main()
