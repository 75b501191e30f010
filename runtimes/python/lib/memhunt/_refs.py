"""Back-reference graphs (objgraph.show_backrefs parity): who keeps objects of a type alive.

Sample objects of the type are followed back through gc.get_referrers, breadth first, to roots:
a module's globals (drawn as the module, the edge labelled with the global's name), a class
(class attribute) or a frame (a local of a running function). Each level costs one pass over
the heap (gc.get_referrers of the whole frontier at once, rather than one pass per object).

Left out, so that the graph shows the program and not the search: the agent's own frames and
containers (the frontier, the samples, the list of matches), and gc.get_referrers' own arguments.
Untracked containers (a tuple of strings after a collection) are not seen as referrers: gc only
knows tracked objects.

Bounded (BUDGET_MS): the agent holds the program (the GIL) while it searches, and a heap of
millions of objects made a graph cost seconds (3 M floats in a list: 4.6 s, the program stopped).
The search for the type's objects stops after the budget of the agent's CPU time or at MAX_FOUND
objects of the type (newest first: the samples are then among the newest); the chains stop
following referrers (one pass over the heap per level) once the budget is spent, but still look
for a module global or a running function's local holding what they reached (a cheap look at the
modules' globals, not a pass over the heap). A step already begun (gc.get_objects, one
gc.get_referrers pass) is not interrupted: on a heap of 3 M tracked objects each takes
~0.1-0.3 s. The result says when and where the graph was cut (`cut`).
"""
import difflib
import gc
import os
import sys
import time

from . import _census, _pandas, _util

_get_referrers = gc.get_referrers
_get_referents = gc.get_referents
_FrameType = type(sys._getframe())
_ModuleType = type(sys)


def _a_cell():
    x = 1
    return (lambda: x).__closure__[0]


_CellType = type(_a_cell())

#: Referrers followed per object and nodes per graph: enough for the chains, small enough to read.
MAX_REFERRERS_PER_OBJECT = 8
MAX_NODES = 250

#: The agent's CPU time (ms) a graph may take, the program held meanwhile; MEMHUNT_REFS_BUDGET_MS
#: in the program's environment changes it (0: no limit). See the module's comment.
BUDGET_MS = 200
#: The share of it the search for the type's objects may take: the rest is the chains'.
SEARCH_SHARE = 0.6
#: The chains' own time, whatever the search took: at least this share of the budget (a DataFrame's
#: array is 7 levels from its holder; a search that took its 60% left them too little under load).
CHAIN_MIN_SHARE = 0.5
#: Objects of the type kept as candidates for the samples: the search stops there.
MAX_FOUND = 20000

try:
    _cpu_clock = time.thread_time
except AttributeError:  # pragma: no cover (3.7+ has it everywhere memhunt runs)
    _cpu_clock = time.perf_counter


def budget_ms():
    v = os.environ.get('MEMHUNT_REFS_BUDGET_MS')
    if v is None:
        return BUDGET_MS
    try:
        n = float(v)
    except ValueError:
        return BUDGET_MS
    return n if n > 0 else None


class _Budget(object):
    """The time a graph may take (the agent's thread CPU time: what it holds the program for),
    and where it was cut."""

    def __init__(self, ms):
        self.ms = ms
        self.t0 = _cpu_clock()
        self.examined = 0
        self.cut = None

    def spent(self):
        return (_cpu_clock() - self.t0) * 1000.0

    def over(self, ahead=0.0, share=1.0):
        return self.ms is not None and self.spent() + ahead >= self.ms * share

    def cut_at(self, stage, reason):
        if self.cut is None:
            self.cut = {'stage': stage, 'reason': reason}

    def result(self):
        if self.cut is None:
            return None
        out = dict(self.cut)
        out['afterMs'] = int(round(self.spent()))
        out['objectsExamined'] = int(self.examined)
        if self.ms is not None:
            out['budgetMs'] = int(round(self.ms))
        return out


class _FindVisitor(_census.CensusVisitor):
    """A census that also keeps every object whose type name matches."""

    def __init__(self, match):
        _census.CensusVisitor.__init__(self)
        self.match = match
        self.matching = set()
        self.found = []
        self.seen_types = set()
        self.views = []  # numpy arrays whose .base is another object: their base's referrers
        self.udicts = []  # untracked dicts: referrers gc.get_referrers cannot see (see _untracked_holders)

    def __call__(self, chunk, expand=True):
        types = list(map(type, chunk))
        try:
            present = set(types)
        except TypeError:  # a class whose metaclass defines __eq__ without __hash__
            types = list(map(_census.hashable_type, types))
            present = set(types)
        new = present - self.seen_types
        if new:
            self.seen_types |= new
            for t in new:
                try:
                    if self.match(t):
                        self.matching.add(t)
                except Exception:
                    pass
        from itertools import compress, repeat
        from operator import is_
        if not self.matching.isdisjoint(present):
            self.found.extend(compress(chunk, map(self.matching.__contains__, types)))
        if expand and dict in present:
            # Reached through a holder: untracked (a dict holding only untracked objects is not
            # tracked by gc, as an sklearn tree's __dict__ holding its Tree, ints and arrays).
            self.udicts.extend(compress(chunk, map(is_, types, repeat(dict))))
        return _census.CensusVisitor.__call__(self, chunk, expand)

    def _special(self, chunk, types):
        extra = _census.CensusVisitor._special(self, chunk, types)
        if self.ndarray_types:
            from itertools import compress
            for o in compress(chunk, map(self.ndarray_types.__contains__, types)):
                try:
                    if o.base is not None:
                        self.views.append(o)
                except Exception:
                    pass
        return extra


def _untracked_holders(udicts, picked):
    """{id(sample): [untracked dicts holding it]}. gc untracks a dict whose keys and values are all
    untracked (strings, numbers, numpy arrays, Cython objects without gc support such as sklearn's
    Tree): gc.get_referrers never returns it, and a Tree held by its classifier's __dict__ reached no
    root. Such a dict can hold only untracked objects, so it matters for the samples only (what holds
    the dict, its owner, is tracked and found by gc)."""
    ids = set(map(id, picked))
    out = {}
    values = dict.values
    for d in udicts:
        try:
            for v in values(d):
                if id(v) in ids:
                    out.setdefault(id(v), []).append(d)
        except Exception:
            pass
    return out


def _views_by_base(views):
    """{id(base): [views]}: a view holds its base through a reference gc cannot see (numpy arrays
    are not tracked), so gc.get_referrers(base) never finds it; a pandas block often holds a view
    (a frame made from a 2-D array holds its transpose) while the program's largest array is the
    base. The walk follows these as referrers, the edge labelled `base`."""
    out = {}
    for v in views:
        try:
            b = v.base
        except Exception:
            continue
        out.setdefault(id(b), []).append(v)
    return out


def _matcher(type_name):
    """A type matches by its census name (module.QualName, builtins bare), or, for a name without
    a dot, by its qualified name alone ("DataFrame", "Record"). Read through type's own
    descriptors: a metaclass's __getattr__ is never called."""
    def match(t):
        full = _util.type_name(t)
        if full == type_name:
            return True
        if '.' not in type_name:
            try:
                qual = type.__dict__['__qualname__'].__get__(t)
            except Exception:
                qual = None
            return qual == type_name
        return False
    return match


#: Types that hold or make up the objects of every program: when a program's own class grows too,
#: it is the one to follow (a leak of Record objects grows dict and str as well). The same list as
#: src/agents/heap.ts BUILTIN_TYPES.
_BUILTIN = frozenset((
    'dict', 'list', 'tuple', 'set', 'frozenset', 'str', 'bytes', 'bytearray', 'int', 'float', 'complex', 'bool',
    'function', 'cell', 'method', 'builtin_function_or_method', 'weakref', 'type', 'module', 'frame', 'code',
    'getset_descriptor', 'member_descriptor', 'method_descriptor', 'wrapper_descriptor', 'property', 'staticmethod',
    'classmethod', 'generator', 'coroutine', 'memoryview', 'slice', 'range', 'object', 'traceback', 'NoneType',
    'collections.deque', 'collections.OrderedDict', 'collections.defaultdict', 'weakref.ReferenceType', 'mappingproxy',
    'method-wrapper', 'types.SimpleNamespace',
))


#: Arrays hold the data of most library objects (an sklearn tree, a pandas block): a class that
#: grows with them is followed rather than the arrays, as for builtins; a leak of bare arrays (a list
#: of them) still picks numpy.ndarray, the only type that grows. src/agents/heap.ts DATA_TYPES.
_DATA = frozenset(('numpy.ndarray',))


#: A program's (or a library's) class is followed rather than a builtin that grew more when it
#: made at least this share of the new objects or of the new bytes: 300 new Record objects explain
#: 3000 new str and dict better than the str do, and a graph of "str" samples shows arbitrary
#: strings (the same rule as src/agents/heap.ts pickGrowingType).
OWN_MIN_COUNT_SHARE = 0.01
OWN_MIN_BYTES_SHARE = 0.1
#: Bytes alone (no new objects) count as growth from this much: a dict that resized by 16 bytes
#: made the automatic graph follow it on a flat program (src/agents/heap.ts, BYTES_GROWTH_MIN).
BYTES_GROWTH_MIN = 64 * 1024


def growth_score(count_delta, bytes_delta, count_total, bytes_total):
    """A type's share of the objects that appeared plus its share of the bytes that appeared
    (src/agents/heap.ts growthScore, README "Growth"): 0 to 2."""
    s = 0.0
    if count_delta > 0 and count_total > 0:
        s += float(count_delta) / count_total
    if bytes_delta > 0 and bytes_total > 0:
        s += float(bytes_delta) / bytes_total
    return s


def _fastest_growing(prev_counts):
    from ._errors import RequestError
    if prev_counts is None:
        raise RequestError('no earlier census to compare with: take a census first (memhunt snapshot, '
                           '--heap-every) or name a type')
    prev = prev_counts
    prev_bytes = _census.last_bytes()
    visitor, _, _, _ = _census.gather(False)
    rows = visitor.result(None)[0]
    del visitor
    # A type grew when it has more objects or more bytes: one array that grows in place of itself
    # (np.concatenate into the same name) keeps its count and is still the leak.
    deltas = []
    for name, n, b in rows:
        dc = n - prev.get(name, 0)
        db = b - prev_bytes.get(name, 0) if prev_bytes is not None else 0
        if dc > 0 or db >= BYTES_GROWTH_MIN:
            deltas.append((name, dc, db))
    if not deltas:
        raise RequestError('no type has more objects or bytes than at the previous census; name a type')
    count_total = sum(d[1] for d in deltas if d[1] > 0)
    bytes_total = sum(d[2] for d in deltas if d[2] > 0)
    best = None
    best_own = None
    best_data = None  # arrays, when no class grew enough (as src/agents/heap.ts pickWithReason)
    most_bytes = None  # (bytes, name): among builtins, the one that holds the growth in bytes
    for name, dc, db in deltas:
        score = growth_score(dc, db, count_total, bytes_total)
        key = (score, name)
        if best is None or key[0] > best[0] or (key[0] == best[0] and name < best[1]):
            best = key
        if most_bytes is None or db > most_bytes[0]:
            most_bytes = (db, name)
        enough = name not in _BUILTIN and (
            (count_total > 0 and float(max(dc, 0)) / count_total >= OWN_MIN_COUNT_SHARE)
            or (bytes_total > 0 and float(max(db, 0)) / bytes_total >= OWN_MIN_BYTES_SHARE))
        if enough and name in _DATA:
            if best_data is None or key[0] > best_data[0] or (key[0] == best_data[0] and name < best_data[1]):
                best_data = key
        elif enough and (best_own is None or key[0] > best_own[0] or (key[0] == best_own[0] and name < best_own[1])):
            best_own = key
    if best_own or best_data:
        return (best_own or best_data)[1]
    # Only builtins grew: the one holding at least half of the new bytes (a list of bytes objects,
    # not the weakrefs made beside it), else the highest score.
    if bytes_total > 0 and most_bytes[0] * 2 >= bytes_total:
        return most_bytes[1]
    return best[1]


def _node_bytes(obj):
    """sys.getsizeof, but a pandas object's own header only: its __sizeof__ is
    memory_usage(deep=True), which changes the object (see _pandas.py)."""
    if _census._deep_sizeof(type(obj)):
        try:
            return _census._OBJECT_SIZEOF(obj) + _census._PROBE_HEADER
        except Exception:
            return 0
    return _util.safe_sizeof(obj)


def _pandas_owns(obj):
    """The bytes of the buffers a pandas object holds (blocks, index, object columns' items), read
    as the census's note reads them (_pandas.buffer_bytes: no pandas code runs), or None. A frame's
    getsizeof is its ~56-byte header: a graph of DataFrames said "56 B" for each of 3 MiB."""
    try:
        by_type, failed = _pandas.buffer_bytes([obj])
    except Exception:
        return None
    if failed or not by_type:
        return None
    return int(sum(by_type.values()))


class _Graph(object):
    def __init__(self):
        self.nodes = []
        self.edges = []
        self.node_of = {}   # id(obj) -> node id
        self.keep = []      # the objects of the nodes, alive while the graph is built
        self.kind = {}
        self.edge_set = set()

    def add(self, obj, kind, label=None, type_name=None):
        key = id(obj)
        nid = self.node_of.get(key)
        if nid is not None:
            return nid, False
        nid = 'n%d' % len(self.nodes)
        self.node_of[key] = nid
        self.keep.append(obj)
        self.kind[nid] = kind
        pandas = _pandas.is_pandas(obj)
        if label is None and pandas:
            label = _pandas.label(obj)  # not repr(): a frame's repr is its table
        node = {
            'id': nid,
            'type': type_name or _util.type_name(type(obj)),
            'label': label if label is not None else _util.short_repr(obj),
            'kind': kind,
            'bytes': _node_bytes(obj),
        }
        if pandas:
            owns = _pandas_owns(obj)
            if owns is not None:
                node['ownsBytes'] = owns
        self.nodes.append(node)
        return nid, True

    def edge(self, src, dst, label):
        if (src, dst) in self.edge_set:
            return
        self.edge_set.add((src, dst))
        self.edges.append({'from': src, 'to': dst, 'label': label})


def _key_label(k):
    """A dict key as an edge label: a str key as itself (`CACHE`, which a path shows as
    `['CACHE']` or `.CACHE`), any other key as the subscript that reaches it (`[1]`, `[(2, 'a')]`,
    `[b'k']`): `_CACHE['1']` named an int key 1 as a str one."""
    if issubclass(type(k), str):
        return str.__str__(k)
    code = _key_code(k, 40)
    if code is None:
        code = _util.short_repr(k, 40)
    return '[%s]' % code


#: Key types whose repr is Python code and runs no user code (exact types only).
_CODE_TYPES = (int, float, complex, bool, type(None), str, bytes)


def _key_code(k, limit):
    """Python code for k when k is made of exact int/float/complex/bool/None/str/bytes and tuples
    of them, at most `limit` characters (a longer one is cut with '…'); None for any other key."""
    try:
        t = type(k)
        if t in _CODE_TYPES:
            if t is str or t is bytes:
                text = repr(k[:limit])
            else:
                text = repr(k)  # int.__repr__ of a huge int may raise (3.11+): caught below
        elif t is tuple:
            if len(k) > limit // 2:
                return None
            parts = []
            size = 2
            for x in k:
                p = _key_code(x, limit)
                if p is None:
                    return None
                parts.append(p)
                size += len(p) + 2
                if size > 4 * limit:
                    break
            text = '(%s%s)' % (', '.join(parts), ',' if len(parts) == 1 else '')
        else:
            return None
    except Exception:
        return None
    return text if len(text) <= limit else text[:limit - 1] + '\u2026'


def _edge_label(holder, target):
    """How holder refers to target: attribute name, dict key, list index, or ''."""
    try:
        t = type(holder)
        # The real type only (issubclass(type(x), ...), `is`): isinstance() asks a proxy's
        # __class__, and `t in (list, tuple)` calls a metaclass's __eq__.
        # The searches run in C (compress/map): a list of 3 M floats took 0.1 s a sample in Python.
        from itertools import compress, count, repeat
        from operator import is_
        if issubclass(t, dict):
            for k in compress(dict.keys(holder), map(is_, dict.values(holder), repeat(target))):
                return _key_label(k)
            if any(map(is_, dict.keys(holder), repeat(target))):
                return '(key)'
            return ''
        if issubclass(t, (list, tuple)):
            for i in compress(count(), map(is_, holder, repeat(target))):
                return '[%d]' % i
            return ''
        if issubclass(t, (set, frozenset)):
            return '(member)'
        if t is _FrameType:
            for k, v in holder.f_locals.items():
                if v is target:
                    return k
            return ''
        if t is _CellType:
            return 'cell_contents'
        if issubclass(t, type):
            for k, v in type.__dict__['__dict__'].__get__(holder).items():
                if v is target:
                    return k
            return ''
        try:
            d = object.__getattribute__(holder, '__dict__')
        except Exception:
            d = None
        if _pandas.is_pandas(holder):
            # Cython slots (a block's values, a manager's blocks and axes) and data attributes.
            for name in _pandas.DATA_ATTRS:
                v = _pandas.read_attr(holder, name)
                if v is target:
                    return name
                if type(v) in (tuple, list):
                    for i, x in enumerate(v):
                        if x is target:
                            return '%s[%d]' % (name, i)
        if type(d) is dict:
            if d is target:
                return '__dict__'
            for k, v in d.items():
                if v is target:
                    return _key_label(k)
        for k in type.__dict__['__mro__'].__get__(t):
            for name, desc in type.__dict__['__dict__'].__get__(k).items():
                if type(desc).__name__ == 'member_descriptor':
                    try:
                        if desc.__get__(holder, t) is target:
                            return name
                    except Exception:
                        pass
        for name in ('__self__', '__func__', '__wrapped__', '__closure__', '__defaults__',
                     '__globals__', 'f_back', 'gi_frame', 'cr_frame', '__objclass__'):
            try:
                if object.__getattribute__(holder, name) is target:
                    return name
            except Exception:
                pass
    except Exception:
        pass
    return ''


def _newest_first():
    """gc's objects, the most recently created first: gc.get_objects() lists the youngest
    generation first and, inside each generation, the oldest object first; a collection appends
    the survivors of a younger generation to the end of the older one. Untracked objects (str,
    numpy arrays) are then reached through their holders in that order."""
    try:
        young = []
        for g in (0, 1):
            part = gc.get_objects(g)
            part.reverse()
            young.extend(part)
            del part
        objs = gc.get_objects(2)
        objs.reverse()
        # In front of the oldest without copying them (a copy of 3 M references took 0.2 s).
        objs[:0] = young
        # young was in the youngest generation it lists: emptied, or it would hold them all.
        del young[:]
        del young
        return objs
    except Exception:
        objs = gc.get_objects()
        objs.reverse()
        return objs


def _object_bytes(o):
    """An object's size with the buffer it uses: numpy views count their base's bytes (nbytes), so
    a big view is as large as the big array it keeps alive; pandas objects count their own header
    (their __sizeof__ is deep)."""
    t = type(o)
    if _census._deep_sizeof(t):
        try:
            return _census._OBJECT_SIZEOF(o)
        except Exception:
            return 0
    n = _util.safe_sizeof(o)
    try:
        if type.__dict__['__module__'].__get__(t) == 'numpy' and type.__dict__['__name__'].__get__(t) == 'ndarray':
            nb = o.nbytes
            if isinstance(nb, int) and nb > n:
                n = nb
    except Exception:
        pass
    return n


def pick_samples(found, samples):
    """The samples to trace back, found being newest first:
    1. the largest, when sizes differ (what a leak of big arrays adds; equal sizes say nothing);
    2. one that has lived as long as half of them, among those at least the median size: what a
       leak holds. The newest are often what the program is building right now (an sklearn forest
       in the middle of fit(): all three samples were its trees, held by fit()'s frame, and the graph
       never showed the `history` list that keeps the fitted ones);
    3. the newest at least the median size (what a leak adds last; small ones are the module
       constants evenly spaced samples used to show: array(0.), array([1])).
    All three among the objects of the size class (a power of two) that holds most of the bytes,
    when that is not the class of the largest (0. below)."""
    if len(found) <= samples:
        return list(found)
    sizes = list(map(_object_bytes, found))
    # 0. Among the objects of the sizes (to a power of two) that hold most of their bytes, when the
    #    largest ones do not: a leak of a million small dicts was shown by the modules' namespaces
    #    (the largest dicts), held by their modules, and never by the list that kept the leak.
    by_class = {}
    for n in sizes:
        k = n.bit_length()
        by_class[k] = by_class.get(k, 0) + n
    heavy = max(by_class, key=lambda k: (by_class[k], k))
    if heavy != max(by_class):
        keep = [i for i, n in enumerate(sizes) if n.bit_length() == heavy]
        found = [found[i] for i in keep]
        sizes = [sizes[i] for i in keep]
        if len(found) <= samples:
            return found
    order = sorted(range(len(found)), key=sizes.__getitem__, reverse=True)  # stable: newest first among equals
    median = sizes[order[len(order) // 2]]
    chosen = []
    taken = set()

    def take(i):
        if i not in taken and len(chosen) < samples:
            chosen.append(i)
            taken.add(i)
    for i in order[:(samples + 1) // 2]:
        if sizes[i] > median:
            take(i)
    # When sizes differ, the others are at least half the largest: a leak of big arrays is shown by
    # big arrays, not by the small ones (array([-1, 1])) a library keeps beside them.
    floor = max(median, sizes[order[0]] // 2)
    big_enough = [i for i in range(len(found)) if sizes[i] >= floor]
    if big_enough:
        take(big_enough[len(big_enough) // 2])
    for i in big_enough:
        take(i)
    for i in order:
        take(i)
    return [found[i] for i in chosen]


def _search_stop(b, visitor, samples):
    """The walk's stop(): at MAX_FOUND objects of the type, or when the search's share of the
    budget is spent and it has found `samples` of them."""
    def stop(examined):
        b.examined = examined
        if len(visitor.found) >= MAX_FOUND:
            b.cut_at('search', 'objects')
            return True
        # By time only once it has samples: a search cut before it found any said "no object of
        # type float is alive" (and a graph of nothing says nothing).
        if b.over(share=SEARCH_SHARE) and len(visitor.found) >= samples:
            b.cut_at('search', 'time')
            return True
        return False
    return stop


def refs(type_name, samples, max_depth, prev_counts, budget=None):
    """A RefsResult (src/agents/protocol.ts). budget: ms of the agent's CPU time (None: BUDGET_MS
    or MEMHUNT_REFS_BUDGET_MS; 0: no limit)."""
    from ._errors import RequestError
    if type_name is None:
        type_name = _fastest_growing(prev_counts)
    type_name = type_name.strip()
    b = _Budget(budget_ms() if budget is None else (budget or None))
    # Garbage first: the newest objects of a type are often garbage awaiting a collection (pandas
    # makes some at every memory_usage()), which no root holds and which is never the leak. The
    # young generations only: they hold what was just made; a full collection of a heap of 3 M
    # objects took 0.4-1 s (a census collects fully before the automatic graph).
    gc.collect(1)
    objs = _newest_first()
    # Made after the list of objects, so its parts are not in it (no pass to take them out).
    visitor = _FindVisitor(_matcher(type_name))

    stop = _search_stop(b, visitor, samples)
    try:
        _census.walk_heap(visitor, objs=objs, stop=stop, drop=False)
    except _census.WalkCut:
        pass
    finally:
        del stop
        # It holds itself (it was in the youngest generation it lists): emptied now, or it would
        # keep every object alive, and be their holder in the graph, until the next collection.
        del objs[:]
        del objs
    own_ids = set(map(id, _census.agent_objects()))
    found = [o for o in visitor.found if id(o) not in own_ids]
    if not found:
        _, _, _, _, counts = visitor.result(None)
        # Only the program's types: the agent's own (its state, a census visitor) are never named.
        names = sorted(n for n in counts if not _util.is_agent_module_name(n))
        short = {}
        for n in names:
            short.setdefault(n.rsplit('.', 1)[-1], []).append(n)
        close = difflib.get_close_matches(type_name, names, n=6, cutoff=0.6)
        for s in difflib.get_close_matches(type_name.rsplit('.', 1)[-1], list(short), n=6, cutoff=0.6):
            close += [n for n in short[s] if n not in close]
        low = type_name.lower()
        close += [n for n in names if low in n.lower() and n not in close][:6]
        close = [n for n in close if n != type_name]
        raise RequestError('no object of type %s is alive; types that are: %s'
                           % (type_name, ', '.join(close[:8]) if close else
                              '(none with a similar name; memhunt heap lists them)'))
    matched = sorted({_util.type_name(t) for t in visitor.matching})
    resolved = matched[0] if len(matched) == 1 else type_name
    count = len(found)
    if b.cut is not None:
        # The search stopped: the latest census's count, when it has the type and more of it.
        del found[MAX_FOUND:]
        known = (prev_counts or {}).get(resolved)
        if isinstance(known, int) and known > count:
            count = known
            b.cut['countFrom'] = 'census'
        else:
            b.cut['countFrom'] = 'search'  # at least this many
    views = _views_by_base(visitor.views)
    udicts = visitor.udicts
    # Emptied before it goes: a visitor can outlive this call in a reference cycle (until the next
    # collection), and its lists would show up as holders of the samples.
    visitor.found = visitor.views = visitor.udicts = None
    del visitor
    picked = pick_samples(found, samples)
    del found
    holders = _untracked_holders(udicts, picked)
    del udicts
    return _backrefs(resolved, count, picked, max_depth, own_ids, views, holders, b)


def _is_ours(t):
    """An instance of one of the agent's classes (its state, a visitor of a census still alive)."""
    try:
        m = type.__dict__['__module__'].__get__(t)
    except Exception:
        return False
    return isinstance(m, str) and _util.is_agent_module_name(m) and m not in _util.AGENT_PACKAGES


def _root_holders(frontier_ids, module_of_dict, frame_of_copy):
    """The modules' globals dicts and the running functions' locals copies that hold an object of
    the frontier: the roots a pass over the heap would find first, found by reading only them."""
    from itertools import repeat
    from operator import contains
    out = []
    for m in list(module_of_dict.values()):
        try:
            d = object.__getattribute__(m, '__dict__')
            if any(map(contains, repeat(frontier_ids), map(id, dict.values(d)))):
                out.append(d)
        except Exception:
            pass
    for _, c in list(frame_of_copy.values()):
        try:
            if any(map(contains, repeat(frontier_ids), map(id, dict.values(c)))):
                out.append(c)
        except Exception:
            pass
    return out


def _global_holders(frontier, frontier_ids, module_of_dict, own_ids):
    """[(module, global name, value, [targets])]: the modules' globals that hold an object of the
    frontier through one container or instance (an attribute, `STORE.items`; an item of a global
    dict or list is found by _root_holders' caller a level later). Read without a pass over the
    heap: each global's referents (and its __dict__'s values, before 3.11), then those of the
    ones that hit."""
    from itertools import repeat
    from operator import contains
    skip = (_ModuleType, type, type(_a_cell), type(len))
    cands = []
    for m in list(module_of_dict.values()):
        try:
            d = object.__getattribute__(m, '__dict__')
            items = list(dict.items(d))
        except Exception:
            continue
        for k, v in items:
            tv = type(v)
            if tv in skip or issubclass(tv, type) or not gc.is_tracked(v) or id(v) in own_ids:
                continue
            # Not a big container: a pass over its items is what the budget saves.
            if (tv is dict or tv is list or tv is tuple or tv is set) and len(v) > 100000:
                continue
            cands.append((m, k, v))
    if not cands:
        return []

    def reach(v):
        refs_ = _get_referents(v)
        more = [dict.values(r) for r in refs_ if type(r) is dict and r is not v]
        for vals in more:
            refs_.extend(vals)
        return refs_
    from itertools import compress
    from operator import is_
    try:
        refs_ = _get_referents(*[c[2] for c in cands])
        if not any(map(contains, repeat(frontier_ids), map(id, refs_))):
            # Before 3.11 an instance's attributes are one step further, in its __dict__.
            dicts = [r for r in compress(refs_, map(is_, map(type, refs_), repeat(dict)))
                     if len(r) <= 100000]
            refs_ = None
            if not any(map(contains, repeat(frontier_ids), map(id, _get_referents(*dicts)))):
                return []
        refs_ = None
    except Exception:
        return []
    out = []
    for m, k, v in cands:
        try:
            targets = _targets_in(reach(v), frontier, frontier_ids)
        except Exception:
            continue
        if targets:
            out.append((m, k, v, targets))
    return out


def _big_targets(holder, frontier_ids, known):
    """The frontier objects a big exact list, tuple or dict holds, with their labels (index, key)
    into known, in one pass over it: a dict of 2 M records was read 4 times (its referents, then
    one identity pass per sample, then one per label). A frontier object that is a key: '(key)'."""
    from itertools import compress, count
    hid = id(holder)
    contains = frontier_ids.__contains__
    if type(holder) is dict:
        vals = list(dict.values(holder))
        at = list(compress(count(), map(contains, map(id, vals))))
        keys = list(dict.keys(holder)) if at else []
        out = []
        for i in at:
            o = vals[i]
            known.setdefault((hid, id(o)), _key_label(keys[i]))
            out.append(o)
        for k in compress(keys or dict.keys(holder), map(contains, map(id, keys or dict.keys(holder)))):
            known.setdefault((hid, id(k)), '(key)')
            out.append(k)
        return out
    at = list(compress(count(), map(contains, map(id, holder))))
    out = []
    for i in at:
        o = holder[i]
        known.setdefault((hid, id(o)), '[%d]' % i)
        out.append(o)
    return out


def _targets_in(refs_, frontier, frontier_ids):
    """The objects of the frontier among refs_ (a holder's referents), in C passes: a list of 3 M
    floats took 0.4 s a holder in a Python loop. A long holder and a short frontier: one identity
    pass per frontier object (no id() per referent)."""
    from itertools import compress, repeat
    from operator import is_
    if len(frontier) <= 16 and len(refs_) > 4096:
        return [o for o in frontier if any(map(is_, refs_, repeat(o)))]
    return list(compress(refs_, map(frontier_ids.__contains__, map(id, refs_))))


def _backrefs(type_name, count, picked, max_depth, own_ids=frozenset(), views_of=None, holders_of=None, budget=None):
    import _thread
    b = budget if budget is not None else _Budget(None)
    g = _Graph()
    views_of = views_of or {}
    holders_of = holders_of or {}
    # The view and holder lists are the agent's containers: never referrers.
    own_ids = set(own_ids)
    for m in (views_of, holders_of):
        own_ids.add(id(m))
        own_ids.update(map(id, m.values()))
    # Since 3.11 a running function's frame does not show its locals to gc; a copy of them does,
    # and stands for the frame.
    frames = _util.thread_frames(_thread.get_ident())
    frame_of_copy = {id(c): (f, c) for f, c in _util.locals_copies(frames)}
    del frames
    module_of_dict = {}
    for name, m in list(sys.modules.items()):
        if id(m) in own_ids:
            continue
        try:
            d = object.__getattribute__(m, '__dict__')
            module_of_dict[id(d)] = m
        except Exception:
            pass
    sample_ids = []
    for o in picked:
        nid, _ = g.add(o, 'sample')
        sample_ids.append(nid)
    frontier = list(picked)
    own = [picked, frontier, g.keep, g.nodes, module_of_dict, frame_of_copy]
    roots = set()
    depth = 0
    scan_ms = 0.0  # the latest pass over the heap: what the next one will cost

    known = {}  # (id(holder), id(target)) -> label, found with the targets of a big holder

    def label_of(r, o):
        label = known.get((id(r), id(o)))
        if label is not None:
            return label
        # An index in a long list is one more pass (60 ms in 3 M items): not once the time is spent.
        if b.over():
            tr = type(r)
            if (tr is list or tr is tuple or tr is dict) and len(r) > 100000:
                return ''
        return _edge_label(r, o)
    probe_only = False
    chains_from = b.spent()
    while frontier and depth < max_depth and len(g.nodes) < MAX_NODES:
        depth += 1
        frontier_ids = {id(o): g.node_of[id(o)] for o in frontier}
        own.append(frontier_ids)
        # The first level always passes over the heap (a graph of samples alone says nothing);
        # a later one when the budget allows it, else only the roots that hold the frontier.
        if depth > 1 and b.over(scan_ms) and (
                b.ms is None or b.spent() - chains_from + scan_ms >= b.ms * CHAIN_MIN_SHARE):
            probe_only = True
            referrers = _root_holders(frontier_ids, module_of_dict, frame_of_copy)
            # And a global's attribute or item one step away (a cache's `items`): with its module.
            placed = set()
            for r in referrers:
                placed.update(x for x in map(id, dict.values(r)) if x in frontier_ids)
            rest = [o for o in frontier if id(o) not in placed]
            for module, name, v, targets in _global_holders(rest, {id(o): frontier_ids[id(o)] for o in rest},
                                                            module_of_dict, own_ids) if rest else ():
                mid, _ = g.add(module, 'module', label=str(getattr(module, '__name__', '?')), type_name='module')
                roots.add(mid)
                vid, _ = g.add(v, 'object')
                g.edge(mid, vid, _key_label(name))
                for o in targets:
                    g.edge(vid, frontier_ids[id(o)], label_of(v, o))
        else:
            t0 = b.spent()
            referrers = _get_referrers(*frontier)
            scan_ms = b.spent() - t0
        referrers = [r for r in referrers
                     if not any(r is x for x in own) and id(r) not in own_ids and not _is_ours(type(r))]
        # Roots first, so a capped search still ends at a module, class or frame when one is there.
        # By the real type only: isinstance() asks a proxy's __class__, which may lie or raise.
        referrers.sort(key=lambda r: 0 if (id(r) in module_of_dict or id(r) in frame_of_copy
                                           or issubclass(type(r), (type, _ModuleType))
                                           or type(r) is _FrameType) else 1)
        own.append(referrers)
        nxt = []
        own.append(nxt)
        per_target = {}
        for r in referrers:
            if len(g.nodes) >= MAX_NODES:
                break
            if type(r) is _FrameType and _util.is_agent_frame(r):
                continue
            try:
                # A list or tuple read in place (no copy of its references), else its referents.
                tr = type(r)
                if (tr is list or tr is tuple or tr is dict) and len(r) > 4096:
                    targets = _big_targets(r, frontier_ids, known)
                else:
                    targets = _targets_in(r if (tr is list or tr is tuple) else _get_referents(r), frontier, frontier_ids)
            except Exception:
                continue
            if not targets:
                continue
            targets = [o for o in targets if per_target.get(id(o), 0) < MAX_REFERRERS_PER_OBJECT]
            if not targets:
                continue
            module = module_of_dict.get(id(r))
            if module is not None:
                name = getattr(module, '__name__', '?')
                nid, new = g.add(module, 'module', label=str(name), type_name='module')
                roots.add(nid)
                for o in targets:
                    per_target[id(o)] = per_target.get(id(o), 0) + 1
                    g.edge(nid, frontier_ids[id(o)], label_of(r, o))
                continue
            copy = frame_of_copy.get(id(r))
            if copy is not None and copy[1] is r:
                nid, new = g.add(copy[0], 'frame')
                roots.add(nid)
                for o in targets:
                    per_target[id(o)] = per_target.get(id(o), 0) + 1
                    g.edge(nid, frontier_ids[id(o)], label_of(r, o))
                continue
            if issubclass(type(r), type):
                kind = 'class'
            elif type(r) is _FrameType:
                kind = 'frame'
            elif type(r) is _ModuleType:
                kind = 'module'
            else:
                kind = 'object'
            nid, new = g.add(r, kind)
            if kind != 'object':
                roots.add(nid)
            for o in targets:
                per_target[id(o)] = per_target.get(id(o), 0) + 1
                g.edge(nid, frontier_ids[id(o)], label_of(r, o))
            if new and kind == 'object':
                nxt.append(r)
        for o in frontier:
            hidden = [(v, 'base') for v in views_of.get(id(o), ())[:MAX_REFERRERS_PER_OBJECT]]
            hidden += [(d, None) for d in holders_of.get(id(o), ())[:MAX_REFERRERS_PER_OBJECT]]
            for v, label in hidden:
                if len(g.nodes) >= MAX_NODES:
                    break
                nid, new = g.add(v, 'object')
                g.edge(nid, frontier_ids[id(o)], label if label is not None else _edge_label(v, o))
                if new:
                    nxt.append(v)
            hidden = None
        targets = None
        # By identity: list.remove compares with ==, and `referrers == picked` compares the
        # program's objects (numpy: "truth value of an array ... is ambiguous").
        own[:] = [x for x in own if x is not frontier_ids and x is not referrers and x is not nxt]
        del referrers, frontier_ids
        if probe_only:
            # What the look at the roots did not place is left where it was: the graph was cut.
            held = {e['to'] for e in g.edges if e['from'] in roots}
            if any(g.node_of[id(o)] not in held for o in frontier):
                b.cut_at('chains', 'time')
            nxt = []
        frontier = nxt
        own[1] = frontier
    _collapse_dicts(g)
    reached = _prune(g, sample_ids, roots)
    out = {
        'typeName': type_name,
        'count': count,
        'nodes': g.nodes,
        'edges': g.edges,
        'reachedRoot': reached,
    }
    cut = b.result()
    if cut is not None:
        out['cut'] = cut
    return out


def _collapse_dicts(g):
    """obj -[__dict__]-> dict -[key]-> x  becomes  obj -[key]-> x (and the same for a class's
    namespace): the attribute, not the dict that implements it, is what a reader looks for."""
    by_id = {n['id']: n for n in g.nodes}
    obj_of = dict(zip((n['id'] for n in g.nodes), g.keep))
    into = {}
    out = {}
    for e in g.edges:
        into.setdefault(e['to'], []).append(e)
        out.setdefault(e['from'], []).append(e)
    drop_nodes = set()
    for nid, node in by_id.items():
        d = obj_of.get(nid)
        if type(d) is not dict or node['kind'] != 'object':
            continue
        parents = into.get(nid, [])
        if len(parents) != 1:
            continue
        owner = obj_of.get(parents[0]['from'])
        try:
            if issubclass(type(owner), type):
                is_ns = False
                for x in _get_referents(owner):
                    if x is d:
                        is_ns = True
                        break
            else:
                is_ns = object.__getattribute__(owner, '__dict__') is d
        except Exception:
            is_ns = False
        if not is_ns:
            continue
        drop_nodes.add(nid)
        parents[0]['drop'] = True
        for e in out.get(nid, []):
            e['from'] = parents[0]['from']
    if drop_nodes:
        g.edges = [e for e in g.edges if not e.get('drop') and e['to'] not in drop_nodes]
        keep = [i for i, n in enumerate(g.nodes) if n['id'] not in drop_nodes]
        g.nodes = [g.nodes[i] for i in keep]
        g.keep = [g.keep[i] for i in keep]
    for e in g.edges:
        e.pop('drop', None)


def _prune(g, sample_ids, roots):
    """Keeps the nodes on a path from a sample to a root; for a sample that reached no root, keeps
    everything found above it. Returns whether every sample reached a root."""
    down = {}
    up = {}
    for e in g.edges:
        down.setdefault(e['from'], []).append(e['to'])
        up.setdefault(e['to'], []).append(e['from'])
    from_roots = set(r for r in roots if any(n['id'] == r for n in g.nodes))
    stack = list(from_roots)
    while stack:
        n = stack.pop()
        for m in down.get(n, ()):
            if m not in from_roots:
                from_roots.add(m)
                stack.append(m)
    keep = set()
    all_reached = True
    for s in sample_ids:
        above = {s}
        stack = [s]
        while stack:
            n = stack.pop()
            for m in up.get(n, ()):
                if m not in above:
                    above.add(m)
                    stack.append(m)
        if s in from_roots:
            keep |= above & from_roots
        else:
            all_reached = False
            keep |= above
    g.nodes = [n for n in g.nodes if n['id'] in keep]
    g.edges = [e for e in g.edges if e['from'] in keep and e['to'] in keep]
    return all_reached
