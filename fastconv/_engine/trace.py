"""Phase timing for the profiler: where a call's time goes.

The fast path marks its phases with ``with phase("im2col"):``. Outside
:func:`recording` that is a shared no-op context (one global read per phase);
inside, the elapsed time of each phase is added to the active record.
"""

import contextlib
import time

__all__ = ["phase", "recording"]

_record = None  # dict phase -> seconds while recording, else None
_NULL = contextlib.nullcontext()


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
def recording():
    """Collect phase times of the calls made inside; yields the dict it fills.

    Not re-entrant and not meant for concurrent threads: it is the profiler's
    instrument, used from one thread at a time.
    """
    global _record
    previous, _record = _record, {}
    try:
        yield _record
    finally:
        _record = previous
