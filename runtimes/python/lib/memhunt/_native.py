"""The heap helpers in C (runtimes/python/native/memhunt_heap.c): the census's walk and the
duplicate search's reads. Built from source per interpreter into the same cache as the allocation
hooks (_alloc.build; `memhunt build-native` builds both ahead of time) the first time a census
needs them, when a C compiler and Python's headers are present. Where they cannot be built or
loaded, get() returns None and the pure-Python code runs (same results, slower); why() says why.
MEMHUNT_NATIVE=0 in the environment turns them off (the tests run both paths).
"""
import os
import sys

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
        _mod = _load()
    except Exception as e:
        _mod = None
        _why = str(e) or type(e).__name__
    return _mod


def _load():
    """Loads the extension from the cache, building it first in a child interpreter when it is not
    there. Runs in the agent's thread in the middle of a program: it imports nothing that starts or
    imports threading (subprocess, shutil and, since 3.12, sysconfig do; a thread that imports
    threading first becomes its "main thread" and 3.9-3.12 then hang at exit)."""
    import _imp
    from . import _alloc
    why = _alloc.unsupported_light()
    if why:
        raise RuntimeError(why)
    source = _alloc.source_path(SOURCE)
    digest = _alloc.source_digest(source)
    tag = _alloc.build_tag()
    path = os.path.join(_alloc.cache_dir(), tag, digest, MODULE + _imp.extension_suffixes()[0])
    if not os.path.exists(path):
        path = _build_in_child(source)
    bootstrap = sys.modules['_frozen_importlib']
    external = sys.modules['_frozen_importlib_external']
    loader = external.ExtensionFileLoader(MODULE, path)
    spec = bootstrap.ModuleSpec(MODULE, loader, origin=path)
    mod = loader.create_module(spec)
    loader.exec_module(mod)
    sys.modules[MODULE] = mod
    return mod


_BUILD = (
    'import sys\n'
    'sys.path.insert(0, sys.argv[1])\n'
    'from memhunt import _alloc\n'
    'try:\n'
    '    sys.stdout.write(_alloc.build(False, _alloc.source_path(sys.argv[2]), sys.argv[3]) + "\\n")\n'
    'except RuntimeError as e:\n'
    '    sys.stdout.write("error: %s\\n" % e)\n'
    '    sys.exit(3)\n'
)


def _build_in_child(source):
    """`python -c _BUILD` (the same build as `memhunt build-native`), without subprocess: its
    output goes to a temporary file. Returns the path it built."""
    from . import _alloc
    lib = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    base = _alloc.cache_dir()
    os.makedirs(base, mode=0o700, exist_ok=True)
    out = os.path.join(base, 'build-%d-%d.log' % (os.getpid(), id(lib)))
    fd = os.open(out, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        env = _alloc._compile_env()
        env.pop('PYTHONPATH', None)
        pid = os.posix_spawn(sys.executable, [sys.executable, '-E', '-c', _BUILD, lib, SOURCE, MODULE], env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)])
        _, status = os.waitpid(pid, 0)
        with open(out, 'r') as f:
            text = f.read().strip().splitlines()
    finally:
        os.close(fd)
        os.unlink(out)
    last = text[-1] if text else ''
    if status != 0 or not last or last.startswith('error: '):
        raise RuntimeError(last[7:] if last.startswith('error: ') else 'the build exited with status %d' % status)
    return last


def failed(reason):
    """The C helpers raised where they should not: off for the rest of this process (the Python
    code runs), and why() says so."""
    global _mod, _why, _tried
    _mod = None
    _why = reason
    _tried = True


def trim():
    """Gives the allocator's free pages back to the system (malloc_trim, glibc) after a walk over
    the heap, when the extension is loaded: what the walk's buffers leave in the agent's thread's
    arena is not memory the program holds (memhunt_heap.c, "trim"). Never raises."""
    mod = _mod
    if mod is None or _off:
        return
    fn = getattr(mod, 'trim', None)
    if fn is not None:
        try:
            fn()
        except Exception:
            pass


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
