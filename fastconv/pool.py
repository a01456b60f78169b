"""2-D max and average pooling, forward and backward, PyTorch semantics.

The public functions check and normalise their arguments once, into a
:class:`~fastconv._engine.plan.PoolPlan` (cached per shape), and the driver
(:mod:`fastconv._engine.pool_driver`) runs the plan's direct window kernels
(:mod:`fastconv._kernels.pool`; no im2col: pooling is memory-bound and a
column copy would only add traffic).
"""

from __future__ import annotations

from typing import Literal, Optional, Tuple, Union, overload

import numpy as np

from ._engine import pool_driver
from ._engine.args import (
    as_pool_input,
    as_real_array,
    check_indices,
    check_pool_shape,
    prepare,
)
from ._engine.geometry import check_shape
from ._engine.plan import PoolPlan, cached, plan_pool
from ._engine.results import takes_out
from ._engine.results import with_indices as _with_indices
from ._engine.trace import phase
from ._typing import Array, ArrayLike, DTypeLike, OptSize, Out, Padding, Shape, Size

__all__ = [
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "plan_pool2d",
    "PoolPlan",
]


def _plan(
    kind,
    x,
    grad_out,
    kernel_size,
    stride,
    padding,
    dilation,
    ceil_mode,
    layout,
    count_include_pad=True,
    divisor_override=None,
):
    """Return the cached plan and the clean arrays of one pooling call."""
    x = as_pool_input(x, "x")
    arrays = [x]
    if grad_out is not None:
        grad_out = as_real_array(grad_out, "grad_out")
        arrays.append(grad_out)
    dtype = np.result_type(*arrays)
    args = (
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        layout,
        count_include_pad,
        divisor_override,
    )
    plan = cached(
        kind, lambda: plan_pool(kind, x.shape, dtype, *args), x.shape, dtype, *args
    )
    if grad_out is not None:
        if grad_out.shape != plan.out_shape:
            raise ValueError(
                f"grad_out must have the output's shape {plan.out_shape}, "
                f"got shape {grad_out.shape}"
            )
        grad_out = prepare(grad_out, plan.dtype)
    return plan, prepare(x, plan.dtype), grad_out


@overload
def max_pool2d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: Literal[False] = False,
    layout: str = "NCHW",
    out: Out = None,
) -> Array: ...


@overload
def max_pool2d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: Literal[True],
    layout: str = "NCHW",
    out: Out = None,
) -> Tuple[Array, Array]: ...


@overload
def max_pool2d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: bool = False,
    layout: str = "NCHW",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]: ...


@takes_out(_with_indices)
def max_pool2d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: bool = False,
    layout: str = "NCHW",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]:
    """2-D max pooling.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W), or (N, H, W, C) for layout "NHWC"
    kernel_size, dilation : int or (int, int)
    stride : int or (int, int), optional
        Defaults to `kernel_size`.
    padding : int, (int, int), (top, bottom, left, right), "valid" or "same"
        Implicit -inf padding; each side at most half the dilated kernel.
    ceil_mode : bool
        Round the output size up; the last window must still start inside
        the input or the top/left padding (PyTorch's rule).
    return_indices : bool
        Also return the argmax of each window.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW), or (N, OH, OW, C) for "NHWC"
    indices : ndarray of int64, shape of out
        Only with `return_indices`: the flat position ``h*W + w`` of each
        maximum in its input plane (PyTorch's convention). Ties go to the
        first maximum in row-major window order; a NaN in a window wins.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[[1., 3.], [3., 2.]]]])
    >>> fastconv.max_pool2d(x, 2, return_indices=True)
    (array([[[[3.]]]]), array([[[[1]]]]))
    """
    with phase("prepare"):
        if not isinstance(return_indices, (bool, np.bool_)):
            raise TypeError(f"return_indices must be a bool, got {return_indices!r}")
        plan, x, _ = _plan(
            "max", x, None, kernel_size, stride, padding, dilation, ceil_mode, layout
        )
    result, idx = pool_driver.max_forward(plan, x, bool(return_indices))
    result = result.astype(plan.result_dtype, copy=False)
    return (result, idx) if return_indices else result


@takes_out()
def max_pool2d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    layout: str = "NCHW",
    indices: Optional[ArrayLike] = None,
    out: Out = None,
) -> Array:
    """Gradient of :func:`max_pool2d` with respect to x.

    Parameters
    ----------
    grad_out : array_like, shape of max_pool2d's output
    x, kernel_size, stride, padding, dilation, ceil_mode, layout
        As given to :func:`max_pool2d`.
    indices : array_like of int, shape of max_pool2d's output, optional
        The indices ``max_pool2d(..., return_indices=True)`` returned for
        this x and these arguments: the window search is skipped and each
        grad_out entry goes to its index (about twice as fast). Checked:
        an integer dtype (TypeError), the output's shape and indices inside
        the input plane (ValueError); that they are this x's argmaxes is
        not checked.

    Returns
    -------
    grad_x : ndarray, shape of x
        Each grad_out entry added at its window's argmax (from `indices`, or
        recomputed from x with the forward pass's tie and NaN rule);
        overlapping windows sum.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[[1., 3.], [3., 2.]]]])
    >>> fastconv.max_pool2d_backward(np.array([[[[5.]]]]), x, 2)
    array([[[[0., 5.],
             [0., 0.]]]])
    """
    with phase("prepare"):
        plan, x, grad_out = _plan(
            "max", x, grad_out, kernel_size, stride, padding, dilation, ceil_mode, layout
        )
        if indices is not None:
            indices = check_indices(indices, plan.out_shape)
    grad_x = pool_driver.max_backward(plan, grad_out, x, indices)
    return grad_x.astype(plan.result_dtype, copy=False)


@takes_out()
def avg_pool2d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
    *,
    layout: str = "NCHW",
    out: Out = None,
) -> Array:
    """2-D average pooling.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W), or (N, H, W, C) for layout "NHWC"
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to `kernel_size`.
    padding : int, (int, int), (top, bottom, left, right), "valid" or "same"
        Zero padding, each side at most half the kernel.
    ceil_mode : bool
        As in :func:`max_pool2d`.
    count_include_pad : bool
        Divide by the window's area including zero padding (PyTorch's default)
        rather than by the number of input pixels it covers. Windows that
        reach past the padding in ceil mode count only up to the padding.
        TensorFlow's "SAME" average pooling is ``padding="same",
        count_include_pad=False``.
    divisor_override : int, optional
        Divide every window's sum by this instead.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW), or (N, OH, OW, C) for "NHWC"

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> fastconv.avg_pool2d(x, 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    with phase("prepare"):
        plan, x, _ = _plan(
            "avg",
            x,
            None,
            kernel_size,
            stride,
            padding,
            1,
            ceil_mode,
            layout,
            count_include_pad,
            divisor_override,
        )
    result = pool_driver.avg_forward(plan, x)
    return result.astype(plan.result_dtype, copy=False)


@takes_out()
def avg_pool2d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
    *,
    layout: str = "NCHW",
    out: Out = None,
) -> Array:
    """Gradient of :func:`avg_pool2d` with respect to x.

    Parameters
    ----------
    grad_out : array_like, shape of avg_pool2d's output
    x : array_like
        The forward input; only its shape (and dtype) matter.
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, layout
        As given to :func:`avg_pool2d`.

    Returns
    -------
    grad_x : ndarray, shape of x
        Each grad_out entry divided by its window's divisor and spread over
        the window's input pixels.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool2d_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)), 2)
    array([[[[0.25, 0.25],
             [0.25, 0.25]]]])
    """
    with phase("prepare"):
        plan, x, grad_out = _plan(
            "avg",
            x,
            grad_out,
            kernel_size,
            stride,
            padding,
            1,
            ceil_mode,
            layout,
            count_include_pad,
            divisor_override,
        )
    grad_x = pool_driver.avg_backward(plan, grad_out)
    return grad_x.astype(plan.result_dtype, copy=False)


def plan_pool2d(
    kind: str,
    x_shape: Shape,
    dtype: DTypeLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
    *,
    layout: str = "NCHW",
) -> PoolPlan:
    """Check a 2-D pooling once and return its plan, to run on many arrays.

    The pooling functions build the same plan (kept in a small cache);
    holding it skips the cache lookup and the checks of the arguments.

    Parameters
    ----------
    kind : {"max", "avg"}
    x_shape : tuple of 4 ints
        (N, C, H, W), or (N, H, W, C) for "NHWC"; only N may be 0.
    dtype : numpy dtype
        Of x (and grad_out); the dtype rule gives the plan's compute and
        result dtypes.
    kernel_size, stride, padding, dilation, ceil_mode, layout
        As for :func:`max_pool2d` (average pooling: dilation 1).
    count_include_pad, divisor_override
        As for :func:`avg_pool2d` (average pooling only).

    Returns
    -------
    PoolPlan
        ``plan.forward(x, return_indices=False)`` and
        ``plan.backward(grad_out, x, indices=None)`` run it on arrays of
        ``plan.x_shape``; ``plan.out_shape``, ``plan.result_dtype``.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> plan = fastconv.plan_pool2d("max", (1, 1, 4, 4), np.float32, 2)
    >>> plan.out_shape
    (1, 1, 2, 2)
    >>> out, idx = plan.forward(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4),
    ...                         return_indices=True)
    >>> out[0, 0], idx[0, 0]
    (array([[ 5.,  7.],
           [13., 15.]], dtype=float32), array([[ 5,  7],
           [13, 15]]))
    """
    x_shape = check_shape(x_shape, "x_shape")
    check_pool_shape(x_shape, "x_shape")
    return plan_pool(
        kind,
        x_shape,
        dtype,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        layout,
        count_include_pad,
        divisor_override,
    )
