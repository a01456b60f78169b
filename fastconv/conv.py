"""2-D convolution and transposed convolution, forward and backward, and their plans.

The public functions check and normalise their arguments once, into a
:class:`~fastconv._engine.plan.ConvPlan` (cached per shape), and the
driver (:mod:`fastconv._engine.conv_driver`) runs it: fused jitted
im2col + GEMM (+ col2im) kernels on tiles, one piece per core, calling
numpy's BLAS single-threaded.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ._engine import conv_driver
from ._engine import padding as padding_modes
from ._engine.args import as_real_array, prepare
from ._engine.geometry import conv_params, transpose_params
from ._engine.padding import check_padding_mode
from ._engine.plan import ConvPlan, PreparedWeight, cached, plan_conv
from ._engine.results import takes_out
from ._engine.trace import phase
from ._typing import Array, ArrayLike, DTypeLike, Grads, Out, Padding, Shape, Size

__all__ = [
    "conv2d",
    "conv2d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "plan_conv2d",
    "ConvPlan",
    "PreparedWeight",
]


def plan_conv2d(
    x_shape: Shape,
    weight_shape: Shape,
    dtype: DTypeLike,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCHW",
    algorithm: str = "auto",
) -> ConvPlan:
    """Plan a 2-D convolution once, to run it many times.

    Parameters
    ----------
    x_shape : tuple of 4 ints
        (N, C, H, W), or (N, H, W, C) for layout "NHWC".
    weight_shape : tuple of 4 ints
        (F, C/groups, KH, KW), or (KH, KW, C/groups, F) for "NHWC".
    dtype : numpy dtype
        dtype of the arrays (the result of promoting x, weight and bias):
        float32 and float64 compute in their own precision, others by the
        package's dtype rule.
    stride, padding, dilation, groups, layout, algorithm
        As for :func:`conv2d`.

    Returns
    -------
    plan : ConvPlan
        ``plan.forward(x, weight, bias=None)`` and
        ``plan.backward(grad_out, x, weight)`` run the convolution on arrays
        of these shapes; ``plan.algorithm``, ``plan.workspace_bytes``,
        ``plan.flops`` and ``repr(plan)`` describe it.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> plan = fastconv.plan_conv2d((2, 8, 8, 8), (4, 8, 3, 3), np.float32, padding=1,
    ...                             algorithm="im2col")
    >>> plan.algorithm, plan.out_shape, plan.flops
    ('im2col', (2, 4, 8, 8), 73728)
    >>> x = np.ones((2, 8, 8, 8), np.float32); w = np.ones((4, 8, 3, 3), np.float32)
    >>> float(plan.forward(x, w)[0, 0, 3, 3])
    72.0
    """
    return plan_conv(
        x_shape, weight_shape, dtype, stride, padding, dilation, groups, layout, algorithm
    )


def _plan(
    x, weight, bias, stride, padding, dilation, groups, layout, algorithm, grad_out=None
) -> Tuple[ConvPlan, np.ndarray, np.ndarray]:
    """Return the cached plan for these arrays and arguments, and x and weight."""
    x = as_real_array(x, "x")
    weight = as_real_array(weight, "weight")
    arrays = [x, weight]
    if bias is not None:
        arrays.append(as_real_array(bias, "bias", ndim=None))
    if grad_out is not None:
        arrays.append(as_real_array(grad_out, "grad_out"))
    dtype = np.result_type(*arrays)
    args = (x.shape, weight.shape, dtype, stride, padding, dilation, groups, layout)
    plan = cached("conv", lambda: plan_conv(*args, algorithm), *args, algorithm)
    return plan, x, weight


@takes_out()
def conv2d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCHW",
    algorithm: str = "auto",
    padding_mode: str = "zeros",
    out: Out = None,
) -> Array:
    """2-D convolution (cross-correlation, as in deep learning).

    Parameters
    ----------
    x : array_like of shape (N, C, H, W), or (N, H, W, C) for layout "NHWC"
    weight : array_like of shape (F, C/groups, KH, KW), or (KH, KW, C/groups, F)
        for layout "NHWC" (TensorFlow's layout).
    bias : array_like of shape (F,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), (top, bottom, left, right), "valid" or "same"
        Zero padding. "same" follows TensorFlow: the output is
        ``ceil(H / stride)`` by ``ceil(W / stride)`` for any stride, the odd
        pixel of padding going to the bottom/right.
    groups : int
        Input and output channels are split into `groups` independent blocks.
    layout : {"NCHW", "NHWC"}
    algorithm : str
        "auto" (default: the plan picks per pass, see
        docs/algorithms.md), or one of "im2col", "pointwise", "direct",
        "winograd-2x2", "winograd-4x4", "brgemm" to run it in every pass it
        implements. A ValueError names the argument when the algorithm does
        not apply to the layer.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        What the padding holds, as in ``torch.nn.Conv2d``; other than zeros,
        x is padded into a copy first (reflect: padding below the input size).

    Returns
    -------
    out : ndarray of shape (N, F, OH, OW), or (N, OH, OW, F) for "NHWC"
        ``OH = floor((H + top + bottom - (KH - 1)*dilation_h - 1) / stride_h) + 1``,
        likewise OW. dtype: see the package's dtype rule (float32 stays float32).

    Notes
    -----
    Runs the plan :func:`plan_conv2d` builds for these shapes and arguments
    (kept in a small cache, so repeated calls pay the checks once): im2col
    of a band of output rows at a time, sized to stay in cache, each band
    consumed at once by its GEMM, on every core. 1x1 convolutions with unit
    stride and no padding skip im2col. Scratch memory is a few column tiles
    per thread (``plan.workspace_bytes``).

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 2, 2))
    >>> fastconv.conv2d(x, w, stride=2)
    array([[[[10., 18.],
             [42., 50.]]]])
    """
    with phase("prepare"):
        if check_padding_mode(padding_mode) != "zeros":
            x, _ = _pad_copy(
                x, weight, stride, padding, dilation, groups, layout, padding_mode
            )
            padding = 0
        plan, x, weight = _plan(
            x, weight, bias, stride, padding, dilation, groups, layout, algorithm
        )
        x, weight, bias = conv_driver.check_arrays(plan, x, weight, bias)
    result = conv_driver.forward(plan, x, weight, bias)
    return result.astype(plan.result_dtype, copy=False)


def _pad_copy(x, weight, stride, padding, dilation, groups, layout, mode):
    """Return x padded into a copy in `mode`, and the (top, bottom, left, right) used."""
    x = as_real_array(x, "x")
    w = as_real_array(weight, "weight")
    pads = conv_params(x.shape, w.shape, stride, padding, dilation, groups, layout).pads
    return padding_modes.pad(x, pads, mode, padding_modes.spatial_axes(layout)), pads


@takes_out(3)
def conv2d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCHW",
    algorithm: str = "auto",
    padding_mode: str = "zeros",
    out: Out = None,
) -> Grads:
    """Gradients of :func:`conv2d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : array_like of shape (N, F, OH, OW), or (N, OH, OW, F) for "NHWC"
        Gradient of the loss with respect to the convolution's output.
    x, weight, stride, padding, dilation, groups, layout, algorithm, padding_mode
        As given to :func:`conv2d`.

    Returns
    -------
    grad_x : ndarray, shape of x
        With a padding_mode other than zeros, the padded copy's gradient
        folded back: each padded entry's added to the entry it copies.
    grad_weight : ndarray, shape of weight
    grad_bias : ndarray of shape (F,)

    Notes
    -----
    ``grad_weight = sum_n dY[n] @ cols[n].T`` and
    ``grad_x = col2im(W.T @ dY)``, tile by tile: one column buffer per thread
    serves both. The sum over the batch runs in fixed slots of samples,
    added in order, so the result does not depend on the thread count.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 1, 3, 3)); w = np.ones((1, 1, 2, 2))
    >>> gx, gw, gb = fastconv.conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> gx[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gw[0, 0], gb
    (array([[4., 4.],
           [4., 4.]]), array([4.]))
    """
    if check_padding_mode(padding_mode) != "zeros":
        x0 = as_real_array(x, "x")
        xp, pads = _pad_copy(
            x0, weight, stride, padding, dilation, groups, layout, padding_mode
        )
        gxp, gw, gb = conv2d_backward(
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
        gx = padding_modes.fold(
            gxp, x0.shape, pads, padding_mode, padding_modes.spatial_axes(layout)
        )
        return gx, gw, gb
    with phase("prepare"):
        plan, x, weight = _plan(
            x,
            weight,
            None,
            stride,
            padding,
            dilation,
            groups,
            layout,
            algorithm,
            grad_out=grad_out,
        )
        x, weight, _ = conv_driver.check_arrays(plan, x, weight, None)
        grad_out = conv_driver.check_grad_out(plan, grad_out)
    grads = conv_driver.backward(plan, grad_out, x, weight)
    return tuple(g.astype(plan.result_dtype, copy=False) for g in grads)


def _transpose_plan(
    x,
    weight,
    stride,
    padding,
    output_padding,
    groups,
    dilation,
    layout,
    algorithm,
    *others,
) -> Tuple[ConvPlan, np.ndarray, np.ndarray, Tuple[int, ...]]:
    """Plan of the convolution a transposed one is the adjoint of, and its shapes.

    Returns (plan, x, weight, out_shape): the plan maps an input of the
    transposed convolution's output shape to (at least) x's shape.
    """
    x = as_real_array(x, "x")
    weight = as_real_array(weight, "weight")
    out_shape = transpose_params(
        x.shape, weight.shape, stride, padding, output_padding, dilation, groups, layout
    ).out_shape
    arrays = [x, weight] + [as_real_array(a, n, ndim=None) for a, n in others]
    dtype = np.result_type(*arrays)
    args = (out_shape, weight.shape, dtype, stride, padding, dilation, groups, layout)
    plan = cached("conv", lambda: plan_conv(*args, algorithm), *args, algorithm)
    return plan, prepare(x, plan.dtype), prepare(weight, plan.dtype), out_shape


def _fit(a, shape, layout):
    """Return `a` zero-padded at its bottom and right to `shape` (output_padding)."""
    if a.shape == shape:
        return a
    full = np.zeros(shape, a.dtype)
    h, w = (a.shape[2], a.shape[3]) if layout == "NCHW" else (a.shape[1], a.shape[2])
    if layout == "NCHW":
        full[:, :, :h, :w] = a
    else:
        full[:, :h, :w, :] = a
    return full


@takes_out()
def conv_transpose2d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: Size = 1,
    padding: Padding = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
    *,
    layout: str = "NCHW",
    algorithm: str = "auto",
    out: Out = None,
) -> Array:
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    The adjoint of :func:`conv2d` with the same weight and arguments: it
    runs that convolution's grad_x pass (col2im of ``W^T @ x``), so it is as
    fast as :func:`conv2d_backward`'s grad_x.

    Parameters
    ----------
    x : array_like of shape (N, C_in, H, W), or (N, H, W, C_in) for layout "NHWC"
    weight : array_like of shape (C_in, F/groups, KH, KW), or (KH, KW, F/groups, C_in)
        for "NHWC" (the weight of the convolution it transposes, in that layout).
    bias : array_like of shape (F,), optional
    stride, dilation : int or (int, int)
    padding : int or (int, int)
        Removed from each side of the output (the convolution's padding).
    output_padding : int or (int, int)
        Added to the bottom and right of the output, each below the stride or
        the dilation (torch's check), choosing among the output sizes that
        convolve back to x's.
    groups : int
    layout : {"NCHW", "NHWC"}
    algorithm : str
        As for :func:`conv2d` (the convolution's grad_x pass runs it).

    Returns
    -------
    out : ndarray of shape (N, F, OH, OW), or (N, OH, OW, F) for "NHWC"
        ``OH = (H - 1)*stride_h - 2*padding_h + dilation_h*(KH - 1) +
        output_padding_h + 1``, likewise OW.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2)
    array([[[[1., 1., 1., 1.],
             [1., 1., 1., 1.],
             [1., 1., 1., 1.],
             [1., 1., 1., 1.]]]])
    """
    with phase("prepare"):
        extra = [] if bias is None else [(bias, "bias")]
        plan, x, weight, out_shape = _transpose_plan(
            x,
            weight,
            stride,
            padding,
            output_padding,
            groups,
            dilation,
            layout,
            algorithm,
            *extra,
        )
        F = plan.shapes.C
        if bias is not None:
            bias = as_real_array(bias, "bias", ndim=None)
            if bias.shape != (F,):
                raise ValueError(
                    f"bias must have shape (F,) = ({F},), got shape {bias.shape}"
                )
            bias = prepare(bias, plan.dtype)
        x = _fit(x, plan.out_shape, layout)
    result = conv_driver.grad_input(plan, x, weight, bias)
    return result.astype(plan.result_dtype, copy=False)


@takes_out(3)
def conv_transpose2d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    stride: Size = 1,
    padding: Padding = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
    *,
    layout: str = "NCHW",
    algorithm: str = "auto",
    out: Out = None,
) -> Grads:
    """Gradients of :func:`conv_transpose2d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : array_like of shape (N, F, OH, OW), or (N, OH, OW, F) for "NHWC"
    x, weight, stride, padding, output_padding, groups, dilation, layout, algorithm
        As given to :func:`conv_transpose2d`.

    Returns
    -------
    grad_x : ndarray, shape of x
        :func:`conv2d` of grad_out with the weight.
    grad_weight : ndarray, shape of weight
    grad_bias : ndarray of shape (F,)
    """
    with phase("prepare"):
        plan, x, weight, out_shape = _transpose_plan(
            x,
            weight,
            stride,
            padding,
            output_padding,
            groups,
            dilation,
            layout,
            algorithm,
            (grad_out, "grad_out"),
        )
        grad_out = as_real_array(grad_out, "grad_out")
        if grad_out.shape != out_shape:
            raise ValueError(
                f"grad_out must have the output's shape {out_shape}, "
                f"got shape {grad_out.shape}"
            )
        grad_out = prepare(grad_out, plan.dtype)
    # grad_x is the convolution's forward output of grad_out, grad_weight its
    # grad_weight with x as the output's gradient: one pass of columns for both
    grad_w, full = conv_driver.grad_weight_and_forward(
        plan, _fit(x, plan.out_shape, layout), grad_out, weight
    )
    H, W = (x.shape[2], x.shape[3]) if layout == "NCHW" else (x.shape[1], x.shape[2])
    grad_x = full[:, :, :H, :W] if layout == "NCHW" else full[:, :H, :W, :]
    grad_b = conv_driver.grad_bias(grad_out, layout).astype(plan.dtype)
    gx, gw, gb = (
        np.ascontiguousarray(g).astype(plan.result_dtype, copy=False)
        for g in (grad_x, grad_w, grad_b)
    )
    return gx, gw, gb
