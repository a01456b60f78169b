"""Backward kernels of 1x1 convolutions with unit stride and no padding.

Such a convolution is two plain GEMMs over the whole batch, with x as its
own column matrix: ``grad_weight = dY^T X`` (a sum over every sample and
position) and ``grad_x = dY W``. Cutting the reduction into slots of
samples, as the tile kernels do, would only add partial sums to add; here
the engine splits each GEMM by its *output* instead, in two passes:

- weight pass: items are blocks of filters (whole groups when there are
  several); an item computes its columns (NHWC) or rows (NCHW) of
  grad_weight and grad_bias over the whole batch, in a fixed order;
- input pass: items are bands of output rows; an item computes its rows of
  grad_x.

Layouts: NCHW x (N, C, H, W), grad_out (N, F, H, W), weight (F, Cg, 1, 1);
NHWC x (N, H, W, C) as N*H*W rows of C, grad_out as rows of F, weight
(1, 1, Cg, F). `blas` is (gemm address, ilp64); `clock` and `trace` time
the phases for the profiler (:data:`PHASES`).
"""

import numpy as np
from numba import njit

from .clock import now
from .gemm import gemm

__all__ = [
    "PHASES",
    "weight_grads_nchw",
    "weight_grads_nhwc",
    "input_grads_nchw",
    "input_grads_nhwc",
]

PHASES = ("gemm grad_weight", "gemm grad_x", "grad_bias")


# the GEMM calls read best on a few lines
# fmt: off
@njit(cache=True, inline="always")
def _filters(u, units, F, groups):
    """Return the filters ``[f0, f1)`` of block `u`: whole groups, or a share of one."""
    if groups > 1:
        Fg = F // groups
        return (u * groups // units) * Fg, ((u + 1) * groups // units) * Fg
    return u * F // units, (u + 1) * F // units


@njit(cache=True, nogil=True)
def weight_grads_nchw(ctx, item0, item1):
    """Run filter blocks ``[item0, item1)``: rows of gw (F, Cg) and gb (F,) (float64).

    ``gw[f] = sum_n dY[n, f] (P,) @ X[n, group of f].T (P, Cg)``, the samples
    added in order by the GEMM's beta.
    """
    gy, x, gw, gb, groups, units, blas, clock, trace = ctx
    N, C = x.shape[0], x.shape[1]
    F = gy.shape[1]
    P = x.shape[2] * x.shape[3]
    Cg, Fg = C // groups, F // groups
    xf, gyf, gwf = x.reshape(x.size), gy.reshape(gy.size), gw.reshape(gw.size)
    for u in range(item0, item1):
        f0, f1 = _filters(u, units, F, groups)
        t0 = now(clock)
        for g in range(f0 // max(Fg, 1), (f1 + Fg - 1) // max(Fg, 1)):
            fa, fb = max(f0, g * Fg), min(f1, (g + 1) * Fg)
            if N == 0:
                gwf[fa * Cg : fb * Cg] = 0
            for n in range(N):
                # dW[fa:fb] (fb-fa, Cg) (+)= dY[n, fa:fb] (., P) @ X[n, g].T (P, Cg)
                gemm(blas[0], blas[1], False, True, fb - fa, Cg, P, gyf,
                     (n * F + fa) * P, P, xf, (n * C + g * Cg) * P, P,
                     1.0 if n else 0.0, gwf, fa * Cg, Cg)
        t1 = now(clock)
        for f in range(f0, f1):
            total = 0.0
            for n in range(N):
                row = gyf[(n * F + f) * P :][:P]
                acc = 0.0  # float64
                for p in range(P):
                    acc += row[p]
                total += acc
            gb[f] = total
        trace[0] += t1 - t0
        trace[2] += now(clock) - t1


@njit(cache=True, nogil=True)
def weight_grads_nhwc(ctx, item0, item1):
    """Run filter blocks ``[item0, item1)``: columns of gw (Cg, F), gb (F,) (float64).

    ``gw[:, f] = X[:, group].T (Cg, R) @ dY[:, f] (R,)`` over all R = N*H*W
    rows in one GEMM.
    """
    gy, x, gw, gb, groups, units, blas, clock, trace = ctx
    C = x.shape[3]
    F = gy.shape[3]
    R = x.shape[0] * x.shape[1] * x.shape[2]
    Cg, Fg = C // groups, F // groups
    xf, gyf, gwf = x.reshape(x.size), gy.reshape(gy.size), gw.reshape(gw.size)
    for u in range(item0, item1):
        f0, f1 = _filters(u, units, F, groups)
        t0 = now(clock)
        for g in range(f0 // max(Fg, 1), (f1 + Fg - 1) // max(Fg, 1)):
            fa, fb = max(f0, g * Fg), min(f1, (g + 1) * Fg)
            # dW[:, fa:fb] (Cg, fb-fa) = X[:, g].T (Cg, R) @ dY[:, fa:fb] (R, .)
            gemm(blas[0], blas[1], True, False, Cg, fb - fa, R, xf, g * Cg, C, gyf, fa,
                 F, 0.0, gwf, fa, F)
        t1 = now(clock)
        acc = np.zeros(f1 - f0)  # float64, a column sum per filter, rows in order
        for r in range(R):
            v = gyf[r * F + f0 :][: f1 - f0]
            for f in range(f1 - f0):
                acc[f] += v[f]
        gb[f0:f1] = acc
        trace[0] += t1 - t0
        trace[2] += now(clock) - t1


@njit(cache=True, nogil=True)
def input_grads_nchw(ctx, item0, item1):
    """Run items ``[item0, item1)`` (sample, band): ``gx[n, g] = W_g.T @ dY[n, g]``."""
    gy, w, gx, groups, rows, blas, clock, trace = ctx
    N, C, H, W = gx.shape
    F = gy.shape[1]
    P = H * W
    Cg, Fg = C // groups, F // groups
    wf, gyf, gxf = w.reshape(w.size), gy.reshape(gy.size), gx.reshape(gx.size)
    tiles = (H + rows - 1) // rows
    for item in range(item0, item1):
        n = item // tiles
        h0 = (item - n * tiles) * rows
        m = (min(h0 + rows, H) - h0) * W
        t0 = now(clock)
        for g in range(groups):
            # dX[n, g, band] (Cg, m) = W_g.T (Cg, Fg) @ dY[n, g, band] (Fg, m)
            gemm(blas[0], blas[1], True, False, Cg, m, Fg, wf, g * Fg * Cg, Cg, gyf,
                 (n * F + g * Fg) * P + h0 * W, P, 0.0, gxf,
                 (n * C + g * Cg) * P + h0 * W, P)
        trace[1] += now(clock) - t0


@njit(cache=True, nogil=True)
def input_grads_nhwc(ctx, item0, item1):
    """Run items ``[item0, item1)``: bands of `rows` image rows of the whole batch.

    ``dX[r, g] = dY[r, g] @ W_g.T`` for the band's rows r of N*H*W.
    """
    gy, w, gx, groups, rows, blas, clock, trace = ctx
    C = gx.shape[3]
    F = gy.shape[3]
    W = gx.shape[2]
    R = gx.shape[0] * gx.shape[1] * W
    Cg, Fg = C // groups, F // groups
    wf, gyf, gxf = w.reshape(w.size), gy.reshape(gy.size), gx.reshape(gx.size)
    for item in range(item0, item1):
        r0 = item * rows * W
        m = min(r0 + rows * W, R) - r0
        t0 = now(clock)
        for g in range(groups):
            # dX[rows, g] (m, Cg) = dY[rows, g] (m, Fg) @ W_g.T (Fg, Cg)
            gemm(blas[0], blas[1], False, True, m, Cg, Fg, gyf, r0 * F + g * Fg, F, wf,
                 g * Fg, F, 0.0, gxf, r0 * C + g * Cg, C)
        trace[1] += now(clock) - t0


# fmt: on
