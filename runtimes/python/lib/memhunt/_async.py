"""The async half of memhunt.section's decorator (kept apart: __init__.py parses on old Pythons)."""
import functools


def wrap_coroutine(fn, label):
    from . import _send_section

    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        _send_section('begin', label)
        try:
            return await fn(*args, **kwargs)
        finally:
            _send_section('end', label)
    return wrapper
