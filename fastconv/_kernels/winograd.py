"""Winograd F(2x2, 3x3) and F(4x4, 3x3) convolution: 3x3, stride 1, groups 1.

The output is cut into m x m tiles (m = 2 or 4, a = m + 2); tile (th, tw)
reads the a x a input patch d at rows ``m*th - top + (0..a-1)`` and
columns ``m*tw - left + (0..a-1)`` (zero outside x; with dilation, every
d-th input of a phase, see :func:`forward`). Per channel, per filter
(Lavin & Gray's algorithm)::

    Y (m x m) = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise, a x a)

F(2x2, 3x3): B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]],
G = [[1,0,0],[1/2,1/2,1/2],[1/2,-1/2,1/2],[0,0,1]], A^T = [[1,1,1,0],[0,1,-1,-1]]
(2.25x fewer multiply-adds than the direct sum). F(4x4, 3x3), points 0,
+-1, +-2: the matrices in :func:`_bt4`, :func:`_at4` and ``_G4`` (4x fewer;
its transforms multiply by up to 8, so float32 rounds about 10x more).
Summing over channels turns the elementwise products into a*a GEMMs, one
per position k of the transform: ``M[k] (T, F) = V[k] (T, C) @ U[k]
(C, F)`` over a band of T tiles. The weight transform U (a*a, C, F) is
computed once per call (:func:`weight_transform`, in float64, rounded once).

An item is a band of tile rows (which may run on into the next sample, so
that small images still give tall GEMMs): its input transform V (a*a, T,
C), the GEMMs into M (a*a, T, F) and the output transform stay in the
thread's scratch. The transforms run along the channels (filters),
contiguous in NHWC (NCHW is gathered into and scattered from the same
channels-innermost scratch; NHWC patches inside x are read in place), each
loop reading and writing a few 2-D views so that LLVM vectorises it. The
same kernel runs grad_x of a stride-1 layer: the convolution of grad_out
with the flipped, transposed weight over a window padded by ``2 - padding``.
"""

import numpy as np
from numba import njit

from .clock import now
from .gemm import gemm

__all__ = ["PHASES", "tiles", "weight_transform", "forward", "grad_w", "grad_w_transform"]

PHASES = ("transform in", "gemm", "transform out")


# G of F(m x m, 3x3): U = G g G^T per (channel, filter), rows the transform's
# positions; kept in float64, the transform rounded once to the weight's dtype
_G2 = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_G4 = np.array(
    [
        [1 / 4, 0.0, 0.0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0.0, 0.0, 1.0],
    ]
)


@njit(cache=True, nogil=True)
def weight_transform(ctx, c0, c1):
    """U[a*r + s, c, f] = (G g G^T)[r, s] of w (3, 3, C, F) per (c, f), c in [c0, c1).

    U (a*a, C, F), a = 4 for F(2x2, 3x3) and 6 for F(4x4, 3x3). With
    `flip` the taps are read reversed, ``g[i, j] = w[2 - i, 2 - j]``
    (grad_x's weight, used transposed by the GEMMs).
    """
    w, flip, U = ctx
    a = 4 if U.shape[0] == 16 else 6
    G = _G2 if a == 4 else _G4
    F = w.shape[3]
    g = np.empty((9, F))
    t = np.empty((3 * a, F))
    for c in range(c0, c1):
        for i in range(3):
            for j in range(3):
                src = w[2 - i, 2 - j, c] if flip else w[i, j, c]
                for f in range(F):
                    g[3 * i + j, f] = src[f]
        for r in range(a):  # t = G g
            e0, e1, e2 = G[r, 0], G[r, 1], G[r, 2]
            for j in range(3):
                for f in range(F):
                    t[3 * r + j, f] = e0 * g[j, f] + e1 * g[3 + j, f] + e2 * g[6 + j, f]
        for r in range(a):  # U = t G^T
            for s in range(a):
                e0, e1, e2 = G[s, 0], G[s, 1], G[s, 2]
                k = a * r + s
                for f in range(F):
                    U[k, c, f] = (
                        e0 * t[3 * r, f] + e1 * t[3 * r + 1, f] + e2 * t[3 * r + 2, f]
                    )


@njit(cache=True)
def tiles(n_out, d, m):
    """Tiles of m outputs along an axis of `n_out`, dilation d: d phases of ceil(./m)."""
    return d * ((-(-n_out // d) + m - 1) // m)


@njit(cache=True, inline="always")
def _origin(t, per_phase, d, m):
    """Return the first output of tile t on an axis (phase t // per_phase, step m*d)."""
    return t // per_phase + m * d * (t % per_phase)


# fmt: off
@njit(cache=True, inline="always")
def _patch(x2, n, ih0, iw0, dh, dw, H, W, C, d2, a):
    """Where the a x a patch at (ih0, iw0) of NHWC x lies: (rows, r0, si, sj).

    Patch element (i, j) is row ``r0 + i*si + j*sj`` of rows: inside x, the
    patch is read in place, from x2 (N*H*W, C); otherwise it is gathered
    into d2 (a*a, C), zero outside x. grad_weight reads its grad_out tiles
    the same way.
    """
    if ih0 >= 0 and ih0 + (a - 1) * dh < H and iw0 >= 0 and iw0 + (a - 1) * dw < W:
        return x2, (n * H + ih0) * W + iw0, dh * W, dw
    for i in range(a):
        ih = ih0 + i * dh
        for j in range(a):
            iw = iw0 + j * dw
            if 0 <= ih < H and 0 <= iw < W:
                r = (n * H + ih) * W + iw
                for c in range(C):
                    d2[a * i + j, c] = x2[r, c]
            else:
                for c in range(C):
                    d2[a * i + j, c] = 0
    return d2, 0, a, 1


@njit(cache=True)
def row_width(win, m):
    """Columns of a tile row's input rows, counted from the left padding's start."""
    PW = tiles(win.OW, win.dw, m) // win.dw
    return (win.dw - 1) + m * win.dw * (PW - 1) + (m + 1) * win.dw + 1


@njit(cache=True, inline="always")
def _rows_in(x, n, ih0, dh, H, W, C, left, R2, a, Wp):
    """R2[i*Wp + w, :] = x[n, :, ih0 + i*dh, w - left], zero outside x (NCHW x).

    The a input rows of a tile row, channels innermost: patch (i, j) of the
    tile at output column ow0 is then row ``i*Wp + ow0 + j*dw`` of R2.
    """
    lo, hi = min(left, Wp), min(W + left, Wp)
    for i in range(a):
        ih = ih0 + i * dh
        base = i * Wp
        if 0 <= ih < H:
            for w in range(lo):
                R2[base + w, :] = 0
            for w in range(lo, hi):
                for c in range(C):
                    R2[base + w, c] = x[n, c, ih, w - left]
            for w in range(hi, Wp):
                R2[base + w, :] = 0
        else:
            for w in range(Wp):
                R2[base + w, :] = 0


@njit(cache=True, inline="always")
def _bt2(d2, r0, si, sj, u2, V2, T, tile, C):
    """V[k, tile, :] = (B^T d B)[k] of a 4x4 patch; u2 (16, C) scratch.

    Patch element (i, j) is row ``r0 + i*si + j*sj`` of d2 (a gathered patch,
    or x itself as (N*H*W, C)); B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],
    [0,1,0,-1]]; V2 is V (16, T, C) as (16*T, C).
    """
    for j in range(4):              # u = B^T d, column j
        r = r0 + j * sj
        for c in range(C):
            a0, a1 = d2[r, c], d2[r + si, c]
            a2, a3 = d2[r + 2 * si, c], d2[r + 3 * si, c]
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


@njit(cache=True, inline="always")
def _bt4(d2, r0, si, sj, u2, V2, T, tile, C):
    """V[k, tile, :] = (B^T d B)[k] of a 6x6 patch; u2 (36, C) scratch.

    Patch element (i, j) is row ``r0 + i*si + j*sj`` of d2, as in :func:`_bt2`;

    B^T = [[4,0,-5,0,1,0],[0,-4,-4,1,1,0],[0,4,-4,-1,1,0],[0,-2,-1,2,1,0],
    [0,2,-1,-2,1,0],[0,4,0,-5,0,1]]; V2 is V (36, T, C) as (36*T, C).
    Each loop writes two rows (a loop with six stores is not vectorised).
    """
    two, four, five = d2.dtype.type(2), d2.dtype.type(4), d2.dtype.type(5)
    for j in range(6):              # u = B^T d, column j
        r = r0 + j * sj
        for c in range(C):
            a0, a1, a2 = d2[r, c], d2[r + si, c], d2[r + 2 * si, c]
            a3, a4, a5 = d2[r + 3 * si, c], d2[r + 4 * si, c], d2[r + 5 * si, c]
            u2[j, c] = four * a0 - five * a2 + a4
            u2[30 + j, c] = four * a1 - five * a3 + a5
        for c in range(C):
            a1, a2 = d2[r + si, c], d2[r + 2 * si, c]
            a3, a4 = d2[r + 3 * si, c], d2[r + 4 * si, c]
            u2[6 + j, c] = (a3 + a4) - four * (a1 + a2)
            u2[12 + j, c] = (a4 - a3) + four * (a1 - a2)
        for c in range(C):
            a1, a2 = d2[r + si, c], d2[r + 2 * si, c]
            a3, a4 = d2[r + 3 * si, c], d2[r + 4 * si, c]
            u2[18 + j, c] = (a4 - a2) + two * (a3 - a1)
            u2[24 + j, c] = (a4 - a2) - two * (a3 - a1)
    for i in range(6):              # V = u B, row i
        k = 6 * i * T + tile
        for c in range(C):
            a0, a1, a2 = u2[6 * i, c], u2[6 * i + 1, c], u2[6 * i + 2, c]
            a3, a4, a5 = u2[6 * i + 3, c], u2[6 * i + 4, c], u2[6 * i + 5, c]
            V2[k, c] = four * a0 - five * a2 + a4
            V2[k + 5 * T, c] = four * a1 - five * a3 + a5
        for c in range(C):
            a1, a2 = u2[6 * i + 1, c], u2[6 * i + 2, c]
            a3, a4 = u2[6 * i + 3, c], u2[6 * i + 4, c]
            V2[k + T, c] = (a3 + a4) - four * (a1 + a2)
            V2[k + 2 * T, c] = (a4 - a3) + four * (a1 - a2)
        for c in range(C):
            a1, a2 = u2[6 * i + 1, c], u2[6 * i + 2, c]
            a3, a4 = u2[6 * i + 3, c], u2[6 * i + 4, c]
            V2[k + 3 * T, c] = (a4 - a2) + two * (a3 - a1)
            V2[k + 4 * T, c] = (a4 - a2) - two * (a3 - a1)


@njit(cache=True, inline="always")
def _tile_in(x2, R2, d2, u2, V2, nchw, n, ih0, ow0, left, dh, dw, H, W, C, Wp, a, T,
             tile):
    """V[:, tile] = B^T d B of the tile at input row ih0 and output column ow0.

    NCHW patches are read from the tile row's channels-innermost rows R2
    (:func:`_rows_in`), NHWC ones where they lie in x2 or gathered into d2
    (:func:`_patch`); a = 4 or 6.
    """
    if nchw:
        src, r0, si, sj = R2, ow0, Wp, dw
    else:
        src, r0, si, sj = _patch(x2, n, ih0, ow0 - left, dh, dw, H, W, C, d2, a)
    if a == 4:
        _bt2(src, r0, si, sj, u2, V2, T, tile, C)
    else:
        _bt4(src, r0, si, sj, u2, V2, T, tile, C)


@njit(cache=True, inline="always")
def _at2(M2, T, tile, s2, y2, F):
    """y2 (4, F) = (A^T m A) of the tile's 4x4 GEMM results in M2 (16*T, F).

    A^T = [[1,1,1,0],[0,1,-1,-1]]; s2 (8, F) scratch.
    """
    for j in range(4):              # s = A^T m, column j
        k = j * T + tile
        for f in range(F):
            m0, m1 = M2[k, f], M2[k + 4 * T, f]
            m2, m3 = M2[k + 8 * T, f], M2[k + 12 * T, f]
            s2[j, f] = m0 + m1 + m2
            s2[4 + j, f] = m1 - m2 - m3
    for i in range(2):              # y = s A, row i
        for f in range(F):
            a0, a1 = s2[4 * i, f], s2[4 * i + 1, f]
            a2, a3 = s2[4 * i + 2, f], s2[4 * i + 3, f]
            y2[2 * i, f] = a0 + a1 + a2
            y2[2 * i + 1, f] = a1 - a2 - a3


@njit(cache=True, inline="always")
def _at4(M2, T, tile, s2, y2, F):
    """y2 (16, F) = (A^T m A) of the tile's 6x6 GEMM results in M2 (36*T, F).

    A^T = [[1,1,1,1,1,0],[0,1,-1,2,-2,0],[0,1,1,4,4,0],[0,1,-1,8,-8,1]];
    s2 (24, F) scratch.
    """
    two, four, eight = M2.dtype.type(2), M2.dtype.type(4), M2.dtype.type(8)
    for j in range(6):              # s = A^T m, column j
        k = j * T + tile
        for f in range(F):
            m0, m1, m2 = M2[k, f], M2[k + 6 * T, f], M2[k + 12 * T, f]
            m3, m4 = M2[k + 18 * T, f], M2[k + 24 * T, f]
            s2[j, f] = m0 + (m1 + m2) + (m3 + m4)
            s2[12 + j, f] = (m1 + m2) + four * (m3 + m4)
        for f in range(F):
            m1, m2 = M2[k + 6 * T, f], M2[k + 12 * T, f]
            m3, m4, m5 = M2[k + 18 * T, f], M2[k + 24 * T, f], M2[k + 30 * T, f]
            s2[6 + j, f] = (m1 - m2) + two * (m3 - m4)
            s2[18 + j, f] = (m1 - m2) + eight * (m3 - m4) + m5
    for i in range(4):              # y = s A, row i
        for f in range(F):
            a0, a1, a2 = s2[6 * i, f], s2[6 * i + 1, f], s2[6 * i + 2, f]
            a3, a4 = s2[6 * i + 3, f], s2[6 * i + 4, f]
            y2[4 * i, f] = a0 + (a1 + a2) + (a3 + a4)
            y2[4 * i + 2, f] = (a1 + a2) + four * (a3 + a4)
        for f in range(F):
            a1, a2 = s2[6 * i + 1, f], s2[6 * i + 2, f]
            a3, a4, a5 = s2[6 * i + 3, f], s2[6 * i + 4, f], s2[6 * i + 5, f]
            y2[4 * i + 1, f] = (a1 - a2) + two * (a3 - a4)
            y2[4 * i + 3, f] = (a1 - a2) + eight * (a3 - a4) + a5


@njit(cache=True, nogil=True)
def forward(ctx, item0, item1):
    """Run items ``[item0, item1)``: item t is the tile rows ``[t*rows, (t+1)*rows)``.

    F(m x m, 3x3) with m = 2 if U has 16 positions, 4 if 36 (a = m + 2 per
    axis). Tile rows run over the batch: tile row r is row ``r % TH`` of
    sample ``r // TH``, TH = tiles(OH, dh, m). With dilation d, an axis is d
    phases (outputs o = phase + d*q), each cut into tiles of m outputs d
    apart, whose patches take every d-th input. x (N, H, W, C) -> out (N,
    OH, OW, F), or with `nchw` x (N, C, H, W) -> out (N, F, OH, OW),
    gathered into and scattered from the same channels-innermost scratch; U
    (a*a, C, F) from weight_transform, or (a*a, F, C) used transposed if
    `trans_u`; bias (F,) (zeros for none). NCHW tile rows go through
    channels-innermost rows in P (:func:`_rows_in`, and the output rows
    back). Scratch: V (a*a*T*C,), M
    (a*a*T*F,) and P ((2*a*a + (2*m + 2)*Wp) * max(C, F),), T = rows *
    ceil(OW/m), Wp = row_width(win, m).
    """
    x, nchw, U, trans_u, bias, out, win, rows, V, M, P, blas, clock, trace = ctx
    A2 = U.shape[0]
    m = 2 if A2 == 16 else 4
    a = m + 2
    N, H, W = x.shape[0], win.H, win.W
    C = x.shape[1] if nchw else x.shape[3]
    F = bias.shape[0]
    OH, OW = win.OH, win.OW
    dh, dw = win.dh, win.dw
    TH, TW = tiles(OH, dh, m), tiles(OW, dw, m)
    PH, PW = TH // dh, TW // dw
    x2 = x.reshape(N * H * W, C)
    o2 = out.reshape(N * OH * OW, F)
    Uf = U.reshape(U.size)
    Wp = row_width(win, m)
    rows_at = 2 * A2 * max(C, F)                    # P's input / output rows
    for item in range(item0, item1):
        t_a = now(clock)
        g0 = item * rows
        g1 = min(g0 + rows, N * TH)
        T = (g1 - g0) * TW
        V2 = V[: A2 * T * C].reshape(A2 * T, C)
        M2 = M[: A2 * T * F].reshape(A2 * T, F)
        d2 = P[: A2 * C].reshape(A2, C)             # the patch, zero-padded
        u2 = P[A2 * C: 2 * A2 * C].reshape(A2, C)   # B^T d
        R2 = P[rows_at: rows_at + a * Wp * C].reshape(a * Wp, C)
        for gr in range(g0, g1):
            n = gr // TH
            th = gr - n * TH
            ih0 = _origin(th, PH, dh, m) - win.top
            if nchw:
                _rows_in(x, n, ih0, dh, H, W, C, win.left, R2, a, Wp)
            for tw in range(TW):
                ow0 = _origin(tw, PW, dw, m)
                tile = (gr - g0) * TW + tw
                _tile_in(x2, R2, d2, u2, V2, nchw, n, ih0, ow0, win.left, dh, dw, H, W, C,
                         Wp, a, T, tile)
        t_b = now(clock)
        Vf = V[: A2 * T * C]
        Mf = M[: A2 * T * F]
        ldu = C if trans_u else F
        for k in range(A2):
            gemm(blas[0], blas[1], False, trans_u, T, F, C, Vf, k * T * C, C, Uf,
                 k * C * F, ldu, 0.0, Mf, k * T * F, F)
        t_c = now(clock)
        y2 = P[: m * m * F].reshape(m * m, F)               # the tile's outputs
        s2 = P[m * m * F: (m * m + m * a) * F].reshape(m * a, F)    # A^T m
        O2 = P[rows_at: rows_at + m * OW * F].reshape(m * OW, F)
        for gr in range(g0, g1):
            n = gr // TH
            th = gr - n * TH
            oh0 = _origin(th, PH, dh, m)
            for tw in range(TW):
                ow0 = _origin(tw, PW, dw, m)
                if ow0 >= OW:                   # a tile past the end of a phase
                    continue
                tile = (gr - g0) * TW + tw
                if m == 2:
                    _at2(M2, T, tile, s2, y2, F)
                else:
                    _at4(M2, T, tile, s2, y2, F)
                for i in range(m):              # plus the bias, inside the output
                    oh = oh0 + i * dh
                    if oh >= OH:
                        break
                    for j in range(m):
                        ow = ow0 + j * dw
                        if ow >= OW:
                            break
                        # NCHW: into the tile row's output rows, channels innermost
                        p = i * OW + ow if nchw else (n * OH + oh) * OW + ow
                        dst = O2 if nchw else o2
                        for f in range(F):
                            dst[p, f] = bias[f] + y2[m * i + j, f]
            if nchw:                            # the rows, transposed into out
                for i in range(m):
                    oh = oh0 + i * dh
                    if oh < OH:
                        for f in range(F):
                            for ow in range(OW):
                                out[n, f, oh, ow] = O2[i * OW + ow, f]
        t_d = now(clock)
        trace[0] += t_b - t_a
        trace[1] += t_c - t_b
        trace[2] += t_d - t_c
# fmt: on


# fmt: off
@njit(cache=True, inline="always")
def _a2(e2, r0, si, sj, h2, Y2, T, tile, F):
    """Y[k, tile, :] = (A e A^T)[k] of a 2x2 grad_out tile; h2 (8, F) scratch.

    Tile element (i, j) is row ``r0 + i*si + j*sj`` of e2, as in :func:`_bt2`.
    """
    for j in range(2):              # h = A e, column j
        r = r0 + j * sj
        for f in range(F):
            a0, a1 = e2[r, f], e2[r + si, f]
            h2[j, f] = a0
            h2[2 + j, f] = a0 + a1
            h2[4 + j, f] = a0 - a1
            h2[6 + j, f] = -a1
    for i in range(4):              # Y = h A^T, row i
        k = 4 * i * T + tile
        for f in range(F):
            a0, a1 = h2[2 * i, f], h2[2 * i + 1, f]
            Y2[k, f] = a0
            Y2[k + T, f] = a0 + a1
            Y2[k + 2 * T, f] = a0 - a1
            Y2[k + 3 * T, f] = -a1


@njit(cache=True, inline="always")
def _a4(e2, r0, si, sj, h2, Y2, T, tile, F):
    """Y[k, tile, :] = (A e A^T)[k] of a 4x4 grad_out tile; h2 (24, F) scratch.

    Tile element (i, j) is row ``r0 + i*si + j*sj`` of e2. A is the
    transpose of :func:`_at4`'s A^T: its rows are e0, e0+e1+e2+e3,
    e0-e1+e2-e3, e0+2e1+4e2+8e3, e0-2e1+4e2-8e3, e3.
    """
    two, four, eight = e2.dtype.type(2), e2.dtype.type(4), e2.dtype.type(8)
    for j in range(4):              # h = A e, column j
        r = r0 + j * sj
        for f in range(F):
            a0, a1 = e2[r, f], e2[r + si, f]
            a2, a3 = e2[r + 2 * si, f], e2[r + 3 * si, f]
            h2[j, f] = a0
            h2[4 + j, f] = (a0 + a2) + (a1 + a3)
            h2[8 + j, f] = (a0 + a2) - (a1 + a3)
            h2[20 + j, f] = a3
        for f in range(F):
            a0, a1 = e2[r, f], e2[r + si, f]
            a2, a3 = e2[r + 2 * si, f], e2[r + 3 * si, f]
            h2[12 + j, f] = (a0 + four * a2) + (two * a1 + eight * a3)
            h2[16 + j, f] = (a0 + four * a2) - (two * a1 + eight * a3)
    for i in range(6):              # Y = h A^T, row i
        k = 6 * i * T + tile
        for f in range(F):
            a0, a1 = h2[4 * i, f], h2[4 * i + 1, f]
            a2, a3 = h2[4 * i + 2, f], h2[4 * i + 3, f]
            Y2[k, f] = a0
            Y2[k + T, f] = (a0 + a2) + (a1 + a3)
            Y2[k + 2 * T, f] = (a0 + a2) - (a1 + a3)
            Y2[k + 5 * T, f] = a3
        for f in range(F):
            a0, a1 = h2[4 * i, f], h2[4 * i + 1, f]
            a2, a3 = h2[4 * i + 2, f], h2[4 * i + 3, f]
            Y2[k + 3 * T, f] = (a0 + four * a2) + (two * a1 + eight * a3)
            Y2[k + 4 * T, f] = (a0 + four * a2) - (two * a1 + eight * a3)


@njit(cache=True, nogil=True)
def grad_w(ctx, item0, item1):
    """Run slots ``[item0, item1)`` of the grad_weight pass, F(3x3, m x m).

    ``dW (3x3) = G^T [ (A gy A^T) * (B^T d B) ] G`` per (c, f), summed over
    the m x m tiles of grad_out and their a x a input patches d (the
    forward's tiles; m = 2 if parts has 16 positions, 4 if 36): per
    position k of the transform, ``parts[s, k] (C, F) += V[k].T (C, T) @
    Y[k] (T, F)``, bands of `rows` tile rows over slot s's samples
    ``[s*N//S, (s+1)*N//S)`` in order. :func:`grad_w_transform` turns the
    summed parts into dW. ``bias_parts[s]`` (F,) sums grad_out (float64).
    Scratch: V (a*a*T*C,), Y (a*a*T*F,), P as :func:`forward`'s.
    """
    x, nchw, gy, parts, bias_parts, win, rows, V, Y, P, blas, clock, trace = ctx
    A2 = parts.shape[1]
    m = 2 if A2 == 16 else 4
    a = m + 2
    N, H, W = x.shape[0], win.H, win.W
    C = x.shape[1] if nchw else x.shape[3]
    F = gy.shape[1] if nchw else gy.shape[3]
    OH, OW = win.OH, win.OW
    dh, dw = win.dh, win.dw
    TH, TW = tiles(OH, dh, m), tiles(OW, dw, m)
    PH, PW = TH // dh, TW // dw
    S = parts.shape[0]
    x2 = x.reshape(N * H * W, C)
    g2 = gy.reshape(N * OH * OW, F)
    Wp = row_width(win, m)
    rows_at = 2 * A2 * max(C, F)                    # P's input rows, then grad_out's
    gy_at = rows_at + a * Wp * max(C, F)
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
            V2 = V[: A2 * T * C].reshape(A2 * T, C)
            Y2 = Y[: A2 * T * F].reshape(A2 * T, F)
            d2 = P[: A2 * C].reshape(A2, C)
            u2 = P[A2 * C: 2 * A2 * C].reshape(A2, C)
            e2 = P[: m * m * F].reshape(m * m, F)           # the grad_out tile
            h2 = P[m * m * F: (m * m + a * m) * F].reshape(a * m, F)    # A e
            R2 = P[rows_at: rows_at + a * Wp * C].reshape(a * Wp, C)
            E2 = P[gy_at: gy_at + m * Wp * F].reshape(m * Wp, F)
            for gr in range(g0, g1):
                n = gr // TH
                th = gr - n * TH
                oh0 = _origin(th, PH, dh, m)
                ih0 = oh0 - win.top
                if nchw:                        # this tile row's rows, channels innermost
                    _rows_in(x, n, ih0, dh, H, W, C, win.left, R2, a, Wp)
                    _rows_in(gy, n, oh0, dh, OH, OW, F, 0, E2, m, Wp)
                for tw in range(TW):
                    tile = (gr - g0) * TW + tw
                    ow0 = _origin(tw, PW, dw, m)
                    _tile_in(x2, R2, d2, u2, V2, nchw, n, ih0, ow0, win.left, dh, dw, H,
                             W, C, Wp, a, T, tile)
                    # the tile of grad_out, zero outside: read in place (NCHW:
                    # from its channels-innermost rows), or gathered into e2
                    if nchw:
                        src, r0, si, sj = E2, ow0, Wp, dw
                    else:
                        src, r0, si, sj = _patch(g2, n, oh0, ow0, dh, dw, OH, OW, F, e2,
                                                 m)
                    if m == 2:
                        _a2(src, r0, si, sj, h2, Y2, T, tile, F)
                    else:
                        _a4(src, r0, si, sj, h2, Y2, T, tile, F)
            t_b = now(clock)
            Vf = V[: A2 * T * C]
            Yf = Y[: A2 * T * F]
            for k in range(A2):
                gemm(blas[0], blas[1], True, False, C, F, T, Vf, k * T * C, C, Yf,
                     k * T * F, F, 1.0, psf, k * C * F, F)
            trace[0] += t_b - t_a
            trace[1] += now(clock) - t_b
            g0 = g1
# fmt: on


@njit(cache=True, nogil=True)
def grad_w_transform(ctx, c0, c1):
    """Turn the summed parts acc (a*a, C, F) into gw (3, 3, C, F): G^T acc G.

    Channels c in [c0, c1); computed in float64, rounded once.
    """
    acc, gw = ctx
    a = 4 if acc.shape[0] == 16 else 6
    G = _G2 if a == 4 else _G4
    F = acc.shape[2]
    t = np.empty((3 * a, F))
    row = np.empty(F)
    for c in range(c0, c1):
        for r in range(a):  # t = acc G, row r
            for j in range(3):
                t[3 * r + j, :] = 0
                for s in range(a):
                    e = G[s, j]
                    if e != 0:
                        for f in range(F):
                            t[3 * r + j, f] += e * acc[a * r + s, c, f]
        for i in range(3):  # gw = G^T t
            for j in range(3):
                row[:] = 0
                for r in range(a):
                    e = G[r, i]
                    if e != 0:
                        for f in range(F):
                            row[f] += e * t[3 * r + j, f]
                for f in range(F):
                    gw[i, j, c, f] = row[f]
