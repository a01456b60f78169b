"""Depth taps as channels: the copies that turn a 3-D convolution into a 2-D one.

A 3-D convolution over (D, H, W) is a 2-D convolution over (H, W) of a
*stack*: plane ``n*OD + od`` of the stack holds, for each depth tap kd, the
input depth ``j = od*sd + kd*dd - front`` it reads (zeros where j falls in
the depth padding), as channels ordered (group, kd, channel in group):
x (N, D, P, G, Cg) -> stack (N*OD, P, G, KD, Cg), P = H*W, each copy a
group's channels of one pixel. The unstack kernel is the adjoint: each
input depth sums the stack's planes that read it, taps in ascending kd
order, so the result does not depend on how the items are split among
threads. A blocked transpose moves channels-first arrays to channels-last
and back.

Arrays are flat and C-contiguous; offsets are unsigned (numba's signed
index arithmetic adds wraparound checks that stop LLVM's vectorisation).
"""

import numpy as np
from numba import njit

__all__ = ["stack_nhwc", "unstack_nhwc", "transpose", "BLOCK"]


@njit(cache=True, inline="always")
def _source(od, kd, sd, dd, front, D):
    """Input depth that output depth `od` reads through tap `kd`; -1 in the padding."""
    j = od * sd + kd * dd - front
    return j if 0 <= j < D else -1


@njit(cache=True, inline="always")
def _output(j, kd, sd, dd, front, OD):
    """Output depth that reads input depth `j` through tap `kd`; -1 if none."""
    t = j + front - kd * dd
    if t < 0 or t % sd:
        return -1
    od = t // sd
    return od if od < OD else -1


@njit(cache=True, nogil=True)
def stack_nhwc(ctx, lo, hi):
    """Stack planes ``[lo, hi)``: x (N, D, P, G, Cg) -> out (N*OD, P, G, KD, Cg)."""
    x, dims, depth, out = ctx
    G, Cg, D, P, OD, KD = dims
    sd, dd, front = depth
    uC = np.uint64(Cg)
    for item in range(lo, hi):
        n, od = item // OD, item % OD
        for p in range(P):
            for g in range(G):
                for kd in range(KD):
                    j = _source(od, kd, sd, dd, front, D)
                    dst = np.uint64((((item * P + p) * G + g) * KD + kd) * Cg)
                    if j < 0:
                        for c in range(uC):
                            out[dst + c] = 0
                        continue
                    src = np.uint64((((n * D + j) * P + p) * G + g) * Cg)
                    for c in range(uC):
                        out[dst + c] = x[src + c]


@njit(cache=True, nogil=True)
def unstack_nhwc(ctx, lo, hi):
    """Input depths ``[lo, hi)``: gx (N, D, P, G, Cg) from gs (N*OD, P, G, KD, Cg)."""
    gs, dims, depth, gx = ctx
    G, Cg, D, P, OD, KD = dims
    sd, dd, front = depth
    uC = np.uint64(Cg)
    for item in range(lo, hi):
        n, j = item // D, item % D
        for p in range(P):
            for g in range(G):
                dst = np.uint64((((n * D + j) * P + p) * G + g) * Cg)
                for c in range(uC):
                    gx[dst + c] = 0
                for kd in range(KD):
                    od = _output(j, kd, sd, dd, front, OD)
                    if od < 0:
                        continue
                    src = np.uint64(((((n * OD + od) * P + p) * G + g) * KD + kd) * Cg)
                    for c in range(uC):
                        gx[dst + c] += gs[src + c]


#: Side of the square blocks a transpose copies: 32 x 32 float64 are 8 KB,
#: their source and destination lines stay in L1 while a block is copied.
BLOCK = 32


@njit(cache=True, nogil=True)
def transpose(ctx, lo, hi):
    """Blocks ``[lo, hi)`` of ``out[b, k, m] = a[b, m, k]``: a (B, M, K) -> out (B, K, M).

    Block ``b*ceil(M/BLOCK) + t`` covers rows ``[t*BLOCK, (t+1)*BLOCK)`` of m
    (every k): each of its output runs is contiguous, its reads stay within
    BLOCK lines of a.
    """
    a, dims, out = ctx
    B, M, K = dims
    tiles = (M + BLOCK - 1) // BLOCK
    for item in range(lo, hi):
        b, t = item // tiles, item % tiles
        m0 = t * BLOCK
        n_m = np.uint64(min(BLOCK, M - m0))
        uK = np.uint64(K)
        for k0 in range(0, K, BLOCK):
            for k in range(k0, min(k0 + BLOCK, K)):
                dst = np.uint64((b * K + k) * M + m0)
                src = np.uint64((b * M + m0) * K + k)
                for m in range(n_m):
                    out[dst + m] = a[src + m * uK]
