"""The largest objects and the same data held twice (README "Largest objects and duplicates").

Both ride on the census's walk (a CensusVisitor subclass): the census's counts come out the same,
and a census asked for neither costs what it always did (this module is not even imported).

Largest: the N objects that own the most memory. What an object owns: a numpy array its own buffer
(nbytes when it owns its data; a view owns its header only), a pandas DataFrame or Series the
buffers of its blocks (each buffer counted for the first frame that holds it, not again for a
column Series that views it), bytes/str/bytearray their size, a list/dict/set its own storage
(not its items). Each comes with one short chain from a root (module global, running frame,
class), found with the back-reference search of `memhunt refs` (_refs._backrefs).

Duplicates: objects whose data is at least min_bytes, grouped when their data are equal:
  - raw: the bytes of bytes/bytearray/array.array/ASCII str, the values of a numpy array in C
    order (whatever its strides), a list or tuple of floats (as float64) or ints (as int64);
    equal raw data is "identical" (a bytes of an array is its data);
  - converted: numeric data of the same length whose values are equal once the wider is cast to
    the narrower dtype (a float32 copy of a float64 array), or an int array to a float one.
Views of one buffer (numpy views, memoryviews) are never duplicates: they are listed as sharing
memory with the group member whose buffer they use.

Cost (bench/duplicates.mjs, BENCHMARKS.md): data whose length no other candidate has is never
read. Candidates of one length are bucketed by a blake2b hash of 32 samples of 4 KiB spread over
their data (the length included): different data almost always differ there, and is then read no
further. Members of a bucket are confirmed by comparing every byte with the bucket's first member,
64 KiB at a time (the pieces are memoryviews of the buffers; only non-contiguous arrays, lists and
conversions make a copy, of one piece). A full blake2b over the data was measured at ~1.2 s per
GiB on this machine, a compare at ~0.1 s: the compare is the full read, the sample hash the index.
The sample hash is taken again after the compare: an object whose samples changed meanwhile is
reported as changed, never grouped.

Identity only: no program object is compared with ==, hashed, tested for truth or asked
isinstance (type(x) is ..., issubclass(type(x), ...)); numpy and pandas are called only through
their own attributes (nbytes, base, flat, astype, _mgr).
"""
try:
    # Not hashlib: importing it loads OpenSSL's libcrypto, +3.6 MiB of RSS in the program at the
    # first census (drawn as the program's). _blake2 is built in and costs ~60 KiB.
    from _blake2 import blake2b as _blake2b  # type: ignore[import]
except ImportError:  # pragma: no cover (a Python built without it)
    from hashlib import blake2b as _blake2b
import heapq
import sys
from array import array
from itertools import compress, repeat
from operator import is_, le

from . import _census, _util

_getsizeof = sys.getsizeof
_modules = sys.modules

SAMPLES = 32
SAMPLE_BYTES = 4096
PIECE_BYTES = 1 << 16
NUMPY_PIECE_BYTES = 1 << 20
#: Chains followed per report: largest objects plus group members; each level is a pass over the heap.
CHAIN_DEPTH = 10
MAX_CHAINS = 60
_FLOAT_SIZE = _getsizeof(0.5)
_BUFFER_TYPES = (bytes, bytearray, array)

# ------------------------------------------------------------------ what a container holds

#: Items a container's "holds" figure counts: numbers and strings (their size), and containers of
#: them (recursively, to HOLDS_SAMPLES' depth). Other objects are not counted: they are listed on
#: their own (a DataFrame, an array) or are the program's.
_HOLDS_LEAVES = frozenset((float, int, complex, str, bytes, bytearray))
_HOLDS_CONTAINERS = frozenset((list, tuple, dict, set, frozenset))
#: Items looked at per level (evenly spaced in a list or tuple, the first ones of a dict or set):
#: at most 64 x 16 x 8 per object, whatever its length (a list of 8 M floats costs as one of 64).
HOLDS_SAMPLES = (64, 16, 8)
_getrc = sys.getrefcount


def _sampled(c, k):
    """Up to k items of c with their reference counts, measured the same way for every item."""
    out = []
    if type(c) in (list, tuple):
        n = len(c)
        step = max(1, n // k)
        for i in range(0, n, step):
            x = c[i]
            out.append((x, _getrc(x)))
            if len(out) >= k:
                break
    else:
        for x in c:
            out.append((x, _getrc(x)))
            if len(out) >= k:
                break
    return out


def _exclusive_rc():
    """The count _sampled sees for an item that only its container references."""
    fresh = [float(len(HOLDS_SAMPLES)) + 0.5]
    return _sampled(fresh, 1)[0][1]


_EXCLUSIVE = _exclusive_rc()


def holds_bytes(o, depth=0):
    """About how much memory o holds: its own storage plus the numbers, strings and containers of
    them that only it references (a shared or interned one is not its to free), estimated from
    samples (HOLDS_SAMPLES) and scaled to its length. A list of 20,000 lists of floats owns 156 KiB
    of storage and holds 46 MiB: --largest showed the first alone."""
    size = _getsizeof(o)
    if depth >= len(HOLDS_SAMPLES):
        return size
    parts = (o.keys(), o.values()) if type(o) is dict else (o,)
    for part in parts:
        n = len(part)
        if n == 0:
            continue
        got = _sampled(part, HOLDS_SAMPLES[depth])
        sub = 0
        for x, rc in got:
            if rc > _EXCLUSIVE:
                continue
            t = type(x)
            if t in _HOLDS_LEAVES:
                sub += _getsizeof(x)
            elif t in _HOLDS_CONTAINERS:
                sub += holds_bytes(x, depth + 1)
        size += sub * n // len(got) if got else 0
    return size


class _NotNumbers(Exception):
    """A list or tuple that holds something other than exact floats (or ints) is not numeric data."""


class _Cand(object):
    """A duplicate candidate: the object and how to read its data."""
    __slots__ = ('obj', 'kind', 'length', 'itemsize', 'count', 'dtype', 'code', 'owned', 'type_name',
                 'label', 'mv', 'sample', 'group', 'relation', 'holder', 'suffix', 'index', 'data')

    def __init__(self, obj, kind, length, itemsize, owned):
        self.obj = obj
        self.kind = kind          # 'buf', 'arr', 'list', 'ascii', 'text'
        self.length = length      # units of the raw stream: bytes, or characters for 'text'
        self.itemsize = itemsize
        self.count = length // itemsize if itemsize else length
        self.dtype = None
        self.code = None
        self.owned = owned
        self.type_name = _util.type_name(type(obj))
        self.label = ''
        self.mv = None
        self.sample = None
        self.group = None
        self.relation = 'identical'
        self.holder = obj         # whose chain names it (a DataFrame for its block)
        self.suffix = ''
        self.index = -1
        self.data = obj           # what is read: obj, or a pandas block's values over all of obj


class LargeVisitor(_census.CensusVisitor):
    """A census that also keeps the largest objects and the duplicate candidates."""

    def __init__(self, largest, dup_min):
        _census.CensusVisitor.__init__(self)
        self.largest_n = largest or 0
        # Kept: a margin above N, since pandas blocks are folded into their frames afterwards.
        self.keep_n = self.largest_n * 2 + 8 if largest else 0
        self.dup_min = dup_min
        self.top = []       # min-heap of (bytes, seq, obj)
        self.seq = 0
        self.dups = []      # (obj, size)
        self.views = []     # numpy views and memoryviews of >= dup_min bytes
        self.pandas_seen = []
        self.view_types = {memoryview}
        self.var_types = set()
        self.known_seen = -1
        self.native_short = False

    #: The C walk (census_walk) hands back every object sized one by one that reaches this many
    #: bytes (or dup_min when only duplicates are asked): the largest N are among them unless the
    #: heap has fewer than keep_n such objects (census() then walks again in Python).
    NATIVE = True
    LARGE_FLOOR = 4096

    def restart(self):
        self.__init__(self.largest_n, self.dup_min)

    def native_walk(self, nat, objs, untracked, skip):
        floor = self.dup_min if self.dup_min is not None else 1 << 62
        if self.largest_n:
            floor = min(floor, self.LARGE_FLOOR)
        got = []
        total = _census.native_walk(nat, objs, self, untracked, skip, floor, got)
        self.native_short = bool(self.largest_n) and len(got) < self.keep_n
        dmin = self.dup_min
        top = self.top
        for o, n in got:
            if self.largest_n:
                self.seq += 1
                if len(top) < self.keep_n:
                    heapq.heappush(top, (n, self.seq, o))
                elif n > top[0][0]:
                    heapq.heapreplace(top, (n, self.seq, o))
            if dmin is not None and n >= dmin:
                self.dups.append(o)
        del got
        return total

    def native_special_type(self, t):
        return t is memoryview and self.dup_min is not None

    def native_special(self, objs):
        """Keeps the views (numpy views, memoryviews of >= dup_min bytes) and pandas objects that
        __call__ keeps; returns the objects the census handles (all but the memoryviews)."""
        rest = []
        dmin = self.dup_min
        for o in objs:
            t = type(o)
            if t is memoryview:
                try:
                    if o.nbytes >= dmin:
                        self.views.append(o)
                except Exception:
                    pass
                continue
            rest.append(o)
            if t in self.pandas_types:
                self.pandas_seen.append(o)
            elif dmin is not None and t in self.ndarray_types:
                try:
                    if o.base is not None and o.nbytes >= dmin:
                        self.views.append(o)
                except Exception:
                    pass
        return rest

    def _threshold(self):
        t = None
        if self.largest_n:
            t = self.top[0][0] if len(self.top) >= self.keep_n else 0
        if self.dup_min is not None:
            t = self.dup_min if t is None else min(t, self.dup_min)
        return t if t is not None else 1 << 62

    def __call__(self, chunk, expand=True):
        more = _census.CensusVisitor.__call__(self, chunk, expand)
        types = list(map(type, chunk))
        if len(self.known) != self.known_seen:
            # Types whose instances may be large: not of a fixed size (class instances, floats),
            # and not pandas (its __sizeof__ is memory_usage(deep=True), sized by blocks later).
            self.known_seen = len(self.known)
            self.var_types = self.known - set(self.fixed) - self.pandas_types
        try:
            keep = list(map(self.var_types.__contains__, types))
        except TypeError:  # a class whose metaclass defines __eq__ without __hash__
            types = list(map(_census.hashable_type, types))
            keep = list(map(self.var_types.__contains__, types))
        if self.pandas_types:
            pd_mask = list(map(self.pandas_types.__contains__, types))
            if True in pd_mask:
                self.pandas_seen.extend(compress(chunk, pd_mask))
        objs = list(compress(chunk, keep))
        if not objs:
            return more
        sizes = _census._sizes(objs)
        thr = self._threshold()
        # Only the objects above the threshold reach Python code (one C pass selects them).
        big = list(compress(zip(objs, sizes), map(le, repeat(thr), sizes)))
        for o, n in big:
            if n < thr:
                continue
            if self.largest_n:
                self.seq += 1
                if len(self.top) < self.keep_n:
                    heapq.heappush(self.top, (n, self.seq, o))
                elif n > self.top[0][0]:
                    heapq.heapreplace(self.top, (n, self.seq, o))
            if self.dup_min is not None and n >= self.dup_min:
                self.dups.append(o)
            thr = self._threshold()
        del big
        if self.dup_min is not None:
            # Views own no buffer (getsizeof is their header): found by the memory they show.
            vt = self.view_types
            if len(vt) != len(self.ndarray_types) + 1:
                vt = self.view_types = set(self.ndarray_types) | {memoryview}
            mask = list(map(vt.__contains__, types))
            if True in mask:
                for o, t in zip(compress(chunk, mask), compress(types, mask)):
                    try:
                        if t is memoryview:
                            if o.nbytes >= self.dup_min:
                                self.views.append(o)
                        elif o.base is not None and o.nbytes >= self.dup_min:
                            self.views.append(o)
                    except Exception:
                        pass
        return more


# ------------------------------------------------------------------------------ describing


def _root_buffer(o):
    """The object whose memory a numpy view or memoryview uses (base of base ...)."""
    seen = 0
    while seen < 64:
        seen += 1
        t = type(o)
        try:
            if t is memoryview:
                o = o.obj
                continue
            b = getattr(o, 'base', None) if _is_ndarray(o) else None
        except Exception:
            return o
        if b is None:
            return o
        o = b
    return o


def _is_ndarray(o):
    np = _modules.get('numpy')
    return np is not None and issubclass(type(o), np.ndarray)


def _array_label(a):
    try:
        return '%s %s' % (a.dtype, 'x'.join(str(n) for n in a.shape) or 'scalar')
    except Exception:
        return ''


def _label(o):
    t = type(o)
    try:
        if _is_ndarray(o):
            return _array_label(o)
        if t is str:
            return 'str, %d characters' % len(o)
        if t in (bytes, bytearray):
            return '%s, %s' % (t.__name__, _util.format_bytes(len(o)))
        if t is array:
            return "array('%s'), %d items" % (o.typecode, len(o))
        if t is memoryview:
            return 'memoryview, %s' % _util.format_bytes(o.nbytes)
        if t in (list, tuple, dict, set, frozenset):
            return _util.short_repr(o, 60)
        pd = _modules.get('pandas')
        if pd is not None:
            if issubclass(t, pd.DataFrame):
                return 'DataFrame %d rows x %d columns' % o.shape
            if issubclass(t, pd.Series):
                return 'Series %d rows, %s' % (len(o), o.dtype)
    except Exception:
        pass
    return _util.short_repr(o, 60)


def _pandas_blocks(o):
    """[(root buffer, column names)] of a DataFrame or Series, by pandas' own attributes."""
    out = []
    try:
        mgr = object.__getattribute__(o, '_mgr')
        blocks = mgr.blocks
        names = None
        try:
            cols = o.columns
            names = [str(c) for c in list(cols)]
        except Exception:
            names = None
        for blk in blocks:
            v = blk.values
            if not _is_ndarray(v):
                continue
            cols = ''
            if names is not None:
                try:
                    locs = [int(i) for i in blk.mgr_locs.as_array]
                    cols = ', '.join(repr(names[i]) for i in locs[:4]) + (', ...' if len(locs) > 4 else '')
                except Exception:
                    cols = ''
            out.append((_root_buffer(v), cols, v))
    except Exception:
        pass
    return out


# ------------------------------------------------------------------------------ reading data


def _candidate(o, dup_min, np):
    """A _Cand for o, or None when its data cannot be compared (object arrays, dicts, ...)."""
    t = type(o)
    try:
        if t is bytes or t is bytearray:
            c = _Cand(o, 'buf', len(o), 1, _getsizeof(o))
            c.mv = memoryview(o)
            return c
        if t is array:
            c = _Cand(o, 'buf', len(o) * o.itemsize, o.itemsize, _getsizeof(o))
            c.mv = memoryview(o).cast('B')
            return c
        if t is str:
            if o.isascii():
                return _Cand(o, 'ascii', len(o), 1, _getsizeof(o))
            return _Cand(o, 'text', len(o), 1, _getsizeof(o))
        if t is list or t is tuple:
            n = len(o)
            if n * 8 < dup_min or n == 0:
                return None
            first = type(o[0])
            if first is float:
                code = 'd'
            elif first is int:
                code = 'q'
            else:
                return None
            c = _Cand(o, 'list', n * 8, 8, _getsizeof(o))
            c.code = code
            return c
        if np is not None and issubclass(t, np.ndarray):
            if o.base is not None or o.dtype.hasobject:
                return None
            isz = o.dtype.itemsize
            c = _Cand(o, 'arr', o.nbytes, isz, o.nbytes)
            c.dtype = o.dtype
            if o.flags.c_contiguous:
                c.mv = o.reshape(-1).view(np.uint8)
            return c
    except Exception:
        return None
    return None


def _raw(c, lo, hi):
    """Units [lo, hi) of c's raw stream, as a bytes-like object (no copy for buffers)."""
    kind = c.kind
    if c.mv is not None:
        return c.mv[lo:hi]
    if kind == 'ascii':
        return c.obj[lo:hi].encode('latin-1')
    if kind == 'text':
        return c.obj[lo:hi].encode('utf-8', 'surrogatepass')
    isz = c.itemsize
    e0 = lo // isz
    e1 = -(-hi // isz)
    if kind == 'list':
        part = c.obj[e0:e1]
        want = float if c.code == 'd' else int
        if not all(map(is_, map(type, part), repeat(want))):
            raise _NotNumbers()
        try:
            m = memoryview(array(c.code, part)).cast('B')
        except OverflowError:
            raise _NotNumbers()
    else:  # a non-contiguous array: a copy of this piece only
        np = _modules['numpy']
        m = _strided(c.data, e0, e1).view(np.uint8)
    off = lo - e0 * isz
    return m[off:off + (hi - lo)]


#: A block of whole rows is copied at once when its rows are at most this long (numpy copies a
#: strided block with its own loops; a.flat[i:j] gathers element by element: 5x slower on a
#: Fortran-order array here).
ROW_BYTES_MAX = 4 << 20


def _strided(a, e0, e1):
    """Elements [e0, e1) of a non-contiguous array in C order, as a new 1-D array (this piece only)."""
    shape = a.shape
    if len(shape) >= 2:
        row = 1
        for n in shape[1:]:
            row *= n
        if 0 < row and row * a.itemsize <= ROW_BYTES_MAX:
            r0 = e0 // row
            r1 = -(-e1 // row)
            block = a[r0:r1].copy(order='C').reshape(-1)
            return block[e0 - r0 * row:e1 - r0 * row]
    return a.flat[e0:e1]


def _values(c, e0, e1, dtype):
    """Elements [e0, e1) of c cast to dtype, as uint8 (numpy present: conversions only)."""
    np = _modules['numpy']
    if c.kind == 'list':
        part = c.obj[e0:e1]
        want = float if c.code == 'd' else int
        if not all(map(is_, map(type, part), repeat(want))):
            raise _NotNumbers()
        try:
            v = np.frombuffer(array(c.code, part), dtype=np.float64 if c.code == 'd' else np.int64)
        except OverflowError:
            raise _NotNumbers()
    elif c.mv is not None:
        v = c.data.reshape(-1)[e0:e1]
    else:
        v = _strided(c.data, e0, e1)
    return np.ascontiguousarray(v.astype(dtype, casting='unsafe', copy=False)).view(np.uint8)


def _sample_hash(c, reader, total, unit):
    """blake2b of the length and SAMPLES pieces spread over [0, total) (unit: units per piece)."""
    h = _blake2b(digest_size=16)
    h.update(b'%d;' % total)
    piece = max(1, SAMPLE_BYTES // unit)
    if total <= piece * SAMPLES:
        h.update(reader(c, 0, total))
        return h.digest()
    span = total - piece
    for k in range(SAMPLES):
        lo = span * k // (SAMPLES - 1)
        h.update(reader(c, lo, lo + piece))
    return h.digest()


class _Compare(object):
    """Equality of two streams, a piece at a time. With numpy loaded: 1 MiB pieces compared by
    numpy, without copies (~0.1 s per GiB). Without: 64 KiB pieces copied into two reused buffers
    and compared as bytearrays (a 1 MiB bytes() per piece costs an mmap and page faults, 10x slower
    here; memoryview == memoryview unpacks byte by byte, 30x slower)."""

    def __init__(self):
        self.np = _modules.get('numpy')
        self.a = bytearray(PIECE_BYTES)
        self.b = bytearray(PIECE_BYTES)

    def equal(self, reader, c1, c2, total, unit):
        np = self.np
        if np is not None:
            step = max(1, NUMPY_PIECE_BYTES // unit)
            u8 = np.uint8
            equal = np.array_equal
            frombuffer = np.frombuffer
            for lo in range(0, total, step):
                hi = min(total, lo + step)
                if not equal(frombuffer(reader(c1, lo, hi), u8), frombuffer(reader(c2, lo, hi), u8)):
                    return False
            return True
        step = max(1, PIECE_BYTES // unit)
        a = self.a
        b = self.b
        for lo in range(0, total, step):
            hi = min(total, lo + step)
            p1 = memoryview(reader(c1, lo, hi)).cast('B')
            p2 = memoryview(reader(c2, lo, hi)).cast('B')
            n1 = p1.nbytes
            if n1 != p2.nbytes:
                return False
            if n1 == PIECE_BYTES:
                a[:] = p1
                b[:] = p2
                if a != b:
                    return False
            elif bytes(p1) != bytes(p2):
                return False
        return True


# ------------------------------------------------------------------------------ grouping


class _NativeReads(object):
    """The sample hash and the compare in C (memhunt_heap.c: dup_hash, dup_equal), for the
    candidates it can read: buffers, ASCII str, lists of floats or ints, numpy arrays of any
    strides (raw bytes, any dtype), cast between numeric dtypes of native byte order (float32/64,
    ints, bool). A Fortran-order array is read in C order by tiles; a list is converted a piece at
    a time; nothing is copied at full size. Its hashes differ from _sample_hash's: within one
    bucket either every member goes through C or none does."""
    KINDS = ('buf', 'ascii', 'list', 'arr')

    def __init__(self, nat):
        self.nat = nat

    @staticmethod
    def target_of(dtype):
        """The typestr C casts to, or None when the cast is left to numpy."""
        if dtype is None:
            return None
        try:
            k, n = dtype.kind, dtype.itemsize
            if not dtype.isnative or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
                return None
            if (k == 'f' and n in (4, 8)) or (k in 'iu' and n in (1, 2, 4, 8)) or (k == 'b' and n == 1):
                return dtype.str
        except Exception:
            pass
        return None

    def can(self, c, cast):
        if c.kind not in self.KINDS:
            return False
        if cast and c.kind == 'arr':
            return self.target_of(c.dtype) is not None
        return not cast or c.kind == 'list'

    def hash(self, c, target, total):
        return self.nat.dup_hash(c.data, c.kind, c.code or '', target, total)

    def equal(self, a, b, target, total):
        return self.nat.dup_equal(a.data, a.kind, a.code or '', b.data, b.kind, b.code or '', target, total)


def _native_reads():
    from . import _native
    nat = _native.get()
    return _NativeReads(nat) if nat is not None else None


def _bucketed(cands, key, reader, unit_of, cmp, changed, union, fast=None):
    """Groups the candidates of cands that share key(c) and whose data compare equal. fast: a
    _NativeReads, used for a bucket whose members it can all read (raw bytes)."""
    buckets = {}
    for c in cands:
        buckets.setdefault(key(c), []).append(c)
    read = 0
    for k, members in buckets.items():
        if len(members) < 2:
            continue
        total = members[0].length
        nat = fast if fast is not None and all(fast.can(c, False) for c in members) else None
        by_sample = {}
        for c in members:
            try:
                c.sample = nat.hash(c, None, total) if nat is not None else _sample_hash(c, reader, total, unit_of(c))
            except _NotNumbers:
                continue
            except Exception:
                continue
            by_sample.setdefault(c.sample, []).append(c)
        for same in by_sample.values():
            if len(same) < 2:
                continue
            # Buffers first: a representative is read once per member, and a buffer is read in place.
            same.sort(key=_read_cost)
            reps = []
            for c in same:
                for r in reps:
                    try:
                        if nat is not None:
                            eq = nat.equal(r, c, None, total)
                        else:
                            eq = cmp.equal(reader, r, c, total, max(unit_of(r), unit_of(c)))
                        read += 2 * total
                    except _NotNumbers:
                        eq = False
                    except Exception:
                        eq = False
                    if eq:
                        union(r, c)
                        break
                else:
                    reps.append(c)
            # Samples again: anything that moved while it was read is reported, not grouped.
            for c in same:
                try:
                    again = nat.hash(c, None, total) if nat is not None else _sample_hash(c, reader, total, unit_of(c))
                except Exception:
                    again = None
                if again != c.sample:
                    changed.append(c)
    return read


def _read_cost(c):
    return (0 if c.mv is not None else 1 if c.kind == 'arr' else 2, c.index)


def _narrow(d1, d2, np):
    """The dtype to compare two numeric dtypes in, or None: floats and ints compare in the narrower
    of the two (a float32 copy of float64 data); an int array against a float one in the float."""
    k1, k2 = d1.kind, d2.kind
    if k1 not in 'fiub' or k2 not in 'fiub':
        return None
    if (k1 == 'f') == (k2 == 'f'):
        return d1 if d1.itemsize <= d2.itemsize else d2
    return d1 if k1 == 'f' else d2


def _read_as_block(c, values, np):
    """A block's buffer is compared as the block's values, in their order: a frame made from a
    (rows, columns) array keeps that array, transposed, as its block; its copy (df.copy(),
    df.astype(...)) is laid out column by column. Read as the raw buffer, the original matched
    neither its copy nor its conversion (`--duplicates` listed 2 of 3 frames)."""
    try:
        o = c.obj
        if values is o or np is None or not issubclass(type(values), np.ndarray):
            return
        if values.nbytes != o.nbytes or values.dtype != o.dtype:
            return  # a block over part of the buffer: the buffer stays as it is
        c.data = values
        c.mv = values.reshape(-1).view(np.uint8) if values.flags.c_contiguous else None
    except Exception:
        c.data = c.obj


def find_duplicates(objs, views, dup_min, pandas_of):
    """The duplicate groups of objs (see the module's doc). Returns (groups, changed, stats) where
    each group is a list of _Cand with .relation set, the first being the reference."""
    np = _modules.get('numpy')
    cands = []
    seen_ids = set()
    for o in objs:
        if id(o) in seen_ids:
            continue
        seen_ids.add(id(o))
        c = _candidate(o, dup_min, np)
        if c is not None and c.length > 0:
            c.index = len(cands)
            cands.append(c)
    for c in cands:
        pd = pandas_of.get(id(c.obj))
        if pd is not None:
            c.holder = pd[0]
            c.suffix = '[%s]' % pd[1] if pd[1] else ''
            _read_as_block(c, pd[2], np)
    parent = list(range(len(cands)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a, b):
        ra, rb = find(a.index), find(b.index)
        if ra != rb:
            parent[rb] = ra

    changed = []
    cmp = _Compare()
    raw = [c for c in cands if c.kind != 'text']
    text = [c for c in cands if c.kind == 'text']
    fast = _native_reads()
    read = _bucketed(raw, lambda c: c.length, _raw, lambda c: 1, cmp, changed, union, fast)
    read += _bucketed(text, lambda c: c.length, _raw, lambda c: 4, cmp, changed, union)
    # Conversions: numeric data of the same element count and different dtypes, one per raw class.
    if np is not None:
        numeric = [c for c in cands if (c.kind == 'arr' and c.dtype.kind in 'fiub') or c.kind == 'list']
        by_count = {}
        for c in numeric:
            by_count.setdefault(c.count, []).append(c)
        for count, members in by_count.items():
            read += _conversions(members, count, np, find, union, cmp, fast)
    changed_ids = set(c.index for c in changed)
    groups = {}
    for c in cands:
        if c.index in changed_ids:
            continue
        groups.setdefault(find(c.index), []).append(c)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        out.append(_order_group(members, np))
    # Views: listed with the member whose buffer they use.
    member_of = {}
    for g in out:
        for c in g:
            member_of[id(c.obj)] = (g, c)
    sharing = {}
    for v in views:
        try:
            root = _root_buffer(v)
        except Exception:
            continue
        hit = member_of.get(id(root))
        if hit is not None and hit[1].obj is root:
            # A pandas object's own block over the buffer is the holder itself, not a view of it
            # (a frame's `_mgr.blocks[0].values` was listed as sharing the frame's data).
            pd = pandas_of.get(id(root))
            if pd is not None and pd[2] is v:
                continue
            sharing.setdefault(id(hit[0][0]), []).append((v, hit[1]))
    stats = {'candidates': len(cands), 'candidateBytes': sum(c.owned for c in cands), 'readBytes': read}
    for c in cands:
        c.mv = None  # a memoryview of ours would be found as a holder of the object
        c.data = None
    return out, [c for c in changed], sharing, stats


def _conversions(members, count, np, find, union, cmp, fast=None):
    """Unions the numeric candidates of one element count whose values are equal once cast to the
    narrower dtype (_narrow). Per target dtype: one sample hash per candidate, then a compare with
    a candidate already of that dtype: linear in the candidates, not quadratic."""
    members.sort(key=_read_cost)
    reps = {}
    for c in members:
        reps.setdefault(find(c.index), c)
    reps_l = list(reps.values())
    dtypes = []
    for c in reps_l:
        d = _dtype_of(c, np)
        if not any(d == x for x in dtypes):
            dtypes.append(d)
    if len(dtypes) < 2:
        return 0
    read = 0
    for target in dtypes:
        reader = _cast_reader(target)
        ts = _NativeReads.target_of(target) if fast is not None else None
        nat = fast if ts is not None and all(fast.can(c, True) for c in reps_l) else None

        def sample(c):
            return nat.hash(c, ts, count) if nat is not None else _sample_hash(c, reader, count, 1)
        native = {}
        wider = []
        for c in reps_l:
            d = _dtype_of(c, np)
            if d == target:
                try:
                    native.setdefault(sample(c), []).append(c)
                except Exception:
                    continue
            else:
                n = _narrow(d, target, np)
                if n is not None and n == target:
                    wider.append(c)
        if not native or not wider:
            continue
        for c in wider:
            try:
                h = sample(c)
            except Exception:
                continue
            for r in native.get(h, ()):
                if find(r.index) == find(c.index):
                    break
                try:
                    if nat is not None:
                        same = nat.equal(r, c, ts, count)
                    else:
                        same = cmp.equal(reader, r, c, count, target.itemsize)
                except Exception:
                    same = False
                read += 2 * count * target.itemsize
                if same:
                    union(r, c)
                    break
    return read


def _position(members, c):
    for i, m in enumerate(members):
        if m is c:
            return i
    return 0


def _cast_reader(target):
    def reader(c, lo, hi):
        return _values(c, lo, hi, target)
    return reader


def _width(c, np):
    if c.dtype is not None:
        return c.dtype.itemsize
    if c.kind == 'list':
        return 8
    return 0


def _dtype_of(c, np):
    """The dtype of an array, float64/int64 for a list of floats/ints, None for bytes and text."""
    if c.dtype is not None:
        return c.dtype
    if c.kind == 'list' and np is not None:
        return np.dtype(np.float64 if c.code == 'd' else np.int64)
    return None


def _order_group(members, np):
    """The reference first (the widest numeric form, an array before a list), relations set."""
    def rank(c):
        # Ties broken by the dtype before the walk's order (c.index), which differs between the
        # C walk and the Python one: native byte order first, then floats, signed, unsigned, bool.
        d = _dtype_of(c, np)
        try:
            dk = (0 if d.isnative else 1, 'fiub'.find(d.kind) % 5) if d is not None else (0, 0)
        except Exception:
            dk = (1, 4)
        return (-_width(c, np), 0 if c.kind == 'arr' else 1 if c.kind == 'buf' else 2, dk, c.holder is not c.obj, c.index)
    members.sort(key=rank)
    ref = members[0]
    ref_dtype = _dtype_of(ref, np)
    for c in members:
        c.relation = 'identical'
        d = _dtype_of(c, np)
        if ref_dtype is not None and d is not None and d != ref_dtype and c.kind != 'buf':
            if ref.kind == 'list' and c.kind == 'list':
                continue
            c.relation = 'converted'
    return members


def list_owned(c):
    """What a list of numbers costs: its storage and its items (floats are made one per value)."""
    o = c.obj
    n = len(o)
    if c.code == 'd':
        return c.owned + n * _FLOAT_SIZE
    total = c.owned
    for i in range(0, n, 1 << 16):
        total += sum(map(_getsizeof, o[i:i + (1 << 16)]))
    return total


# ------------------------------------------------------------------------------ chains


def _chains(objs):
    """One short path from a root to each of objs (text; '' when none within CHAIN_DEPTH). objs
    is emptied: no container of ours may hold the objects while their referrers are searched (it
    would be found as their holder)."""
    from . import _refs
    if not objs:
        return []
    own_ids = set(map(id, _census.agent_objects()))
    picked = []
    slot_of = {}
    slots = []
    for o in objs:
        k = id(o)
        if k not in slot_of:
            slot_of[k] = len(picked)
            picked.append(o)
        slots.append(slot_of[k])
    del objs[:]
    del o
    g = _refs._backrefs('largest', len(picked), picked, CHAIN_DEPTH, own_ids)
    nodes = {n['id']: n for n in g['nodes']}
    up = {}
    for e in g['edges']:
        up.setdefault(e['to'], []).append(e)
    # _backrefs adds the samples first, in order: n0 .. n(k-1).
    paths = [_path_to('n%d' % i, nodes, up) if ('n%d' % i) in nodes else '' for i in range(len(picked))]
    del g, nodes, up
    missing = [i for i, p in enumerate(paths) if not p]
    if missing:
        # Held through untracked containers, which gc.get_referrers cannot see (3.8-3.10: an
        # instance __dict__ holding only arrays and numbers): looked for from the modules down.
        found = _forward_paths([picked[i] for i in missing], own_ids)
        for i, p in zip(missing, found):
            paths[i] = p
    return [paths[i] for i in slots]


#: The forward search visits at most this many objects (a few C calls each).
FORWARD_MAX_VISITS = 300000
FORWARD_DEPTH = 6
_ModuleType = type(sys)


def _forward_paths(targets, own_ids):
    """Paths from module globals down to targets, breadth first through gc.get_referents, not
    into modules, classes or functions (they are roots or lead everywhere) nor into containers of
    more than 10,000 references (whose items are only matched). '' for a target not found."""
    from . import _refs
    want = {}
    for i, o in enumerate(targets):
        want[id(o)] = i
    out = [''] * len(targets)
    parent = {}   # id(obj) -> (holder, obj)
    level = []
    for name, m in list(_modules.items()):
        if id(m) in own_ids or _util.is_agent_module_name(name):
            continue
        try:
            d = object.__getattribute__(m, '__dict__')
        except Exception:
            continue
        if type(d) is dict and id(d) not in parent:
            parent[id(d)] = (None, name)
            level.append(d)
    left = len(want)
    visits = 0
    for _ in range(FORWARD_DEPTH):
        nxt = []
        for holder in level:
            try:
                refs = _census._get_referents(holder)
            except Exception:
                continue
            big = len(refs) > 10000
            for r in refs:
                k = id(r)
                if k in parent:
                    continue
                i = want.get(k)
                if i is not None:
                    parent[k] = (holder, r)
                    out[i] = _forward_text(parent, r, _refs)
                    left -= 1
                    if left == 0:
                        return out
                    continue
                if big:
                    continue
                t = type(r)
                if t is _ModuleType or issubclass(t, type) or k in own_ids or t is _FunctionType:
                    continue
                parent[k] = (holder, r)
                nxt.append(r)
                visits += 1
            if visits > FORWARD_MAX_VISITS:
                return out
        level = nxt
    return out


def _forward_text(parent, obj, _refs):
    chain = []
    cur = obj
    while True:
        holder, _ = parent[id(cur)]
        if holder is None:
            name = parent[id(cur)][1]
            break
        chain.append((holder, cur))
        cur = holder
    text = name
    namespace = True  # a module's globals, then an instance's __dict__: attributes, not keys
    for holder, child in reversed(chain):
        label = _refs._edge_label(holder, child)
        if label == '__dict__':
            namespace = True
            continue
        in_dict = type(holder) is dict and not namespace
        namespace = False
        text += _step(label, in_dict, False, _util.type_name(type(child)))
    return text


_FunctionType = type(_forward_text)


def _short_type(t):
    return t.rsplit('.', 1)[-1]


def _path_to(nid, nodes, up):
    """Breadth first up the edges to the nearest root; the path as `root.attr[key] > Type.attr`."""
    prev = {nid: None}
    queue = [nid]
    found = None
    while queue and found is None:
        nxt = []
        for n in queue:
            for e in up.get(n, ()):
                f = e['from']
                if f in prev:
                    continue
                prev[f] = (n, e['label'])
                if nodes.get(f, {}).get('kind') in ('module', 'frame', 'class', 'global'):
                    found = f
                    break
                nxt.append(f)
            if found is not None:
                break
        queue = nxt
    if found is None:
        return ''
    root = nodes[found]
    if root['kind'] == 'module':
        text = root['label'] or root['type']
    elif root['kind'] == 'frame':
        text = root['label']
    else:
        text = root['label'] or root['type']
    cur = found
    while cur != nid:
        child, label = prev[cur]
        text += _step(label, cur != found and nodes[cur]['type'] == 'dict', root['kind'] == 'frame' and cur == found, nodes[child]['type'])
        cur = child
    return text


def _step(label, in_dict, from_frame, child_type):
    """One step of a path: `.attr`, `['key']` (a dict's key: _refs labels keys and attributes
    alike), `[3]`, `: local` (a frame's), or ` > Type` when the reference has no name."""
    if label.startswith('[') or label.startswith('('):
        return label
    if not label:
        return ' > ' + _short_type(child_type)
    if from_frame:
        return ': ' + label
    if in_dict:
        return '[%r]' % label
    return '.' + label


# ------------------------------------------------------------------------------ the report


def census(collect, top, largest, dup_min, caller_frame=None):
    """A census (_census.census) with `largest` and/or `duplicates` added (src/contract/shapes.ts)."""
    wall = _util.wall_ms()
    visitor = LargeVisitor(largest, dup_min)
    total, duration, copies = _census.walk_heap(visitor, collect, caller_frame)
    del copies
    if visitor.native_short:
        # Fewer objects of LARGE_FLOOR bytes than the largest list keeps: the Python walk sees all.
        visitor = LargeVisitor(largest, dup_min)
        total, duration, copies = _census.walk_heap(visitor, False, caller_frame, native=False)
        del copies
    own = _census.agent_objects()  # the visitor's own were left out of the walk (_census._drop)
    total -= visitor.exclude(own)
    del own
    rows, total_count, total_bytes, notes, counts = visitor.result(top)
    notes = notes + _census.native_note()
    result = {
        'wallMs': wall,
        'durationMs': round(duration, 3),
        'collected': bool(collect),
        'objects': total_count,
        'totalBytes': total_bytes,
        'rows': rows,
        'notes': notes,
    }
    t0 = _util.perf_ms()
    try:
        _add_largest(result, visitor, largest, dup_min)
    except Exception as e:  # a bug of ours, a library that raises: the census itself is kept
        visitor.top = []
        visitor.dups = []
        visitor.views = []
        visitor.pandas_seen = []
        result['notes'] = notes + ['largest/duplicates failed: %s: %s' % (type(e).__name__, e)]
        return result, counts
    result['notes'] = notes + ['largest/duplicates took %.0f ms after the census' % (_util.perf_ms() - t0)]
    return result, counts


def _add_largest(result, visitor, largest, dup_min):
    """Adds `largest` and `duplicates` to result, from what the visitor kept."""
    own_ids = set(map(id, _census.agent_objects()))
    visitor.top = [e for e in visitor.top if id(e[2]) not in own_ids]
    visitor.dups = [o for o in visitor.dups if id(o) not in own_ids]
    # pandas objects: sized by their blocks' buffers, each buffer for the first frame that has it.
    pandas_of = {}
    pandas_entries = []
    claimed = set()
    frames_first = sorted(visitor.pandas_seen, key=lambda o: 0 if type(o).__name__ == 'DataFrame' else 1)
    for o in frames_first:
        own_bytes = 0
        for root, cols, values in _pandas_blocks(o):
            if id(root) in claimed:
                continue
            claimed.add(id(root))
            pandas_of[id(root)] = (o, cols, values)
            try:
                own_bytes += int(root.nbytes) if _is_ndarray(root) else _util.safe_sizeof(root)
            except Exception:
                pass
        if own_bytes:
            pandas_entries.append((own_bytes, o))
    visitor.pandas_seen = []
    chain_objs = []
    chain_suffix = []
    largest_out = None
    if largest:
        entries = [(n, o) for n, _, o in visitor.top if id(o) not in claimed] + pandas_entries
        entries.sort(key=lambda e: -e[0])
        entries = entries[:largest]
        visitor.top = []
        largest_out = []
        for n, o in entries:
            largest_out.append({'typeName': _util.type_name(type(o)), 'bytes': int(n), 'label': _label(o), 'path': ''})
            if type(o) in _HOLDS_CONTAINERS:
                try:
                    held = holds_bytes(o)
                except Exception:
                    held = 0
                if held > n:
                    largest_out[-1]['holdsBytes'] = int(held)
            chain_objs.append(o)
            chain_suffix.append('')
        del entries
    dup_out = None
    if dup_min is not None:
        d0 = _util.perf_ms()
        dup_notes = []
        if _modules.get('numpy') is None:
            dup_notes.append('numpy is not loaded in this process: bytes, bytearray, str and lists of numbers were compared')
        objs = visitor.dups
        visitor.dups = []
        views = visitor.views
        visitor.views = []
        groups, changed, sharing, stats = find_duplicates(objs, views, dup_min, pandas_of)
        del objs, views
        gout = []
        for g in groups:
            holders = []
            for c in g:
                size = list_owned(c) if c.kind == 'list' else c.owned
                holders.append({'typeName': c.type_name, 'bytes': int(size), 'label': _label(c.obj),
                                'path': '', 'relation': c.relation})
                if len(chain_objs) < MAX_CHAINS:
                    chain_objs.append(c.holder)
                    chain_suffix.append(c.suffix)
                    holders[-1]['_chain'] = len(chain_objs) - 1
            ref_sizes = [h['bytes'] for h in holders if h['relation'] == 'identical']
            totalb = sum(h['bytes'] for h in holders)
            shares = []
            for v, member in sharing.get(id(g[0]), ()):
                shares.append({'typeName': _util.type_name(type(v)), 'bytes': int(getattr(v, 'nbytes', 0) or 0),
                               'label': _label(v), 'path': '', 'relation': 'shares',
                               'sharesWith': _position(g, member)})
                if len(chain_objs) < MAX_CHAINS:
                    chain_objs.append(v)
                    chain_suffix.append('')
                    shares[-1]['_chain'] = len(chain_objs) - 1
            what = _what(g[0])
            gout.append({'what': what, 'totalBytes': int(totalb), 'savedBytes': int(totalb - min(ref_sizes)),
                         'holders': holders, 'sharing': shares})
        gout.sort(key=lambda x: -x['savedBytes'])
        ch = []
        for c in changed:
            ch.append({'typeName': c.type_name, 'bytes': int(c.owned), 'label': _label(c.obj), 'path': '', 'relation': 'changed'})
            if len(chain_objs) < MAX_CHAINS:
                chain_objs.append(c.holder)
                chain_suffix.append(c.suffix)
                ch[-1]['_chain'] = len(chain_objs) - 1
        del groups, changed, sharing
        dup_out = {'minBytes': int(dup_min), 'candidates': stats['candidates'], 'candidateBytes': int(stats['candidateBytes']),
                   'readBytes': int(stats['readBytes']), 'durationMs': 0.0, 'groups': gout, 'changed': ch, 'notes': dup_notes}
        dup_out['durationMs'] = round(_util.perf_ms() - d0, 3)
    visitor.pandas_objects = []
    del frames_first, pandas_entries, pandas_of
    paths = _chains(chain_objs)
    paths = [p + s if p else ('(no root within %d references)%s' % (CHAIN_DEPTH, s)) for p, s in zip(paths, chain_suffix)]
    if largest_out is not None:
        for i, e in enumerate(largest_out):
            e['path'] = paths[i]
    if dup_out is not None:
        items = [h for g in dup_out['groups'] for h in g['holders'] + g['sharing']] + dup_out['changed']
        for h in items:
            k = h.pop('_chain', None)
            h['path'] = paths[k] if k is not None else ''
    if largest_out is not None:
        result['largest'] = largest_out
    if dup_out is not None:
        result['duplicates'] = dup_out


def _what(c):
    if c.kind == 'arr':
        return '%s values' % c.dtype
    if c.kind == 'list':
        return 'float64 values' if c.code == 'd' else 'int64 values'
    if c.kind in ('ascii', 'text'):
        return 'text'
    return 'bytes'
