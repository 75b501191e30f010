# memhunt's start-up hook (docs/agent-protocol.md, "Injection"). `memhunt run` puts this directory
# and ../lib first on PYTHONPATH; Python imports `sitecustomize` at start-up in every interpreter,
# so every Python process of the tree (multiprocessing spawn/forkserver workers included) starts
# the agent. Then the next `sitecustomize` on sys.path (a site's or a virtualenv's own) is imported,
# so it still runs.
#
# This file must never raise, and must parse on every Python that may meet it (2.7, 3.6, 3.7 print
# one line and do nothing else): no f-strings, no walrus, no keyword-only syntax.
import os
import sys


def _memhunt_start():
    if not os.environ.get('MEMHUNT_AGENT_SOCKET'):
        return
    if sys.version_info < (3, 8):
        try:
            sys.stderr.write('memhunt: Python %d.%d in pid %d is older than 3.8: no in-process agent '
                             '(heap censuses, allocation sites, sections, break); memory is still '
                             'recorded\n' % (sys.version_info[0], sys.version_info[1], os.getpid()))
        except Exception:
            pass
        return
    # Our modules are loaded from bytecode whenever they can be: compiling them costs each process
    # 0.5-1.3 MiB of memory that stays (Python's parser arenas, measured on 3.8-3.13: see
    # BENCHMARKS.md) and 5-6 ms. PYTHONDONTWRITEBYTECODE (common in container images) would make
    # every process compile them again, so it is lifted while, and only while, our own modules are
    # imported (no program code runs yet); the program's own modules are not affected.
    dont_write = sys.dont_write_bytecode
    try:
        sys.dont_write_bytecode = False
        try:
            # Under a private name (inject/_memhunt_agent): a program's own `memhunt` module wins.
            from _memhunt_agent import _agent
        finally:
            sys.dont_write_bytecode = dont_write
        _agent.start()
    except Exception:
        pass
    if dont_write:
        _cache_own_bytecode()


def _cache_own_bytecode():
    """Writes this file's bytecode when site.py could not (PYTHONDONTWRITEBYTECODE): the next
    interpreter then does not compile it. Once: nothing is done when it is there or not writable."""
    try:
        spec = getattr(sys.modules.get('sitecustomize'), '__spec__', None)
        cached = getattr(spec, 'cached', None)
        if not cached or os.path.exists(cached) or not os.access(os.path.dirname(os.path.dirname(cached)), os.W_OK):
            return
        dont_write = sys.dont_write_bytecode
        sys.dont_write_bytecode = False
        try:
            spec.loader.get_code(spec.name)
        finally:
            sys.dont_write_bytecode = dont_write
    except Exception:
        pass


def _memhunt_chain():
    """Imports the next sitecustomize on sys.path, as if this one were not there."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        real_here = os.path.realpath(here)
    except Exception:
        real_here = here
    me = sys.modules.get('sitecustomize')
    removed = []
    for i, entry in enumerate(list(sys.path)):
        try:
            p = os.path.realpath(os.path.abspath(entry or '.'))
        except Exception:
            continue
        if p == real_here:
            removed.append((i, entry))
    if not removed:
        return
    for i, entry in reversed(removed):
        del sys.path[i]
    sys.modules.pop('sitecustomize', None)
    try:
        try:
            import sitecustomize  # noqa: F401  (the next one, if any)
        except ImportError as e:
            name = getattr(e, 'name', None)
            if name is None:  # Python 2: no .name
                name = 'sitecustomize' if str(e).rstrip("'").endswith('sitecustomize') else '?'
            if name != 'sitecustomize':
                _report_chained_error()
            if sys.modules.get('sitecustomize') is None and me is not None:
                sys.modules['sitecustomize'] = me
        except Exception:
            _report_chained_error()
            if me is not None:
                sys.modules['sitecustomize'] = me
    finally:
        for i, entry in removed:
            sys.path.insert(i, entry)


def _report_chained_error():
    # What site.py prints when a sitecustomize fails: the program goes on.
    try:
        exc = sys.exc_info()[1]
        sys.stderr.write('Error in sitecustomize; set PYTHONVERBOSE for traceback:\n%s: %s\n'
                         % (type(exc).__name__, exc))
        if sys.flags.verbose:
            import traceback
            traceback.print_exc()
    except Exception:
        pass


try:
    _memhunt_start()
except Exception:
    pass
try:
    _memhunt_chain()
except Exception:
    pass
