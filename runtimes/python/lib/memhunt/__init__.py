"""memhunt helpers for Python programs: sections, heap snapshots, isolation.

    import memhunt

    with memhunt.section("load features"):     # a band on memhunt's chart, with its memory
        ...

    @memhunt.section("train_epoch")             # the same, as a decorator (also @memhunt.section)
    def train_epoch(model, batches): ...

    memhunt.snapshot("after epoch 1")           # a heap census here (and allocation sites with
                                                # --trace-allocations), recorded by memhunt

    index = memhunt.isolated(build_index, docs) # build_index runs in a child process: its memory
                                                # goes back to the system when it returns

Under `memhunt run` the package is importable with nothing installed (memhunt puts it on
PYTHONPATH). Elsewhere, `memhunt python-path` prints the directory to add to PYTHONPATH (or to a
.pth file); then, with no memhunt session (no MEMHUNT_AGENT_SOCKET), section and snapshot do
nothing and isolated still runs fn in a child process. Nothing here ever raises because of
memhunt: failures of the agent are reported to memhunt and the program goes on.

This file parses on old Pythons (no f-strings): on Python < 3.8 the helpers only call through.
"""
import sys
import time

__all__ = ['section', 'snapshot', 'isolated', 'active']
__version__ = '1'

_SUPPORTED = sys.version_info >= (3, 8)
_time = time.time

#: The name memhunt's start-up hook (inject/sitecustomize.py) loads this package's modules under:
#: a private name, so that a program's own module named memhunt, next to it or anywhere on its
#: path, is the one its `import memhunt` gets. This package (on PYTHONPATH after the program's own
#: directories) is what `import memhunt` finds when the program has no memhunt of its own; it then
#: talks to the agent started under that name.
_AGENT_PACKAGE = '_memhunt_agent'


def _impl(name):
    """The agent's module `name`: the running agent's, when the start-up hook started one, else
    this package's own (no session, or PYTHONPATH=$(memhunt python-path))."""
    pkg = _AGENT_PACKAGE if _AGENT_PACKAGE in sys.modules else __name__
    full = pkg + '.' + name
    mod = sys.modules.get(full)
    if mod is None:
        __import__(full)
        mod = sys.modules[full]
    return mod


def _running_agent():
    """The running agent module, or None (no session, or an unsupported Python)."""
    if not _SUPPORTED:
        return None
    mod = sys.modules.get(_AGENT_PACKAGE + '._agent') or sys.modules.get(__name__ + '._agent')
    if mod is None or not mod.active():
        return None
    return mod


def active():
    """True when this process is connected to a memhunt session."""
    return _running_agent() is not None


def _send_section(kind, label):
    agent = _running_agent()
    if agent is None:
        return
    try:
        agent.send({'type': 'section', 'kind': kind, 'label': label, 'wallMs': _time() * 1000.0})
    except Exception:
        pass


_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


class section(object):
    """A labelled part of the program: `with memhunt.section("x"):`, `@memhunt.section("x")`, or
    `@memhunt.section` (the function's name is the label). Sends a begin and an end event, with
    their wall-clock times, to memhunt; does nothing without a memhunt session. Sections may nest,
    repeat, and run in several threads."""

    __slots__ = ('label',)

    def __new__(cls, label=None):
        if callable(label) and not isinstance(label, str):
            # @memhunt.section without a label
            fn = label
            self = object.__new__(cls)
            self.label = getattr(fn, '__qualname__', None) or getattr(fn, '__name__', 'section')
            return self(fn)
        return object.__new__(cls)

    def __init__(self, label=None):
        if callable(label) and not isinstance(label, str):
            return
        self.label = str(label) if label is not None else 'section'

    def __enter__(self):
        _send_section('begin', self.label)
        return self

    def __exit__(self, exc_type, exc, tb):
        _send_section('end', self.label)
        return False

    def __call__(self, fn):
        label = self.label
        flags = getattr(getattr(fn, '__code__', None), 'co_flags', 0)
        import functools
        if flags & _CO_COROUTINE:
            from ._async import wrap_coroutine
            return wrap_coroutine(fn, label, _send_section)
        if flags & _CO_GENERATOR:
            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                _send_section('begin', label)
                try:
                    result = yield from fn(*args, **kwargs)
                finally:
                    _send_section('end', label)
                return result
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            _send_section('begin', label)
            try:
                return fn(*args, **kwargs)
            finally:
                _send_section('end', label)
        return wrapper

    def __repr__(self):
        return 'memhunt.section(%r)' % (self.label,)


def snapshot(label='snapshot', collect=False, top=50):
    """Takes a heap census here (and an allocation-site snapshot when memhunt traces allocations)
    and sends it to memhunt, which records it. collect=True runs gc.collect() first (objgraph
    always does, which hides garbage that lives between collections). Returns None; does nothing
    without a memhunt session."""
    agent = _running_agent()
    if agent is None:
        return None
    try:
        census = _impl('_requests').take_census(bool(collect), int(top), caller_frame=sys._getframe(1))
        trace = None
        import tracemalloc
        if tracemalloc.is_tracing():
            trace = _impl('_trace').snapshot(int(top), _impl('_state').state)
        agent.send({'type': 'snapshot', 'label': str(label), 'census': census, 'trace': trace})
    except Exception as e:
        try:
            agent.report_error('memhunt.snapshot(%r)' % (label,), e)
        except Exception:
            pass
    return None


def isolated(fn, *args, **kwargs):
    """Runs fn(*args, **kwargs) in a child process (a fresh interpreter) and returns its result,
    or raises its exception (with the child's traceback as the cause). The child's memory goes
    back to the system when it exits: CPython does not necessarily return freed memory before
    that. memhunt records the child's peak. fn and its arguments must be picklable (a module-level
    function). On Python < 3.8, calls fn directly."""
    if not _SUPPORTED:
        return fn(*args, **kwargs)
    return _impl('_isolated').isolated(fn, *args, **kwargs)
