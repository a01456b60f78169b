"""Running the passes of a plan whose algorithm is "winograd-2x2".

Winograd F(2x2, 3x3) (:mod:`fastconv._kernels.winograd`): 3x3, stride 1,
groups 1, any dilation, both layouts. The forward pass, grad_x (the
convolution of grad_out with the flipped, transposed weight, padded by
``2*dilation - padding``: every side's padding at most 2*dilation) and grad_weight
(F(3x3, 2x2) over the same tiles: slots of samples, as im2col's). Items:
bands of tile rows over the batch, at least 128 tiles (the GEMMs' rows)
and, beyond that, as many as keep the band's transforms (V and M, 16 x T x
(C + F) values) within about 1 MiB.
"""

import numpy as np

from .._kernels import conv as _conv_kernels
from .._kernels import winograd as _kw
from . import blas, threads, workspace
from .geometry import conv_window

__all__ = [
    "applies",
    "grad_x_applies",
    "forward",
    "grad_x",
    "grad_w",
    "items",
    "band_rows",
    "scratch_elems",
]

_BAND_BYTES = 1 << 20
_MIN_TILES = 128


def applies(shapes):
    """Whether the layer is one Winograd F(2x2, 3x3) runs (None) or why not."""
    w = shapes.win
    if (w.KH, w.KW, w.sh, w.sw) != (3, 3, 1, 1):
        return (
            f"it needs a 3x3 kernel with stride 1, got kernel {(w.KH, w.KW)}, "
            f"stride {(w.sh, w.sw)}"
        )
    if shapes.groups != 1:
        return f"it needs groups=1, got groups={shapes.groups}"
    return None


def grad_x_applies(shapes):
    """Whether grad_x runs as a Winograd forward pass: padding at most 2*dilation."""
    w = shapes.win
    return (
        max(w.top, w.bottom) <= 2 * w.dh
        and max(w.left, w.right) <= 2 * w.dw
        and w.OH > 0
        and w.OW > 0
    )


def _grad_window(win):
    dh, dw = win.dh, win.dw
    pads = (2 * dh - win.top, 2 * dh - win.bottom, 2 * dw - win.left, 2 * dw - win.right)
    return conv_window((win.OH, win.OW), (3, 3), 1, pads, (dh, dw))


def _rows(win, C, F, itemsize):
    """Tile rows a band: at least _MIN_TILES tiles, more while V and M fit _BAND_BYTES."""
    TW = max(_kw.tiles(win.OW, win.dw), 1)
    per_row = 16 * TW * (C + F) * itemsize
    return max(-(-_MIN_TILES // TW), _BAND_BYTES // max(per_row, 1), 1)


def _geometry(win, N, C, F, itemsize):
    """(rows a band, items) of a Winograd pass over window `win`, N samples."""
    tile_rows = N * _kw.tiles(win.OH, win.dh)
    rows = min(_rows(win, C, F, itemsize), max(tile_rows, 1))
    return rows, -(-tile_rows // rows)


def _slots(plan):
    from .plan import MAX_SLOTS

    return max(1, min(plan.shapes.N, MAX_SLOTS))


def items(plan):
    """Work items of (forward, grad_x, grad_w): bands of tile rows; slots."""
    s, size = plan.shapes, np.dtype(plan.dtype).itemsize
    fwd = _geometry(s.win, s.N, s.C, s.F, size)[1]
    gx = (
        _geometry(_grad_window(s.win), s.N, s.F, s.C, size)[1] if grad_x_applies(s) else 0
    )
    return fwd, gx, _slots(plan)


def band_rows(plan, pass_):
    """Tile rows a band of the forward or grad_x pass."""
    s, size = plan.shapes, np.dtype(plan.dtype).itemsize
    if pass_ == "grad_x":
        return _geometry(_grad_window(s.win), s.N, s.F, s.C, size)[0]
    return _geometry(s.win, s.N, s.C, s.F, size)[0]


def _scratch(win, N, C, F, itemsize):
    rows = _geometry(win, N, C, F, itemsize)[0]
    T = rows * _kw.tiles(win.OW, win.dw)
    return 16 * T * C, 16 * T * F, 32 * max(C, F)


def scratch_elems(plan):
    """Per-thread scratch of a piece (V, M, patch): element counts."""
    s, size = plan.shapes, np.dtype(plan.dtype).itemsize
    a = _scratch(s.win, s.N, s.C, s.F, size)
    if not grad_x_applies(s):
        return a
    b = _scratch(_grad_window(s.win), s.N, s.F, s.C, size)
    return tuple(max(u, v) for u, v in zip(a, b))


def _run(plan, x, weight, flip, bias, out, win):
    nchw = plan.layout == "NCHW"
    N, C, F = x.shape[0], x.shape[1 if nchw else 3], bias.shape[0]
    if nchw:  # (F, C, 3, 3) -> (3, 3, C, F), a view
        weight = weight.transpose(2, 3, 1, 0)
    size = np.dtype(plan.dtype).itemsize
    rows, bands = _geometry(win, N, C, F, size)
    nv, nm, npatch = _scratch(win, N, C, F, size)
    gemm = blas.gemm(plan.dtype)
    # U (16, C, F) of the weight as stored; grad_x uses it transposed
    U = np.empty((16, weight.shape[2], weight.shape[3]), plan.dtype)
    _kw.weight_transform(weight, flip, U)

    def piece(lo, hi, clock, tr):
        V, M, P = workspace.scratch(plan.dtype, (nv,), (nm,), (npatch,))
        _kw.forward(
            x, nchw, U, flip, bias, out, win, rows, lo, hi, V, M, P, gemm, clock, tr
        )

    threads.run_pieces(plan, bands, piece, x.nbytes + out.nbytes, _kw.PHASES)
    return out


def forward(plan, x, weight, bias):
    """Output (compute dtype) of the Winograd forward pass."""
    out = np.empty(plan.out_shape, plan.dtype)
    if out.size == 0:
        return out
    b = bias if bias is not None else np.zeros(plan.shapes.F, plan.dtype)
    return _run(plan, x, weight, False, b, out, plan.window)


def grad_x(plan, grad_out, weight):
    """grad_x (compute dtype) of the Winograd backward pass."""
    gx = np.empty(plan.x_shape, plan.dtype)
    if gx.size == 0:
        return gx
    # the flipped weight, (C, F) per tap, used transposed: (F, C)
    zero = np.zeros(plan.shapes.C, plan.dtype)
    return _run(plan, grad_out, weight, True, zero, gx, _grad_window(plan.window))


def grad_w(plan, grad_out, x):
    """(grad_weight, grad_bias) (compute dtype) of the Winograd backward pass."""
    s = plan.shapes
    nchw = plan.layout == "NCHW"
    C, F = s.C, s.F
    if s.N == 0 or C == 0 or F == 0:
        gb = grad_out.sum(axis=(0, 2, 3) if nchw else (0, 1, 2), dtype=np.float64)
        return np.zeros(plan.weight_shape, plan.dtype), gb.astype(plan.dtype)
    S = _slots(plan)
    size = np.dtype(plan.dtype).itemsize
    rows = _geometry(s.win, s.N, C, F, size)[0]
    nv, ny, npatch = _scratch(s.win, s.N, C, F, size)
    (parts,) = workspace.scratch(plan.dtype, (S, 16, C, F), key="slots")
    (bias_parts,) = workspace.scratch(np.float64, (S, F), key="slot bias")
    gemm = blas.gemm(plan.dtype)
    win = plan.window

    def piece(lo, hi, clock, tr):
        V, Y, P = workspace.scratch(plan.dtype, (nv,), (ny,), (npatch,))
        _kw.grad_w(
            x,
            nchw,
            grad_out,
            parts,
            bias_parts,
            win,
            rows,
            lo,
            hi,
            V,
            Y,
            P,
            gemm,
            clock,
            tr,
        )

    threads.run_pieces(plan, S, piece, x.nbytes + grad_out.nbytes, _kw.PHASES)
    flat = parts.reshape(S, -1)
    acc = np.empty(flat.shape[1], plan.dtype)
    threads.parallel_for(
        lambda a, b: _conv_kernels.sum_slots(flat, a, b, acc), acc.size, flat.nbytes
    )
    gw = np.empty((3, 3, C, F), plan.dtype)
    _kw.grad_w_transform(acc.reshape(16, C, F), gw)
    if nchw:
        gw = np.ascontiguousarray(gw.transpose(3, 2, 0, 1))
    gb = np.empty(F)
    _conv_kernels.sum_slots(bias_parts, 0, F, gb)
    return gw, gb.astype(plan.dtype)
