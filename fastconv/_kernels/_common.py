"""Index helpers shared by the kernels (inlined into them by numba)."""

from numba import njit

__all__ = ["tap_range", "out_range"]


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
    """Outputs ``o`` in ``[0, n_out)`` with ``0 <= o*stride + offset < size``, as (lo, hi)."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = 0
    if size - 1 - offset >= 0:
        hi = (size - 1 - offset) // stride + 1
    lo = min(lo, n_out)
    return lo, min(max(hi, lo), n_out)
