"""Dask facts for memhunt (docs/agent-protocol.md, "Probe"): the workers running in this process and
the worker processes its nannies terminated for exceeding their memory limit.

Imported by the agent's thread only when memhunt probes a process that has already imported
distributed.worker; distributed itself is never imported here (a process that does not use Dask
pays one sys.modules look-up per probe). Everything is read from objects distributed keeps anyway:
Worker._instances and Nanny._instances (weak sets), Worker.memory_manager.memory_limit, and the
pid a nanny's memory manager last terminated (NannyMemoryManager._last_terminated_pid, set when
the worker process crossed distributed.worker.memory.terminate of its limit). Attributes that a
version of distributed lacks make the facts smaller, never an error.
"""
import sys


def _instances(module_name, class_name):
    mod = sys.modules.get(module_name)
    cls = getattr(mod, class_name, None)
    insts = getattr(cls, '_instances', None)
    if insts is None:
        return []
    for _ in range(3):  # the event loop's thread may add one while this thread copies the set
        try:
            return list(insts)
        except RuntimeError:
            continue
    return []


def _limit(manager):
    v = getattr(manager, 'memory_limit', None)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        return None
    return int(v)


def _address(obj, attr):
    try:
        v = getattr(obj, attr, None)
    except Exception:  # Server.address raises before the server listens
        return None
    return str(v) if v else None


def facts():
    """{'workers': [...], 'kills': [...]} of this process, or None when it has neither."""
    workers = []
    for w in _instances('distributed.worker', 'Worker'):
        address = _address(w, 'address')
        if address is None:
            continue  # not started yet: its name and address come with a later probe
        name = getattr(w, 'name', None)
        workers.append({'name': str(name) if name is not None else address, 'address': address,
                        'memoryLimitBytes': _limit(getattr(w, 'memory_manager', w))})
    kills = []
    for n in _instances('distributed.nanny', 'Nanny'):
        manager = getattr(n, 'memory_manager', None)
        pid = getattr(manager, '_last_terminated_pid', -1)
        fraction = getattr(manager, 'memory_terminate_fraction', None)
        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0 or isinstance(fraction, bool) \
                or not isinstance(fraction, (int, float)):
            continue
        address = _address(n, 'worker_address')
        name = getattr(n, 'name', None)
        kills.append({'pid': pid, 'name': str(name) if name is not None else (address or ''), 'address': address,
                      'memoryLimitBytes': _limit(manager), 'terminateFraction': float(fraction)})
    if not workers and not kills:
        return None
    return {'type': 'dask', 'workers': workers, 'kills': kills}
