"""Running the passes of a plan whose algorithm is "direct" (NCHW).

Work items: forward (sample, group, block of filters), whose consecutive
items share one fill of the group's phase planes; grad_x (sample, group);
grad_weight one filter (a sum over every sample, in order). Each piece
takes its planes and grid from its thread's workspace.
"""

import numpy as np

from .._kernels import direct as _k
from . import blas, threads, trace, workspace

__all__ = ["forward", "grad_x", "grad_w", "items", "scratch_elems"]


def items(plan):
    """Work items of each pass: (forward, grad_x, grad_w)."""
    s = plan.shapes
    blocks = -(-s.Fg // _k.FILTER_BLOCK)
    return s.N * s.groups * blocks, s.N * s.groups, s.F


def scratch_elems(plan):
    """Per-thread scratch of a piece: (planes, grid) element counts."""
    pl = plan.planes
    return plan.shapes.Cg * pl.sh * pl.sw * pl.PS, _k.FILTER_BLOCK * pl.L


def _buffers(plan):
    planes, grid = scratch_elems(plan)
    return workspace.scratch(plan.dtype, (max(planes, 1),), (max(grid, 1),))


def _run(plan, n_items, fn, nbytes):
    traces = trace.kernel_traces(threads.get_num_threads(), len(_k.PHASES))
    clock = trace.kernel_clock()
    with blas.hold():
        pieces = threads.run(
            lambda i, lo, hi: fn(lo, hi, clock, traces[i]),
            n_items,
            nbytes if plan.parallel else 0,
        )
    trace.add_kernel_phases(_k.PHASES, traces, pieces)


def forward(plan, x, weight, bias):
    """Output (compute dtype) of the direct forward pass."""
    out = np.empty(plan.out_shape, plan.dtype)
    if out.size == 0:
        return out
    has_bias = bias is not None
    b = bias if has_bias else out.reshape(-1)[:1]
    win, pl, groups = plan.window, plan.planes, plan.groups

    def piece(lo, hi, clock, tr):
        P, G = _buffers(plan)
        _k.forward_nchw(
            x, weight, b, has_bias, out, win, pl, groups, lo, hi, P, G, clock, tr
        )

    _run(plan, items(plan)[0], piece, x.nbytes + out.nbytes)
    return out


def grad_x(plan, grad_out, weight):
    """grad_x (compute dtype) of the direct backward pass."""
    gx = np.empty(plan.x_shape, plan.dtype)
    if gx.size == 0:
        return gx
    win, pl, groups = plan.window, plan.planes, plan.groups

    def piece(lo, hi, clock, tr):
        P, G = _buffers(plan)
        _k.grad_x_nchw(grad_out, weight, gx, win, pl, groups, lo, hi, P, G, clock, tr)

    _run(plan, items(plan)[1], piece, gx.nbytes + grad_out.nbytes)
    return gx


def grad_w(plan, grad_out, x):
    """(grad_weight, grad_bias) (compute dtype) of the direct backward pass."""
    gw = np.empty(plan.weight_shape, plan.dtype)
    gb = np.zeros(plan.shapes.F)  # float64
    if gw.size:
        win, pl, groups = plan.window, plan.planes, plan.groups
        gemm = blas.gemm(plan.dtype)
        ones = np.ones(pl.L, plan.dtype)

        def piece(lo, hi, clock, tr):
            P, G = _buffers(plan)
            _k.grad_w_nchw(
                grad_out, x, gw, gb, win, pl, groups, lo, hi, P, G, ones, gemm, clock, tr
            )

        _run(plan, items(plan)[2], piece, x.nbytes + grad_out.nbytes)
    elif gb.size:
        gb[:] = grad_out.sum(axis=(0, 2, 3), dtype=np.float64)
    return gw, gb.astype(plan.dtype)
