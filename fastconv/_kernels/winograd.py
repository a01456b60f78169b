"""Winograd F(2x2, 3x3) convolution: 3x3, stride 1, dilation 1, groups 1.

The output is cut into 2x2 tiles; tile (th, tw) reads the 4x4 input patch
d at rows ``2*th - top + (0..3)`` and columns ``2*tw - left + (0..3)``
(zero outside x). Per channel, per filter (Lavin & Gray's algorithm)::

    Y (2x2) = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise, 4x4)

with B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]],
G = [[1,0,0],[1/2,1/2,1/2],[1/2,-1/2,1/2],[0,0,1]], A^T = [[1,1,1,0],[0,1,-1,-1]].
Summing over channels turns the elementwise products into 16 GEMMs, one
per position k of the 4x4 transform: ``M[k] (T, F) = V[k] (T, C) @ U[k]
(C, F)`` over a band of T tiles, 2.25x fewer multiply-adds than the
direct sum. The weight transform U (16, C, F) is computed once per call
(:func:`weight_transform`).

An item is a band of tile rows (which may run on into the next sample, so
that small images still give GEMMs of at least 128 rows): its input
transform V (16, T, C), the 16 GEMMs into M (16, T, F) and the output
transform stay in the thread's scratch. The transforms run along the channels (filters),
contiguous in NHWC (NCHW is gathered into and scattered from the same
channels-innermost scratch), each loop reading and writing a few 2-D views
so that LLVM vectorises it. The same kernel runs grad_x of a stride-1 layer: the
convolution of grad_out with the flipped, transposed weight over a window
padded by ``2 - padding``.
"""

import numpy as np
from numba import njit

from .clock import now
from .gemm import gemm

__all__ = ["PHASES", "tiles", "weight_transform", "forward", "grad_w", "grad_w_transform"]

PHASES = ("transform in", "gemm", "transform out")


@njit(cache=True, nogil=True)
def weight_transform(w, flip, U):
    """U[4a + b, c, f] = (G g G^T)[a, b] of w (3, 3, C, F) per (c, f).

    With `flip` the taps are read reversed, ``g[i, j] = w[2 - i, 2 - j]``
    (grad_x's weight, used transposed by the GEMMs).
    """
    C, F = w.shape[2], w.shape[3]
    for c in range(C):
        g = np.empty((9, F), U.dtype)
        t = np.empty((12, F), U.dtype)
        for i in range(3):
            for j in range(3):
                src = w[2 - i, 2 - j, c] if flip else w[i, j, c]
                for f in range(F):
                    g[3 * i + j, f] = src[f]
        for j in range(3):  # t = G g, column j
            for f in range(F):
                g0, g1, g2 = g[j, f], g[3 + j, f], g[6 + j, f]
                t[j, f] = g0
                t[3 + j, f] = 0.5 * (g0 + g1 + g2)
                t[6 + j, f] = 0.5 * (g0 - g1 + g2)
                t[9 + j, f] = g2
        for a in range(4):  # U = t G^T, row a
            for f in range(F):
                t0, t1, t2 = t[3 * a, f], t[3 * a + 1, f], t[3 * a + 2, f]
                U[4 * a, c, f] = t0
                U[4 * a + 1, c, f] = 0.5 * (t0 + t1 + t2)
                U[4 * a + 2, c, f] = 0.5 * (t0 - t1 + t2)
                U[4 * a + 3, c, f] = t2


@njit(cache=True)
def tiles(n_out, d):
    """Tiles along an axis of `n_out` outputs, dilation d: d phases of ceil(./2)."""
    return d * ((-(-n_out // d) + 1) // 2)


@njit(cache=True, inline="always")
def _origin(t, per_phase, d):
    """Return the first output of tile t along an axis (phase t // per_phase, step 2d)."""
    return t // per_phase + 2 * d * (t % per_phase)


# fmt: off
@njit(cache=True, inline="always")
def _transform_in(x, x2, nchw, n, ih0, iw0, dh, dw, H, W, C, d2, u2, V2, T, tile):
    """V[k, tile, :] = (B^T d B)[k] of the 4x4 patch at (ih0, iw0), steps (dh, dw).

    The patch d (zero outside x) is gathered into d2 (16, C); u2 (16, C)
    holds B^T d; V2 is V (16, T, C) as (16*T, C).
    """
    for i in range(4):
        ih = ih0 + i * dh
        for j in range(4):
            iw = iw0 + j * dw
            if 0 <= ih < H and 0 <= iw < W and nchw:
                for c in range(C):
                    d2[4 * i + j, c] = x[n, c, ih, iw]
            elif 0 <= ih < H and 0 <= iw < W:
                r = (n * H + ih) * W + iw
                for c in range(C):
                    d2[4 * i + j, c] = x2[r, c]
            else:
                for c in range(C):
                    d2[4 * i + j, c] = 0
    for j in range(4):              # u = B^T d, column j
        for c in range(C):
            a0, a1 = d2[j, c], d2[4 + j, c]
            a2, a3 = d2[8 + j, c], d2[12 + j, c]
            u2[j, c] = a0 - a2
            u2[4 + j, c] = a1 + a2
            u2[8 + j, c] = a2 - a1
            u2[12 + j, c] = a1 - a3
    for i in range(4):              # V = u B, row i
        k = 4 * i * T + tile
        for c in range(C):
            a0, a1 = u2[4 * i, c], u2[4 * i + 1, c]
            a2, a3 = u2[4 * i + 2, c], u2[4 * i + 3, c]
            V2[k, c] = a0 - a2
            V2[k + T, c] = a1 + a2
            V2[k + 2 * T, c] = a2 - a1
            V2[k + 3 * T, c] = a1 - a3


@njit(cache=True, nogil=True)
def forward(x, nchw, U, trans_u, bias, out, win, rows, item0, item1, V, M, P, blas,
            clock, trace):
    """Run items ``[item0, item1)``: item t is the tile rows ``[t*rows, (t+1)*rows)``.

    Tile rows run over the batch: tile row r is row ``r % TH`` of sample
    ``r // TH``, TH = tiles(OH, dh). With dilation d, an axis is d phases
    (outputs o = phase + d*q), each cut into tiles of two outputs d apart,
    whose patches take every d-th input. x (N, H, W, C) -> out (N, OH, OW, F), or
    with `nchw` x (N, C, H, W) -> out (N, F, OH, OW), gathered into and
    scattered from the same channels-innermost scratch; U
    (16, C, F) from weight_transform, or (16, F, C) used transposed if
    `trans_u`; bias (F,) (zeros for none). Scratch: V (16*T*C,), M
    (16*T*F,) and P (32*max(C, F),), T = rows * ceil(OW/2).
    """
    N, H, W = x.shape[0], win.H, win.W
    C = x.shape[1] if nchw else x.shape[3]
    F = bias.shape[0]
    OH, OW = win.OH, win.OW
    dh, dw = win.dh, win.dw
    TH, TW = tiles(OH, dh), tiles(OW, dw)
    PH, PW = TH // dh, TW // dw
    x2 = x.reshape(N * H * W, C)
    o2 = out.reshape(N * OH * OW, F)
    Uf = U.reshape(U.size)
    for item in range(item0, item1):
        t_a = now(clock)
        g0 = item * rows
        g1 = min(g0 + rows, N * TH)
        T = (g1 - g0) * TW
        V2 = V[: 16 * T * C].reshape(16 * T, C)
        M2 = M[: 16 * T * F].reshape(16 * T, F)
        d2 = P[: 16 * C].reshape(16, C)     # the patch, zero-padded
        u2 = P[16 * C: 32 * C].reshape(16, C)   # B^T d
        for gr in range(g0, g1):
            n = gr // TH
            th = gr - n * TH
            ih0 = _origin(th, PH, dh) - win.top
            for tw in range(TW):
                _transform_in(x, x2, nchw, n, ih0, _origin(tw, PW, dw) - win.left, dh, dw,
                              H, W, C, d2, u2, V2, T, (gr - g0) * TW + tw)
        t_b = now(clock)
        Vf = V[: 16 * T * C]
        Mf = M[: 16 * T * F]
        ldu = C if trans_u else F
        for k in range(16):
            gemm(blas[0], blas[1], False, trans_u, T, F, C, Vf, k * T * C, C, Uf,
                 k * C * F, ldu, 0.0, Mf, k * T * F, F)
        t_c = now(clock)
        s2 = P[: 8 * F].reshape(8, F)           # A^T m
        for gr in range(g0, g1):
            n = gr // TH
            th = gr - n * TH
            for tw in range(TW):
                tile = (gr - g0) * TW + tw
                ow = _origin(tw, PW, dw)
                if ow >= OW:                    # a tile past the end of a phase
                    continue
                for j in range(4):              # s = A^T m, column j
                    k = j * T + tile
                    for f in range(F):
                        m0, m1 = M2[k, f], M2[k + 4 * T, f]
                        m2, m3 = M2[k + 8 * T, f], M2[k + 12 * T, f]
                        s2[j, f] = m0 + m1 + m2
                        s2[4 + j, f] = m1 - m2 - m3
                for i in range(2):              # y = s A, row i, plus the bias
                    oh = _origin(th, PH, dh) + i * dh
                    if oh >= OH:
                        continue
                    p = (n * OH + oh) * OW + ow
                    if nchw:
                        for f in range(F):
                            a0, a1 = s2[4 * i, f], s2[4 * i + 1, f]
                            a2, a3 = s2[4 * i + 2, f], s2[4 * i + 3, f]
                            out[n, f, oh, ow] = bias[f] + (a0 + a1 + a2)
                            if ow + dw < OW:
                                out[n, f, oh, ow + dw] = bias[f] + (a1 - a2 - a3)
                    elif ow + dw < OW:
                        for f in range(F):
                            a0, a1 = s2[4 * i, f], s2[4 * i + 1, f]
                            a2, a3 = s2[4 * i + 2, f], s2[4 * i + 3, f]
                            o2[p, f] = bias[f] + (a0 + a1 + a2)
                            o2[p + dw, f] = bias[f] + (a1 - a2 - a3)
                    else:
                        for f in range(F):
                            a0, a1, a2 = s2[4 * i, f], s2[4 * i + 1, f], s2[4 * i + 2, f]
                            o2[p, f] = bias[f] + (a0 + a1 + a2)
        t_d = now(clock)
        trace[0] += t_b - t_a
        trace[1] += t_c - t_b
        trace[2] += t_d - t_c
# fmt: on


# fmt: off
@njit(cache=True, nogil=True)
def grad_w(x, nchw, gy, parts, bias_parts, win, rows, item0, item1, V, Y, P, blas, clock,
           trace):
    """Run slots ``[item0, item1)`` of the grad_weight pass, F(3x3, 2x2).

    ``dW (3x3) = G^T [ (A gy A^T) * (B^T d B) ] G`` per (c, f), summed over
    the 2x2 tiles of grad_out and their 4x4 input patches d (the forward's
    tiles): per position k of the 4x4 transform, ``parts[s, k] (C, F) +=
    V[k].T (C, T) @ Y[k] (T, F)``, bands of `rows` tile rows over slot s's
    samples ``[s*N//S, (s+1)*N//S)`` in order. :func:`grad_w_transform`
    turns the summed parts into dW. ``bias_parts[s]`` (F,) sums grad_out
    (float64). Scratch: V (16*T*C,), Y (16*T*F,), P (32*max(C, F),).
    """
    N, H, W = x.shape[0], win.H, win.W
    C = x.shape[1] if nchw else x.shape[3]
    F = gy.shape[1] if nchw else gy.shape[3]
    OH, OW = win.OH, win.OW
    dh, dw = win.dh, win.dw
    TH, TW = tiles(OH, dh), tiles(OW, dw)
    PH, PW = TH // dh, TW // dw
    S = parts.shape[0]
    x2 = x.reshape(N * H * W, C)
    g2 = gy.reshape(N * OH * OW, F)
    for slot in range(item0, item1):
        ps = parts[slot]
        bs = bias_parts[slot]
        ps[:] = 0
        bs[:] = 0
        psf = ps.reshape(ps.size)
        n0, n1 = slot * N // S, (slot + 1) * N // S
        for n in range(n0, n1):                 # grad_bias, in a fixed order
            if nchw:
                for f in range(F):
                    for oh in range(OH):
                        for ow in range(OW):
                            bs[f] += gy[n, f, oh, ow]
            else:
                for p in range(n * OH * OW, (n + 1) * OH * OW):
                    for f in range(F):
                        bs[f] += g2[p, f]
        g0 = n0 * TH
        while g0 < n1 * TH:
            t_a = now(clock)
            g1 = min(g0 + rows, n1 * TH)
            T = (g1 - g0) * TW
            V2 = V[: 16 * T * C].reshape(16 * T, C)
            Y2 = Y[: 16 * T * F].reshape(16 * T, F)
            d2 = P[: 16 * C].reshape(16, C)
            u2 = P[16 * C: 32 * C].reshape(16, C)
            e2 = P[: 4 * F].reshape(4, F)       # the 2x2 grad_out tile
            h2 = P[4 * F: 12 * F].reshape(8, F)     # A g, (4, 2)
            for gr in range(g0, g1):
                n = gr // TH
                th = gr - n * TH
                oh0 = _origin(th, PH, dh)
                for tw in range(TW):
                    tile = (gr - g0) * TW + tw
                    ow0 = _origin(tw, PW, dw)
                    _transform_in(x, x2, nchw, n, oh0 - win.top, ow0 - win.left, dh, dw,
                                  H, W, C, d2, u2, V2, T, tile)
                    for i in range(2):          # the tile of grad_out, zero outside
                        for j in range(2):
                            oh, ow = oh0 + i * dh, ow0 + j * dw
                            if oh < OH and ow < OW and nchw:
                                for f in range(F):
                                    e2[2 * i + j, f] = gy[n, f, oh, ow]
                            elif oh < OH and ow < OW:
                                p = (n * OH + oh) * OW + ow
                                for f in range(F):
                                    e2[2 * i + j, f] = g2[p, f]
                            else:
                                for f in range(F):
                                    e2[2 * i + j, f] = 0
                    for j in range(2):          # h = A e, column j
                        for f in range(F):
                            a0, a1 = e2[j, f], e2[2 + j, f]
                            h2[j, f] = a0
                            h2[2 + j, f] = a0 + a1
                            h2[4 + j, f] = a0 - a1
                            h2[6 + j, f] = -a1
                    for i in range(4):          # Y = h A^T, row i
                        k = 4 * i * T + tile
                        for f in range(F):
                            a0, a1 = h2[2 * i, f], h2[2 * i + 1, f]
                            Y2[k, f] = a0
                            Y2[k + T, f] = a0 + a1
                            Y2[k + 2 * T, f] = a0 - a1
                            Y2[k + 3 * T, f] = -a1
            t_b = now(clock)
            Vf = V[: 16 * T * C]
            Yf = Y[: 16 * T * F]
            for k in range(16):
                gemm(blas[0], blas[1], True, False, C, F, T, Vf, k * T * C, C, Yf,
                     k * T * F, F, 1.0, psf, k * C * F, F)
            trace[0] += t_b - t_a
            trace[1] += now(clock) - t_b
            g0 = g1


@njit(cache=True, nogil=True)
def grad_w_transform(acc, gw):
    """Transform the summed parts acc (16, C, F) into gw (3, 3, C, F): G^T acc G."""
    C, F = acc.shape[1], acc.shape[2]
    t = np.empty((12, F), acc.dtype)
    for c in range(C):
        for a in range(4):                  # t = acc G, row a
            for f in range(F):
                m0, m1 = acc[4 * a, c, f], acc[4 * a + 1, c, f]
                m2, m3 = acc[4 * a + 2, c, f], acc[4 * a + 3, c, f]
                t[3 * a, f] = m0 + 0.5 * (m1 + m2)
                t[3 * a + 1, f] = 0.5 * (m1 - m2)
                t[3 * a + 2, f] = 0.5 * (m1 + m2) + m3
        for j in range(3):                  # gw = G^T t, column j
            for f in range(F):
                t0, t1, t2, t3 = t[j, f], t[3 + j, f], t[6 + j, f], t[9 + j, f]
                gw[0, j, c, f] = t0 + 0.5 * (t1 + t2)
                gw[1, j, c, f] = 0.5 * (t1 - t2)
                gw[2, j, c, f] = 0.5 * (t1 + t2) + t3
# fmt: on
