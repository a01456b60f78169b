"""im2col and col2im on tiles: one sample, a channel range, a band of output rows.

The fused convolution kernels (:mod:`fastconv._kernels.conv`) build the
columns of one tile, hand them straight to a GEMM and, backwards, sum the
GEMM's columns back into the image, while the tile is still in cache; the
public :func:`fastconv.im2col` and :func:`fastconv.col2im` run the same
functions over whole samples.

Clean input is assumed: C-contiguous arrays, a checked
:class:`~fastconv._engine.geometry.Window`, column buffers of the right
size. Columns are flat arrays in row-major order:

- NCHW tile: ``(cc*KH*KW, m)`` with row ``(c*KH + i)*KW + j`` and column
  ``(oh - oh0)*OW + ow``, ``m = (oh1 - oh0)*OW`` (torch's ``unfold`` order).
- NHWC tile: ``(m, KH*KW*cc)`` with row ``(oh - oh0)*OW + ow`` and column
  ``(i*KW + j)*cc + c``: each tap is a run of channels.
- NHWC *planar* tile (few channels): the transpose, ``(KH*KW*C, m)`` with
  row ``(i*KW + j)*C + c``: each row a run along the output width, where
  the NHWC tile's runs would be only ``KW*C`` values long.

Each row of columns is written strictly sequentially; padding is filled by
ranges, without a test per element. col2im adds in a fixed order (channel,
tap, output position), so results do not depend on the thread count.
"""

import numpy as np
from numba import njit

from .common import inner_range, out_range, window_taps

__all__ = [
    "im2col_tile_nchw",
    "col2im_tile_nchw",
    "im2col_tile_nhwc",
    "col2im_tile_nhwc",
    "im2col_tile_planar",
    "col2im_tile_planar",
    "im2col_samples",
    "col2im_samples",
]


@njit(cache=True, inline="always")
def _band_rows(i, win, oh0, oh1, H):
    """Rows ``[r_lo, r_hi)`` of the band whose tap-i input row lies inside [0, H)."""
    r_lo, r_hi = out_range(oh1, win.sh, i * win.dh - win.top, H)
    r_lo = min(max(r_lo, oh0), oh1)
    return r_lo, max(min(r_hi, oh1), r_lo)


@njit(cache=True, nogil=True)
def im2col_tile_nchw(x, n, c0, cc, win, oh0, oh1, cols):
    """X (N, C, H, W) -> cols (cc*KH*KW, (oh1-oh0)*OW), flat.

    Sample `n`, channels ``[c0, c0 + cc)``, output rows ``[oh0, oh1)``.
    With unit strides and OW == W (3x3 "same" and the like), the rows of a
    tap's columns and of the input are equally long, so a whole band is one
    long copy, after which the padding columns it filled from the next row
    are zeroed. Other rows copy at flat unsigned offsets: a slice view per
    row costs its reference counts, signed offsets a wraparound check that
    stops LLVM's vectorisation.
    """
    H, W = x.shape[2], x.shape[3]
    OW = win.OW
    m = (oh1 - oh0) * OW
    xf = x.reshape(x.size)
    flat = win.sh == 1 and win.sw == 1 and OW == W
    for c in range(cc):
        plane = (n * x.shape[1] + c0 + c) * H * W
        for i in range(win.KH):
            r_lo, r_hi = _band_rows(i, win, oh0, oh1, H)
            for j in range(win.KW):
                dst = cols[((c * win.KH + i) * win.KW + j) * m :][:m]
                off = j * win.dw - win.left
                lo, hi = out_range(OW, win.sw, off, W)
                for t in range((r_lo - oh0) * OW):  # rows in the padding
                    dst[t] = 0
                for t in range((r_hi - oh0) * OW, m):
                    dst[t] = 0
                if r_lo == r_hi:
                    continue
                first = plane + (r_lo * win.sh - win.top + i * win.dh) * W + off
                if flat and hi <= lo:  # the tap reads only padding columns
                    for t in range((r_lo - oh0) * OW, (r_hi - oh0) * OW):
                        dst[t] = 0
                    continue
                if flat:
                    d0 = (r_lo - oh0) * OW
                    end = (r_hi - r_lo) * OW - (OW - hi)
                    d = dst[d0 + lo : d0 + end]
                    s = xf[first + lo : first + end]
                    for t in range(end - lo):
                        d[t] = s[t]
                    for r in range(d0, d0 + (r_hi - r_lo) * OW, OW):
                        for t in range(lo):
                            dst[r + t] = 0
                        for t in range(hi, OW):
                            dst[r + t] = 0
                    continue
                row0 = ((c * win.KH + i) * win.KW + j) * m
                us = np.uint64(win.sw)
                n_in = np.uint64(max(hi - lo, 0))
                for oh in range(r_lo, r_hi):
                    b = (oh - oh0) * OW
                    for t in range(lo):
                        dst[b + t] = 0
                    for t in range(hi, OW):
                        dst[b + t] = 0
                    # flat unsigned offsets: a view per row costs its reference
                    # counts (stride 2: 6.2 -> 2.8 ms for a 32x32 k4 layer)
                    ud = np.uint64(row0 + b + lo)
                    ux = np.uint64(first + (oh - r_lo) * win.sh * W + lo * win.sw)
                    if win.sw == 1:  # contiguous: vectorises
                        for t in range(n_in):
                            cols[ud + t] = xf[ux + t]
                    elif win.sw == 2:  # a constant stride: shuffles, not a gather
                        two = np.uint64(2)
                        for t in range(n_in):
                            cols[ud + t] = xf[ux + two * t]
                    else:
                        for t in range(n_in):
                            cols[ud + t] = xf[ux + us * t]


@njit(cache=True, nogil=True)
def col2im_tile_nchw(cols, n, c0, cc, win, oh0, oh1, gx):
    """Add cols (cc*KH*KW, (oh1-oh0)*OW) into gx (N, C, H, W): im2col_tile_nchw's adjoint.

    cols is only read (the public col2im passes the caller's array): each
    output row's in-image run is added at flat unsigned offsets.
    """
    H, W = gx.shape[2], gx.shape[3]
    OW = win.OW
    m = (oh1 - oh0) * OW
    gf = gx.reshape(gx.size)
    for c in range(cc):
        plane = (n * gx.shape[1] + c0 + c) * H * W
        for i in range(win.KH):
            r_lo, r_hi = _band_rows(i, win, oh0, oh1, H)
            if r_lo == r_hi:
                continue
            for j in range(win.KW):
                off = j * win.dw - win.left
                lo, hi = out_range(OW, win.sw, off, W)
                first = plane + (r_lo * win.sh - win.top + i * win.dh) * W + off
                if hi <= lo:
                    continue
                row0 = ((c * win.KH + i) * win.KW + j) * m
                us = np.uint64(win.sw)
                n_in = np.uint64(hi - lo)
                for oh in range(r_lo, r_hi):
                    uc = np.uint64(row0 + (oh - oh0) * OW + lo)
                    ug = np.uint64(first + (oh - r_lo) * win.sh * W + lo * win.sw)
                    if win.sw == 1:
                        for t in range(n_in):
                            gf[ug + t] += cols[uc + t]
                    elif win.sw == 2:
                        two = np.uint64(2)
                        for t in range(n_in):
                            gf[ug + two * t] += cols[uc + t]
                    else:
                        for t in range(n_in):
                            gf[ug + us * t] += cols[uc + t]


@njit(cache=True, nogil=True)
def im2col_tile_nhwc(x, n, c0, cc, win, oh0, oh1, cols):
    """X (N, H, W, C) -> cols ((oh1-oh0)*OW, KH*KW*cc), flat.

    Sample `n`, channels ``[c0, c0 + cc)``, output rows ``[oh0, oh1)``. With
    all channels and no dilation, the taps of a kernel row are one
    contiguous run of ``KW*C`` values; otherwise each tap is a run of `cc`.
    """
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    KH, KW, OW = win.KH, win.KW, win.OW
    runs = cc == C and win.dw == 1
    xf = x.reshape(x.size)
    width = KH * KW * cc
    cols_in = inner_range(OW, win.sw, win.left, KW, win.dw, W)
    ucc = np.uint64(cc)
    for oh in range(oh0, oh1):
        for ow in range(OW):
            base = ((oh - oh0) * OW + ow) * width
            row = cols[base:][:width]
            w0, j_lo, j_hi = window_taps(ow, win.sw, win.left, KW, win.dw, W, cols_in)
            for i in range(KH):
                ih = oh * win.sh - win.top + i * win.dh
                d = row[i * KW * cc :][: KW * cc]
                if ih < 0 or ih >= H:
                    for t in range(KW * cc):
                        d[t] = 0
                    continue
                for t in range(j_lo * cc):  # zero-fills are short or empty
                    d[t] = 0
                pix = (n * H + ih) * W
                if runs:
                    ln = (j_hi - j_lo) * C
                    s = xf[(pix + w0 + j_lo) * C :][:ln]
                    dd = d[j_lo * C :][:ln]
                    for t in range(ln):
                        dd[t] = s[t]
                else:  # runs of cc: at flat offsets (views cost more than them)
                    ud = np.uint64(base + i * KW * cc)
                    for j in range(j_lo, j_hi):
                        ux = np.uint64((pix + w0 + j * win.dw) * C + c0)
                        uj = ud + np.uint64(j * cc)
                        for t in range(ucc):
                            cols[uj + t] = xf[ux + t]
                for t in range(j_hi * cc, KW * cc):
                    d[t] = 0


@njit(cache=True, nogil=True)
def col2im_tile_nhwc(cols, n, c0, cc, win, oh0, oh1, gx):
    """Add cols ((oh1-oh0)*OW, KH*KW*cc) into gx[..., c0:c0+cc].

    The adjoint of im2col_tile_nhwc.
    """
    H, W, C = gx.shape[1], gx.shape[2], gx.shape[3]
    KH, KW, OW = win.KH, win.KW, win.OW
    runs = cc == C and win.dw == 1
    gf = gx.reshape(gx.size)
    width = KH * KW * cc
    cols_in = inner_range(OW, win.sw, win.left, KW, win.dw, W)
    ucc = np.uint64(cc)
    for oh in range(oh0, oh1):
        for ow in range(OW):
            base = ((oh - oh0) * OW + ow) * width
            w0, j_lo, j_hi = window_taps(ow, win.sw, win.left, KW, win.dw, W, cols_in)
            for i in range(KH):
                ih = oh * win.sh - win.top + i * win.dh
                if ih < 0 or ih >= H:
                    continue
                # flat unsigned offsets, no views (col2im of the DCGAN layer's
                # transposed forward: 0.55 -> 0.39 ms)
                uc = np.uint64(base + i * KW * cc)
                pix = (n * H + ih) * W
                if runs:
                    ug = np.uint64((pix + w0 + j_lo) * C)
                    us = uc + np.uint64(j_lo * C)
                    for t in range(np.uint64((j_hi - j_lo) * C)):
                        gf[ug + t] += cols[us + t]
                else:
                    for j in range(j_lo, j_hi):
                        ug = np.uint64((pix + w0 + j * win.dw) * C + c0)
                        uj = uc + np.uint64(j * cc)
                        for t in range(ucc):
                            gf[ug + t] += cols[uj + t]


@njit(cache=True, nogil=True)
def im2col_tile_planar(x, n, win, oh0, oh1, cols):
    """X (N, H, W, C) -> cols (KH*KW*C, m), m = (oh1-oh0)*OW, flat.

    Row ``(i*KW + j)*C + c`` holds ``x[n, ih, iw, c]`` for the tile's output
    positions in order: a strided run along the width (stride sw*C).
    """
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    OW = win.OW
    m = (oh1 - oh0) * OW
    xf = x.reshape(x.size)
    step = win.sw * C
    for i in range(win.KH):
        for j in range(win.KW):
            off = j * win.dw - win.left
            lo, hi = out_range(OW, win.sw, off, W)
            for c in range(C):
                d = cols[((i * win.KW + j) * C + c) * m :][:m]
                for oh in range(oh0, oh1):
                    r = (oh - oh0) * OW
                    ih = oh * win.sh - win.top + i * win.dh
                    if ih < 0 or ih >= H:
                        for t in range(r, r + OW):
                            d[t] = 0
                        continue
                    for t in range(r, r + lo):
                        d[t] = 0
                    src = ((n * H + ih) * W + off) * C + c
                    for ow in range(lo, hi):
                        d[r + ow] = xf[src + ow * step]
                    for t in range(r + hi, r + OW):
                        d[t] = 0


@njit(cache=True, nogil=True)
def col2im_tile_planar(cols, n, win, oh0, oh1, gx):
    """Add cols (KH*KW*C, m) into gx (N, H, W, C): the adjoint of im2col_tile_planar."""
    H, W, C = gx.shape[1], gx.shape[2], gx.shape[3]
    OW = win.OW
    m = (oh1 - oh0) * OW
    gf = gx.reshape(gx.size)
    step = win.sw * C
    for i in range(win.KH):
        for j in range(win.KW):
            off = j * win.dw - win.left
            lo, hi = out_range(OW, win.sw, off, W)
            for c in range(C):
                s = cols[((i * win.KW + j) * C + c) * m :][:m]
                for oh in range(oh0, oh1):
                    ih = oh * win.sh - win.top + i * win.dh
                    if ih < 0 or ih >= H:
                        continue
                    r = (oh - oh0) * OW
                    dst = ((n * H + ih) * W + off) * C + c
                    for ow in range(lo, hi):
                        gf[dst + ow * step] += s[r + ow]


@njit(cache=True, nogil=True)
def im2col_samples(ctx, n0, n1):
    """Write the whole-sample columns of samples ``[n0, n1)``: cols (N, rows, width)."""
    x, win, nchw, cols = ctx
    per = cols.shape[1] * cols.shape[2]
    flat = cols.reshape(cols.size)
    C = x.shape[1] if nchw else x.shape[3]
    for n in range(n0, n1):
        tile = flat[n * per : (n + 1) * per]
        if nchw:
            im2col_tile_nchw(x, n, 0, C, win, 0, win.OH, tile)
        else:
            im2col_tile_nhwc(x, n, 0, C, win, 0, win.OH, tile)


@njit(cache=True, nogil=True)
def col2im_samples(ctx, n0, n1):
    """Overwrite samples ``[n0, n1)`` of x with the sums of their whole-sample columns."""
    cols, win, nchw, x = ctx
    per = cols.shape[1] * cols.shape[2]
    flat = cols.reshape(cols.size)
    C = x.shape[1] if nchw else x.shape[3]
    for n in range(n0, n1):
        x[n] = 0
        tile = flat[n * per : (n + 1) * per]
        if nchw:
            col2im_tile_nchw(tile, n, 0, C, win, 0, win.OH, x)
        else:
            col2im_tile_nhwc(tile, n, 0, C, win, 0, win.OH, x)
