"""What the engine reads of the machine: usable cores and the L2 cache size.

Read from the operating system, never assumed: the development machines
change CPU model between sessions.
"""

import functools
import os

__all__ = ["usable_cores", "l2_bytes"]


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
