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
    "adaptive_avg_nchw",
    "adaptive_avg_nhwc",
    "adaptive_avg_backward_nchw",
    "adaptive_avg_backward_nhwc",
    "adaptive_max_nchw",
    "adaptive_max_nhwc",
]


@njit(cache=True, inline="always")
def _plane_sum(xf, base, n):
    """Sum of xf[base : base + n] in 4 interleaved partial sums, then added in order.

    Independent partial sums keep 4 adds in flight where a single running
    sum waits on each add; the order is fixed, so the result depends on
    the data alone.
    """
    b = np.uint64(base)
    z = xf.dtype.type(0)
    s0, s1, s2, s3 = z, z, z, z
    m = n - n % 4
    for k in range(0, m, 4):
        u = b + np.uint64(k)
        s0 += xf[u]
        s1 += xf[u + np.uint64(1)]
        s2 += xf[u + np.uint64(2)]
        s3 += xf[u + np.uint64(3)]
    for k in range(m, n):
        s0 += xf[b + np.uint64(k)]
    return (s0 + s1) + (s2 + s3)


@njit(cache=True, nogil=True)
def adaptive_avg_nchw(x, hs, he, ws, we, out):
    """X planes (P, H, W) -> out (P, OH, OW): each window's mean.

    Separable: a window row band summed along whole rows, in row order
    (vectorised), then each window's columns of that sum. A 1 x 1 output
    (global pooling, ResNet's head) sums each contiguous plane directly.
    """
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    xf, of = x.reshape(-1), out.reshape(-1)
    if OH == 1 and OW == 1:
        for p in range(P):
            of[p] = _plane_sum(xf, p * H * W, H * W) / (H * W)
        return
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
def adaptive_avg_nhwc(x, hs, he, ws, we, out, r0, r1):
    """X (N, H, W, C) -> out (N, OH, OW, C), output rows [r0, r1) of the N*OH.

    A window row band summed along whole rows of W*C values, then each
    window's columns a channel run at a time.
    """
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
def adaptive_avg_backward_nchw(grad_out, hs, he, ws, we, grad_x):
    """grad_x planes (P, H, W): each grad_out / area added over its window."""
    P, H, W = grad_x.shape
    OH, OW = grad_out.shape[1], grad_out.shape[2]
    gx, gy = grad_x.reshape(-1), grad_out.reshape(-1)
    if OH == 1 and OW == 1:  # global pooling: each plane gets one share
        for p in range(P):
            share = gy[p] / (H * W)
            base = np.uint64(p * H * W)
            for k in range(np.uint64(H * W)):
                gx[base + k] = share
        return
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
def adaptive_avg_backward_nhwc(grad_out, hs, he, ws, we, grad_x, n0, n1):
    """grad_x (N, H, W, C) of samples [n0, n1): grad_out / area over each window."""
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
def adaptive_max_nchw(x, hs, he, ws, we, out, idx):
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
def adaptive_max_nhwc(x, hs, he, ws, we, out, idx, r0, r1):
    """X (N, H, W, C) -> out, idx (N, OH, OW, C), output rows [r0, r1) of the N*OH.

    Each window's taps in row-major order along the channel run
    (branch-free, vectorised), under the scan rule.
    """
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
