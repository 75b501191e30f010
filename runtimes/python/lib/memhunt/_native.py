"""The heap helpers in C (runtimes/python/native/memhunt_heap.c): the census's walk and the
duplicate search's reads. Built from source per interpreter into the same cache as the allocation
hooks (_alloc.build; `memhunt build-native` builds both ahead of time) the first time a census
needs them, when a C compiler and Python's headers are present. Where they cannot be built or
loaded, get() returns None and the pure-Python code runs (same results, slower); why() says why.
MEMHUNT_NATIVE=0 in the environment turns them off (the tests run both paths).
"""
import os

MODULE = '_memhunt_heap'
SOURCE = 'memhunt_heap.c'

_mod = None
_why = None
_tried = False


def enabled():
    return os.environ.get('MEMHUNT_NATIVE', '1') not in ('0', 'off', 'no', 'false')


_off = False


def get():
    """The extension module, or None (built and loaded once per process)."""
    global _mod, _why, _tried
    if _off:
        return None
    if _tried:
        return _mod
    _tried = True
    if not enabled():
        _why = 'turned off (MEMHUNT_NATIVE=0)'
        return None
    try:
        from . import _alloc
        why = _alloc.unsupported()
        if why:
            raise RuntimeError(why)
        _mod = _alloc.load(_alloc.source_path(SOURCE), MODULE)
    except Exception as e:
        _mod = None
        _why = str(e) or type(e).__name__
    return _mod


def why():
    """Why get() returned None ('' when it did not)."""
    if _off:
        return 'turned off'
    get()
    return _why or ''


def set_enabled(on):
    """For tests and benchmarks in one process: on=False makes get() return None (the Python code
    runs); on=True undoes it (and ignores MEMHUNT_NATIVE)."""
    global _off, _tried
    _off = not on
    if on and _mod is None:
        os.environ.pop('MEMHUNT_NATIVE', None)
        _tried = False
