"""im2col/col2im and torch's unfold/fold, at every rank.

The 2-D functions run the tile kernels of the convolutions
(:mod:`fastconv._kernels.im2col`) sample by sample on every core; a 1-D x
is a one-row 2-D view; a 3-D x takes the 2-D columns of its depth stack,
as conv3d runs it, reordered.
"""

from __future__ import annotations

import numpy as np

from . import oned, threed
from ._engine import blas, depth, results, threads
from ._engine.args import as_real_array, dtypes, prepare
from ._engine.geometry import (
    ConvParams,
    as_pair,
    check_layout,
    check_shape,
    conv_window,
    window,
    window_axes,
)
from ._engine.results import takes_out
from ._kernels.im2col import col2im_samples, im2col_samples
from ._typing import Array, ArrayLike, Out, Padding, Shape, Size

__all__ = ["im2col", "col2im", "unfold", "fold", "im2col3d", "col2im3d"]


def _cols_geometry(x_shape, kernel_size, stride, padding, dilation, layout):
    layout = check_layout(layout)
    x_shape = check_shape(x_shape, "x_shape")
    kh, kw = as_pair(kernel_size, "kernel_size")
    if layout == "NCHW":
        N, C, H, W = x_shape
    else:
        N, H, W, C = x_shape
    win = conv_window((H, W), (kh, kw), stride, padding, dilation)
    return layout, x_shape, win, N, C


def _per_sample(kernel, values, n, nbytes):
    """Run a columns kernel, context ``(src, win, nchw, dst)``, per sample."""
    task = threads.Task(kernel, ("src", "win", "nchw", "dst"), n, nbytes)
    with blas.hold():
        threads.execute(task, values)


@takes_out()
def im2col(
    x: ArrayLike,
    kernel_size: Size,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    *,
    layout: str = "NCHW",
    out: Out = None,
) -> Array:
    """Lay every sliding window of x out as a column (zero padding).

    Parameters
    ----------
    x : array_like of shape (N, C, H, W), or (N, H, W, C) for "NHWC"
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), (top, bottom, left, right), "valid" or "same"
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    cols : ndarray
        NCHW: shape (N, C*KH*KW, OH*OW) with
        ``cols[n, (c*KH + i)*KW + j, oh*OW + ow]`` is
        ``xpad[n, c, oh*sh + i*dh, ow*sw + j*dw]``
        (the order of ``torch.nn.functional.unfold``).
        NHWC: shape (N, OH*OW, KH*KW*C) with
        ``cols[n, oh*OW + ow, (i*KW + j)*C + c]`` is
        ``xpad[n, oh*sh + i*dh, ow*sw + j*dw, c]``.

    Notes
    -----
    The result is ``KH*KW / (sh*sw)`` times the size of x, roughly: a 3x3
    window copies the input about nine times. The convolutions never build
    it whole: they work on tiles of it that stay in cache.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.im2col(np.arange(9.0).reshape(1, 1, 3, 3), 2)
    array([[[0., 1., 3., 4.],
            [1., 2., 4., 5.],
            [3., 4., 6., 7.],
            [4., 5., 7., 8.]]])
    """
    x = as_real_array(x, "x", ndim=None)
    if x.ndim != 4:
        return _cols_nd(x, kernel_size, stride, padding, dilation, layout)
    layout, _, win, N, C = _cols_geometry(
        x.shape, kernel_size, stride, padding, dilation, layout
    )
    dtype, out_dtype = dtypes(x)
    x = prepare(x, dtype)
    KK, P = win.KH * win.KW, win.OH * win.OW
    shape = (N, C * KK, P) if layout == "NCHW" else (N, P, KK * C)
    cols = results.empty(shape, dtype)
    if cols.size:
        nchw = layout == "NCHW"
        values = dict(src=x, win=win, nchw=nchw, dst=cols)
        _per_sample(im2col_samples, values, N, cols.nbytes)
    return cols.astype(out_dtype, copy=False)


@takes_out()
def col2im(
    cols: ArrayLike,
    x_shape: Shape,
    kernel_size: Size,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    *,
    layout: str = "NCHW",
    out: Out = None,
) -> Array:
    """Sum columns back into an image: the adjoint of :func:`im2col`.

    Parameters
    ----------
    cols : array_like of shape (N, C*KH*KW, OH*OW), or (N, OH*OW, KH*KW*C) for
        "NHWC", in :func:`im2col`'s order.
    x_shape : tuple of 4 ints
        Shape of the image, (N, C, H, W) or (N, H, W, C).
    kernel_size, stride, padding, dilation, layout
        As given to :func:`im2col`.

    Returns
    -------
    x : ndarray of shape `x_shape`
        Each entry is the sum of every column entry copied from it; entries
        that fell in the padding are dropped.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.col2im(np.ones((1, 4, 4)), (1, 1, 3, 3), 2)[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    cols = as_real_array(cols, "cols", ndim=3)
    if isinstance(x_shape, (tuple, list)) and len(x_shape) in (3, 5):
        return _uncols_nd(cols, x_shape, kernel_size, stride, padding, dilation, layout)
    layout, x_shape, win, N, C = _cols_geometry(
        x_shape, kernel_size, stride, padding, dilation, layout
    )
    KK, P = win.KH * win.KW, win.OH * win.OW
    expected = (N, C * KK, P) if layout == "NCHW" else (N, P, KK * C)
    if cols.shape != expected:
        raise ValueError(
            f"cols must have shape {expected} for x_shape {x_shape} and "
            f"this window, got shape {cols.shape}"
        )
    dtype, out_dtype = dtypes(cols)
    cols = prepare(cols, dtype)
    x = results.empty(x_shape, dtype)  # each sample zeroed by its kernel
    if x.size and cols.size:
        nchw = layout == "NCHW"
        values = dict(src=cols, win=win, nchw=nchw, dst=x)
        _per_sample(col2im_samples, values, N, cols.nbytes)
    else:
        x[...] = 0
    return x.astype(out_dtype, copy=False)


@takes_out()
def unfold(
    input: ArrayLike,
    kernel_size: Size,
    dilation: Size = 1,
    padding: Padding = 0,
    stride: Size = 1,
    *,
    out: Out = None,
) -> Array:
    """``torch.nn.functional.unfold``'s argument order for :func:`im2col` (NCHW).

    Returns
    -------
    cols : ndarray of shape (N, C*KH*KW, L)
    """
    return im2col(input, kernel_size, stride, padding, dilation)


@takes_out()
def fold(
    input: ArrayLike,
    output_size: Size,
    kernel_size: Size,
    dilation: Size = 1,
    padding: Padding = 0,
    stride: Size = 1,
    *,
    out: Out = None,
) -> Array:
    """``torch.nn.functional.fold``'s argument order for :func:`col2im` (NCHW).

    Parameters
    ----------
    input : array_like of shape (N, C*KH*KW, L)
    output_size : int or (int, int)
        (H, W) of the result.

    Returns
    -------
    x : ndarray of shape (N, C, H, W)
    """
    cols = as_real_array(input, "input", ndim=3)
    kh, kw = as_pair(kernel_size, "kernel_size")
    H, W = as_pair(output_size, "output_size")
    if cols.shape[1] % (kh * kw):
        raise ValueError(
            f"input's second axis {cols.shape[1]} must be C*KH*KW, a multiple of "
            f"{kh * kw}"
        )
    x_shape = (cols.shape[0], cols.shape[1] // (kh * kw), H, W)
    return col2im(cols, x_shape, kernel_size, stride, padding, dilation)


#: the channels-first and channels-last names of each rank (im2col, col2im)
_ND_LAYOUTS = {
    3: {"NCHW": "NCL", "NCL": "NCL", "NHWC": "NLC", "NLC": "NLC"},
    5: {"NCHW": "NCDHW", "NCDHW": "NCDHW", "NHWC": "NDHWC", "NDHWC": "NDHWC"},
}


def _nd_layout(ndim, layout, name):
    if ndim not in _ND_LAYOUTS:
        raise ValueError(f"{name} must be 3-D, 4-D or 5-D, got {ndim}-D")
    if layout not in _ND_LAYOUTS[ndim]:
        raise ValueError(
            f"layout must be one of {sorted(_ND_LAYOUTS[ndim])} for a {ndim}-D "
            f"{name}, got {layout!r}"
        )
    return _ND_LAYOUTS[ndim][layout]


def _one_d(kernel_size, stride, padding, dilation):
    """1-D window arguments as the (1, K) 2-D ones of a one-row view."""
    return (
        oned.Row.size(kernel_size, "kernel_size"),
        oned.Row.size(stride, "stride"),
        oned.Row.padding(padding),
        oned.Row.size(dilation, "dilation"),
    )


def _cols_nd(x, kernel_size, stride, padding, dilation, layout):
    """im2col of a 1-D (N, C, L) or 3-D (N, C, D, H, W) x (channels-last alike)."""
    nd = _nd_layout(x.ndim, layout, "x")
    if x.ndim == 5:
        return im2col3d(x, kernel_size, stride, padding, dilation, layout=nd)
    first = nd == "NCL"
    view = x[:, :, None, :] if first else x[:, None, :, :]
    return im2col(
        view,
        *_one_d(kernel_size, stride, padding, dilation),
        layout="NCHW" if first else "NHWC",
    )


def _uncols_nd(cols, x_shape, kernel_size, stride, padding, dilation, layout):
    """col2im into a 1-D or 3-D x_shape (see :func:`_cols_nd`)."""
    nd = _nd_layout(len(x_shape), layout, "x_shape")
    if len(x_shape) == 5:
        return col2im3d(cols, x_shape, kernel_size, stride, padding, dilation, layout=nd)
    first = nd == "NCL"
    N, a, b = x_shape
    shape4 = (N, a, 1, b) if first else (N, 1, a, b)
    x = col2im(
        cols,
        shape4,
        *_one_d(kernel_size, stride, padding, dilation),
        layout="NCHW" if first else "NHWC",
    )
    return x[:, :, 0, :] if first else x[:, 0, :, :]


# --------------------------------------------------------------------------
# im2col / col2im in 3-D: the 2-D columns of the depth stack (as conv3d's),
# reordered. Stack channel kd*C + c of plane (n, od) holds depth tap kd of
# channel c (fastconv._engine.depth), so the stack's NHWC columns (N*OD, P2,
# KK, KD, C) hold every 3-D window, and one transpose orders them as
# PyTorch's unfold does.


def _stack_params(x_shape, kernel_size, stride, padding, dilation, layout2):
    """Return the ConvParams of the one-filter NDHWC convolution of these columns."""
    N, C, sizes = (
        (x_shape[0], x_shape[1], tuple(x_shape[2:]))
        if layout2 == "NCHW"
        else (x_shape[0], x_shape[4], tuple(x_shape[1:4]))
    )
    axes = window_axes(sizes, kernel_size, stride, padding, dilation)
    kernel = tuple(a.kernel for a in axes)
    outs = tuple(a.out for a in axes)
    return ConvParams(
        "NHWC",
        N,
        C,
        1,
        1,
        axes,
        window(axes),
        (N,) + sizes + (C,),
        kernel + (C, 1),
        (N,) + outs + (1,),
    )


def _plane_args(p, layout):
    """im2col's arguments for the stack's (H, W) window."""
    h, w = p.axes[1:]
    return dict(p.plane_args(), kernel_size=(h.kernel, w.kernel), layout=layout)


def im2col3d(
    x: ArrayLike,
    kernel_size: Size,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    *,
    layout: str = "NCDHW",
) -> Array:
    """Lay every 3-D sliding window of x out as a column (zero padding).

    Parameters
    ----------
    x : array_like of shape (N, C, D, H, W), or (N, D, H, W, C) for "NDHWC"
    kernel_size, stride, dilation : int, 1-tuple or (int, int, int)
    padding : int, 1-tuple, (int, int, int), "valid" or "same"
    layout : {"NCDHW", "NDHWC"}

    Returns
    -------
    cols : ndarray
        NCDHW: (N, C*KD*KH*KW, OD*OH*OW), row ``((c*KD + a)*KH + i)*KW + j``,
        column ``(od*OH + oh)*OW + ow`` (the 2-D order with depth outermost);
        NDHWC: (N, OD*OH*OW, KD*KH*KW*C), column ``((a*KH + i)*KW + j)*C + c``.
    """
    layout2 = threed._layout(layout)
    x = as_real_array(x, "x", ndim=5)
    p = _stack_params(x.shape, kernel_size, stride, padding, dilation, layout2)
    compute, result = dtypes(x)
    x = prepare(x, compute)
    N, C, KD, OD = p.N, p.C, p.axes[0].kernel, p.axes[0].out
    KK, P2 = p.axes[1].kernel * p.axes[2].kernel, p.axes[1].out * p.axes[2].out
    if layout2 == "NCHW":
        # the stack channels-first: its NCHW columns (N*OD, (kd, c, kk), P2)
        # keep P2 runs whole through the reorder (numpy's transposed copy
        # of the NHWC columns, C innermost, took 3-4x the NDHWC time)
        stack = depth.channels_first(depth.stack(depth.channels_last(x), p))
        c2 = im2col(stack, **_plane_args(p, "NCHW"))
        c6 = c2.reshape(N, OD, KD, C, KK, P2)  # rows (c, kd, kk), columns (od, p2)
        cols = c6.transpose(0, 3, 2, 4, 1, 5).reshape(N, C * KD * KK, OD * P2)
    else:  # the stack's NHWC columns (N*OD, P2, (kk, kd, c)): columns (kd, kk, c)
        c2 = im2col(depth.stack(x, p), **_plane_args(p, "NHWC"))
        c6 = c2.reshape(N, OD, P2, KK, KD, C)
        cols = c6.transpose(0, 1, 2, 4, 3, 5).reshape(N, OD * P2, KD * KK * C)
    return cols.astype(result, copy=False)


def col2im3d(
    cols: ArrayLike,
    x_shape: Shape,
    kernel_size: Size,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    *,
    layout: str = "NCDHW",
) -> Array:
    """Return the adjoint of :func:`im2col3d`: columns summed back into x's shape.

    Parameters
    ----------
    cols : array_like, the shape :func:`im2col3d` gives for `x_shape`
    x_shape : 5 ints
    kernel_size, stride, padding, dilation, layout
        As for :func:`im2col3d`.

    Returns
    -------
    x : ndarray of shape `x_shape`
        Each entry the sum of its copies in the columns.
    """
    layout2 = threed._layout(layout)
    x_shape = tuple(int(v) for v in x_shape)
    p = _stack_params(x_shape, kernel_size, stride, padding, dilation, layout2)
    cols = as_real_array(cols, "cols", ndim=3)
    N, C, KD, OD = p.N, p.C, p.axes[0].kernel, p.axes[0].out
    KK, P2 = p.axes[1].kernel * p.axes[2].kernel, p.axes[1].out * p.axes[2].out
    if layout2 == "NCHW":
        expected, split = (N, C * KD * KK, OD * P2), (N, C, KD, KK, OD, P2)
    else:
        expected, split = (N, OD * P2, KD * KK * C), (N, OD, P2, KD, KK, C)
    if cols.shape != expected:
        raise ValueError(f"cols must have the shape im2col3d gives, got {cols.shape}")
    compute, result = dtypes(cols)
    c6 = prepare(cols, compute).reshape(split)
    h, w = p.axes[1:]
    # the stack's columns, the transpose of im2col3d's reorder; col2im
    # gives the stack's gradient, whose adjoint sums the depth taps
    if layout2 == "NCHW":  # (N, C, KD, KK, OD, P2) -> (N, OD, KD, C, KK, P2)
        c2 = np.ascontiguousarray(c6.transpose(0, 4, 2, 1, 3, 5))
        shape = (N * OD, KD * C, h.size, w.size)
        gs = col2im(c2.reshape(N * OD, KD * C * KK, P2), shape, **_plane_args(p, "NCHW"))
        gx = depth.channels_first(depth.unstack(depth.channels_last(gs), p.x_shape, p))
    else:  # (N, OD, P2, KD, KK, C) -> (N, OD, P2, KK, KD, C)
        c2 = np.ascontiguousarray(c6.transpose(0, 1, 2, 4, 3, 5))
        shape = (N * OD, h.size, w.size, KD * C)
        gs = col2im(c2.reshape(N * OD, P2, KK * KD * C), shape, **_plane_args(p, "NHWC"))
        gx = depth.unstack(gs, p.x_shape, p)
    return gx.astype(result, copy=False)
