"""The "im2col" algorithm: tile im2col -> GEMM (-> col2im), every layer.

Forward items are (sample, band of output rows): a band's columns take
about ``config.TILE_BYTES`` and are consumed by its GEMM while in cache
(:mod:`fastconv._kernels.conv`). The backward pass is one fused pass per
slot of samples (x channel blocks): each tile's columns serve both the
grad_weight GEMM and, with col2im, grad_x; the slots' partial sums are
added in slot order, so results do not depend on the thread count.
"""

import numpy as np

from .._kernels import conv as _k
from . import blas, config, results, threads, workspace
from .algorithm import Algorithm
from .trace import phase

__all__ = ["Im2col", "ENTRY", "run_forward", "columns"]

_FORWARD = {"NCHW": _k.forward_nchw, "NHWC": _k.forward_nhwc}
_BACKWARD = {"NCHW": _k.backward_nchw, "NHWC": _k.backward_nhwc}

#: the fields of the kernels' context, by name (threads.Task); NHWC's take "planar" last
_FORWARD_ARGS = (
    "x", "weight", "bias", "has_bias", "out", "win", "groups", "rows",
    "cols", "gemm", "clock", "trace",
)  # fmt: skip
_BACKWARD_ARGS = (
    "grad_out", "x", "weight", "grad_x", "parts", "bias_parts", "win", "groups",
    "rows", "units", "want_gx", "want_gw", "cols", "scratch", "gemm",
    "clock", "trace", "y", "want_y", "fill",
)  # fmt: skip


def columns(plan, extra=0):
    """Return this thread's column buffer for one tile, and `extra` more elements.

    Both are views of the thread's workspace.
    """
    return workspace.scratch(plan.dtype, (max(plan.cols_elems, 1),), (max(extra, 1),))


def run_forward(plan, x, weight, bias):
    """Output of the fused tile forward pass (im2col's; pointwise's, merge_batch).

    Items are the plan's bands of output rows: each builds its columns in
    the thread's buffer (none for a pointwise plan, whose x is its own
    column matrix) and multiplies them by the weight into the output band.
    """
    out = results.empty(plan.out_shape, plan.dtype)
    if out.size == 0:
        return out
    kernel = _FORWARD[plan.layout]
    gemm = blas.gemm(plan.dtype)
    has_bias = bias is not None
    b = bias if has_bias else out.reshape(-1)[:1]  # unused placeholder
    win, groups, rows = plan.window, plan.groups, plan.tile_rows
    y = out
    if plan.merge_batch:
        # one tall image: (1, N*H, W, C) -> (1, N*OH, OW, F), OH = H for a 1x1
        N = x.shape[0]
        x = x.reshape(1, N * x.shape[1], x.shape[2], x.shape[3])
        y = out.reshape(1, N * out.shape[1], out.shape[2], out.shape[3])
        win = win._replace(H=N * win.H, OH=N * win.OH)

    task = threads.Task(
        kernel,
        _FORWARD_ARGS + (("planar",) if plan.layout == "NHWC" else ()),
        plan.items,
        x.nbytes + out.nbytes if plan.parallel else 0,
        phases=_k.FORWARD_PHASES,
    )
    values = dict(
        x=x,
        weight=weight,
        bias=b,
        has_bias=has_bias,
        out=y,
        win=win,
        groups=groups,
        rows=rows,
        cols=threads.Local(lambda: columns(plan)[0]),
        gemm=gemm,
        planar=plan.planar,
    )
    threads.execute(task, values)
    return out


def run_backward(plan, grad_out, x, weight, want_gx, want_gw, want_y=False, fill=None):
    """Run the fused im2col backward pass; a result not wanted comes back as None.

    With `want_y` (needs `want_gw`) it also returns the forward output of x
    from the grad_weight pass's columns (see :func:`grad_weight_and_forward`).
    grad_x starts from `fill` (C,) in each channel, zeros if None.
    """
    s = plan.shapes
    win = plan.window
    K = s.Cg * win.KH * win.KW
    # without want_gx the kernel never touches grad_x: a one-element stand-in
    grad_x = (
        results.empty(plan.x_shape, plan.dtype)
        if want_gx
        else np.empty((1,) * 4, plan.dtype)
    )
    # y: a transposed convolution's grad_x, its first result too
    y = (
        results.empty(plan.out_shape, plan.dtype)
        if want_y
        else np.empty((1,) * 4, plan.dtype)
    )
    fill = np.zeros(s.C, plan.dtype) if fill is None else fill
    # grad_weight as the GEMMs see it: (F, Cg*KK) in NCHW, (KK*Cg, F) in NHWC
    wshape = (s.F, K) if plan.layout == "NCHW" else (K, s.F)
    # the partials live in the calling thread's workspace: a fresh buffer
    # of that size would cost its page faults on every call
    (parts,) = workspace.scratch(plan.dtype, (plan.slots,) + wshape, key="slots")
    (bias_parts,) = workspace.scratch(np.float64, (plan.slots, s.F), key="slot bias")
    if (want_gx and grad_x.size) or (want_gw and parts.size):
        kernel = _BACKWARD[plan.layout]
        gemm = blas.gemm(plan.dtype)
        groups, rows, units = plan.groups, plan.tile_rows, plan.units
        task = threads.Task(
            kernel,
            _BACKWARD_ARGS + (("planar",) if plan.layout == "NHWC" else ()),
            plan.slots * units,
            2 * x.nbytes + grad_out.nbytes if plan.parallel else 0,
            phases=_k.BACKWARD_PHASES,
        )
        # the piece's column buffer and unit scratch, on its thread
        cols, scratch = threads.locals_of(lambda: columns(plan, plan.unit_scratch), 2)
        values = dict(
            grad_out=grad_out,
            x=x,
            weight=weight,
            grad_x=grad_x,
            parts=parts,
            bias_parts=bias_parts,
            win=win,
            groups=groups,
            rows=rows,
            units=units,
            want_gx=want_gx,
            want_gw=want_gw,
            cols=cols,
            scratch=scratch,
            gemm=gemm,
            y=y,
            want_y=want_y,
            fill=fill,
            planar=plan.planar,
        )
        threads.execute(task, values)
    else:
        parts[...] = 0
        bias_parts[...] = 0
        y[...] = 0  # no channels: a sum of nothing
    if not want_gw:
        return grad_x, None, None
    if want_y:
        return (grad_x,) + _sum_slots(plan, parts, bias_parts) + (y,)
    return (grad_x,) + _sum_slots(plan, parts, bias_parts)


def _sum_slots(plan, parts, bias_parts):
    """(grad_weight, grad_bias) from the slots' partial sums, added in slot order."""
    s = plan.shapes
    with phase("sum slots"):
        # new arrays for the results: the partials are workspace views
        flat = parts.reshape(plan.slots, -1)  # (S, F*K)
        grad_w = np.empty(flat.shape[1], plan.dtype)
        task = threads.Task(_k.sum_slots, ("parts", "out"), grad_w.size, parts.nbytes)
        threads.execute(task, dict(parts=flat, out=grad_w))
        grad_b = np.empty(s.F)
        _k.sum_slots((bias_parts, grad_b), 0, s.F)
    return grad_w.reshape(plan.weight_shape), grad_b.astype(plan.dtype)


class Im2col(Algorithm):
    """Tile im2col -> GEMM (-> col2im): every layer, every pass."""

    name = "im2col"
    fuses_backward = True
    cost_model = "im2col"

    def features(self, shapes, dtype, pass_):
        """(1, multiply-adds, column elements, weight elements the tiles' GEMMs read).

        The weight is read once a tile of about ``config.TILE_BYTES`` of
        columns; for grad_x, C and F swap places.
        """
        win = shapes.win
        OH, OW = (win.H, win.W) if pass_ == "grad_x" else (win.OH, win.OW)
        C, F = (shapes.F, shapes.C) if pass_ == "grad_x" else (shapes.C, shapes.F)
        P = OH * OW
        K = C // shapes.groups * win.KH * win.KW
        per_tile = min(
            max(P, 1),
            max(
                config.MIN_TILE_COLUMNS,
                config.TILE_BYTES // (K * np.dtype(dtype).itemsize),
            ),
        )
        tiles = shapes.N * -(-P // per_tile)
        return (
            1.0,
            shapes.N * P * K * F / shapes.groups,
            shapes.N * P * K,
            tiles * K * F,
        )

    def items(self, plan, pass_):
        """Forward: the plan's bands; backward: slots x channel units."""
        return plan.items if pass_ == "forward" else plan.slots * plan.units

    def describe(self, plan, pass_):
        """Describe the bands and their GEMM (forward), or the slots (backward)."""
        s, w = plan.shapes, plan.window
        K = s.Cg * w.KH * w.KW
        tiles = -(-w.OH // plan.tile_rows) if w.OH else 0
        if pass_ == "forward":
            gemm = (
                f"({s.Fg} x {K}) @ ({K} x {plan.tile_rows * w.OW})"
                if plan.layout == "NCHW"
                else f"({plan.tile_rows * w.OW} x {K}) @ ({K} x {s.Fg})"
            )
            return (
                f"{self.name}, {plan.items} items ({s.N} samples x {tiles} tiles of "
                f"{plan.tile_rows} output rows); GEMM per tile and group {gemm}"
                + ("; planar columns (few channels)" if plan.planar else "")
            )
        together = plan.algos["grad_x"] is plan.algos["grad_w"]
        return (
            f"{self.name}, {plan.slots * plan.units} items ({plan.slots} slots of "
            f"samples x {plan.units} channel blocks)"
            + ("; grad_x and grad_w in one pass" if together else "")
        )

    def workspace(self, plan, passes):
        """Return a tile's columns (and unit scratch) per thread; (F, K) + F a slot."""
        s = plan.shapes
        K = s.Cg * s.win.KH * s.win.KW
        return plan.cols_elems + plan.unit_scratch, s.F * K + s.F, 0

    def forward(self, plan, x, weight, bias, prepared=None):
        """Run the fused tile forward pass (:func:`run_forward`)."""
        return run_forward(plan, x, weight, bias)

    def grad_x(self, plan, grad_out, weight, fill=None):
        """grad_x alone: the fused pass without grad_weight; starts from `fill`."""
        unread = np.empty(plan.x_shape, plan.dtype)  # x is read for grad_weight only
        return run_backward(plan, grad_out, unread, weight, True, False, fill=fill)[0]

    def grad_w(self, plan, grad_out, x, weight):
        """(grad_weight, grad_bias) alone: the fused pass without grad_x."""
        return run_backward(plan, grad_out, x, weight, False, True)[1:]

    def backward(self, plan, grad_out, x, weight):
        """grad_x, grad_weight and grad_bias in one pass over each tile's columns."""
        return run_backward(plan, grad_out, x, weight, True, True)

    def grad_w_and_forward(self, plan, grad_out, x, weight):
        """One pass builds each tile's columns once for both GEMMs.

        Only when every channel unit holds whole groups; else two passes.
        """
        if plan.units != 1 and plan.groups == 1:
            return super().grad_w_and_forward(plan, grad_out, x, weight)
        _, gw, _, y = run_backward(plan, grad_out, x, weight, False, True, want_y=True)
        return gw, y


#: the registered instance
ENTRY = Im2col()
