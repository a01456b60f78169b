"""Running a :class:`~fastconv._engine.plan.PoolPlan`: its tasks, on the threads.

:func:`tasks` chooses the kernels of a plan once, as data
(:class:`~fastconv._engine.threads.Task`: a kernel, the names of its
arguments, its items and the bytes they touch); a call binds its arrays to
those names and :func:`~fastconv._engine.threads.execute` runs the pieces.
Every pooling kernel takes its range of items last: planes (N*C of them,
NCHW), output rows (N*OH, NHWC forward) or (sample, channel block) pairs
(NHWC backward).
"""

from math import prod

import numpy as np

from .._kernels import pool as _k
from . import config, results
from .threads import Task, execute
from .trace import phase

__all__ = [
    "tasks",
    "max_forward",
    "max_backward",
    "avg_forward",
    "avg_backward",
    "unpool_add",
    "raise_bad_index",
]

#: the fields of each kernel's context (threads.Task), by name
_X_OUT = ("x", "win", "out")
_X_OUT_IDX = ("x", "win", "out", "idx", "want_idx")
_SEARCH = ("grad_out", "x", "win", "grad_x")
_UNPOOL = ("grad_out", "idx", "grad_x")
_STORE = ("grad_out", "idx", "grad_x", "KH", "KW")
_AVG = ("x", "win", "inc", "div", "out")
_AVG_BACK = ("grad_out", "win", "inc", "div", "grad_x")


def tasks(plan):
    """Return the parallel work of each pass of `plan`, a dict of Tasks.

    Max pooling: "forward" (values only), "forward with indices", "backward"
    (the window search), "unpool" (from indices, adding) and "unpool tiled"
    (from indices, storing: windows that tile the plane, else None).
    Average pooling: "forward" and "backward".
    """
    win = plan.window
    nchw = plan.layout == "NCHW"
    # NHWC with few channels: a loop along C per pixel is too short, so the
    # kernels that run whole rows of pixels at once
    few = not nchw and plan.x_shape[3] < config.POOL_ROWS_BELOW_CHANNELS
    split = "SPLIT_MIN_BYTES" if few else "POOL_SPLIT_BYTES"
    size = np.dtype(plan.dtype).itemsize
    xb, ob = prod(plan.x_shape) * size, prod(plan.out_shape) * size
    ib = prod(plan.out_shape) * 8  # int64 indices
    rows, samples = plan.forward_items, plan.items
    blocks = plan.items * plan.channel_blocks  # NCHW: channel_blocks = 1

    def task(kernel, args, items, nbytes):
        return Task(kernel, args, items, nbytes, split)

    if plan.kind == "avg":
        if nchw:
            fwd, back, back_args = _k.avg_pool_nchw, _k.avg_pool_backward_nchw, _AVG_BACK
        else:
            fwd, back = _k.avg_pool_nhwc, _k.avg_pool_backward_nhwc
            back_args = _AVG_BACK + ("B",)
        return {
            "forward": task(fwd, _AVG, rows, xb + ob),
            "backward": task(back, back_args, blocks, ob + xb),
        }
    if nchw:
        values = task(_k.max_pool_values_nchw, _X_OUT, rows, xb + ob)
        indices = task(_k.max_pool_nchw, _X_OUT_IDX, rows, xb + ob)
        search = task(_k.max_pool_backward_nchw, _SEARCH, samples, 2 * xb + ob)
        add = task(_k.max_unpool_add_nchw, _UNPOOL, samples, ob + ib + xb)
        store = task(_k.max_unpool_tiled_nchw, _STORE, samples, ob + ib + xb)
        tiled = True  # planes from POOL_TILED_PLANE_BYTES (read per call)
    else:
        if few:
            values = task(_k.max_pool_values_nhwc_rows, _X_OUT, rows, xb + ob)
            indices = task(_k.max_pool_nhwc_rows, _X_OUT_IDX, rows, xb + ob)
            search = task(_k.max_pool_backward_nhwc_rows, _SEARCH, samples, 2 * xb + ob)
        else:  # the values come from the kernel with indices, told not to store them
            values = task(_k.max_pool_nhwc, _X_OUT_IDX, rows, xb + ob)
            indices = values
            search = task(_k.max_pool_backward_nhwc, _SEARCH, samples, 2 * xb + ob)
        add = task(_k.max_unpool_add_nhwc, _UNPOOL + ("B",), blocks, ob + ib + xb)
        # stored by output rows, which own their input rows
        store = task(_k.max_unpool_tiled_nhwc, _STORE, rows, ob + ib + xb)
        # a loop along C: not for few channels (cs231n-pool's 3: 7x slower)
        tiled = not few
    return {
        "forward": values,
        "forward with indices": indices,
        "backward": search,
        "unpool": add,
        "unpool tiled": store if tiled and _tiles(win) else None,
    }


def _tiles(win):
    """Whether the windows tile the plane: stride = kernel, no padding or dilation."""
    return (
        (win.sh, win.sw) == (win.KH, win.KW)
        and (win.dh, win.dw) == (1, 1)
        and win.top == win.left == 0
    )


def _run(plan, name, **values):
    """Run the plan's task `name` on the call's values (NCHW arrays as planes)."""
    bound = dict(plan.task_constants, **values)
    if plan.layout == "NCHW":  # (N, C, H, W) as N*C planes (N*C, 1, H, W)
        for key, v in values.items():
            if type(v) is np.ndarray:
                bound[key] = v.reshape(-1, 1, v.shape[2], v.shape[3])
    with phase("kernel"):
        return execute(plan.tasks[name], bound)


def max_forward(plan, x, want_idx):
    """Return (out, indices) of max pooling; indices is a dummy without `want_idx`."""
    out = results.empty(plan.out_shape, plan.dtype)
    if want_idx:
        idx = results.empty(plan.out_shape, np.int64, 1)
    else:  # a dummy the kernels do not write
        idx = np.empty((1,) * 4, np.int64)
    if out.size:
        name = "forward with indices" if want_idx else "forward"
        _run(plan, name, x=x, out=out, idx=idx, want_idx=want_idx)
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
        _run(plan, "backward", grad_out=grad_out, x=x, grad_x=grad_x)
    return grad_x


def _unpool(plan, grad_out, idx, grad_x):
    arrays = dict(grad_out=grad_out, idx=idx, grad_x=grad_x)
    win = plan.window
    big = win.H * win.W * grad_x.itemsize >= config.POOL_TILED_PLANE_BYTES
    if plan.tasks["unpool tiled"] is not None and (big or plan.layout == "NHWC"):
        # each element stored once; valid if each index is in its own window
        if sum(_run(plan, "unpool tiled", **arrays)) == idx.size:
            return grad_x
    # one entry a piece: -1, or where it stopped
    if max(_run(plan, "unpool", **arrays)) >= 0:
        raise_bad_index(idx, plan.window.H * plan.window.W)
    return grad_x


def unpool_add(grad_out, idx, grad_x, layout, B=1):
    """Add each grad_out entry into grad_x at its plane index, on the threads.

    grad_out, idx (N, C, 1, O) or (N, 1, O, C), grad_x (N, C, 1, P) or (N, 1,
    P, C), each plane flattened to one row; grad_x is zeroed first. Returns
    whether an index lay outside [0, P) (the scatter stopped there).
    """
    size = grad_out.nbytes + idx.nbytes + grad_x.nbytes
    if layout == "NCHW":
        N, C = grad_x.shape[:2]
        items = tuple(a.reshape(-1, 1, *a.shape[2:]) for a in (grad_out, idx, grad_x))
        task = Task(_k.max_unpool_add_nchw, _UNPOOL, N * C, size, "POOL_SPLIT_BYTES")
        bound = dict(zip(_UNPOOL, items))
    else:
        N = grad_x.shape[0]
        args = _UNPOOL + ("B",)
        task = Task(_k.max_unpool_add_nhwc, args, N * B, size, "POOL_SPLIT_BYTES")
        bound = dict(grad_out=grad_out, idx=idx, grad_x=grad_x, B=B)
    return max(execute(task, bound), default=-1) >= 0


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
        _run(plan, "forward", x=x, out=out)
    return out


def avg_backward(plan, grad_out):
    """grad_x of average pooling: each grad_out entry spread over its window."""
    grad_x = results.empty(plan.x_shape, plan.dtype)
    if grad_x.size:
        if not grad_out.size:
            grad_x[...] = 0
            return grad_x
        _run(plan, "backward", grad_out=grad_out, grad_x=grad_x)
    return grad_x
