"""Errors shared by the agent's modules (a leaf: imports nothing of the agent)."""


class RequestError(Exception):
    """A request that cannot be served; its message is the reply's one-line error."""
