"""Requests from memhunt (docs/agent-protocol.md, "Requests"): parsed, checked, dispatched, and
answered with a reply of the same id. Imported by the agent's thread with the first request, not
at start-up: every Python process pays for what start-up imports (and compiles, when its
__pycache__ cannot be written).

Dispatch goes one way: _agent's serving thread calls handle(conn, line); this module answers
through that Connection and never imports _agent. Shared state is in _state, errors in _errors."""
import os


def _rss_now():
    """VmRSS in bytes from /proc/self/statm (resident pages), None where there is none."""
    try:
        with open('/proc/self/statm', 'rb') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        return None


#: The RSS when the agent's thread began importing the request modules (this one first, with the
#: first request): what they add is counted from here (load_modules, take_census).
_RSS_AT_IMPORT = _rss_now()
_IMPORT_THREAD = __import__('_thread').get_ident()

from . import _state, _util, _wire  # noqa: E402  (after the RSS is read)
from ._errors import RequestError  # noqa: E402


_ASYNC = object()  # a handler that replies later (break) returns this


def _int_field(msg, name, default, lo, hi):
    v = msg.get(name, default)
    if v is None:
        v = default
    if (isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float('inf'), float('-inf'))
            or int(v) < lo or int(v) > hi):
        raise RequestError("'%s' must be an integer from %d to %d, got %r" % (name, lo, hi, v))
    return int(v)


def take_census(collect, top, caller_frame=None, largest=None, dup_min=None):
    global _modules_rss
    before = _util.proc_status_bytes('VmRSS')
    modules, _modules_rss = _modules_rss, 0  # the modules the first request loaded
    from . import _census
    with _state.census_lock:
        if largest or dup_min is not None:
            from . import _largest
            result, counts = _largest.census(collect, top, largest, dup_min, caller_frame=caller_frame)
        else:
            result, counts = _census.census(collect=collect, top=top, caller_frame=caller_frame)
        _state.state.prev_counts = _util.pack_counts(counts)
        del counts
        from . import _native
        _native.trim()  # the walk's buffers, freed in this thread's arena, go back (before `after`)
    after = _util.proc_status_bytes('VmRSS')
    if before is not None and after is not None:
        # What the census cost the process (its modules the first time, the allocator's arenas
        # its buffers leave): memhunt's, shown as such beside the curve (issue 9 leftover).
        result['agentRssBytes'] = after - before + modules
    return result


def _h_census(conn, msg):
    collect = msg.get('collect', False)
    if not isinstance(collect, bool):
        raise RequestError("'collect' must be true or false")
    top = _int_field(msg, 'top', 30, 1, 100000)
    # --largest N and --duplicates (--min-size): absent or null = not asked.
    largest = _int_field(msg, 'largest', 0, 0, 10000) or None
    dup_min = msg.get('duplicatesMinBytes')
    if dup_min is not None:
        dup_min = _int_field(msg, 'duplicatesMinBytes', 1, 1, 1 << 62)
    return take_census(collect, top, largest=largest, dup_min=dup_min)


def _h_trace_start(conn, msg):
    frames = _int_field(msg, 'frames', 1, 1, 1000)
    from . import _trace
    _trace.start(frames)
    return {}


def _h_trace_snapshot(conn, msg):
    top = _int_field(msg, 'top', 20, 1, 100000)
    from . import _trace
    return _trace.snapshot(top, _state.state)


def _h_refs(conn, msg):
    type_name = msg.get('typeName')
    if type_name is not None and (not isinstance(type_name, str) or not type_name.strip()):
        raise RequestError("'typeName' must be a type name as in a census (e.g. dict, mymod.Record) or null")
    samples = _int_field(msg, 'samples', 3, 1, 100)
    max_depth = _int_field(msg, 'maxDepth', 10, 1, 100)
    from . import _refs, _native
    with _state.census_lock:
        try:
            return _refs.refs(type_name, samples, max_depth, _util.unpack_counts(_state.state.prev_counts))
        finally:
            _native.trim()  # as after a census: the walks' buffers are not the program's


def _h_break(conn, msg):
    reason = msg.get('reason')
    reason = reason if isinstance(reason, str) and reason else 'requested by memhunt'
    from . import _debug
    req_id = msg['id']

    check = msg.get('check', False)
    if not isinstance(check, bool):
        raise RequestError("'check' must be true or false")

    def reply(ok, result=None, error=None):
        _reply(conn, req_id, ok, result, error)

    def ended(debugger_bytes=None):
        # The program runs on (`c`, or `q`): memhunt records the time in pdb as a pause, and the
        # RSS pdb added (its import, the user's commands) as the debugger's, not the program's.
        ev = {'type': 'break-end', 'wallMs': _util.wall_ms()}
        if debugger_bytes is not None:
            ev['debuggerBytes'] = debugger_bytes
        conn.send(ev)

    _debug.request_break(reason, reply, _state.main_ident, check, ended)
    return _ASYNC


def _h_ping(conn, msg):
    return {}


_HANDLERS = {
    'census': _h_census,
    'trace-start': _h_trace_start,
    'trace-snapshot': _h_trace_snapshot,
    'refs': _h_refs,
    'break': _h_break,
    'ping': _h_ping,
}


def _reply(conn, req_id, ok, result=None, error=None):
    msg = {'id': req_id, 'type': 'reply', 'ok': bool(ok)}
    if ok:
        msg['result'] = {} if result is None else result
    else:
        msg['error'] = str(error or 'failed').replace('\n', ' ')[:2000]
    conn.send(msg)


_loaded = False
#: True once a request has been handled: _RSS_AT_IMPORT is then no longer where load_modules began.
_served = False
#: RSS that load_modules() added (~1.7-2.9 MiB), until a census reports it as its own.
_modules_rss = 0

#: Requests that need none of the census modules: a --break-at (its check, then the break) must
#: not add their ~2-3 MiB to the program's memory right before
#: pdb; a later census imports them then. Matched on the line as memhunt writes it (no spaces).
_LIGHT = (b'"type":"break"', b'"type":"ping"')


def needs_modules(line):
    """Whether this request line needs load_modules() first (the census modules not imported yet)."""
    if _loaded:
        return False
    for light in _LIGHT:
        if light in line:
            return False
    return True


def load_modules():
    """Imports every module a request may need, at the first request: imported between two
    censuses instead, their objects would show up as growth in the second."""
    global _loaded, _modules_rss
    if _loaded:
        return
    _loaded = True
    # From this module's import (its own modules too: _util, _errors) when the first request is
    # the one that needs them (the usual case); not when a break or ping served first, or the
    # program's memhunt.snapshot() in another thread, imported it earlier.
    fresh = not _served and __import__('_thread').get_ident() == _IMPORT_THREAD
    before = _RSS_AT_IMPORT if fresh else _util.proc_status_bytes('VmRSS')
    _load_modules()
    # Their bytecode, when PYTHONDONTWRITEBYTECODE kept the imports from writing it: the next
    # process loads them instead of compiling them again (_bytecode.py).
    from . import _bytecode
    _bytecode.cache_own(_util.PACKAGE_DIR)
    after = _util.proc_status_bytes('VmRSS')
    if before is not None and after is not None:
        _modules_rss = max(0, after - before)


def _load_modules():
    _wire.load()
    from . import _census, _refs, _trace, _debug, _pandas, _largest, _native, _alloc  # noqa: F401
    import array, difflib, fnmatch, tracemalloc  # noqa: F401,E401
    # Never `import threading` here (nor anything that does): imported first by this thread, it
    # would take this thread for the main thread (3.8-3.12: threading.main_thread() wrong in the
    # program, and shutdown waiting forever for this thread on 3.9-3.12).


def handle(conn, line):
    global _served
    try:
        _handle(conn, line)
    finally:
        _served = True


def _handle(conn, line):
    req_id = None
    try:
        if needs_modules(line):
            load_modules()
        try:
            msg = _wire.decode(line)
        except ValueError:
            conn.report_error('memhunt sent a line that is not JSON (%d bytes)' % len(line))
            return
        if not isinstance(msg, dict):
            return
        req_id = msg.get('id')
        if isinstance(req_id, bool) or not isinstance(req_id, int):
            req_id = None
        kind = msg.get('type')
        if kind == 'reply':
            # The host refused our hello (protocol too new: id 0, docs/agent-protocol.md) and closes
            # the connection; the program runs on without the agent. No other reply comes to us.
            if not msg.get('ok', True):
                conn.alive = False
            return
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            if req_id is not None:
                _reply(conn, req_id, False, error='unknown request type %r (this agent speaks protocol %d: %s)'
                       % (kind, _wire.PROTOCOL, ', '.join(sorted(_HANDLERS))))
            return
        if req_id is None:
            return  # a request without an id cannot be answered
        result = handler(conn, msg)
        if result is not _ASYNC:
            _reply(conn, req_id, True, result)
    except RequestError as e:
        _reply(conn, req_id, False, error='%s' % e)
    except BaseException as e:  # a bug of ours, MemoryError, ...: the program goes on
        if req_id is not None:
            _reply(conn, req_id, False, error='the agent failed: %s: %s' % (type(e).__name__, e))
        conn.report_error('request failed', e)
