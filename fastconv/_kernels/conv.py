"""Fused convolution kernels: im2col of a tile, its GEMMs, col2im, in one call.

Each kernel runs one piece of a plan's work on the calling thread: the
forward kernels a range of *items* (sample ``n``, band ``t`` of output
rows), the backward kernels a range of *slots* (a fixed block of samples
whose grad_weight and grad_bias they sum into the slot's own partial). A
tile's columns are built in a small per-thread buffer, consumed at once by
numpy's BLAS (single-threaded, called by address: :mod:`.gemm`) and, going
backwards, summed back into grad_x while still in cache.

Inputs are clean (C-contiguous, compute dtype, checked geometry). Layouts:

- NCHW: x (N, C, H, W), weight (F, Cg, KH, KW), out (N, F, OH, OW).
  Forward per group: ``out[n, g] (Fg, m) = W_g (Fg, Cg*KK) @ cols (Cg*KK, m)``
  with the output's leading dimension OH*OW, so a band of rows lands in place.
- NHWC: x (N, H, W, C), weight (KH, KW, Cg, F), out (N, OH, OW, F).
  Forward per group: ``out rows (m, Fg) = cols (m, KK*Cg) @ W_g (KK*Cg, Fg)``
  with leading dimension F.

A 1x1 window with unit stride and no padding (``pointwise``) uses x itself
as the column matrix, with its own leading dimension: no copy at all.

Determinism: every output element is one GEMM's dot product (forward,
grad_x) or a fixed sequence of them (grad_weight, grad_bias over the tiles
of a slot, then the slots in order), and the tiling depends on the plan
only, never on the thread count.

The `clock` and `trace` arguments time the phases for the profiler (see
:mod:`.clock`); ``trace[k]`` accumulates the seconds of phase k.
"""

import numpy as np
from numba import njit

from .clock import now
from .gemm import gemm
from .im2col import (
    col2im_tile_nchw,
    col2im_tile_nhwc,
    col2im_tile_planar,
    im2col_tile_nchw,
    im2col_tile_nhwc,
    im2col_tile_planar,
)

__all__ = [
    "FORWARD_PHASES",
    "BACKWARD_PHASES",
    "forward_nchw",
    "forward_nhwc",
    "backward_nchw",
    "backward_nhwc",
    "sum_slots",
    "channel_sums_nchw",
    "channel_sums_nhwc",
]

FORWARD_PHASES = ("im2col", "gemm", "bias")
BACKWARD_PHASES = ("im2col", "gemm grad_weight", "gemm grad_cols", "col2im", "grad_bias")


@njit(cache=True, inline="always")
def _pointwise(win):
    return (
        win.KH == 1
        and win.KW == 1
        and win.sh == 1
        and win.sw == 1
        and win.top == 0
        and win.bottom == 0
        and win.left == 0
        and win.right == 0
    )


@njit(cache=True, inline="always")
def _sum64(v, lanes):
    """Sum of v in float64, in a fixed order: 8 interleaved lanes, then the lanes.

    Independent lanes let LLVM vectorise the loop without reassociating
    anything (a plain float reduction stays scalar); `lanes` is scratch (8,).
    """
    lanes[:] = 0
    k = v.size - v.size % 8
    for p in range(0, k, 8):
        for q in range(8):
            lanes[q] += v[p + q]
    total = 0.0
    for q in range(8):
        total += lanes[q]
    for p in range(k, v.size):
        total += v[p]
    return total


@njit(cache=True, inline="always")
def _band(item, rows, OH):
    """Sample, first and end output row of work item `item`."""
    tiles = (OH + rows - 1) // rows
    n = item // tiles
    oh0 = (item - n * tiles) * rows
    return n, oh0, min(oh0 + rows, OH)


# the GEMM calls read best on a few lines
# fmt: off
@njit(cache=True, nogil=True)
def forward_nchw(ctx, item0, item1):
    """Run items ``[item0, item1)`` of an NCHW forward pass.

    `blas` is (gemm address, ilp64).
    """
    x, w, bias, has_bias, out, win, groups, rows, cols, blas, clock, trace = ctx
    N, C, H, W = x.shape
    F = w.shape[0]
    Cg, Fg = C // groups, F // groups
    K = Cg * win.KH * win.KW
    P = win.OH * win.OW
    pointwise = _pointwise(win)
    xf, wf, of = x.reshape(x.size), w.reshape(w.size), out.reshape(out.size)
    beta = 1.0 if has_bias else 0.0
    for item in range(item0, item1):
        n, oh0, oh1 = _band(item, rows, win.OH)
        m = (oh1 - oh0) * win.OW
        if has_bias:
            # the GEMMs add to a band prefilled with the bias: with beta = 0
            # BLAS would make a pass over C to zero it anyway
            t0 = now(clock)
            for f in range(F):
                band = of[(n * F + f) * P + oh0 * win.OW :][:m]
                b = bias[f]
                for p in range(m):
                    band[p] = b
            trace[2] += now(clock) - t0
        for g in range(groups):
            t0 = now(clock)
            o = (n * F + g * Fg) * P + oh0 * win.OW
            if pointwise:  # x (Cg, H*W) is the column matrix
                t1 = now(clock)
                gemm(blas[0], blas[1], False, False, Fg, m, K, wf, g * Fg * K, K, xf,
                     (n * C + g * Cg) * P + oh0 * win.OW, P, beta, of, o, P)
            else:
                im2col_tile_nchw(x, n, g * Cg, Cg, win, oh0, oh1, cols)
                t1 = now(clock)
                gemm(blas[0], blas[1], False, False, Fg, m, K, wf, g * Fg * K, K, cols,
                     0, m, beta, of, o, P)
            t2 = now(clock)
            trace[0] += t1 - t0
            trace[1] += t2 - t1


@njit(cache=True, nogil=True)
def forward_nhwc(ctx, item0, item1):
    """Run items ``[item0, item1)`` of an NHWC forward pass.

    `blas` is (gemm address, ilp64). With `planar` (groups = 1, few
    channels) the columns are built transposed and the GEMM reads them so:
    ``out rows (m, F) = cols.T (m, K) @ W (K, F)``.
    """
    x, w, bias, has_bias, out, win, groups, rows, cols, blas, clock, trace, planar = ctx
    N, H, W, C = x.shape
    F = w.shape[3]
    Cg, Fg = C // groups, F // groups
    K = Cg * win.KH * win.KW
    pointwise = _pointwise(win)
    xf, wf, of = x.reshape(x.size), w.reshape(w.size), out.reshape(out.size)
    beta = 1.0 if has_bias else 0.0
    for item in range(item0, item1):
        n, oh0, oh1 = _band(item, rows, win.OH)
        m = (oh1 - oh0) * win.OW
        orow = (n * win.OH + oh0) * win.OW  # first output row (of N*OH*OW)
        if has_bias:  # prefilled, as in forward_nchw
            t0 = now(clock)
            for r in range(orow, orow + m):
                o = of[r * F :][:F]
                for f in range(F):
                    o[f] = bias[f]
            trace[2] += now(clock) - t0
        for g in range(groups):
            t0 = now(clock)
            if pointwise:  # x (H*W, C) is the column matrix
                t1 = now(clock)
                gemm(blas[0], blas[1], False, False, m, Fg, K, xf, orow * C + g * Cg,
                     C, wf, g * Fg, F, beta, of, orow * F + g * Fg, F)
            elif planar:
                im2col_tile_planar(x, n, win, oh0, oh1, cols)
                t1 = now(clock)
                gemm(blas[0], blas[1], True, False, m, F, K, cols, 0, m, wf, 0, F, beta,
                     of, orow * F, F)
            else:
                im2col_tile_nhwc(x, n, g * Cg, Cg, win, oh0, oh1, cols)
                t1 = now(clock)
                gemm(blas[0], blas[1], False, False, m, Fg, K, cols, 0, K, wf, g * Fg,
                     F, beta, of, orow * F + g * Fg, F)
            t2 = now(clock)
            trace[0] += t1 - t0
            trace[1] += t2 - t1


# fmt: on


@njit(cache=True, inline="always")
def _unit_channels(u, units, C, groups):
    """Return the channels ``[c0, c1)`` of channel unit `u`.

    Whole groups when there are several groups, a share of the channels when
    there is one.
    """
    if groups > 1:
        Cg = C // groups
        return (u * groups // units) * Cg, ((u + 1) * groups // units) * Cg
    return u * C // units, (u + 1) * C // units


# the GEMM calls read best on a few lines, one operand to a group
# fmt: off
@njit(cache=True, nogil=True)
def backward_nchw(ctx, item0, item1):
    """Run items ``[item0, item1)`` of an NCHW backward pass (im2col plans).

    Item ``s*units + u`` is slot s (samples ``[s*N//S, (s+1)*N//S)``) and
    channel unit u (see _unit_channels): it writes grad_x of those samples
    and channels, and sums their grad_weight columns (of (F, Cg*KK)) into
    ``gw_parts[s]`` (compute dtype, by the GEMMs); unit 0 also sums
    grad_bias (F,) into ``gb_parts[s]`` (float64). `scratch` is unused here.

    With `want_y` (and `want_gw`; units of whole groups) the columns built
    for grad_weight also give the forward output, ``y`` (N, F, OH, OW) =
    W_g @ cols, without a bias: a transposed convolution's backward needs
    both from the same columns, and not this grad_bias (``gb_parts`` is
    left at zero). grad_x starts from ``fill`` (C,) per channel
    (zeros; a transposed convolution's bias), which col2im adds to.
    """
    (
        gy, x, w, gx, gw_parts, gb_parts, win, groups, rows, units, want_gx, want_gw,
        cols, scratch, blas, clock, trace, y, want_y, fill,
    ) = ctx
    N, C, H, W = x.shape
    F = w.shape[0]
    S = gw_parts.shape[0]
    Cg, Fg = C // groups, F // groups
    kk = win.KH * win.KW
    K = Cg * kk
    P = win.OH * win.OW
    wf, gyf, yf = w.reshape(w.size), gy.reshape(gy.size), y.reshape(y.size)
    tiles = (win.OH + rows - 1) // rows
    lanes = np.empty(8)
    for item in range(item0, item1):
        s = item // units
        u = item - s * units
        c0, c1 = _unit_channels(u, units, C, groups)
        gws = gw_parts[s].reshape(gw_parts[s].size)
        gbs = gb_parts[s]
        if u == 0:
            gbs[:] = 0
        beta = 0.0
        for n in range(s * N // S, (s + 1) * N // S):
            if want_gx:
                for c in range(c0, c1):
                    gx[n, c] = fill[c]
            for t in range(tiles):
                oh0 = t * rows
                oh1 = min(oh0 + rows, win.OH)
                m = (oh1 - oh0) * win.OW
                for g in range(c0 // max(Cg, 1), (c1 + Cg - 1) // max(Cg, 1)):
                    ca, cb = max(c0, g * Cg), min(c1, (g + 1) * Cg)
                    cu, co = cb - ca, ca - g * Cg  # channels, offset in group
                    Ku = cu * kk
                    dy = (n * F + g * Fg) * P + oh0 * win.OW
                    wo = g * Fg * K + co * kk  # W_g's columns of these channels
                    if want_gw:
                        t0 = now(clock)
                        im2col_tile_nchw(x, n, ca, cu, win, oh0, oh1, cols)
                        t1 = now(clock)
                        # dW (Fg, Ku) += dY_g (Fg, m) @ cols.T (m, Ku), into gw's columns
                        gemm(blas[0], blas[1], False, True, Fg, Ku, m, gyf, dy, P, cols,
                             0, m, beta, gws, wo, K)
                        if want_y:  # Y_g (Fg, m) = W_g (Fg, K) @ cols (K, m)
                            gemm(blas[0], blas[1], False, False, Fg, m, K, wf, g * Fg * K,
                                 K, cols, 0, m, 0.0, yf, dy, P)
                        t2 = now(clock)
                        trace[0] += t1 - t0
                        trace[1] += t2 - t1
                    if want_gx:
                        t2 = now(clock)
                        # dcols (Ku, m) = W.T (Ku, Fg) @ dY_g (Fg, m)
                        gemm(blas[0], blas[1], True, False, Ku, m, Fg, wf, wo, K, gyf, dy,
                             P, 0.0, cols, 0, m)
                        t3 = now(clock)
                        col2im_tile_nchw(cols, n, ca, cu, win, oh0, oh1, gx)
                        trace[2] += t3 - t2
                        trace[3] += now(clock) - t3
                beta = 1.0
                if u == 0 and want_gw and not want_y:
                    t0 = now(clock)
                    for f in range(F):
                        gbs[f] += _sum64(gyf[(n * F + f) * P + oh0 * win.OW :][:m], lanes)
                    trace[4] += now(clock) - t0
        if beta == 0.0 and want_gw:  # an empty slot: no samples
            for g in range(c0 // max(Cg, 1), (c1 + Cg - 1) // max(Cg, 1)):
                ca, cb = max(c0, g * Cg), min(c1, (g + 1) * Cg)
                for f in range(g * Fg, (g + 1) * Fg):
                    gws[f * K + (ca - g * Cg) * kk : f * K + (cb - g * Cg) * kk] = 0


@njit(cache=True, nogil=True)
def backward_nhwc(ctx, item0, item1):
    """Run items ``[item0, item1)`` of an NHWC backward pass (see backward_nchw).

    `want_y`: the forward output ``y`` (N, OH, OW, F) from grad_weight's
    columns, and ``fill``, grad_x's start, as in backward_nchw.

    With `planar` (groups = 1, one channel unit) the columns are transposed,
    (K, m): ``dW += cols @ dY`` and ``dcols = W @ dY.T``.

    ``gw_parts[s]`` is (KK*Cg, F), the weight's (KH, KW, Cg, F) as a matrix.
    A unit with a share of one group's channels has rows ``tap*Cg + c`` that
    are not evenly spaced: it sums them in ``scratch`` ((KK*cu, Fg), then
    scattered into the slot) and gathers its weight rows there too.
    """
    (
        gy, x, w, gx, gw_parts, gb_parts, win, groups, rows, units, want_gx, want_gw,
        cols, scratch, blas, clock, trace, y, want_y, fill, planar,
    ) = ctx
    N, H, W, C = x.shape
    F = w.shape[3]
    S = gw_parts.shape[0]
    Cg, Fg = C // groups, F // groups
    kk = win.KH * win.KW
    K = Cg * kk
    wf, gyf, gxf = w.reshape(w.size), gy.reshape(gy.size), gx.reshape(gx.size)
    yf = y.reshape(y.size)
    tiles = (win.OH + rows - 1) // rows
    for item in range(item0, item1):
        s = item // units
        u = item - s * units
        c0, c1 = _unit_channels(u, units, C, groups)
        whole = c1 - c0 == C or groups > 1  # whole groups: rows evenly spaced
        gws = gw_parts[s].reshape(gw_parts[s].size)
        gbs = gb_parts[s]
        if u == 0:
            gbs[:] = 0
        cu = c1 - c0
        part = scratch[: kk * cu * Fg]  # (KK*cu, Fg) partial dW
        wsub = scratch[kk * cu * Fg : 2 * kk * cu * Fg]  # (KK*cu, Fg) weight rows
        if not whole and want_gx:
            for tap in range(kk):
                for c in range(cu):
                    wsub[(tap * cu + c) * Fg :][:Fg] = wf[(tap * Cg + c0 + c) * F :][:Fg]
        beta = 0.0
        for n in range(s * N // S, (s + 1) * N // S):
            if want_gx:
                start = fill[c0:c1]
                for p in range(H * W):
                    gxf[(n * H * W + p) * C + c0 :][:cu] = start
            for t in range(tiles):
                oh0 = t * rows
                oh1 = min(oh0 + rows, win.OH)
                m = (oh1 - oh0) * win.OW
                orow = (n * win.OH + oh0) * win.OW
                for g in range(c0 // max(Cg, 1), (c1 + Cg - 1) // max(Cg, 1)):
                    ca = max(c0, g * Cg)
                    gu = min(c1, (g + 1) * Cg) - ca
                    Ku = gu * kk
                    dy = orow * F + g * Fg
                    if want_gw:
                        t0 = now(clock)
                        if planar:
                            im2col_tile_planar(x, n, win, oh0, oh1, cols)
                        else:
                            im2col_tile_nhwc(x, n, ca, gu, win, oh0, oh1, cols)
                        t1 = now(clock)
                        # dW (Ku, Fg) += cols.T (Ku, m) @ dY_g (m, Fg)
                        if planar:  # cols (K, m) @ dY (m, F)
                            gemm(blas[0], blas[1], False, False, K, F, m, cols, 0, m,
                                 gyf, dy, F, beta, gws, 0, F)
                        elif whole:
                            gemm(blas[0], blas[1], True, False, Ku, Fg, m, cols, 0, Ku,
                                 gyf, dy, F, beta, gws, g * Fg, F)
                        else:
                            gemm(blas[0], blas[1], True, False, Ku, Fg, m, cols, 0, Ku,
                                 gyf, dy, F, beta, part, 0, Fg)
                        if want_y and planar:  # Y (m, F) = cols.T (m, K) @ W (K, F)
                            gemm(blas[0], blas[1], True, False, m, F, K, cols, 0, m, wf,
                                 0, F, 0.0, yf, dy, F)
                        elif want_y:  # Y_g (m, Fg) = cols (m, K) @ W_g (K, Fg)
                            gemm(blas[0], blas[1], False, False, m, Fg, K, cols, 0, K, wf,
                                 g * Fg, F, 0.0, yf, dy, F)
                        t2 = now(clock)
                        trace[0] += t1 - t0
                        trace[1] += t2 - t1
                    if want_gx:
                        t2 = now(clock)
                        # dcols (m, Ku) = dY_g (m, Fg) @ W.T (Fg, Ku)
                        if planar:  # dcols (K, m) = W (K, F) @ dY.T (F, m)
                            gemm(blas[0], blas[1], False, True, K, m, F, wf, 0, F, gyf,
                                 dy, F, 0.0, cols, 0, m)
                        elif whole:
                            gemm(blas[0], blas[1], False, True, m, Ku, Fg, gyf, dy, F, wf,
                                 g * Fg, F, 0.0, cols, 0, Ku)
                        else:
                            gemm(blas[0], blas[1], False, True, m, Ku, Fg, gyf, dy, F,
                                 wsub, 0, Fg, 0.0, cols, 0, Ku)
                        t3 = now(clock)
                        if planar:
                            col2im_tile_planar(cols, n, win, oh0, oh1, gx)
                        else:
                            col2im_tile_nhwc(cols, n, ca, gu, win, oh0, oh1, gx)
                        trace[2] += t3 - t2
                        trace[3] += now(clock) - t3
                beta = 1.0
                if u == 0 and want_gw and not want_y:
                    t0 = now(clock)
                    for r in range(orow, orow + m):
                        v = gyf[r * F :][:F]
                        for f in range(F):
                            gbs[f] += v[f]
                    trace[4] += now(clock) - t0
        if not want_gw:
            continue
        if not whole:
            if beta == 0.0:
                part[:] = 0
            for tap in range(kk):
                for c in range(cu):
                    gws[(tap * Cg + c0 + c) * F :][:Fg] = part[(tap * cu + c) * Fg :][:Fg]
        elif beta == 0.0:
            for g in range(c0 // max(Cg, 1), (c1 + Cg - 1) // max(Cg, 1)):
                for r in range(K):
                    gws[r * F + g * Fg :][:Fg] = 0


# fmt: on


@njit(cache=True, nogil=True)
def sum_slots(ctx, lo, hi):
    """``out[lo:hi] = parts[0, lo:hi] + parts[1, lo:hi] + ...``, slots in order.

    parts (S, M) and out (M,) flat; pieces over disjoint [lo, hi) ranges.
    """
    parts, out = ctx
    o = out[lo:hi]
    first = parts[0, lo:hi]
    for t in range(hi - lo):
        o[t] = first[t]
    for s in range(1, parts.shape[0]):
        p = parts[s, lo:hi]
        for t in range(hi - lo):
            o[t] += p[t]


# reassociation lets LLVM split each plane's sum into vector lanes (float32:
# 0.44 -> 0.15 ms for a (16, 64, 32, 32) grad_out); the order it picks is
# fixed when the kernel compiles and the kernel runs on one thread
@njit(cache=True, nogil=True, fastmath={"reassoc"})
def channel_sums_nchw(a, out):
    """``out[c] = sum over n, h, w of a[n, c, h, w]`` in float64, samples in order.

    a (N, C, H, W) C-contiguous; out (C,) float64.
    """
    N, C = a.shape[0], a.shape[1]
    P = a.shape[2] * a.shape[3]
    af = a.reshape(a.size)
    out[:] = 0
    for n in range(N):
        for c in range(C):
            plane = af[(n * C + c) * P :][:P]
            total = 0.0
            for p in range(P):
                total += plane[p]
            out[c] += total


@njit(cache=True, nogil=True)
def channel_sums_nhwc(a, out):
    """``out[c] = sum over n, h, w of a[n, h, w, c]`` in float64, pixels in order.

    a (N, H, W, C) C-contiguous; out (C,) float64: one vector add a pixel.
    """
    C = a.shape[3]
    rows = a.size // max(C, 1)
    af = a.reshape(a.size)
    out[:] = 0
    for r in range(rows):
        v = af[r * C :][:C]
        for c in range(C):
            out[c] += v[c]
