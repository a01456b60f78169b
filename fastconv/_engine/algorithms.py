"""The selector: which convolution algorithms apply to a layer, and which "auto" picks.

The algorithms themselves are registered in :mod:`.registry`, one module
each (:mod:`.im2col`, :mod:`.pointwise`, :mod:`.direct`, :mod:`.winograd`),
all implementing :class:`~fastconv._engine.algorithm.Algorithm`; this
module owns "auto": its rules, the cost model and (with :mod:`.autotune`)
the timed choice. A plan runs three passes, each with an algorithm of its own: the forward
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
- "brgemm": fastconv's register tiles (:mod:`fastconv._kernels.brgemm`),
  the window's segments summed in registers; the forward pass of NHWC
  layers without groups.
"""

import numpy as np

from . import config, registry
from .algorithm import PASSES
from .geometry import phase_planes
from .pointwise import applies as _pointwise

__all__ = ["NAMES", "PASSES", "implements", "reason_not", "features", "cost", "choose"]

NAMES = registry.NAMES


def implements(name, shapes):
    """Return the passes algorithm `name` implements for this layer."""
    return registry.get(name).implements(shapes)


def reason_not(name, shapes):
    """Why algorithm `name` cannot run this layer (a phrase), or None if it can."""
    return registry.get(name).reason_not(shapes)


# --------------------------------------------------------------------------
# the cost model: im2col against Winograd for the forward pass and grad_x
# (its fitted coefficients: config.COST)


def features(name, shapes, dtype, pass_):
    """Return algorithm `name`'s cost features for one pass (dotted with config.COST)."""
    return registry.get(name).features(shapes, dtype, pass_)


def cost(name, shapes, dtype, pass_):
    """Return the predicted seconds of a pass by im2col or a Winograd algorithm."""
    alg = registry.get(name)
    coef = config.COST[np.dtype(dtype).name, shapes.layout]
    rows = {"im2col": coef[0], "winograd": coef[1]}
    if alg.cost_model not in rows:
        raise ValueError(f"algorithm {name!r} is not in the cost model")
    c = rows[alg.cost_model]
    return float(np.dot(c, alg.features(shapes, dtype, pass_)))


def _winograd_candidates(shapes, dtype, pass_):
    """Winograd algorithms "auto" may pick for this pass."""
    if reason_not("winograd-2x2", shapes) is not None or pass_ not in implements(
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
    """Return the algorithm "auto" picks for one pass (see docs/algorithms.md).

    The rules below, then the register tiles ("brgemm") for an NHWC forward
    pass they give to im2col, where the tiles measured faster.
    """
    name = _rules(shapes, dtype, pass_)
    if name == "im2col" and _tiles_pay(shapes, pass_):
        return "brgemm"
    return name


def _tiles_pay(shapes, pass_):
    """Whether "brgemm" runs this pass faster than im2col (config.BRGEMM_*)."""
    if pass_ not in implements("brgemm", shapes) or reason_not("brgemm", shapes):
        return False
    first_layer = shapes.C <= config.BRGEMM_MAX_CHANNELS
    wide = (
        shapes.F >= config.BRGEMM_MIN_FILTERS and shapes.win.OW >= config.BRGEMM_MIN_WIDTH
    )
    return first_layer or wide


def _rules(shapes, dtype, pass_):
    """Return the algorithm of auto's rules for one pass, the tiles aside."""
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
            passes[p] = "im2col" if registry.get(other).all_or_none else other
    return passes


def planes_of(shapes):
    """Return the phase-plane layout the plane algorithms use for this layer."""
    return phase_planes(shapes.win)
