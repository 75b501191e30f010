"""MEMHUNT_AGENT_OPTIONS, when it asks for more than the default (docs/agent-protocol.md,
"Injection"): tracemalloc (--trace-allocations) and sampled allocations (--allocations).

Imported by _agent.start() only when the options are not memhunt's plain default
(`{"trace":false,"traceFrames":N}`): every Python process of the tree pays for what start-up
imports and runs. Parsing them there cost more than their code: int('1') calls libm's log() on
3.11+ (Objects/longobject.c), whose first call maps ~190 KiB of libm's tables and symbols into the
process (BENCHMARKS.md, "The agent's own memory: what start-up touches").
"""
import sys

from . import _state, _wire

#: Allocation sites sent at exit (memhunt's periodic trace snapshots ask for as many).
TRACE_FINAL_TOP = 25


def _scalar(tok):
    if tok == 'true':
        return True
    if tok == 'false':
        return False
    if tok == 'null':
        return None
    if tok.startswith('"') and tok.endswith('"') and len(tok) >= 2 and '\\' not in tok:
        return tok[1:-1]
    try:
        return int(tok)
    except ValueError:
        return float(tok)


def _parse_flat_object(text):
    """{"trace": true, "traceFrames": 5} without importing json (see _wire.py); None when the text
    is anything but a flat object of plain scalars, and json decides."""
    t = text.strip()
    if not (t.startswith('{') and t.endswith('}')) or '\\' in t or '[' in t or '{' in t[1:]:
        return None
    body = t[1:-1].strip()
    out = {}
    if not body:
        return out
    for part in body.split(','):
        if part.count('"') not in (2, 4):
            return None
        k, sep, v = part.partition(':')
        k = k.strip()
        if not sep or not (k.startswith('"') and k.endswith('"') and len(k) >= 2):
            return None
        try:
            out[k[1:-1]] = _scalar(v.strip())
        except ValueError:
            return None
    return out


def parse(text):
    """(options, problem): the options as a dict, and one line when they are not usable."""
    if not text:
        return {}, None
    try:
        opts = _parse_flat_object(text)
        if opts is None:
            opts = _wire.decode(text.encode('utf-8', 'surrogateescape'))
        if not isinstance(opts, dict):
            return {}, 'MEMHUNT_AGENT_OPTIONS is not a JSON object: %r' % text[:200]
        return opts, None
    except Exception as e:
        return {}, 'MEMHUNT_AGENT_OPTIONS is not valid JSON (%s): %r' % (e, text[:200])


def start(text, features, send, getpid):
    """Starts what the options ask for; returns the problems to report (one line each). Appends
    'alloc' to features when the sampled allocation hooks run."""
    problems = []
    options, problem = parse(text)
    if problem:
        problems.append(problem)
    if options.get('trace'):
        try:
            frames = options.get('traceFrames', 1)
            if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
                problems.append('MEMHUNT_AGENT_OPTIONS traceFrames must be a positive integer, got %r; using 1' % (frames,))
                frames = 1
            from . import _trace
            _trace.start(frames)
            # The sites at exit: a run shorter than the first periodic trace snapshot (5 s),
            # or one that ends between two, has its final sites (os._exit skips it).
            import atexit
            atexit.register(_trace_at_exit)
        except Exception as e:
            problems.append('could not start tracemalloc: %s: %s' % (type(e).__name__, e))
    mean = options.get('allocations')
    if mean:
        try:
            from . import _alloc
            line = _alloc.start(int(mean), send)
            if line:
                problems.append(line)
            else:
                features.append('alloc')
        except Exception as e:
            problems.append('sampled allocations unavailable in pid %d (%s: %s)' % (getpid(), type(e).__name__, e))
    return problems


def _trace_at_exit():
    """atexit (registered at start-up, so it runs after the program's own handlers): one last
    tracemalloc snapshot, sent as a trace-final event. Only by a process whose agent is connected
    (a fork child that never connected is not made to connect at its exit)."""
    agent = sys.modules.get(__package__ + '._agent')
    conn = getattr(agent, '_conn', None)
    if conn is None or not conn.alive or conn.pid != agent._getpid():
        return
    try:
        from . import _trace
        import tracemalloc
        if not tracemalloc.is_tracing():
            return
        held = _state.census_lock.acquire(True, 5.0)  # not while the agent's thread takes one
        try:
            trace = _trace.snapshot(TRACE_FINAL_TOP, _state.state)
        finally:
            if held:
                _state.census_lock.release()
        agent.send({'type': 'trace-final', 'trace': trace})
    except Exception:
        pass
