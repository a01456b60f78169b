"""Running a GIL-free kernel on several cores: split a range, one piece a thread.

The kernels are serial numba functions with ``nogil=True``; this module
splits their outermost range into contiguous pieces, hands all but the last
to a small persistent pool of Python threads and runs the last in the
calling thread. Every piece writes disjoint memory, so results do not depend
on the number of threads. Python threads block while idle (no spinning), so
they do not steal cores from BLAS's workers between GEMMs, which numba's own
parallel threads did (see fastconv._kernels.im2col).
"""

import concurrent.futures
import numbers
import os
import threading

__all__ = ["get_num_threads", "set_num_threads", "parallel_for"]

#: Work (in bytes touched) below which splitting costs more than it saves.
MIN_BYTES = 1 << 20


def _default_threads():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


_num_threads = _default_threads()
_pool = None
_pool_lock = threading.Lock()


def get_num_threads():
    """How many threads the kernels use (default: the cores this process may use)."""
    return _num_threads


def set_num_threads(n):
    """Use `n` threads (>= 1) for the kernels; returns the previous number.

    GEMMs are not affected: they run on numpy's BLAS threads. The setting is
    process-wide.
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an int, got {n!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    previous, _num_threads = _num_threads, int(n)
    return previous


def _get_pool(workers):
    """A pool with at least `workers` threads. A smaller pool is replaced,
    not shut down: a call on another thread may still be submitting to it.
    """
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=max(1, workers), thread_name_prefix="fastconv"
            )
        return _pool


def parallel_for(fn, n, nbytes):
    """Call ``fn(lo, hi)`` over pieces covering ``range(n)``.

    Parameters
    ----------
    fn : callable(lo, hi)
        Runs the kernel on items [lo, hi); pieces must write disjoint memory.
    n : int
        Number of items of the outermost range.
    nbytes : int
        Rough bytes the whole call touches; small calls run in one piece.
    """
    k = min(_num_threads, n, max(1, nbytes // MIN_BYTES))
    if k <= 1:
        fn(0, n)
        return
    bounds = [n * i // k for i in range(k + 1)]
    pool = _get_pool(_num_threads - 1)
    futures = [pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(k - 1)]
    fn(bounds[k - 1], bounds[k])
    for f in futures:
        f.result()
