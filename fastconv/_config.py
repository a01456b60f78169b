"""Run-time settings of the fast path: the im2col workspace limit."""

import contextlib
import numbers

__all__ = [
    "DEFAULT_WORKSPACE_LIMIT",
    "get_workspace_limit",
    "set_workspace_limit",
    "workspace_limit",
]

#: Default bound, in bytes, on the scratch matrices one call allocates.
DEFAULT_WORKSPACE_LIMIT = 256 * 2**20

_workspace_limit = DEFAULT_WORKSPACE_LIMIT


def get_workspace_limit():
    """The current workspace limit in bytes (``None`` means unlimited)."""
    return _workspace_limit


def set_workspace_limit(nbytes):
    """Bound the scratch memory (im2col columns) one call may allocate.

    Parameters
    ----------
    nbytes : int or None
        Bytes; ``None`` for no limit. The batch is processed in chunks small
        enough to fit, but always at least one sample at a time, so a single
        sample whose columns exceed the limit still runs.

    Returns
    -------
    int or None
        The previous limit.
    """
    global _workspace_limit
    if nbytes is not None:
        if isinstance(nbytes, bool) or not isinstance(nbytes, numbers.Integral):
            raise TypeError(f"nbytes must be an int or None, got {nbytes!r}")
        if nbytes < 1:
            raise ValueError(f"nbytes must be >= 1, got {nbytes!r}")
        nbytes = int(nbytes)
    previous = _workspace_limit
    _workspace_limit = nbytes
    return previous


@contextlib.contextmanager
def workspace_limit(nbytes):
    """Context manager that sets the workspace limit and restores it after."""
    previous = set_workspace_limit(nbytes)
    try:
        yield
    finally:
        set_workspace_limit(previous)


def batch_chunk(n, bytes_per_sample):
    """How many of `n` samples fit in the workspace limit (at least 1)."""
    limit = _workspace_limit
    if limit is None or bytes_per_sample <= 0:
        return max(n, 1)
    return max(1, min(n, limit // bytes_per_sample))
