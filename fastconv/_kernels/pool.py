"""Jitted max and average pooling kernels, forward and backward, both layouts.

Direct window loops: pooling is memory-bound, so an im2col copy would only
add traffic. Clean input is assumed (C-contiguous float arrays, checked
geometry, every window holding at least one input pixel). Serial and
GIL-free, like the im2col kernels, for the same reason (see there).

Max pooling follows PyTorch's CPU rule: scan the in-bounds taps of a window
in row-major order starting from (-inf, first in-bounds tap), and take a tap
when ``v > max or isnan(v)``. Ties go to the first maximum; NaN propagates.
Padding is never selected (it acts as -inf).
"""

import numpy as np
from numba import njit

from .common import inner_range as _inner
from .common import window_taps as _taps

__all__ = [
    "max_pool_nchw",
    "max_pool_values_nchw",
    "max_pool_backward_nchw",
    "max_pool_nhwc",
    "max_pool_backward_nhwc",
    "max_pool_nhwc_rows",
    "max_pool_values_nhwc_rows",
    "max_pool_backward_nhwc_rows",
    "max_unpool_add_nchw",
    "max_unpool_add_nhwc",
    "max_unpool_tiled_nhwc",
    "max_unpool_tiled_nchw",
    "avg_pool_nchw",
    "avg_pool_backward_nchw",
    "avg_pool_nhwc",
    "avg_pool_backward_nhwc",
]


@njit(cache=True, inline="always")
def _column_max(x2, h0, i_lo, i_hi, dh, vmax, vrow):
    """Vertical pass over one window row band of a plane x2 (H, W).

    For every column w: the max over rows h0 + i*dh, i in [i_lo, i_hi), and
    the i that holds it, under the scan rule (first max wins, a NaN wins and
    a later NaN wins again). Contiguous along w, so it vectorises.
    """
    W = x2.shape[1]
    first = x2[h0 + i_lo * dh]
    for w in range(W):
        vmax[w] = first[w]
        vrow[w] = i_lo
    for i in range(i_lo + 1, i_hi):
        row = x2[h0 + i * dh]
        for w in range(W):
            v = row[w]
            take = (v > vmax[w]) | (v != v)
            vmax[w] = v if take else vmax[w]
            vrow[w] = i if take else vrow[w]


@njit(cache=True, inline="always")
def _window_argmax(vmax, vrow, w0, j_lo, j_hi, dw, C, c):
    """Horizontal pass: the window's (value, i, j) under the row-major scan rule.

    Candidates are the column maxima ``vmax[(w0 + j*dw)*C + c]`` (C = 1 for
    NCHW; NHWC rows interleave the channels); ties go to the earlier row
    (then the earlier column), NaNs to the later row (then the later column),
    which is exactly the first maximum / last NaN of a row-major scan.
    """
    bj = j_lo
    k = (w0 + j_lo * dw) * C + c
    b = vmax[k]
    bi = vrow[k]
    for j in range(j_lo + 1, j_hi):
        k = (w0 + j * dw) * C + c
        v = vmax[k]
        vi = vrow[k]
        # branch-free: with random data `take` is a coin flip, and a
        # mispredicted branch per window cost more than the selects
        nan_take = (v != v) & ((b == b) | (vi >= bi))
        num_take = (v == v) & (b == b) & ((v > b) | ((v == b) & (vi < bi)))
        take = nan_take | num_take
        b = v if take else b
        bi = vi if take else bi
        bj = j if take else bj
    return b, bi, bj


@njit(cache=True, inline="always")
def _pick(v, b):
    """Return the scan rule on values: v (later) replaces b if greater, or NaN."""
    return v if (v > b) | (v != v) else b


@njit(cache=True, inline="always")
def _take(v, b, k, bk):
    """Return (value, index) after tap v at index k, by the scan rule."""
    t = (v > b) | (v != v)
    return (v if t else b), (k if t else bk)


@njit(cache=True, inline="always")
def _argmax_rows_s2(xf, base, W, h0, K, left, lo, hi, of, kf, o):
    """of, kf[o + ow] = max, flat argmax h*W + w of window (h0, 2*ow - left).

    For the interior ow in [lo, hi); stride 2, dilation 1, K of 2 or 3, the
    window's rows inside the plane at xf[base] (H, W); the taps in row-major
    order under the scan rule (first maximum, last NaN), as the separable
    kernels give it. One loop over the outputs, its loads at the constant
    stride 2 (vectorised); flat unsigned offsets (see _vertical_max).
    """
    one, two = np.uint64(1), np.uint64(2)
    r0 = np.uint64(base + h0 * W + 2 * lo - left)  # first window's first tap
    r1 = r0 + np.uint64(W)
    r2 = r0 + np.uint64((K - 1) * W)  # the third row (K = 3), or the second again
    uo = np.uint64(o + lo)
    p0 = h0 * W + 2 * lo - left  # its index in the plane
    for t in range(np.uint64(hi - lo)):
        w = two * t
        p = p0 + 2 * np.int64(t)
        b, bk = xf[r0 + w], p
        b, bk = _take(xf[r0 + w + one], b, p + 1, bk)
        if K == 3:
            b, bk = _take(xf[r0 + w + two], b, p + 2, bk)
        q = p + W
        b, bk = _take(xf[r1 + w], b, q, bk)
        b, bk = _take(xf[r1 + w + one], b, q + 1, bk)
        if K == 3:
            b, bk = _take(xf[r1 + w + two], b, q + 2, bk)
            q += W
            b, bk = _take(xf[r2 + w], b, q, bk)
            b, bk = _take(xf[r2 + w + one], b, q + 1, bk)
            b, bk = _take(xf[r2 + w + two], b, q + 2, bk)
        of[uo + t] = b
        kf[uo + t] = bk


@njit(cache=True, inline="always")
def _window_scan(x2, h0, KH, w0, j_lo, j_hi):
    """(max, flat argmax) of an interior-row window's in-bounds columns, tap by tap."""
    W = x2.shape[1]
    b, bk = x2[h0, w0 + j_lo], h0 * W + w0 + j_lo
    for i in range(KH):
        for j in range(j_lo, j_hi):
            b, bk = _take(x2[h0 + i, w0 + j], b, (h0 + i) * W + w0 + j, bk)
    return b, bk


@njit(cache=True, nogil=True)
def _max_pool_nchw(x, win, out, idx, want_idx):
    """X (N, C, H, W) -> out, idx (N, C, OH, OW); idx is the flat h*W + w.

    Separable: a vertical pass per window row band, then a horizontal pass;
    see _column_max and _window_argmax for why the argmax is the scan's.
    """
    KH, KW, sh, sw, dh, dw = win.KH, win.KW, win.sh, win.sw, win.dh, win.dw
    top, left = win.top, win.left
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    rows, cols = _inner(OH, sh, top, KH, dh, H), _inner(OW, sw, left, KW, dw, W)
    vmax = np.empty(W, dtype=x.dtype)
    vrow = np.empty(W, dtype=np.int32)
    fast = want_idx and KH == KW and (KH == 2 or KH == 3) and sh == sw == 2
    fast = fast and dh == dw == 1
    xf, of, kf = x.reshape(-1), out.reshape(-1), idx.reshape(-1)
    for n in range(N):
        for c in range(C):
            x2 = x[n, c]
            for oh in range(OH):
                h0, i_lo, i_hi = _taps(oh, sh, top, KH, dh, H, rows)
                if fast and rows[0] <= oh < rows[1]:
                    # interior rows of the common pools: windows directly
                    o = ((n * C + c) * OH + oh) * OW
                    base = (n * C + c) * H * W
                    lo, hi = cols
                    _argmax_rows_s2(xf, base, W, h0, KH, left, lo, hi, of, kf, o)
                    for k in range(OW - (hi - lo)):
                        ow = k if k < lo else k + hi - lo
                        w0, j_lo, j_hi = _taps(ow, sw, left, KW, dw, W, cols)
                        b, bk = _window_scan(x[n, c], h0, KH, w0, j_lo, j_hi)
                        of[o + ow], kf[o + ow] = b, bk
                    continue
                _column_max(x2, h0, i_lo, i_hi, dh, vmax, vrow)
                for ow in range(OW):
                    w0, j_lo, j_hi = _taps(ow, sw, left, KW, dw, W, cols)
                    b, bi, bj = _window_argmax(vmax, vrow, w0, j_lo, j_hi, dw, 1, 0)
                    out[n, c, oh, ow] = b
                    if want_idx:
                        idx[n, c, oh, ow] = (h0 + bi * dh) * W + w0 + bj * dw


@njit(cache=True, nogil=True)
def max_pool_nchw(ctx, lo, hi):
    """Items ``[lo, hi)`` (planes (N*C, 1, H, W)) of :func:`_max_pool_nchw`."""
    x, win, out, idx, want_idx = ctx
    _max_pool_nchw(x[lo:hi], win, out[lo:hi], idx[lo:hi] if want_idx else idx, want_idx)


@njit(cache=True, inline="always")
def _vertical_max(xf, base, W, h0, i_lo, i_hi, dh, v, off):
    """v[off + w] = max over the rows h0 + i*dh, i in [i_lo, i_hi), of column w.

    The plane starts at xf[base] (flat, rows of W). Unsigned flat offsets
    and no row views: a view is a reference-count increment and decrement
    per row (atomic, ~40 ns a row), and a signed index gets a wraparound
    check that stops the vectorisation.
    """
    uW = np.uint64(W)
    o = np.uint64(off)
    r0 = np.uint64(base + (h0 + i_lo * dh) * W)
    r1 = np.uint64(base + (h0 + min(i_lo + 1, i_hi - 1) * dh) * W)
    r2 = np.uint64(base + (h0 + min(i_lo + 2, i_hi - 1) * dh) * W)
    # r1 = r0 for one tap, r2 = r1 for two: the max of 1-3 rows in one pass
    for w in range(uW):
        v[o + w] = _pick(xf[r2 + w], _pick(xf[r1 + w], xf[r0 + w]))
    for i in range(i_lo + 3, i_hi):
        r = np.uint64(base + (h0 + i * dh) * W)
        for w in range(uW):
            v[o + w] = _pick(xf[r + w], v[o + w])


@njit(cache=True, inline="always")
def _horizontal_max(v, n, s, KW, dw, of, off):
    """of[off + t] = max of v[t*s + j*dw], j in [0, KW), for t in [0, n).

    The common windows (2 or 3 taps at stride 2) in one loop, their loads at
    constant offsets, which LLVM turns into wide loads and shuffles (a lone
    load at stride 2 becomes a slow gather); the others one pass per tap.
    Unsigned indices, as in _vertical_max.
    """
    one, two = np.uint64(1), np.uint64(2)
    o = np.uint64(off)
    un = np.uint64(n)
    if s == 2 and dw == 1 and KW == 2:
        for t in range(un):
            w = two * t
            of[o + t] = _pick(v[w + one], v[w])
    elif s == 2 and dw == 1 and KW == 3:
        for t in range(un):
            w = two * t
            of[o + t] = _pick(v[w + two], _pick(v[w + one], v[w]))
    else:
        us, ud = np.uint64(s), np.uint64(dw)
        for t in range(un):
            of[o + t] = v[us * t]
        for j in range(1, KW):
            uj = np.uint64(j) * ud
            for t in range(un):
                of[o + t] = _pick(v[us * t + uj], of[o + t])


@njit(cache=True, nogil=True)
def _max_pool_values_nchw(x, win, out):
    """Max values only (no argmax): x (N, C, H, W) -> out (N, C, OH, OW).

    Separable: per output row, a vertical max over the window's in-bounds
    rows, a whole input row at a time, into a row padded with -inf; then a
    horizontal max over it along the outputs. Both loops are contiguous or
    at a constant stride, so both vectorise. When the windows tile each row
    (stride = kernel along W, no left padding) the horizontal pass runs once
    over the whole plane's vertical maxima: one long loop instead of OH
    short ones (small planes: cs231n's 32 x 32). The value of a max does not
    depend on the scan order, and NaN still propagates; the argmax (kernel
    above) does, so it keeps the row-major scan.
    """
    KH, KW, sh, sw, dh, dw = win.KH, win.KW, win.sh, win.sw, win.dh, win.dw
    top, left = win.top, win.left
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    rows = _inner(OH, sh, top, KH, dh, H)
    xf, of = x.reshape(-1), out.reshape(-1)
    flat = KW == sw and dw == 1 and left == 0 and OW * sw <= W
    if flat:  # the plane's vertical maxima, the first OW*sw columns of each row
        S = OW * sw
        v = np.empty(OH * S + W, dtype=x.dtype)
    else:  # one row, padded: the window ow starts at v[ow*sw]
        S = 0
        n_v = max(left + W, (OW - 1) * sw + (KW - 1) * dw + 1)
        v = np.full(n_v, -np.inf, dtype=x.dtype)
    for p in range(N * C):
        base = p * H * W
        if flat:
            for oh in range(OH):
                h0, i_lo, i_hi = _taps(oh, sh, top, KH, dh, H, rows)
                _vertical_max(xf, base, W, h0, i_lo, i_hi, dh, v, oh * S)
            _horizontal_max(v, OH * OW, sw, KW, 1, of, p * OH * OW)
            continue
        for oh in range(OH):
            h0, i_lo, i_hi = _taps(oh, sh, top, KH, dh, H, rows)
            _vertical_max(xf, base, W, h0, i_lo, i_hi, dh, v, left)
            _horizontal_max(v, OW, sw, KW, dw, of, (p * OH + oh) * OW)


@njit(cache=True, nogil=True)
def max_pool_values_nchw(ctx, lo, hi):
    """Items ``[lo, hi)`` (planes) of :func:`_max_pool_values_nchw`."""
    x, win, out = ctx
    _max_pool_values_nchw(x[lo:hi], win, out[lo:hi])


@njit(cache=True, nogil=True)
def _max_pool_backward_nchw(grad_out, x, win, grad_x):
    """Route each grad_out (N, C, OH, OW) to its window's argmax in grad_x."""
    KH, KW, sh, sw, dh, dw = win.KH, win.KW, win.sh, win.sw, win.dh, win.dw
    top, left = win.top, win.left
    N, C, H, W = x.shape
    OH, OW = grad_out.shape[2], grad_out.shape[3]
    rows, cols = _inner(OH, sh, top, KH, dh, H), _inner(OW, sw, left, KW, dw, W)
    vmax = np.empty(W, dtype=x.dtype)
    vrow = np.empty(W, dtype=np.int32)
    for n in range(N):
        for c in range(C):
            x2 = x[n, c]
            g2 = grad_x[n, c]
            g2[:, :] = 0
            for oh in range(OH):
                h0, i_lo, i_hi = _taps(oh, sh, top, KH, dh, H, rows)
                _column_max(x2, h0, i_lo, i_hi, dh, vmax, vrow)
                for ow in range(OW):
                    w0, j_lo, j_hi = _taps(ow, sw, left, KW, dw, W, cols)
                    b, bi, bj = _window_argmax(vmax, vrow, w0, j_lo, j_hi, dw, 1, 0)
                    g2[h0 + bi * dh, w0 + bj * dw] += grad_out[n, c, oh, ow]


@njit(cache=True, nogil=True)
def max_pool_backward_nchw(ctx, lo, hi):
    """Items ``[lo, hi)`` (planes) of :func:`_max_pool_backward_nchw`."""
    grad_out, x, win, grad_x = ctx
    _max_pool_backward_nchw(grad_out[lo:hi], x[lo:hi], win, grad_x[lo:hi])


@njit(cache=True, inline="always")
def _row_argmax_nhwc(x2, oh, win, OW, C, rows, cols, vmax, vrow, best, pos):
    """Output row oh of a sample x2 (H, W*C): best, pos (OW, C) = max, flat h*W + w.

    Separable on rows of W*C interleaved values (see max_pool_nhwc_rows).
    """
    KH, KW, sh, sw, dh, dw = win.KH, win.KW, win.sh, win.sw, win.dh, win.dw
    H, W = x2.shape[0], x2.shape[1] // C
    h0, i_lo, i_hi = _taps(oh, sh, win.top, KH, dh, H, rows)
    _column_max(x2, h0, i_lo, i_hi, dh, vmax, vrow)
    for ow in range(OW):
        w0, j_lo, j_hi = _taps(ow, sw, win.left, KW, dw, W, cols)
        for c in range(C):
            b, bi, bj = _window_argmax(vmax, vrow, w0, j_lo, j_hi, dw, C, c)
            best[ow, c] = b
            pos[ow, c] = (h0 + bi * dh) * W + w0 + bj * dw


@njit(cache=True, nogil=True)
def max_pool_nhwc_rows(ctx, r0, r1):
    """X (N, H, W, C) -> out, idx (N, OH, OW, C), for few channels.

    Output rows ``[r0, r1)`` of the N*OH (n*OH + oh). Separable, like
    max_pool_nchw, on rows of W*C interleaved values: the vertical pass
    vectorises along the whole row whatever C is.
    """
    x, win, out, idx, want_idx = ctx
    KH, KW, sh, sw, dh, dw = win.KH, win.KW, win.sh, win.sw, win.dh, win.dw
    top, left = win.top, win.left
    N, H, W, C = x.shape
    OH, OW = out.shape[1], out.shape[2]
    rows, cols = _inner(OH, sh, top, KH, dh, H), _inner(OW, sw, left, KW, dw, W)
    vmax = np.empty(W * C, dtype=x.dtype)
    vrow = np.empty(W * C, dtype=np.int32)
    pos = np.empty((OW, C), dtype=np.int64)
    x3 = x.reshape((N, H, W * C))  # (nb, H, W*C), a view
    for noh in range(r0, r1):
        n = noh // OH
        oh = noh - n * OH
        _row_argmax_nhwc(x3[n], oh, win, OW, C, rows, cols, vmax, vrow, out[n, oh], pos)
        if want_idx:
            idx[n, oh] = pos


@njit(cache=True, inline="always")
def _horizontal_max_channels(v, n, step, tap, KW, C, of, off):
    """of[off + q*C + c] = max of v[q*step + j*tap + c], j < KW, for q < n, c < C.

    Windows of interleaved channels (NHWC rows); unsigned strides.
    """
    o = np.uint64(off)
    for q in range(np.uint64(n)):
        for c in range(C):
            k = q * step + c
            b = v[k]
            for j in range(1, KW):
                b = _pick(v[k + np.uint64(j) * tap], b)
            of[o + q * C + c] = b


@njit(cache=True, nogil=True)
def max_pool_values_nhwc_rows(ctx, r0, r1):
    """Max values only, x (N, H, W, C) -> out (N, OH, OW, C), for few channels.

    Output rows ``[r0, r1)`` of the N*OH. Separable as max_pool_values_nchw
    on rows of W*C interleaved values: the vertical pass along a whole row
    (vectorised), into a row padded with -inf; the horizontal pass takes
    each window's KW taps C apart. Windows that tile the row (stride =
    kernel along W, no left padding) run one horizontal pass over all the
    rows' maxima: outputs q = (row, ow) read v[q*KW*C + j*C + c], linear in q.
    """
    x, win, out = ctx
    KH, KW, sh, sw, dh, dw = win.KH, win.KW, win.sh, win.sw, win.dh, win.dw
    top, left = win.top, win.left
    N, H, W, C = x.shape
    OH, OW = out.shape[1], out.shape[2]
    rows = _inner(OH, sh, top, KH, dh, H)
    xf, of = x.reshape(-1), out.reshape(-1)
    WC = W * C
    flat = KW == sw and dw == 1 and left == 0 and OW * sw <= W
    if flat:  # each row's maxima, their first OW*sw*C values
        S = OW * sw * C
        v = np.empty((r1 - r0) * S + WC, dtype=x.dtype)
    else:
        S = 0
        n_v = max(left + W, (OW - 1) * sw + (KW - 1) * dw + 1) * C
        v = np.full(n_v, -np.inf, dtype=x.dtype)
    uC, step, tap = np.uint64(C), np.uint64(sw * C), np.uint64(dw * C)
    for noh in range(r0, r1):
        n = noh // OH
        oh = noh - n * OH
        h0, i_lo, i_hi = _taps(oh, sh, top, KH, dh, H, rows)
        if flat:
            _vertical_max(xf, n * H * WC, WC, h0, i_lo, i_hi, dh, v, (noh - r0) * S)
            continue
        _vertical_max(xf, n * H * WC, WC, h0, i_lo, i_hi, dh, v, left * C)
        _horizontal_max_channels(v, OW, step, tap, KW, uC, of, noh * OW * C)
    if flat:
        _horizontal_max_channels(v, (r1 - r0) * OW, step, tap, KW, uC, of, r0 * OW * C)


@njit(cache=True, nogil=True)
def _max_pool_backward_nhwc_rows(grad_out, x, win, grad_x):
    """NHWC max-pool backward for few channels (separable, see max_pool_nhwc_rows)."""
    KH, KW, sh, sw, dh, dw = win.KH, win.KW, win.sh, win.sw, win.dh, win.dw
    top, left = win.top, win.left
    N, H, W, C = x.shape
    OH, OW = grad_out.shape[1], grad_out.shape[2]
    rows, cols = _inner(OH, sh, top, KH, dh, H), _inner(OW, sw, left, KW, dw, W)
    vmax = np.empty(W * C, dtype=x.dtype)
    vrow = np.empty(W * C, dtype=np.int32)
    best = np.empty((OW, C), dtype=x.dtype)
    pos = np.empty((OW, C), dtype=np.int64)
    x3 = x.reshape((N, H, W * C))  # (nb, H, W*C), views
    g2 = grad_x.reshape((N, H * W * C))
    for n in range(N):
        g2[n] = 0
        for oh in range(OH):
            _row_argmax_nhwc(x3[n], oh, win, OW, C, rows, cols, vmax, vrow, best, pos)
            for ow in range(OW):
                for c in range(C):
                    g2[n, pos[ow, c] * C + c] += grad_out[n, oh, ow, c]


@njit(cache=True, nogil=True)
def max_pool_backward_nhwc_rows(ctx, lo, hi):
    """Items ``[lo, hi)`` (samples) of :func:`_max_pool_backward_nhwc_rows`."""
    grad_out, x, win, grad_x = ctx
    _max_pool_backward_nhwc_rows(grad_out[lo:hi], x[lo:hi], win, grad_x[lo:hi])


@njit(cache=True, nogil=True)
def max_pool_nhwc(ctx, r0, r1):
    """Pool x (N, H, W, C) into out, idx (N, OH, OW, C), for many channels.

    Output rows ``[r0, r1)`` of the N*OH. Vectorised along the channel run
    (few channels: max_pool_nhwc_rows), on flat unsigned offsets with no
    views per tap (see _vertical_max).
    """
    x, win, out, idx, want_idx = ctx
    KH, KW, sh, sw, dh, dw = win.KH, win.KW, win.sh, win.sw, win.dh, win.dw
    top, left = win.top, win.left
    N, H, W, C = x.shape
    OH, OW = out.shape[1], out.shape[2]
    rows, cols = _inner(OH, sh, top, KH, dh, H), _inner(OW, sw, left, KW, dw, W)
    xf, of, kf = x.reshape(-1), out.reshape(-1), idx.reshape(-1)
    uC = np.uint64(C)
    for noh in range(r0, r1):
        n = noh // OH
        oh = noh - n * OH
        h0, i_lo, i_hi = _taps(oh, sh, top, KH, dh, H, rows)
        for ow in range(OW):
            w0, j_lo, j_hi = _taps(ow, sw, left, KW, dw, W, cols)
            o = np.uint64((noh * OW + ow) * C)
            for c in range(uC):
                of[o + c] = -np.inf
            if want_idx:
                first = (h0 + i_lo * dh) * W + w0 + j_lo * dw
                for c in range(uC):
                    kf[o + c] = first
            for i in range(i_lo, i_hi):
                ih = h0 + i * dh
                for j in range(j_lo, j_hi):
                    iw = w0 + j * dw
                    t = np.uint64(((n * H + ih) * W + iw) * C)
                    pos = ih * W + iw
                    if want_idx:
                        for c in range(uC):  # branch-free, so it vectorises
                            v = xf[t + c]
                            b = of[o + c]
                            take = (v > b) | (v != v)
                            of[o + c] = v if take else b
                            kf[o + c] = pos if take else kf[o + c]
                    else:
                        for c in range(uC):
                            of[o + c] = _pick(xf[t + c], of[o + c])


@njit(cache=True, nogil=True)
def _max_pool_backward_nhwc(grad_out, x, win, grad_x):
    """NHWC max-pool backward; one sample per iteration (windows overlap in h, w)."""
    KH, KW, sh, sw, dh, dw = win.KH, win.KW, win.sh, win.sw, win.dh, win.dw
    top, left = win.top, win.left
    N, H, W, C = x.shape
    OH, OW = grad_out.shape[1], grad_out.shape[2]
    rows, cols = _inner(OH, sh, top, KH, dh, H), _inner(OW, sw, left, KW, dw, W)
    gx = grad_x.reshape((N, H * W, C))  # (nb, H*W, C), a view
    best = np.empty(C, dtype=x.dtype)
    arg = np.empty(C, dtype=np.int64)
    for n in range(N):
        gx[n] = 0
        for oh in range(OH):
            h0, i_lo, i_hi = _taps(oh, sh, top, KH, dh, H, rows)
            for ow in range(OW):
                w0, j_lo, j_hi = _taps(ow, sw, left, KW, dw, W, cols)
                first = (h0 + i_lo * dh) * W + w0 + j_lo * dw
                for c in range(C):
                    best[c] = -np.inf
                    arg[c] = first
                for i in range(i_lo, i_hi):
                    ih = h0 + i * dh
                    for j in range(j_lo, j_hi):
                        iw = w0 + j * dw
                        xrow = x[n, ih, iw]
                        pos = ih * W + iw
                        for c in range(C):  # branch-free, so it vectorises
                            v = xrow[c]
                            b = best[c]
                            take = (v > b) | (v != v)
                            best[c] = v if take else b
                            arg[c] = pos if take else arg[c]
                for c in range(C):
                    gx[n, arg[c], c] += grad_out[n, oh, ow, c]


@njit(cache=True, nogil=True)
def max_pool_backward_nhwc(ctx, lo, hi):
    """Items ``[lo, hi)`` (samples) of :func:`_max_pool_backward_nhwc`."""
    grad_out, x, win, grad_x = ctx
    _max_pool_backward_nhwc(grad_out[lo:hi], x[lo:hi], win, grad_x[lo:hi])


@njit(cache=True, inline="always")
def _channel_block(item, B, C):
    """Item -> (sample, first channel, end channel): sample item // B, block item % B."""
    n = item // B
    b = item - n * B
    return n, b * C // B, (b + 1) * C // B


@njit(cache=True, nogil=True)
def _max_unpool_add_nchw(grad_out, idx, grad_x):
    """Max-pool backward from the forward's indices: no window search.

    grad_x (N, C, H, W) is zeroed, then ``grad_x[n, c].flat[idx[n, c, o]] +=
    grad_out[n, c, o]`` for every output o in order (windows that overlap
    sum in that order). Returns the position in idx.flat of the first index
    outside [0, H*W), having stopped there, or -1.
    """
    N, C, H, W = grad_x.shape
    HW = np.uint64(H * W)
    P = np.uint64(grad_out.shape[2] * grad_out.shape[3])
    gx, gy, kf = grad_x.reshape(-1), grad_out.reshape(-1), idx.reshape(-1)
    for q in range(np.uint64(N * C)):
        g = q * HW
        for k in range(HW):
            gx[g + k] = 0
        o = q * P
        for p in range(P):
            k = np.uint64(kf[o + p])  # a negative index wraps past HW
            if k >= HW:
                return np.int64(o + p)
            gx[g + k] += gy[o + p]
    return -1


@njit(cache=True, nogil=True)
def max_unpool_add_nchw(ctx, lo, hi):
    """Items ``[lo, hi)`` (planes) of :func:`_max_unpool_add_nchw`."""
    grad_out, idx, grad_x = ctx
    return _max_unpool_add_nchw(grad_out[lo:hi], idx[lo:hi], grad_x[lo:hi])


@njit(cache=True, nogil=True)
def _max_unpool_tiled_nchw(grad_out, idx, grad_x, KH, KW):
    """max_unpool_tiled_nhwc for planes: grad_x (P, 1, H, W) stored once.

    Windows of KH x KW at stride (KH, KW) from (0, 0), no padding or
    dilation: each element of an input row gets its window's grad_out if
    it is the window's index, else 0 (past the last window, 0); no zeroing
    pass, no adds. Two columns a window (the common 2 x 2) in one loop, its
    stores at constant offsets (vectorised); flat unsigned offsets (see
    _vertical_max). Returns the number of outputs whose index matched a
    tap: all of them exactly when every index lies in its own window (else
    the caller scatters with max_unpool_add_nchw instead).
    """
    P, H, W = grad_x.shape[0], grad_x.shape[2], grad_x.shape[3]
    OH, OW = grad_out.shape[2], grad_out.shape[3]
    gx, gy, kf = grad_x.reshape(-1), grad_out.reshape(-1), idx.reshape(-1)
    one, uKW, uOW = np.uint64(1), np.uint64(KW), np.uint64(OW)
    # windows wholly inside the row; with ceil_mode the last one may end
    # past it, and is stored column by column below with the columns past it
    full = np.uint64(min(OW, W // KW))
    zero = gx.dtype.type(0)
    hits = 0
    for p in range(P):
        for ih in range(H):
            r = np.uint64((p * H + ih) * W)
            oh = ih // KH
            if oh >= OH:  # rows past the last window
                for w in range(np.uint64(W)):
                    gx[r + w] = 0
                continue
            src = np.uint64((p * OH + oh) * OW)
            p0 = ih * W  # the row's first index in the plane
            if KW == 2:
                for t in range(full):
                    k, g = kf[src + t], gy[src + t]
                    q = p0 + 2 * np.int64(t)
                    w = t + t
                    gx[r + w] = g if k == q else zero
                    gx[r + w + one] = g if k == q + 1 else zero
                    hits += (k == q) + (k == q + 1)
            else:
                for t in range(full):
                    k, g = kf[src + t], gy[src + t]
                    for j in range(uKW):
                        w = t * uKW + j
                        hit = k == p0 + np.int64(w)
                        gx[r + w] = g if hit else zero
                        hits += hit
            for w in range(full * uKW, np.uint64(W)):  # a partial window, then none
                t = w // uKW
                if t < uOW:
                    k = kf[src + t]
                    hit = k == p0 + np.int64(w)
                    gx[r + w] = gy[src + t] if hit else zero
                    hits += hit
                else:
                    gx[r + w] = 0
    return hits


@njit(cache=True, nogil=True)
def max_unpool_tiled_nchw(ctx, lo, hi):
    """Items ``[lo, hi)`` (planes) of :func:`_max_unpool_tiled_nchw`."""
    grad_out, idx, grad_x, KH, KW = ctx
    return _max_unpool_tiled_nchw(grad_out[lo:hi], idx[lo:hi], grad_x[lo:hi], KH, KW)


@njit(cache=True, nogil=True)
def max_unpool_add_nhwc(ctx, item0, item1):
    """NHWC max_unpool_add_nchw: idx (N, OH, OW, C) holds each plane's h*W + w.

    Items ``[item0, item1)`` of N*B: item i is sample i // B, its channel
    block i % B of B (so that one sample still gives every core work).
    grad_x is zeroed a few pixels ahead of the scatter rather than in a
    pass of its own: pixels [0, z) are zero or scattered into, and an index
    at or past z first zeroes up to a row past it. The scatter then finds
    its rows in cache (a sample is larger than the L2 cache) instead of
    writing each sample twice; the adds are the same, in the same order.
    Flat unsigned offsets (see _vertical_max); one unsigned comparison
    checks both ends of an index.
    """
    grad_out, idx, grad_x, B = ctx
    N, H, W, C = grad_x.shape
    HW = np.uint64(H * W)
    PC = grad_out.shape[1] * grad_out.shape[2] * C
    uC, uW = np.uint64(C), np.uint64(W)
    gx, gy, kf = grad_x.reshape(-1), grad_out.reshape(-1), idx.reshape(-1)
    for item in range(item0, item1):
        n, c0, c1 = _channel_block(item, B, C)
        nc = np.uint64(c1 - c0)
        gbase = np.uint64(n * H * W * C + c0)
        obase = np.uint64(n * PC + c0)
        z = np.uint64(0)  # pixels [0, z) of the sample are zeroed
        for p in range(np.uint64(PC // C)):
            o = obase + p * uC
            for c in range(nc):
                k = np.uint64(kf[o + c])  # a negative index wraps past HW
                if k >= z:
                    if k >= HW:
                        return np.int64(o + c)
                    end = min(HW, (k // uW + np.uint64(2)) * uW)
                    for q in range(z, end):
                        for cc in range(nc):
                            gx[gbase + q * uC + cc] = 0
                    z = end
                gx[gbase + k * uC + c] += gy[o + c]
        for q in range(z, HW):  # what no index reached
            for cc in range(nc):
                gx[gbase + q * uC + cc] = 0
    return -1


@njit(cache=True, nogil=True)
def max_unpool_tiled_nhwc(ctx, item0, item1):
    """Max-pool backward from the indices, windows that tile the plane: a store each.

    Windows of KH x KW at stride (KH, KW) from (0, 0), no padding or
    dilation, do not overlap: every grad_x (N, H, W, C) element is written
    once, its window's grad_out if it is the window's index, else 0 (past
    the last window, 0), with no zeroing pass and no adds: one pass over a
    sample too large for the cache instead of two (NCHW planes stay in
    cache, so max_unpool_add_nchw's zero-and-scatter serves them better).
    Items ``[item0, item1)`` are output rows n*OH + oh: each writes its
    windows' KH input rows (the last of a sample, the rows past them too),
    which no other row touches. Returns the number of (output, channel)
    entries whose index matched a tap: all of the items' exactly when every
    index lies in its own window (else the caller scatters with
    max_unpool_add_nhwc instead). Flat unsigned offsets (see _vertical_max).
    """
    grad_out, idx, grad_x, KH, KW = ctx
    N, H, W, C = grad_x.shape
    OH, OW = grad_out.shape[1], grad_out.shape[2]
    gx, gy, kf = grad_x.reshape(-1), grad_out.reshape(-1), idx.reshape(-1)
    uC = np.uint64(C)
    hits = 0
    for item in range(item0, item1):
        n = item // OH
        oh = item - n * OH
        last = H if oh == OH - 1 else (oh + 1) * KH
        for ih in range(oh * KH, last):
            for iw in range(W):
                dst = np.uint64(((n * H + ih) * W + iw) * C)
                ow = iw // KW
                if ih >= OH * KH or ow >= OW:
                    for c in range(uC):
                        gx[dst + c] = 0
                    continue
                src = np.uint64((item * OW + ow) * C)
                p = ih * W + iw
                for c in range(uC):
                    hit = kf[src + c] == p
                    gx[dst + c] = gy[src + c] if hit else 0
                    hits += hit
    return hits


@njit(cache=True, inline="always")
def _avg_bounds(o, s, pad, k, size, pad_hi):
    """Return PyTorch's avg-pool window: (start, end) clipped to the input, and extent.

    The extent is the unclipped one, counted against the input plus padding.
    """
    start = o * s - pad
    end = min(start + k, size + pad_hi)
    extent = end - start
    return max(start, 0), min(end, size), extent


@njit(cache=True, inline="always")
def _avg_divisor(count_include_pad, divisor_override, eh, ew, h_lo, h_hi, w_lo, w_hi):
    if divisor_override > 0:
        return divisor_override
    if count_include_pad:
        return eh * ew
    return (h_hi - h_lo) * (w_hi - w_lo)


@njit(cache=True, inline="always")
def _avg_rows_s2(x2, h0, K, left, lo, hi, div, orow):
    """orow[ow] = (sum of the K x K window at (h0, 2*ow - left)) / div, interior ow.

    Stride 2, K of 2 or 3, vectorised as _argmax_rows_s2.
    """
    r0, r1 = x2[h0], x2[h0 + 1]
    r2 = x2[h0 + K - 1]
    base = np.uint64(2 * lo - left)
    one, two = np.uint64(1), np.uint64(2)
    for t in range(hi - lo):
        w = base + two * np.uint64(t)
        s = (r0[w] + r0[w + one]) + (r1[w] + r1[w + one])
        if K == 3:
            s += (r0[w + two] + r1[w + two]) + (r2[w] + r2[w + one] + r2[w + two])
        orow[lo + t] = s / div


@njit(cache=True, nogil=True)
def _avg_pool_nchw(x, win, count_include_pad, divisor_override, out):
    """X (N, C, H, W) -> out (N, C, OH, OW); divisor_override <= 0 means none.

    Separable: per output row, the window's rows are summed a whole input
    row at a time (contiguous, so it vectorises), then each window sums its
    columns of that row sum.
    """
    KH, KW, sh, sw = win.KH, win.KW, win.sh, win.sw
    top, bottom, left, right = win.top, win.bottom, win.left, win.right
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    vsum = np.empty(W, dtype=x.dtype)
    # 2x2 and 3x3 windows at stride 2: interior windows directly, each
    # divided by the whole window's size (or the override)
    fast = KH == KW and (KH == 2 or KH == 3) and sh == sw == 2
    rows, cols = _inner(OH, sh, top, KH, 1, H), _inner(OW, sw, left, KW, 1, W)
    div_in = x.dtype.type(divisor_override if divisor_override > 0 else KH * KW)
    for n in range(N):
        for c in range(C):
            x2 = x[n, c]
            for oh in range(OH):
                if fast and rows[0] <= oh < rows[1] and cols[0] < cols[1]:
                    orow = out[n, c, oh]
                    h0 = oh * sh - top
                    _avg_rows_s2(x2, h0, KH, left, cols[0], cols[1], div_in, orow)
                    for k in range(OW - (cols[1] - cols[0])):
                        ow = k if k < cols[0] else k + cols[1] - cols[0]
                        w_lo, w_hi, ew = _avg_bounds(ow, sw, left, KW, W, right)
                        acc = x2[h0, w_lo] * 0
                        for i in range(KH):
                            for iw in range(w_lo, w_hi):
                                acc += x2[h0 + i, iw]
                        d = _avg_divisor(
                            count_include_pad,
                            divisor_override,
                            KH,
                            ew,
                            h0,
                            h0 + KH,
                            w_lo,
                            w_hi,
                        )
                        orow[ow] = acc / d
                    continue
                h_lo, h_hi, eh = _avg_bounds(oh, sh, top, KH, H, bottom)
                first = x2[h_lo]
                for w in range(W):
                    vsum[w] = first[w]
                for ih in range(h_lo + 1, h_hi):
                    row = x2[ih]
                    for w in range(W):
                        vsum[w] += row[w]
                for ow in range(OW):
                    w_lo, w_hi, ew = _avg_bounds(ow, sw, left, KW, W, right)
                    acc = vsum[w_lo]
                    for iw in range(w_lo + 1, w_hi):
                        acc += vsum[iw]
                    out[n, c, oh, ow] = acc / _avg_divisor(
                        count_include_pad,
                        divisor_override,
                        eh,
                        ew,
                        h_lo,
                        h_hi,
                        w_lo,
                        w_hi,
                    )


@njit(cache=True, nogil=True)
def avg_pool_nchw(ctx, lo, hi):
    """Items ``[lo, hi)`` (planes) of :func:`_avg_pool_nchw`."""
    x, win, count_include_pad, divisor_override, out = ctx
    _avg_pool_nchw(x[lo:hi], win, count_include_pad, divisor_override, out[lo:hi])


@njit(cache=True, inline="always")
def _spread(g, ow, win, W, eh, h_lo, h_hi, inc, override, grow):
    """grow[w] += g / divisor over the columns of window ow (of a row h_lo..h_hi)."""
    w_lo, w_hi, ew = _avg_bounds(ow, win.sw, win.left, win.KW, W, win.right)
    share = g / _avg_divisor(inc, override, eh, ew, h_lo, h_hi, w_lo, w_hi)
    for iw in range(w_lo, w_hi):
        grow[iw] += share


@njit(cache=True, nogil=True)
def _avg_pool_backward_nchw(grad_out, win, count_include_pad, divisor_override, grad_x):
    """Spread each grad_out / divisor over its clipped window of grad_x.

    Separable, like the forward pass: an output row's shares are gathered
    into one row buffer, then added to each of the window's input rows.
    2x2 windows at stride 2 do not overlap: their interior rows' shares are
    spread at the constant stride (vectorised) and stored, not added, into
    rows nothing else touches, which are therefore not zeroed first.
    """
    KH, KW, sh, sw = win.KH, win.KW, win.sh, win.sw
    top, bottom, left = win.top, win.bottom, win.left
    N, C, H, W = grad_x.shape
    OH, OW = grad_out.shape[2], grad_out.shape[3]
    inc, override = count_include_pad, divisor_override
    grow = np.empty(W, dtype=grad_x.dtype)
    fast = KH == KW == sh == sw == 2
    rows, cols = _inner(OH, sh, top, KH, 1, H), _inner(OW, sw, left, KW, 1, W)
    fast = fast and rows[0] < rows[1] and cols[0] < cols[1]
    # input rows the fast rows store whole, [r0, r1)
    r0, r1 = (2 * rows[0] - top, 2 * rows[1] - top) if fast else (0, 0)
    div_in = grad_x.dtype.type(divisor_override if divisor_override > 0 else 4)
    base = np.uint64(2 * cols[0] - left) if fast else np.uint64(0)
    one, two = np.uint64(1), np.uint64(2)
    for n in range(N):
        for c in range(C):
            g2 = grad_x[n, c]
            for ih in range(H):
                if not r0 <= ih < r1:
                    g2[ih, :] = 0
            for oh in range(OH):
                h_lo, h_hi, eh = _avg_bounds(oh, sh, top, KH, H, bottom)
                grow[:] = 0
                if fast and rows[0] <= oh < rows[1]:
                    gorow = grad_out[n, c, oh]
                    for t in range(cols[1] - cols[0]):
                        w = base + two * np.uint64(t)
                        share = gorow[cols[0] + t] / div_in
                        grow[w] = share
                        grow[w + one] = share
                    for k in range(OW - (cols[1] - cols[0])):
                        ow = k if k < cols[0] else k + cols[1] - cols[0]
                        _spread(
                            gorow[ow], ow, win, W, eh, h_lo, h_hi, inc, override, grow
                        )
                    for ih in range(h_lo, h_hi):
                        g2[ih, :] = grow
                    continue
                gorow = grad_out[n, c, oh]
                for ow in range(OW):
                    _spread(gorow[ow], ow, win, W, eh, h_lo, h_hi, inc, override, grow)
                for ih in range(h_lo, h_hi):
                    row = g2[ih]
                    for w in range(W):
                        row[w] += grow[w]


@njit(cache=True, nogil=True)
def avg_pool_backward_nchw(ctx, lo, hi):
    """Items ``[lo, hi)`` (planes) of :func:`_avg_pool_backward_nchw`."""
    grad_out, win, count_include_pad, divisor_override, grad_x = ctx
    _avg_pool_backward_nchw(
        grad_out[lo:hi], win, count_include_pad, divisor_override, grad_x[lo:hi]
    )


@njit(cache=True, nogil=True)
def avg_pool_nhwc(ctx, r0, r1):
    """X (N, H, W, C) -> out (N, OH, OW, C), output rows [r0, r1) of the N*OH.

    Sums whole channel runs, on flat unsigned offsets (see _vertical_max).
    """
    x, win, count_include_pad, divisor_override, out = ctx
    KH, KW, sh, sw = win.KH, win.KW, win.sh, win.sw
    top, bottom, left, right = win.top, win.bottom, win.left, win.right
    N, H, W, C = x.shape
    OH, OW = out.shape[1], out.shape[2]
    xf, of = x.reshape(-1), out.reshape(-1)
    uC = np.uint64(C)
    for noh in range(r0, r1):
        n = noh // OH
        oh = noh - n * OH
        h_lo, h_hi, eh = _avg_bounds(oh, sh, top, KH, H, bottom)
        for ow in range(OW):
            w_lo, w_hi, ew = _avg_bounds(ow, sw, left, KW, W, right)
            div = _avg_divisor(
                count_include_pad, divisor_override, eh, ew, h_lo, h_hi, w_lo, w_hi
            )
            o = np.uint64((noh * OW + ow) * C)
            if h_hi - h_lo == 2 and w_hi - w_lo == 2:  # one pass, the taps in order
                t0 = np.uint64(((n * H + h_lo) * W + w_lo) * C)
                t1 = t0 + np.uint64(W * C)
                for c in range(uC):
                    s = xf[t0 + c] + xf[t0 + uC + c] + xf[t1 + c] + xf[t1 + uC + c]
                    of[o + c] = s / div
                continue
            for c in range(uC):
                of[o + c] = 0
            for ih in range(h_lo, h_hi):
                for iw in range(w_lo, w_hi):
                    t = np.uint64(((n * H + ih) * W + iw) * C)
                    for c in range(uC):
                        of[o + c] += xf[t + c]
            for c in range(uC):
                of[o + c] /= div


@njit(cache=True, nogil=True)
def avg_pool_backward_nhwc(ctx, item0, item1):
    """NHWC avg-pool backward; items as max_unpool_add_nhwc's (sample, channel block).

    Each window's shares (grad_out / divisor, one division per channel) are
    added over its taps. Windows that tile the plane (stride = kernel, no
    padding) do not overlap: their taps are stored, not added, and only
    the rows and columns past the last window are zeroed, one pass over
    grad_x instead of two. Flat unsigned offsets, no views per tap (see
    _vertical_max).
    """
    grad_out, win, count_include_pad, divisor_override, grad_x, B = ctx
    KH, KW, sh, sw = win.KH, win.KW, win.sh, win.sw
    top, bottom, left, right = win.top, win.bottom, win.left, win.right
    N, H, W, C = grad_x.shape
    OH, OW = grad_out.shape[1], grad_out.shape[2]
    tiled = sh == KH and sw == KW and top == 0 and left == 0
    share = np.empty(C, dtype=grad_x.dtype)
    gx, gy = grad_x.reshape(-1), grad_out.reshape(-1)
    for item in range(item0, item1):
        n, c0, c1 = _channel_block(item, B, C)
        uc0, nc = np.uint64(c0), np.uint64(c1 - c0)
        for ih in range(H):  # zero what no window covers (tiled), or all
            w0 = 0 if not tiled or ih >= OH * KH else OW * KW
            for iw in range(w0, W):
                o = np.uint64(((n * H + ih) * W + iw) * C) + uc0
                for c in range(nc):
                    gx[o + c] = 0
        for oh in range(OH):
            h_lo, h_hi, eh = _avg_bounds(oh, sh, top, KH, H, bottom)
            for ow in range(OW):
                w_lo, w_hi, ew = _avg_bounds(ow, sw, left, KW, W, right)
                div = _avg_divisor(
                    count_include_pad, divisor_override, eh, ew, h_lo, h_hi, w_lo, w_hi
                )
                g = np.uint64(((n * OH + oh) * OW + ow) * C) + uc0
                for c in range(nc):
                    share[c] = gy[g + c] / div
                for ih in range(h_lo, h_hi):
                    for iw in range(w_lo, w_hi):
                        o = np.uint64(((n * H + ih) * W + iw) * C) + uc0
                        if tiled:
                            for c in range(nc):
                                gx[o + c] = share[c]
                        else:
                            for c in range(nc):
                                gx[o + c] += share[c]
