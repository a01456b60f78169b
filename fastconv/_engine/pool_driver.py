"""Running a :class:`~fastconv._engine.plan.PoolPlan`: its kernels, on the threads."""

import numpy as np

from .._kernels import pool as _k
from . import threads
from .trace import phase

__all__ = ["max_forward", "max_backward", "avg_forward", "avg_backward"]


def max_forward(plan, x, want_idx):
    """Return (out, indices) of max pooling; indices is a dummy without `want_idx`."""
    out = np.empty(plan.out_shape, plan.dtype)
    idx = np.empty(plan.out_shape if want_idx else (1, 1, 1, 1), np.int64)
    if out.size:
        win = plan.window
        work = x.nbytes + out.nbytes
        with phase("kernel"):
            if not want_idx and plan.layout == "NCHW":
                kernel = getattr(_k, plan.kernels["forward"])
                threads.parallel_for(
                    lambda a, b: kernel(x[a:b], win, out[a:b]), plan.items, work
                )
            else:
                kernel = getattr(_k, plan.kernels["forward with indices"])
                threads.parallel_for(
                    lambda a, b: kernel(
                        x[a:b], win, out[a:b], idx[a:b] if want_idx else idx, want_idx
                    ),
                    plan.items,
                    work,
                )
    return out, idx


def max_backward(plan, grad_out, x):
    """grad_x of max pooling, each grad_out entry routed to its window's argmax."""
    grad_x = np.empty(plan.x_shape, plan.dtype)
    if grad_x.size:
        if not grad_out.size:
            grad_x[...] = 0
            return grad_x
        kernel = getattr(_k, plan.kernels["backward"])
        win = plan.window
        with phase("kernel"):
            threads.parallel_for(
                lambda a, b: kernel(grad_out[a:b], x[a:b], win, grad_x[a:b]),
                plan.items,
                2 * x.nbytes + grad_out.nbytes,
            )
    return grad_x


def avg_forward(plan, x):
    """Average pooling's output."""
    out = np.empty(plan.out_shape, plan.dtype)
    if out.size:
        kernel = getattr(_k, plan.kernels["forward"])
        win, inc, div = plan.window, plan.count_include_pad, plan.divisor
        with phase("kernel"):
            threads.parallel_for(
                lambda a, b: kernel(x[a:b], win, inc, div, out[a:b]),
                plan.items,
                x.nbytes + out.nbytes,
            )
    return out


def avg_backward(plan, grad_out):
    """grad_x of average pooling: each grad_out entry spread over its window."""
    grad_x = np.empty(plan.x_shape, plan.dtype)
    if grad_x.size:
        if not grad_out.size:
            grad_x[...] = 0
            return grad_x
        kernel = getattr(_k, plan.kernels["backward"])
        win, inc, div = plan.window, plan.count_include_pad, plan.divisor
        with phase("kernel"):
            threads.parallel_for(
                lambda a, b: kernel(grad_out[a:b], win, inc, div, grad_x[a:b]),
                plan.items,
                grad_out.nbytes + grad_x.nbytes,
            )
    return grad_x
