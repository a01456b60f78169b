"""Direct NHWC convolution kernels, vectorised along a run of channels.

Two modes, by what the innermost loop runs over:

- *groups* (groups > 1: depthwise and grouped layers). The channels of a
  position are re-ordered so that the groups are innermost: x's
  ``(G, Cg)`` becomes ``(Cg, G)``, the weight's ``(Cg, G*Fg)`` per tap
  becomes ``(Cg, Fg, G)``, the output's ``(G, Fg)`` is written from
  ``(Fg, G)``. Every multiply-add then runs along G contiguous,
  independent outputs: ``acc[fo, :] += wt[tap, k, fo, :] * xt[k, :]``. A
  depthwise layer with one filter per channel (Cg = Fg = 1) needs no
  re-ordering at all. All three passes: forward, grad_x (the same loops
  scattering into grad_x), grad_weight (summed over positions along G).
- *filters* (groups = 1, few input channels): ``acc[:] += x[c] * w[tap, c,
  :]`` along the F output channels; forward and grad_weight. (grad_x would
  be a reduction over F, which GEMM does better.)

Borders need no padded copy: each tap's valid output columns are a range,
computed once per tap, and invalid rows are skipped. FMA contraction is
allowed (``fastmath`` ``contract`` only).
"""

from numba import njit, uint64

from .clock import now
from .common import out_range

__all__ = [
    "PHASES",
    "transpose_weight",
    "untranspose_weight",
    "forward_groups",
    "grad_x_groups",
    "grad_w_groups",
    "forward_filters",
    "grad_w_filters",
]

PHASES = ("reorder", "taps", "write")
_FM = {"contract"}


@njit(cache=True, nogil=True)
def transpose_weight(w, groups, wt):
    """Re-order w (KH, KW, Cg, G*Fg) into wt (KH*KW, Cg, Fg, G), groups innermost."""
    KH, KW, Cg, F = w.shape
    Fg = F // groups
    wf = w.reshape(w.size)
    for tap in range(KH * KW):
        for k in range(Cg):
            src = (tap * Cg + k) * F
            for fo in range(Fg):
                dst = ((tap * Cg + k) * Fg + fo) * groups
                for g in range(groups):
                    wt[dst + g] = wf[src + g * Fg + fo]


@njit(cache=True, nogil=True)
def untranspose_weight(wt, groups, gw):
    """Re-order wt (KH*KW, Cg, Fg, G) into gw (KH, KW, Cg, G*Fg), as it was."""
    KH, KW, Cg, F = gw.shape
    Fg = F // groups
    gf = gw.reshape(gw.size)
    for tap in range(KH * KW):
        for k in range(Cg):
            dst = (tap * Cg + k) * F
            for fo in range(Fg):
                src = ((tap * Cg + k) * Fg + fo) * groups
                for g in range(groups):
                    gf[dst + g * Fg + fo] = wt[src + g]


@njit(cache=True, inline="always")
def _reorder_in(src, so, dst, do, groups, cg, n_pos):
    """n_pos positions of (G, cg) channels at src[so:] -> (cg, G) at dst[do:]."""
    C = groups * cg
    for p in range(n_pos):
        s = uint64(so + p * C)
        d = uint64(do + p * C)
        for k in range(uint64(cg)):
            for g in range(uint64(groups)):
                dst[d + k * uint64(groups) + g] = src[s + g * uint64(cg) + k]


@njit(cache=True, inline="always")
def _reorder_out(src, so, dst, do, groups, cg, n_pos):
    """n_pos positions of (cg, G) at src[so:] -> (G, cg) at dst[do:] (inverse)."""
    C = groups * cg
    for p in range(n_pos):
        s = uint64(so + p * C)
        d = uint64(do + p * C)
        for k in range(uint64(cg)):
            for g in range(uint64(groups)):
                dst[d + g * uint64(cg) + k] = src[s + k * uint64(groups) + g]


@njit(cache=True, inline="always")
def _fma(acc, ao, a, a_o, b, b_o, n):
    """``acc[ao:ao+n] += a[a_o:a_o+n] * b[b_o:b_o+n]`` (flat, unsigned indices)."""
    o, p, q = uint64(ao), uint64(a_o), uint64(b_o)
    for t in range(uint64(n)):
        acc[o + t] += a[p + t] * b[q + t]


@njit(cache=True, inline="always")
def _axpy(acc, ao, s, b, b_o, n):
    """``acc[ao:ao+n] += s * b[b_o:b_o+n]`` (flat, unsigned indices)."""
    o, q = uint64(ao), uint64(b_o)
    for t in range(uint64(n)):
        acc[o + t] += s * b[q + t]


# fmt: off
@njit(cache=True, nogil=True, fastmath=_FM)
def forward_groups(ctx, item0, item1):
    """Run samples ``[item0, item1)`` of a groups-mode forward pass.

    x (N, H, W, G*Cg) -> out (N, OH, OW, G*Fg); wt from transpose_weight;
    xt (H*W*C) and acc (OW*F) are the piece's scratch.
    """
    x, wt, bias, has_bias, out, win, groups, xt, acc, clock, trace = ctx
    N, H, W, C = x.shape
    F = out.shape[3]
    Cg, Fg = C // groups, F // groups
    OH, OW = win.OH, win.OW
    xf, of = x.reshape(x.size), out.reshape(out.size)
    same_in, same_out = Cg == 1, Fg == 1          # nothing to re-order
    for n in range(item0, item1):
        t0 = now(clock)
        if same_in:
            src, so = xf, n * H * W * C
        else:
            _reorder_in(xf, n * H * W * C, xt, 0, groups, Cg, H * W)
            src, so = xt, 0
        t1 = now(clock)
        tw = 0.0
        for oh in range(OH):
            row = (n * OH + oh) * OW * F
            a, ao = (of, row) if same_out else (acc, 0)
            for ow in range(OW):               # the bias, in (Fg, G) order
                for fo in range(Fg):
                    for g in range(groups):
                        a[ao + ow * F + fo * groups + g] = (
                            bias[g * Fg + fo] if has_bias else a.dtype.type(0))
            for i in range(win.KH):
                ih = oh * win.sh - win.top + i * win.dh
                if ih < 0 or ih >= H:
                    continue
                for j in range(win.KW):
                    off = j * win.dw - win.left
                    lo, hi = out_range(OW, win.sw, off, W)
                    tap = i * win.KW + j
                    for ow in range(lo, hi):
                        pix = so + (ih * W + ow * win.sw + off) * C
                        for k in range(Cg):
                            for fo in range(Fg):
                                _fma(a, ao + ow * F + fo * groups, wt,
                                     ((tap * Cg + k) * Fg + fo) * groups, src,
                                     pix + k * groups, groups)
            if not same_out:
                t2 = now(clock)
                _reorder_out(acc, 0, of, row, groups, Fg, OW)
                tw += now(clock) - t2
        trace[0] += t1 - t0
        trace[1] += now(clock) - t1 - tw
        trace[2] += tw


@njit(cache=True, nogil=True, fastmath=_FM)
def grad_x_groups(ctx, item0, item1):
    """Run samples ``[item0, item1)`` of a groups-mode grad_x pass.

    Every output position scatters its (re-ordered) grad_out through the
    taps into the (re-ordered) gradient of x, acc (H*W*C), positions in
    order; acc is then written back into gx[n]. gt (OW*F) is scratch.
    """
    gy, wt, gx, win, groups, gt, acc, clock, trace = ctx
    N, H, W, C = gx.shape
    F = gy.shape[3]
    Cg, Fg = C // groups, F // groups
    OH, OW = win.OH, win.OW
    gyf, gxf = gy.reshape(gy.size), gx.reshape(gx.size)
    same_in, same_out = Cg == 1, Fg == 1
    for n in range(item0, item1):
        t0 = now(clock)
        a, ao = (gxf, n * H * W * C) if same_in else (acc, 0)
        for t in range(H * W * C):
            a[ao + t] = 0
        tr = 0.0
        for oh in range(OH):
            row = (n * OH + oh) * OW * F
            if same_out:
                g_src, g_o = gyf, row
            else:
                t1 = now(clock)
                _reorder_in(gyf, row, gt, 0, groups, Fg, OW)
                tr += now(clock) - t1
                g_src, g_o = gt, 0
            for i in range(win.KH):
                ih = oh * win.sh - win.top + i * win.dh
                if ih < 0 or ih >= H:
                    continue
                for j in range(win.KW):
                    off = j * win.dw - win.left
                    lo, hi = out_range(OW, win.sw, off, W)
                    tap = i * win.KW + j
                    for ow in range(lo, hi):
                        pix = ao + (ih * W + ow * win.sw + off) * C
                        for k in range(Cg):
                            for fo in range(Fg):
                                _fma(a, pix + k * groups, wt,
                                     ((tap * Cg + k) * Fg + fo) * groups, g_src,
                                     g_o + ow * F + fo * groups, groups)
        t2 = now(clock)
        if not same_in:
            _reorder_out(acc, 0, gxf, n * H * W * C, groups, Cg, H * W)
        trace[0] += tr
        trace[1] += t2 - t0 - tr
        trace[2] += now(clock) - t2


@njit(cache=True, nogil=True, fastmath=_FM)
def grad_w_groups(ctx, item0, item1):
    """Run slots ``[item0, item1)`` of a groups-mode grad_weight pass.

    Slot s of S (``parts`` (S, KK*Cg*Fg*G), in wt's order) sums its samples
    ``[s*N//S, (s+1)*N//S)``, positions in order, along G;
    ``bias_parts[s]`` (F,) sums grad_out along F (float64).
    """
    gy, x, parts, bias_parts, win, groups, xt, gt, clock, trace = ctx
    N, H, W, C = x.shape
    F = gy.shape[3]
    Cg, Fg = C // groups, F // groups
    OH, OW = win.OH, win.OW
    S = parts.shape[0]
    xf, gyf = x.reshape(x.size), gy.reshape(gy.size)
    same_in, same_out = Cg == 1, Fg == 1
    for s in range(item0, item1):
        ps = parts[s]
        bs = bias_parts[s]
        ps[:] = 0
        bs[:] = 0
        for n in range(s * N // S, (s + 1) * N // S):
            t0 = now(clock)
            if same_in:
                src, so = xf, n * H * W * C
            else:
                _reorder_in(xf, n * H * W * C, xt, 0, groups, Cg, H * W)
                src, so = xt, 0
            tr = now(clock) - t0
            t1 = now(clock)
            for oh in range(OH):
                row = (n * OH + oh) * OW * F
                for ow in range(OW):
                    o = uint64(row + ow * F)
                    for f in range(uint64(F)):
                        bs[f] += gyf[o + f]
                if same_out:
                    g_src, g_o = gyf, row
                else:
                    t2 = now(clock)
                    _reorder_in(gyf, row, gt, 0, groups, Fg, OW)
                    tr += now(clock) - t2
                    g_src, g_o = gt, 0
                for i in range(win.KH):
                    ih = oh * win.sh - win.top + i * win.dh
                    if ih < 0 or ih >= H:
                        continue
                    for j in range(win.KW):
                        off = j * win.dw - win.left
                        lo, hi = out_range(OW, win.sw, off, W)
                        tap = i * win.KW + j
                        for ow in range(lo, hi):
                            pix = so + (ih * W + ow * win.sw + off) * C
                            for k in range(Cg):
                                for fo in range(Fg):
                                    _fma(ps, ((tap * Cg + k) * Fg + fo) * groups, src,
                                         pix + k * groups, g_src,
                                         g_o + ow * F + fo * groups, groups)
            trace[0] += tr
            trace[1] += now(clock) - t1


@njit(cache=True, nogil=True, fastmath=_FM)
def forward_filters(ctx, item0, item1):
    """Run items ``[item0, item1)`` (sample n, output row oh) of a filters-mode pass.

    ``out[n, oh, ow, :] += x[n, ih, iw, c] * w[i, j, c, :]`` along F, three
    input channels a pass over the output's channels.
    """
    x, w, bias, has_bias, out, win, clock, trace = ctx
    N, H, W, C = x.shape
    F = out.shape[3]
    OH, OW = win.OH, win.OW
    xf, wf, of = x.reshape(x.size), w.reshape(w.size), out.reshape(out.size)
    for item in range(item0, item1):
        t0 = now(clock)
        n = item // OH
        oh = item - n * OH
        row = (n * OH + oh) * OW * F
        for ow in range(OW):
            for f in range(F):
                of[row + ow * F + f] = bias[f] if has_bias else of.dtype.type(0)
        for i in range(win.KH):
            ih = oh * win.sh - win.top + i * win.dh
            if ih < 0 or ih >= H:
                continue
            for j in range(win.KW):
                off = j * win.dw - win.left
                lo, hi = out_range(OW, win.sw, off, W)
                wtap = (i * win.KW + j) * C * F
                for ow in range(lo, hi):
                    pix = ((n * H + ih) * W + ow * win.sw + off) * C
                    o = uint64(row + ow * F)
                    c = 0
                    while c + 3 <= C:
                        x0, x1, x2 = xf[pix + c], xf[pix + c + 1], xf[pix + c + 2]
                        w0 = uint64(wtap + c * F)
                        for f in range(uint64(F)):
                            of[o + f] += (x0 * wf[w0 + f] + x1 * wf[w0 + uint64(F) + f]
                                          + x2 * wf[w0 + uint64(2 * F) + f])
                        c += 3
                    while c < C:
                        _axpy(of, o, xf[pix + c], wf, wtap + c * F, F)
                        c += 1
        trace[1] += now(clock) - t0


@njit(cache=True, nogil=True, fastmath=_FM)
def grad_w_filters(ctx, item0, item1):
    """Run slots ``[item0, item1)`` of a filters-mode grad_weight pass.

    ``parts[s]`` (KH*KW*C*F, the weight's order) sums, along F, x[.., c]
    times grad_out over slot s's samples, positions in order;
    ``bias_parts[s]`` (F,) sums grad_out (float64).
    """
    gy, x, parts, bias_parts, win, clock, trace = ctx
    N, H, W, C = x.shape
    F = gy.shape[3]
    OH, OW = win.OH, win.OW
    S = parts.shape[0]
    xf, gyf = x.reshape(x.size), gy.reshape(gy.size)
    for s in range(item0, item1):
        t0 = now(clock)
        ps = parts[s]
        bs = bias_parts[s]
        ps[:] = 0
        bs[:] = 0
        for n in range(s * N // S, (s + 1) * N // S):
            for oh in range(OH):
                row = (n * OH + oh) * OW * F
                for ow in range(OW):
                    o = uint64(row + ow * F)
                    for f in range(uint64(F)):
                        bs[f] += gyf[o + f]
                for i in range(win.KH):
                    ih = oh * win.sh - win.top + i * win.dh
                    if ih < 0 or ih >= H:
                        continue
                    for j in range(win.KW):
                        off = j * win.dw - win.left
                        lo, hi = out_range(OW, win.sw, off, W)
                        wtap = (i * win.KW + j) * C * F
                        for ow in range(lo, hi):
                            pix = ((n * H + ih) * W + ow * win.sw + off) * C
                            for c in range(C):
                                _axpy(ps, wtap + c * F, xf[pix + c], gyf, row + ow * F, F)
        trace[1] += now(clock) - t0
# fmt: on
