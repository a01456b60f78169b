"""Depth taps as channels: the copies that turn a 3-D convolution into a 2-D one.

A 3-D convolution over (D, H, W) is a 2-D convolution over (H, W) of a
*stack*: plane ``n*OD + od`` of the stack holds, for each depth tap kd, the
input depth ``j = od*sd + kd*dd - front`` it reads (zeros where j falls in
the depth padding), as channels ordered (group, kd, channel in group):

- NCHW: x (N, G, Cg, D, P) -> stack (N*OD, G, KD, Cg, P), P = H*W;
- NHWC: x (N, D, P, G, Cg) -> stack (N*OD, P, G, KD, Cg).

Both orders copy whole contiguous runs (a plane, or a group's channels of
one pixel). The unstack kernels are the adjoint: each input depth sums
the stack's planes that read it, taps in ascending kd order, so the result
does not depend on how the items are split among threads.

Arrays are flat and C-contiguous; offsets are unsigned (numba's signed
index arithmetic adds wraparound checks that stop LLVM's vectorisation).
"""

import numpy as np
from numba import njit

__all__ = ["stack_nchw", "stack_nhwc", "unstack_nchw", "unstack_nhwc"]


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
def stack_nchw(x, dims, depth, out, lo, hi):
    """Stack planes ``[lo, hi)``: x (N, G, Cg, D, P) -> out (N*OD, G, KD, Cg, P).

    `dims` is (G, Cg, D, P, OD, KD), `depth` (stride, dilation, front padding).
    """
    G, Cg, D, P, OD, KD = dims
    sd, dd, front = depth
    uP = np.uint64(P)
    for item in range(lo, hi):
        n, od = item // OD, item % OD
        for g in range(G):
            for kd in range(KD):
                j = _source(od, kd, sd, dd, front, D)
                for c in range(Cg):
                    dst = np.uint64((((item * G + g) * KD + kd) * Cg + c) * P)
                    if j < 0:
                        for p in range(uP):
                            out[dst + p] = 0
                        continue
                    src = np.uint64((((n * G + g) * Cg + c) * D + j) * P)
                    for p in range(uP):
                        out[dst + p] = x[src + p]


@njit(cache=True, nogil=True)
def stack_nhwc(x, dims, depth, out, lo, hi):
    """Stack planes ``[lo, hi)``: x (N, D, P, G, Cg) -> out (N*OD, P, G, KD, Cg)."""
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
def unstack_nchw(gs, dims, depth, gx, lo, hi):
    """Input depths ``[lo, hi)``: gx (N, G, Cg, D, P) from gs (N*OD, G, KD, Cg, P)."""
    G, Cg, D, P, OD, KD = dims
    sd, dd, front = depth
    uP = np.uint64(P)
    for item in range(lo, hi):
        n, j = item // D, item % D
        for g in range(G):
            for c in range(Cg):
                dst = np.uint64((((n * G + g) * Cg + c) * D + j) * P)
                for p in range(uP):
                    gx[dst + p] = 0
                for kd in range(KD):
                    od = _output(j, kd, sd, dd, front, OD)
                    if od < 0:
                        continue
                    src = np.uint64(((((n * OD + od) * G + g) * KD + kd) * Cg + c) * P)
                    for p in range(uP):
                        gx[dst + p] += gs[src + p]


@njit(cache=True, nogil=True)
def unstack_nhwc(gs, dims, depth, gx, lo, hi):
    """Input depths ``[lo, hi)``: gx (N, D, P, G, Cg) from gs (N*OD, P, G, KD, Cg)."""
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
