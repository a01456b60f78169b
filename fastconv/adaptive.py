"""2-D adaptive average and max pooling, forward and backward, PyTorch semantics.

The output size is given, not the window: output o along an axis of size L
pools ``[floor(o*L/O), ceil((o+1)*L/O))``, so windows may differ in size by
one and overlap. The functions check their arguments once into a cached
:class:`~fastconv._engine.adaptive.AdaptivePlan`, which the driver runs.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Tuple, Union, overload

import numpy as np

from ._engine import adaptive as _driver
from ._engine.args import as_pool_input, as_real_array, check_indices, prepare
from ._engine.geometry import check_layout
from ._engine.plan import cached
from ._engine.results import takes_out
from ._engine.results import with_indices as _with_indices
from ._engine.trace import phase
from ._typing import Array, ArrayLike, Out, OutputSize

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_backward",
]


def _plan(x, output_size, layout, grad_out=None) -> Tuple[Any, np.ndarray, Any]:
    x = as_pool_input(x, "x")
    layout = check_layout(layout)
    arrays = [x] if grad_out is None else [x, as_real_array(grad_out, "grad_out")]
    dtype = np.result_type(*arrays)
    if grad_out is not None:  # backward: the size grad_out has
        g = arrays[1]
        output_size = g.shape[2:] if layout == "NCHW" else g.shape[1:3]
    plan = cached(
        "adaptive",
        lambda: _driver.plan_adaptive(x.shape, dtype, output_size, layout),
        x.shape,
        dtype,
        output_size,
        layout,
    )
    if grad_out is not None and arrays[1].shape != plan.out_shape:
        raise ValueError(
            f"grad_out must have the output's shape {plan.out_shape}, "
            f"got shape {arrays[1].shape}"
        )
    return (
        plan,
        prepare(x, plan.dtype),
        (None if grad_out is None else prepare(arrays[1], plan.dtype)),
    )


@takes_out()
def adaptive_avg_pool2d(
    x: ArrayLike, output_size: OutputSize, *, layout: str = "NCHW", out: Out = None
) -> Array:
    """2-D adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W), or (N, H, W, C) for layout "NHWC"
    output_size : int or (int, int)
        (OH, OW); None for either keeps the input's size.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW), or (N, OH, OW, C) for "NHWC"
        Each window's mean.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.adaptive_avg_pool2d(np.arange(9.0).reshape(1, 1, 3, 3), 2)
    array([[[[2., 3.],
             [5., 6.]]]])
    """
    with phase("prepare"):
        plan, x, _ = _plan(x, output_size, layout)
    return _driver.avg_forward(plan, x).astype(plan.result_dtype, copy=False)


@takes_out()
def adaptive_avg_pool2d_backward(
    grad_out: ArrayLike, x: ArrayLike, *, layout: str = "NCHW", out: Out = None
) -> Array:
    """Gradient of :func:`adaptive_avg_pool2d` with respect to x.

    Parameters
    ----------
    grad_out : array_like of shape (N, C, OH, OW), or (N, OH, OW, C)
        Its shape gives the output size.
    x : array_like, as given to :func:`adaptive_avg_pool2d`
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    grad_x : ndarray, shape of x
    """
    with phase("prepare"):
        plan, x, grad_out = _plan(x, None, layout, grad_out)
    return _driver.avg_backward(plan, grad_out).astype(plan.result_dtype, copy=False)


@overload
def adaptive_max_pool2d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: Literal[False] = False,
    *,
    layout: str = "NCHW",
    out: Out = None,
) -> Array: ...


@overload
def adaptive_max_pool2d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: Literal[True],
    *,
    layout: str = "NCHW",
    out: Out = None,
) -> Tuple[Array, Array]: ...


@overload
def adaptive_max_pool2d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    layout: str = "NCHW",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]: ...


@takes_out(_with_indices)
def adaptive_max_pool2d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    layout: str = "NCHW",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]:
    """2-D adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W), or (N, H, W, C) for layout "NHWC"
    output_size : int or (int, int)
        (OH, OW); None for either keeps the input's size.
    return_indices : bool
        Also return each window's argmax.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW), or (N, OH, OW, C)
    indices : ndarray of int64, shape of out
        Only with `return_indices`: flat ``h*W + w`` in the input plane; ties
        to the first maximum in row-major order, a NaN wins.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.adaptive_max_pool2d(np.arange(9.0).reshape(1, 1, 3, 3), 2, True)
    (array([[[[4., 5.],
             [7., 8.]]]]), array([[[[4, 5],
             [7, 8]]]]))
    """
    if not isinstance(return_indices, (bool, np.bool_)):
        raise TypeError(f"return_indices must be a bool, got {return_indices!r}")
    with phase("prepare"):
        plan, x, _ = _plan(x, output_size, layout)
    result, idx = _driver.max_forward(plan, x)
    result = result.astype(plan.result_dtype, copy=False)
    return (result, idx) if return_indices else result


@takes_out()
def adaptive_max_pool2d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    *,
    layout: str = "NCHW",
    indices: Optional[ArrayLike] = None,
    out: Out = None,
) -> Array:
    """Gradient of :func:`adaptive_max_pool2d` with respect to x.

    Parameters
    ----------
    grad_out : array_like of shape (N, C, OH, OW), or (N, OH, OW, C)
        Its shape gives the output size.
    x : array_like, as given to :func:`adaptive_max_pool2d`
    layout : {"NCHW", "NHWC"}
    indices : array_like of ints, optional
        What ``adaptive_max_pool2d(..., return_indices=True)`` returned (no
        window search then); checked as :func:`fastconv.max_pool2d_backward`
        checks them.

    Returns
    -------
    grad_x : ndarray, shape of x
        Each grad_out entry added at its window's argmax.
    """
    with phase("prepare"):
        plan, x, grad_out = _plan(x, None, layout, grad_out)
        if indices is None:
            _, idx = _driver.max_forward(plan, x)
        else:
            idx = check_indices(indices, plan.out_shape)
    return _driver.max_backward(plan, grad_out, idx).astype(plan.result_dtype, copy=False)
