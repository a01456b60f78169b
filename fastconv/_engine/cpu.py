"""What the engine reads of the machine: cores, the L2 cache size, the vector width.

Read from the operating system, never assumed: the development machines
change CPU model between sessions.
"""

import functools
import os

from .._kernels import tile

__all__ = ["usable_cores", "l2_bytes", "vector_kind"]


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
