"""The engine's threads: a call's pieces run on a small pool of Python threads.

The kernels are serial numba functions with ``nogil=True``. A plan divides
its work into items (tiles, slots, planes) whose results do not depend on
which thread runs them; :func:`run` splits the item range into one
contiguous piece per thread, hands all but the last to a persistent pool
and runs the last on the calling thread. Python threads block while idle,
so between calls they hold no core (numba's own worker threads and
OpenBLAS's spin for a while after each parallel region).

While pieces run, numpy's BLAS is held at one thread (:func:`fastconv._engine.blas.hold`)
and each piece calls its GEMMs itself: the engine alone decides how the
cores are used during a call.
"""

import concurrent.futures
import numbers
import threading
from typing import Any, Callable, NamedTuple, Optional, Tuple

from . import blas, config, trace
from .cpu import usable_cores

__all__ = [
    "get_num_threads",
    "set_num_threads",
    "run",
    "split",
    "parallel_for",
    "Task",
    "Local",
    "locals_of",
    "execute",
]

_num_threads = usable_cores()
_pool = None
_pool_lock = threading.Lock()


def get_num_threads() -> int:
    """Return how many threads a call uses (default: the cores this process may use)."""
    return _num_threads


def set_num_threads(n: int) -> int:
    """Use `n` threads (>= 1) for each call; returns the previous number.

    The setting is process-wide. Results do not depend on it: the pieces of
    a call are fixed by its plan, and only their assignment to threads
    changes.
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an int, got {n!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    previous, _num_threads = _num_threads, int(n)
    return previous


def _get_pool(workers):
    """Return a pool with at least `workers` threads.

    A smaller pool is replaced, not shut down: a call on another thread may
    still be submitting to it.
    """
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=max(1, workers), thread_name_prefix="fastconv"
            )
        return _pool


def split(n, nbytes, threads=None, min_bytes=None):
    """Bounds of the contiguous pieces that :func:`run` gives `n` items.

    One piece per thread, fewer when `n` or the work (`nbytes` touched) is
    small: a piece per `min_bytes` at most (default
    ``config.SPLIT_MIN_BYTES``). Returns ``[0, b1, ..., n]``.
    """
    threads = _num_threads if threads is None else threads
    min_bytes = config.SPLIT_MIN_BYTES if min_bytes is None else min_bytes
    k = max(1, min(threads, n, nbytes // min_bytes))
    return [n * i // k for i in range(k + 1)]


def run(fn, n, nbytes, min_bytes=None):
    """Call ``fn(piece, lo, hi)`` over pieces covering ``range(n)``; return their count.

    Parameters
    ----------
    fn : callable(piece, lo, hi)
        Runs items [lo, hi); pieces must write disjoint memory. `piece` is
        the piece's index, for per-piece buffers (traces).
    n : int
        Number of items.
    nbytes : int
        Rough bytes the whole call touches; small calls run in one piece.
    min_bytes : int, optional
        Bytes a piece must have at least (see :func:`split`).
    """
    bounds = split(n, nbytes, min_bytes=min_bytes)
    k = len(bounds) - 1
    if k <= 1:
        fn(0, 0, n)
        return 1
    pool = _get_pool(_num_threads - 1)
    futures = [pool.submit(fn, i, bounds[i], bounds[i + 1]) for i in range(k - 1)]
    try:
        fn(k - 1, bounds[k - 1], bounds[k])
    finally:
        for f in futures:
            f.result()
    return k


def parallel_for(fn, n, nbytes, min_bytes=None):
    """Call ``fn(lo, hi)`` over pieces covering ``range(n)`` (see :func:`run`)."""
    run(lambda piece, lo, hi: fn(lo, hi), n, nbytes, min_bytes)


class Task(NamedTuple):
    """A kernel's parallel work, as data: the kernel called on pieces of its items.

    Each piece calls ``kernel(ctx, lo, hi)``: `ctx` the tuple of the values
    `args` names, in order (the kernel unpacks it first thing), ``[lo, hi)``
    the piece's range of items. The call's values bind most names
    (:func:`execute`); two are the piece's own, ``clock`` and ``trace``,
    the profiler's (kernels that time their `phases`). A value wrapped in
    :class:`Local` is made by each piece on its thread (its workspace
    buffers).
    """

    kernel: Callable[..., Any]
    args: Tuple[str, ...]
    items: int
    nbytes: int  # memory the whole task touches, for the split (0: one piece)
    split: str = "SPLIT_MIN_BYTES"  # the config knob of the least a piece is worth
    phases: Tuple[str, ...] = ()  # the kernel's profiled phases; BLAS held at 1


class Local(NamedTuple):
    """A kernel argument each piece makes on its own thread.

    Locals sharing one `make` are made once a piece; `item` picks one of
    the tuple it returns.
    """

    make: Callable[[], Any]
    item: Optional[int] = None


def locals_of(make, n):
    """Return `n` Locals for the items of the tuple ``make()`` returns."""
    return [Local(make, i) for i in range(n)]


_PIECE = ("clock", "trace")


def execute(task, values):
    """Run `task`, its arguments bound from `values`; return the pieces' results.

    The items go to the threads as :func:`run` cuts them; a task with
    `phases` runs with numpy's BLAS held at one thread, its pieces' phase
    times going to the profiler.
    """
    bound = [None if n in _PIECE else values[n] for n in task.args]
    own = [
        (k, n) for k, n in enumerate(task.args) if n in _PIECE or type(bound[k]) is Local
    ]
    kernel, results = task.kernel, []
    # the profiler's arguments, for kernels that time their phases only
    traces = (
        trace.kernel_traces(get_num_threads(), len(task.phases)) if task.phases else None
    )
    clock = trace.kernel_clock() if task.phases else None

    def piece(i, lo, hi):
        args, made = list(bound), {}
        for k, n in own:
            if n == "clock":
                args[k] = clock
            elif n == "trace":
                args[k] = traces[i]
            else:
                local = bound[k]
                key = id(local.make)
                if key not in made:
                    made[key] = local.make()
                got = made[key]
                args[k] = got if local.item is None else got[local.item]
        results.append(kernel(tuple(args), lo, hi))

    split = getattr(config, task.split)
    if not task.phases:
        run(piece, task.items, task.nbytes, split)
        return results
    with blas.hold():
        pieces = run(piece, task.items, task.nbytes, split)
    trace.add_kernel_phases(task.phases, traces, pieces)
    return results
