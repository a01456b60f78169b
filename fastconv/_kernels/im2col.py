"""Jitted im2col / col2im kernels for both layouts.

The kernels assume clean input: C-contiguous float32 or float64 arrays, a
preallocated output of the right shape and dtype, geometry already checked
by :mod:`fastconv._engine.geometry`. They never raise.

Threads: the kernels are serial and release the GIL (``nogil=True``).
They run between BLAS calls, whose worker threads keep spinning for a while
after each GEMM; numba worker threads started then would fight them for the
cores (measured here: up to a scheduler slice, ~8 ms, per call). Serial
kernels leave BLAS the machine, and callers on several Python threads run
kernels truly in parallel. Every outer iteration writes its own disjoint
slice in a fixed order, so results are bitwise reproducible.
"""

from numba import njit

from .common import inner_range, out_range, window_taps

__all__ = [
    "im2col_nchw",
    "col2im_nchw",
    "rows_to_nchw",
    "nchw_to_rows",
    "im2col_nhwc",
    "col2im_nhwc",
]


@njit(cache=True, nogil=True)
def im2col_nchw(x, c0, c1, n0, n1, KH, KW, sh, sw, dh, dw, top, left, OH, OW, cols):
    """X (nb, C, H, W) -> cols (C*KH*KW, nb*OH*OW), for channels [c0, c1) and
    samples [n0, n1).

    Row ``(c*KH + i)*KW + j``, column ``n*OH*OW + oh*OW + ow``: the batch sits
    in the columns, so one GEMM ``W (F, C*KH*KW) @ cols`` serves the chunk.
    Each row is written strictly sequentially; padding is zero-filled by
    ranges, without a test per element.
    """
    N, C, H, W = x.shape
    P = OH * OW
    for c in range(c0, c1):
        for i in range(KH):
            for j in range(KW):
                row = (c * KH + i) * KW + j
                off = j * dw - left
                lo, hi = out_range(OW, sw, off, W)
                for n in range(n0, n1):
                    for oh in range(OH):
                        ih = oh * sh - top + i * dh
                        base = n * P + oh * OW
                        if ih < 0 or ih >= H:
                            for ow in range(OW):
                                cols[row, base + ow] = 0
                            continue
                        for ow in range(lo):
                            cols[row, base + ow] = 0
                        for ow in range(lo, hi):
                            cols[row, base + ow] = x[n, c, ih, ow * sw + off]
                        for ow in range(hi, OW):
                            cols[row, base + ow] = 0


@njit(cache=True, nogil=True)
def col2im_nchw(cols, c0, c1, n0, n1, KH, KW, sh, sw, dh, dw, top, left, OH, OW, x):
    """Adjoint of :func:`im2col_nchw`: overwrite x (nb, C, H, W) with the sums,
    for the planes of channels [c0, c1) and samples [n0, n1).

    Each (n, c) plane sums its taps in a fixed order (i, j, oh, ow).
    """
    N, C, H, W = x.shape
    P = OH * OW
    for n in range(n0, n1):
        for c in range(c0, c1):
            for ih in range(H):
                for iw in range(W):
                    x[n, c, ih, iw] = 0
            for i in range(KH):
                for j in range(KW):
                    row = (c * KH + i) * KW + j
                    off = j * dw - left
                    lo, hi = out_range(OW, sw, off, W)
                    for oh in range(OH):
                        ih = oh * sh - top + i * dh
                        if ih < 0 or ih >= H:
                            continue
                        base = n * P + oh * OW
                        for ow in range(lo, hi):
                            x[n, c, ih, ow * sw + off] += cols[row, base + ow]


@njit(cache=True, nogil=True)
def rows_to_nchw(rows, bias, n0, n1, out):
    """Rows (F, nb*P) -> out (nb, F, P) for samples [n0, n1), adding bias (F,)."""
    N, F, P = out.shape
    for n in range(n0, n1):
        for f in range(F):
            b = bias[f]
            for p in range(P):
                out[n, f, p] = rows[f, n * P + p] + b


@njit(cache=True, nogil=True)
def nchw_to_rows(a, f0, f1, rows, sums):
    """A (nb, F, P) -> rows (F, nb*P) for rows [f0, f1), adding each row's
    total into sums[f].

    The totals accumulate in float64 (sums is float64) whatever a's dtype.
    """
    N, F, P = a.shape
    for f in range(f0, f1):
        total = 0.0
        for n in range(N):
            for p in range(P):
                v = a[n, f, p]
                rows[f, n * P + p] = v
                total += v
        sums[f] += total


@njit(cache=True, nogil=True)
def im2col_nhwc(x, c0, Cg, KH, KW, sh, sw, dh, dw, top, left, OH, OW, cols):
    """X (nb, H, W, C) channels [c0, c0+Cg) -> cols (nb*OH*OW, KH*KW*Cg).

    Row ``(n*OH + oh)*OW + ow``, column ``(i*KW + j)*Cg + c``: each tap copies
    a whole run of Cg channels; with all channels and no dilation, the taps
    of a kernel row are one contiguous run of ``KW*C`` values, copied as one
    slice of the flat arrays (a memcpy: 2.4x an element loop, measured).
    """
    N, H, W, C = x.shape
    runs = Cg == C and dw == 1
    xf = x.ravel()  # (nb*H*W*C,), a view
    cf = cols.ravel()  # (nb*OH*OW*KK*Cg,)
    width = KH * KW * Cg
    # windows wholly inside along w need no bounds arithmetic (two divisions)
    cols_in = inner_range(OW, sw, left, KW, dw, W)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                r = ((n * OH + oh) * OW + ow) * width
                w0, j_lo, j_hi = window_taps(ow, sw, left, KW, dw, W, cols_in)
                for i in range(KH):
                    ih = oh * sh - top + i * dh
                    base = r + i * KW * Cg
                    if ih < 0 or ih >= H:
                        for t in range(KW * Cg):
                            cf[base + t] = 0
                        continue
                    for t in range(j_lo * Cg):  # zero-fills are short or empty
                        cf[base + t] = 0
                    if runs:
                        src = ((n * H + ih) * W + w0 + j_lo) * C
                        dst = base + j_lo * C
                        ln = (j_hi - j_lo) * C
                        if ln >= 16:
                            cf[dst : dst + ln] = xf[src : src + ln]
                        else:  # a short run: a slice costs more than it copies
                            for t in range(ln):
                                cf[dst + t] = xf[src + t]
                    else:
                        for j in range(j_lo, j_hi):
                            src = ((n * H + ih) * W + w0 + j * dw) * C + c0
                            dst = base + j * Cg
                            for t in range(Cg):
                                cf[dst + t] = xf[src + t]
                    for t in range(j_hi * Cg, KW * Cg):
                        cf[base + t] = 0


@njit(cache=True, nogil=True)
def col2im_nhwc(cols, c0, Cg, KH, KW, sh, sw, dh, dw, top, left, OH, OW, x):
    """Adjoint of :func:`im2col_nhwc`: add the sums into x[..., c0:c0+Cg].

    x must be zeroed by the caller (groups share it, each its own channels).
    Sums run in a fixed order (n, oh, ow, i, j).
    """
    N, H, W, C = x.shape
    runs = Cg == C and dw == 1
    x3 = x.reshape((N, H, W * C))  # (nb, H, W*C), a view
    cols_in = inner_range(OW, sw, left, KW, dw, W)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                r = (n * OH + oh) * OW + ow
                w0, j_lo, j_hi = window_taps(ow, sw, left, KW, dw, W, cols_in)
                for i in range(KH):
                    ih = oh * sh - top + i * dh
                    if ih < 0 or ih >= H:
                        continue
                    base = i * KW * Cg
                    if runs:
                        dst = (w0 + j_lo) * C
                        src = base + j_lo * C
                        for t in range((j_hi - j_lo) * C):
                            x3[n, ih, dst + t] += cols[r, src + t]
                    else:
                        for j in range(j_lo, j_hi):
                            iw = w0 + j * dw
                            src = base + j * Cg
                            for c in range(Cg):
                                x[n, ih, iw, c0 + c] += cols[r, src + c]
