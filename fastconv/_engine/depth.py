"""A 3-D convolution as one 2-D convolution: its depth taps stacked as channels.

Output depth od of ``conv3d(x, w)`` is ``sum_kd conv2d(x[depth j(od, kd)],
w[:, :, kd])``, ``j = od*sd + kd*dd - front``: one 2-D convolution of a
*stack* with ``N*OD`` images of ``C*KD`` channels, ordered (group, kd,
channel in group) so that each group's channels stay together, against
the weight with its depth taps moved among its channels the same way.
The copies run in :mod:`fastconv._kernels.depth`, split over the threads.
"""

import numpy as np

from .._kernels import depth as _k
from . import threads, workspace

__all__ = ["stack", "unstack", "stacked_weight", "unstacked_weight"]


def _dims(shape, g, groups, layout):
    # (G, Cg, D, P, OD, KD) of a 5-D shape: P = H*W, the 2-D plane
    H, W = (shape[3], shape[4]) if layout == "NCHW" else (shape[2], shape[3])
    return (groups, g["C"] // groups, g["D"], H * W, g["OD"], g["KD"])


def _depth(g):
    sd, dd, front, _ = g["depth"]
    return (sd, dd, front)


def stack(x, g, groups, layout):
    """Return the stack of x: (N*OD, C*KD, H, W), or NHWC (N*OD, H, W, C*KD).

    The stack is a view of the calling thread's workspace, valid until its
    next call.

    Parameters
    ----------
    x : ndarray (N, C, D, H, W), or (N, D, H, W, C) for "NHWC"; C-contiguous,
        in the compute dtype
    g : dict
        The 3-D geometry (:func:`fastconv.threed._geometry`): N, C, D, OD, KD
        and the depth axis's (stride, dilation, front, back padding).
    groups : int
    layout : {"NCHW", "NHWC"}
        The 2-D layout the 3-D one maps to.
    """
    N, OD, KD, C = g["N"], g["OD"], g["KD"], g["C"]
    H, W = (x.shape[3], x.shape[4]) if layout == "NCHW" else (x.shape[2], x.shape[3])
    shape = (N * OD, C * KD, H, W) if layout == "NCHW" else (N * OD, H, W, C * KD)
    # a workspace buffer, reused from call to call: a fresh one costs its page
    # faults on first touch (the stack is KD times x); the stack is only ever
    # an input of the 2-D call that follows
    (out,) = workspace.scratch(x.dtype, shape, key="depth stack")
    kernel = _k.stack_nchw if layout == "NCHW" else _k.stack_nhwc
    dims, depth = _dims(x.shape, g, groups, layout), _depth(g)
    xf, of = x.reshape(-1), out.reshape(-1)
    threads.parallel_for(
        lambda lo, hi: kernel(xf, dims, depth, of, lo, hi), N * OD, x.nbytes + out.nbytes
    )
    return out


def unstack(gs, x_shape, g, groups, layout):
    """Return the adjoint of :func:`stack`: grad_x of `x_shape` from the stack's gradient.

    Each input depth sums the planes that read it, depth taps in ascending
    order (the same sums whatever the thread count).
    """
    gs = np.ascontiguousarray(gs)
    gx = np.empty(x_shape, gs.dtype)
    kernel = _k.unstack_nchw if layout == "NCHW" else _k.unstack_nhwc
    dims, depth = _dims(x_shape, g, groups, layout), _depth(g)
    gf, xf = gs.reshape(-1), gx.reshape(-1)
    threads.parallel_for(
        lambda lo, hi: kernel(gf, dims, depth, xf, lo, hi),
        g["N"] * g["D"],
        gs.nbytes + gx.nbytes,
    )
    return gx


def stacked_weight(weight, layout):
    """Return the 2-D weight of the stack's convolution.

    (F, C/g, KD, KH, KW) -> (F, KD*C/g, KH, KW); NHWC (KD, KH, KW, C/g, F)
    -> (KH, KW, KD*C/g, F). Channel ``kd*Cg + c`` of a group is tap kd of its
    channel c, as in the stack.
    """
    if layout == "NCHW":
        F, Cg, KD, KH, KW = weight.shape
        return np.ascontiguousarray(weight.transpose(0, 2, 1, 3, 4)).reshape(
            F, KD * Cg, KH, KW
        )
    KD, KH, KW, Cg, F = weight.shape
    return np.ascontiguousarray(weight.transpose(1, 2, 0, 3, 4)).reshape(
        KH, KW, KD * Cg, F
    )


def unstacked_weight(gw, weight_shape, layout):
    """Return the inverse of :func:`stacked_weight` (for grad_weight)."""
    if layout == "NCHW":
        F, Cg, KD, KH, KW = weight_shape
        return np.ascontiguousarray(
            gw.reshape(F, KD, Cg, KH, KW).transpose(0, 2, 1, 3, 4)
        )
    KD, KH, KW, Cg, F = weight_shape
    return np.ascontiguousarray(gw.reshape(KH, KW, KD, Cg, F).transpose(2, 0, 1, 3, 4))
