"""memhunt.isolated(fn, *args, **kwargs): run fn in a child process, so its memory really goes back.

Why a process: CPython does not necessarily return freed memory to the operating system (pymalloc
keeps arenas that still hold one live object; malloc keeps fragmented heap), so after a
memory-hungry step the process can stay large for the rest of the run. Only process exit returns
memory for sure.

The child is started with a fresh multiprocessing 'spawn' context (a new interpreter), not 'fork':
- its peak (VmHWM) is its own: a fork child's VmHWM starts at the parent's resident size, because
  the kernel counts the pages it shares with its parent, so "peak of the child" would mostly be the
  parent's memory;
- no fork of a multi-threaded process (this agent's thread, BLAS thread pools, CUDA contexts): what
  CPython 3.12+ warns about, and why 3.14 stops using fork by default;
- the child gets the agent too (a new interpreter runs sitecustomize), so it is in the recording.
The price: fn and its arguments are pickled (fn must be importable: a module-level function, or a
function of the main script, which the child imports without running its `if __name__ ==
'__main__':` block), and a child interpreter starts (~50 ms plus fn's imports).

The peak: the child sends its result, then waits; the parent reads VmHWM from /proc/<child>/status
(pickling the result is part of the peak), then lets it exit. A child that dies first (killed by
the OOM killer, os._exit) is measured by resource.getrusage(RUSAGE_CHILDREN).ru_maxrss instead,
when that rose (it is the largest peak of any waited-for child, so it only says something when this
child set a new maximum; otherwise the peak is reported as 0, unknown).
"""
import traceback

from . import _util

_perf_ms = _util.perf_ms

# The exit code of a "spawn" child that reached memhunt.isolated while importing the main script
# again (a call at the top level of a script without an `if __name__ == "__main__":` guard). The
# child leaves quietly with it and the parent raises one clear error, instead of two tracebacks.
_REIMPORTED_MAIN_EXIT = 86


class IsolatedError(RuntimeError):
    """The child could not run fn or could not return its outcome."""


class RemoteTraceback(Exception):
    """The child's traceback, as the __cause__ of the exception re-raised in the parent."""

    def __init__(self, text):
        Exception.__init__(self, text)
        self.text = text

    def __str__(self):
        return '\n\n"""\n(in the memhunt.isolated child process)\n' + self.text + '"""'


def _child_main(conn, fn, args, kwargs):
    try:
        payload = ('ok', fn(*args, **kwargs))
    except BaseException as e:
        payload = ('err', e, traceback.format_exc(), type(e).__name__, str(e))
    try:
        conn.send(payload)
    except BaseException as e:  # the result or the exception cannot be pickled
        if payload[0] == 'ok':
            text = 'the result of %s (%s) cannot be sent back to the parent: %s: %s' % (
                getattr(fn, '__qualname__', fn), type(payload[1]).__name__, type(e).__name__, e)
            conn.send(('err', None, text + '\n', 'IsolatedError', text))
        else:
            conn.send(('err', None, payload[2], payload[3], payload[4]))
    payload = None
    try:
        conn.recv()  # the parent reads our VmHWM now, then closes the pipe
    except (EOFError, OSError):
        pass


def _maxrss_children_bytes():
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    except Exception:
        return 0


def _describe_exit(code):
    if code is None:
        return 'did not exit'
    if code < 0:
        import signal
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = 'signal %d' % -code
        hint = ' (the kernel\'s OOM killer sends SIGKILL)' if -code == 9 else ''
        return 'was killed by %s%s' % (name, hint)
    return 'exited with code %d' % code


def isolated(fn, *args, **kwargs):
    import multiprocessing
    if getattr(multiprocessing.current_process(), '_inheriting', False):
        # multiprocessing's own flag (spawn.py _check_not_importing_main): this is the child's bootstrap.
        raise SystemExit(_REIMPORTED_MAIN_EXIT)
    label = getattr(fn, '__qualname__', None) or getattr(fn, '__name__', None) or repr(fn)
    ctx = multiprocessing.get_context('spawn')
    parent_conn, child_conn = ctx.Pipe(duplex=True)
    process = ctx.Process(target=_child_main, args=(child_conn, fn, args, kwargs),
                          name='memhunt-isolated-' + str(label)[:40])
    maxrss_before = _maxrss_children_bytes()
    t0 = _perf_ms()
    try:
        process.start()
    except AssertionError as e:
        parent_conn.close()
        child_conn.close()
        raise IsolatedError('memhunt.isolated cannot start a process from here (%s): multiprocessing '
                            'forbids children of daemonic workers such as Pool workers' % e)
    except Exception as e:
        parent_conn.close()
        child_conn.close()
        raise TypeError('memhunt.isolated runs %s in a new interpreter (multiprocessing "spawn"): fn and '
                        'its arguments must be picklable, and fn importable (a module-level function): '
                        '%s: %s' % (label, type(e).__name__, e)) from e
    child_conn.close()
    outcome = None
    peak = None
    try:
        try:
            outcome = parent_conn.recv()
        except EOFError:
            outcome = None
        except Exception as e:  # the result does not unpickle here
            outcome = ('err', None, '', 'IsolatedError',
                       'the result of %s could not be unpickled in the parent: %s: %s' % (label, type(e).__name__, e))
        if process.pid is not None:
            peak = _util.proc_status_bytes('VmHWM', process.pid)
    finally:
        parent_conn.close()
        process.join()
    duration = _perf_ms() - t0
    if peak is None:
        after = _maxrss_children_bytes()
        peak = after if after > maxrss_before else 0
    ok = outcome is not None and outcome[0] == 'ok'
    try:
        from . import _agent
        _agent.send({'type': 'isolated', 'label': str(label), 'childPid': process.pid or 0,
                     'peakRssBytes': int(peak), 'durationMs': round(duration, 3), 'ok': ok})
    except Exception:
        pass
    if ok:
        return outcome[1]
    if outcome is None and process.exitcode == _REIMPORTED_MAIN_EXIT:
        raise IsolatedError('memhunt.isolated(%s) was reached at the top level of the main script: its child process '
                            '(multiprocessing "spawn") imports that script again and would start another child; put '
                            'the code that calls memhunt.isolated under `if __name__ == "__main__":`' % label)
    if outcome is None:
        hint = ''
        if process.exitcode == 1:
            hint = (' (see its stderr; a program without an `if __name__ == "__main__":` guard is run '
                    'again by a "spawn" child, which then fails)')
        raise IsolatedError('memhunt.isolated: the child process (pid %s) running %s %s before returning '
                            'a result%s' % (process.pid, label, _describe_exit(process.exitcode), hint))
    _, exc, tb_text, type_name, message = outcome
    if isinstance(exc, BaseException):
        raise exc from RemoteTraceback(tb_text)
    raise IsolatedError('%s: %s' % (type_name, message)) from RemoteTraceback(tb_text)
