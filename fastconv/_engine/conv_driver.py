"""Running a :class:`~fastconv._engine.plan.ConvPlan`: arrays in, pieces out to threads.

The driver checks arrays against the plan, allocates the results, holds
numpy's BLAS at one thread, runs the plan's items (forward) or slots
(backward) as pieces on the engine's threads, each piece calling a fused
kernel of :mod:`fastconv._kernels.conv` with its own column buffer, and
finally adds the slots' partial sums in slot order.
"""

import numpy as np

from .._kernels import conv as _k
from . import blas, threads, trace, workspace
from .args import as_real_array, prepare
from .trace import phase

__all__ = ["check_arrays", "check_grad_out", "forward", "backward"]

_FORWARD = {"NCHW": _k.forward_nchw, "NHWC": _k.forward_nhwc}
_BACKWARD = {"NCHW": _k.backward_nchw, "NHWC": _k.backward_nhwc}


def check_arrays(plan, x, weight, bias):
    """x, weight and bias as C-contiguous arrays of the plan's compute dtype."""
    x = as_real_array(x, "x")
    weight = as_real_array(weight, "weight")
    if x.shape != plan.x_shape:
        raise ValueError(
            f"x must have the plan's shape {plan.x_shape}, got shape {x.shape}"
        )
    if weight.shape != plan.weight_shape:
        raise ValueError(
            f"weight must have the plan's shape {plan.weight_shape}, got "
            f"shape {weight.shape}"
        )
    if bias is not None:
        bias = as_real_array(bias, "bias", ndim=None)
        F = plan.shapes.F
        if bias.shape != (F,):
            raise ValueError(
                f"bias must have shape (F,) = ({F},) to match weight {weight.shape}, "
                f"got shape {bias.shape}"
            )
        bias = prepare(bias, plan.dtype)
    return prepare(x, plan.dtype), prepare(weight, plan.dtype), bias


def check_grad_out(plan, grad_out):
    """grad_out as a C-contiguous array of the plan's compute dtype and output shape."""
    grad_out = as_real_array(grad_out, "grad_out")
    if grad_out.shape != plan.out_shape:
        raise ValueError(
            f"grad_out must have the output's shape {plan.out_shape}, "
            f"got shape {grad_out.shape}"
        )
    return prepare(grad_out, plan.dtype)


def _columns(plan, extra=0):
    """Return this thread's column buffer for one tile, and `extra` more elements.

    Both are views of the thread's workspace.
    """
    return workspace.scratch(plan.dtype, (max(plan.cols_elems, 1),), (max(extra, 1),))


def forward(plan, x, weight, bias):
    """Output of the convolution for clean arrays (compute dtype)."""
    out = np.empty(plan.out_shape, plan.dtype)
    if out.size == 0:
        return out
    kernel = _FORWARD[plan.layout]
    gemm = blas.gemm(plan.dtype)
    clock = trace.kernel_clock()
    traces = trace.kernel_traces(threads.get_num_threads(), len(_k.FORWARD_PHASES))
    has_bias = bias is not None
    b = bias if has_bias else out.reshape(-1)[:1]  # unused placeholder
    win, groups, rows = plan.window, plan.groups, plan.tile_rows

    def piece(i, lo, hi):
        kernel(
            x,
            weight,
            b,
            has_bias,
            out,
            win,
            groups,
            rows,
            lo,
            hi,
            _columns(plan)[0],
            gemm,
            clock,
            traces[i],
        )

    work = x.nbytes + out.nbytes if plan.parallel else 0
    with blas.hold():
        pieces = threads.run(piece, plan.items, work)
    trace.add_kernel_phases(_k.FORWARD_PHASES, traces, pieces)
    return out


def backward(plan, grad_out, x, weight):
    """(grad_x, grad_weight, grad_bias) for clean arrays (compute dtype).

    Reductions over the batch follow one rule in both layouts: each slot
    sums its samples' contributions tile by tile (grad_weight by the GEMMs,
    in the compute dtype; grad_bias in float64), and the slots are added in
    slot order; grad_bias is rounded to the compute dtype once, at the end.
    """
    s = plan.shapes
    win = plan.window
    K = s.Cg * win.KH * win.KW
    grad_x = np.empty(plan.x_shape, plan.dtype)
    # grad_weight as the GEMMs see it: (F, Cg*KK) in NCHW, (KK*Cg, F) in NHWC
    wshape = (s.F, K) if plan.layout == "NCHW" else (K, s.F)
    parts = np.empty((plan.slots,) + wshape, plan.dtype)
    bias_parts = np.empty((plan.slots, s.F), np.float64)
    if grad_x.size or parts.size:
        kernel = _BACKWARD[plan.layout]
        gemm = blas.gemm(plan.dtype)
        clock = trace.kernel_clock()
        traces = trace.kernel_traces(threads.get_num_threads(), len(_k.BACKWARD_PHASES))
        groups, rows, units = plan.groups, plan.tile_rows, plan.units

        def piece(i, lo, hi):
            cols, scratch = _columns(plan, plan.unit_scratch)
            kernel(
                grad_out,
                x,
                weight,
                grad_x,
                parts,
                bias_parts,
                win,
                groups,
                rows,
                units,
                lo,
                hi,
                cols,
                scratch,
                gemm,
                clock,
                traces[i],
            )

        work = 2 * x.nbytes + grad_out.nbytes if plan.parallel else 0
        with blas.hold():
            pieces = threads.run(piece, plan.slots * units, work)
        trace.add_kernel_phases(_k.BACKWARD_PHASES, traces, pieces)
    else:
        parts[...] = 0
        bias_parts[...] = 0
    with phase("sum slots"):
        if plan.slots == 1:
            grad_w, grad_b = parts[0], bias_parts[0]
        else:
            flat = parts.reshape(plan.slots, -1)  # (S, F*K)
            grad_w = np.empty(flat.shape[1], plan.dtype)
            threads.parallel_for(
                lambda a, b: _k.sum_slots(flat, a, b, grad_w), grad_w.size, parts.nbytes
            )
            grad_b = np.empty(s.F)
            _k.sum_slots(bias_parts, 0, s.F, grad_b)
    return grad_x, grad_w.reshape(plan.weight_shape), grad_b.astype(plan.dtype)
