"""A 3-D convolution as one 2-D convolution: its depth taps stacked as channels.

Output depth od of ``conv3d(x, w)`` is ``sum_kd conv2d(x[depth j(od, kd)],
w[kd])``, ``j = od*sd + kd*dd - front``: one 2-D NHWC convolution of a
*stack* with ``N*OD`` images of ``C*KD`` channels, ordered (group, kd,
channel in group) so that each group's channels stay together, against
the weight with its depth taps moved among its channels the same way.
The copies (and the layout transposes of channels-first arrays) run in
:mod:`fastconv._kernels.depth`, split over the threads.
"""

import numpy as np

from .._kernels import depth as _k
from . import threads, workspace

__all__ = [
    "stack",
    "unstack",
    "stacked_weight",
    "unstacked_weight",
    "channels_last",
    "channels_first",
]


#: the fields of the stack kernels' context (threads.Task)
_ARGS = ("src", "dims", "depth", "dst")


def _dims(shape, p):
    # (G, Cg, D, P, OD, KD) of an NDHWC shape: P = H*W, the 2-D plane
    d = p.axes[0]
    return (p.groups, p.Cg, d.size, shape[2] * shape[3], d.out, d.kernel)


def _depth(p):
    d = p.axes[0]
    return (d.stride, d.dilation, d.lo)


def stack(x, p):
    """Return the stack of x, (N*OD, H, W, C*KD).

    The stack is a view of the calling thread's workspace, valid until its
    next call.

    Parameters
    ----------
    x : ndarray (N, D, H, W, C), C-contiguous, in the compute dtype
    p : ConvParams
        The 3-D convolution's (:func:`~fastconv._engine.geometry.conv_params`).
    """
    N, OD, KD, C = p.N, p.axes[0].out, p.axes[0].kernel, p.C
    H, W = x.shape[2], x.shape[3]
    # a workspace buffer, reused from call to call: a fresh one costs its page
    # faults on first touch (the stack is KD times x); the stack is only ever
    # an input of the 2-D call that follows
    (out,) = workspace.scratch(x.dtype, (N * OD, H, W, C * KD), key="depth stack")
    dims, depth = _dims(x.shape, p), _depth(p)
    xf, of = x.reshape(-1), out.reshape(-1)
    task = threads.Task(_k.stack_nhwc, _ARGS, N * OD, x.nbytes + out.nbytes)
    threads.execute(task, dict(src=xf, dims=dims, depth=depth, dst=of))
    return out


def unstack(gs, x_shape, p):
    """Return the adjoint of :func:`stack`: grad_x (N, D, H, W, C) from the stack's.

    Each input depth sums the planes that read it, depth taps in ascending
    order (the same sums whatever the thread count).
    """
    gs = np.ascontiguousarray(gs)
    gx = np.empty(x_shape, gs.dtype)
    dims, depth = _dims(x_shape, p), _depth(p)
    gf, xf = gs.reshape(-1), gx.reshape(-1)
    items = p.N * p.axes[0].size
    task = threads.Task(_k.unstack_nhwc, _ARGS, items, gs.nbytes + gx.nbytes)
    threads.execute(task, dict(src=gf, dims=dims, depth=depth, dst=xf))
    return gx


def stacked_weight(weight):
    """(KD, KH, KW, C/g, F) -> (KH, KW, KD*C/g, F), the stack's 2-D weight.

    Channel ``kd*Cg + c`` of a group is tap kd of its channel c, as in the
    stack.
    """
    KD, KH, KW, Cg, F = weight.shape
    return np.ascontiguousarray(weight.transpose(1, 2, 0, 3, 4)).reshape(
        KH, KW, KD * Cg, F
    )


def unstacked_weight(gw, weight_shape):
    """Return the inverse of :func:`stacked_weight` (for grad_weight)."""
    KD, KH, KW, Cg, F = weight_shape
    return np.ascontiguousarray(gw.reshape(KH, KW, KD, Cg, F).transpose(2, 0, 1, 3, 4))


def _transpose(a, B, M, K, shape):
    # a (B, M, K) C-contiguous -> a new (B, K, M) array of `shape`
    out = np.empty(shape, a.dtype)
    af, of = a.reshape(-1), out.reshape(-1)
    blocks = B * -(-M // _k.BLOCK)
    task = threads.Task(_k.transpose, ("src", "dims", "dst"), blocks, 2 * a.nbytes)
    threads.execute(task, dict(src=af, dims=(B, M, K), dst=of))
    return out


def channels_last(a):
    """(N, C, *S) -> (N, *S, C), a new C-contiguous array (`a` C-contiguous).

    numpy's own transposed copy took 2.4 ms for the bench's float32 3-D input.
    """
    N, C = a.shape[:2]
    return _transpose(a, N, C, a.size // max(N * C, 1), (N,) + a.shape[2:] + (C,))


def channels_first(a):
    """(N, *S, C) -> (N, C, *S), a new C-contiguous array (`a` C-contiguous).

    numpy's own transposed copy took 14 ms for the bench's float32 3-D
    output, the kernel 1.6 ms.
    """
    N, C = a.shape[0], a.shape[-1]
    return _transpose(a, N, a.size // max(N * C, 1), C, (N, C) + a.shape[1:-1])
