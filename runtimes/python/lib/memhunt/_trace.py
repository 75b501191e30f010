"""Allocation sites with tracemalloc: top lines by size and by growth, and totals by package.

Growth is computed against the previous snapshot's per-line totals (what Snapshot.compare_to
(old, 'lineno') computes), kept as a small dict rather than the previous Snapshot itself: a
Snapshot holds every trace (one tuple per live allocation, hundreds of MB on a big heap), which the
process would then carry until the next snapshot, and which a census would count as the program's.

tracemalloc sees Python's allocators and extensions that call PyTraceMalloc_Track (numpy does);
the rest (malloc in C libraries) shows as rssBytes - tracedBytes.
"""
import linecache
import os
import sys
import tracemalloc
from itertools import groupby as _groupby
from operator import itemgetter as _itemgetter

from . import _util

_take_snapshot = tracemalloc.take_snapshot
_get_traced_memory = tracemalloc.get_traced_memory
_get_tracemalloc_memory = tracemalloc.get_tracemalloc_memory
_is_tracing = tracemalloc.is_tracing
_tm_start = tracemalloc.start
_Filter = tracemalloc.Filter
_getline = linecache.getline


def start(frames):
    """Starts tracing with `frames` frames per traceback; tracing already on is left as it is."""
    if not _is_tracing():
        _tm_start(frames)


def _paths():
    """The standard library's directories. Not from sysconfig: it imports threading on 3.12, and
    this module is imported by the agent's thread (see _requests._load_modules)."""
    out = []
    try:
        std = os.path.dirname(os.__file__)
        out.append(std + os.sep)
        out.append(os.path.realpath(std) + os.sep)
    except Exception:
        pass
    return tuple(sorted(set(out), key=len, reverse=True))


_STDLIB = _paths()
_SITE_DIRS = (os.sep + 'site-packages' + os.sep, os.sep + 'dist-packages' + os.sep)


_seen_main_file = None


def _main_file():
    """The script's path. CPython deletes __main__.__file__ once the script has run, so at exit
    (the trace snapshot taken then) the path seen earlier, else sys.argv[0], is used."""
    global _seen_main_file
    main = sys.modules.get('__main__')
    f = getattr(main, '__file__', None)
    if isinstance(f, str):
        _seen_main_file = os.path.abspath(f)
        return _seen_main_file
    if _seen_main_file is not None:
        return _seen_main_file
    argv = getattr(sys, 'argv', None)
    a = argv[0] if isinstance(argv, list) and argv and isinstance(argv[0], str) else ''
    return os.path.abspath(a) if a.endswith('.py') and os.path.isfile(a) else None


def package_of(filename, main_file, cache):
    """site-packages/<pkg> top-level name, "stdlib", "(main)" for the script, else the top-level
    module (directory) under the longest sys.path entry that contains the file."""
    got = cache.get(filename)
    if got is not None:
        return got
    pkg = _package_of(filename, main_file)
    cache[filename] = pkg
    return pkg


def _top_name(rest):
    first = rest.split(os.sep, 1)[0]
    if first.endswith('.py'):
        first = first[:-3]
    return first or '?'


_COMMAND_LINE_CODE = frozenset(('<string>', '<stdin>', '<console>'))


def _package_of(filename, main_file):
    if not filename:
        return '?'
    if filename.startswith('<'):
        if filename.startswith('<frozen'):
            return 'stdlib'
        if filename == '<unknown>':
            return '?'  # tracemalloc's frame of unknown origin
        if filename in _COMMAND_LINE_CODE:
            return '(main)'  # code given on the command line or typed in
        # Code a library generated (numpy < 1.25's "<__array_function__ internals>", dataclass
        # and namedtuple methods "<string>" aside): not the user's line.
        return 'numpy' if filename == '<__array_function__ internals>' else '(generated)'

    for marker in _SITE_DIRS:
        i = filename.rfind(marker)
        if i >= 0:
            return _top_name(filename[i + len(marker):])
    if main_file is not None and filename == main_file:
        return '(main)'
    for p in _STDLIB:
        if filename.startswith(p):
            return 'stdlib'
    best = None
    for entry in sys.path:
        if not isinstance(entry, str) or not entry:
            continue
        e = os.path.abspath(entry).rstrip(os.sep) + os.sep
        if filename.startswith(e) and (best is None or len(e) > len(best)):
            best = e
    if best is not None:
        return _top_name(filename[len(best):])
    return os.path.basename(os.path.dirname(filename)) or '?'


def _filters():
    out = [
        _Filter(False, tracemalloc.__file__),
        _Filter(False, '<frozen importlib._bootstrap>'),
        _Filter(False, '<frozen importlib._bootstrap_external>'),
        _Filter(False, os.path.join(_util.PACKAGE_DIR, '*')),
    ]
    try:
        import importlib
        out.append(_Filter(False, os.path.join(os.path.dirname(importlib.__file__), '*')))
    except Exception:
        pass
    return out


_excluded_patterns = None  # the filename patterns of _filters(), built on first use (they never change)


def _excluded_by(patterns):
    """filename -> True when one of the patterns (of exclusive filters) matches it, as Filter
    matches a trace's most recent frame (no line numbers in ours), decided once per file."""
    import fnmatch
    cache = {}

    def excluded(filename):
        got = cache.get(filename)
        if got is None:
            name = filename[:-1] if filename.endswith('.pyc') else filename
            got = cache[filename] = any(fnmatch.fnmatch(name, p) for p in patterns)
        return got
    return excluded


def _line_stats(snap):
    """[(filename, lineno, size, count)], largest first: what
    snap.filter_traces(_filters()).statistics('lineno') gives, 10-100x faster.

    filter_traces runs fnmatch for every trace (600 k live blocks: 7.8 s) and statistics() is a
    Python loop that allocates per trace, which tracemalloc, still running, then traces too (1.6 s).
    Here the traces are sorted by traceback and summed per group in C (sorted, groupby, sum: no
    allocation per trace; 0.08 s), then merged by most recent frame (what statistics('lineno')
    groups by, and what a Filter without all_frames tests) and filtered once per file."""
    raw = getattr(getattr(snap, 'traces', None), '_traces', None)
    if not isinstance(raw, list):  # a CPython whose Snapshot differs: the public, slower way
        stats = snap.filter_traces(_filters()).statistics('lineno')
        return [(st.traceback[0].filename, st.traceback[0].lineno, st.size, st.count) for st in stats]
    by_traceback = _itemgetter(2)  # (domain, size, traceback, ...); frames most recent first
    size_of = _itemgetter(1)
    acc = {}
    for tb, group in _groupby(sorted(raw, key=by_traceback), key=by_traceback):
        members = list(group)
        key = tb[0] if tb else ('<unknown>', 0)
        a = acc.get(key)
        if a is None:
            acc[key] = [sum(map(size_of, members)), len(members)]
        else:
            a[0] += sum(map(size_of, members))
            a[1] += len(members)
    global _excluded_patterns
    if _excluded_patterns is None:
        _excluded_patterns = tuple(f.filename_pattern for f in _filters())
    excluded = _excluded_by(_excluded_patterns)
    rows = [(key[0], key[1], a[0], a[1]) for key, a in acc.items() if not excluded(key[0])]
    rows.sort(key=lambda r: (r[2], r[3]), reverse=True)
    return rows


def _rss_bytes():
    v = _util.proc_status_bytes('VmRSS')
    return v if v is not None else 0


def snapshot(top, state):
    """A TraceSnapshotResult (src/agents/protocol.ts); updates state.prev_sites/prev_packages."""
    from ._errors import RequestError
    if not _is_tracing():
        raise RequestError('allocation tracing is off in pid %d: run memhunt with --trace-allocations '
                           '(or send trace-start first)' % os.getpid())
    wall = _util.wall_ms()
    t0 = _util.perf_ms()
    snap = _take_snapshot()
    stats = _line_stats(snap)
    del snap
    traced, peak = _get_traced_memory()
    main_file = _main_file()
    cache = {}
    prev = _util.unpack_counts(state.prev_sites)
    prev_packages = _util.unpack_counts(state.prev_packages)
    sites = {}
    by_package = {}
    rows = []
    for filename, lineno, size, count in stats:
        key = '%s\x1f%d' % (filename, lineno)
        sites[key] = size
        pkg = package_of(filename, main_file, cache)
        by_package[pkg] = by_package.get(pkg, 0) + size
        rows.append((filename, lineno, size, count, pkg, key))
    del stats

    def site(r):
        filename, lineno, size, count, pkg, key = r
        code = ''
        try:
            code = _getline(filename, lineno).strip()[:200]
        except Exception:
            pass
        delta = None if prev is None else size - prev.get(key, 0)
        return {'file': filename, 'line': lineno, 'code': code, 'package': pkg,
                'bytes': size, 'count': count, 'bytesDelta': delta}

    # linecache keeps every line of every file it reads: drop the files it did not have before,
    # or they show up as thousands of new strings in the next census.
    cached_before = set(linecache.cache)
    by_size = [site(r) for r in rows[:top]]  # statistics() is sorted by size, largest first
    by_growth = []
    if prev is not None:
        growth = []
        for r in rows:
            d = r[2] - prev.get(r[5], 0)
            if d > 0:
                growth.append((d, r))
        growth.sort(key=lambda x: -x[0])
        by_growth = [site(r) for _, r in growth[:top]]
    for f in set(linecache.cache) - cached_before:
        linecache.cache.pop(f, None)
    packages = sorted(by_package.items(), key=lambda kv: -kv[1])
    if prev_packages is not None:
        # Packages whose allocations all went away still matter to "which library released".
        for pkg in prev_packages:
            if pkg not in by_package:
                packages.append((pkg, 0))
    package_rows = [{'package': pkg, 'bytes': size,
                     'bytesDelta': None if prev_packages is None else size - prev_packages.get(pkg, 0)}
                    for pkg, size in packages]
    state.prev_sites = _util.pack_counts(sites)
    state.prev_packages = _util.pack_counts(by_package)
    return {
        'wallMs': wall,
        'durationMs': round(_util.perf_ms() - t0, 3),
        'tracedBytes': traced,
        'tracedPeakBytes': peak,
        'rssBytes': _rss_bytes(),
        # tracemalloc's own bookkeeping (a trace per live block): in RSS, not in tracedBytes.
        'tracemallocBytes': _get_tracemalloc_memory(),
        'bySize': by_size,
        'byGrowth': by_growth,
        'byPackage': package_rows,
    }
