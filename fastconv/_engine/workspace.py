"""Run-time settings of the fast path: the workspace limit, and the workspace.

The workspace is the scratch memory of the column tiles and of the
backward pass's partial sums. Each thread keeps the buffers it last used,
up to the limit, and carves every call's scratch arrays out of them: a
fresh 100 MB buffer costs page faults on first touch (about 15 ms measured
here, as much as the im2col copy itself), a reused one does not.
:func:`release_workspace` frees the calling thread's.
"""

import contextlib
import numbers
import threading
from typing import Iterator, Optional

import numpy as np

from . import config

__all__ = [
    "DEFAULT_WORKSPACE_LIMIT",
    "get_workspace_limit",
    "set_workspace_limit",
    "workspace_limit",
    "release_workspace",
    "scratch",
]

#: Default bound, in bytes, on the scratch matrices one call allocates.
DEFAULT_WORKSPACE_LIMIT = config.DEFAULT_WORKSPACE_LIMIT

_workspace_limit: Optional[int] = DEFAULT_WORKSPACE_LIMIT


def get_workspace_limit() -> Optional[int]:
    """Return the current workspace limit in bytes (``None`` means unlimited)."""
    return _workspace_limit


def set_workspace_limit(nbytes: Optional[int]) -> Optional[int]:
    """Bound the scratch memory (im2col columns) one call may allocate.

    The limit is process-wide: it applies to calls from every thread (each
    thread has its own workspace buffer, each within the limit).

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
def workspace_limit(nbytes: Optional[int]) -> Iterator[None]:
    """Set the (process-wide) workspace limit inside a ``with`` block.

    The previous limit is restored after; threads that enter it concurrently
    should not overlap.
    """
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


_local = threading.local()
_ALIGN = 64


def release_workspace() -> None:
    """Free the calling thread's cached workspace buffers."""
    _local.buffers = {}


def scratch(dtype, *shapes, key="tiles"):
    """Uninitialised arrays of `shapes` carved from this thread's workspace.

    The arrays are views of one cached buffer per `key` ("tiles" for a
    piece's column tiles, "slots" for a call's partial sums, "weights" for
    a call's transformed weight), valid until
    the next call of this function with the same key in the same thread:
    callers use them within one operation and never return them. A buffer
    larger than the workspace limit (one tile whose columns alone exceed
    it) is allocated but not kept.
    """
    dtype = np.dtype(dtype)
    sizes = [int(np.prod(shape)) * dtype.itemsize for shape in shapes]
    offsets, total = [], 0
    for size in sizes:
        offsets.append(total)
        total += -(-size // _ALIGN) * _ALIGN
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buf = buffers.get(key)
    limit = _workspace_limit
    if buf is not None and limit is not None and buf.nbytes > limit:
        buf = buffers[key] = None  # the limit was lowered
    if buf is None or buf.nbytes < total:
        buf = None
        buffers[key] = None  # let the old one go first
        buf = np.empty(max(total, 1), np.uint8)
        if limit is None or total <= limit:
            buffers[key] = buf
    return [
        buf[o : o + size].view(dtype).reshape(shape)
        for o, size, shape in zip(offsets, sizes, shapes)
    ]
