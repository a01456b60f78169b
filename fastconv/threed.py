"""3-D convolution and pooling, forward and backward, on the 2-D engine.

Convolution: the depth taps become channels (:mod:`fastconv._engine.depth`).
Plane ``n*OD + od`` of a (N*OD, H, W, C*KD) stack holds, as channel
``(g*KD + kd)*Cg + c``, the input slice ``x[n, od*sd - pd + kd*dd, :, :,
g*Cg + c]`` (zero in the depth padding), and one 2-D NHWC convolution with
the weight's depth taps moved among its channels gives every output depth:
one GEMM-shaped problem KD times deeper, instead of KD convolutions and
their sums. The stack costs KD copies of x, made by a jitted kernel (numpy's
pad, take and transpose took 24-29 ms of a 41-43 ms forward on the bench's
3-D layer, float32); "NCDHW" arrays are transposed to channels-last and
back around it. Pooling, plain and adaptive, is separable: each depth slice
is pooled by the 2-D engine, then the depth axis, as a 2-D pooling of the
(D, OH*OW) columns with a (KD, 1) window; both are free views of the
arrays. The transposed convolution is the convolution's adjoint through
the same stack. Arguments follow
``torch.nn.functional.conv3d``; layouts "NCDHW" (weight (F, C/groups, KD,
KH, KW)) and "NDHWC" (weight (KD, KH, KW, C/groups, F)).
"""

from __future__ import annotations

from typing import Literal, Optional, Tuple, Union, overload

import numpy as np

from . import adaptive, conv, pool
from ._engine import conv_driver, depth, pool_driver
from ._engine import padding as padding_modes
from ._engine.args import (
    as_pool_input,
    as_real_array,
    check_divisor_override,
    check_indices,
    dtype_rule,
    dtypes,
    prepare,
)
from ._engine.geometry import (
    adaptive_output_size,
    check_layout,
    conv_params,
    pool_axes,
    pool_out_shape,
    transpose_params,
)
from ._engine.pool_driver import raise_bad_index
from ._engine.results import takes_out
from ._engine.results import with_indices as _with_indices
from ._typing import Array, ArrayLike, Grads, OptSize, Out, OutputSize, Padding, Size

__all__ = [
    "conv3d",
    "conv3d_backward",
    "conv_transpose3d",
    "conv_transpose3d_backward",
    "max_pool3d",
    "max_pool3d_backward",
    "avg_pool3d",
    "avg_pool3d_backward",
    "adaptive_avg_pool3d",
    "adaptive_avg_pool3d_backward",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_backward",
]

#: 3-D layout -> the 2-D layout of its depth slices
LAYOUTS = {"NCDHW": "NCHW", "NDHWC": "NHWC"}
#: 2-D layout of the slices -> the spatial axes (D, H, W) of the 3-D array
_AXES = {"NCHW": (2, 3, 4), "NHWC": (1, 2, 3)}


def _layout(layout):
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout must be 'NCDHW' or 'NDHWC', got {layout!r}")
    return check_layout(LAYOUTS[layout])


def _channels_last(x, weight, compute, layout2) -> Tuple[np.ndarray, np.ndarray]:
    """Return x (N, D, H, W, C) and weight (KD, KH, KW, Cg, F), compute dtype, NDHWC.

    Both 3-D layouts run the 2-D engine on a channels-last stack: on the
    bench's 3-D layer (float32) its NHWC Winograd passes took 13-15 and
    36 ms against NCHW's 20-22 and 47 ms, more than the transposes cost.
    """
    x, weight = prepare(x, compute), prepare(weight, compute)
    if layout2 == "NCHW":
        x = depth.channels_last(x)
        weight = np.ascontiguousarray(weight.transpose(2, 3, 4, 1, 0))
    return x, weight


def _backward_inputs(
    grad_out, x, weight, layout2
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.dtype]:
    """Return x, weight, grad_out channels-last in the compute dtype; the result dtype."""
    compute, result = dtypes(x, weight, grad_out)
    x, weight = _channels_last(x, weight, compute, layout2)
    gy = prepare(grad_out, compute)
    gy = depth.channels_last(gy) if layout2 == "NCHW" else gy
    return x, weight, gy, result


@takes_out()
def conv3d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCDHW",
    algorithm: str = "auto",
    padding_mode: str = "zeros",
    out: Out = None,
) -> Array:
    """3-D convolution (cross-correlation), as ``torch.nn.functional.conv3d``.

    Parameters
    ----------
    x : array_like of shape (N, C, D, H, W), or (N, D, H, W, C) for "NDHWC"
    weight : array_like of shape (F, C/groups, KD, KH, KW), or (KD, KH, KW,
        C/groups, F) for "NDHWC"
    bias : array_like of shape (F,), optional
    stride, dilation : int, 1-tuple or (int, int, int)
    padding : int, 1-tuple, (int, int, int), "valid" or "same"
    groups : int
    layout : {"NCDHW", "NDHWC"}
    algorithm : str
        As for :func:`fastconv.conv2d`, for the stack's 2-D convolution.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        What the padding holds, as in ``torch.nn.Conv3d``; other than zeros,
        x is padded into a copy first (reflect: padding below the input size).

    Returns
    -------
    out : ndarray of shape (N, F, OD, OH, OW), or (N, OD, OH, OW, F)
        Sizes per axis as for :func:`fastconv.conv2d`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.conv3d(np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 2, 2, 2))).ravel()
    array([8., 8., 8., 8., 8., 8., 8., 8.])
    """
    layout2 = _layout(layout)
    x = as_real_array(x, "x", ndim=5)
    weight = as_real_array(weight, "weight", ndim=5)
    g = conv_params(x.shape, weight.shape, stride, padding, dilation, groups, layout2)
    if padding_modes.check_padding_mode(padding_mode) != "zeros":
        x = padding_modes.pad(x, g.pads, padding_mode, _AXES[layout2])
        g = conv_params(x.shape, weight.shape, stride, 0, dilation, groups, layout2)
    given = [x, weight] + ([] if bias is None else [as_real_array(bias, "bias", None)])
    compute, result = dtypes(*given)
    x, weight = _channels_last(x, weight, compute, layout2)
    res = conv.conv2d(
        depth.stack(x, g),
        depth.stacked_weight(weight),
        bias,
        groups=groups,
        layout="NHWC",
        algorithm=algorithm,
        **g.plane_args(),
    )
    res = res.reshape((g.N, g.axes[0].out) + res.shape[1:])  # (N, OD, OH, OW, F)
    if layout2 == "NCHW":
        res = depth.channels_first(res)
    return res.astype(result, copy=False)


@takes_out(3)
def conv3d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCDHW",
    algorithm: str = "auto",
    padding_mode: str = "zeros",
    out: Out = None,
) -> Grads:
    """Gradients of :func:`conv3d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : array_like of shape (N, F, OD, OH, OW), or (N, OD, OH, OW, F)
    x, weight, stride, padding, dilation, groups, layout, algorithm, padding_mode
        As given to :func:`conv3d`.

    Returns
    -------
    grad_x : ndarray, shape of x
        The stack's gradient (from the stack convolution's 2-D backward)
        summed back into x, the stack's adjoint. With a padding_mode other
        than zeros, the padded copy's gradient folded back: each padded
        entry's added to the entry it copies.
    grad_weight : ndarray, shape of weight
    grad_bias : ndarray of shape (F,)
    """
    layout2 = _layout(layout)
    x = as_real_array(x, "x", ndim=5)
    weight = as_real_array(weight, "weight", ndim=5)
    grad_out = as_real_array(grad_out, "grad_out", ndim=5)
    g = conv_params(x.shape, weight.shape, stride, padding, dilation, groups, layout2)
    if padding_modes.check_padding_mode(padding_mode) != "zeros":
        axes = _AXES[layout2]
        xp = padding_modes.pad(x, g.pads, padding_mode, axes)
        gxp, gw, gb = conv3d_backward(
            grad_out,
            xp,
            weight,
            stride,
            0,
            dilation,
            groups,
            layout=layout,
            algorithm=algorithm,
        )
        gx = padding_modes.fold(gxp, x.shape, g.pads, padding_mode, axes)
        return gx, gw, gb
    depth_axis = 2 if layout2 == "NCHW" else 1
    OD = g.axes[0].out
    if grad_out.shape[depth_axis] != OD or grad_out.shape[0] != g.N:
        raise ValueError(
            f"grad_out's batch and depth must be x's {g.N} and the output's "
            f"{OD}, got shape {grad_out.shape}"
        )
    x, weight, gy, result = _backward_inputs(grad_out, x, weight, layout2)
    gs, gw, gb = conv.conv2d_backward(
        gy.reshape((g.N * OD,) + gy.shape[2:]),
        depth.stack(x, g),
        depth.stacked_weight(weight),
        groups=groups,
        layout="NHWC",
        algorithm=algorithm,
        **g.plane_args(),
    )
    grad_x = depth.unstack(gs, x.shape, g)
    grad_w = depth.unstacked_weight(gw, weight.shape)
    if layout2 == "NCHW":
        grad_x = depth.channels_first(grad_x)
        grad_w = np.ascontiguousarray(grad_w.transpose(4, 3, 0, 1, 2))
    gx, gw, gb = (a.astype(result, copy=False) for a in (grad_x, grad_w, gb))
    return gx, gw, gb


# --------------------------------------------------------------------------
# pooling, plain and adaptive: separable. A window's max (sum) is the max
# (sum) over its depths of each depth slice's 2-D window max (sum), so every
# depth slice is pooled in 2-D, then the depth axis as a 2-D pooling of
# window (KD, 1) over the (D, OH*OW) columns. Both passes are the 2-D engine
# on free views; the first maximum in (d, h, w) order is the slice's first in
# (h, w) order at the first depth that reaches the maximum, which is what the
# two passes pick, in that order.


def _pool_geometry(x_shape, kernel_size, stride, padding, dilation, ceil_mode, layout2):
    """Return the checked window axes (D, H, W) of a 3-D pooling.

    PyTorch's argument forms only (padding an int or a triple): the
    separable passes' divisors take each axis's padding as symmetric.
    """
    sizes = x_shape[2:] if layout2 == "NCHW" else x_shape[1:4]
    return pool_axes(sizes, kernel_size, stride, padding, dilation, ceil_mode)


def _plane_args(axes, ceil_mode, layout2):
    """max_pool2d's arguments for the depth slices' pass: the (H, W) window."""
    h, w = axes[1:]
    return dict(
        kernel_size=(h.kernel, w.kernel),
        stride=(h.stride, w.stride),
        padding=(h.lo, w.lo),
        dilation=(h.dilation, w.dilation),
        ceil_mode=ceil_mode,
        layout=layout2,
    )


def _depth_args(axes, ceil_mode, layout2):
    """max_pool2d's arguments for the depth pass: a (KD, 1) window on the columns."""
    d = axes[0]
    return dict(
        kernel_size=(d.kernel, 1),
        stride=(d.stride, 1),
        padding=(d.lo, 0),
        dilation=(d.dilation, 1),
        ceil_mode=ceil_mode,
        layout=layout2,
    )


def _planes(a, layout2):
    """Return a volume's depth slices as 2-D images: (N, C*D, H, W) or (N*D, H, W, C)."""
    s = a.shape
    if layout2 == "NCHW":
        return a.reshape(s[0], s[1] * s[2], s[3], s[4])
    return a.reshape(s[0] * s[1], s[2], s[3], s[4])


def _columns(r, N, D, layout2):
    """Return the slices' 2-D results as a depth-by-plane image.

    (N, C*D, OH, OW) -> (N, C, D, OH*OW); (N*D, OH, OW, C) -> (N, D, OH*OW, C).
    """
    s = r.shape
    if layout2 == "NCHW":
        return r.reshape(N, s[1] // D, D, s[2] * s[3])
    return r.reshape(N, D, s[1] * s[2], s[3])


def _volume(r, plane, layout2):
    """Return the depth pass's result as a volume.

    (N, C, OD, OH*OW) -> (N, C, OD, OH, OW); (N, OD, OH*OW, C) -> (N, OD, OH, OW, C).
    """
    s = r.shape
    if layout2 == "NCHW":
        return r.reshape(s[:3] + tuple(plane))
    return r.reshape(s[:2] + tuple(plane) + s[3:])


def _plane_shape(r, layout2):
    return r.shape[2:4] if layout2 == "NCHW" else r.shape[1:3]


def _flat_indices(plane_idx, depth_idx, N, D, HW, layout2):
    """Volume indices ``d*H*W + h*W + w`` of the two passes' argmaxes.

    plane_idx: each slice's ``h*W + w``, as the slices' 2-D result; depth_idx:
    the depth pass's ``d*P + j`` in the (D, P) columns, P = OH*OW.
    """
    cols = _columns(plane_idx, N, D, layout2)
    P = cols.shape[3] if layout2 == "NCHW" else cols.shape[2]
    depth = depth_idx // P
    axis = 2 if layout2 == "NCHW" else 1
    return depth * HW + np.take_along_axis(cols, depth, axis=axis)


@overload
def max_pool3d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: Literal[False] = False,
    layout: str = "NCDHW",
    out: Out = None,
) -> Array: ...


@overload
def max_pool3d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: Literal[True],
    layout: str = "NCDHW",
    out: Out = None,
) -> Tuple[Array, Array]: ...


@overload
def max_pool3d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: bool = False,
    layout: str = "NCDHW",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]: ...


@takes_out(_with_indices)
def max_pool3d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: bool = False,
    layout: str = "NCDHW",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]:
    """3-D max pooling, as ``torch.nn.functional.max_pool3d``.

    Parameters
    ----------
    x : array_like of shape (N, C, D, H, W), or (N, D, H, W, C) for "NDHWC"
    kernel_size, dilation : int, 1-tuple or (int, int, int)
    stride : int, 1-tuple or (int, int, int), optional
        Defaults to `kernel_size`.
    padding : int, 1-tuple or (int, int, int)
        -inf padding, at most half the dilated kernel.
    ceil_mode, return_indices
        As for :func:`fastconv.max_pool2d`.
    layout : {"NCDHW", "NDHWC"}

    Returns
    -------
    out : ndarray of shape (N, C, OD, OH, OW), or (N, OD, OH, OW, C)
    indices : ndarray of int64, shape of out
        With `return_indices`: flat ``d*H*W + h*W + w`` in the input volume;
        ties to the first maximum in (d, h, w) order, a NaN wins.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> fastconv.max_pool3d(x, 2, return_indices=True)
    (array([[[[[7.]]]]]), array([[[[[7]]]]]))
    """
    layout2 = _layout(layout)
    x = as_pool_input(x, "x", ndim=5)
    g = _pool_geometry(
        x.shape, kernel_size, stride, padding, dilation, ceil_mode, layout2
    )
    N, D = x.shape[0], g[0].size
    plane_args = _plane_args(g, ceil_mode, layout2)
    depth_args = _depth_args(g, ceil_mode, layout2)
    if not return_indices:
        v = pool.max_pool2d(_planes(x, layout2), **plane_args)
        best = pool.max_pool2d(_columns(v, N, D, layout2), **depth_args)
        return _volume(best, _plane_shape(v, layout2), layout2)
    v, i = pool.max_pool2d(_planes(x, layout2), return_indices=True, **plane_args)
    best, k = pool.max_pool2d(
        _columns(v, N, D, layout2), return_indices=True, **depth_args
    )
    H, W = x.shape[3:5] if layout2 == "NCHW" else x.shape[2:4]
    idx = _flat_indices(i, k, N, D, H * W, layout2)
    plane = _plane_shape(v, layout2)
    return _volume(best, plane, layout2), _volume(idx, plane, layout2)


@takes_out()
def max_pool3d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    layout: str = "NCDHW",
    indices: Optional[ArrayLike] = None,
    out: Out = None,
) -> Array:
    """Gradient of :func:`max_pool3d` with respect to x.

    Parameters
    ----------
    grad_out : array_like, the output's shape
    x, kernel_size, stride, padding, dilation, ceil_mode, layout
        As given to :func:`max_pool3d`.
    indices : array_like of ints, optional
        What ``max_pool3d(..., return_indices=True)`` returned (checked).

    Returns
    -------
    grad_x : ndarray, shape of x
        Each grad_out entry added at its window's argmax.
    """
    layout2 = _layout(layout)
    x = as_pool_input(x, "x", ndim=5)
    if indices is None:  # the window search: the forward pass's argmaxes
        _, idx = max_pool3d(
            x,
            kernel_size,
            stride,
            padding,
            dilation,
            ceil_mode,
            return_indices=True,
            layout=layout,
        )
        out_shape = idx.shape
    else:  # no search: only the output's shape, from the geometry
        g = _pool_geometry(
            x.shape, kernel_size, stride, padding, dilation, ceil_mode, layout2
        )
        out_shape = pool_out_shape(x.shape, (a.out for a in g), layout2)
        idx = check_indices(indices, out_shape)
    grad_out = as_real_array(grad_out, "grad_out", ndim=5)
    if grad_out.shape != out_shape:
        raise ValueError(
            f"grad_out must have the output's shape {out_shape}, got shape "
            f"{grad_out.shape}"
        )
    return _scatter_volume(grad_out, x, idx, layout2)


def _avg_divisors(axes, outs, count_include_pad, divisor_override, layout2):
    """Each output window's divisor, `outs` (OD, OH, OW) broadcast to the layout."""
    if check_divisor_override(divisor_override):
        return float(divisor_override)
    per_axis = []
    for a, n_out in zip(axes, outs):
        start = np.arange(n_out) * a.stride - a.lo
        end = np.minimum(start + a.kernel, a.size + a.hi)
        if count_include_pad:
            per_axis.append(end - start)
        else:
            per_axis.append(np.minimum(end, a.size) - np.maximum(start, 0))
    div = (
        per_axis[0][:, None, None]
        * per_axis[1][None, :, None]
        * per_axis[2][None, None, :]
    )
    return div if layout2 == "NCHW" else div[..., None]


@takes_out()
def avg_pool3d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
    *,
    layout: str = "NCDHW",
    out: Out = None,
) -> Array:
    """3-D average pooling, as ``torch.nn.functional.avg_pool3d``.

    Parameters
    ----------
    x : array_like of shape (N, C, D, H, W), or (N, D, H, W, C) for "NDHWC"
    kernel_size : int, 1-tuple or (int, int, int)
    stride : int, 1-tuple or (int, int, int), optional
        Defaults to `kernel_size`.
    padding : int, 1-tuple or (int, int, int)
    ceil_mode, count_include_pad, divisor_override
        As for :func:`fastconv.avg_pool2d`, on the volume's windows.
    layout : {"NCDHW", "NDHWC"}

    Returns
    -------
    out : ndarray of shape (N, C, OD, OH, OW), or (N, OD, OH, OW, C)

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool3d(np.arange(8.0).reshape(1, 1, 2, 2, 2), 2).ravel()
    array([3.5])
    """
    layout2 = _layout(layout)
    x = as_pool_input(x, "x", ndim=5)
    g = _pool_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode, layout2)
    N, D = x.shape[0], g[0].size
    sums = pool.avg_pool2d(  # each slice's window sums, then the depths'
        _planes(x, layout2), **_avg_args(_plane_args(g, ceil_mode, layout2))
    )
    plane = _plane_shape(sums, layout2)
    sums = pool.avg_pool2d(
        _columns(sums, N, D, layout2), **_avg_args(_depth_args(g, ceil_mode, layout2))
    )
    sums = _volume(sums, plane, layout2)
    outs = (g[0].out,) + tuple(plane)
    result = sums / _avg_divisors(g, outs, count_include_pad, divisor_override, layout2)
    return result.astype(sums.dtype, copy=False)


def _avg_args(args):
    """avg_pool2d's arguments for the window sums of one pass (divisor 1)."""
    args = {k: v for k, v in args.items() if k != "dilation"}
    return dict(args, divisor_override=1)


def _flat_plane(a, layout2):
    """Return a volume's planes flattened, the inverse of :func:`_volume`.

    (N, C, OD, OH, OW) -> (N, C, OD, OH*OW); (N, OD, OH, OW, C) -> (N, OD, OH*OW, C).
    """
    s = a.shape
    if layout2 == "NCHW":
        return a.reshape(s[0], s[1], s[2], s[3] * s[4])
    return a.reshape(s[0], s[1], s[2] * s[3], s[4])


def _column_shape(x_shape, plane, layout2):
    """Shape of :func:`_columns`' result for a volume of `x_shape` pooled to `plane`."""
    P = plane[0] * plane[1]
    if layout2 == "NCHW":
        return (x_shape[0], x_shape[1], x_shape[2], P)
    return (x_shape[0], x_shape[1], P, x_shape[4])


def _uncolumns(c, plane, layout2):
    """Return the slices' 2-D results from columns, the inverse of :func:`_columns`."""
    s = c.shape
    if layout2 == "NCHW":
        return c.reshape((s[0], s[1] * s[2]) + tuple(plane))
    return c.reshape((s[0] * s[1],) + tuple(plane) + (s[3],))


@takes_out()
def avg_pool3d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
    *,
    layout: str = "NCDHW",
    out: Out = None,
) -> Array:
    """Gradient of :func:`avg_pool3d` with respect to x.

    Parameters
    ----------
    grad_out : array_like, the output's shape
    x, kernel_size, stride, padding, ceil_mode, count_include_pad, layout
        As given to :func:`avg_pool3d`.
    divisor_override : int, optional
        As given to :func:`avg_pool3d`.

    Returns
    -------
    grad_x : ndarray, shape of x
    """
    layout2 = _layout(layout)
    x = as_pool_input(x, "x", ndim=5)
    grad_out = as_real_array(grad_out, "grad_out", ndim=5)
    g = _pool_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode, layout2)
    out_sizes = grad_out.shape[2:] if layout2 == "NCHW" else grad_out.shape[1:4]
    dtype = dtype_rule(np.result_type(x.dtype, grad_out.dtype))
    share = grad_out / _avg_divisors(
        g, out_sizes, count_include_pad, divisor_override, layout2
    )
    share = share.astype(dtype[0], copy=False)
    plane = out_sizes[1:]
    # the two passes' adjoints in reverse order: the depth pass's, on the
    # columns (whose values it does not read), then the slices'
    columns = np.empty(_column_shape(x.shape, plane, layout2), dtype[0])
    g_cols = pool.avg_pool2d_backward(
        _flat_plane(share, layout2),
        columns,
        **_avg_args(_depth_args(g, ceil_mode, layout2)),
    )
    gx = pool.avg_pool2d_backward(
        _uncolumns(g_cols, plane, layout2),
        _planes(x, layout2),
        **_avg_args(_plane_args(g, ceil_mode, layout2)),
    )
    return gx.reshape(x.shape).astype(dtype[1], copy=False)


# adaptive pooling: the same two passes, each an adaptive 2-D pooling (the
# depth pass's windows by PyTorch's rule over D, every column kept)


def _adaptive_sizes(output_size, x_shape, layout2):
    """(OD, OH, OW) of an adaptive 3-D pooling; None keeps an axis's size."""
    sizes = x_shape[2:] if layout2 == "NCHW" else x_shape[1:4]
    return adaptive_output_size(output_size, sizes)


@takes_out()
def adaptive_avg_pool3d(
    x: ArrayLike, output_size: OutputSize, *, layout: str = "NCDHW", out: Out = None
) -> Array:
    """3-D adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool3d``.

    Parameters
    ----------
    x : array_like of shape (N, C, D, H, W), or (N, D, H, W, C) for "NDHWC"
    output_size : int or (int, int, int)
        (OD, OH, OW); None for any keeps the input's size.
    layout : {"NCDHW", "NDHWC"}

    Returns
    -------
    out : ndarray of shape (N, C, OD, OH, OW), or (N, OD, OH, OW, C)
        The mean over each depth window of the 2-D adaptive means (every
        slice of a window has the same 2-D windows, so this is the window's
        mean).
    """
    layout2 = _layout(layout)
    x = as_pool_input(x, "x", ndim=5)
    OD, OH, OW = _adaptive_sizes(output_size, x.shape, layout2)
    N, D = x.shape[0], x.shape[2 if layout2 == "NCHW" else 1]
    means = adaptive.adaptive_avg_pool2d(_planes(x, layout2), (OH, OW), layout=layout2)
    plane = _plane_shape(means, layout2)
    means = adaptive.adaptive_avg_pool2d(
        _columns(means, N, D, layout2), (OD, None), layout=layout2
    )
    return _volume(means, plane, layout2)


@takes_out()
def adaptive_avg_pool3d_backward(
    grad_out: ArrayLike, x: ArrayLike, *, layout: str = "NCDHW", out: Out = None
) -> Array:
    """Gradient of :func:`adaptive_avg_pool3d`; the output size is grad_out's."""
    layout2 = _layout(layout)
    x = as_pool_input(x, "x", ndim=5)
    grad_out = as_real_array(grad_out, "grad_out", ndim=5)
    plane = grad_out.shape[3:5] if layout2 == "NCHW" else grad_out.shape[2:4]
    # the passes' adjoints in reverse order (the depth pass's on columns
    # whose values it does not read)
    columns = np.empty(_column_shape(x.shape, plane, layout2), x.dtype)
    g_cols = adaptive.adaptive_avg_pool2d_backward(
        _flat_plane(grad_out, layout2), columns, layout=layout2
    )
    gx = adaptive.adaptive_avg_pool2d_backward(
        _uncolumns(g_cols, plane, layout2), _planes(x, layout2), layout=layout2
    )
    return gx.reshape(x.shape)


@overload
def adaptive_max_pool3d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: Literal[False] = False,
    *,
    layout: str = "NCDHW",
    out: Out = None,
) -> Array: ...


@overload
def adaptive_max_pool3d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: Literal[True],
    *,
    layout: str = "NCDHW",
    out: Out = None,
) -> Tuple[Array, Array]: ...


@overload
def adaptive_max_pool3d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    layout: str = "NCDHW",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]: ...


@takes_out(_with_indices)
def adaptive_max_pool3d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    layout: str = "NCDHW",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]:
    """3-D adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool3d``.

    Parameters
    ----------
    x : array_like of shape (N, C, D, H, W), or (N, D, H, W, C) for "NDHWC"
    output_size : int or (int, int, int)
    return_indices : bool
        Also return flat ``d*H*W + h*W + w`` argmaxes (first maximum in (d, h, w)
        order, a NaN wins).
    layout : {"NCDHW", "NDHWC"}

    Returns
    -------
    out : ndarray of shape (N, C, OD, OH, OW), or (N, OD, OH, OW, C)
    indices : ndarray of int64, shape of out (with `return_indices`)
    """
    layout2 = _layout(layout)
    x = as_pool_input(x, "x", ndim=5)
    OD, OH, OW = _adaptive_sizes(output_size, x.shape, layout2)
    N, D = x.shape[0], x.shape[2 if layout2 == "NCHW" else 1]
    if not return_indices:
        v = adaptive.adaptive_max_pool2d(_planes(x, layout2), (OH, OW), layout=layout2)
        best = adaptive.adaptive_max_pool2d(
            _columns(v, N, D, layout2), (OD, None), layout=layout2
        )
        return _volume(best, _plane_shape(v, layout2), layout2)
    v, i = adaptive.adaptive_max_pool2d(
        _planes(x, layout2), (OH, OW), True, layout=layout2
    )
    best, k = adaptive.adaptive_max_pool2d(
        _columns(v, N, D, layout2), (OD, None), True, layout=layout2
    )
    H, W = x.shape[3:5] if layout2 == "NCHW" else x.shape[2:4]
    idx = _flat_indices(i, k, N, D, H * W, layout2)
    plane = _plane_shape(v, layout2)
    return _volume(best, plane, layout2), _volume(idx, plane, layout2)


@takes_out()
def adaptive_max_pool3d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    *,
    layout: str = "NCDHW",
    indices: Optional[ArrayLike] = None,
    out: Out = None,
) -> Array:
    """Gradient of :func:`adaptive_max_pool3d`; `indices` as it returned them."""
    layout2 = _layout(layout)
    x = as_pool_input(x, "x", ndim=5)
    grad_out = as_real_array(grad_out, "grad_out", ndim=5)
    sizes = grad_out.shape[2:] if layout2 == "NCHW" else grad_out.shape[1:4]
    if indices is None:
        _, indices = adaptive_max_pool3d(x, sizes, True, layout=layout)
    idx = check_indices(indices, grad_out.shape)
    return _scatter_volume(grad_out, x, idx, layout2)


def _scatter_volume(grad_out, x, idx, layout2):
    """grad_x: each grad_out entry added at its flat index in the volume (checked)."""
    dtype = dtype_rule(np.result_type(x.dtype, grad_out.dtype))
    gy = np.ascontiguousarray(grad_out, dtype=dtype[0])
    grad_x = np.empty(x.shape, dtype[0])
    N = x.shape[0]
    if layout2 == "NCHW":  # volumes as (N, C, 1, D*H*W) planes
        C, V, OV = x.shape[1], int(np.prod(x.shape[2:])), int(np.prod(gy.shape[2:]))
        planes = (N, C, 1, OV), (N, C, 1, V)
    else:
        C, V, OV = x.shape[4], int(np.prod(x.shape[1:4])), int(np.prod(gy.shape[1:4]))
        planes = (N, 1, OV, C), (N, 1, V, C)
    bad = pool_driver.unpool_add(
        gy.reshape(planes[0]), idx.reshape(planes[0]), grad_x.reshape(planes[1]), layout2
    )
    if grad_x.size and bad:
        raise_bad_index(idx, V)
    return grad_x.astype(dtype[1], copy=False)


# --------------------------------------------------------------------------
# transposed convolution: the adjoint of conv3d, through the same stack


def _depth_fit(x, OD):
    """Return x (N, D, H, W, C) as the stack's input planes (N*OD, H, W, C).

    The convolution a transposed one is the adjoint of can have OD > D
    output depths (output_padding at least the stride, below the dilation):
    the extra ones are zeros, as conv_transpose2d fits its input.
    """
    if x.shape[1] != OD:
        full = np.zeros((x.shape[0], OD) + x.shape[2:], x.dtype)
        full[:, : x.shape[1]] = x
        x = full
    return x.reshape((-1,) + x.shape[2:])


def _transpose_geometry(
    x_shape, w_shape, stride, padding, output_padding, groups, dilation, layout2
):
    """Parameters of a 3-D transposed convolution and of the stack it runs.

    Returns (t, adj, args2): the transposed convolution's
    :class:`~fastconv._engine.geometry.ConvParams`, the convolution it is the
    adjoint of (:meth:`~fastconv._engine.geometry.ConvParams.adjoint`, whose
    depth axis the stack follows), and the (H, W) arguments of the stack's
    2-D transposed convolution.
    """
    t = transpose_params(
        x_shape, w_shape, stride, padding, output_padding, dilation, groups, layout2
    )
    h, w = t.axes[1:]
    args2 = dict(
        stride=(h.stride, w.stride),
        padding=(h.lo, w.lo),
        output_padding=(h.lo - h.hi, w.lo - w.hi),
        dilation=(h.dilation, w.dilation),
    )
    return t, t.adjoint(), args2


def _channels_last_shape(t):
    """Return the transposed convolution's output shape as NDHWC."""
    return (t.N,) + tuple(a.out for a in t.axes) + (t.F,)


@takes_out()
def conv_transpose3d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: Size = 1,
    padding: Padding = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
    *,
    layout: str = "NCDHW",
    algorithm: str = "auto",
    out: Out = None,
) -> Array:
    """3-D transposed convolution, as ``torch.nn.functional.conv_transpose3d``.

    Parameters
    ----------
    x : array_like of shape (N, C_in, D, H, W), or (N, D, H, W, C_in) for "NDHWC"
    weight : array_like of shape (C_in, F/groups, KD, KH, KW), or (KD, KH, KW,
        F/groups, C_in) for "NDHWC"
    bias : array_like of shape (F,), optional
    stride, padding, output_padding, dilation : int, 1-tuple or (int, int, int)
    groups, algorithm
        As for :func:`fastconv.conv_transpose2d` (the stack's runs one).
    layout : {"NCDHW", "NDHWC"}

    Returns
    -------
    out : ndarray of shape (N, F, OD, OH, OW), or (N, OD, OH, OW, F)
        Each axis ``(size - 1)*stride - 2*padding + dilation*(K - 1) +
        output_padding + 1``.
    """
    layout2 = _layout(layout)
    x = as_real_array(x, "x", ndim=5)
    weight = as_real_array(weight, "weight", ndim=5)
    t, adj, args2 = _transpose_geometry(
        x.shape, weight.shape, stride, padding, output_padding, groups, dilation, layout2
    )
    given = [x, weight] + ([] if bias is None else [as_real_array(bias, "bias", None)])
    compute, result = dtypes(*given)
    x, weight = _channels_last(x, weight, compute, layout2)
    if bias is not None:
        bias = as_real_array(bias, "bias", ndim=None)
        if bias.shape != (t.F,):
            raise ValueError(
                f"bias must have shape (F,) = ({t.F},), got shape {bias.shape}"
            )
    # the adjoint of conv3d: its stack's 2-D grad_x pass, then the stack's adjoint
    planes = conv.conv_transpose2d(
        _depth_fit(x, adj.axes[0].out),
        depth.stacked_weight(weight),
        None,
        groups=groups,
        layout="NHWC",
        algorithm=algorithm,
        **args2,
    )
    res = depth.unstack(planes, _channels_last_shape(t), adj)  # (N, OD, OH, OW, F)
    if bias is not None:
        res += prepare(bias, compute)
    if layout2 == "NCHW":
        res = depth.channels_first(res)
    return res.astype(result, copy=False)


@takes_out(3)
def conv_transpose3d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    stride: Size = 1,
    padding: Padding = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
    *,
    layout: str = "NCDHW",
    algorithm: str = "auto",
    out: Out = None,
) -> Grads:
    """Gradients of :func:`conv_transpose3d`: (grad_x, grad_weight, grad_bias).

    Parameters
    ----------
    grad_out : array_like of shape (N, F, OD, OH, OW), or (N, OD, OH, OW, F)
    x, weight, stride, padding, output_padding, groups, dilation, layout, algorithm
        As given to :func:`conv_transpose3d`.

    Returns
    -------
    grad_x : ndarray, shape of x
    grad_weight : ndarray, shape of weight
    grad_bias : ndarray of shape (F,)
    """
    layout2 = _layout(layout)
    x = as_real_array(x, "x", ndim=5)
    weight = as_real_array(weight, "weight", ndim=5)
    grad_out = as_real_array(grad_out, "grad_out", ndim=5)
    t, adj, args2 = _transpose_geometry(
        x.shape, weight.shape, stride, padding, output_padding, groups, dilation, layout2
    )
    out_shape = t.out_shape
    if grad_out.shape != out_shape:
        raise ValueError(
            f"grad_out must have the output's shape {out_shape}, got shape "
            f"{grad_out.shape}"
        )
    x, weight, gy, result = _backward_inputs(grad_out, x, weight, layout2)
    # grad_out's stack is the gradient of the stack conv_transpose3d unstacks
    gx, gw, _ = conv.conv_transpose2d_backward(
        depth.stack(gy, adj),
        _depth_fit(x, adj.axes[0].out),
        depth.stacked_weight(weight),
        groups=groups,
        layout="NHWC",
        algorithm=algorithm,
        **args2,
    )
    grad_x = gx.reshape((x.shape[0], adj.axes[0].out) + x.shape[2:])[:, : x.shape[1]]
    grad_w = depth.unstacked_weight(gw, weight.shape)
    s = gy.shape  # as 4-D (N, OD*OH, OW, F) for the bias's sum
    grad_b = conv_driver.grad_bias(gy.reshape((s[0], -1) + s[3:]), "NHWC")
    if layout2 == "NCHW":
        grad_x = depth.channels_first(np.ascontiguousarray(grad_x))
        grad_w = np.ascontiguousarray(grad_w.transpose(4, 3, 0, 1, 2))
    gx, gw, gb = (a.astype(result, copy=False) for a in (grad_x, grad_w, grad_b))
    return gx, gw, gb
