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
    try:
        from memhunt import _agent
        _agent.start()
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
