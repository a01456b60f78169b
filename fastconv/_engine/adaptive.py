"""Adaptive pooling's plan and driver: windows of uneven size, on the threads.

An :class:`AdaptivePlan` holds the checked shapes and each axis's window
bounds (:func:`~fastconv._engine.geometry.adaptive_bounds`); the driver
functions run the kernels of :mod:`fastconv._kernels.adaptive` over
planes (NCHW), output rows (NHWC forward) or samples (NHWC backward), and
max pooling's backward scatters from the indices with the fixed-window
pooling's kernels.

Global average pooling (a 1 x 1 output, the head of most classifiers) has
kernels of its own over flat arrays, and its own split between threads
(:func:`_global_run`).
"""

import numpy as np

from .._kernels import adaptive as _k
from . import config, results, threads
from .args import dtype_rule
from .geometry import adaptive_bounds, adaptive_output_size
from .pool_driver import raise_bad_index, unpool_add
from .trace import phase

__all__ = [
    "AdaptivePlan",
    "plan_adaptive",
    "avg_forward",
    "avg_backward",
    "max_forward",
    "max_backward",
]


class AdaptivePlan:
    """Checked geometry of one adaptive pooling call.

    Attributes
    ----------
    layout : {"NCHW", "NHWC"}
    x_shape, out_shape : tuple of 4 ints
    dtype, result_dtype : numpy dtype
    hs, he, ws, we : int64 arrays
        Each output row's window rows ``[hs, he)``, each column's ``[ws, we)``.
    is_global : bool
        A 1 x 1 output: average pooling runs the global kernels.
    hwc : tuple of 3 ints
        (H, W, C) of the input.
    """

    def __init__(self, x_shape, dtype, output_size, layout):
        self.layout, self.x_shape = layout, tuple(x_shape)
        self.dtype, self.result_dtype = dtype_rule(dtype)
        nchw = layout == "NCHW"
        N, C, H, W = x_shape if nchw else (x_shape[0], x_shape[3], *x_shape[1:3])
        if min(H, W) < 1:
            raise ValueError(f"x must have H, W >= 1 for adaptive pooling, got {x_shape}")
        OH, OW = adaptive_output_size(output_size, (H, W))
        self.is_global, self.hwc = (OH, OW) == (1, 1), (H, W, C)
        self.out_shape = (N, C, OH, OW) if nchw else (N, OH, OW, C)
        (self.hs, self.he), (self.ws, self.we) = (
            adaptive_bounds(H, OH),
            adaptive_bounds(W, OW),
        )

    def _run(self, kernel, args, items, nbytes, values):
        """Run `kernel` over `items` (threads.Task), the plan's windows bound."""
        task = threads.Task(kernel, args, items, nbytes, "POOL_SPLIT_BYTES")
        bounds = dict(hs=self.hs, he=self.he, ws=self.ws, we=self.we)
        with phase("kernel"):
            return threads.execute(task, dict(bounds, **values))


def plan_adaptive(x_shape, dtype, output_size, layout):
    """Return the :class:`AdaptivePlan` of these arguments."""
    return AdaptivePlan(x_shape, dtype, output_size, layout)


#: the fields of the kernels' context (threads.Task): the input, the
#: windows' bounds (hs, he along H; ws, we along W), the output
_ARGS = ("x", "hs", "he", "ws", "we", "out")


def _planes(a):
    """(N, C, H, W) -> (N*C, H, W), a view."""
    return a.reshape(-1, a.shape[2], a.shape[3])


def avg_forward(plan, x):
    """Adaptive average pooling's output."""
    if plan.is_global:
        return _global_forward(plan, x)
    out = results.empty(plan.out_shape, plan.dtype)
    if out.size:
        work = x.nbytes + out.nbytes
        if plan.layout == "NCHW":  # planes
            values = dict(x=_planes(x), out=_planes(out))
            plan._run(_k.adaptive_avg_nchw, _ARGS, len(values["x"]), work, values)
        else:  # output rows
            rows = out.shape[0] * out.shape[1]
            plan._run(_k.adaptive_avg_nhwc, _ARGS, rows, work, dict(x=x, out=out))
    return out


def avg_backward(plan, grad_out):
    """grad_x of adaptive average pooling."""
    if plan.is_global:
        return _global_backward(plan, grad_out)
    grad_x = results.empty(plan.x_shape, plan.dtype)
    if grad_x.size:
        work = grad_out.nbytes + grad_x.nbytes
        if plan.layout == "NCHW":  # planes
            kernel, values = (
                _k.adaptive_avg_backward_nchw,
                dict(x=_planes(grad_out), out=_planes(grad_x)),
            )
            items = len(values["out"])
        else:  # samples
            kernel, values = _k.adaptive_avg_backward_nhwc, dict(x=grad_out, out=grad_x)
            items = grad_x.shape[0]
        plan._run(kernel, _ARGS, items, work, values)
    return grad_x


# --------------------------------------------------------------------------
# global average pooling


def _global_run(kernel, args, n, nbytes):
    """Call ``kernel(args, lo, hi)`` over items ``range(n)``, the caller's piece larger.

    A piece is a run of whole items (planes or samples) whose results do
    not depend on the piece, so the split changes no result.
    """
    k = min(threads.get_num_threads(), n, nbytes // config.GLOBAL_POOL_SPLIT_BYTES)
    if k <= 1:
        kernel(args, 0, n)
        return
    # pieces 0 .. k-2 go to the pool, the last (GLOBAL_POOL_CALLER_HEAD_BYTES
    # larger than each of them) runs on the calling thread; items are equal in size
    step = n * max(0.0, 1 - config.GLOBAL_POOL_CALLER_HEAD_BYTES / nbytes) / k
    bounds = [round(i * step) for i in range(k)] + [n]
    threads.parallel_for(
        lambda i, j: kernel(args, bounds[i], bounds[j]),
        k,
        nbytes,
        config.GLOBAL_POOL_SPLIT_BYTES,
    )


def _global_forward(plan, x):
    """Global average pooling's output: each plane's mean."""
    out = results.empty(plan.out_shape, plan.dtype)
    if out.size:
        H, W, C = plan.hwc
        xf, of = x.reshape(-1), out.reshape(-1)
        with phase("kernel"):
            if plan.layout == "NCHW":
                call = (_k.global_avg_nchw, (xf, H * W, of), of.size)
            else:
                call = (_k.global_avg_nhwc, (xf, H, W, C, of), plan.x_shape[0])
            _global_run(*call, x.nbytes + out.nbytes)
    return out


def _global_backward(plan, grad_out):
    """grad_x of global average pooling: each plane's grad_out / (H*W)."""
    grad_x = results.empty(plan.x_shape, plan.dtype)
    if grad_x.size:
        H, W, C = plan.hwc
        gy, gx = grad_out.reshape(-1), grad_x.reshape(-1)
        with phase("kernel"):
            if plan.layout == "NCHW":
                call = (_k.global_avg_backward_nchw, (gy, H * W, gx), gy.size)
            else:
                call = (_k.global_avg_backward_nhwc, (gy, H * W, C, gx), plan.x_shape[0])
            _global_run(*call, grad_out.nbytes + grad_x.nbytes)
    return grad_x


def max_forward(plan, x):
    """Adaptive max pooling's (out, indices); indices the flat h*W + w in the plane."""
    out = results.empty(plan.out_shape, plan.dtype)
    idx = results.empty(plan.out_shape, np.int64, 1)
    if out.size:
        work = x.nbytes + out.nbytes + idx.nbytes
        args = _ARGS + ("idx",)
        if plan.layout == "NCHW":  # planes
            values = dict(x=_planes(x), out=_planes(out), idx=_planes(idx))
            plan._run(_k.adaptive_max_nchw, args, len(values["x"]), work, values)
        else:  # output rows
            values = dict(x=x, out=out, idx=idx)
            rows = out.shape[0] * out.shape[1]
            plan._run(_k.adaptive_max_nhwc, args, rows, work, values)
    return out, idx


def max_backward(plan, grad_out, idx):
    """grad_x of adaptive max pooling: grad_out scattered to the indices (checked)."""
    grad_x = results.empty(plan.x_shape, plan.dtype)
    if not grad_x.size:
        return grad_x
    with phase("kernel"):
        bad = unpool_add(grad_out, idx, grad_x, plan.layout)
    if bad:
        nchw = plan.layout == "NCHW"
        H, W = plan.x_shape[2:] if nchw else plan.x_shape[1:3]
        raise_bad_index(idx, H * W)
    return grad_x
