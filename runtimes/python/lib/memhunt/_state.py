"""What the agent's modules share: the state kept between requests, the lock every heap walk
holds, and the main thread's ident. A leaf module: it imports nothing of the agent, so every
module may import it (the requests, the census, refs, the debugger break) and none reaches into
another's private state.

Read the attributes through the module (`_state.census_lock`), never `from ._state import
census_lock`: a fork child replaces the lock (after_fork_in_child)."""
import _thread


class State(object):
    """What the agent remembers between requests: the previous census and trace snapshot."""
    # Kept packed (see _util.pack_counts): a dict of strings here would be growth in the next census.
    prev_counts = None    # {type name: count} of the previous census
    prev_sites = None     # {"file\x1fline": bytes} of the previous trace snapshot
    prev_packages = None  # {package: bytes} of the previous trace snapshot


state = State()
#: Held by every walk over the heap (census, refs): one at a time.
census_lock = _thread.allocate_lock()
#: The ident of the thread that started the agent (the main thread): where a debugger break stops.
main_ident = None


def after_fork_in_child():
    """The child of a fork made while another thread held the lock must not inherit it held."""
    global census_lock
    census_lock = _thread.allocate_lock()
