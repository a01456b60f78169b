"""NHWC convolution on batch-reduce register tiles: no columns, taps as segments.

Output pixels ``(n, oh, ow .. ow+MR)`` times filters ``f .. f+NR`` are one
register tile (:func:`fastconv._kernels.tile.tile`) summed over segments of
the window: row i of segment s's A is pixel ``ow + i``'s window slice in
the padded input, ``xp[n, oh*sh + .., (ow + i)*sw + .., :]`` (a run of k
values, row stride ``sw*C``), and its B is the matching rows of the
weight's panel of NR filters. With column dilation 1 a window row is
one run of ``KW*C`` values in x and in the weight (KH segments of ``k =
KW*C``, the first layers' shape); otherwise each tap is a segment of ``k
= C``. The accumulators
stay in registers through every segment: no im2col, no column matrix.

xp is x padded with zeros. The weight is packed into panels of NR
filters, ``(Fp/NR, KH, KW, C, NR)``, filters past F zeros: a tile's B is
one contiguous panel (rows of the unpacked weight lie F values apart; at F
= 1024 float32 every row falls in the same L1 set). A row's last tile has
as many rows as pixels are left, and the last filters' tile stores under
a mask: every tile writes into the output directly.
"""

import numpy as np
from numba import njit

from .tile import PORTABLE, portable_tile, shape, tile

__all__ = ["forward_nhwc", "segments"]


def segments(KH, KW, C, NR, dh, dw, Wp):
    """Return (a_offs, b_offs, k): each segment's offsets in xp and in a panel.

    Offsets are relative to a tile's first pixel (xp) and to its panel of
    the packed weight (NR values a row); ``k`` values a segment.
    """
    if dw == 1:  # a window row is one run of KW*C values
        a = [kh * dh * Wp * C for kh in range(KH)]
        b = [kh * KW * C * NR for kh in range(KH)]
        return np.array(a, np.int64), np.array(b, np.int64), KW * C
    a = [(kh * dh * Wp + kw * dw) * C for kh in range(KH) for kw in range(KW)]
    b = [(kh * KW + kw) * C * NR for kh in range(KH) for kw in range(KW)]
    return np.array(a, np.int64), np.array(b, np.int64), C


@njit(cache=True, inline="always")
def _tile(kind, rows, cols, segs, a_offs, b_offs, k, a, ao, rsa, b, bo, ldb, c, co, ldc):
    one = np.uint64(1)
    if kind == PORTABLE:
        portable_tile(
            rows, cols, segs, a_offs, b_offs, k, a, ao, rsa, one, b, bo, ldb, c, co, ldc,
            False,
        )  # fmt: skip
    else:
        tile(
            kind, rows, cols, segs, a_offs, b_offs, k, a, ao, rsa, one, b, bo, ldb, c,
            co, ldc, False,
        )  # fmt: skip


@njit(cache=True, nogil=True)
def forward_nhwc(ctx, lo, hi):
    """Blocks ``[lo, hi)`` of ``R`` output rows (rows ``n*OH + oh``) of a convolution.

    Within a block each panel of filters runs over all its rows before the
    next: the panel (``KH*KW*C*NR`` values) stays in cache for R rows'
    tiles, not one's.

    ctx: xp (flat padded x), wp (flat packed weight, panels of ``panel``
    values), bias (F,), out (N, OH, OW, F) flat, a_offs, b_offs (int64
    segments), dims ``(kind, N*OH, OH, OW, F, panel, C, Hp, Wp, sh, sw, k,
    has_bias, R)``.
    """
    xp, wp, bias, out, a_offs, b_offs, dims = ctx
    kind = dims[0]
    mr, nr = shape(kind, out.itemsize)
    u = np.uint64
    NOH, OH, OW, F, panel = u(dims[1]), u(dims[2]), u(dims[3]), u(dims[4]), u(dims[5])
    C, Hp, Wp, sh, sw = u(dims[6]), u(dims[7]), u(dims[8]), u(dims[9]), u(dims[10])
    k, has_bias, R = u(dims[11]), dims[12] != 0, u(dims[13])
    mr, nr = u(mr), u(nr)
    segs = u(len(a_offs))
    rsa = sw * C
    zero = u(0)
    for block in range(u(lo), u(hi)):
        first = block * R
        last = min(first + R, NOH)
        for f in range(zero, F, nr):
            cols = min(nr, F - f)
            bo = f // nr * panel
            for item in range(first, last):
                n = item // OH
                oh = item - n * OH
                row = (n * Hp + oh * sh) * Wp * C  # the window's first pixel in xp
                out_row = item * OW * F
                for ow in range(zero, OW, mr):
                    rows = min(mr, OW - ow)
                    ao = row + ow * rsa
                    co = out_row + ow * F + f
                    _tile(
                        kind, rows, cols, segs, a_offs, b_offs, k, xp, ao, rsa, wp, bo,
                        nr, out, co, F,
                    )  # fmt: skip
                    if has_bias:
                        for i in range(rows):
                            for j in range(cols):
                                out[co + i * F + j] += bias[f + j]
