"""Index helpers shared by the kernels (inlined into them by numba)."""

from numba import njit

__all__ = ["tap_range", "out_range", "inner_range", "window_taps"]


@njit(cache=True, inline="always")
def tap_range(start, k, d, size):
    """Taps ``t`` in ``[0, k)`` with ``0 <= start + t*d < size``, as (lo, hi)."""
    lo = 0
    if start < 0:
        lo = (-start + d - 1) // d
    hi = k
    last = start + (k - 1) * d
    if last >= size:
        hi = k - ((last - size) // d + 1)
    lo = min(lo, k)
    return lo, max(hi, lo)


@njit(cache=True, inline="always")
def out_range(n_out, stride, offset, size):
    """Return the outputs ``o`` in [0, n_out) with ``0 <= o*stride + offset < size``.

    As a range (lo, hi).
    """
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = 0
    if size - 1 - offset >= 0:
        hi = (size - 1 - offset) // stride + 1
    lo = min(lo, n_out)
    return lo, min(max(hi, lo), n_out)


@njit(cache=True, inline="always")
def inner_range(n_out, s, pad, k, d, size):
    """Windows wholly inside [0, size), as a range (lo, hi) of outputs."""
    return out_range(n_out, s, -pad, size - (k - 1) * d)


@njit(cache=True, inline="always")
def window_taps(o, s, pad, k, d, size, inner):
    """Window `o`'s start and its taps inside [0, size), as (start, lo, hi).

    Inside the `inner` range (from :func:`inner_range`) every tap is in
    bounds: no division needed.
    """
    start = o * s - pad
    if inner[0] <= o < inner[1]:
        return start, 0, k
    lo, hi = tap_range(start, k, d, size)
    return start, lo, hi
