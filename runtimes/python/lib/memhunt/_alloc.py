"""Sampled allocation profiling (`memhunt run --allocations`; docs/allocations.md).

The native part is runtimes/python/native/memhunt_alloc.c. It is built from source, per interpreter,
the first time a process needs it, into a cache directory (MEMHUNT_NATIVE_DIR, else
$XDG_CACHE_HOME/memhunt/native, else ~/.cache/memhunt/native), one subdirectory per interpreter
build (build_tag: the version and what identifies the build) and source digest, when a C compiler and Python's headers are present; `memhunt build-native
--python X` builds it ahead of time for images without a compiler. Where it cannot be built or
loaded, the agent starts tracemalloc instead and says so in one line (start() returns the line).

Samples and frees of sampled blocks are drained every DRAIN_EVERY_S by a raw thread of the agent
(its own allocations are never sampled: `ignore_this_thread`) and sent as `alloc` events: each
stack once per process (an id, then its frames; the extension keeps which were sent and builds the
rows), each sample as [id, stack, size, thread, wallMs],
each free as [id, wallMs]. Weights (1 / (1 - exp(-size/mean))) are the reader's to compute.
"""
import _thread
import os
import sys
import time

DRAIN_EVERY_S = 1.0
#: Frames kept per sample: generous (a pandas call is ~40 frames deep under a user's function).
MAX_FRAMES = 128
DEFAULT_MEAN = 512 * 1024
MODULE = '_memhunt_alloc'

_here = os.path.dirname(os.path.abspath(__file__))
_own_dir = _here + os.sep
_native = None
_mean = DEFAULT_MEAN
_threads = {}  # type: dict
_stopped = False
#: Held while a batch is drained and sent: the last flush at exit waits for one under way (a batch
#: drained by the thread and not yet sent would be lost when the interpreter ends it).
_flush_lock = _thread.allocate_lock()


def source_path(name='memhunt_alloc.c'):
    # lib/memhunt/_alloc.py -> runtimes/python/native/memhunt_alloc.c
    return os.path.join(os.path.dirname(os.path.dirname(_here)), 'native', name)


def unsupported():
    """Why this interpreter cannot run the hooks, or None."""
    import sysconfig
    if sys.implementation.name != 'cpython':
        return '%s is not CPython' % sys.implementation.name
    if sys.version_info < (3, 8):
        return 'Python %d.%d is older than 3.8' % sys.version_info[:2]
    if sysconfig.get_config_var('Py_GIL_DISABLED'):
        return 'this is a free-threaded Python build (%s), which the allocation hooks do not support' % sys.version.split()[0]
    return None


def unsupported_light():
    """unsupported() without sysconfig (which imports threading since 3.12): for the agent's thread."""
    if sys.implementation.name != 'cpython':
        return '%s is not CPython' % sys.implementation.name
    if sys.version_info < (3, 8):
        return 'Python %d.%d is older than 3.8' % sys.version_info[:2]
    gil = getattr(sys, '_is_gil_enabled', None)
    if gil is not None and not gil():
        return 'this is a free-threaded Python build, which memhunt\'s C helpers do not support'
    if 't' in getattr(sys, 'abiflags', ''):
        return 'this is a free-threaded Python build, which memhunt\'s C helpers do not support'
    return None


def cache_dir():
    base = os.environ.get('MEMHUNT_NATIVE_DIR')
    if not base:
        xdg = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
        base = os.path.join(xdg, 'memhunt', 'native')
    return base


def _sha256():
    """The interpreter's own sha256 (see source_digest)."""
    try:
        from _sha2 import sha256  # type: ignore[import]  # 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import]  # 3.8-3.11
        except ImportError:  # pragma: no cover (a Python built without them)
            from hashlib import sha256
    return sha256


def build_tag():
    """The cache subdirectory of this interpreter's builds: its cache tag and architecture (as
    before: cpython-311-x86_64-linux-gnu), its full version, and 8 hex digits of what identifies
    the build (sys.version, with its build date and compiler; the prefix its headers are under;
    the ABI flags). The helpers use CPython's internal headers, which may differ between patch
    releases and builds: pyenv's 3.11.7 and Debian's 3.11.2 shared one build under the minor
    version's key. Without sysconfig (which imports threading since 3.12: see _native._load).
    Directories of the old key are simply no longer read."""
    v = sys.version_info
    version = '%d.%d.%d' % (v[0], v[1], v[2])
    if v[3] != 'final':
        version += '%s%d' % ({'alpha': 'a', 'beta': 'b', 'candidate': 'rc'}.get(v[3], v[3]), v[4])
    ident = '\0'.join((sys.version, sys.base_prefix, getattr(sys, 'abiflags', ''), '%x' % sys.hexversion,
                       sys.implementation.cache_tag or ''))
    h = _sha256()(ident.encode('utf-8', 'surrogateescape')).hexdigest()[:8]
    arch = getattr(sys.implementation, '_multiarch', None) or sys.platform
    return '%s-%s-%s-%s' % (sys.implementation.cache_tag, arch, version, h)


def source_digest(source):
    """The first 12 hex digits of the source file's SHA-256: the cache subdirectory of its build.

    Not hashlib: importing it loads OpenSSL's libcrypto, +3.4-4.8 MiB of RSS that stays in the
    program (file-backed, counted in its RSS) when the agent's thread loads the census's helpers at
    the first census. The interpreter's own sha256 module (_sha256, _sha2 since 3.12; built in or a
    ~40 KiB extension) gives the same digest."""
    with open(source, 'rb') as f:
        return _sha256()(f.read()).hexdigest()[:12]


def _target(source, module):
    import sysconfig
    digest = source_digest(source)
    tag = build_tag()
    suffix = sysconfig.get_config_var('EXT_SUFFIX') or '.so'
    return os.path.join(cache_dir(), tag, digest, module + suffix)


def build(verbose=False, source=None, module=MODULE):
    """Compiles the extension (source, default memhunt_alloc.c, as module) for this interpreter into
    the cache (once); returns its path. Raises RuntimeError with one line when it cannot."""
    import shutil
    import subprocess
    import sysconfig
    why = unsupported()
    if why:
        raise RuntimeError(why)
    if source is None:
        source = source_path()
    out = _target(source, module)
    if os.path.exists(out):
        return out
    include = sysconfig.get_paths().get('include') or ''
    if not os.path.exists(os.path.join(include, 'Python.h')):
        raise RuntimeError('Python headers missing (no %s/Python.h): install python3-dev (Debian) or your Python\'s headers' % include)
    cc = os.environ.get('CC') or shutil.which('cc') or shutil.which('gcc') or shutil.which('clang')
    if not cc:
        raise RuntimeError('no C compiler (cc, gcc or clang) on PATH: build ahead with memhunt build-native --python %s' % sys.executable)
    if not shutil.which(cc.split()[0]):
        raise RuntimeError('the C compiler %s is not there: build ahead with memhunt build-native --python %s' % (cc.split()[0], sys.executable))
    os.makedirs(os.path.dirname(out), mode=0o700, exist_ok=True)
    tmp = '%s.%d.tmp' % (out, os.getpid())
    cmd = cc.split() + ['-shared', '-fPIC', '-O2', '-fno-strict-aliasing', '-I' + include, source, '-o', tmp, '-lm', '-lpthread', '-ldl']
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_compile_env())
        if r.returncode != 0:
            text = r.stdout.decode('utf-8', 'replace').strip().splitlines()
            raise RuntimeError('compiling %s failed: %s' % (os.path.basename(source), (text[0] if text else 'exit %d' % r.returncode)))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if verbose:
        sys.stdout.write(out + '\n')
    return out


def _compile_env():
    env = dict(os.environ)
    # The compiler is not a Python program: it must not load our agent (nor be profiled).
    for k in ('MEMHUNT_AGENT_SOCKET', 'MEMHUNT_AGENT_OPTIONS'):
        env.pop(k, None)
    return env


def load(source=None, module=MODULE):
    """Builds (when needed) and imports the extension; returns the module. Raises RuntimeError."""
    import importlib.machinery
    import importlib.util
    path = build(False, source, module)
    loader = importlib.machinery.ExtensionFileLoader(module, path)
    spec = importlib.util.spec_from_file_location(module, path, loader=loader)
    if spec is None:
        raise RuntimeError('cannot load %s' % path)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    sys.modules[module] = mod  # the agent's threads find it there (_agent._ignore_alloc)
    return mod


def start(mean, send):
    """Starts sampling in this process and the thread that streams samples through send(msg).
    Returns None, or the one line that says why tracemalloc runs instead."""
    global _native, _mean
    try:
        why = unsupported()
        if why:
            raise RuntimeError(why)
        mod = load()
    except Exception as e:
        import tracemalloc
        if not tracemalloc.is_tracing():
            tracemalloc.start(1)
        return 'sampled allocations unavailable in pid %d (%s); tracing with tracemalloc instead' % (os.getpid(), e)
    seed = 0
    text = os.environ.get('MEMHUNT_ALLOC_SEED')
    if text and text.isdigit():
        seed = int(text)
    _mean = mean
    mod.start(float(mean), MAX_FRAMES, seed)
    _native = mod
    if 'numpy' not in sys.modules:
        sys.meta_path.insert(0, _NumpyHook())
    _thread.start_new_thread(_loop, (send,))
    import atexit
    atexit.register(_at_exit, send)
    _wrap_os_exit(send)
    return None


def _wrap_os_exit(send):
    """os._exit skips atexit: the samples of the last second (all of them, for a short process or
    a fork child that ends with os._exit, as multiprocessing's fork workers do) would be lost. The
    wrapper sends the last batch first (waiting at most 2 s for a flush under way), then exits."""
    real = os._exit

    def _exit(status):
        try:
            held = _flush_lock.acquire(True, 2.0)
            try:
                _flush(send)
            finally:
                if held:
                    _flush_lock.release()
        except BaseException:
            pass
        real(status)

    _exit.__wrapped__ = real
    _exit.__doc__ = real.__doc__
    os._exit = _exit


class _NumpyHook(object):
    """Sets numpy's data allocation handler to the sampling one right after numpy is imported, in
    the importing thread (the handler is a context variable: see memhunt_alloc.c)."""

    def find_spec(self, name, path=None, target=None):
        if name != 'numpy':
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            return None
        import importlib.util
        spec = importlib.util.find_spec('numpy')
        loader = getattr(spec, 'loader', None)
        if loader is None or not hasattr(loader, 'exec_module'):
            return spec
        run = loader.exec_module

        def exec_module(module):
            run(module)
            _hook_numpy(module)

        # numpy's whole import runs under this frame: were it named after this file, drain_batch
        # would take every sample of `import numpy` for the agent's own work and drop it (the
        # trial's imp.py: ~9.5 MiB unseen; a program failing right after the import had 2 samples).
        try:
            exec_module.__code__ = exec_module.__code__.replace(co_filename=HOOK_FILENAME)
        except Exception:
            pass
        loader.exec_module = exec_module
        return spec


#: The file name the numpy import hook's frame shows in stacks (outside the agent's directory).
HOOK_FILENAME = '<memhunt: numpy import hook>'


def _hook_numpy(numpy):
    global numpy_seen
    try:
        parts = str(getattr(numpy, '__version__', '0')).split('.')
        if (int(parts[0]), int(parts[1])) < (1, 22):
            return
        core = sys.modules.get('numpy._core._multiarray_umath') or sys.modules.get('numpy.core._multiarray_umath')
        capsule = getattr(core, '_ARRAY_API', None)
        if capsule is not None and _native is not None:
            numpy_seen = bool(_native.hook_numpy(capsule))
    except Exception:
        pass


#: numpy's array data is sampled (in the context that imported numpy).
numpy_seen = False


def after_fork_in_child(send):
    """The child forgets the parent's samples and streams its own from a new thread."""
    global _threads, _flush_lock
    if _native is None:
        return
    _flush_lock = _thread.allocate_lock()  # a fork during a flush must not leave it held
    _native.reset()  # forgets the parent's samples and the stacks it had sent
    _threads = {}
    _thread.start_new_thread(_loop, (send,))


def _loop(send):
    _native.ignore_this_thread()
    pid = os.getpid()
    while not _stopped and os.getpid() == pid:
        time.sleep(DRAIN_EVERY_S)
        if _stopped or os.getpid() != pid:
            break
        try:
            with _flush_lock:
                if not _stopped:
                    _flush(send)
        except Exception:
            pass


def _at_exit(send):
    """Interpreter shutdown: the last batch, then the hooks come out (no sampling while modules die)."""
    global _stopped
    _stopped = True
    held = _flush_lock.acquire(True, 5.0)
    try:
        _native.stop()
        _flush(send)
    except Exception:
        pass
    finally:
        if held:
            _flush_lock.release()


def _thread_name(ident):
    name = _threads.get(ident)
    if name is None:
        th = sys.modules.get('threading')
        t = th._active.get(ident) if th is not None else None
        name = t.name if t is not None else 'thread-%d' % ident
        if t is not None or th is None:
            _threads[ident] = name
    return name


def _flush(send):
    mod = _native
    if mod is None:
        return
    # Rows and stacks are built by the extension (a stack's frames only the first time it is seen;
    # samples taken in the agent's own code, the hello or a census in the program's thread, left out).
    rows, new_stacks, frees = mod.drain_batch(_own_dir)
    if not rows and not frees and not new_stacks:
        return
    threads = {}
    for r in rows:
        ident = r[3]
        if ident not in threads:
            threads[ident] = _thread_name(ident)
    send({
        'type': 'alloc',
        'wallMs': time.time() * 1000.0,
        'meanBytes': _mean,
        'stacks': new_stacks,
        'samples': rows,
        'frees': frees,
        'threads': [[i, n] for i, n in threads.items()],
        'stats': mod.stats(),
        'numpy': numpy_seen,
    })
