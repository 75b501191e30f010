"""The async half of memhunt.section's decorator (kept apart: __init__.py parses on old Pythons)."""
import functools


def wrap_coroutine(fn, label, send_section):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        send_section('begin', label)
        try:
            return await fn(*args, **kwargs)
        finally:
            send_section('end', label)
    return wrapper
