"""Running a :class:`~fastconv._engine.plan.ConvPlan`: arrays in, pieces out to threads.

The driver checks arrays against the plan, allocates the results, holds
numpy's BLAS at one thread, runs the plan's items (forward) or slots
(backward) as pieces on the engine's threads, each piece calling a fused
kernel of :mod:`fastconv._kernels.conv` with its own column buffer, and
finally adds the slots' partial sums in slot order.
"""

import numpy as np

from .._kernels import conv as _k
from .._kernels import pointwise as _pw
from . import blas, direct, results, threads, trace, winograd, workspace
from .args import as_real_array, prepare
from .trace import phase

__all__ = [
    "check_arrays",
    "check_grad_out",
    "forward",
    "backward",
    "grad_input",
    "grad_weight",
    "grad_weight_and_forward",
    "grad_bias",
]

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
    if plan.passes["forward"] in _SEPARATE:
        return _SEPARATE[plan.passes["forward"]].forward(plan, x, weight, bias)
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

    extra = (plan.planar,) if plan.layout == "NHWC" else ()

    def piece(lo, hi, clock, tr):
        kernel(
            x,
            weight,
            b,
            has_bias,
            y,
            win,
            groups,
            rows,
            lo,
            hi,
            _columns(plan)[0],
            gemm,
            clock,
            tr,
            *extra,
        )

    threads.run_pieces(plan, plan.items, piece, x.nbytes + out.nbytes, _k.FORWARD_PHASES)
    return out


def backward(plan, grad_out, x, weight):
    """Return (grad_x, grad_weight, grad_bias) for clean arrays (compute dtype).

    grad_x and grad_weight each run the algorithm the plan chose for them;
    when both are "im2col" (or both "pointwise") one fused pass computes
    them together.

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
    gx_alg, gw_alg = plan.passes["grad_x"], plan.passes["grad_w"]
    if gx_alg == gw_alg and gx_alg in _FUSED:
        return _FUSED[gx_alg](plan, grad_out, x, weight, True, True)
    return (grad_input(plan, grad_out, weight),) + grad_weight(plan, grad_out, x, weight)


def grad_input(plan, grad_out, weight, bias=None):
    """Return grad_x alone, by the plan's grad_x algorithm (conv_transpose2d's).

    `bias` (C,), optional, is added to every pixel of each channel (a
    transposed convolution's): the im2col pass starts grad_x from it.
    """
    gx_alg = plan.passes["grad_x"]
    if gx_alg == "im2col":
        unread = np.empty(plan.x_shape, plan.dtype)  # x is read for grad_weight only
        return _backward_im2col(plan, grad_out, unread, weight, True, False, fill=bias)[0]
    if gx_alg in _FUSED:
        unread = np.empty(plan.x_shape, plan.dtype)
        gx = _FUSED[gx_alg](plan, grad_out, unread, weight, True, False)[0]
    else:
        gx = _SEPARATE[gx_alg].grad_x(plan, grad_out, weight)
    if bias is not None:
        gx += bias[:, None, None] if plan.layout == "NCHW" else bias
    return gx


def grad_weight(plan, grad_out, x, weight):
    """Return (grad_weight, grad_bias) alone, by the plan's grad_w algorithm."""
    gw_alg = plan.passes["grad_w"]
    if gw_alg in _FUSED:
        return _FUSED[gw_alg](plan, grad_out, x, weight, False, True)[1:]
    return tuple(_SEPARATE[gw_alg].grad_w(plan, grad_out, x))


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
    convolution's, which is not computed). When both passes are im2col
    and every channel unit holds whole groups, one fused pass builds each
    tile's columns once for both GEMMs; otherwise the passes run apart.
    """
    fused = (
        plan.passes["grad_w"] == "im2col"
        and plan.passes["forward"] == "im2col"
        and (plan.units == 1 or plan.groups > 1)
    )
    if not fused:
        return grad_weight(plan, grad_out, x, weight)[0], forward(plan, x, weight, None)
    _, gw, _, y = _backward_im2col(plan, grad_out, x, weight, False, True, want_y=True)
    return gw, y


def _backward_im2col(
    plan, grad_out, x, weight, want_gx, want_gw, want_y=False, fill=None
):
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
        extra = (plan.planar,) if plan.layout == "NHWC" else ()

        def piece(lo, hi, clock, tr):
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
                want_gx,
                want_gw,
                lo,
                hi,
                cols,
                scratch,
                gemm,
                clock,
                tr,
                y,
                want_y,
                fill,
                *extra,
            )

        work = 2 * x.nbytes + grad_out.nbytes
        threads.run_pieces(plan, plan.slots * units, piece, work, _k.BACKWARD_PHASES)
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
        threads.parallel_for(
            lambda a, b: _k.sum_slots(flat, a, b, grad_w), grad_w.size, parts.nbytes
        )
        grad_b = np.empty(s.F)
        _k.sum_slots(bias_parts, 0, s.F, grad_b)
    return grad_w.reshape(plan.weight_shape), grad_b.astype(plan.dtype)


_POINTWISE = {
    "NCHW": (_pw.weight_grads_nchw, _pw.input_grads_nchw),
    "NHWC": (_pw.weight_grads_nhwc, _pw.input_grads_nhwc),
}


def _backward_pointwise(plan, grad_out, x, weight, want_gx=True, want_gw=True):
    """Backward pass of a pointwise plan: a weight pass and an input pass."""
    s = plan.shapes
    grad_x = results.empty(plan.x_shape, plan.dtype)
    grad_w = np.empty(plan.weight_shape, plan.dtype)
    grad_b = np.zeros(s.F)  # float64
    weights, inputs = _POINTWISE[plan.layout]
    gemm = blas.gemm(plan.dtype)
    clock = trace.kernel_clock()
    n = threads.get_num_threads()
    traces = trace.kernel_traces(2 * n, len(_pw.PHASES))
    groups, rows, blocks = plan.groups, plan.tile_rows, plan.filter_blocks
    work = 2 * x.nbytes + grad_out.nbytes if plan.parallel else 0
    with blas.hold():
        if grad_w.size and want_gw:
            k1 = threads.run(
                lambda i, lo, hi: weights(
                    grad_out,
                    x,
                    grad_w,
                    grad_b,
                    groups,
                    blocks,
                    lo,
                    hi,
                    gemm,
                    clock,
                    traces[i],
                ),
                blocks,
                work,
            )
        else:
            k1 = 0
        if grad_x.size and want_gx:
            k2 = threads.run(
                lambda i, lo, hi: inputs(
                    grad_out,
                    weight,
                    grad_x,
                    groups,
                    rows,
                    lo,
                    hi,
                    gemm,
                    clock,
                    traces[n + i],
                ),
                plan.items,
                work,
            )
        else:
            k2 = 0
    trace.add_kernel_phases(
        _pw.PHASES[:1] + _pw.PHASES[2:], traces[:, [0, 2]], max(k1, 1)
    )
    trace.add_kernel_phases(_pw.PHASES[1:2], traces[n:, 1:2], max(k2, 1))
    if not want_gw:
        return grad_x, None, None
    return grad_x, grad_w, grad_b.astype(plan.dtype)


_FUSED = {"im2col": _backward_im2col, "pointwise": _backward_pointwise}
_SEPARATE = {"direct": direct, "winograd-2x2": winograd, "winograd-4x4": winograd}
