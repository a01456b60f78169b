"""The convolution algorithms: which apply to a layer, and which "auto" picks.

A plan runs three passes, each with an algorithm of its own: the forward
pass, grad_x and grad_weight. ``algorithm=`` on :func:`fastconv.conv2d`,
:func:`fastconv.conv2d_backward` and :func:`fastconv.plan_conv2d` names one
for every pass it implements (the others are chosen as by "auto"), and
raises a ValueError naming the argument when it does not apply to the
layer.

- "im2col": tile im2col -> GEMM (-> col2im); every layer.
- "pointwise": x as its own column matrix; 1x1, unit stride, no padding.
- "direct": the sums computed directly (:mod:`fastconv._kernels.direct`),
  vectorised along the output; depthwise, grouped and few-channel layers.
- "winograd-2x2": Winograd F(2x2, 3x3) (:mod:`fastconv._kernels.winograd`),
  16 GEMMs on transformed tiles; 3x3 stride-1 layers without groups, every
  pass (grad_weight as F(3x3, 2x2); grad_x where the padding is at most 2).
"""

import numpy as np

from . import winograd
from .geometry import phase_planes

__all__ = ["NAMES", "PASSES", "implements", "reason_not", "choose"]

PASSES = ("forward", "grad_x", "grad_w")
NAMES = ("auto", "im2col", "pointwise", "direct", "winograd-2x2")


def implements(name, shapes):
    """Return the passes algorithm `name` implements for this layer."""
    if name == "direct" and shapes.layout == "NHWC" and shapes.groups == 1:
        # along the filters: grad_x would be a reduction over them
        return ("forward", "grad_w")
    if name == "winograd-2x2":
        if winograd.grad_x_applies(shapes):
            return PASSES
        return ("forward", "grad_w")
    return PASSES


def _pointwise(win):
    return (
        win.KH == win.KW == win.sh == win.sw == 1
        and win.top == win.bottom == win.left == win.right == 0
    )


def reason_not(name, shapes):
    """Why algorithm `name` cannot run this layer (a phrase), or None if it can."""
    win = shapes.win
    if name == "pointwise" and not _pointwise(win):
        return (
            f"it needs a 1x1 kernel with stride 1 and no padding, got kernel "
            f"{(win.KH, win.KW)}, stride {(win.sh, win.sw)}, padding "
            f"{(win.top, win.bottom, win.left, win.right)}"
        )
    if name == "winograd-2x2":
        return winograd.applies(shapes)
    return None


def _auto(shapes, dtype, pass_):
    """Return the algorithm "auto" picks for one pass (see the README's table)."""
    win = shapes.win
    if _pointwise(win):
        return "pointwise"
    if (
        pass_ in implements("winograd-2x2", shapes)
        and winograd.applies(shapes) is None
        and min(shapes.C, shapes.F) >= 32
    ):
        # 2.25x fewer multiply-adds; the GEMMs need enough channels to run well
        return "winograd-2x2"
    few = shapes.layout == "NCHW" and shapes.Fg <= 8 and shapes.Cg <= 4
    if few and (pass_ == "forward" or dtype == np.float32):
        # few filters and channels (lenet-c1): GEMMs of <= 8 rows, columns
        # KK times x; the direct sums along the rows measured faster, 2x
        # forward; backward only in float32 (float64: 1.55 against 1.20 ms)
        return "direct"
    if pass_ in implements("direct", shapes) and shapes.groups > 1 and shapes.Cg <= 8:
        # depthwise and grouped layers with few channels per group, where the
        # per-group GEMMs are too small (measured: README, "Algorithms")
        return "direct"
    return "im2col"


def choose(shapes, dtype, requested="auto"):
    """Return the algorithm of each pass: a dict pass -> name.

    Raises ValueError (naming `algorithm`) for an unknown name or one that
    does not apply to the layer.
    """
    if not isinstance(requested, str) or requested not in NAMES:
        raise ValueError(
            f"algorithm must be one of {', '.join(map(repr, NAMES))}, got {requested!r}"
        )
    if requested != "auto":
        why = reason_not(requested, shapes)
        if why is not None:
            raise ValueError(
                f"algorithm {requested!r} does not apply to this layer: {why}"
            )
    passes = {}
    for p in PASSES:
        if requested == "auto":
            passes[p] = _auto(shapes, dtype, p)
        elif p in implements(requested, shapes):
            passes[p] = requested
        else:
            # a pass the forced algorithm lacks: "auto" would pick, but
            # "pointwise" runs all its passes or none (they share settings)
            other = _auto(shapes, dtype, p)
            passes[p] = "im2col" if other == "pointwise" else other
    return passes


def planes_of(shapes):
    """Return the phase-plane layout the plane algorithms use for this layer."""
    return phase_planes(shapes.win)
