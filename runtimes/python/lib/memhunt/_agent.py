"""The in-process agent: one connection to memhunt per process (docs/agent-protocol.md).

Started by inject/sitecustomize.py when MEMHUNT_AGENT_SOCKET is set. It connects to the session's
Unix socket, says hello, and serves requests from a thread blocked in recv() (which releases the
GIL: idle, it costs nothing). Every failure is caught; what can be reported is sent as an
`agent-error` event, and the program runs on.

Choices, with their reasons:
- The serving thread is a raw `_thread` thread, not a threading.Thread: programs that join every
  thread of threading.enumerate() at exit, or assert that no thread is left over, never see it.
- `_socket` rather than `socket`, and no json at start-up (see _wire.py): start-up cost.
- Sends use MSG_NOSIGNAL: a program that restored SIGPIPE's default action would otherwise be
  killed by a write to a closed connection. Before each send, the descriptor is checked to still be
  our socket (device and inode): a program that closes every descriptor (daemonisation,
  os.closerange) and opens a file that reuses the number must not receive our JSON.
- Fork: the child's copy of the connection belongs to the parent's session stream. The child
  closes its copy of the descriptor (close, never shutdown, which would end the parent's
  connection too), connects anew and says hello with its own pid. Nothing else happens in a fork
  child: the census code is not imported there (a fork costs what a plain fork costs plus one
  connect, one hello and one thread; bench/fork.mjs).

Modules: this one is imported at start-up and depends only on _wire and _state (others are imported when needed: every
Python process of the tree pays for what start-up imports). Requests
are dispatched one way, from the serving thread to _requests (imported with the first request),
which never imports this module back: it answers through the Connection it is given.
"""
import _socket
import _thread
import os
import sys

from . import _state, _wire

FEATURES = ['census', 'trace', 'refs', 'break', 'isolated', 'section', 'snapshot']

_getpid = os.getpid
_getppid = os.getppid
_fstat = os.fstat
_environ_get = os.environ.get
_start_new_thread = _thread.start_new_thread
_allocate_lock = _thread.allocate_lock
_get_ident = _thread.get_ident
_AF_UNIX = _socket.AF_UNIX
_SOCK_STREAM = _socket.SOCK_STREAM
_MSG_NOSIGNAL = getattr(_socket, 'MSG_NOSIGNAL', 0)
_new_socket = _socket.socket
_version_info = sys.version_info
_register_at_fork = getattr(os, 'register_at_fork', None)
_sleep = __import__('time').sleep
_modules = sys.modules
#: memhunt's probe line, byte for byte (src/agents/protocol.ts PROBE_LINE): matched without json.
_PROBE = b'{"type":"probe"}'

#: Held while the agent's thread imports the request modules; a fork waits for it (see serve()).
_import_lock = _allocate_lock()

#: Connect timeout: a Unix socket connects at once or fails; this only bounds a full backlog.
CONNECT_TIMEOUT_S = 5.0


class Connection(object):
    """One connection to the session's socket, owned by the process that made it."""

    def __init__(self, path):
        self.pid = _getpid()
        self.lock = _allocate_lock()
        self.alive = False
        self.probed = None
        self.probe_failed = False
        self.sock = _new_socket(_AF_UNIX, _SOCK_STREAM)  # close-on-exec, as every Python socket
        try:
            self.sock.settimeout(CONNECT_TIMEOUT_S)
            self.sock.connect(path)
            self.sock.settimeout(None)
            st = _fstat(self.sock.fileno())
            self.ident = (st.st_dev, st.st_ino)
        except BaseException:
            self.sock.close()
            raise
        self.alive = True

    def _still_ours(self):
        try:
            fd = self.sock.fileno()
            if fd < 0:
                return False
            st = _fstat(fd)
            return (st.st_dev, st.st_ino) == self.ident
        except OSError:
            return False

    def send(self, msg):
        """Sends one message; False when the connection is gone (the caller goes on)."""
        if not self.alive or self.pid != _getpid():
            return False
        data = _wire.encode(msg)
        with self.lock:
            if not self.alive:
                return False
            if not self._still_ours():
                self._abandon()
                return False
            try:
                self.sock.sendall(data, _MSG_NOSIGNAL)
            except OSError:
                self.alive = False
                return False
        return True

    def _abandon(self):
        """Forget the descriptor without closing it: its number now belongs to someone else."""
        self.alive = False
        try:
            self.sock.detach()
        except Exception:
            pass

    def drop_inherited(self):
        """In a fork child: release the parent's connection without touching the parent's stream."""
        self.alive = False
        if self._still_ours():
            try:
                self.sock.close()  # our copy of the descriptor only; no shutdown()
            except OSError:
                pass
        else:
            self._abandon()

    def report_error(self, where, exc=None):
        """Sends an agent-error event: one line, then the innermost frames of the traceback."""
        try:
            from . import _util  # not at start-up: an idle agent never needs it (memory, start-up time)
            self.send({'type': 'agent-error', 'message': _util.error_message(where, exc)})
        except Exception:
            pass

    def probe(self):
        """memhunt's probe (no id, no reply): facts learnt late, sent when they changed. Only a
        process that has imported distributed has any; the others do one look-up."""
        if _modules.get('distributed.worker') is None:
            return
        try:
            with _import_lock:
                from . import _dask
            msg = _dask.facts()
            if msg is not None and msg != self.probed:
                self.probed = msg
                self.send(msg)
        except Exception as e:
            if not self.probe_failed:
                self.probe_failed = True
                self.report_error('reading the Dask workers of this process', e)

    def serve(self):
        """The agent thread: reads requests line by line until the connection ends."""
        _ignore_alloc()
        buf = b''
        handle = None  # the request handlers are imported with the first request (start-up cost)
        try:
            while True:
                try:
                    data = self.sock.recv(65536)
                except InterruptedError:
                    continue
                except OSError:
                    break
                if not data or self.pid != _getpid():
                    break
                buf += data
                while True:
                    nl = buf.find(b'\n')
                    if nl < 0:
                        break
                    line = buf[:nl]
                    buf = buf[nl + 1:]
                    if line == _PROBE:
                        self.probe()
                    elif line.strip():
                        if handle is None:
                            # Imported under _import_lock: a fork during these imports would leave
                            # the child with the modules' import locks held by a thread it does
                            # not have, and its agent would hang at its first request.
                            with _import_lock:
                                from ._requests import handle, load_modules
                                load_modules()
                        handle(self, line)
        except BaseException:  # never let the thread print a traceback into the program's stderr
            pass
        finally:
            self.alive = False


def _ignore_alloc():
    """The agent's threads allocate for memhunt, not for the program: never sampled (--allocations)."""
    mod = sys.modules.get('_memhunt_alloc')
    if mod is not None:
        mod.ignore_this_thread()


# ---------------------------------------------------------------------------------- state

_conn = None
_started = False
#: In a fork child, while the agent's thread connects: a lock it holds until the connection is
#: up (or failed). Messages the program sends meanwhile wait for it (CONNECT_TIMEOUT_S at most)
#: rather than being lost; the child itself does not wait for the connection.
_connecting = None


def _wait_connected():
    pending = _connecting
    if pending is not None and _conn is None:
        if pending.acquire(True, CONNECT_TIMEOUT_S):
            pending.release()


def active():
    _wait_connected()
    conn = _conn
    return conn is not None and conn.alive and conn.pid == _getpid()


def send(msg):
    _wait_connected()
    conn = _conn
    if conn is None:
        return False
    try:
        return conn.send(msg)
    except Exception:
        return False


def report_error(where, exc=None):
    """Sends an agent-error event: one line, then the innermost frames of the traceback."""
    conn = _conn
    if conn is not None:
        conn.report_error(where, exc)


def _argv():
    argv = getattr(sys, 'argv', None)
    if isinstance(argv, list) and argv:
        return [str(a) for a in argv]
    try:
        with open('/proc/self/cmdline', 'rb') as f:
            return [a.decode('utf-8', 'surrogateescape') for a in f.read().split(b'\0') if a]
    except OSError:
        return []


def _hello():
    return {
        'type': 'hello',
        'role': 'agent',
        'protocol': _wire.PROTOCOL,
        'pid': _getpid(),
        'ppid': _getppid(),
        'runtime': 'python',
        'runtimeVersion': _wire.version_string(),
        'executable': sys.executable or '',
        'argv': _argv(),
        'features': FEATURES,
    }


def _connect(path):
    global _conn
    conn = Connection(path)
    _conn = conn
    conn.send(_hello())
    _start_new_thread(conn.serve, ())
    return conn


def _connect_in_thread(path):
    """A fork child's agent: connects, says hello and serves from its own thread, so the child
    does not wait for the connection (a connect and a send each wake memhunt's process: on a
    loaded machine the child would lose its CPU at each; bench/fork.mjs)."""
    global _connecting
    lock = _allocate_lock()
    lock.acquire()
    _connecting = lock

    def run():
        global _conn
        try:
            try:
                conn = Connection(path)
            except OSError:
                return  # memhunt is gone: run as if there were no agent
            _conn = conn
            conn.send(_hello())
        finally:
            lock.release()
        conn.serve()

    try:
        _start_new_thread(run, ())
    except BaseException:
        _connecting = None
        lock.release()
        raise


# ---------------------------------------------------------------------------------- fork
#
# Python 3.12+ warns "This process (pid=N) is multi-threaded, use of fork() may lead to deadlocks
# in the child." (a DeprecationWarning) when os.fork() finds more than one thread in the process
# (Modules/posixmodule.c, warn_about_fork_with_threads: the thread count of /proc/self/stat). When
# the only other thread is the agent's (blocked in recv(), holding no lock a child could need), the
# warning would be about memhunt, not the program: a test suite that turns warnings into errors
# (pytest -W error, `with warnings.catch_warnings(): warnings.simplefilter('error')` around each
# test) would fail under memhunt only. So for the duration of that one fork, an "ignore" entry for
# exactly that message (with this pid) is put at the front of the *current* filter list, in front
# of whatever the program (or pytest, per test) has put there, and taken out again as soon as the
# warning has been decided: 3.12 decides before the after_in_parent hooks run, so the hook takes it
# out; 3.13 decides after them, so a short-lived thread takes it out once the forking thread lets
# go of the GIL (it cannot run before: the check and the warning run with the GIL held). A child
# takes its copy out at once. A program with threads of its own gets the warning as it would
# without memhunt. Stopping the agent's thread around the fork instead would need a second
# descriptor to wake it (the select module at every start-up) and, on 3.13, a way to restart it
# after os.fork() returns that no hook offers.

_FORK_WARNINGS = ('fork', 'forkpty')
_fork_filters = None  # (the list they were put in, the entries) while a fork is under way
#: Threads started by _after_fork_parent (3.13+) that have not finished: a fork that follows at once
#: (the forking thread kept the GIL) still counts them, and they are ours too. Finished ones are
#: joined before counting (a thread that returned is still counted until the system has ended it).
_cleaners = 0
_cleaner_handles = []  # type: list
_start_joinable_thread = getattr(_thread, 'start_joinable_thread', None)  # 3.13+


def _forked_for_exec():
    """True when the fork is subprocess's (a preexec_fn runs the at-fork hooks): the child is about
    to exec, and a new interpreter, if it is Python, will connect by itself."""
    f = sys._getframe(1)
    for _ in range(4):
        if f is None:
            return False
        if f.f_code.co_name == '_execute_child' and f.f_globals.get('__name__') == 'subprocess':
            return True
        f = f.f_back
    return False


def _threads_of_process():
    try:
        with open('/proc/self/stat', 'rb') as f:
            text = f.read()
        return int(text[text.rindex(b')') + 2:].split()[17])
    except Exception:
        return -1


def _warnings_module():
    """The module whose `filters` the interpreter reads: warnings once imported (catch_warnings
    replaces warnings.filters), else the C module's own list (importing warnings costs start-up)."""
    mod = sys.modules.get('warnings')
    if mod is None or not isinstance(getattr(mod, 'filters', None), list):
        import _warnings as mod
    return mod


def _filters_mutated(mod):
    fn = getattr(mod, '_filters_mutated', None) or getattr(mod, '_filters_mutated_lock_held', None)
    if fn is None:
        import _warnings
        fn = getattr(_warnings, '_filters_mutated', None)
    if fn is not None:
        fn()


def _before_fork_all():
    """Every Python: a fork waits while the agent's thread imports (5 s at most)."""
    global _import_held
    try:
        _import_held = _import_lock.acquire(True, CONNECT_TIMEOUT_S)
    except Exception:
        _import_held = False
    if _version_info >= (3, 12):
        _before_fork()


def _after_fork_parent_all():
    global _import_held
    if _import_held:
        _import_held = False
        _import_lock.release()
    if _version_info >= (3, 12):
        _after_fork_parent()


_import_held = False


def _before_fork():
    global _fork_filters
    try:
        _drop_fork_filters()
        for h in _cleaner_handles[:]:
            if h.is_done():
                h.join()
                _cleaner_handles.remove(h)
        conn = _conn
        ours = conn is not None and conn.alive and conn.pid == _getpid() or (_connecting is not None and _conn is None)
        if not ours or _threads_of_process() - _cleaners != 2:
            return
        mod = _warnings_module()
        filters = mod.filters
        pid = _getpid()
        # A str message is matched exactly by the interpreter (Python/_warnings.c, check_matched):
        # no `re` needed, and nothing but this pid's own warning about this fork can match.
        entries = tuple(('ignore', 'This process (pid=%d) is multi-threaded, use of %s() may lead to '
                         'deadlocks in the child.' % (pid, name), DeprecationWarning, None, 0)
                        for name in _FORK_WARNINGS)
        filters[0:0] = entries
        # Where the forking thread calls os.fork() from (this hook runs inside that call): 3.13's
        # cleaner waits until that thread has moved on from there.
        caller = sys._getframe(1)
        _fork_filters = (filters, entries, _get_ident(), caller, caller.f_lasti)
        _filters_mutated(mod)
    except Exception:
        pass


def _drop_fork_filters():
    """Takes our entries out of the list they were put in (by identity: the program may hold an
    equal entry of its own)."""
    global _fork_filters
    put = _fork_filters
    _fork_filters = None
    if put is None:
        return
    try:
        filters, entries = put[0], put[1]
        filters[:] = [f for f in filters if not any(f is e for e in entries)]
        _filters_mutated(_warnings_module())
    except Exception:
        pass


def _after_fork_parent():
    if _fork_filters is None:
        return
    if _version_info < (3, 13):
        _drop_fork_filters()
        return
    global _cleaners
    _cleaners += 1
    try:
        if _start_joinable_thread is not None:
            _cleaner_handles.append(_start_joinable_thread(_clean_after_fork))
        else:
            _start_new_thread(_clean_after_fork, ())
    except Exception:
        _cleaners -= 1
        _drop_fork_filters()


def _clean_after_fork():
    """3.13+: takes the entry out once the forking thread has returned from os.fork() (the warning
    is decided just before it returns, with the GIL held; starting this thread may hand the GIL over
    earlier, so this thread waits for the forking thread's frame to move on; 1 s at most)."""
    global _cleaners
    try:
        put = _fork_filters
        if put is not None:
            ident, frame, lasti = put[2], put[3], put[4]
            for _ in range(2000):
                f = sys._current_frames().get(ident)
                if f is not frame or f.f_lasti != lasti or _fork_filters is not put:
                    break
                f = None
                _sleep(0.0005)
            frame = f = None
            if _fork_filters is put:
                _drop_fork_filters()
    finally:
        _cleaners -= 1


def _after_fork_child():
    global _conn, _cleaners, _connecting, _import_lock, _import_held
    _import_lock = _allocate_lock()
    _import_held = False
    try:
        _cleaners = 0
        del _cleaner_handles[:]
        _connecting = None
        _drop_fork_filters()
        _state.after_fork_in_child()
        # Only a census that was running needs undoing; a child never imports the census code.
        census = sys.modules.get(__package__ + '._census')
        if census is not None:
            census.after_fork_in_child()
        old = _conn
        _conn = None
        if old is not None:
            old.drop_inherited()
        if _forked_for_exec():
            return
        alloc = sys.modules.get(__package__ + '._alloc')
        if alloc is not None:
            alloc.after_fork_in_child(send)
        path = _environ_get('MEMHUNT_AGENT_SOCKET')
        if path:
            _connect_in_thread(path)
    except Exception as e:
        report_error('reconnecting after fork', e)


# ---------------------------------------------------------------------------------- start

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


def _parse_options(text):
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


def start():
    """Starts the agent once per process. Raises nothing."""
    global _started, _main_ident
    if _started:
        return
    _started = True
    try:
        path = _environ_get('MEMHUNT_AGENT_SOCKET')
        if not path:
            return
        _state.main_ident = _get_ident()
        problems = []
        opts_text = _environ_get('MEMHUNT_AGENT_OPTIONS')
        options, problem = _parse_options(opts_text)
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
                    FEATURES.append('alloc')
            except Exception as e:
                problems.append('sampled allocations unavailable in pid %d (%s: %s)' % (_getpid(), type(e).__name__, e))
        try:
            _connect(path)
        except OSError:
            # memhunt is gone or the socket is not ours to use: run as if there were no agent.
            return
        for p in problems:
            send({'type': 'agent-error', 'message': p})
        if _register_at_fork is not None:
            _register_at_fork(before=_before_fork_all, after_in_parent=_after_fork_parent_all,
                              after_in_child=_after_fork_child)
    except Exception as e:
        report_error('agent start-up', e)
