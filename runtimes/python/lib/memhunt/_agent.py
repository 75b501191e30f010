"""The in-process agent: one connection to memhunt per process (docs/agent-protocol.md).

Started by inject/sitecustomize.py when MEMHUNT_AGENT_SOCKET is set. It connects to the session's
Unix socket, says hello, and serves requests from a thread blocked in recv() (which releases the
GIL). With the wake signal that thread exists only while memhunt asks something: see "sleep".
Every failure is caught; what can be reported is sent as an `agent-error` event, and the program
runs on.

Choices, with their reasons:
- The serving thread is a raw `_thread` thread, not a threading.Thread: programs that join every
  thread of threading.enumerate() at exit, or assert that no thread is left over, never see it.
- `_socket` rather than `socket`, and no json at start-up (see _wire.py): start-up cost.
- Sends use MSG_NOSIGNAL: a program that restored SIGPIPE's default action would otherwise be
  killed by a write to a closed connection. Before each send, the descriptor is checked to still be
  our socket (device and inode): a program that closes every descriptor (daemonisation,
  os.closerange) and opens a file that reuses the number must not receive our JSON.
- Fork: the child's copy of the connection belongs to the parent's session stream. A fork child
  runs no agent code at the fork and has no agent thread: it connects only when memhunt asks for
  it (the wake signal, WAKE_SIGNAL, whose handler the agent installs once in the first process
  and the child inherits) or when the program sends something (`import memhunt`). It then closes
  its copy of the descriptor (close, never shutdown, which would end the parent's connection
  too), connects anew and says hello with its own pid. Without the wake signal (the program
  handles it, MEMHUNT_AGENT_WAKE=0, --allocations), the child connects by itself from a thread
  of its own, after CHILD_CONNECT_DELAY_S: see "fork" below.

Modules: this one is imported at start-up and depends only on _wire and _state (others are imported when needed: every
Python process of the tree pays for what start-up imports). Requests
are dispatched one way, from the serving thread to _requests (imported with the first request),
which never imports this module back: it answers through the Connection it is given.
"""
import _signal  # type: ignore[import]
import _socket
import _thread
import os
from _functools import partial as _partial  # type: ignore[import]  # C module: partial without functools.py
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
_time = __import__('time')
_sleep = _time.sleep
_monotonic = _time.monotonic
_get_native_id = getattr(_thread, 'get_native_id', None)
_stat = os.stat
_thread_count = getattr(_thread, '_count', lambda: 0)  # threads started through _thread, alive now
_os_open, _os_read, _os_close, _O_RDONLY = os.open, os.read, os.close, os.O_RDONLY
_modules = sys.modules
#: memhunt's probe line, byte for byte (src/agents/protocol.ts PROBE_LINE): matched without json.
_PROBE = b'{"type":"probe"}'

#: Held while the agent's thread imports the request modules; a fork waits for it (see serve()).
_import_lock = _allocate_lock()
#: The pid _import_lock was made in (a fork child makes its own: the parent held it over the fork).
_import_lock_pid = _getpid()

#: How long a program's message waits for a fork child's agent to connect (and a fork for the
#: agent's imports): a Unix socket connects at once or fails.
CONNECT_TIMEOUT_S = 5.0


class Connection(object):
    """One connection to the session's socket, owned by the process that made it."""

    def __init__(self, path):
        self.pid = _getpid()
        self.lock = _allocate_lock()
        self.alive = False
        self.probed = None
        self.probe_failed = False
        self.lines = 0  # lines read from memhunt (the `asleep` event says how many: see "sleep")
        self.sock = _new_socket(_AF_UNIX, _SOCK_STREAM)  # close-on-exec, as every Python socket
        try:
            # Non-blocking: a Unix socket connects at once or fails (EAGAIN when memhunt's backlog
            # is full, which a timeout did not wait out either). settimeout() cost every process
            # ~128 KiB of the interpreter's code pages (BENCHMARKS.md, "what start-up touches").
            self.sock.setblocking(False)
            self.sock.connect(path)
            self.sock.setblocking(True)
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
        """The agent thread: reads requests line by line until the connection ends, or, when this
        agent sleeps (see "sleep" below), until it has had no request for IDLE_S and may sleep."""
        _ignore_alloc()
        buf = b''
        handle = needs_modules = None  # the request handlers are imported with the first request (start-up cost)
        sleeps = _sleeps and _set_recv_timeout(self.sock, IDLE_S)
        last = _monotonic()
        try:
            while True:
                try:
                    data = self.sock.recv(65536)
                except InterruptedError:
                    continue
                except BlockingIOError:  # SO_RCVTIMEO: nothing came for IDLE_S
                    data = None
                except OSError:
                    break
                if data is not None:
                    if not data or self.pid != _getpid():
                        break
                    buf += data
                while True:
                    nl = buf.find(b'\n')
                    if nl < 0:
                        break
                    line = buf[:nl]
                    buf = buf[nl + 1:]
                    self.lines += 1
                    if line == _PROBE:
                        self.probe()
                        continue
                    last = _monotonic()
                    if line.strip():
                        if handle is None or needs_modules(line):
                            # Imported under _import_lock: a fork during these imports would leave
                            # the child with the modules' import locks held by a thread it does
                            # not have, and its agent would hang at its first request. A break
                            # or ping imports only _requests (and _debug, small): the census
                            # modules come with the first request that needs them.
                            _guard_forks_during_imports()
                            with _imports_lock():
                                from ._requests import handle, needs_modules, load_modules
                                if needs_modules(line):
                                    load_modules()
                        handle(self, line)
                        last = _monotonic()
                if sleeps and not buf and _monotonic() - last >= IDLE_S and _may_sleep():
                    _go_to_sleep(self)
                    return
        except BaseException:  # never let the thread print a traceback into the program's stderr
            pass
        self.alive = False
        _stopped_serving()


def _ignore_alloc():
    """The agent's threads allocate for memhunt, not for the program: never sampled (--allocations)."""
    mod = sys.modules.get('_memhunt_alloc')
    if mod is not None:
        mod.ignore_this_thread()


# ---------------------------------------------------------------------------------- state

_conn = None
_started = False
#: The pid whose agent is settled: connected, or known to have no connection. A fork child's
#: thread sets it once it has connected or given up (_child_main); until then the program's
#: messages wait for it rather than being lost (CONNECT_TIMEOUT_S at most).
_settled_pid = _getpid()
#: In a fork child, the pid whose agent thread is about to connect (None once it gave up).
_pending_pid = None
#: True once the at-fork hooks are registered (the agent connected): a fork child then has an
#: agent thread to wait for; otherwise it has none, and nothing waits.
_fork_hooked = False
#: The wake signal's number when its handler is installed (fork children connect when asked),
#: else None (they connect by themselves after the fork: _child_main).
_wake_signal = None


def _wait_connected():
    pid = _getpid()
    if _settled_pid == pid:
        return
    if _wake_signal is not None:
        # A fork child that was never asked for: the program's message connects it now.
        _connect_child(True)
        return
    if not _fork_hooked:
        return
    # A fork child whose agent thread has not connected yet: hurry it, then wait for it.
    try:
        _hurry.release()
    except Exception:
        pass
    for _ in range(int(CONNECT_TIMEOUT_S * 1000)):
        if _settled_pid == pid:
            return
        _sleep(0.001)


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


def _hello(asleep=False):
    h = {
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
    if _wake_signal is not None:
        # This process and its fork children have the wake handler: memhunt may signal a child of
        # this process that has not connected, once /proc says it still catches the signal.
        h['wakeSignal'] = _wake_signal
    if _sleeps:
        # No serving thread between requests: memhunt sends the wake signal before a line when
        # this agent is asleep (no thread yet, or it said `asleep`). See "sleep" below.
        h['sleeps'] = True
        h['asleep'] = bool(asleep)
    return h


def _connect(path):
    """The first process's connection. When it sleeps, no thread is started: the first request's
    wake signal starts it."""
    global _conn
    conn = Connection(path)
    _conn = conn
    conn.send(_hello(_sleeps))
    if not _sleeps:
        _start_serving(conn)
    return conn


#: A fork child's agent thread waits this long before it connects (the program's first message
#: wakes it at once). Every page a fork child writes costs it a copy-on-write fault (tens of µs on
#: a virtual machine): connecting at once, in the fork's first milliseconds, took the child's
#: CPU and its GIL when the program needs them most (a Pool worker taking its first task), and
#: most short-lived children never need the connection. See BENCHMARKS.md, "fork".
CHILD_CONNECT_DELAY_S = 0.05
#: Held for ever in the process that started the agent: a fork child's thread waits on its copy
#: (CHILD_CONNECT_DELAY_S); the child's first message releases it (_wait_connected).
_hurry = _allocate_lock()
_hurry.acquire()


def _child_main():
    """A fork child's agent, in a thread of its own (started by the at-fork hook): after
    CHILD_CONNECT_DELAY_S, releases the parent's connection, connects and says hello, then serves.
    A child that is about to exec (subprocess's preexec_fn) does not connect: a new interpreter, if
    it is Python, connects by itself; one that execs sooner takes this thread with it."""
    global _conn, _pending_pid, _settled_pid
    pid = _getpid()
    _pending_pid = pid
    conn = None
    try:
        try:
            _hurry.acquire(True, CHILD_CONNECT_DELAY_S)
        except Exception:
            pass
        if _settled_pid == pid or _getpid() != pid:
            return
        old = _conn
        if old is not None and old.pid != pid:
            _conn = None
            old.drop_inherited()
        if _main_thread_forked_for_exec():
            return
        path = _environ_get('MEMHUNT_AGENT_SOCKET')
        if not path:
            return
        try:
            conn = Connection(path)
        except OSError:
            conn = None
            return  # memhunt is gone: run as if there were no agent
        _conn = conn
        conn.send(_hello())
    except Exception as e:
        report_error('reconnecting after fork', e)
    finally:
        if conn is None:
            _pending_pid = None
        _settled_pid = pid
    if conn is not None:
        conn.serve()


# ---------------------------------------------------------------------------------- wake
#
# A fork child runs nothing of the agent at the fork: no thread, no Python (before 3.12; 3.12+
# takes its fork-warning filter entry out, see "fork"). Every page a fork child writes costs it a
# copy-on-write fault, and a thread's start costs it a GIL hand-over: both measured as most of
# what the agent added to a fork (BENCHMARKS.md, "fork"). Most fork children are never asked
# anything (a Pool worker per task, a pre-forking server's short-lived helpers). When memhunt does
# need one (a census, refs, a break, `memhunt snapshot <pid>`), it sends it WAKE_SIGNAL, whose
# handler (installed once, in the process that started the agent, and inherited at fork) connects
# the child; memhunt signals a pid only while /proc/<pid>/status says it catches that signal (an
# exec'd child has the default action again) and its executable is its connected ancestor's.
#
# SIGURG: its default action is to ignore it (a child that exec'd between memhunt's check and the
# signal is not killed, as it would be by a real-time signal), the kernel sends it only for
# out-of-band socket data to a process that asked for it (F_SETOWN), and Python programs hardly
# ever handle it. When the program (or a library, from C) already handles it, the agent leaves it
# alone and fork children connect by themselves (_child_main), as MEMHUNT_AGENT_WAKE=0 asks.

WAKE_SIGNAL = getattr(_signal, 'SIGURG', None)
#: Per process: taken while a fork child connects (the handler never waits for it).
_child_lock = None
_child_lock_pid = None


def _install_wake():
    """Installs the wake handler when the signal is free (default action); the number, or None."""
    sig = WAKE_SIGNAL
    if sig is None or _environ_get('MEMHUNT_AGENT_WAKE', '1').strip().lower() in ('0', 'off', 'no', 'false'):
        return None
    try:
        if _signal.getsignal(sig) != _signal.SIG_DFL:
            return None  # the program's (or a C library's: None): never ours to take
        _signal.signal(sig, _on_wake)
    except Exception:  # not the main thread, or no such signal here
        return None
    return sig


def _on_wake(signum, frame):
    """The wake signal's handler (the main thread, between two bytecodes): connect now. Nothing
    in a process that is connected already, nor in a child about to exec (subprocess's preexec_fn
    runs on this thread's stack)."""
    try:
        if _settled_pid == _getpid():
            conn = _conn
            if _sleeps and conn is not None and conn.alive and conn.pid == _getpid():
                _start_serving(conn)  # memhunt asks this sleeping agent something
            return
        f = frame
        while f is not None:
            if f.f_code.co_name == '_execute_child' and f.f_globals.get('__name__') == 'subprocess':
                return
            f = f.f_back
        _connect_child(False)
    except Exception:
        pass


def _connect_child(wait):
    """In a fork child whose agent has not connected: releases the parent's connection, connects,
    says hello and starts the serving thread. `wait`: False in the signal handler, which returns
    at once when another thread of the child is connecting (it may be the one interrupted)."""
    global _conn, _settled_pid, _child_lock, _child_lock_pid
    pid = _getpid()
    if _child_lock_pid != pid:
        _child_lock = _allocate_lock()
        _child_lock_pid = pid
    lock = _child_lock
    if not lock.acquire(wait):
        return
    conn = None
    try:
        if _settled_pid == pid:
            return
        old = _conn
        if old is not None and old.pid != pid:
            _conn = None
            old.drop_inherited()
        path = _environ_get('MEMHUNT_AGENT_SOCKET')
        if not path:
            return
        try:
            conn = Connection(path)
        except OSError:
            return  # memhunt is gone: run as if there were no agent
        _conn = conn
        conn.send(_hello(False))
        _start_serving(conn)
    except Exception as e:
        report_error('connecting after fork', e)
    finally:
        _settled_pid = pid
        lock.release()


# ---------------------------------------------------------------------------------- sleep
#
# With the wake signal, no process has an agent thread while memhunt asks it nothing: the first
# process connects and says hello from its main thread at start-up and starts no thread; a fork
# child connects when woken. memhunt sends the wake signal before it writes a line to an agent that
# is asleep (the hello says `asleep`, or the agent said so since); the handler starts the serving
# thread, which reads what memhunt wrote. When the thread has had no request for IDLE_S (probes do
# not count) and the process has no thread but the main one and this one, it says
# `{"type":"asleep","lines":N}` (N: the lines it read on this connection) and ends; memhunt wakes it
# again at once when it wrote more than N lines by then. Why: a thread in the process at fork time
# costs every fork (each child copies the pages it shares with that thread's stack and state, and
# 3.12+ reads /proc/self/stat, decides a DeprecationWarning and runs the agent's at-fork hook that
# hides it: ~2.3 ms of the parent's CPU per fork on 3.13, BENCHMARKS.md "Fork, fourth pass").
# A process with threads of its own keeps the agent's thread (its forks pay for threads anyway), as
# does one that runs Dask (memhunt probes its workers every second). The at-fork hooks are C
# callables (functools.partial of int) while asleep, pointed at the Python hooks while awake.

#: A serving thread with no request for this long ends, where it may (_may_sleep).
IDLE_S = 2.0
#: True when this process's agent sleeps between requests (the wake signal is installed).
_sleeps = False
#: The pid whose serving thread runs now (None: asleep, or not started).
_serving_pid = None
#: The native id of the last serving thread that ended: a fork right after its end may still count it.
_ended_tid = None
#: The at-fork hooks (registered once, with the wake signal): partial(int) while asleep.
_hook_before = None
_hook_parent = None


def _read_idle_s():
    """MEMHUNT_AGENT_IDLE_S (tests, or a program forked from while memhunt asks it often): seconds."""
    global IDLE_S
    text = _environ_get('MEMHUNT_AGENT_IDLE_S')
    if text:
        try:
            v = float(text)
            if 0.05 <= v <= 86400:
                IDLE_S = v
        except ValueError:
            pass


def _set_recv_timeout(sock, seconds):
    """SO_RCVTIMEO (receives only: a send never times out, which would cut a line in two); False
    when it cannot be set (the thread then never sleeps)."""
    try:
        size = 8 if sys.maxsize > 2 ** 32 else 4  # struct timeval: two C longs
        whole = int(seconds)
        tv = whole.to_bytes(size, sys.byteorder) + int((seconds - whole) * 1e6).to_bytes(size, sys.byteorder)
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVTIMEO, tv)
        return True
    except Exception:
        return False


def _may_sleep():
    """Only where the agent's thread is the only one besides the main thread (a process with
    threads of its own pays for threads at fork anyway) and no Dask runs (probed every second)."""
    return (_sleeps and _threads_of_process() == 2 and _modules.get('distributed.worker') is None
            and _fork_filters is None)


def _start_serving(conn):
    """Starts the serving thread of this process's connection unless it runs (the wake handler,
    a fork child's connect, the first process without sleep)."""
    global _serving_pid
    pid = _getpid()
    if _serving_pid == pid:
        return
    _serving_pid = pid
    _hooks_awake()
    try:
        _start_new_thread(conn.serve, ())
    except BaseException:
        _serving_pid = None
        raise


def _hooks_awake():
    """Points the at-fork hooks at what the awake agent needs: on 3.12+ the fork-warning filter
    (before; after_in_parent on 3.12, which decides the warning before it), and the import lock
    once requests were served (_fork_guarded). Before 3.12 with no request served: nothing."""
    if not _sleeps or _serving_pid != _getpid() or not (_version_info >= (3, 12) or _fork_guarded):
        return
    if _hook_before is None:
        # The first time a hook is needed: a process never asked anything (or, before 3.12, never
        # asked for more than a ping or a probe) has no at-fork hook at all.
        _register_fork_hooks()
    if _version_info[:2] == (3, 12) or _fork_guarded:
        _point(_hook_parent, _after_fork_parent_awake)  # first: a fork now must release what `before` takes
    if _version_info >= (3, 12) or _fork_guarded:
        _point(_hook_before, _before_fork_awake)


def _go_to_sleep(conn):
    """The serving thread's last act before it ends: memhunt wakes this agent for its next line."""
    _stopped_serving()
    conn.send({'type': 'asleep', 'lines': conn.lines})


def _stopped_serving():
    global _serving_pid, _ended_tid
    if _serving_pid != _getpid():
        return
    if _get_native_id is not None:
        _ended_tid = _get_native_id()
    _serving_pid = None


def _point(hook, fn, args=()):
    hook.__setstate__((fn, args, None, None))


def _ended_thread_counted():
    """True while the serving thread that ended last still exists in the kernel (a fork between
    its last Python and its exit still counts it)."""
    tid = _ended_tid
    if tid is None:
        return False
    try:
        _stat('/proc/self/task/%d' % tid)
        return True
    except OSError:
        return False


def _before_fork_awake():
    """The `before` at-fork hook while the agent is awake (and for the first fork after it slept:
    that fork points the hooks back at int())."""
    global _import_held
    undo = _child_undo
    if undo is not None:
        _point(undo, int)
    try:
        pid = _getpid()
        if _serving_pid != pid:
            if not _ended_thread_counted():
                _point(_hook_before, int)
                _point(_hook_parent, int)
                _drop_fork_filters()
                return
        if _fork_guarded and _hook_parent.func is _after_fork_parent_awake:  # what is taken is released
            _before_fork_imports()
        if _version_info >= (3, 12):
            if _thread_count() - (_serving_pid == pid) > 0:
                _drop_fork_filters()  # a thread of the program's: the warning is the program's
            else:
                _put_fork_filters(pid, undo)
        if _fork_guarded and undo is not None:
            _point(undo, _after_fork_child_requests)  # also takes the filter entries out
    except Exception:
        pass


def _after_fork_parent_awake():
    _after_fork_parent_imports()
    if (3, 12) <= _version_info < (3, 13) and _fork_filters is not None:
        _drop_fork_filters()  # 3.12 decided the warning before this hook: an entry left was not matched


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
# of whatever the program (or pytest, per test) has put there, and taken out again when the
# warning is decided: the entry's message is not a str but an object with a match() method (the
# interpreter calls it as it would a compiled regex's, Python/_warnings.c, check_matched), which
# takes the entries out as it matches. 3.12 decides before the after_in_parent hooks run, 3.13
# after them; either way no thread and no hook is needed for it (3.13 used to start a thread per
# fork in the parent to take it out: a GIL hand-over per fork, bench/fork.mjs). Should the warning
# not come (a thread ended in between), the next fork, or 3.12's after_in_parent hook, takes the
# entry out. A child takes its copy out at once. A program with threads of its own gets the warning as it would
# without memhunt. Stopping the agent's thread around the fork instead would need a second
# descriptor to wake it (the select module at every start-up) and, on 3.13, a way to restart it
# after os.fork() returns that no hook offers.

_FORK_WARNINGS = ('fork', 'forkpty')
_fork_filters = None  # (the list they were put in, the entries) while a fork is under way


class _ForkWarningText(object):
    """The message of our filter entry: matches exactly one text, and takes the entries out of
    the filter list when it matches (the warning is being decided: they are needed no longer)."""
    __slots__ = ('text',)

    def __init__(self, text):
        self.text = text

    def match(self, text):
        if text != self.text:
            return False
        _drop_fork_filters()
        return True

    def __repr__(self):
        return repr(self.text)


def _main_thread_forked_for_exec():
    """True when the fork is subprocess's (a preexec_fn ran the at-fork hooks): the thread that
    forked is still in subprocess's _execute_child, about to exec."""
    me = _get_ident()
    for ident, f in sys._current_frames().items():
        if ident == me:
            continue
        while f is not None:
            if f.f_code.co_name == '_execute_child' and f.f_globals.get('__name__') == 'subprocess':
                return True
            f = f.f_back
    return False


def _threads_of_process():
    """The thread count CPython's warning reads (/proc/self/stat, field 20), with os.open/os.read
    and no split(): this runs before every fork, and each page written between forks is a fault."""
    try:
        fd = _os_open('/proc/self/stat', _O_RDONLY)
        try:
            text = _os_read(fd, 4096)
        finally:
            _os_close(fd)
        i = text.rindex(b')') + 2
        for _ in range(17):
            i = text.index(b' ', i) + 1
        return int(text[i:text.index(b' ', i)])
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


def _imports_lock():
    """The lock serve() imports under, made anew in a fork child (the parent held it over the fork)."""
    global _import_lock, _import_lock_pid
    pid = _getpid()
    if _import_lock_pid != pid:
        _import_lock = _allocate_lock()
        _import_lock_pid = pid
    return _import_lock


_fork_guarded = False


def _guard_forks_during_imports():
    """Before the agent's thread first imports the request modules: from then on a fork waits while
    it imports (5 s at most), and a child resets what a census running at the fork left behind.
    Registered only then: a process that is never asked for anything pays no Python at fork."""
    global _fork_guarded
    if _fork_guarded or _register_at_fork is None:
        return
    _fork_guarded = True
    if _sleeps:
        _hooks_awake()  # the agent sleeps: _before_fork_awake and its fellows do it while it is awake
        return
    _register_at_fork(before=_before_fork_imports, after_in_parent=_after_fork_parent_imports,
                      after_in_child=_after_fork_child_requests)


_import_held = None


def _before_fork_imports():
    global _import_held
    lock = _imports_lock()
    try:
        _import_held = lock if lock.acquire(True, CONNECT_TIMEOUT_S) else None
    except Exception:
        _import_held = None


def _after_fork_parent_imports():
    global _import_held
    held = _import_held
    if held is not None:
        _import_held = None
        held.release()


def _after_fork_child_requests():
    """Only after a request was served in the parent: locks the parent's agent thread may have held
    at the fork, and a census that was running (a child never imports the census code)."""
    global _import_held
    _import_held = None
    try:
        _drop_fork_filters()
        _imports_lock()
        _state.after_fork_in_child()
        census = sys.modules.get(__package__ + '._census')
        if census is not None:
            census.after_fork_in_child()
    except Exception as e:
        report_error('resetting after fork', e)


_entries_of = None  # (pid, entries): made once per process


def _fork_entries(pid):
    """Our filter entries for this pid's fork warning, matched exactly (no `re` needed)."""
    global _entries_of
    made = _entries_of
    if made is None or made[0] != pid:
        made = _entries_of = (pid, tuple(
            ('ignore', _ForkWarningText('This process (pid=%d) is multi-threaded, use of %s() may lead to '
                                        'deadlocks in the child.' % (pid, name)), DeprecationWarning, None, 0)
            for name in _FORK_WARNINGS))
    return made[1]


def _before_fork():
    """3.12+ without the wake signal: the agent's thread runs in every process (eager)."""
    try:
        conn = _conn
        pid = _getpid()
        ours = conn is not None and conn.alive and conn.pid == pid or _pending_pid == pid
        if ours:
            _put_fork_filters(pid, None)
        else:
            _drop_fork_filters()
    except Exception:
        pass


def _put_fork_filters(pid, undo):
    """Our "ignore" entries at the front of the current filters when the agent's is the only
    other thread; `undo` (the child's hook, when there is one) is pointed at `del filters[:n]`."""
    global _fork_filters
    _drop_fork_filters()
    if _threads_of_process() != 2:
        return
    mod = _warnings_module()
    filters = mod.filters
    entries = _fork_entries(pid)
    filters[0:0] = entries
    _fork_filters = (filters, entries, mod)
    _filters_mutated(mod)
    if undo is not None:
        # What the child's hook does: `del filters[:n]`, from C (see _register_fork_hooks).
        _point(undo, filters.__delitem__, (slice(0, len(entries)),))


def _drop_fork_filters():
    """Takes our entries out of the list they were put in (by identity: the program may hold an
    equal entry of its own)."""
    global _fork_filters
    put = _fork_filters
    _fork_filters = None
    if put is None:
        return
    try:
        filters, entries, mod = put
        n = len(entries)
        if len(filters) >= n and filters[0] is entries[0] and filters[n - 1] is entries[n - 1]:
            del filters[:n]  # where they were put: touches nothing else (each page written after a fork is a fault)
        else:
            filters[:] = [f for f in filters if not any(f is e for e in entries)]
        _filters_mutated(mod)
    except Exception:
        pass


def _after_fork_parent():
    """3.12 decides the warning before this hook: an entry still there was not matched."""
    if _fork_filters is not None:
        _drop_fork_filters()


def _after_fork_child_312():
    """3.12+: the warning filter this fork put in is taken out in the child at once (the program
    may look at warnings.filters first thing), and the agent's thread is started."""
    global _pending_pid
    try:
        _drop_fork_filters()
        _pending_pid = _getpid()
        _start_new_thread(_child_main, ())
    except Exception as e:
        report_error('after fork', e)


def _after_fork_child_alloc():
    """--allocations: the child forgets the parent's samples at once and streams its own."""
    try:
        alloc = sys.modules.get(__package__ + '._alloc')
        if alloc is not None:
            alloc.after_fork_in_child(send)
    except Exception as e:
        report_error('allocations after fork', e)


#: 3.12+ with the wake signal: the child's only at-fork hook, a functools.partial that _before_fork
#: points, before each fork, at `del filters[:n]` of the entries it put in (or at int(): nothing), so
#: that the child takes them out (the program may look at warnings.filters first thing) with no
#: Python frame. The filters' version is not bumped there: it was when they were put in, and the
#: child has decided no warning since. The child's _fork_filters stays stale: a later
#: _drop_fork_filters finds the entries gone.
_child_undo = None


def _register_fork_hooks():
    """With the wake signal (the agent sleeps), registered at the first wake: three C callables
    that do nothing while the agent is asleep; while it is awake, the Python hooks (import lock,
    fork-warning filter) in the parent, and in the child only the filter's removal from C
    (_child_undo), or _after_fork_child_requests once requests were served. Without it, the child only
    starts its agent's thread (_child_main), which does the rest later: before 3.12 the hook is a C
    callable (functools.partial of start_new_thread), so no Python frame runs in the child at the
    fork and it writes (and copies) as few pages as possible."""
    global _fork_hooked, _child_undo, _hook_before, _hook_parent
    _fork_hooked = True
    if _sleeps:
        # C callables, pointed at Python hooks only while the agent is awake ("sleep" above),
        # registered when it is first woken.
        _child_undo = _partial(int)
        before, parent = _partial(int), _partial(int)
        _register_at_fork(before=before, after_in_parent=parent, after_in_child=_child_undo)
        _hook_before, _hook_parent = before, parent
    elif _version_info >= (3, 13):
        _register_at_fork(before=_before_fork, after_in_child=_after_fork_child_312)
    elif _version_info >= (3, 12):
        _register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                          after_in_child=_after_fork_child_312)
    else:
        _register_at_fork(after_in_child=_partial(_start_new_thread, _child_main, ()))
    if 'alloc' in FEATURES:
        _register_at_fork(after_in_child=_after_fork_child_alloc)


# ---------------------------------------------------------------------------------- start

def _plain_options(text):
    """memhunt's default options ({"trace":false,"traceFrames":N}): nothing to start, nothing to
    import. Checked without int(): on 3.11+ its first call maps ~190 KiB of libm (see _options)."""
    head = '{"trace":false,"traceFrames":'
    return text.startswith(head) and text.endswith('}') and text[len(head):-1].isdigit()


def _exiting():
    """atexit, registered at start-up (so it runs after the program's own handlers and after its
    non-daemon threads ended): the interpreter begins its shutdown. memhunt is told, so the heap the
    interpreter frees from here on (module globals, caches: a Dask worker's 200 MiB cache freed a
    second before its process ended) is its teardown, not a release the program made. Only on this
    process's own connection: a fork child that never connected does not connect to say it."""
    conn = _conn
    if conn is not None and conn.alive and conn.pid == _getpid():
        try:
            conn.send({'type': 'exiting', 'wallMs': _time.time() * 1000.0})
        except Exception:
            pass


def start():
    """Starts the agent once per process. Raises nothing."""
    global _started, _main_ident, _wake_signal, _sleeps
    if _started:
        return
    _started = True
    try:
        path = _environ_get('MEMHUNT_AGENT_SOCKET')
        if not path:
            return
        _state.main_ident = _get_ident()
        problems = ()
        opts_text = _environ_get('MEMHUNT_AGENT_OPTIONS')
        if opts_text and not _plain_options(opts_text):
            from . import _options  # --trace-allocations, --allocations: not at every start-up
            problems = _options.start(opts_text, FEATURES, send, _getpid)
        if _register_at_fork is not None and 'alloc' not in FEATURES:
            # --allocations: every fork child streams its samples from the start (it connects by itself).
            _wake_signal = _install_wake()
            _sleeps = _wake_signal is not None
            if _sleeps:
                _read_idle_s()
        try:
            _connect(path)
        except OSError:
            # memhunt is gone or the socket is not ours to use: run as if there were no agent.
            if _wake_signal is not None:
                _wake_signal = None
                _sleeps = False
                try:
                    _signal.signal(WAKE_SIGNAL, _signal.SIG_DFL)
                except Exception:
                    pass
            return
        for p in problems:
            send({'type': 'agent-error', 'message': p})
        import atexit  # a built-in module: nothing to read at start-up
        atexit.register(_exiting)
        if _register_at_fork is not None and not _sleeps:
            _register_fork_hooks()  # a sleeping agent's, at its first wake (_start_serving)
    except Exception as e:
        report_error('agent start-up', e)
