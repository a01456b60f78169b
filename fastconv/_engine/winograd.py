"""Running the passes of a plan whose algorithm is "winograd-2x2" or "winograd-4x4".

Winograd F(2x2, 3x3) and F(4x4, 3x3) (:mod:`fastconv._kernels.winograd`):
3x3, stride 1, groups 1, any dilation, both layouts. The forward pass, grad_x (the
convolution of grad_out with the flipped, transposed weight, padded by
``2*dilation - padding``: every side's padding at most 2*dilation) and
grad_weight (F(3x3, m x m) over the same tiles: slots of samples, as
im2col's). Items:
bands of tile rows over the batch, at least 128 tiles (the GEMMs' rows)
and, beyond that, as many as keep the band's transforms (V and M, a*a x T x
(C + F) values, a = 4 or 6) within about 1 MiB; but at least one band per
core.
"""

import numpy as np

from .._kernels import conv as _conv_kernels
from .._kernels import winograd as _kw
from . import blas, config, cpu, results, threads, workspace
from .algorithm import PASSES, Algorithm
from .geometry import conv_window

__all__ = [
    "Winograd",
    "F2",
    "F4",
    "tiles",
    "applies",
    "grad_x_applies",
    "forward",
    "grad_x",
    "grad_w",
    "items",
    "band_rows",
    "scratch_elems",
]

#: tiles(n_out, d, m): tiles of m outputs along an axis of n_out, dilation d
tiles = _kw.tiles


#: the fields of the kernels' context, by name (threads.Task)
_FORWARD_ARGS = (
    "x", "nchw", "U", "trans_u", "bias", "out", "win", "rows",
    "V", "M", "P", "gemm", "clock", "trace",
)  # fmt: skip
_GRAD_W_ARGS = (
    "x", "nchw", "gy", "parts", "bias_parts", "win", "rows",
    "V", "Y", "P", "gemm", "clock", "trace",
)  # fmt: skip


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


def tile_size(plan, pass_):
    """Return the outputs a tile side of one pass (its algorithm's m: 2 or 4)."""
    return plan.algos[pass_].m


def _rows(win, C, F, itemsize, m):
    """Return the tile rows of a band: WINOGRAD_MIN_TILES tiles, more while V and M fit.

    Both sizes are in :mod:`config` (WINOGRAD_BAND_BYTES: the bytes V and M
    may take).
    """
    TW = max(_kw.tiles(win.OW, win.dw, m), 1)
    per_row = (m + 2) ** 2 * TW * (C + F) * itemsize
    return max(
        -(-config.WINOGRAD_MIN_TILES // TW),
        config.WINOGRAD_BAND_BYTES // max(per_row, 1),
        1,
    )


def _geometry(win, N, C, F, itemsize, m):
    """(rows a band, items) of a Winograd pass over window `win`, N samples."""
    tile_rows = N * _kw.tiles(win.OH, win.dh, m)
    # at least one band per core of the machine (not per thread: the bands
    # must not change with the thread count), even if thinner than
    # config.WINOGRAD_MIN_TILES
    per_core = -(-tile_rows // cpu.usable_cores())
    rows = max(1, min(_rows(win, C, F, itemsize, m), per_core))
    return rows, -(-tile_rows // rows)


def _pass_geometry(plan, pass_):
    """Return (window, channels in, channels out, tile side) of forward or grad_x."""
    s, m = plan.shapes, tile_size(plan, pass_)
    if pass_ == "grad_x":
        return _grad_window(s.win), s.F, s.C, m
    return s.win, s.C, s.F, m


def _slots(plan):
    return max(1, min(plan.shapes.N, config.MAX_SLOTS))


def items(plan, pass_):
    """Work items of one pass: bands of tile rows (forward, grad_x); slots (grad_w)."""
    if pass_ == "grad_w":
        return _slots(plan)
    win, C, F, m = _pass_geometry(plan, pass_)
    return _geometry(win, plan.shapes.N, C, F, np.dtype(plan.dtype).itemsize, m)[1]


def band_rows(plan, pass_):
    """Tile rows a band of the forward or grad_x pass."""
    win, C, F, m = _pass_geometry(plan, pass_)
    return _geometry(win, plan.shapes.N, C, F, np.dtype(plan.dtype).itemsize, m)[0]


def _scratch(win, N, C, F, itemsize, m):
    rows = _geometry(win, N, C, F, itemsize, m)[0]
    T = rows * _kw.tiles(win.OW, win.dw, m)
    a2 = (m + 2) ** 2
    # P: a patch and its transforms, then (NCHW) a tile row's input and
    # grad_out rows, channels innermost
    rows = (2 * m + 2) * _kw.row_width(win, m)
    return a2 * T * C, a2 * T * F, (2 * a2 + rows) * max(C, F)


def scratch_elems(plan, passes):
    """Per-thread scratch (V, M, patch) of the Winograd `passes`: element counts."""
    s, size = plan.shapes, np.dtype(plan.dtype).itemsize
    need = [(0, 0, 0)]
    for p in ("forward", "grad_x"):
        if p in passes:
            win, C, F, m = _pass_geometry(plan, p)
            need.append(_scratch(win, s.N, C, F, size, m))
    if "grad_w" in passes:
        need.append(_scratch(s.win, s.N, s.C, s.F, size, tile_size(plan, "grad_w")))
    return tuple(max(e) for e in zip(*need))


def transform_weight(plan, pass_, weight, U=None):
    """Return U (a*a, C, F): the weight's transform for `pass_`, in `U` if given.

    U holds the weight as stored, (3, 3, C, F) read as (C, F) a tap; grad_x
    uses it transposed (the flipped weight's).
    """
    m = tile_size(plan, pass_)
    if plan.layout == "NCHW":  # (F, C, 3, 3) -> (3, 3, C, F), a view
        weight = weight.transpose(2, 3, 1, 0)
    if U is None:
        U = np.empty(((m + 2) ** 2, weight.shape[2], weight.shape[3]), plan.dtype)
    flip = pass_ == "grad_x"
    task = threads.Task(
        _kw.weight_transform,
        ("w", "flip", "U"),
        weight.shape[2],
        U.nbytes if plan.parallel else 0,
    )
    threads.execute(task, dict(w=weight, flip=flip, U=U))
    return U


def _run(plan, pass_, x, weight, bias, out, U=None):
    """Run the forward or grad_x pass; `U`: the weight's transform, if prepared."""
    nchw = plan.layout == "NCHW"
    win, C, F, m = _pass_geometry(plan, pass_)
    N = x.shape[0]
    size = np.dtype(plan.dtype).itemsize
    rows, bands = _geometry(win, N, C, F, size, m)
    nv, nm, npatch = _scratch(win, N, C, F, size, m)
    gemm = blas.gemm(plan.dtype)
    flip = pass_ == "grad_x"
    if U is None:
        w = weight.transpose(2, 3, 1, 0) if nchw else weight
        (U,) = workspace.scratch(
            plan.dtype, ((m + 2) ** 2, w.shape[2], w.shape[3]), key="weights"
        )
        transform_weight(plan, pass_, weight, U)

    V, M, P = threads.locals_of(
        lambda: workspace.scratch(plan.dtype, (nv,), (nm,), (npatch,)), 3
    )
    task = threads.Task(
        _kw.forward,
        _FORWARD_ARGS,
        bands,
        x.nbytes + out.nbytes if plan.parallel else 0,
        phases=_kw.PHASES,
    )
    values = dict(x=x, nchw=nchw, U=U, trans_u=flip, bias=bias, out=out, win=win)
    threads.execute(task, dict(values, rows=rows, V=V, M=M, P=P, gemm=gemm))
    return out


def forward(plan, x, weight, bias, U=None):
    """Output (compute dtype) of the Winograd forward pass; `U` if prepared."""
    out = results.empty(plan.out_shape, plan.dtype)
    if out.size == 0:
        return out
    b = bias if bias is not None else np.zeros(plan.shapes.F, plan.dtype)
    return _run(plan, "forward", x, weight, b, out, U)


def grad_x(plan, grad_out, weight):
    """grad_x (compute dtype) of the Winograd backward pass."""
    gx = results.empty(plan.x_shape, plan.dtype)
    if gx.size == 0:
        return gx
    # the flipped weight, (C, F) per tap, used transposed: (F, C)
    zero = np.zeros(plan.shapes.C, plan.dtype)
    return _run(plan, "grad_x", grad_out, weight, zero, gx)


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
    m = tile_size(plan, "grad_w")
    a2 = (m + 2) ** 2
    rows = _geometry(s.win, s.N, C, F, size, m)[0]
    nv, ny, npatch = _scratch(s.win, s.N, C, F, size, m)
    (parts,) = workspace.scratch(plan.dtype, (S, a2, C, F), key="slots")
    (bias_parts,) = workspace.scratch(np.float64, (S, F), key="slot bias")
    gemm = blas.gemm(plan.dtype)
    win = plan.window

    V, Y, P = threads.locals_of(
        lambda: workspace.scratch(plan.dtype, (nv,), (ny,), (npatch,)), 3
    )
    task = threads.Task(
        _kw.grad_w,
        _GRAD_W_ARGS,
        S,
        x.nbytes + grad_out.nbytes if plan.parallel else 0,
        phases=_kw.PHASES,
    )
    values = dict(x=x, nchw=nchw, gy=grad_out, parts=parts, bias_parts=bias_parts)
    threads.execute(task, dict(values, win=win, rows=rows, V=V, Y=Y, P=P, gemm=gemm))
    flat = parts.reshape(S, -1)
    acc = np.empty(flat.shape[1], plan.dtype)
    sums = threads.Task(_conv_kernels.sum_slots, ("parts", "out"), acc.size, flat.nbytes)
    threads.execute(sums, dict(parts=flat, out=acc))
    gw = np.empty((3, 3, C, F), plan.dtype)
    transform = threads.Task(
        _kw.grad_w_transform, ("acc", "gw"), C, acc.nbytes if plan.parallel else 0
    )
    threads.execute(transform, dict(acc=acc.reshape(a2, C, F), gw=gw))
    if nchw:
        gw = np.ascontiguousarray(gw.transpose(3, 2, 0, 1))
    gb = np.empty(F)
    _conv_kernels.sum_slots((bias_parts, gb), 0, F)
    return gw, gb.astype(plan.dtype)


class Winograd(Algorithm):
    """Winograd F(m x m, 3x3): 3x3, stride 1, groups 1, any dilation.

    Parameters
    ----------
    m : {2, 4}
        Outputs a tile side: (m + 2)**2 GEMMs a band of tiles, 2.25x (m = 2)
        or 4x (m = 4) fewer multiply-adds than im2col's.
    """

    cost_model = "winograd"
    #: its tiles start at the planes' origin: a chunk's tiles start elsewhere,
    #: and their transforms round differently (about 1e-5 of max|y| in float32)
    split_exact = False

    def __init__(self, m):
        self.m = m
        self.name = f"winograd-{m}x{m}"

    def reason_not(self, shapes):
        """Say why the layer is no Winograd F(m x m, 3x3) one (:func:`applies`)."""
        return applies(shapes)

    def implements(self, shapes):
        """Return every pass, or forward and grad_w where grad_x's padding is too wide."""
        return PASSES if grad_x_applies(shapes) else ("forward", "grad_w")

    def features(self, shapes, dtype, pass_):
        """Return (1, GEMM multiply-adds a*a*T*C*F, the transforms' elements).

        a = m + 2, T the tiles of the pass's output (for grad_x, x's, with C
        and F swapped).
        """
        win = shapes.win
        OH, OW = (win.H, win.W) if pass_ == "grad_x" else (win.OH, win.OW)
        C, F = (shapes.F, shapes.C) if pass_ == "grad_x" else (shapes.C, shapes.F)
        a2 = (self.m + 2) ** 2
        t = shapes.N * tiles(OH, win.dh, self.m) * tiles(OW, win.dw, self.m)
        return (1.0, a2 * t * C * F, a2 * t * C, a2 * t * F, a2 * C * F)

    def items(self, plan, pass_):
        """Return bands of tile rows (forward, grad_x) or slots (grad_w)."""
        return items(plan, pass_)

    def describe(self, plan, pass_):
        """Describe the bands of tiles, or grad_weight's slots."""
        n, m = items(plan, pass_), self.m
        if pass_ == "grad_w":
            return f"{self.name} F(3x3, {m}x{m}), {n} items (slots of samples)"
        rows = band_rows(plan, pass_)
        return (
            f"{self.name}, {n} items (bands of {rows} rows of {m}x{m} output tiles "
            f"over the batch); {(m + 2) ** 2} GEMMs a band"
        )

    def workspace(self, plan, passes):
        """Return the bands' scratch, grad_w's slots (a*a, C, F), the transform U.

        The bands' scratch is sized over every Winograd pass of the plan,
        whatever its tile size (V, M and the patch are each the largest any
        of them needs, as the thread's buffers are).
        """
        s = plan.shapes
        every = tuple(p for p, a in plan.algos.items() if isinstance(a, Winograd))
        partial = (self.m + 2) ** 2 * s.C * s.F + s.F if "grad_w" in passes else 0
        return sum(scratch_elems(plan, every)), partial, 36 * s.C * s.F

    def prepare(self, plan, weight):
        """Return the weight's transform U for the forward pass."""
        return transform_weight(plan, "forward", weight)

    def forward(self, plan, x, weight, bias, prepared=None):
        """Run the Winograd forward pass (:func:`forward`)."""
        return forward(plan, x, weight, bias, prepared)

    def grad_x(self, plan, grad_out, weight, fill=None):
        """Run grad_x as a Winograd forward pass (:func:`grad_x`), then add `fill`."""
        return self.add_fill(plan, grad_x(plan, grad_out, weight), fill)

    def grad_w(self, plan, grad_out, x, weight):
        """Run grad_weight as F(3x3, m x m) (:func:`grad_w`)."""
        return tuple(grad_w(plan, grad_out, x))


#: the registered instances: F(2x2, 3x3) and F(4x4, 3x3)
F2 = Winograd(2)
F4 = Winograd(4)
