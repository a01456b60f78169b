"""Jitted im2col / col2im kernels for both layouts.

The kernels assume clean input: C-contiguous float32 or float64 arrays, a
preallocated output of the right shape and dtype, geometry already checked
by :mod:`fastconv._geometry`. They never raise.

Threads: the kernels are serial and release the GIL (``nogil=True``).
They run between BLAS calls, whose worker threads keep spinning for a while
after each GEMM; numba worker threads started then would fight them for the
cores (measured here: up to a scheduler slice, ~8 ms, per call). Serial
kernels leave BLAS the machine, and callers on several Python threads run
kernels truly in parallel. Every outer iteration writes its own disjoint
slice in a fixed order, so results are bitwise reproducible.
"""

from numba import njit

__all__ = ["im2col_nchw", "col2im_nchw", "im2col_nhwc", "col2im_nhwc"]


@njit(cache=True, inline="always")
def _valid_range(n_out, stride, offset, size):
    """Output positions ``o`` in ``[0, n_out)`` with ``0 <= o*stride + offset < size``."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = 0
    if size - 1 - offset >= 0:
        hi = (size - 1 - offset) // stride + 1
    lo = min(lo, n_out)
    hi = min(max(hi, lo), n_out)
    return lo, hi


@njit(cache=True, nogil=True)
def im2col_nchw(x, KH, KW, sh, sw, dh, dw, top, left, OH, OW, cols):
    """x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW), row (c*KH + i)*KW + j."""
    N, C, H, W = x.shape
    for nc in range(N * C):
        n = nc // C
        c = nc - n * C
        for i in range(KH):
            for j in range(KW):
                row = (c * KH + i) * KW + j
                off = j * dw - left
                lo, hi = _valid_range(OW, sw, off, W)
                for oh in range(OH):
                    ih = oh * sh - top + i * dh
                    base = oh * OW
                    if ih < 0 or ih >= H:
                        for ow in range(OW):
                            cols[n, row, base + ow] = 0
                        continue
                    for ow in range(lo):
                        cols[n, row, base + ow] = 0
                    for ow in range(lo, hi):
                        cols[n, row, base + ow] = x[n, c, ih, ow * sw + off]
                    for ow in range(hi, OW):
                        cols[n, row, base + ow] = 0


@njit(cache=True, nogil=True)
def col2im_nchw(cols, KH, KW, sh, sw, dh, dw, top, left, OH, OW, x):
    """Adjoint of :func:`im2col_nchw`: overwrite x (N, C, H, W) with the sums."""
    N, C, H, W = x.shape
    for nc in range(N * C):
        n = nc // C
        c = nc - n * C
        for ih in range(H):
            for iw in range(W):
                x[n, c, ih, iw] = 0
        for i in range(KH):
            for j in range(KW):
                row = (c * KH + i) * KW + j
                off = j * dw - left
                lo, hi = _valid_range(OW, sw, off, W)
                for oh in range(OH):
                    ih = oh * sh - top + i * dh
                    if ih < 0 or ih >= H:
                        continue
                    base = oh * OW
                    for ow in range(lo, hi):
                        x[n, c, ih, ow * sw + off] += cols[n, row, base + ow]


@njit(cache=True, nogil=True)
def im2col_nhwc(x, c0, Cg, KH, KW, sh, sw, dh, dw, top, left, OH, OW, cols):
    """x (N, H, W, C) channels [c0, c0+Cg) -> cols (N*OH*OW, KH*KW*Cg).

    Row ``(n*OH + oh)*OW + ow``, column ``(i*KW + j)*Cg + c``: each tap copies a
    whole run of Cg channels.
    """
    N, H, W, C = x.shape
    for noh in range(N * OH):
        n = noh // OH
        oh = noh - n * OH
        for ow in range(OW):
            r = noh * OW + ow
            for i in range(KH):
                ih = oh * sh - top + i * dh
                for j in range(KW):
                    iw = ow * sw - left + j * dw
                    col = (i * KW + j) * Cg
                    if ih < 0 or ih >= H or iw < 0 or iw >= W:
                        for c in range(Cg):
                            cols[r, col + c] = 0
                    else:
                        for c in range(Cg):
                            cols[r, col + c] = x[n, ih, iw, c0 + c]


@njit(cache=True, nogil=True)
def col2im_nhwc(cols, c0, Cg, KH, KW, sh, sw, dh, dw, top, left, OH, OW, x):
    """Adjoint of :func:`im2col_nhwc`: add the sums into x[..., c0:c0+Cg].

    x must be zeroed by the caller (groups share it, each its own channels).
    """
    N, H, W, C = x.shape
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                r = (n * OH + oh) * OW + ow
                for i in range(KH):
                    ih = oh * sh - top + i * dh
                    if ih < 0 or ih >= H:
                        continue
                    for j in range(KW):
                        iw = ow * sw - left + j * dw
                        if iw < 0 or iw >= W:
                            continue
                        col = (i * KW + j) * Cg
                        for c in range(Cg):
                            x[n, ih, iw, c0 + c] += cols[r, col + c]
