"""pandas objects read without calling pandas: their buffers, their shape, what holds an array.

A census or a refs walk must not change the program it looks at. pandas' own accessors do:
`DataFrame.memory_usage(deep=True)` iterates the columns through `_item_cache` (a Series per column
stays in the frame afterwards, measured on Debian's pandas 1.5.3), `Index.memory_usage` builds the
index's hash table (`_engine`, cached in `_cache`), `RangeIndex.nbytes` and `.values` are cached
properties, and `repr(frame)` formats the whole table. So this module reads only what is already
there: an instance's `__dict__` entries and C-level slots (getset/member descriptors of pandas'
Cython classes, such as `Block.values` and `NDArrayBacked._ndarray`), never a Python property, a
cached property or a method of the object. The attribute names are pandas' internals (1.x and
2.x): where one is missing, less is found, nothing is changed.

The agent never imports pandas or numpy: their classes are taken from sys.modules when loaded.
"""
import sys

_modules = sys.modules
_type_dict = type.__dict__['__dict__'].__get__  # type: ignore[index]
_type_mro = type.__dict__['__mro__'].__get__  # type: ignore[index]
_object_getattribute = object.__getattribute__
_getsizeof = sys.getsizeof

#: Descriptor types that read a C slot (no Python code runs): Cython's `cdef public/readonly`
#: attributes are getset descriptors, `__slots__` entries member descriptors.
_C_DESCRIPTORS = (type(type.__dict__['__dict__']), type(type.__dict__['__weakrefoffset__']))  # type: ignore[index]

#: The attributes through which pandas objects hold their data (1.x and 2.x): managers, blocks,
#: axes, extension arrays (masked, NDArray-backed, categorical, interval, sparse, arrow), indexes.
DATA_ATTRS = ('_mgr', '_data', 'blocks', 'axes', 'arrays', 'values', '_values', '_ndarray', '_mask',
              '_codes', '_levels', '_dtype', '_categories', '_left', '_right', '_combined',
              '_sparse_values', '_pa_array')

_MAX_DEPTH = 8


def _ndarray_type():
    np = _modules.get('numpy')
    return getattr(np, 'ndarray', None) if np is not None else None


def is_pandas(obj):
    try:
        m = type.__dict__['__module__'].__get__(type(obj))
        return isinstance(m, str) and (m == 'pandas' or m.startswith('pandas.'))
    except Exception:
        return False


def read_attr(obj, name):
    """obj.name when it is plain data (instance dict entry or C slot), else None. Never runs a
    property, a cached property or __getattr__."""
    try:
        t = type(obj)
        for k in _type_mro(t):
            d = _type_dict(k)
            if name in d:
                desc = d[name]
                if type(desc) in _C_DESCRIPTORS:
                    return desc.__get__(obj, t)
                if hasattr(type(desc), '__set__'):
                    return None  # a data descriptor written in Python (property, cache_readonly)
                break
        try:
            inst = _object_getattribute(obj, '__dict__')
        except AttributeError:
            return None
        if type(inst) is dict:
            return inst.get(name)
    except Exception:
        pass
    return None


def data_parts(obj):
    """The objects obj holds its data through (see DATA_ATTRS), read with read_attr: for a
    DataFrame its manager, for a manager its blocks and axes, for a block its array, ..."""
    out = []
    for name in DATA_ATTRS:
        v = read_attr(obj, name)
        if v is None:
            continue
        if type(v) in (tuple, list):
            out.extend(v)
        else:
            out.append(v)
    return out


def owner(arr, ndarray):
    """The ndarray that owns arr's buffer (arr itself, or the last ndarray of its .base chain),
    and the object beyond it that owns the memory when that is not an ndarray (bytes, mmap...)."""
    seen = 0
    while seen < 64:
        try:
            base = arr.base
        except Exception:
            return arr, None
        if base is None:
            return arr, None
        if not isinstance(base, ndarray):
            return arr, base
        arr = base
        seen += 1
    return arr, None


#: Items of an object array read at a time (a list of all of them would cost 8 bytes an item).
_ITEMS_CHUNK = 1 << 13


def _items_bytes(arr):
    """What pandas' deep memory usage adds for an object array: sys.getsizeof of each element."""
    try:
        flat = arr.ravel(order='K')
        n = len(flat)
    except Exception:
        return 0
    total = 0
    for i in range(0, n, _ITEMS_CHUNK):
        try:
            items = flat[i:i + _ITEMS_CHUNK].tolist()
        except Exception:
            break
        try:
            total += sum(map(_getsizeof, items))
        except Exception:  # a __sizeof__ that raises
            for o in items:
                try:
                    total += _getsizeof(o)
                except Exception:
                    pass
    return total


def arrays_of(obj, ndarray, out, depth=0, visited=None):
    """Appends the ndarrays holding obj's data to out (read-only walk over data_parts)."""
    if visited is None:
        visited = set()
    if depth > _MAX_DEPTH or id(obj) in visited:
        return
    visited.add(id(obj))
    if isinstance(obj, ndarray):
        out.append(obj)
        return
    if not is_pandas(obj):
        return
    for part in data_parts(obj):
        arrays_of(part, ndarray, out, depth + 1, visited)


def _holder_rank(obj):
    """Frames first, then Series, then the rest (indexes, arrays): a buffer shared by several
    pandas objects goes to the outermost one, the one a program keeps (a cached frame, not the
    Series of a column in its _item_cache)."""
    pd = _modules.get('pandas')
    if pd is not None:
        try:
            if isinstance(obj, pd.DataFrame):
                return 0
            if isinstance(obj, pd.Series):
                return 1
        except Exception:
            pass
    return 2


def buffer_moves(objs):
    """Where the census's bytes of pandas' buffers belong: ({pandas type: bytes}, {holder type:
    bytes}, failed). Each underlying buffer (an owning ndarray's data, or the bytes/mmap beyond
    it) is given once, to the outermost pandas object that holds it (frames, then Series, then
    indexes), and taken from the row that counted it (numpy.ndarray, bytes...). Items of object
    columns stay in their own rows (str...)."""
    ndarray = _ndarray_type()
    to, frm = {}, {}
    if ndarray is None:
        return to, frm, 0
    counted = set()
    failed = 0
    try:
        objs = sorted(objs, key=_holder_rank)
    except Exception:
        pass
    for o in objs:
        t = type(o)
        try:
            arrays = []
            arrays_of(o, ndarray, arrays)
            for a in arrays:
                own, outside = owner(a, ndarray)
                holder = outside if outside is not None else own
                key = id(holder)
                if key in counted:
                    continue
                counted.add(key)
                b = int((a if outside is not None else own).nbytes)
                if b <= 0:
                    continue
                to[t] = to.get(t, 0) + b
                ht = type(holder)
                frm[ht] = frm.get(ht, 0) + b
        except Exception:
            failed += 1
    return to, frm, failed


def buffer_bytes(objs):
    """{type: bytes} of the buffers the pandas objects in objs hold (blocks, their index and
    columns; object columns with their items, as pandas' deep memory usage counts them), each
    underlying buffer counted once, under the first object that holds it."""
    ndarray = _ndarray_type()
    out = {}
    if ndarray is None:
        return out, 0
    counted = set()
    failed = 0
    for o in objs:
        t = type(o)
        try:
            arrays = []
            arrays_of(o, ndarray, arrays)
            b = 0
            for a in arrays:
                own, outside = owner(a, ndarray)
                key = id(outside) if outside is not None else id(own)
                if key in counted:
                    continue
                counted.add(key)
                b += int((a if outside is not None else own).nbytes)
                if own.dtype.hasobject:
                    b += _items_bytes(own)
        except Exception:
            failed += 1
            continue
        out[t] = out.get(t, 0) + b
    return out, failed


def shape_label(obj, name):
    """'DataFrame 1000×5' / 'Series 1000' / 'Index 1000' from the axes' lengths, or None."""
    try:
        mgr = read_attr(obj, '_mgr')
        axes = read_attr(mgr, 'axes') if mgr is not None else None
        if axes is None:
            return None
        lens = [_axis_len(a) for a in axes]
        if any(n is None for n in lens):
            return None
        if len(lens) == 2:
            # A BlockManager's axes are (columns, index): shown as rows×columns, as pandas' shape.
            return '%s %d\u00d7%d' % (name, lens[1], lens[0])
        return '%s %s' % (name, '\u00d7'.join(str(n) for n in lens))
    except Exception:
        return None


def _axis_len(index):
    r = read_attr(index, '_range')
    if type(r) is range:
        return len(r)
    data = read_attr(index, '_data')
    if data is None:
        codes = read_attr(index, '_codes')
        if type(codes) in (tuple, list) and codes:
            data = codes[0]
    ndarray = _ndarray_type()
    if data is None or ndarray is None:
        return None
    if not isinstance(data, ndarray):  # an extension array: its first array (codes, values)
        arrays = []
        arrays_of(data, ndarray, arrays)
        if not arrays:
            return None
        data = arrays[0]
    shape = data.shape
    return int(shape[-1]) if shape else None


def label(obj):
    """A short label for a graph node, read without pandas' repr (which formats the table, and
    for an Index may compute and cache properties): 'DataFrame 1000×5', 'Series 1000',
    'RangeIndex 1000', 'NumericBlock 4×1000' (a block's array as stored)."""
    t = type(obj)
    try:
        name = str(type.__dict__['__qualname__'].__get__(t)).rsplit('.', 1)[-1]
    except Exception:
        name = '?'
    try:
        s = shape_label(obj, name)
        if s is not None:
            return s
        n = _axis_len(obj)
        if n is not None:
            return '%s %d' % (name, n)
        axes = read_attr(obj, 'axes')
        if type(axes) in (list, tuple) and axes:
            lens = [_axis_len(a) for a in axes]
            if all(x is not None for x in lens):
                return '%s %s' % (name, '\u00d7'.join(str(x) for x in lens))
        ndarray = _ndarray_type()
        values = read_attr(obj, 'values')
        if ndarray is not None and values is not None:
            arrays = []
            arrays_of(values, ndarray, arrays)
            if arrays:
                return '%s %s' % (name, '\u00d7'.join(str(x) for x in arrays[0].shape))
    except Exception:
        pass
    return '%s at 0x%x' % (name, id(obj))
