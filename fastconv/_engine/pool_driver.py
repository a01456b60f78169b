"""Running a :class:`~fastconv._engine.plan.PoolPlan`: its kernels, on the threads."""

import numpy as np

from .._kernels import pool as _k
from . import config, results, threads
from .trace import phase

__all__ = [
    "max_forward",
    "max_backward",
    "avg_forward",
    "avg_backward",
    "raise_bad_index",
]


def _parallel(plan, fn, n, nbytes):
    """threads.parallel_for with the pooling split size of `plan`'s kernels."""
    few = plan.layout == "NHWC" and plan.x_shape[3] < config.POOL_ROWS_BELOW_CHANNELS
    split = config.SPLIT_MIN_BYTES if few else config.POOL_SPLIT_BYTES
    threads.parallel_for(fn, n, nbytes, split)


def _items(plan, *arrays):
    """Return the arrays as the plan's items: NCHW (N, C, ...) as (N*C, 1, ...)."""
    if plan.layout != "NCHW":
        return arrays
    return tuple(a.reshape(-1, 1, *a.shape[2:]) if a.ndim == 4 else a for a in arrays)


def max_forward(plan, x, want_idx):
    """Return (out, indices) of max pooling; indices is a dummy without `want_idx`."""
    out = results.empty(plan.out_shape, plan.dtype)
    idx = (
        results.empty(plan.out_shape, np.int64, 1)
        if want_idx
        else np.empty((1,) * 4, np.int64)
    )
    if out.size:
        win = plan.window
        work = x.nbytes + out.nbytes
        xs, outs = _items(plan, x, out)
        idxs = _items(plan, idx)[0] if want_idx else idx
        values = plan.kernels["forward"]
        if want_idx or values == "max_pool_nhwc":  # kernels with want_idx
            kernel = getattr(_k, plan.kernels["forward with indices"])
        else:
            kernel = getattr(_k, values)
        if plan.layout == "NHWC":  # a range of output rows each
            if kernel is _k.max_pool_values_nhwc_rows:

                def piece(a, b):
                    kernel(x, win, out, a, b)
            else:

                def piece(a, b):
                    kernel(x, win, out, idx, want_idx, a, b)
        elif want_idx:

            def piece(a, b):
                kernel(xs[a:b], win, outs[a:b], idxs[a:b], True)
        else:

            def piece(a, b):
                kernel(xs[a:b], win, outs[a:b])

        with phase("kernel"):
            _parallel(plan, piece, plan.forward_items, work)
    return out, idx


def max_backward(plan, grad_out, x, idx=None):
    """grad_x of max pooling, each grad_out entry routed to its window's argmax.

    With `idx` (int64, the output's shape, from the forward pass) the argmax
    is taken from it instead of searched for; an index outside the input
    plane raises ValueError.
    """
    grad_x = results.empty(plan.x_shape, plan.dtype)
    if grad_x.size:
        if not grad_out.size:
            grad_x[...] = 0
            return grad_x
        if idx is not None:
            return _unpool(plan, grad_out, idx, grad_x)
        kernel = getattr(_k, plan.kernels["backward"])
        win = plan.window
        gys, xs, gxs = _items(plan, grad_out, x, grad_x)
        with phase("kernel"):
            _parallel(
                plan,
                lambda a, b: kernel(gys[a:b], xs[a:b], win, gxs[a:b]),
                plan.items,
                2 * x.nbytes + grad_out.nbytes,
            )
    return grad_x


def _tiles(win):
    """Whether the windows tile the plane: stride = kernel, no padding or dilation."""
    return (
        (win.sh, win.sw) == (win.KH, win.KW)
        and (win.dh, win.dw) == (1, 1)
        and win.top == win.left == 0
    )


def _unpool(plan, grad_out, idx, grad_x):
    win = plan.window
    KH, KW = win.KH, win.KW
    work = grad_out.nbytes + idx.nbytes + grad_x.nbytes
    if plan.layout == "NCHW":  # planes
        gys, idxs, gxs = _items(plan, grad_out, idx, grad_x)
        n = n_store = plan.items

        def add(a, b):
            return _k.max_unpool_add_nchw(gys[a:b], idxs[a:b], gxs[a:b])

        def store(a, b):
            return _k.max_unpool_tiled_nchw(gys[a:b], idxs[a:b], gxs[a:b], KH, KW)

        tiled = win.H * win.W * grad_x.itemsize >= config.POOL_TILED_PLANE_BYTES
    else:  # (sample, channel block); stored by output rows, which own their input rows
        B = plan.channel_blocks
        n, n_store = plan.items * B, plan.forward_items

        def add(a, b):
            return _k.max_unpool_add_nhwc(grad_out, idx, grad_x, a, b, B)

        def store(a, b):
            return _k.max_unpool_tiled_nhwc(grad_out, idx, grad_x, KH, KW, a, b)

        # a loop along C: not for few channels (cs231n-pool's 3: 7x slower)
        tiled = plan.x_shape[3] >= config.POOL_ROWS_BELOW_CHANNELS
    if tiled and _tiles(win):
        # each element stored once; valid if each index is in its own window
        hits = []
        with phase("kernel"):
            _parallel(plan, lambda a, b: hits.append(store(a, b)), n_store, work)
        if sum(hits) == idx.size:
            return grad_x
    bad = []  # one entry a piece: -1, or where it stopped
    with phase("kernel"):
        _parallel(plan, lambda a, b: bad.append(add(a, b)), n, work)
    if max(bad) >= 0:
        raise_bad_index(idx, plan.window.H * plan.window.W)
    return grad_x


def raise_bad_index(idx, plane):
    """Raise the ValueError for the first of `idx` outside [0, plane)."""
    flat = idx.reshape(-1)
    pos = int(np.flatnonzero((flat < 0) | (flat >= plane))[0])
    where = np.unravel_index(pos, idx.shape)
    raise ValueError(
        f"indices must lie in an input plane, [0, H*W) = [0, {plane}), got "
        f"{int(flat[pos])} at {tuple(int(i) for i in where)}"
    )


def avg_forward(plan, x):
    """Average pooling's output."""
    out = results.empty(plan.out_shape, plan.dtype)
    if out.size:
        kernel = getattr(_k, plan.kernels["forward"])
        win, inc, div = plan.window, plan.count_include_pad, plan.divisor
        xs, outs = _items(plan, x, out)
        if plan.layout == "NHWC":  # a range of output rows each

            def piece(a, b):
                kernel(x, win, inc, div, out, a, b)
        else:

            def piece(a, b):
                kernel(xs[a:b], win, inc, div, outs[a:b])

        with phase("kernel"):
            _parallel(plan, piece, plan.forward_items, x.nbytes + out.nbytes)
    return out


def avg_backward(plan, grad_out):
    """grad_x of average pooling: each grad_out entry spread over its window."""
    grad_x = results.empty(plan.x_shape, plan.dtype)
    if grad_x.size:
        if not grad_out.size:
            grad_x[...] = 0
            return grad_x
        kernel = getattr(_k, plan.kernels["backward"])
        win, inc, div = plan.window, plan.count_include_pad, plan.divisor
        gys, gxs = _items(plan, grad_out, grad_x)
        B = plan.channel_blocks
        with phase("kernel"):
            _parallel(
                plan,
                lambda a, b: (
                    kernel(gys[a:b], win, inc, div, gxs[a:b])
                    if plan.layout == "NCHW"
                    else kernel(grad_out, win, inc, div, grad_x, a, b, B)
                ),
                plan.items * B,  # NCHW: B = 1
                grad_out.nbytes + grad_x.nbytes,
            )
    return grad_x
