"""The "pointwise" algorithm: 1x1 convolutions with unit stride and no padding.

x is its own column matrix: the forward pass is the tile kernel of
:mod:`.im2col` without columns (NHWC: the batch as one tall image cut into
a few wide bands, each GEMM packing the weight once for many rows); the
backward pass is two plain GEMM passes over the batch
(:mod:`fastconv._kernels.pointwise`), grad_weight split by blocks of
filters and grad_x by the forward's bands: no partial sums, so no slots.
"""

import numpy as np

from .._kernels import pointwise as _pw
from . import blas, config, im2col, results, threads
from .algorithm import Algorithm

__all__ = ["Pointwise", "ENTRY", "applies"]


def applies(win):
    """Whether a window is pointwise: 1x1, stride 1, no padding."""
    return (
        win.KH == win.KW == win.sh == win.sw == 1
        and win.top == win.bottom == win.left == win.right == 0
    )


_POINTWISE = {
    "NCHW": (_pw.weight_grads_nchw, _pw.input_grads_nchw),
    "NHWC": (_pw.weight_grads_nhwc, _pw.input_grads_nhwc),
}


#: the fields of the kernels' context, by name (threads.Task)
_WEIGHT_ARGS = (
    "grad_out", "x", "grad_w", "grad_b", "groups", "blocks", "gemm",
    "clock", "trace",
)  # fmt: skip
_INPUT_ARGS = (
    "grad_out", "weight", "grad_x", "groups", "rows", "gemm", "clock",
    "trace",
)  # fmt: skip


def run_backward(plan, grad_out, x, weight, want_gx=True, want_gw=True):
    """Backward pass of a pointwise plan: a weight pass and an input pass."""
    s = plan.shapes
    grad_x = results.empty(plan.x_shape, plan.dtype)
    grad_w = np.empty(plan.weight_shape, plan.dtype)
    grad_b = np.zeros(s.F)  # float64
    weights, inputs = _POINTWISE[plan.layout]
    gemm = blas.gemm(plan.dtype)
    groups, rows, blocks = plan.groups, plan.tile_rows, plan.filter_blocks
    work = 2 * x.nbytes + grad_out.nbytes if plan.parallel else 0
    values = dict(
        grad_out=grad_out,
        x=x,
        weight=weight,
        grad_x=grad_x,
        grad_w=grad_w,
        grad_b=grad_b,
        groups=groups,
        blocks=blocks,
        rows=rows,
        gemm=gemm,
    )
    # each kernel times its own phases: the weight pass the first and last,
    # the input pass the middle one
    if grad_w.size and want_gw:
        task = threads.Task(weights, _WEIGHT_ARGS, blocks, work, phases=_pw.PHASES)
        threads.execute(task, values)
    if grad_x.size and want_gx:
        task = threads.Task(inputs, _INPUT_ARGS, plan.items, work, phases=_pw.PHASES)
        threads.execute(task, values)
    if not want_gw:
        return grad_x, None, None
    return grad_x, grad_w, grad_b.astype(plan.dtype)


class Pointwise(Algorithm):
    """x as its own column matrix: 1x1 kernels, unit stride, no padding."""

    name = "pointwise"
    fuses_backward = True
    all_or_none = True

    def reason_not(self, shapes):
        """Say why the layer is not pointwise, or None."""
        win = shapes.win
        if applies(win):
            return None
        return (
            f"it needs a 1x1 kernel with stride 1 and no padding, got kernel "
            f"{(win.KH, win.KW)}, stride {(win.sh, win.sw)}, padding "
            f"{(win.top, win.bottom, win.left, win.right)}"
        )

    def tile(self, plan):
        """Cut the forward pass into bands without columns; no slots backward.

        NHWC: the rows of x and of the output run on from one sample into
        the next, so the forward pass treats the batch as one tall image
        and cuts it into a few wide bands, each GEMM packing the weight once
        for many rows (resnet-1x1: 4 bands of 392 rows instead of 8 samples
        of 196, 5% faster). NCHW: a whole sample per item, unless the batch
        is too small to give every core work. Backward: two plain GEMMs over
        the batch, split by their outputs: blocks of filters for
        grad_weight, the forward's bands for grad_x.
        """
        s, win = plan.shapes, plan.window
        plan.merge_batch = plan.layout == "NHWC"
        if plan.merge_batch:
            tall = s.N * win.OH
            rows = max(
                -(-config.MIN_TILE_COLUMNS // max(win.OW, 1)),
                -(-tall // config.MAX_SLOTS),
            )
            rows = min(max(tall, 1), rows)
            plan.items = -(-tall // rows)
        else:
            rows = (
                win.OH
                if s.N >= config.POINTWISE_BANDS
                else max(1, -(-win.OH // config.POINTWISE_BANDS))
            )
            plan.items = s.N * (-(-win.OH // rows) if win.OH else 0)
        plan.tile_rows = rows
        plan.cols_elems = 0
        plan.planar = False
        most = s.groups if s.groups > 1 else s.F
        plan.filter_blocks = max(1, min(most, config.MAX_SLOTS))
        plan.slots = plan.units = 1
        plan.unit_scratch = 0

    def items(self, plan, pass_):
        """Return blocks of filters for grad_weight, the forward's bands else."""
        return plan.filter_blocks if pass_ == "grad_w" else plan.items

    def describe(self, plan, pass_):
        """Describe the bands (forward) or the GEMM passes' split (backward)."""
        s, w = plan.shapes, plan.window
        tiles = -(-w.OH // plan.tile_rows) if w.OH else 0
        if pass_ == "forward":
            how = (
                f"bands of {plan.tile_rows} rows of the batch as one "
                f"{s.N * w.OH}-row image"
                if plan.merge_batch
                else f"{s.N} samples x {tiles} bands of {plan.tile_rows} rows"
            )
            return f"{self.name} (x is the column matrix), {plan.items} items ({how})"
        if pass_ == "grad_w":
            return f"{self.name}, {plan.filter_blocks} blocks of filters over the batch"
        return f"{self.name}, the forward's items"

    def forward(self, plan, x, weight, bias, prepared=None):
        """Run the tile kernel without columns (:func:`.im2col.run_forward`)."""
        return im2col.run_forward(plan, x, weight, bias)

    def grad_x(self, plan, grad_out, weight, fill=None):
        """Return grad_x alone: the input GEMM pass, then `fill`."""
        unread = np.empty(plan.x_shape, plan.dtype)
        gx = run_backward(plan, grad_out, unread, weight, True, False)[0]
        return self.add_fill(plan, gx, fill)

    def grad_w(self, plan, grad_out, x, weight):
        """Return (grad_weight, grad_bias) alone: the weight GEMM pass."""
        return run_backward(plan, grad_out, x, weight, False, True)[1:]

    def backward(self, plan, grad_out, x, weight):
        """Return grad_x, grad_weight and grad_bias: both GEMM passes."""
        return run_backward(plan, grad_out, x, weight, True, True)


#: the registered instance
ENTRY = Pointwise()
