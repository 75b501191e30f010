"""Debugger break (memory_profiler's --pdb-mmem): the main thread enters pdb at the line it runs.

The request arrives in the agent's thread, but pdb must run in the main thread, at the line the
program is executing. signal.signal() cannot be called outside the main thread ("signal only works
in main thread of the main interpreter"), so a temporary signal handler cannot be installed from
here, and installing one at start-up would take a signal away from the program for good. Instead
the agent asks the interpreter to run a function in the main thread: Py_AddPendingCall (through
ctypes), the mechanism CPython itself uses to run signal handlers. The main thread runs it at its
next bytecode boundary (microseconds when it runs Python code); that function is called from the
frame the program is executing, replies to memhunt, prints the reason and the warning, and starts
pdb on that frame. Nothing stays installed afterwards.

The terminal: pdb reads commands and writes its prompt on the process's stdin/stdout when stdin is
a terminal. Otherwise (multiprocessing points a worker's stdin at /dev/null, a job may run with
stdin redirected) it uses memhunt's own terminal, whose path `memhunt run` passes in MEMHUNT_TTY
when it runs in one (the worker is in memhunt's session, so it may read it). Without either, the
break is refused: pdb reading a pipe or /dev/null would quit the program at the first end of file.

The reply and the message: both wait until pdb has really stopped (its first stop after
set_trace is at the next line the program runs, which may be another line than the one the main
thread was at when the request came), so memhunt learns that the break happened, and the line in
the message is the line pdb shows.

Limits: a main thread blocked in C (time.sleep, a lock, a read) breaks when the call returns; after
BREAK_TIMEOUT_S the request is cancelled and the reply says where the main thread is blocked.
"""
import _thread
import os
import sys

from . import _util

#: How long the main thread may take to reach Python code before the break is cancelled.
BREAK_TIMEOUT_S = 10.0

WARNING = ('memhunt: warning: objects you look at from pdb (p, pp, display, locals(), the `_` of the '
           'last result, tracebacks) stay referenced by the debugger and look leaked in later '
           'censuses and in the memory curve; continue with `c` before you judge growth.')

#: [callback, outcome]: a ctypes callback must stay alive until the interpreter has called it and
#: it has returned (freeing it while it runs frees the code it returns through); a cancelled one
#: may still be called later. Entries that have run are dropped at the next request.
_pending = []  # type: list


def _main_frame_description(main_ident):
    try:
        f = sys._current_frames().get(main_ident)
        if f is None:
            return 'the main thread has ended'
        return 'the main thread is at %s:%d in %s()' % (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
    except Exception:
        return 'the main thread is not running Python code'


class _NoTerminal(Exception):
    """No terminal for pdb; the message is the reply's error."""


def _terminal():
    """(stdin, stdout) for pdb: (None, None) for the process's own when its stdin is a terminal,
    else memhunt's terminal (MEMHUNT_TTY) opened for reading and writing."""
    stdin = sys.stdin
    try:
        if stdin is not None and os.isatty(stdin.fileno()):
            return None, None
    except Exception:
        pass
    path = os.environ.get('MEMHUNT_TTY')
    if not path:
        raise _NoTerminal('stdin of pid %d is not a terminal, and memhunt does not run in one: no debugger '
                          'break (run memhunt from a terminal to use --break-at; the program runs on)' % os.getpid())
    try:
        # Two streams: a terminal is not seekable, so one 'r+' file object cannot be made of it.
        fin = open(path, 'r', encoding='utf-8', errors='replace')
        try:
            fout = open(path, 'w', buffering=1, encoding='utf-8', errors='replace')
        except BaseException:
            fin.close()
            raise
    except OSError as e:
        raise _NoTerminal('stdin of pid %d is not a terminal, and memhunt\'s terminal %s cannot be opened (%s): '
                          'no debugger break; the program runs on' % (os.getpid(), path, e.strerror or e))
    if not fin.isatty():
        fin.close()
        fout.close()
        raise _NoTerminal('stdin of pid %d is not a terminal, and %s (MEMHUNT_TTY) is not one either: no '
                          'debugger break; the program runs on' % (os.getpid(), path))
    return fin, fout


def _debugger(streams, reason, reply, signal_done, ended, entered):
    """A pdb.Pdb that, at its first stop, prints memhunt's message (with the line it stops at) and
    replies to memhunt, before its prompt; and calls ended(debugger_bytes) once the program runs on
    (`c`, or a `q` that ends it): memhunt records the time in between as a pause.

    entered: {'wallMs', 'rss'} taken when the main thread took the call, before pdb is imported.
    The pause starts there, and debugger_bytes is the RSS this process gained from then to `c`
    (importing pdb, readline and their modules, ~4-11 MiB, plus what the user's commands kept):
    memory the program did not allocate, which the growth analysis subtracts (issue 9)."""
    import pdb

    class Debugger(pdb.Pdb):
        _memhunt_first = True
        _memhunt_ended = False

        def _memhunt_end(self):
            if not self._memhunt_first and not self._memhunt_ended:
                self._memhunt_ended = True
                try:
                    now = _util.proc_status_bytes('VmRSS')
                    before = entered.get('rss')
                    ended(max(0, now - before) if now is not None and before is not None else None)
                except Exception:
                    pass

        def set_continue(self):
            self._memhunt_end()
            return pdb.Pdb.set_continue(self)

        def set_quit(self):
            self._memhunt_end()
            return pdb.Pdb.set_quit(self)

        def interaction(self, frame, *args):
            if self._memhunt_first and frame is not None:
                self._memhunt_first = False
                try:
                    self.stdout.write('\nmemhunt: break in pid %d at %s:%d in %s(): %s\n%s\n' % (
                        os.getpid(), frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name,
                        reason, WARNING))
                    self.stdout.flush()
                except Exception:
                    pass
                reply(True, {'wallMs': entered['wallMs']})
                signal_done()
            return pdb.Pdb.interaction(self, frame, *args)

    stdin, stdout = streams
    return Debugger(stdin=stdin, stdout=stdout, skip=['memhunt', 'memhunt.*', '_memhunt_agent', '_memhunt_agent.*'])


def _close(streams):
    for f in streams:
        if f is not None:
            try:
                f.close()
            except Exception:
                pass


def request_break(reason, reply, main_ident, check=False, ended=None):
    """Arranges for the main thread to enter pdb; reply(ok, result, error) is called once, with
    {'wallMs'} of the stop; ended() once the program runs on. check=True only answers whether a
    break can be made (a terminal, the main thread, ctypes), so memhunt says it stops the process
    only when it can."""
    try:
        streams = _terminal()
    except _NoTerminal as e:
        reply(False, error=str(e))
        return
    if main_ident is None:
        _close(streams)
        reply(False, error='the agent does not know the main thread of pid %d' % os.getpid())
        return
    try:
        import ctypes
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
        add_pending_call = ctypes.pythonapi.Py_AddPendingCall
        add_pending_call.argtypes = [callback_type, ctypes.c_void_p]
        add_pending_call.restype = ctypes.c_int
    except Exception as e:
        _close(streams)
        reply(False, error='debugger break needs ctypes, which this Python lacks (%s)' % e)
        return
    if check:
        _close(streams)
        reply(True, {})
        return
    if ended is None:
        def ended(_debugger_bytes=None):
            pass

    _pending[:] = [p for p in _pending if not p[1].get('ran')]
    pid = os.getpid()
    # _thread, not threading: a first `import threading` in this (non-main) thread would make it
    # threading's "main thread" (3.8-3.12), and interpreter shutdown would wait for it forever.
    lock = _thread.allocate_lock()
    outcome = {'state': 'waiting'}  # -> 'entered' or 'cancelled', decided once under lock
    done = _thread.allocate_lock()
    done.acquire()  # released once pdb is about to start (or failed to)

    def signal_done():
        if not outcome.get('done'):
            outcome['done'] = True
            done.release()

    def in_main_thread(_arg):
        try:
            if os.getpid() != pid:
                return 0  # a fork child inherited the interpreter's queue of pending calls
            with lock:
                if outcome['state'] != 'waiting':
                    return 0  # cancelled: the program goes on
                outcome['state'] = 'entered'
            # Before pdb is imported: the pause (and the memory the debugger adds) start here.
            entered = {'wallMs': _util.wall_ms(), 'rss': _util.proc_status_bytes('VmRSS')}
            frame = sys._getframe(1)
            while frame is not None and _util.is_agent_frame(frame):
                frame = frame.f_back
            if frame is None:
                reply(False, error='the main thread has no Python frame to stop in')
                signal_done()
                return 0
            debugger = _debugger(streams, reason, reply, signal_done, ended, entered)
            debugger.set_trace(frame)
        except BaseException as e:
            try:
                reply(False, error='could not start pdb: %s: %s' % (type(e).__name__, e))
            except Exception:
                pass
            signal_done()
        finally:
            outcome['ran'] = True
        return 0

    cb = callback_type(in_main_thread)
    _pending.append([cb, outcome])
    if add_pending_call(cb, None) != 0:
        outcome['ran'] = True
        reply(False, error='the interpreter refused to schedule the break (its queue of pending calls is full)')
        return
    if done.acquire(True, BREAK_TIMEOUT_S):
        return
    with lock:
        if outcome['state'] != 'waiting':
            return
        outcome['state'] = 'cancelled'
    reply(False, error='no break: the main thread of pid %d ran no Python code for %d s (%s); the '
                       'request is cancelled' % (os.getpid(), BREAK_TIMEOUT_S, _main_frame_description(main_ident)))
