"""Heap census: every live object by type, with counts and sizes (muppy / objgraph parity).

Objects are those gc.get_objects() returns (the collector's tracked containers) plus the untracked
ones (str, bytes, int, float, untracked tuples and dicts, numpy arrays, ...) reached through
gc.get_referents of tracked ones, each counted once. pympler #97/#152 and objgraph #41/#25: users
miss exactly those untracked objects.

Speed (the target is <= 2x a bare `for o in gc.get_objects(): sys.getsizeof(o)` loop, see
bench/census.mjs): no Python-level loop runs per object. Every per-object step is a C iterator
(map, filterfalse, compress, zip, Counter's _count_elements) over chunks of CHUNK objects:
  - counts: Counter.update(types);
  - sizes: sys.getsizeof only for types whose size varies per object (str, list, dict, ...). For a
    type whose __sizeof__ is object.__sizeof__ and whose __itemsize__ is 0 (class instances,
    functions, floats), size = count x the size of one instance;
  - de-duplication of untracked objects, the expensive part (a set of 2 M ids costs ~0.3 s here):
    an untracked object whose reference count says that exactly one reference exists (the
    container we just got it from) cannot be reached a second time, so only the others (small ints,
    interned strings, objects held twice) go through the `seen` set. The reference count such an
    object shows inside our pipeline is measured once at import (`_BASE`), not assumed, because it
    differs between CPython versions; when the measurement is not as expected the fast path is off
    and every untracked object is de-duplicated by id.
The agent's own temporaries are not counted: they are created after gc.get_objects() (so they are
not in it) and are tracked containers (lists, sets, Counters), whose untracked referents the walk
never follows, since it only descends from objects in gc.get_objects() into untracked objects.
"""
import gc
import sys
from collections import Counter
from itertools import compress, filterfalse, repeat
from operator import eq, is_, not_, rshift

from . import _util

_get_objects = gc.get_objects
_get_referents = gc.get_referents
_is_tracked = gc.is_tracked
_collect = gc.collect
_gc_isenabled = gc.isenabled
_gc_enable = gc.enable
_gc_disable = gc.disable
_getrefcount = sys.getrefcount
_getsizeof = sys.getsizeof
_getswitchinterval = sys.getswitchinterval
_setswitchinterval = sys.setswitchinterval
_modules = sys.modules
_OBJECT_SIZEOF = object.__dict__['__sizeof__']
_type_dict = type.__dict__['__dict__'].__get__
_type_mro = type.__dict__['__mro__'].__get__

#: Objects per pass: small enough that the objects a chunk touches stay in the CPU caches between
#: its ~15 C-iterator passes (2^13 measured ~25% faster than 2^16 on 2 M objects here).
CHUNK = 1 << 13
#: id() >> ID_SHIFT is still unique (objects are >= 16 bytes and 16-byte aligned on 64-bit) and
#: hashes better: raw addresses share their low 4 bits, which makes set probing ~2x slower.
ID_SHIFT = 4 if sys.maxsize > 2 ** 32 else 3


def _untracked_refs(chunk):
    """Untracked referents of chunk, and their reference counts as seen here."""
    untr = list(filterfalse(_is_tracked, _get_referents(*chunk)))
    return untr, list(map(_getrefcount, untr))


def _calibrate():
    """The reference count _untracked_refs reports for an object with exactly one holder."""
    try:
        gil = getattr(sys, '_is_gil_enabled', None)
        if gil is not None and not gil():
            return None  # free-threaded build: reference counts are split between threads
        holder = [float(_util._perf())]
        once = _untracked_refs([holder])[1]
        holder2 = [holder[0]]
        twice = _untracked_refs([holder2])[1]
        if len(once) == 1 and len(twice) == 1 and twice[0] == once[0] + 1 and once[0] >= 2:
            return once[0]
    except Exception:
        pass
    return None


_BASE = _calibrate()


def _fresh(objs, seen):
    """The objects of objs whose id is not in seen, each once; adds their ids to seen.

    Most shared untracked objects are "hot" (None, small ints, interned attribute names) and show
    up thousands of times: the set of a chunk's ids is small, and the few new objects are looked up
    by position instead of building an id -> object dict of the whole chunk."""
    ids = list(map(rshift, map(id, objs), repeat(ID_SHIFT)))
    fresh = set(ids)
    fresh -= seen
    if not fresh:
        return ()
    seen |= fresh
    if len(fresh) * 32 < len(ids):
        index = ids.index
        return [objs[index(i)] for i in fresh]
    byid = dict(zip(ids, objs))
    return list(map(byid.__getitem__, fresh))


def _dedupe(objs, seen):
    """The untracked objects of objs not in seen (ids >> ID_SHIFT), each once; adds them to seen."""
    return list(_fresh(list(filterfalse(_is_tracked, objs)), seen))


def walk(objs, visit, untracked=True):
    """Calls visit(chunk) for every reachable object (as described above), each object once.

    visit(chunk) returns the objects of chunk whose referents may hold further untracked objects
    (untracked tuples and dicts, plus numpy bases and items of object arrays), or None for none;
    they are expanded in the next round, after de-duplication of the extras by id. Returns the
    number of objects visited.
    """
    base = _BASE
    seen = set()
    total = 0
    pending = []
    for i in range(0, len(objs), CHUNK):
        chunk = objs[i:i + CHUNK]
        more = visit(chunk, False)
        total += len(chunk)
        if more and more[1]:
            pending.extend(more[1])
    if not untracked:
        return total
    level = objs
    skip = 0  # chunks left to de-duplicate without the reference-count split
    while level:
        nxt = []
        for i in range(0, len(level), CHUNK):
            chunk = level[i:i + CHUNK]
            if base is not None and not skip:
                untr, rcs = _untracked_refs(chunk)
                once = list(map(eq, rcs, repeat(base)))
                new = list(compress(untr, once))
                shared = list(compress(untr, map(not_, once)))
                # When nearly every referent is shared (dicts of None and small ints), the split
                # costs more (~50 ns a referent) than it saves: de-duplicate the next chunks whole.
                if len(new) * 5 < len(untr):
                    skip = 16
                del once, untr, rcs
            else:
                skip = max(0, skip - 1)
                new = []
                shared = list(filterfalse(_is_tracked, _get_referents(*chunk)))
            del chunk
            if shared:
                new.extend(_fresh(shared, seen))
            del shared
            if pending:
                new.extend(_dedupe(pending, seen))
                pending = None
            while new:
                total += len(new)
                more = visit(new, True)
                new = None
                if more:
                    # Expand the containers; de-duplicate the extras (they may be reachable twice).
                    containers, extra = more
                    nxt.extend(containers)
                    if extra:
                        new = _dedupe(extra, seen)
        level = nxt
    return total


def _sizeof_is_fixed(t):
    """True when every instance of t has the same sys.getsizeof (no __sizeof__ override, no items)."""
    try:
        if type.__dict__['__itemsize__'].__get__(t) != 0:
            return False
        for k in _type_mro(t):
            d = _type_dict(k)
            if '__sizeof__' in d:
                return d['__sizeof__'] is _OBJECT_SIZEOF
    except Exception:
        pass
    return False


def _sizes(objs):
    try:
        return list(map(_getsizeof, objs))
    except Exception:  # a user __sizeof__ that raises or returns a non-int
        return [_util.safe_sizeof(o) for o in objs]


#: Builtin types whose C __sizeof__ can be called directly (~30 ns) instead of through
#: sys.getsizeof (~100 ns: a special-method lookup and a bound method per object); getsizeof adds a
#: constant per type (the GC header), measured once on a sample.
_DIRECT = (str, int, tuple, list, dict, set, frozenset, bytes, bytearray)
_HAVE_GC = 1 << 14  # Py_TPFLAGS_HAVE_GC


class CensusVisitor(object):
    """Counts and sizes by type object; names are given at the end (two classes may share one)."""

    def __init__(self):
        self.counts = Counter()
        self.var_sizes = Counter()  # (type, size) -> objects, for types sized one by one
        self.var_bytes = Counter()  # type -> bytes, for _DIRECT types sized in bulk
        self.fixed = {}             # type -> size of every instance
        self.header = {}            # _DIRECT type -> getsizeof(o) - type.__sizeof__(o)
        self.known = set()
        self.gc_types = set()       # types with a tp_traverse: their untracked instances are expanded
        self.special = set()        # types with extra handling (numpy, pandas)
        self.ndarray_types = set()
        self.pandas_types = set()
        self.arrays = 0
        self.pandas_objects = []
        np = _modules.get('numpy')
        self.ndarray = getattr(np, 'ndarray', None) if np is not None else None
        pd = _modules.get('pandas')
        self.pandas_classes = ()
        if pd is not None:
            try:
                self.pandas_classes = (pd.DataFrame, pd.Series)
            except Exception:
                pass

    def _classify(self, new_types, chunk, types):
        sample = None
        for t in new_types:
            self.known.add(t)
            if self.ndarray is not None:
                try:
                    if issubclass(t, self.ndarray):
                        self.ndarray_types.add(t)
                        self.special.add(t)
                except Exception:
                    pass
            if self.pandas_classes:
                try:
                    if issubclass(t, self.pandas_classes):
                        self.pandas_types.add(t)
                        self.special.add(t)
                except Exception:
                    pass
            try:
                if type.__dict__['__flags__'].__get__(t) & _HAVE_GC:
                    self.gc_types.add(t)
            except Exception:
                self.gc_types.add(t)
            fixed = _sizeof_is_fixed(t)
            if fixed or t in _DIRECT:
                if sample is None:
                    sample = dict(zip(types, chunk))
                o = sample[t]
                size = _util.safe_sizeof(o)
                if fixed:
                    self.fixed[t] = size
                else:
                    try:
                        self.header[t] = size - t.__sizeof__(o)
                    except Exception:
                        pass

    def __call__(self, chunk, expand=True):
        """Counts and sizes chunk; returns (containers to expand, extra objects) or None. The
        tracked objects (expand=False) are all expanded by walk() anyway."""
        types = list(map(type, chunk))
        here = Counter(types)
        self.counts.update(here)
        new_types = here.keys() - self.known
        if new_types:
            self._classify(new_types, chunk, types)
        fixed = self.fixed
        header = self.header
        gc_types = self.gc_types
        bulk_min = len(chunk) >> 3
        one_by_one = None
        containers = [] if expand else None
        for t, n in here.items():
            group = None
            if t not in fixed:
                if n >= bulk_min and t in header:
                    # One pass over the chunk per type: cheaper than sizing one by one when the
                    # type is at least 1/8 of the chunk.
                    group = list(compress(chunk, map(is_, types, repeat(t))))
                    try:
                        self.var_bytes[t] += sum(map(t.__sizeof__, group)) + n * header[t]
                    except Exception:
                        if one_by_one is None:
                            one_by_one = set()
                        one_by_one.add(t)
                else:
                    if one_by_one is None:
                        one_by_one = set()
                    one_by_one.add(t)
            if expand and t in gc_types:
                # Untracked instances of a type with a tp_traverse (tuples, dicts): their referents
                # may be untracked objects too.
                containers.extend(group if group is not None else compress(chunk, map(is_, types, repeat(t))))
        if one_by_one:
            mask = list(map(one_by_one.__contains__, types))
            self.var_sizes.update(zip(compress(types, mask), _sizes(list(compress(chunk, mask)))))
        extra = None
        if self.special and not self.special.isdisjoint(here):
            extra = self._special(chunk, types)
        if containers or extra:
            return containers or (), extra
        return None

    def _special(self, chunk, types):
        extra = []
        picked = list(compress(chunk, map(self.special.__contains__, types)))
        for o in picked:
            t = type(o)
            if t in self.ndarray_types:
                self.arrays += 1
                try:
                    base = o.base
                    if base is not None:
                        # A view keeps its base alive through a reference gc cannot see.
                        extra.append(base)
                    elif o.dtype.hasobject:
                        # Object arrays hold references gc cannot see either (pandas object columns).
                        extra.extend(o.ravel(order='K').tolist())
                except Exception:
                    pass
            elif t in self.pandas_types:
                self.pandas_objects.append(o)
        return extra

    def result(self, top):
        rows = {}
        total_count = 0
        total_bytes = 0
        name_of = {}

        def name(t):
            n = name_of.get(t)
            if n is None:
                n = name_of[t] = _util.type_name(t)
            return n

        for t, n in self.counts.items():
            total_count += n
            row = rows.get(name(t))
            if row is None:
                row = rows[name(t)] = [name(t), 0, 0]
            row[1] += n
            size = self.fixed.get(t)
            if size is not None:
                row[2] += n * size
                total_bytes += n * size
        for (t, size), n in self.var_sizes.items():
            rows[name(t)][2] += n * size
            total_bytes += n * size
        for t, b in self.var_bytes.items():
            rows[name(t)][2] += b
            total_bytes += b
        notes = []
        if self.arrays:
            notes.append('numpy: %d arrays; an array that owns its buffer is sized with it (nbytes); '
                         'views count their header only and keep their base counted' % self.arrays)
        if self.pandas_objects:
            deep = {}
            failed = 0
            for o in self.pandas_objects:
                try:
                    mu = o.memory_usage(deep=True)
                    b = int(mu.sum()) if hasattr(mu, 'sum') else int(mu)
                except Exception:
                    failed += 1
                    continue
                key = name(type(o))
                deep[key] = deep.get(key, 0) + b
            for key, b in deep.items():
                rows[key][2] = b
            notes.append('pandas: %s sized by memory_usage(deep=True); their buffers are also counted '
                         'in numpy/str rows, so rows add up to more than totalBytes'
                         % ', '.join(sorted(deep)) + (' (%d failed)' % failed if failed else ''))
        ordered = sorted(rows.values(), key=lambda r: (-r[2], -r[1], r[0]))
        if top is not None and len(ordered) > top:
            rest = ordered[top:]
            ordered = ordered[:top] + [['(other)', sum(r[1] for r in rest), sum(r[2] for r in rest)]]
        counts_by_name = {}
        for r in rows.values():
            counts_by_name[r[0]] = r[1]
        return ordered, total_count, total_bytes, notes, counts_by_name


_QUIET = None


def after_fork_in_child():
    """A fork while another thread ran a census: the child inherits the census's settings (no
    automatic collection, a long switch interval) but not the census; restore them."""
    q = _QUIET
    if q is not None:
        q.__exit__(None, None, None)


class _Quiet(object):
    """While a census runs: no automatic garbage collection, and the GIL held for longer.

    A collection during the walk would untrack tuples and dicts it already counted as tracked, and
    they would be counted again when reached as untracked referents; and with the default 5 ms
    switch interval other threads would change the heap under the walk (and share the CPU with it).
    Both are restored afterwards.
    """

    def __enter__(self):
        global _QUIET
        _QUIET = self
        self.gc_was_enabled = _gc_isenabled()
        if self.gc_was_enabled:
            _gc_disable()
        try:
            self.old = _getswitchinterval()
            _setswitchinterval(max(self.old, 1.0))
        except Exception:
            self.old = None
        return self

    def __exit__(self, *exc):
        global _QUIET
        _QUIET = None
        if self.old is not None:
            try:
                _setswitchinterval(self.old)
            except Exception:
                pass
        if self.gc_was_enabled:
            _gc_enable()
        return False


def walk_heap(visitor, collect=False, caller_frame=None, untracked=True):
    """gc.collect() if asked, then walk(gc.get_objects(), visitor), with the frames of running
    functions (and, since 3.11, copies of their locals) alive as roots. Returns (objects visited,
    duration ms, the roots: [(frame, locals copy)], for refs)."""
    import _thread
    frames = _util.thread_frames(_thread.get_ident(), caller_frame)
    copies = _util.locals_copies(frames)
    with _Quiet():
        t0 = _util.perf_ms()
        if collect:
            _collect()
        objs = _get_objects()
        total = walk(objs, visitor, untracked)
        del objs
        duration = _util.perf_ms() - t0
    del frames
    return total, duration, copies


def gather(collect, caller_frame=None, untracked=True):
    """Runs the walk with a CensusVisitor; returns (visitor, objects, collected, duration ms).
    untracked=False counts only gc.get_objects() (for bench/census.mjs: the cost of each part)."""
    visitor = CensusVisitor()
    total, duration, copies = walk_heap(visitor, collect, caller_frame, untracked)
    del copies
    return visitor, total, bool(collect), duration


def census(collect=False, top=30, caller_frame=None, untracked=True):
    """A CensusResult (see src/agents/protocol.ts) plus the count of every type, by name."""
    wall = _util.wall_ms()
    visitor, total, collected, duration = gather(collect, caller_frame, untracked)
    rows, total_count, total_bytes, notes, counts = visitor.result(top)
    result = {
        'wallMs': wall,
        'durationMs': round(duration, 3),
        'collected': collected,
        'objects': total_count,
        'totalBytes': total_bytes,
        'rows': rows,
        'notes': notes,
    }
    return result, counts
