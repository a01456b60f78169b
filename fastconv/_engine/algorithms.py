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
- "winograd-4x4": Winograd F(4x4, 3x3), 36 GEMMs on transformed tiles; the
  same layers and passes (grad_weight as F(3x3, 4x4)).
"""

import numpy as np

from . import config, winograd
from .geometry import phase_planes

__all__ = ["NAMES", "PASSES", "implements", "reason_not", "choose"]

PASSES = ("forward", "grad_x", "grad_w")
NAMES = ("auto", "im2col", "pointwise", "direct", "winograd-2x2", "winograd-4x4")


def implements(name, shapes):
    """Return the passes algorithm `name` implements for this layer."""
    if name == "direct" and shapes.layout == "NHWC" and shapes.groups == 1:
        # along the filters: grad_x would be a reduction over them
        return ("forward", "grad_w")
    if name.startswith("winograd"):
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
    if name.startswith("winograd"):
        return winograd.applies(shapes)
    return None


# --------------------------------------------------------------------------
# the cost model: im2col against Winograd for the forward pass and grad_x
# (its fitted coefficients: config.COST)


def features(name, shapes, dtype, pass_):
    """Return the cost model's counts for one pass (dotted with config.COST).

    im2col: (1, multiply-adds, column elements, weight elements read by the
    tiles' GEMMs: the weight once a tile of about ``TILE_BYTES`` of columns).
    Winograd F(m x m, 3x3), a = m + 2: (1, GEMM multiply-adds
    a*a*tiles*C*F, input transform elements a*a*tiles*C, output transform
    elements a*a*tiles*F, weight transform elements a*a*C*F). For grad_x, C
    and F swap places.
    """
    win = shapes.win
    OH, OW = (win.H, win.W) if pass_ == "grad_x" else (win.OH, win.OW)
    C, F = (shapes.F, shapes.C) if pass_ == "grad_x" else (shapes.C, shapes.F)
    P = OH * OW
    if name == "im2col":
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
    m = 4 if name == "winograd-4x4" else 2
    a2 = (m + 2) ** 2
    t = shapes.N * winograd.tiles(OH, win.dh, m) * winograd.tiles(OW, win.dw, m)
    return (1.0, a2 * t * C * F, a2 * t * C, a2 * t * F, a2 * C * F)


def cost(name, shapes, dtype, pass_):
    """Return the predicted seconds of a pass by im2col or a Winograd algorithm."""
    coef = config.COST[np.dtype(dtype).name, shapes.layout]
    c = coef[0] if name == "im2col" else coef[1]
    return float(np.dot(c, features(name, shapes, dtype, pass_)))


def _winograd_candidates(shapes, dtype, pass_):
    """Winograd algorithms "auto" may pick for this pass."""
    if winograd.applies(shapes) is not None or pass_ not in implements(
        "winograd-2x2", shapes
    ):
        return []
    if min(shapes.C, shapes.F) < config.WINOGRAD_MIN_CHANNELS:
        return []
    names = ["winograd-2x2"]
    big = max(shapes.C, shapes.F) > config.WINOGRAD_4X4_MAX_CHANNELS_F32
    if pass_ in implements("winograd-4x4", shapes) and not (dtype == np.float32 and big):
        names.append("winograd-4x4")
    return names


def _auto(shapes, dtype, pass_):
    """Return the algorithm "auto" picks for one pass (see docs/algorithms.md)."""
    win = shapes.win
    if _pointwise(win):
        return "pointwise"
    wino = _winograd_candidates(shapes, dtype, pass_)
    if wino and pass_ == "grad_w":
        # F(3x3, m x m), 2.25x or 4x fewer multiply-adds than im2col's, its
        # GEMMs those of the forward pass: the tile size the model picks there
        return min(wino, key=lambda n: cost(n, shapes, dtype, "forward"))
    if wino:
        names = ["im2col", *wino]
        # the cheapest by the cost model (config.COST)
        return min(names, key=lambda n: cost(n, shapes, dtype, pass_))
    few = (
        shapes.layout == "NCHW"
        and shapes.Fg <= config.DIRECT_FEW_FILTERS
        and shapes.Cg <= config.DIRECT_FEW_CHANNELS
    )
    if few and (pass_ == "forward" or dtype == np.float32):
        # few filters and channels (lenet-c1; config.DIRECT_FEW_FILTERS)
        return "direct"
    if (
        pass_ in implements("direct", shapes)
        and shapes.groups > 1
        and shapes.Cg <= config.DIRECT_GROUP_MAX_CHANNELS
    ):
        # depthwise and grouped layers with few channels per group, where the
        # per-group GEMMs are too small (measured: docs/algorithms.md)
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
