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
from itertools import chain, compress, count, filterfalse, islice, repeat
from operator import eq, is_, not_, or_, rshift

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


def _untracked_of(refs):
    """The untracked objects of refs (a list of references), and their reference counts as seen here."""
    untr = list(filterfalse(_is_tracked, refs))
    return untr, list(map(_getrefcount, untr))


def _untracked_refs(chunk):
    """Untracked referents of chunk, and their reference counts as seen here."""
    return _untracked_of(_get_referents(*chunk))


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
        # A slice of a big list (see _big_parts) must show the same count as gc.get_referents.
        holder3 = [float(_util._perf())]
        sliced = _untracked_of(holder3[0:1])[1]
        if (len(once) == 1 and len(twice) == 1 and twice[0] == once[0] + 1 and once[0] >= 2
                and sliced == once):
            return once[0]
    except Exception:
        pass
    return None


_BASE = _calibrate()


def _fresh(objs, seen):
    """The objects of objs whose id is not in seen, each once; adds their ids to seen.

    Cost: a few C passes over objs (~60 ns a reference here), whatever the number of distinct
    objects: most shared untracked objects are "hot" (None, small ints, interned attribute names)
    and show up thousands of times, so the set of a chunk's ids is small; only the references to
    new objects (a mask over ids) go into the id -> object dict. (Looking new objects up by their
    position with list.index was quadratic: 32 s for `[0] * 2_000_000`.)"""
    ids = list(map(rshift, map(id, objs), repeat(ID_SHIFT)))
    fresh = set(ids)
    fresh -= seen
    if not fresh:
        return ()
    seen |= fresh
    if len(fresh) == len(ids):
        return objs
    mask = list(map(fresh.__contains__, ids))
    byid = dict(zip(compress(ids, mask), compress(objs, mask)))
    return list(byid.values())


def _dedupe(objs, seen):
    """The untracked objects of objs not in seen (ids >> ID_SHIFT), each once; adds them to seen."""
    return list(_fresh(list(filterfalse(_is_tracked, objs)), seen))


#: A list or tuple with more items than this is read in slices of CHUNK references rather than
#: through one gc.get_referents call: the memory a census needs stays bounded by the chunk, not by
#: the longest list (`[0] * 20_000_000` would otherwise cost a 160 MB list of references, and the
#: ids of each, at once).
BIG = 4 * CHUNK


def _big_parts(chunk, dicts=False):
    """(chunk without its big lists and tuples, the big ones). Exact list and tuple only: their
    length and slices are C calls that run no user code. dicts: big exact dicts too (a walk that
    may stop: the 4 M keys and values of one dict were one part, visited before it could stop)."""
    types = list(map(type, chunk))
    # By identity (`list in types` would call a metaclass's __eq__).
    is_list = list(map(is_, types, repeat(list)))
    is_tuple = list(map(is_, types, repeat(tuple)))
    if dicts:
        is_list = list(map(or_, is_list, map(is_, types, repeat(dict))))
    if True not in is_list and True not in is_tuple:
        return chunk, ()
    mask = list(map(or_, is_list, is_tuple))
    cands = list(compress(chunk, mask))
    big_mask = list(map(BIG.__lt__, map(len, cands)))
    if True not in big_mask:
        return chunk, ()
    big = list(compress(cands, big_mask))
    bigset = set(map(id, big))
    keep = list(filterfalse(bigset.__contains__, map(id, chunk)))
    byid = dict(zip(map(id, chunk), chunk))
    return list(map(byid.__getitem__, keep)), big


def _slices(big):
    """Lists of references of the big containers, CHUNK at a time (what get_referents would give)."""
    for o in big:
        if type(o) is dict:
            # Its keys and values, CHUNK at a time, in one pass over the dict.
            items = iter(dict.items(o))
            while True:
                try:
                    part = list(chain.from_iterable(islice(items, CHUNK // 2)))
                except RuntimeError:  # the program changed it between two parts (the GIL let go)
                    break
                if not part:
                    break
                yield part
                part = None
            continue
        n = len(o)
        for i in range(0, n, CHUNK):
            yield o[i:i + CHUNK]


class WalkCut(Exception):
    """Raised by walk when its stop() said so (refs' time budget): the objects visited so far are
    in the visitor."""


def walk(objs, visit, untracked=True, stop=None):
    """Calls visit(chunk) for every reachable object (as described above), each object once.
    stop: None, or called after each visit; when it returns true the walk ends with WalkCut.

    visit(chunk) returns None, or (containers, extra[, item_arrays]): the objects of chunk whose
    referents may hold further untracked objects (untracked tuples and dicts), expanded in the next
    round; extra objects gc cannot see (numpy bases); and object arrays whose items gc cannot see
    either (pandas object columns). Extras and items go through the same reference-count split as
    referents: an item only its array holds needs no de-duplication. Returns the number of objects
    visited.

    Memory: the items of an object array are read CHUNK at a time, never as one list; most of them
    (the strings of an object column, each held by its array only) never enter `seen`. (All of a
    chunk's items at once, each id in `seen`: +218 MiB on 80 frames with a 20,000-row str column.)

    Cost: per distinct object, the visit and a set insert; per reference, a few C passes (no
    Python code runs per reference, and no object is created per reference beyond its id).
    """
    base = _BASE
    seen = set()
    total = 0
    work = []  # iterators of lists of references: extras and object arrays' items, CHUNK at a time
    # A walk that may stop (refs) visits each chunk's untracked objects right after the chunk
    # (below), so that the objects reached first are those the newest tracked ones hold.
    for i in range(0, len(objs), CHUNK) if stop is None or not untracked else ():
        chunk = objs[i:i + CHUNK]
        more = visit(chunk, False)
        total += len(chunk)
        if more:
            _queue_more(more, work)
        more = None
        if stop is not None and stop(total):
            raise WalkCut()
    if not untracked:
        return total
    # Chunks left to de-duplicate without the reference-count split: for referents, and apart for
    # the items of object arrays (mostly held once even after many chunks of shared referents).
    skips = {False: 0, True: 0}

    def expand(refs, items=False):
        """The untracked objects of refs (a list of references) not seen before."""
        if base is not None and not skips[items]:
            untr, rcs = _untracked_of(refs)
            once = list(map(eq, rcs, repeat(base)))
            new = list(compress(untr, once))
            shared = list(compress(untr, map(not_, once)))
            # When nearly every referent is shared (dicts of None and small ints), the split
            # costs more (~50 ns a referent) than it saves: de-duplicate the next chunks whole.
            if len(new) * 5 < len(untr):
                skips[items] = 16
            del once, untr, rcs
        else:
            skips[items] = max(0, skips[items] - 1)
            new = []
            shared = list(filterfalse(_is_tracked, refs))
        if shared:
            new.extend(_fresh(shared, seen))
        return new

    def visit_new(new, nxt):
        """Visits new (fresh untracked objects); their containers go to nxt, their extras to work."""
        nonlocal total
        total += len(new)
        more = visit(new, True)
        if more:
            if more[0]:
                nxt.extend(more[0])
            _queue_more(more, work)
        if stop is not None and stop(total):
            raise WalkCut()

    def drain(nxt):
        while work:
            try:
                refs, items = next(work[-1])
            except StopIteration:
                work.pop()
                continue
            new = expand(refs, items)
            del refs
            if new:
                visit_new(new, nxt)
            new = None

    def expand_all(level):
        nxt = []
        drain(nxt)
        while level:
            for i in range(0, len(level), CHUNK):
                chunk, big = _big_parts(level[i:i + CHUNK], stop is not None)
                parts = [_get_referents(*chunk)] if chunk else []
                del chunk
                parts = _chain_parts(parts, big)
                for refs in parts:
                    new = expand(refs)
                    del refs
                    if new:
                        visit_new(new, nxt)
                    new = None
                    drain(nxt)
            level = nxt
            nxt = []

    if stop is not None:
        # The same objects, each visited once, in another order.
        for i in range(0, len(objs), CHUNK):
            chunk = objs[i:i + CHUNK]
            more = visit(chunk, False)
            total += len(chunk)
            if more:
                _queue_more(more, work)
            more = None
            expand_all(chunk)
            chunk = None
            if stop(total):
                raise WalkCut()
        return total
    expand_all(objs)
    return total


def _queue_more(more, work):
    """Queues a visit's extras and object arrays (see walk) on work."""
    if more[1]:
        work.append(_extra_parts(more[1]))
    if len(more) > 2 and more[2]:
        work.append(_item_parts(more[2]))


def _extra_parts(extra):
    for i in range(0, len(extra), CHUNK):
        yield extra[i:i + CHUNK], False


def _item_parts(arrays):
    """The items of object arrays, as lists of CHUNK references (what gc.get_referents would give
    if arrays were containers: each item referred to by its array and the list only). ravel('K') of
    an array that owns its data is a view, not a copy; were it one, its items would show one
    reference more and go through `seen`: counted once all the same."""
    for a in arrays:
        try:
            flat = a.ravel(order='K')
            n = len(flat)
        except Exception:
            continue
        for i in range(0, n, CHUNK):
            try:
                part = flat[i:i + CHUNK].tolist()
            except Exception:
                break
            yield part, True
            part = None
        flat = None


def _chain_parts(parts, big):
    for p in parts:
        yield p
    if big:
        for p in _slices(big):
            yield p


_PLAIN = frozenset((tuple, list, dict, set, frozenset, str, bytes, bytearray))


def agent_objects():
    """The agent's own objects, which no census, growth table or reference chain may show: the
    memhunt modules (those under PACKAGE_DIR: a program's own module named memhunt is not ours),
    their namespaces, the functions and classes they define, the containers they hold, and every
    instance of a memhunt class they hold (the agent's state, its connection) with the values of
    its attributes (the previous census's counts, packed into a str and an array) and the items
    of those that are tuples. What the agent holds of the program's (a frame in pdb) is not ours.
    Returns a list (identity only: nothing here compares, hashes or tests a program's object)."""
    out = []
    pkg = _util.PACKAGE_DIR
    for name, m in list(_modules.items()):
        if not _util.is_agent_module_name(name):
            continue
        try:
            f = object.__getattribute__(m, '__dict__').get('__file__')
            if not (isinstance(f, str) and f.startswith(pkg)):
                continue
            d = object.__getattribute__(m, '__dict__')
        except Exception:
            continue
        out.append(m)
        out.append(d)
        for v in list(d.values()):
            t = type(v)
            if t in _PLAIN and t is not str:
                _own_value(v, out)
                continue
            try:
                vmod = type.__dict__['__module__'].__get__(t)
            except Exception:
                vmod = None
            if isinstance(vmod, str) and _util.is_agent_module_name(vmod):
                # An instance of one of our classes: our state.
                out.append(v)
                try:
                    vd = object.__getattribute__(v, '__dict__')
                except Exception:
                    vd = None
                if type(vd) is dict:
                    out.append(vd)
                    for w in list(vd.values()):
                        _own_value(w, out)
                continue
            if t is _FunctionType or issubclass(t, type):
                try:
                    own = object.__getattribute__(v, '__module__') == name
                except Exception:
                    own = False
                if own:
                    out.append(v)
    return out


_FunctionType = type(agent_objects)


def instance_parts(obj):
    """obj, its __dict__ and the containers its attributes are (not what they contain)."""
    out = [obj]
    try:
        d = object.__getattribute__(obj, '__dict__')
    except Exception:
        return out
    if type(d) is dict:
        out.append(d)
        for w in list(d.values()):
            if issubclass(type(w), (dict, set, list, frozenset, tuple)):
                out.append(w)
    return out


def _own_value(w, out):
    t = type(w)
    if t in _PLAIN or t.__name__ == 'array' and t.__module__ == 'array':
        if t is str and len(w) < 2:
            return  # '' and one-character strings are shared by the whole interpreter
        out.append(w)
        if t is tuple:
            for x in w:
                tx = type(x)
                if (tx is str and len(x) >= 2) or (tx.__name__ == 'array' and tx.__module__ == 'array'):
                    out.append(x)


#: id(unhashable class) -> (the class, its stand-in): see hashable_type.
_STANDINS = {}  # type: dict


def hashable_type(t):
    """t, or for a class that cannot be hashed (its metaclass defines __eq__ and no __hash__: hashing
    it raises) a plain class of the same module and name that stands for it in the census's
    counters. Its instances are then sized one by one, or as one plain instance."""
    try:
        hash(t)
        return t
    except Exception:
        pass
    got = _STANDINS.get(id(t))
    if got is not None and got[0] is t:
        return got[1]
    try:
        qual = type.__dict__['__qualname__'].__get__(t)
        mod = type.__dict__['__module__'].__get__(t)
    except Exception:
        qual, mod = '?', None
    standin = type(str(qual).rsplit('.', 1)[-1], (object,), {'__module__': mod if isinstance(mod, str) else '?'})
    standin.__qualname__ = str(qual)
    _STANDINS[id(t)] = (t, standin)
    return standin


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


def _deep_sizeof(t):
    """True when t's __sizeof__ is pandas' (PandasObject.__sizeof__ = memory_usage(deep=True))."""
    try:
        for k in _type_mro(t):
            f = _type_dict(k).get('__sizeof__')
            if f is not None:
                m = getattr(f, '__module__', None)
                return isinstance(m, str) and (m == 'pandas' or m.startswith('pandas.'))
    except Exception:
        pass
    return False


class _Probe(object):
    pass


#: What sys.getsizeof adds to __sizeof__ for an instance of a plain class (GC header, and since
#: 3.12 the pre-header of its dict and weakref pointers).
_PROBE_HEADER = _getsizeof(_Probe()) - _OBJECT_SIZEOF(_Probe())


def _sizes(objs):
    try:
        return list(map(_getsizeof, objs))
    except Exception:  # a user __sizeof__ that raises or returns a non-int
        return [_util.safe_sizeof(o) for o in objs]


#: Builtin types whose C __sizeof__ can be called directly (~30 ns) instead of through
#: sys.getsizeof (~100 ns: a special-method lookup and a bound method per object); getsizeof adds a
#: constant per type (the GC header), measured once on a sample.
_DIRECT = frozenset((str, int, tuple, list, dict, set, frozenset, bytes, bytearray))  # hashed: `in` by identity
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
        self.item_arrays = None     # object arrays found by _special in the chunk being visited
        self.shallow = set()        # types whose own __sizeof__ counts what they refer to (pandas)
        self.minus_bytes = Counter()  # type -> bytes of the agent's own objects, taken out
        np = _modules.get('numpy')
        self.ndarray = getattr(np, 'ndarray', None) if np is not None else None
        pd = _modules.get('pandas')
        self.pandas_classes = ()
        if pd is not None:
            try:
                self.pandas_classes = (pd.DataFrame, pd.Series)
            except Exception:
                pass

    def _classify(self, new_types, chunk, types, sample=None):
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
            if not fixed and _deep_sizeof(t):
                # pandas' __sizeof__ is memory_usage(deep=True): the buffers of its arrays and every
                # string of its object columns, which the census counts in their own rows too.
                # Counted here by their own header; the deep size goes into a note.
                if sample is None:
                    sample = dict(zip(types, chunk))
                try:
                    self.fixed[t] = _OBJECT_SIZEOF(sample[t]) + _PROBE_HEADER
                    self.shallow.add(t)
                    continue
                except Exception:
                    pass
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

    #: walk_heap runs native_walk (in C) for this class when the extension is there.
    NATIVE = True

    def restart(self):
        """Forgets what a failed walk counted (walk_heap then walks again in Python)."""
        self.__init__()

    def native_walk(self, nat, objs, untracked, skip):
        return native_walk(nat, objs, self, untracked, skip)

    def native_special_type(self, t):
        """More types to hand to native_special than self.special (for subclasses)."""
        return False

    def native_special(self, objs):
        """The objects of self.special's types and native_special_type's, in a batch; returns those
        _special handles."""
        return objs

    def __call__(self, chunk, expand=True):
        """Counts and sizes chunk; returns (containers to expand, extra objects) or None. The
        tracked objects (expand=False) are all expanded by walk() anyway."""
        types = list(map(type, chunk))
        try:
            here = Counter(types)
        except TypeError:  # a class whose metaclass defines __eq__ without __hash__
            types = list(map(hashable_type, types))
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
        arrays = None
        if self.special and not self.special.isdisjoint(here):
            self.item_arrays = []
            extra = self._special(chunk, types)
            arrays = self.item_arrays
            self.item_arrays = None
        if containers or extra or arrays:
            return containers or (), extra, arrays
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
                        # Object arrays hold references gc cannot see either (pandas object
                        # columns): walk reads their items a chunk at a time (see _item_parts).
                        self.item_arrays.append(o)
                except Exception:
                    pass
            elif t in self.pandas_types:
                self.pandas_objects.append(o)
        return extra

    def exclude(self, objs):
        """Takes the agent's own objects (agent_objects(), each reached once by the walk) out."""
        done = set()
        counts = self.counts
        removed = 0
        for o in objs:
            k = id(o)
            if k in done:
                continue
            done.add(k)
            t = type(o)
            if counts.get(t, 0) <= 0:
                continue
            counts[t] -= 1
            removed += 1
            size = self.fixed.get(t)
            self.minus_bytes[t] += size if size is not None else _util.safe_sizeof(o)
        return removed

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
        for t, b in self.minus_bytes.items():
            rows[name(t)][2] -= b
            total_bytes -= b
        moved = 0
        if self.pandas_objects:
            # A pandas object is sized by its blocks (issue 10): a leaking DataFrame cache ranked
            # 16th when its bytes were in the numpy.ndarray row and the frames counted their headers.
            # Each buffer moves once, from the row that counted it to the outermost holder's row;
            # never more than that row has (an array the walk did not reach keeps its bytes out).
            from . import _pandas
            try:
                to, frm, _failed = _pandas.buffer_moves(self.pandas_objects)
                ratio = 1.0
                for ht, b in frm.items():
                    row = rows.get(name(ht))
                    have = max(0, row[2]) if row is not None else 0
                    if b > have:
                        ratio = min(ratio, have / b)
                if ratio > 0 and all(name(t) in rows for t in to):
                    for ht, b in frm.items():
                        rows[name(ht)][2] -= int(b * ratio)
                        total_bytes -= int(b * ratio)
                    for t, b in to.items():
                        rows[name(t)][2] += int(b * ratio)
                        total_bytes += int(b * ratio)
                        moved += int(b * ratio)
            except Exception:
                moved = 0
        for r in rows.values():
            if r[2] < 0:
                # The agent's own objects are sized when taken out, after the walk: one that grew
                # meanwhile (a list the agent appended to) takes out more than was counted. In a
                # fork child this left a row below zero, memhunt refused every census of the worker
                # as malformed ("rows[172][2] must be >= 0"), and the worker never had one.
                total_bytes -= r[2]
                r[2] = 0
        for key in [k for k, r in rows.items() if r[1] <= 0]:
            # Only the agent's objects were of this type (a size that changed since the walk may
            # leave a few bytes: they go with the row).
            total_bytes -= rows.pop(key)[2]
        notes = []
        if self.arrays:
            notes.append('numpy: %d arrays; an array that owns its buffer is sized with it (nbytes); '
                         'views count their header only and keep their base counted' % self.arrays)
        if self.pandas_objects:
            # Read from their blocks and indexes, never with pandas' memory_usage(deep=True), which
            # fills a frame's _item_cache and builds its index's hash table (see _pandas.py).
            from . import _pandas
            by_type, failed = _pandas.buffer_bytes(self.pandas_objects)
            deep = {}
            for t, b in by_type.items():
                deep[name(t)] = deep.get(name(t), 0) + b
            if deep:
                held = ', '.join('%s %s' % (k, _util.format_bytes(b)) for k, b in sorted(deep.items()))
                counted = ('their arrays\' buffers (%s) are counted in these rows, each once, and taken out of '
                           'the numpy.ndarray rows; items of object columns stay in the str rows' % _util.format_bytes(moved)
                           if moved else 'they are counted once, in the numpy.ndarray and str rows')
                notes.append('pandas: buffers held by the live pandas objects (blocks and indexes, object columns '
                             'with their items; a buffer shared by several is given to the first; %d failed): %s; %s'
                             % (failed, held, counted))
        if self.shallow:
            notes.append('pandas objects (%s) are counted by their own header: their arrays and '
                         'strings are in their own rows' % ', '.join(sorted(name(t) for t in self.shallow)))
        ordered = sorted(rows.values(), key=lambda r: (-r[2], -r[1], r[0]))
        if top is not None and len(ordered) > top:
            rest = ordered[top:]
            ordered = ordered[:top] + [['(other)', sum(r[1] for r in rest), sum(r[2] for r in rest)]]
        counts_by_name = {}
        bytes_by_name = {}
        for r in rows.values():
            counts_by_name[r[0]] = r[1]
            bytes_by_name[r[0]] = r[2]
        self.bytes_by_name = bytes_by_name
        return ordered, total_count, total_bytes, notes, counts_by_name


_QUIET = None
_LAST_QUIET = None
#: {type name: bytes} of the latest census, packed (see _util.pack_counts): with the counts the
#: agent keeps, what `refs` without a type ranks growth by (counts and bytes).
_LAST_BYTES = None


def last_bytes():
    return _util.unpack_counts(_LAST_BYTES)


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
        global _QUIET, _LAST_QUIET
        _QUIET = None
        # Kept, as module state (agent_objects() finds it), until the next census: created before
        # gc.get_objects(), it was counted, and the census takes it out.
        _LAST_QUIET = self
        if self.old is not None:
            try:
                _setswitchinterval(self.old)
            except Exception:
                pass
        if self.gc_was_enabled:
            _gc_enable()
        return False


def walk_heap(visitor, collect=False, caller_frame=None, untracked=True, objs=None, native=True, stop=None,
              drop=True):
    """gc.collect() if asked, then walk(gc.get_objects(), visitor), with the frames of running
    functions (and, since 3.11, copies of their locals) alive as roots. Returns (objects visited,
    duration ms, the roots: [(frame, locals copy)], for refs). stop: see walk (the Python walk
    only: a visitor with a stop is never walked in C). drop=False: the visitor was made after objs
    (its parts are not in it), no pass over objs to take them out."""
    import _thread
    global _LAST_QUIET
    _LAST_QUIET = None  # the previous census's, gone before this one counts
    frames = _util.thread_frames(_thread.get_ident(), caller_frame)
    copies = _util.locals_copies(frames)
    with _Quiet():
        t0 = _util.perf_ms()
        if collect:
            _collect()
        if objs is None:
            objs = _get_objects()
        # In C for the visitors that say they can (their class sets NATIVE; not their subclasses).
        nat = _native_mod() if native and stop is None and type(visitor).__dict__.get('NATIVE') else None
        total = None
        if nat is not None:
            # The visitor's parts are skipped by identity in C (as _drop takes them out).
            try:
                total = visitor.native_walk(nat, objs, untracked, instance_parts(visitor))
            except Exception as e:
                # Never a failed census because of the C walk: the Python walk counts the same
                # objects, from a fresh visitor; the C helpers stay off in this process and the
                # census's notes say why (native_note).
                from . import _native
                _native.failed('its C walk failed (%s: %s)' % (type(e).__name__, e))
                visitor.restart()
                total = None
        if total is None:
            if drop:
                _drop(objs, instance_parts(visitor))
            try:
                total = walk(objs, visitor, untracked, stop)
            finally:
                del objs
        duration = _util.perf_ms() - t0
    del frames
    return total, duration, copies


def native_note():
    """[one line] when the C helpers could not be built or loaded here (not when turned off)."""
    from . import _native
    if _native.get() is None and _native.enabled() and not _native._off:
        return ['the census ran its pure-Python walk (slower): the C helpers are unavailable here (%s)' % _native.why()]
    return []


def _native_mod():
    from . import _native
    return _native.get()


def native_walk(nat, objs, visitor, untracked=True, skip=None, collect_min=0, collect=None):
    """walk(objs, visitor, untracked) for a CensusVisitor, in C (memhunt_heap.c): the same objects,
    counts and sizes. The census decides each type's sizing once (classify), handles numpy and
    pandas objects itself (special), and the counts land in the visitor as the Python walk leaves
    them. Returns the number of objects visited."""
    fixed = visitor.fixed
    header = visitor.header

    def classify(t, o):
        key = hashable_type(t)
        if key not in visitor.known:
            visitor._classify((key,), None, None, {key: o})
        special = key in visitor.special or visitor.native_special_type(t)
        size = fixed.get(key)
        if size is not None:
            return 0, size, None, special
        h = header.get(key)
        if h is not None:
            return 1, h, t.__sizeof__, special
        return 2, 0, None, special

    def special(objs_):
        objs_ = visitor.native_special(objs_)
        if not objs_:
            return None, None
        visitor.item_arrays = []
        extra = visitor._special(objs_, list(map(type, objs_)))
        arrays = visitor.item_arrays
        visitor.item_arrays = None
        return (extra or None), ((part for part, _ in _item_parts(arrays)) if arrays else None)

    total, rows = nat.census_walk(objs, bool(untracked), classify, special, _getsizeof, _util.safe_sizeof, skip,
                                  collect_min, collect)
    counts = visitor.counts
    var_bytes = visitor.var_bytes
    for t, n, b in rows:
        key = hashable_type(t)
        counts[key] += n
        if key not in fixed:
            var_bytes[key] += b
    return total


def _drop(objs, parts):
    """Removes parts (by identity) from objs, in place.

    The visitor was created before gc.get_objects(), so its containers are in the list, and the
    walk would follow what they hold by the time it reaches them: program objects the visitor kept
    during the walk (the arrays and bytes --duplicates keeps, the views --largest keeps). An
    untracked object first visited through the reference-count split (never put in `seen`) was then
    visited a second time through the visitor's list: `--largest 6 --duplicates` listed
    `VALUES, ARR, ARR, RAW, RAW`, and the census counted both twice. Finding the positions is one C
    pass over objs; no copy of the list is made."""
    ids = set(map(id, parts))
    at = list(compress(count(), map(ids.__contains__, map(id, objs))))
    for i in reversed(at):
        del objs[i]


def gather(collect, caller_frame=None, untracked=True):
    """Runs the walk with a CensusVisitor; returns (visitor, objects, collected, duration ms).
    untracked=False counts only gc.get_objects() (for bench/census.mjs: the cost of each part)."""
    visitor = CensusVisitor()
    total, duration, copies = walk_heap(visitor, collect, caller_frame, untracked)
    del copies
    # The agent's own objects were counted too (the visitor's were left out of the walk: _drop).
    own = agent_objects()
    total -= visitor.exclude(own)
    del own
    return visitor, total, bool(collect), duration


def census(collect=False, top=30, caller_frame=None, untracked=True):
    """A CensusResult (see src/agents/protocol.ts) plus the count of every type, by name."""
    wall = _util.wall_ms()
    visitor, total, collected, duration = gather(collect, caller_frame, untracked)
    rows, total_count, total_bytes, notes, counts = visitor.result(top)
    global _LAST_BYTES
    _LAST_BYTES = None
    _LAST_BYTES = _util.pack_counts(visitor.bytes_by_name)
    notes = notes + native_note()
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
