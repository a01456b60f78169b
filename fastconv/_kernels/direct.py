"""Direct convolution kernels for what GEMM serves badly.

Depthwise and grouped convolutions with few channels per group, and layers
with very few input channels or filters: their GEMMs would be a few rows
or columns wide, and im2col would copy the input KH*KW times to feed them.
These kernels compute the sums directly, vectorised along a contiguous
axis of independent outputs:

- NCHW: the output grid of one filter (``L = OH * Wq`` positions of the
  phase planes, :mod:`.planes`): each tap adds ``w * plane[off:off + L]``
  to the grid, three taps per pass over it, so every pass is one long loop
  that LLVM vectorises (no bounds, no reduction).
- NHWC: the channels of one output position: each tap adds
  ``x[position] * w[tap]`` to a run of output channels.

Gradients: grad_x is the same loops run backwards (scatter-adds into phase
planes, then folded); grad_weight is a sum over positions, a reduction
that LLVM cannot vectorise without reassociating, so the NCHW kernels hand
it to BLAS (a dot product per tap), and the NHWC ones vectorise it along
the output channels instead. FMA contraction is allowed (``fastmath``
``contract`` only): within the tests' tolerances, and the same on every
run.
"""

from numba import njit

from .clock import now
from .gemm import dot
from .planes import fill_nchw, fold_nchw, grid_from_nchw, grid_to_nchw, tap_base

__all__ = [
    "PHASES",
    "FILTER_BLOCK",
    "forward_nchw",
    "grad_x_nchw",
    "grad_w_nchw",
]

PHASES = ("planes", "taps", "grid")
#: Filters an NCHW item computes together from one fill of the planes.
FILTER_BLOCK = 4

_FM = {"contract"}


@njit(cache=True, nogil=True, fastmath=_FM, inline="always")
def _axpy3(g, L, s0, w0, s1, w1, s2, w2):
    """``g[p] += w0*s0[p] + w1*s1[p] + w2*s2[p]`` for p < L (three taps, one pass)."""
    for p in range(L):
        g[p] += w0 * s0[p] + w1 * s1[p] + w2 * s2[p]


@njit(cache=True, nogil=True, fastmath=_FM, inline="always")
def _axpy(g, L, s, w):
    """``g[p] += w * s[p]`` for p < L."""
    for p in range(L):
        g[p] += w * s[p]


@njit(cache=True, nogil=True, fastmath=_FM)
def _sum_taps(g, P, wf, cg, win, pl):
    """Add every tap of one filter to its grid g (L,): wf (Cg, KH, KW) the filter."""
    L = pl.L
    per_c = (pl.sh * pl.sw) * pl.PS
    taps = win.KH * win.KW
    wflat = wf.reshape(wf.size)
    for c in range(cg):
        t = 0
        while t < taps:
            if t + 3 <= taps:
                i0, j0 = divmod(t, win.KW)
                i1, j1 = divmod(t + 1, win.KW)
                i2, j2 = divmod(t + 2, win.KW)
                b0 = c * per_c + tap_base(win, pl, i0, j0)
                b1 = c * per_c + tap_base(win, pl, i1, j1)
                b2 = c * per_c + tap_base(win, pl, i2, j2)
                _axpy3(
                    g,
                    L,
                    P[b0 : b0 + L],
                    wflat[c * taps + t],
                    P[b1 : b1 + L],
                    wflat[c * taps + t + 1],
                    P[b2 : b2 + L],
                    wflat[c * taps + t + 2],
                )
                t += 3
            else:
                i0, j0 = divmod(t, win.KW)
                b0 = c * per_c + tap_base(win, pl, i0, j0)
                _axpy(g, L, P[b0 : b0 + L], wflat[c * taps + t])
                t += 1


@njit(cache=True, nogil=True, fastmath=_FM)
def forward_nchw(ctx, item0, item1):
    """Run items ``[item0, item1)`` of a direct NCHW forward pass.

    Item ``(n*groups + g)*blocks + k`` is sample n, group g, filter block k
    (:data:`FILTER_BLOCK` filters); consecutive items of one sample and
    group share one fill of the planes P (Cg*phases*PS). G is the scratch
    grid (FILTER_BLOCK * L).
    """
    x, w, bias, has_bias, out, win, pl, groups, P, G, clock, trace = ctx
    C = x.shape[1]
    F = w.shape[0]
    Cg, Fg = C // groups, F // groups
    blocks = (Fg + FILTER_BLOCK - 1) // FILTER_BLOCK
    L = pl.L
    last = -1
    for item in range(item0, item1):
        ng = item // blocks
        k = item - ng * blocks
        n = ng // groups
        g = ng - n * groups
        t0 = now(clock)
        if ng != last:
            fill_nchw(x, n, g * Cg, Cg, win, pl, P)
            last = ng
        t1 = now(clock)
        f0 = g * Fg + k * FILTER_BLOCK
        ff = min(FILTER_BLOCK, (g + 1) * Fg - f0)
        for b in range(ff):
            gb = G[b * L : (b + 1) * L]
            v = bias[f0 + b] if has_bias else gb.dtype.type(0)
            for p in range(L):
                gb[p] = v
            _sum_taps(gb, P, w[f0 + b], Cg, win, pl)
        t2 = now(clock)
        grid_to_nchw(G, n, f0, ff, win, pl, out)
        trace[0] += t1 - t0
        trace[1] += t2 - t1
        trace[2] += now(clock) - t2


@njit(cache=True, nogil=True, fastmath=_FM)
def _scatter_taps(P, g, wf, cg, win, pl):
    """Add one filter's grid g (L,) times its taps into the planes' gradient P."""
    L = pl.L
    per_c = (pl.sh * pl.sw) * pl.PS
    taps = win.KH * win.KW
    wflat = wf.reshape(wf.size)
    for c in range(cg):
        for t in range(taps):
            i, j = divmod(t, win.KW)
            b = c * per_c + tap_base(win, pl, i, j)
            _axpy(P[b : b + L], L, g, wflat[c * taps + t])


@njit(cache=True, nogil=True, fastmath=_FM)
def grad_x_nchw(ctx, item0, item1):
    """Run items ``[item0, item1)`` (sample n, group g) of a direct grad_x pass.

    The planes' gradient P (Cg*phases*PS) is zeroed, every filter of the
    group scatters its grad_out grid (G, L) through its taps, in filter and
    tap order, and P is folded into gx[n, group's channels].
    """
    gy, w, gx, win, pl, groups, P, G, clock, trace = ctx
    C = gx.shape[1]
    F = w.shape[0]
    Cg, Fg = C // groups, F // groups
    L = pl.L
    for item in range(item0, item1):
        n = item // groups
        g = item - n * groups
        t0 = now(clock)
        P[: Cg * (pl.sh * pl.sw) * pl.PS] = 0
        for f in range(g * Fg, (g + 1) * Fg):
            grid_from_nchw(gy, n, f, 1, win, pl, G)
            _scatter_taps(P, G[:L], w[f], Cg, win, pl)
        t1 = now(clock)
        fold_nchw(P, n, g * Cg, Cg, win, pl, gx)
        trace[1] += t1 - t0
        trace[2] += now(clock) - t1


@njit(cache=True, nogil=True)
def grad_w_nchw(ctx, item0, item1):
    """Run items ``[item0, item1)`` (filter f) of a direct grad_weight pass.

    ``gw[f, c, i, j]`` sums over the samples, in order, the dot product (BLAS)
    of f's grad_out grid with the tap's slice of channel c's planes, and
    ``gb[f]`` (float64) the per-sample sums of f's grad_out grid (a dot with
    `ones`, L long). Each item fills its group's planes per sample.
    """
    gy, x, gw, gb, win, pl, groups, P, G, ones, blas, clock, trace = ctx
    N, C = x.shape[0], x.shape[1]
    F = gy.shape[1]
    Cg, Fg = C // groups, F // groups
    L = pl.L
    taps = win.KH * win.KW
    per_c = (pl.sh * pl.sw) * pl.PS
    gwf = gw.reshape(gw.size)
    for f in range(item0, item1):
        g = f // Fg
        acc = gwf[f * Cg * taps : (f + 1) * Cg * taps]
        acc[:] = 0
        total = 0.0  # float64
        for n in range(N):
            t0 = now(clock)
            fill_nchw(x, n, g * Cg, Cg, win, pl, P)
            grid_from_nchw(gy, n, f, 1, win, pl, G)
            t1 = now(clock)
            for c in range(Cg):
                for t in range(taps):
                    i, j = divmod(t, win.KW)
                    b = c * per_c + tap_base(win, pl, i, j)
                    acc[c * taps + t] += dot(blas[2], blas[1], L, G, 0, 1, P, b, 1)
            total += dot(blas[2], blas[1], L, G, 0, 1, ones, 0, 1)
            trace[0] += t1 - t0
            trace[1] += now(clock) - t1
        gb[f] = total
