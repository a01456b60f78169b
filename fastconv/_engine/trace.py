"""Phase timing for the profiler: where a call's time goes.

Python-level steps are marked with ``with phase("prepare"):``. Outside
:func:`recording` that is a shared no-op context (one global read per phase);
inside, the elapsed time of each phase is added to the active record.

The fused kernels time their own phases (im2col, GEMM, col2im of every
tile) with a clock they call by address (:mod:`fastconv._kernels.clock`):
:func:`kernel_clock` gives them the clock while recording and (0, 0)
otherwise, and :func:`add_kernel_phases` adds what they measured to the
record, as seconds per thread (each phase's total over the pieces, divided
by the number of pieces that ran at once).
"""

import contextlib
import ctypes
import time
from typing import Dict, Iterator, Optional

import numpy as np

__all__ = ["phase", "recording", "kernel_clock", "kernel_traces", "add_kernel_phases"]

_record: Optional[Dict[str, float]] = None  # phase -> seconds while recording
_NULL = contextlib.nullcontext()
_NO_CLOCK = (0, 0)
_clock = None


class _Timer:
    __slots__ = ("name", "t0")

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        rec = _record
        if rec is not None:
            rec[self.name] = rec.get(self.name, 0.0) + time.perf_counter() - self.t0
        return False


def phase(name):
    """Context manager timing `name` when a recording is active."""
    return _NULL if _record is None else _Timer(name)


@contextlib.contextmanager
def recording() -> Iterator[Dict[str, float]]:
    """Collect phase times of the calls made inside; yields the dict it fills.

    Public as :func:`fastconv.record_phases`: the dict maps each phase
    ("prepare", "im2col", "gemm", "col2im", ...) to seconds, per thread for
    the kernels' phases. Not re-entrant and not meant for concurrent
    threads: it is the profiler's instrument, used from one thread at a time.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x, w = np.ones((2, 3, 16, 16)), np.ones((4, 3, 3, 3))
    >>> with fastconv.record_phases() as phases:
    ...     _ = fastconv.conv2d(x, w, algorithm="im2col")
    >>> "prepare" in phases and all(t >= 0 for t in phases.values())
    True
    """
    global _record
    previous, _record = _record, {}
    try:
        yield _record
    finally:
        _record = previous


def _find_clock():
    """(address of clock_gettime, CLOCK_MONOTONIC), or (0, 0) where there is none."""
    clock_id = getattr(time, "CLOCK_MONOTONIC", None)
    if clock_id is None or ctypes.sizeof(ctypes.c_long) != 8:
        return _NO_CLOCK
    try:
        fn = ctypes.CDLL(None).clock_gettime
    except (OSError, AttributeError, TypeError):
        return _NO_CLOCK
    return (ctypes.cast(fn, ctypes.c_void_p).value, int(clock_id))


def kernel_clock():
    """Return the kernels' clock argument: (address, id) while recording, else (0, 0)."""
    global _clock
    if _record is None:
        return _NO_CLOCK
    if _clock is None:
        _clock = _find_clock()
    return _clock


def kernel_traces(pieces, phases):
    """Zeroed per-piece trace rows (pieces, phases) for the kernels to fill."""
    return np.zeros((max(pieces, 1), max(phases, 1)))


def add_kernel_phases(names, traces, pieces):
    """Add the kernels' phase seconds to the record, per thread (see module doc)."""
    rec = _record
    if rec is None or _clock == _NO_CLOCK:
        return
    totals = traces[:pieces].sum(axis=0)
    for name, seconds in zip(names, totals):
        rec[name] = rec.get(name, 0.0) + float(seconds) / pieces
