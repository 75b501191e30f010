"""Small helpers shared by the agent's modules (Python 3.8+, standard library only).

Everything the agent calls on a hot or late path is bound here at import time (CONVENTIONS 11):
a program that later patches time.time (freezegun), json.dumps or os.getpid cannot break the agent.
"""
import os
import sys
import time

_getpid = os.getpid
_open = open
_time = time.time
_perf = time.perf_counter
_getsizeof = sys.getsizeof

#: Directory of this package: allocations, frames and files under it are the agent's own.
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


#: The names the agent's modules are imported under: `_memhunt_agent.*` when memhunt's start-up hook
#: started the agent (inject/_memhunt_agent: a program's own `memhunt` module is not shadowed),
#: `memhunt.*` when a program imports the public package. A module of either name is ours only if
#: its file is under PACKAGE_DIR (a program may have its own `memhunt`).
AGENT_PACKAGES = ('_memhunt_agent', 'memhunt')


def is_agent_module_name(name):
    return any(name == p or name.startswith(p + '.') for p in AGENT_PACKAGES)


def wall_ms():
    return _time() * 1000.0


def perf_ms():
    return _perf() * 1000.0


def is_agent_file(filename):
    return bool(filename) and filename.startswith(PACKAGE_DIR)


def is_agent_frame(frame):
    try:
        return is_agent_file(frame.f_code.co_filename)
    except Exception:
        return False


def error_message(where, exc=None):
    """An agent-error message: where, the exception, then the innermost frames of its traceback."""
    if exc is None:
        exc = sys.exc_info()[1]
    message = where
    if exc is not None:
        message = '%s: %s: %s' % (where, type(exc).__name__, exc)
        tb = exc.__traceback__
        frames = []
        while tb is not None:
            frames.append('%s:%d' % (os.path.basename(tb.tb_frame.f_code.co_filename), tb.tb_lineno))
            tb = tb.tb_next
        if frames:
            message += ' (at ' + ' < '.join(reversed(frames[-6:])) + ')'
    return message[:4000]


def proc_status_bytes(key, pid='self'):
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM) in bytes, or None."""
    try:
        with _open('/proc/%s/status' % pid, 'rb') as f:
            for line in f:
                if line.startswith(key.encode() + b':'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def type_name(t):
    """Census name of a type: builtins unqualified (`dict`), others `module.QualName`."""
    try:
        mod = t.__module__
    except Exception:
        mod = None
    try:
        qual = t.__qualname__
    except Exception:
        qual = None
    if not isinstance(qual, str):
        try:
            qual = type.__dict__['__name__'].__get__(t)
        except Exception:
            qual = '?'
    if not isinstance(mod, str) or mod == 'builtins':
        return qual
    return mod + '.' + qual


_MAX_REPR = 80


def _cap(s, limit=_MAX_REPR):
    s = s.replace('\n', ' ').replace('\r', ' ')
    return s if len(s) <= limit else s[:limit - 1] + '\u2026'


_SIMPLE_REPR = (int, float, complex, bool, type(None))


def short_repr(obj, limit=_MAX_REPR):
    """A one-line description of obj, at most `limit` characters.

    Containers are described, not printed (a list repr calls the repr of every element, which for
    user objects can be slow or fail). A user-defined __repr__ is called only for objects that are
    not containers, inside try/except, and capped.
    """
    try:
        t = type(obj)
        if t in _SIMPLE_REPR:
            return _cap(repr(obj), limit)
        if t is str:
            return _cap(repr(obj[:limit]), limit)
        if t in (bytes, bytearray):
            return _cap(repr(obj[:limit]), limit)
        if t.__name__ == 'array' and t.__module__ == 'array':
            # array.array's repr prints every item (23 s for 4 M floats, measured here).
            return _cap("array('%s'), %d items" % (obj.typecode, len(obj)), limit)
        if t in (list, tuple, set, frozenset, dict):
            n = len(obj)
            what = ''
            if n:
                try:
                    el = next(iter(obj))
                    if t is dict:
                        what = ': %s -> %s' % (type_name(type(el)), type_name(type(obj[el])))
                    else:
                        what = ' of ' + type_name(type(el))
                except Exception:
                    what = ''
            return _cap('%s, %d item%s%s' % (t.__name__, n, '' if n == 1 else 's', what), limit)
        if isinstance(obj, type):
            return _cap('class ' + type_name(obj), limit)
        mod_type = type(sys)
        if t is mod_type:
            return _cap('module ' + str(getattr(obj, '__name__', '?')), limit)
        if t.__name__ == 'frame' and t.__module__ == 'builtins':
            code = obj.f_code
            return _cap('%s() %s:%d' % (code.co_name, os.path.basename(code.co_filename), obj.f_lineno), limit)
        if t.__name__ == 'function' and t.__module__ == 'builtins':
            return _cap('function ' + obj.__qualname__, limit)
        r = t.__repr__
        if r is object.__repr__:
            return _cap('%s at 0x%x' % (type_name(t), id(obj)), limit)
        try:
            s = repr(obj)
            if not isinstance(s, str):
                raise TypeError
        except Exception:
            return _cap('%s at 0x%x' % (type_name(t), id(obj)), limit)
        return _cap(s, limit)
    except Exception:
        return '?'


def format_bytes(n):
    """"512 MiB", "1.50 GiB", "12.3 KiB", "0 B": binary units, three significant digits (as
    src/units.ts formatBytes, so that what the agent writes in a label or a note reads as the rest)."""
    sign = '-' if n < 0 else ''
    v = float(abs(n))
    units = ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB')
    i = 0
    while v >= 1024 and i < len(units) - 1:
        v /= 1024
        i += 1
    if i == 0:
        return '%s%d B' % (sign, int(round(v)))
    digits = 0 if v >= 100 else 1 if v >= 10 else 2
    return '%s%.*f %s' % (sign, digits, v, units[i])


def safe_sizeof(obj):
    try:
        return _getsizeof(obj, 0)
    except Exception:
        return 0


_CO_OPTIMIZED = 0x1
#: Since 3.11 a frame object does not traverse the locals of a function that is still running
#: (they belong to the thread's frame stack until it returns), so gc.get_referents(frame) misses
#: them; a copy of f_locals makes them reachable for a census.
_LOCALS_HIDDEN = sys.version_info >= (3, 11)


def locals_copies(frames):
    """[(frame, dict copy of its locals)] for the function frames among frames (3.11+ only)."""
    out = []
    if _LOCALS_HIDDEN:
        for f in frames:
            try:
                if f.f_code.co_flags & _CO_OPTIMIZED:
                    out.append((f, dict(f.f_locals)))
            except Exception:
                pass
    return out


def thread_frames(exclude_ident, caller_frame=None):
    """Frames of every thread but exclude_ident (with their callers), plus caller_frame and its
    callers, minus the agent's own frames. Kept alive across a census together with
    locals_copies(), they make the locals of running functions part of it."""
    out = []
    try:
        frames = sys._current_frames()
    except Exception:
        frames = {}
    # Drop our own thread's frame first: a local that refers to the frame running this function
    # would make a reference cycle (frame -> locals -> frame), garbage a later census would count.
    frames.pop(exclude_ident, None)
    starts = list(frames.values())
    frames = None
    if caller_frame is not None:
        starts.append(caller_frame)
    for f in starts:
        while f is not None:
            if not is_agent_frame(f):
                out.append(f)
            f = f.f_back
    starts = f = None
    return out


def pack_counts(counts):
    """{name: int} as two objects (one str, one array) instead of a dict of many strings: what the
    agent remembers between censuses must not show up as growth in the next census.

    Names are joined with NUL, so a name must not contain one (allocation sites are keyed
    "file<US>line" for that reason): a NUL in a name is replaced, and that name is not found again."""
    from array import array
    names = list(counts)
    return ('\0'.join(n.replace('\0', '\ufffd') for n in names), array('q', [counts[n] for n in names]))


def unpack_counts(packed):
    if packed is None:
        return None
    names, values = packed
    if not names:
        return {}
    return dict(zip(names.split('\0'), values))
