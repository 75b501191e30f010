"""Writes the bytecode of the agent's own modules when the import could not (PYTHONDONTWRITEBYTECODE).

inject/sitecustomize.py lifts PYTHONDONTWRITEBYTECODE while it imports the agent's start-up modules
(no program code runs yet). The modules the agent's thread imports at the first request (_requests,
_census, _refs, ...) are imported while the program runs, when lifting that process-wide flag could
let the program's own imports write bytecode against its wish: they were compiled again in every
process, and compiling leaves the parser's arenas behind (+0.8-1.2 MiB for _requests alone, +4.7-5.5
MiB for the first request's modules, on 3.11 and 3.13: BENCHMARKS.md, "What a census leaves").
Here their bytecode is written the way importlib would (a timestamp .pyc next to the source, in
__pycache__), without touching the flag: once, by the first process that needs it; a directory
that cannot be written is left as it is. Never raises."""
import os
import sys


def _fresh(cached, magic, mtime, size):
    """Whether the .pyc at cached is valid for a source of this mtime and size (importlib's check)."""
    try:
        with open(cached, 'rb') as f:
            head = f.read(16)
    except OSError:
        return False
    return (len(head) == 16 and head[:4] == magic and head[4:8] == b'\0\0\0\0'
            and head[8:12] == (int(mtime) & 0xFFFFFFFF).to_bytes(4, 'little')
            and head[12:16] == (size & 0xFFFFFFFF).to_bytes(4, 'little'))


def cache_own(package_dir):
    """Writes the missing or stale .pyc of every imported module whose source is under package_dir."""
    try:
        ext = sys.modules.get('_frozen_importlib_external')
        to_pyc = getattr(ext, '_code_to_timestamp_pyc', None)
        magic = getattr(ext, 'MAGIC_NUMBER', None)
        if to_pyc is None or magic is None:
            return
        prefix = os.path.join(package_dir, '')
        for mod in list(sys.modules.values()):
            spec = getattr(mod, '__spec__', None)
            origin = getattr(spec, 'origin', None)
            cached = getattr(spec, 'cached', None)
            loader = getattr(spec, 'loader', None)
            if (not isinstance(origin, str) or not isinstance(cached, str) or not origin.startswith(prefix)
                    or not origin.endswith('.py') or not hasattr(loader, '_cache_bytecode')):
                continue
            try:
                st = os.stat(origin)
                if _fresh(cached, magic, st.st_mtime, st.st_size):
                    continue
                if not os.access(os.path.dirname(os.path.dirname(cached)), os.W_OK):
                    continue
                with open(origin, 'rb') as f:
                    source = f.read()
                code = compile(source, origin, 'exec', dont_inherit=True)
                loader._cache_bytecode(origin, cached, to_pyc(code, st.st_mtime, st.st_size))
            except Exception:
                pass
    except Exception:
        pass
