"""Depthwise 3x3 NHWC forward kernels, register-blocked along the output row.

One filter per channel (groups = C = F), kernel 3x3, dilation 1, column
stride 1 or 2. With the channels innermost, ``out[n, oh, ow, c]`` is a sum
of nine products along one contiguous channel run. The interior of an
output row goes four positions at a time: one loop along the channels
whose body loads the nine weights of the channel once and accumulates the
four positions' sums in registers, each output written once. The loop
indexes 2-D views (positions, channels) rather than flat offsets, which is
what lets LLVM prove the four stores independent and vectorise along c.

Kernel rows that fall in the padding read a valid (clamped) input row
against zero weights (the output row uses the weight variant that has
those kernel rows zeroed), so the interior loop has no branch. grad_weight
is blocked the same way: a block's four positions add their nine products
per channel into the slot's sums at once, and kernel rows in the padding
add into three spare rows that are thrown away. The border columns, and the columns left
over after the blocks of four, go one position at a time.

The kernel also runs grad_x of a stride-1 layer: grad_out convolved with
the flipped weights over a window padded by ``2 - padding``. FMA
contraction is allowed (``fastmath`` ``contract`` only).
"""

from numba import njit

from .clock import now
from .common import out_range

__all__ = ["forward_3x3", "grad_w_3x3"]

_FM = {"contract"}


@njit(cache=True, inline="always")
def _clamped_rows(n, ih, H, W):
    """Return where input rows ih..ih+2 start in x's (N*H*W, C) view, clamped."""
    return (
        (n * H + min(max(ih, 0), H - 1)) * W,
        (n * H + min(max(ih + 1, 0), H - 1)) * W,
        (n * H + min(max(ih + 2, 0), H - 1)) * W,
    )


# fmt: off
@njit(cache=True, inline="always", fastmath=_FM)
def _row(w, a, s):
    """Sum one kernel row's taps for the positions of a block (4 at stride 1, else 2)."""
    a0, a1, a2, a3, a4, a5 = a
    if s == 1:
        return (w[0] * a0 + w[1] * a1 + w[2] * a2, w[0] * a1 + w[1] * a2 + w[2] * a3,
                w[0] * a2 + w[1] * a3 + w[2] * a4, w[0] * a3 + w[1] * a4 + w[2] * a5)
    z = a0 - a0
    return (w[0] * a0 + w[1] * a1 + w[2] * a2, w[0] * a2 + w[1] * a3 + w[2] * a4, z, z)


@njit(cache=True, inline="always", fastmath=_FM)
def _load(x2, r, c, s):
    """Load the input columns r .. r + 5 (stride 1) or r + 4 of channel c of a block."""
    if s == 1:
        return (x2[r, c], x2[r + 1, c], x2[r + 2, c], x2[r + 3, c], x2[r + 4, c],
                x2[r + 5, c])
    return (x2[r, c], x2[r + 1, c], x2[r + 2, c], x2[r + 3, c], x2[r + 4, c],
            x2[r + 4, c])
# fmt: on


def _make(s):
    """Build the forward kernel for column stride `s` (a compile-time constant)."""
    Q = 4 if s == 1 else 2  # positions a block: few enough loads for LLVM's checks

    @njit(cache=True, inline="always", fastmath=_FM)
    def block(o2, p, x2, r0, r1, r2, wv, bias, C):
        # o2[p + q, c] = bias + sum_ij wv[3i + j, c] * x2[ri + q*s + j, c], q < Q
        for c in range(C):
            t0 = _row((wv[0, c], wv[1, c], wv[2, c]), _load(x2, r0, c, s), s)
            t1 = _row((wv[3, c], wv[4, c], wv[5, c]), _load(x2, r1, c, s), s)
            t2 = _row((wv[6, c], wv[7, c], wv[8, c]), _load(x2, r2, c, s), s)
            b = bias[c]
            o2[p, c] = b + (t0[0] + t1[0] + t2[0])
            o2[p + 1, c] = b + (t0[1] + t1[1] + t2[1])
            if Q == 4:
                o2[p + 2, c] = b + (t0[2] + t1[2] + t2[2])
                o2[p + 3, c] = b + (t0[3] + t1[3] + t2[3])

    @njit(cache=True, nogil=True, fastmath=_FM)
    def forward(ctx, item0, item1):
        """Run items ``[item0, item1)`` (sample n, output row oh).

        x (N, H, W, C) -> out (N, OH, OW, C); bias (C,); wz (8, 9, C): the
        weight's nine taps (row-major) with the kernel rows i for which bit
        i of the variant is clear set to zero.
        """
        x, wz, bias, out, win, clock, trace = ctx
        N, H, W, C = x.shape
        OH, OW = win.OH, win.OW
        x2 = x.reshape(N * H * W, C)
        o2 = out.reshape(N * OH * OW, C)
        L, R = out_range(OW, s, -win.left, W - 2)  # columns with all 3 taps inside
        nb = (R - L) // Q
        for item in range(item0, item1):
            t0 = now(clock)
            n = item // OH
            oh = item - n * OH
            ih = oh * win.sh - win.top
            r0, r1, r2 = _clamped_rows(n, ih, H, W)
            m = (0 <= ih < H) + 2 * (0 <= ih + 1 < H) + 4 * (0 <= ih + 2 < H)
            wv = wz[m]
            p0 = (n * OH + oh) * OW
            for t in range(nb):
                ow = L + t * Q
                xo = ow * s - win.left
                block(o2, p0 + ow, x2, r0 + xo, r1 + xo, r2 + xo, wv, bias, C)
            # the rest, one position at a time, every tap checked
            for ow in range(OW):
                if L <= ow < L + nb * Q:
                    continue
                p = p0 + ow
                for c in range(C):
                    o2[p, c] = bias[c]
                for i in range(3):
                    if 0 <= ih + i < H:
                        row = (n * H + ih + i) * W
                        for j in range(3):
                            iw = ow * s - win.left + j
                            if 0 <= iw < W:
                                for c in range(C):
                                    o2[p, c] += wv[3 * i + j, c] * x2[row + iw, c]
            trace[1] += now(clock) - t0

    return forward


# fmt: off
@njit(cache=True, inline="always", fastmath=_FM)
def _grow(g, a, s):
    """One kernel row's three grad_weight products, summed over a block's positions."""
    g0, g1, g2, g3 = g
    a0, a1, a2, a3, a4, a5 = a
    if s == 1:
        return (g0 * a0 + g1 * a1 + g2 * a2 + g3 * a3,
                g0 * a1 + g1 * a2 + g2 * a3 + g3 * a4,
                g0 * a2 + g1 * a3 + g2 * a4 + g3 * a5)
    return (g0 * a0 + g1 * a2, g0 * a1 + g1 * a3, g0 * a2 + g1 * a4)
# fmt: on


def _make_grad_w(s):
    """Build the grad_weight kernel for column stride `s` (a compile-time constant)."""
    Q = 4 if s == 1 else 2

    @njit(cache=True, inline="always", fastmath=_FM)
    def row(p2, g2, p, x2, r, k, C):
        # p2[k + j, c] += sum_q g2[p + q, c] * x2[r + q*s + j, c], one kernel row:
        # a loop of its own keeps LLVM's alias checks few enough to vectorise
        for c in range(C):
            z = g2[p, c] - g2[p, c]
            if Q == 4:
                g = (g2[p, c], g2[p + 1, c], g2[p + 2, c], g2[p + 3, c])
            else:
                g = (g2[p, c], g2[p + 1, c], z, z)
            t = _grow(g, _load(x2, r, c, s), s)
            p2[k, c] += t[0]
            p2[k + 1, c] += t[1]
            p2[k + 2, c] += t[2]

    @njit(cache=True, inline="always", fastmath=_FM)
    def block(p2, g2, p, x2, r0, r1, r2, k0, k1, k2, C):
        row(p2, g2, p, x2, r0, k0, C)
        row(p2, g2, p, x2, r1, k1, C)
        row(p2, g2, p, x2, r2, k2, C)

    @njit(cache=True, nogil=True, fastmath=_FM)
    def grad_w(ctx, item0, item1):
        """Run slots ``[item0, item1)`` of the grad_weight pass.

        Slot r of S (``parts`` (S, 12*C): nine taps' sums, row-major, then
        three spare rows) sums over its samples ``[r*N//S, (r+1)*N//S)``,
        output rows and blocks in order; ``bias_parts[r]`` (C,) sums
        grad_out (float64).
        """
        gy, x, parts, bias_parts, win, clock, trace = ctx
        N, H, W, C = x.shape
        OH, OW = win.OH, win.OW
        S = parts.shape[0]
        x2 = x.reshape(N * H * W, C)
        g2 = gy.reshape(N * OH * OW, C)
        L, R = out_range(OW, s, -win.left, W - 2)
        nb = (R - L) // Q
        for slot in range(item0, item1):
            t0 = now(clock)
            p2 = parts[slot].reshape(12, C)
            bs = bias_parts[slot]
            p2[:] = 0
            bs[:] = 0
            for n in range(slot * N // S, (slot + 1) * N // S):
                for oh in range(OH):
                    ih = oh * win.sh - win.top
                    r0, r1, r2 = _clamped_rows(n, ih, H, W)
                    k0 = 0 if 0 <= ih < H else 9
                    k1 = 3 if 0 <= ih + 1 < H else 9
                    k2 = 6 if 0 <= ih + 2 < H else 9
                    p0 = (n * OH + oh) * OW
                    for ow in range(OW):
                        for c in range(C):
                            bs[c] += g2[p0 + ow, c]
                    for t in range(nb):
                        ow = L + t * Q
                        xo = ow * s - win.left
                        block(
                            p2, g2, p0 + ow, x2, r0 + xo, r1 + xo, r2 + xo, k0, k1, k2, C
                        )
                    for ow in range(OW):  # the rest, one position at a time
                        if L <= ow < L + nb * Q:
                            continue
                        p = p0 + ow
                        for i in range(3):
                            if 0 <= ih + i < H:
                                row = (n * H + ih + i) * W
                                for j in range(3):
                                    iw = ow * s - win.left + j
                                    if 0 <= iw < W:
                                        for c in range(C):
                                            p2[3 * i + j, c] += g2[p, c] * x2[row + iw, c]
            trace[1] += now(clock) - t0

    return grad_w


#: The forward kernel per column stride.
forward_3x3 = {1: _make(1), 2: _make(2)}
#: The grad_weight kernel per column stride.
grad_w_3x3 = {1: _make_grad_w(1), 2: _make_grad_w(2)}
