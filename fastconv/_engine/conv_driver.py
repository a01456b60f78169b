"""Running a :class:`~fastconv._engine.plan.ConvPlan`: arrays in, results out.

The driver checks arrays against the plan and runs each pass with the
algorithm the plan holds for it (``plan.algos``, entries of
:mod:`.registry`): the algorithms cut their work into pieces for the
engine's threads, hold numpy's BLAS at one thread meanwhile, and add
partial sums in a fixed order.
"""

import numpy as np

from .._kernels import conv as _k
from . import results
from .args import as_real_array, prepare
from .trace import phase

__all__ = [
    "check_weight",
    "check_arrays",
    "check_grad_out",
    "forward",
    "backward",
    "grad_input",
    "grad_weight",
    "grad_weight_and_forward",
    "grad_bias",
]


def check_weight(plan, weight):
    """Weight as a C-contiguous array of the plan's shape and compute dtype."""
    weight = as_real_array(weight, "weight")
    if weight.shape != plan.weight_shape:
        raise ValueError(
            f"weight must have the plan's shape {plan.weight_shape}, got "
            f"shape {weight.shape}"
        )
    return prepare(weight, plan.dtype)


def check_arrays(plan, x, weight, bias):
    """x, weight and bias as C-contiguous arrays of the plan's compute dtype."""
    x = as_real_array(x, "x")
    if x.shape != plan.x_shape:
        raise ValueError(
            f"x must have the plan's shape {plan.x_shape}, got shape {x.shape}"
        )
    weight = check_weight(plan, weight)
    if bias is not None:
        bias = as_real_array(bias, "bias", ndim=None)
        F = plan.shapes.F
        if bias.shape != (F,):
            raise ValueError(
                f"bias must have shape (F,) = ({F},) to match weight {weight.shape}, "
                f"got shape {bias.shape}"
            )
        bias = prepare(bias, plan.dtype)
    return prepare(x, plan.dtype), weight, bias


def check_grad_out(plan, grad_out):
    """grad_out as a C-contiguous array of the plan's compute dtype and output shape."""
    grad_out = as_real_array(grad_out, "grad_out")
    if grad_out.shape != plan.out_shape:
        raise ValueError(
            f"grad_out must have the output's shape {plan.out_shape}, "
            f"got shape {grad_out.shape}"
        )
    return prepare(grad_out, plan.dtype)


def forward(plan, x, weight, bias, prepared=None):
    """Output of the convolution for clean arrays (compute dtype).

    `prepared`: what the forward algorithm made of this weight beforehand
    (:meth:`ConvPlan.prepare_weight`), or None.
    """
    return plan.algos["forward"].forward(plan, x, weight, bias, prepared)


def backward(plan, grad_out, x, weight):
    """Return (grad_x, grad_weight, grad_bias) for clean arrays (compute dtype).

    grad_x and grad_weight each run the algorithm the plan chose for them;
    when both run one that fuses them (im2col, pointwise), one pass
    computes them together.

    Reductions over the batch follow one rule in both layouts: each slot
    sums its samples' contributions tile by tile (grad_weight by the GEMMs,
    in the compute dtype; grad_bias in float64), and the slots are added in
    slot order; grad_bias is rounded to the compute dtype once, at the end.
    A pointwise plan has one slot: its GEMMs sum over the whole batch.
    """
    if plan.shapes.C == 0:  # no input channels: only grad_bias has entries
        return (
            results.empty(plan.x_shape, plan.dtype),
            np.zeros(plan.weight_shape, plan.dtype),
            grad_bias(grad_out, plan.layout),
        )
    gx, gw = plan.algos["grad_x"], plan.algos["grad_w"]
    if gx is gw and gx.fuses_backward:
        return gx.backward(plan, grad_out, x, weight)
    return (gx.grad_x(plan, grad_out, weight),) + tuple(
        gw.grad_w(plan, grad_out, x, weight)
    )


def grad_input(plan, grad_out, weight, bias=None):
    """Return grad_x alone, by the plan's grad_x algorithm (conv_transpose2d's).

    `bias` (C,), optional, is added to every pixel of each channel (a
    transposed convolution's): the im2col pass starts grad_x from it.
    """
    return plan.algos["grad_x"].grad_x(plan, grad_out, weight, fill=bias)


def grad_weight(plan, grad_out, x, weight):
    """Return (grad_weight, grad_bias) alone, by the plan's grad_w algorithm."""
    return tuple(plan.algos["grad_w"].grad_w(plan, grad_out, x, weight))


def grad_bias(grad_out, layout):
    """Return grad_out summed over all but its channel axis, in float64 (C,).

    `grad_out` is clean (C-contiguous) NCHW or NHWC; one thread, in a fixed
    order (numpy's float64 sum of a float32 array converts it in buffers,
    2-4x slower).
    """
    C = grad_out.shape[1] if layout == "NCHW" else grad_out.shape[3]
    out = np.empty(C)
    kernel = _k.channel_sums_nchw if layout == "NCHW" else _k.channel_sums_nhwc
    with phase("grad_bias"):
        kernel(grad_out, out)
    return out


def grad_weight_and_forward(plan, grad_out, x, weight):
    """Return (grad_weight, forward output of x) for clean arrays.

    A transposed convolution's backward is both passes of this plan's
    convolution on the same input: its grad_x is the forward output of its
    grad_out, its grad_weight this grad_weight (its grad_bias is not this
    convolution's, which is not computed). When one algorithm runs both
    passes it may share their work (im2col builds each tile's columns once
    for both GEMMs); otherwise the passes run apart.
    """
    fwd, gw = plan.algos["forward"], plan.algos["grad_w"]
    if fwd is gw:
        return gw.grad_w_and_forward(plan, grad_out, x, weight)
    return gw.grad_w(plan, grad_out, x, weight)[0], fwd.forward(plan, x, weight, None)
