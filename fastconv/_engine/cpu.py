"""What the engine reads of the machine: cores, the L2 cache size, the vector width.

Read from the operating system, never assumed: the development machines
change CPU model between sessions.
"""

import functools
import os
import time
from typing import Any, Optional

import numpy as np

from .._kernels import tile

__all__ = ["usable_cores", "l2_bytes", "vector_kind", "fma_peak"]


def usable_cores():
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _parse_size(text):
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    digits = text.rstrip("KMGB")
    return int(digits) * scale


@functools.lru_cache(maxsize=None)
def l2_bytes():
    """Per-core L2 cache in bytes (Linux sysfs), or None where it does not say."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in sorted(os.listdir(base)):
            path = os.path.join(base, entry)
            with open(os.path.join(path, "level")) as fh:
                level = fh.read().strip()
            with open(os.path.join(path, "type")) as fh:
                kind = fh.read().strip()
            if level == "2" and kind in ("Unified", "Data"):
                with open(os.path.join(path, "size")) as fh:
                    return _parse_size(fh.read())
    except (OSError, ValueError):
        pass
    return None


def _features():
    """Return the CPU features numba compiles for, as a set of names."""
    import numba
    from llvmlite import binding

    given = numba.config.CPU_FEATURES  # NUMBA_CPU_FEATURES, if the user set it
    if given:
        return {f[1:] for f in given.split(",") if f.startswith("+")}
    return {name for name, on in binding.get_host_cpu_features().items() if on}


@functools.lru_cache(maxsize=None)
def vector_kind():
    """Return the register tile kind for this CPU (:mod:`fastconv._kernels.tile`).

    WIDE with AVX-512 (avx512f), NARROW with AVX2 and FMA, PORTABLE else.
    """
    features = _features()
    if "avx512f" in features:
        return tile.WIDE
    if {"avx2", "fma"} <= features:
        return tile.NARROW
    return tile.PORTABLE


def fma_peak(
    dtype: Any = "float32",
    kind: Optional[int] = None,
    seconds: float = 0.02,
    rounds: int = 5,
) -> float:
    """Return one core's multiply-add rate, GFLOP/s, as fastconv's kernels reach it.

    fastconv's register tile (the host's vector width, or `kind`) repeated
    on operands of a few KB, which stay in L1: the rate of the FMA units,
    the ceiling of every convolution on one core. The best of `rounds`
    runs of at least `seconds` each. ``python -m fastconv bench`` reports
    each layer's rate against it (times the threads a call uses).

    Parameters
    ----------
    dtype : float32 or float64
    kind : int, optional
        A tile kind of :mod:`fastconv._kernels.tile` (default:
        :func:`vector_kind`, what the engine runs).

    Examples
    --------
    >>> import fastconv
    >>> fastconv.fma_peak("float64") > 0
    True
    """
    kind = vector_kind() if kind is None else kind
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    mr, nr = tile.shape(kind, dtype.itemsize)
    k = 128
    a, b = np.full(k * mr, 1e-3, dtype), np.full(k * nr, 1e-3, dtype)
    c = np.zeros(mr * nr, dtype)
    flops = 2.0 * mr * nr * k
    tile.spin(kind, k, a, b, c, 1)  # compile
    reps, spent = 64, 0.0
    while spent < seconds:  # calls long enough to time
        reps *= 2
        t0 = time.perf_counter()
        tile.spin(kind, k, a, b, c, reps)
        spent = time.perf_counter() - t0
    best = spent
    for _ in range(rounds - 1):
        t0 = time.perf_counter()
        tile.spin(kind, k, a, b, c, reps)
        best = min(best, time.perf_counter() - t0)
    return flops * reps / best / 1e9
