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
  connection too), connects anew and says hello with its own pid.
"""
import _socket
import _thread
import os
import sys

from . import _wire

PROTOCOL = 1
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

#: Connect timeout: a Unix socket connects at once or fails; this only bounds a full backlog.
CONNECT_TIMEOUT_S = 5.0


class Connection(object):
    """One connection to the session's socket, owned by the process that made it."""

    def __init__(self, path):
        self.pid = _getpid()
        self.lock = _allocate_lock()
        self.alive = False
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

    def serve(self):
        """The agent thread: reads requests line by line until the connection ends."""
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
                    if line.strip():
                        if handle is None:
                            from ._requests import handle
                        handle(self, line)
        except BaseException:  # never let the thread print a traceback into the program's stderr
            pass
        finally:
            self.alive = False


# ---------------------------------------------------------------------------------- state

_conn = None
_started = False
_main_ident = None


class State(object):
    """What the agent remembers between requests: the previous census and trace snapshot."""
    # Kept packed (see _util.pack_counts): a dict of strings here would be growth in the next census.
    prev_counts = None    # {type name: count} of the previous census
    prev_sites = None     # {"file\x1fline": bytes} of the previous trace snapshot
    prev_packages = None  # {package: bytes} of the previous trace snapshot


state = State()
census_lock = _allocate_lock()


def take_census(collect, top, caller_frame=None):
    from . import _requests
    return _requests.take_census(collect, top, caller_frame)


def active():
    conn = _conn
    return conn is not None and conn.alive and conn.pid == _getpid()


def send(msg):
    conn = _conn
    if conn is None:
        return False
    try:
        return conn.send(msg)
    except Exception:
        return False


def report_error(where, exc=None):
    """Sends an agent-error event: one line, then the innermost frames of the traceback."""
    try:
        if exc is None:
            exc = sys.exc_info()[1]
        message = where
        if exc is not None:
            message = '%s: %s: %s' % (where, type(exc).__name__, exc)
            tb = exc.__traceback__
            frames = []
            while tb is not None:
                frames.append('%s:%d' % (os.path.basename(tb.tb_frame.f_code.co_filename), tb.tb_lineno))
                tb = tb.tb_next
            if frames:
                message += ' (at ' + ' < '.join(reversed(frames[-6:])) + ')'
        send({'type': 'agent-error', 'message': message[:4000]})
    except Exception:
        pass


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
        'protocol': PROTOCOL,
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


# ---------------------------------------------------------------------------------- fork

_fork_filter = None


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


def _before_fork():
    """Python 3.12+ warns "This process is multi-threaded, use of fork() may lead to deadlocks" on
    os.fork() when the process has more than one thread. When the only other thread is the agent's
    (which holds no lock a child could need), the warning would be about us, not the program, so a
    filter for it is in place; it is removed before any fork of a process with threads of its own.
    The filter stays between forks: 3.13 warns after the after_in_parent hooks have run."""
    global _fork_filter
    try:
        if _version_info < (3, 12):
            return
        ours_only = active() and _threads_of_process() == 2
        if ours_only and _fork_filter is None:
            import warnings
            warnings.filterwarnings('ignore', message=r'This process \(pid=\d+\) is multi-threaded',
                                    category=DeprecationWarning)
            _fork_filter = warnings.filters[0]
        elif not ours_only and _fork_filter is not None:
            _drop_fork_filter()
    except Exception:
        pass


def _drop_fork_filter():
    global _fork_filter
    f = _fork_filter
    _fork_filter = None
    if f is not None:
        try:
            import warnings
            warnings.filters.remove(f)
            warnings._filters_mutated()
        except Exception:
            pass


def _after_fork_child():
    global _conn, census_lock
    try:
        census_lock = _allocate_lock()
        try:
            from . import _census
            _census.after_fork_in_child()
        except Exception:
            pass
        old = _conn
        _conn = None
        if old is not None:
            old.drop_inherited()
        if _forked_for_exec():
            return
        path = _environ_get('MEMHUNT_AGENT_SOCKET')
        if path:
            _connect(path)
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
        _main_ident = _get_ident()
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
        try:
            _connect(path)
        except OSError:
            # memhunt is gone or the socket is not ours to use: run as if there were no agent.
            return
        for p in problems:
            send({'type': 'agent-error', 'message': p})
        if _register_at_fork is not None:
            _register_at_fork(before=_before_fork, after_in_child=_after_fork_child)
    except Exception as e:
        report_error('agent start-up', e)
