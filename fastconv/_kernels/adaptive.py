"""Jitted adaptive pooling kernels: windows of uneven size, both layouts.

Output o along an axis of size L pools rows ``[starts[o], ends[o])`` (PyTorch's
rule, computed by :func:`fastconv._engine.geometry.adaptive_bounds`); windows
may differ in size and overlap by a row. Clean input assumed, as for the
other pooling kernels (:mod:`fastconv._kernels.pool`, whose scan rule and
helpers these share: first maximum, NaN propagates). Flat arrays at
unsigned offsets, no views per row (see ``pool._vertical_max``).
"""

import numpy as np
from numba import njit

from .pool import _column_max, _take, _window_argmax

__all__ = [
    "global_avg_nchw",
    "global_avg_nhwc",
    "global_avg_backward_nchw",
    "global_avg_backward_nhwc",
    "adaptive_avg_nchw",
    "adaptive_avg_nhwc",
    "adaptive_avg_backward_nchw",
    "adaptive_avg_backward_nhwc",
    "adaptive_max_nchw",
    "adaptive_max_nhwc",
]


# --------------------------------------------------------------------------
# global average pooling (a 1 x 1 output): one mean per plane

#: Bytes a vector load or store spans (AVX2; LLVM's choice on AVX-512 too).
_VECTOR = 32


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def global_avg_nchw(ctx, p0, p1):
    """X flat (P*L,) -> of (P,), planes [p0, p1): each plane's mean.

    The sum may reassociate (and only that: the division, NaN and inf stay
    IEEE): LLVM then keeps vector partial sums along the contiguous plane,
    in an order fixed by the compiled code, so the result depends on the
    data alone (not on the planes' split between threads).
    """
    xf, L, of = ctx
    uL = np.uint64(L)
    for p in range(np.uint64(p0), np.uint64(p1)):
        b = p * uL
        s = xf.dtype.type(0)
        for k in range(uL):
            s += xf[b + k]
        of[p] = s / L


@njit(cache=True, nogil=True)
def global_avg_backward_nchw(ctx, p0, p1):
    """grad_x flat (P*L,), planes [p0, p1): each its grad_out / L.

    Each plane's values before its first vector boundary are stored by a
    loop of their own, the rest as whole aligned vectors (see :func:`_lead`;
    measured 5-15% faster from L3, for 7 x 7 planes).
    """
    gyf, L, gxf = ctx
    uL = np.uint64(L)
    size, vec = np.uint64(gxf.itemsize), np.uint64(_VECTOR)
    base = gxf.ctypes.data
    for p in range(np.uint64(p0), np.uint64(p1)):
        share = gyf[p] / L
        b = p * uL
        head = min(uL, ((vec - (base + b * size) % vec) % vec) // size)
        for k in range(head):
            gxf[b + k] = share
        for k in range(head, uL):
            gxf[b + k] = share


@njit(cache=True, inline="always")
def _lead(a, C):
    """Channels before the first vector boundary of every pixel of `a` (else 0).

    Pixels are runs of C values; when a run spans whole vectors, all of
    them share the first pixel's offset from a boundary, and a loop over
    channels [lead, C) loads or stores whole aligned vectors (a misaligned
    one spans two cache lines: stores measured 15-25% slower from L3,
    loads up to 35% from L2).
    """
    size, vec = np.uint64(a.itemsize), np.uint64(_VECTOR)
    if (np.uint64(C) * size) % vec:
        return np.uint64(0)
    return ((vec - a.ctypes.data % vec) % vec) // size


@njit(cache=True, inline="always")
def _pixels_sum(xf, u, uC, k, t, init, lo, hi):
    """t[lo:hi] = (or += when not `init`) the sum of the k (1..4) pixels from u.

    The pixels are consecutive channel runs of length uC in xf; each
    channel's k values are added in a tree before they reach t.
    """
    a1 = u + uC
    a2 = a1 + uC
    a3 = a2 + uC
    if k == 4:
        for c in range(lo, hi):
            v = (xf[u + c] + xf[a1 + c]) + (xf[a2 + c] + xf[a3 + c])
            t[c] = v if init else t[c] + v
    elif k == 3:
        for c in range(lo, hi):
            v = (xf[u + c] + xf[a1 + c]) + xf[a2 + c]
            t[c] = v if init else t[c] + v
    elif k == 2:
        for c in range(lo, hi):
            v = xf[u + c] + xf[a1 + c]
            t[c] = v if init else t[c] + v
    else:
        for c in range(lo, hi):
            v = xf[u + c]
            t[c] = v if init else t[c] + v


@njit(cache=True, nogil=True)
def global_avg_nhwc(ctx, n0, n1):
    """X flat (N*H*W*C,) -> of (N*C,), samples [n0, n1): each channel's mean.

    Vectorised along the channels: each image row's W pixels summed four
    at a time into a row sum, the row sums added in row order (two levels,
    as accurate as the separable kernel). The channels before the first
    vector boundary (:func:`_lead`) run as a loop of their own.
    """
    xf, H, W, C, of = ctx
    uC, uW, uH = np.uint64(C), np.uint64(W), np.uint64(H)
    u0 = _lead(xf, C)
    four = np.uint64(4)
    t = np.empty(C, dtype=xf.dtype)
    acc = np.empty(C, dtype=xf.dtype)
    for n in range(np.uint64(n0), np.uint64(n1)):
        for h in range(uH):
            r = (n * uH + h) * uW * uC
            row = acc if h == 0 else t
            for w in range(np.uint64(0), uW, four):
                k = min(four, uW - w)
                u = r + w * uC
                _pixels_sum(xf, u, uC, k, row, w == 0, np.uint64(0), u0)
                _pixels_sum(xf, u, uC, k, row, w == 0, u0, uC)
            if h > 0:
                for c in range(uC):
                    acc[c] += t[c]
        o = n * uC
        for c in range(uC):
            of[o + c] = acc[c] / (H * W)


@njit(cache=True, nogil=True)
def global_avg_backward_nhwc(ctx, n0, n1):
    """grad_x flat (N*HW*C,), samples [n0, n1): each pixel its grad_out / HW.

    The channels before the first vector boundary (:func:`_lead`) are
    stored by a loop of their own.
    """
    gyf, HW, C, gxf = ctx
    uC = np.uint64(C)
    u0 = _lead(gxf, C)
    share = np.empty(C, dtype=gxf.dtype)
    for n in range(np.uint64(n0), np.uint64(n1)):
        g = n * uC
        for c in range(uC):
            share[c] = gyf[g + c] / HW
        b = n * np.uint64(HW) * uC
        for k in range(np.uint64(HW)):
            u = b + k * uC
            for c in range(u0):
                gxf[u + c] = share[c]
            for c in range(u0, uC):
                gxf[u + c] = share[c]


# --------------------------------------------------------------------------
# adaptive pooling, any output size


@njit(cache=True, nogil=True)
def _adaptive_avg_nchw(x, hs, he, ws, we, out):
    """X planes (P, H, W) -> out (P, OH, OW): each window's mean.

    Separable: a window row band summed along whole rows, in row order
    (vectorised), then each window's columns of that sum. (A 1 x 1 output
    goes to :func:`global_avg_nchw`.)
    """
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    xf, of = x.reshape(-1), out.reshape(-1)
    v = np.empty(W, dtype=x.dtype)
    uW = np.uint64(W)
    for p in range(P):
        for oh in range(OH):
            r = np.uint64((p * H + hs[oh]) * W)
            for w in range(uW):
                v[w] = xf[r + w]
            for h in range(hs[oh] + 1, he[oh]):
                r = np.uint64((p * H + h) * W)
                for w in range(uW):
                    v[w] += xf[r + w]
            o = (p * OH + oh) * OW
            for ow in range(OW):
                acc = v[ws[ow]]
                for w in range(ws[ow] + 1, we[ow]):
                    acc += v[w]
                of[o + ow] = acc / ((he[oh] - hs[oh]) * (we[ow] - ws[ow]))


@njit(cache=True, nogil=True)
def adaptive_avg_nchw(ctx, lo, hi):
    """Planes ``[lo, hi)`` of :func:`_adaptive_avg_nchw`."""
    x, hs, he, ws, we, out = ctx
    _adaptive_avg_nchw(x[lo:hi], hs, he, ws, we, out[lo:hi])


@njit(cache=True, nogil=True)
def adaptive_avg_nhwc(ctx, r0, r1):
    """X (N, H, W, C) -> out (N, OH, OW, C), output rows [r0, r1) of the N*OH.

    A window row band summed along whole rows of W*C values, then each
    window's columns a channel run at a time.
    """
    x, hs, he, ws, we, out = ctx
    N, H, W, C = x.shape
    OH, OW = out.shape[1], out.shape[2]
    xf, of = x.reshape(-1), out.reshape(-1)
    WC = np.uint64(W * C)
    uC = np.uint64(C)
    v = np.empty(W * C, dtype=x.dtype)
    for noh in range(r0, r1):
        n = noh // OH
        oh = noh - n * OH
        r = np.uint64((n * H + hs[oh]) * W * C)
        for e in range(WC):
            v[e] = xf[r + e]
        for h in range(hs[oh] + 1, he[oh]):
            r = np.uint64((n * H + h) * W * C)
            for e in range(WC):
                v[e] += xf[r + e]
        for ow in range(OW):
            o = np.uint64((noh * OW + ow) * C)
            t = np.uint64(ws[ow] * C)
            for c in range(uC):
                of[o + c] = v[t + c]
            for w in range(ws[ow] + 1, we[ow]):
                t = np.uint64(w * C)
                for c in range(uC):
                    of[o + c] += v[t + c]
            area = (he[oh] - hs[oh]) * (we[ow] - ws[ow])
            for c in range(uC):
                of[o + c] /= area


@njit(cache=True, nogil=True)
def _adaptive_avg_backward_nchw(grad_out, hs, he, ws, we, grad_x):
    """grad_x planes (P, H, W): each grad_out / area added over its window."""
    P, H, W = grad_x.shape
    OH, OW = grad_out.shape[1], grad_out.shape[2]
    gx, gy = grad_x.reshape(-1), grad_out.reshape(-1)
    for p in range(P):
        base = p * H * W
        for k in range(np.uint64(H * W)):
            gx[np.uint64(base) + k] = 0
        for oh in range(OH):
            for ow in range(OW):
                area = (he[oh] - hs[oh]) * (we[ow] - ws[ow])
                share = gy[(p * OH + oh) * OW + ow] / area
                for h in range(hs[oh], he[oh]):
                    r = np.uint64(base + h * W)
                    for w in range(np.uint64(ws[ow]), np.uint64(we[ow])):
                        gx[r + w] += share


@njit(cache=True, nogil=True)
def adaptive_avg_backward_nchw(ctx, lo, hi):
    """Planes ``[lo, hi)`` of :func:`_adaptive_avg_backward_nchw`."""
    grad_out, hs, he, ws, we, grad_x = ctx
    _adaptive_avg_backward_nchw(grad_out[lo:hi], hs, he, ws, we, grad_x[lo:hi])


@njit(cache=True, nogil=True)
def adaptive_avg_backward_nhwc(ctx, n0, n1):
    """grad_x (N, H, W, C) of samples [n0, n1): grad_out / area over each window."""
    grad_out, hs, he, ws, we, grad_x = ctx
    N, H, W, C = grad_x.shape
    OH, OW = grad_out.shape[1], grad_out.shape[2]
    gx, gy = grad_x.reshape(-1), grad_out.reshape(-1)
    uC = np.uint64(C)
    share = np.empty(C, dtype=grad_x.dtype)
    for n in range(n0, n1):
        base = np.uint64(n * H * W * C)
        for k in range(np.uint64(H * W * C)):
            gx[base + k] = 0
        for oh in range(OH):
            for ow in range(OW):
                area = (he[oh] - hs[oh]) * (we[ow] - ws[ow])
                g = np.uint64(((n * OH + oh) * OW + ow) * C)
                for c in range(uC):
                    share[c] = gy[g + c] / area
                for h in range(hs[oh], he[oh]):
                    for w in range(ws[ow], we[ow]):
                        t = base + np.uint64((h * W + w) * C)
                        for c in range(uC):
                            gx[t + c] += share[c]


@njit(cache=True, nogil=True)
def _adaptive_max_nchw(x, hs, he, ws, we, out, idx):
    """X planes (P, H, W) -> out, idx (P, OH, OW); idx the flat h*W + w.

    Separable as the fixed-window max pooling: a vertical pass over the
    window's rows (first maximum, NaN wins), then the row-major scan's
    argmax over its columns.
    """
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    vmax = np.empty(W, dtype=x.dtype)
    vrow = np.empty(W, dtype=np.int32)
    for p in range(P):
        x2 = x[p]
        for oh in range(OH):
            h0 = hs[oh]
            _column_max(x2, h0, 0, he[oh] - h0, 1, vmax, vrow)
            for ow in range(OW):
                w0 = ws[ow]
                b, bi, bj = _window_argmax(vmax, vrow, w0, 0, we[ow] - w0, 1, 1, 0)
                out[p, oh, ow] = b
                idx[p, oh, ow] = (h0 + bi) * W + w0 + bj


@njit(cache=True, nogil=True)
def adaptive_max_nchw(ctx, lo, hi):
    """Planes ``[lo, hi)`` of :func:`_adaptive_max_nchw`."""
    x, hs, he, ws, we, out, idx = ctx
    _adaptive_max_nchw(x[lo:hi], hs, he, ws, we, out[lo:hi], idx[lo:hi])


@njit(cache=True, nogil=True)
def adaptive_max_nhwc(ctx, r0, r1):
    """X (N, H, W, C) -> out, idx (N, OH, OW, C), output rows [r0, r1) of the N*OH.

    Each window's taps in row-major order along the channel run
    (branch-free, vectorised), under the scan rule.
    """
    x, hs, he, ws, we, out, idx = ctx
    N, H, W, C = x.shape
    OH, OW = out.shape[1], out.shape[2]
    xf, of, kf = x.reshape(-1), out.reshape(-1), idx.reshape(-1)
    uC = np.uint64(C)
    for noh in range(r0, r1):
        n = noh // OH
        oh = noh - n * OH
        for ow in range(OW):
            o = np.uint64((noh * OW + ow) * C)
            first = hs[oh] * W + ws[ow]
            t = np.uint64((n * H * W + first) * C)
            for c in range(uC):
                of[o + c] = xf[t + c]
                kf[o + c] = first
            for h in range(hs[oh], he[oh]):
                for w in range(ws[ow], we[ow]):
                    pos = h * W + w
                    if pos == first:
                        continue
                    t = np.uint64((n * H * W + pos) * C)
                    for c in range(uC):
                        b, k = _take(xf[t + c], of[o + c], pos, kf[o + c])
                        of[o + c] = b
                        kf[o + c] = k
