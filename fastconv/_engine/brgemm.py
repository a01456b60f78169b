"""The "brgemm" algorithm: NHWC forward passes on fastconv's own register tiles.

Each item is a block of output rows (:func:`rows_per_item`); its tiles
(up to MR pixels x NR filters) sum the window's segments in registers
(:mod:`fastconv._kernels.brgemm`), reading x (padded into the thread's
workspace where the layer pads) and the weight packed into panels of NR
filters (the packing depends on the weight alone: the plan's
:meth:`prepare`, so an inference loop with a fixed weight packs it once).
No column matrix, no BLAS. The backward passes run as "auto" picks them.
"""

import numpy as np

from .._kernels import brgemm as _k
from .._kernels.tile import shape
from . import config, cpu, results, threads, workspace
from .algorithm import Algorithm

__all__ = ["Brgemm", "ENTRY"]

#: the fields of the kernel's context (threads.Task)
_ARGS = ("xp", "wp", "bias", "out", "a_offs", "b_offs", "dims")


def _tile_shape(plan):
    return shape(config.TILE_KIND, plan.dtype.itemsize)


def _padded_width(plan):
    w = plan.window
    return w.W + w.left + w.right


def pack_weight(plan, weight):
    """Return the weight (KH, KW, C, F) in panels of NR filters, a panel a row.

    ``(Fp/NR, KH*KW*C*NR)``, Fp = F rounded up to whole panels, the filters
    past F zeros. The shape tells the tile width it was packed for.
    """
    nr = _tile_shape(plan)[1]
    KH, KW, C, F = weight.shape
    panels = -(-F // nr)
    padded = np.zeros((KH, KW, C, panels * nr), plan.dtype)
    padded[..., :F] = weight
    packed = padded.reshape(KH, KW, C, panels, nr).transpose(3, 0, 1, 2, 4)
    return np.ascontiguousarray(packed).reshape(panels, -1)


def _padded_input(plan, x):
    """Return x zero-padded, flat: a view of the thread's workspace."""
    w = plan.window
    N, C = x.shape[0], x.shape[3]
    if not (w.top or w.bottom or w.left or w.right):
        return x.reshape(-1)
    Hp, Wp = w.H + w.top + w.bottom, _padded_width(plan)
    (xp,) = workspace.scratch(plan.dtype, (N, Hp, Wp, C), key="brgemm x")
    xp[:, : w.top] = 0
    xp[:, w.top + w.H :] = 0
    xp[:, w.top : w.top + w.H, : w.left] = 0
    xp[:, w.top : w.top + w.H, w.left + w.W :] = 0
    xp[:, w.top : w.top + w.H, w.left : w.left + w.W] = x
    return xp.reshape(-1)


def rows_per_item(plan):
    """Output rows an item runs, each panel of filters over all of them.

    Enough rows for ``config.BRGEMM_ITEM_PIXELS`` output pixels, so that a
    panel is read from memory once for many tiles; but no fewer than two
    items a core where the layer has the rows.
    """
    w = plan.window
    total = plan.shapes.N * w.OH
    rows = max(1, config.BRGEMM_ITEM_PIXELS // max(w.OW, 1))
    per_core = -(-total // (2 * cpu.usable_cores()))
    return max(1, min(rows, per_core))


class Brgemm(Algorithm):
    """Batch-reduce register tiles over the window, no columns: NHWC forward."""

    name = "brgemm"

    def reason_not(self, shapes):
        """Say why the layer is not NHWC without groups, or None."""
        if shapes.layout != "NHWC":
            return f"it runs NHWC layers only, got layout {shapes.layout!r}"
        if shapes.groups != 1:
            return f"it runs layers without groups, got groups={shapes.groups}"
        return None

    def implements(self, shapes):
        """Return the forward pass only."""
        return ("forward",)

    def items(self, plan, pass_):
        """Return the blocks of output rows (:func:`rows_per_item`)."""
        rows = plan.shapes.N * plan.window.OH
        return -(-rows // rows_per_item(plan))

    def describe(self, plan, pass_):
        """Describe the items and the tile."""
        mr, nr = _tile_shape(plan)
        return (
            f"{self.name}, {self.items(plan, pass_)} items (blocks of "
            f"{rows_per_item(plan)} output rows), {mr} x {nr} register tiles"
        )

    def prepare(self, plan, weight):
        """Return the packed weight (:func:`pack_weight`)."""
        return pack_weight(plan, weight)

    def forward(self, plan, x, weight, bias, prepared=None):
        """Run the tiles over every output row."""
        out = results.empty(plan.out_shape, plan.dtype)
        if out.size == 0:
            return out
        w, s = plan.window, plan.shapes
        nr = _tile_shape(plan)[1]
        panel = w.KH * w.KW * s.C * nr
        if prepared is None or prepared.shape != (-(-s.F // nr), panel):
            # (a weight packed for another tile width: config.TILE_KIND changed)
            prepared = pack_weight(plan, weight)
        wp = prepared.reshape(-1)
        Wp = _padded_width(plan)
        a_offs, b_offs, k = _k.segments(w.KH, w.KW, s.C, nr, w.dh, w.dw, Wp)
        has_bias = bias is not None
        dims = (
            config.TILE_KIND, s.N * w.OH,
            w.OH, w.OW, s.F, panel, s.C, w.H + w.top + w.bottom, Wp, w.sh, w.sw, k,
            int(has_bias), rows_per_item(plan),
        )  # fmt: skip
        values = dict(
            xp=_padded_input(plan, x),
            wp=wp,
            bias=bias if has_bias else out.reshape(-1)[:1],
            out=out.reshape(-1),
            a_offs=a_offs,
            b_offs=b_offs,
            dims=dims,
        )
        nbytes = x.nbytes + out.nbytes if plan.parallel else 0
        task = threads.Task(_k.forward_nhwc, _ARGS, self.items(plan, "forward"), nbytes)
        threads.execute(task, values)
        return out


#: the registered instance
ENTRY = Brgemm()
