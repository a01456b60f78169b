"""Phase planes: a sample's padded input split by the strides, and back.

The plane kernels (direct, shifted GEMM, Winograd) read the input as
:class:`~fastconv._engine.geometry.Planes`: zero-padded, split into
``sh * sw`` phase planes of pitch ``Wq``, so that every tap of every output
row is one contiguous slice and no kernel tests a bound. Layouts, flat:

- NCHW: ``P[c, phase, q]`` for the channels ``[c0, c0 + cc)`` of one
  sample, each plane ``PS`` long (position ``q = row * Wq + col``).
- NHWC: ``P[phase, q, c]``, the channels innermost (a run of `cc` per
  position), so a tap of every output position is a (L, cc) matrix.

Backwards, the same layouts hold gradients, which :func:`fold_nchw` and
:func:`fold_nhwc` copy back into grad_x: each input pixel lies in exactly
one phase plane position, so folding is a copy, not a sum. The output side
uses the grid of pitch Wq (``L = OH * Wq`` positions, columns OW..Wq-1
dropped): :func:`grid_to_nchw` and the NHWC twins move results to and from
it.
"""

from numba import njit, uint64

__all__ = [
    "tap_base",
    "fill_nchw",
    "fold_nchw",
    "fill_nhwc",
    "fold_nhwc",
    "grid_from_nchw",
    "grid_to_nchw",
    "grid_from_nhwc",
    "grid_to_nhwc",
]


@njit(cache=True, inline="always")
def tap_base(win, pl, i, j):
    """Flat offset of tap (i, j) within one channel's phases (NCHW: times PS)."""
    a, b = (i * win.dh) % win.sh, (j * win.dw) % win.sw
    return (
        (a * win.sw + b) * pl.PS
        + ((i * win.dh) // win.sh) * pl.Wq
        + (j * win.dw) // win.sw
    )


@njit(cache=True, inline="always")
def _phase_rows(win, pl, a, H):
    """Return the rows [r_lo, r_hi) of phase a that hold input rows.

    Input row ``r*sh + a - top`` must lie inside [0, H).
    """
    first = a - win.top
    r_lo = 0
    if first < 0:
        r_lo = (-first + win.sh - 1) // win.sh
    r_hi = 0
    if H - 1 - first >= 0:
        r_hi = (H - 1 - first) // win.sh + 1
    r_lo = min(r_lo, pl.Hq)
    return r_lo, max(min(r_hi, pl.Hq), r_lo)


@njit(cache=True, inline="always")
def _phase_runs(win, pl, a, b, W):
    """Return the columns [q_lo, q_hi) of phase b that hold input columns.

    Input column ``q*sw + b - left`` must lie inside [0, W); also returns
    the input column of plane column 0.
    """
    first = b - win.left  # input column of plane column 0
    q_lo = 0
    if first < 0:
        q_lo = (-first + win.sw - 1) // win.sw
    q_hi = 0
    if W - 1 - first >= 0:
        q_hi = (W - 1 - first) // win.sw + 1
    q_lo = min(q_lo, pl.Wq)
    return q_lo, max(min(q_hi, pl.Wq), q_lo), first


@njit(cache=True, inline="always")
def _copy(dst, do, src, so, n):
    """Copy ``dst[do:do+n] = src[so:so+n]`` on flat arrays.

    Unsigned indices: no wraparound test, so the loop vectorises without
    the cost of a slice.
    """
    d, s = uint64(do), uint64(so)
    for t in range(uint64(n)):
        dst[d + t] = src[s + t]


@njit(cache=True, inline="always")
def _zero(dst, do, n):
    """Zero ``dst[do:do+n]`` (flat, unsigned indices)."""
    d = uint64(do)
    for t in range(uint64(n)):
        dst[d + t] = 0


@njit(cache=True, inline="always")
def _gather(dst, do, src, so, n, step):
    """Copy ``dst[do:do+n] = src[so:so+n*step:step]`` (flat, unsigned indices)."""
    d, s, k = uint64(do), uint64(so), uint64(step)
    for t in range(uint64(n)):
        dst[d + t] = src[s + t * k]


@njit(cache=True, inline="always")
def _scatter(dst, do, src, so, n, step):
    """Copy ``dst[do:do+n*step:step] = src[so:so+n]`` (flat, unsigned indices)."""
    d, s, k = uint64(do), uint64(so), uint64(step)
    for t in range(uint64(n)):
        dst[d + t * k] = src[s + t]


@njit(cache=True, nogil=True)
def fill_nchw(x, n, c0, cc, win, pl, P):
    """Write the phase planes of x[n, c0:c0+cc] (N, C, H, W) into P (cc*phases*PS)."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    sh, sw, Wq = win.sh, win.sw, pl.Wq
    xf = x.reshape(x.size)
    for c in range(cc):
        src = ((n * C) + c0 + c) * H * W
        for a in range(sh):
            for b in range(sw):
                plane = ((c * sh + a) * sw + b) * pl.PS
                q_lo, q_hi, first = _phase_runs(win, pl, a, b, W)
                r_lo, r_hi = _phase_rows(win, pl, a, H)
                _zero(P, plane, r_lo * Wq)
                for r in range(r_lo, r_hi):
                    row = plane + r * Wq
                    s = src + (r * sh + a - win.top) * W + first
                    _zero(P, row, q_lo)
                    if sw == 1:
                        _copy(P, row + q_lo, xf, s + q_lo, q_hi - q_lo)
                    else:
                        _gather(P, row + q_lo, xf, s + q_lo * sw, q_hi - q_lo, sw)
                    _zero(P, row + q_hi, Wq - q_hi)
                _zero(P, plane + r_hi * Wq, pl.PS - r_hi * Wq)  # bottom rows, slack


@njit(cache=True, nogil=True)
def fold_nchw(P, n, c0, cc, win, pl, gx):
    """Copy the input positions of planes P back into gx[n, c0:c0+cc] (N, C, H, W)."""
    C, H, W = gx.shape[1], gx.shape[2], gx.shape[3]
    sh, sw, Wq = win.sh, win.sw, pl.Wq
    gf = gx.reshape(gx.size)
    for c in range(cc):
        dst = ((n * C) + c0 + c) * H * W
        for a in range(sh):
            for b in range(sw):
                plane = ((c * sh + a) * sw + b) * pl.PS
                q_lo, q_hi, first = _phase_runs(win, pl, a, b, W)
                r_lo, r_hi = _phase_rows(win, pl, a, H)
                for r in range(r_lo, r_hi):
                    d = dst + (r * sh + a - win.top) * W + first
                    if sw == 1:
                        _copy(gf, d + q_lo, P, plane + r * Wq + q_lo, q_hi - q_lo)
                    else:
                        _scatter(
                            gf, d + q_lo * sw, P, plane + r * Wq + q_lo, q_hi - q_lo, sw
                        )


@njit(cache=True, nogil=True)
def fill_nhwc(x, n, c0, cc, win, pl, P):
    """Write the phase planes of x[n, :, :, c0:c0+cc] (N, H, W, C) into P.

    P is (phases, PS, cc): every position a run of `cc` channels.
    """
    H, W = x.shape[1], x.shape[2]
    sh, sw = win.sh, win.sw
    for a in range(sh):
        for b in range(sw):
            plane = P[(a * sw + b) * pl.PS * cc :][: pl.PS * cc]
            q_lo, q_hi, first = _phase_runs(win, pl, a, b, W)
            for r in range(pl.Hq):
                row = plane[r * pl.Wq * cc :][: pl.Wq * cc]
                ih = r * sh + a - win.top
                if ih < 0 or ih >= H or q_hi == q_lo:
                    for t in range(pl.Wq * cc):
                        row[t] = 0
                    continue
                for t in range(q_lo * cc):
                    row[t] = 0
                for q in range(q_lo, q_hi):
                    d = row[q * cc :][:cc]
                    s = x[n, ih, first + q * sw, c0:]
                    for t in range(cc):
                        d[t] = s[t]
                for t in range(q_hi * cc, pl.Wq * cc):
                    row[t] = 0
            for t in range(pl.Hq * pl.Wq * cc, pl.PS * cc):
                plane[t] = 0


@njit(cache=True, nogil=True)
def fold_nhwc(P, n, c0, cc, win, pl, gx):
    """Copy the input positions of planes P (phases, PS, cc) into gx[n, ..., c0:c0+cc]."""
    H, W = gx.shape[1], gx.shape[2]
    sh, sw = win.sh, win.sw
    for a in range(sh):
        for b in range(sw):
            plane = P[(a * sw + b) * pl.PS * cc :][: pl.PS * cc]
            q_lo, q_hi, first = _phase_runs(win, pl, a, b, W)
            for r in range(pl.Hq):
                ih = r * sh + a - win.top
                if ih < 0 or ih >= H:
                    continue
                for q in range(q_lo, q_hi):
                    s = plane[(r * pl.Wq + q) * cc :][:cc]
                    d = gx[n, ih, first + q * sw, c0:]
                    for t in range(cc):
                        d[t] = s[t]


@njit(cache=True, nogil=True)
def grid_from_nchw(gy, n, f0, ff, win, pl, G):
    """Put gy[n, f0:f0+ff] (N, F, OH, OW) on the output grid G (ff, L), zeros past OW."""
    F = gy.shape[1]
    OH, OW, Wq = win.OH, win.OW, pl.Wq
    gf = gy.reshape(gy.size)
    for f in range(ff):
        src = (n * F + f0 + f) * OH * OW
        for oh in range(OH):
            _copy(G, f * pl.L + oh * Wq, gf, src + oh * OW, OW)
            _zero(G, f * pl.L + oh * Wq + OW, Wq - OW)


@njit(cache=True, nogil=True)
def grid_to_nchw(G, n, f0, ff, win, pl, out):
    """Copy the valid columns of grid G (ff, L) into out[n, f0:f0+ff] (N, F, OH, OW)."""
    F = out.shape[1]
    OH, OW, Wq = win.OH, win.OW, pl.Wq
    of = out.reshape(out.size)
    for f in range(ff):
        dst = (n * F + f0 + f) * OH * OW
        for oh in range(OH):
            _copy(of, dst + oh * OW, G, f * pl.L + oh * Wq, OW)


@njit(cache=True, nogil=True)
def grid_from_nhwc(gy, n, win, pl, G):
    """Put gy[n] (OH, OW, F) on the grid G (L, F), zeros past OW."""
    F = gy.shape[3]
    for oh in range(win.OH):
        row = G[oh * pl.Wq * F :][: pl.Wq * F]
        s = gy[n, oh].reshape(win.OW * F)
        for t in range(win.OW * F):
            row[t] = s[t]
        for t in range(win.OW * F, pl.Wq * F):
            row[t] = 0


@njit(cache=True, nogil=True)
def grid_to_nhwc(G, n, win, pl, out):
    """Copy the valid positions of grid G (L, F) into out[n] (OH, OW, F)."""
    F = out.shape[3]
    for oh in range(win.OH):
        row = G[oh * pl.Wq * F :][: win.OW * F]
        d = out[n, oh].reshape(win.OW * F)
        for t in range(win.OW * F):
            d[t] = row[t]
