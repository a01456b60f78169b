"""1-D convolution and pooling, forward and backward: the 2-D engine on views.

x ``(N, C, L)`` ("NCL") is ``(N, C, 1, L)`` to the 2-D functions, ``(N, L,
C)`` ("NLC") is ``(N, 1, L, C)``; the window is ``(1, K)``. These views
cost nothing (no copy; the 2-D plans and kernels see one row), so the 1-D
functions are as fast as the 2-D ones on the same data. Arguments follow
``torch.nn.functional.conv1d``, ``max_pool1d`` and ``avg_pool1d``: ints or
one-element tuples, ``padding`` an int, a 1-tuple, "valid" or "same".
"""

from __future__ import annotations

import numbers
from typing import Any, Literal, Optional, Tuple, Union, overload

import numpy as np

from . import adaptive, conv, pool
from ._engine.args import as_pool_input, as_real_array
from ._engine.results import takes_out
from ._engine.results import with_indices as _with_indices
from ._typing import Array, ArrayLike, Grads, OptSize, Out, OutputSize, Padding, Size

__all__ = [
    "conv1d",
    "conv1d_backward",
    "max_pool1d",
    "max_pool1d_backward",
    "avg_pool1d",
    "avg_pool1d_backward",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_backward",
    "conv_transpose1d",
    "conv_transpose1d_backward",
]

#: 1-D layout -> the 2-D layout of its view
LAYOUTS = {"NCL": "NCHW", "NLC": "NHWC"}


def _layout(layout):
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout must be 'NCL' or 'NLC', got {layout!r}")
    return LAYOUTS[layout]


def _single(value, name, optional=False):
    """Return an int or a one-element tuple as the view's pair ``(1, value)``."""
    if optional and value is None:
        return None
    v = value
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{name} must be an int or a 1-tuple, got {tuple(value)!r}")
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an int or a 1-tuple, got {value!r}")
    return (1, int(v))


def _padding(padding):
    """1-D padding as the view's: (0, 0, p, p), or "valid"/"same" unchanged."""
    if isinstance(padding, str):
        return padding  # the view's one row pads nothing in H
    p = _single(padding, "padding")[1]
    return (0, 0, p, p)


def _lift(a, name, layout2, pooled=False) -> np.ndarray:
    """(N, C, L) -> (N, C, 1, L) for NCHW, (N, L, C) -> (N, 1, L, C) for NHWC.

    `pooled`: a pooling's input, whose channels and length must not be empty.
    """
    a = (as_pool_input if pooled else as_real_array)(a, name, ndim=3)
    return a[:, :, None, :] if layout2 == "NCHW" else a[:, None, :, :]


def _drop(a, layout2):
    """Return the view's result in 1-D: without its one row."""
    return a[:, :, 0, :] if layout2 == "NCHW" else a[:, 0, :, :]


def _lift_weight(weight, layout2) -> np.ndarray:
    """(F, C/groups, K) -> (F, C/groups, 1, K); NLC (K, C/g, F) -> (1, K, C/g, F).

    Transposed convolutions' weights, (C_in, F/groups, K) or (K, F/groups,
    C_in), take their one row at the same places.
    """
    w = as_real_array(weight, "weight", ndim=3)
    return w[:, :, None, :] if layout2 == "NCHW" else w[None]


def _drop_weight(g, layout2):
    return g[:, :, 0, :] if layout2 == "NCHW" else g[0]


@takes_out()
def conv1d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCL",
    algorithm: str = "auto",
    padding_mode: str = "zeros",
    out: Out = None,
) -> Array:
    """1-D convolution (cross-correlation), as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : array_like of shape (N, C, L), or (N, L, C) for layout "NLC"
    weight : array_like of shape (F, C/groups, K), or (K, C/groups, F) for "NLC"
    bias : array_like of shape (F,), optional
    stride, dilation : int or 1-tuple
    padding : int, 1-tuple, "valid" or "same"
        Zero padding on both ends; "same" as for :func:`fastconv.conv2d`.
    groups : int
    layout : {"NCL", "NLC"}
    algorithm : str
        As for :func:`fastconv.conv2d` (the layer is a 1 x K 2-D one).
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        As for :func:`fastconv.conv2d` (``torch.nn.Conv1d``'s).

    Returns
    -------
    out : ndarray of shape (N, F, OL), or (N, OL, F) for "NLC"
        ``OL = floor((L + 2*padding - (K - 1)*dilation - 1) / stride) + 1``.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.conv1d(np.arange(5.0).reshape(1, 1, 5), np.ones((1, 1, 2)))
    array([[[1., 3., 5., 7.]]])
    """
    layout2 = _layout(layout)
    result = conv.conv2d(
        _lift(x, "x", layout2),
        _lift_weight(weight, layout2),
        bias,
        _single(stride, "stride"),
        _padding(padding),
        _single(dilation, "dilation"),
        groups,
        layout=layout2,
        algorithm=algorithm,
        padding_mode=padding_mode,
    )
    return _drop(result, layout2)


@takes_out(3)
def conv1d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCL",
    algorithm: str = "auto",
    padding_mode: str = "zeros",
    out: Out = None,
) -> Grads:
    """Gradients of :func:`conv1d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : array_like of shape (N, F, OL), or (N, OL, F) for "NLC"
    x, weight, stride, padding, dilation, groups, layout, algorithm, padding_mode
        As given to :func:`conv1d`.

    Returns
    -------
    grad_x : ndarray, shape of x
    grad_weight : ndarray, shape of weight
    grad_bias : ndarray of shape (F,)
    """
    layout2 = _layout(layout)
    gx, gw, gb = conv.conv2d_backward(
        _lift(grad_out, "grad_out", layout2),
        _lift(x, "x", layout2),
        _lift_weight(weight, layout2),
        _single(stride, "stride"),
        _padding(padding),
        _single(dilation, "dilation"),
        groups,
        layout=layout2,
        algorithm=algorithm,
        padding_mode=padding_mode,
    )
    return _drop(gx, layout2), _drop_weight(gw, layout2), gb


def _pool_args(kernel_size, stride, padding, dilation) -> Tuple[Any, Any, Any, Any]:
    return (
        _single(kernel_size, "kernel_size"),
        _single(stride, "stride", optional=True),
        _padding(padding),
        _single(dilation, "dilation"),
    )


@overload
def max_pool1d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: Literal[False] = False,
    layout: str = "NCL",
    out: Out = None,
) -> Array: ...


@overload
def max_pool1d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: Literal[True],
    layout: str = "NCL",
    out: Out = None,
) -> Tuple[Array, Array]: ...


@overload
def max_pool1d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: bool = False,
    layout: str = "NCL",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]: ...


@takes_out(_with_indices)
def max_pool1d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: bool = False,
    layout: str = "NCL",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]:
    """1-D max pooling, as ``torch.nn.functional.max_pool1d``.

    Parameters
    ----------
    x : array_like of shape (N, C, L), or (N, L, C) for layout "NLC"
    kernel_size, dilation : int or 1-tuple
    stride : int or 1-tuple, optional
        Defaults to `kernel_size`.
    padding : int or 1-tuple
        Implicit -inf padding, at most half the dilated kernel.
    ceil_mode, return_indices
        As for :func:`fastconv.max_pool2d`.
    layout : {"NCL", "NLC"}

    Returns
    -------
    out : ndarray of shape (N, C, OL), or (N, OL, C) for "NLC"
    indices : ndarray of int64, shape of out
        Only with `return_indices`: each maximum's position in L.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.max_pool1d(np.array([[[1., 3., 2., 5.]]]), 2, return_indices=True)
    (array([[[3., 5.]]]), array([[[1, 3]]]))
    """
    layout2 = _layout(layout)
    res = pool.max_pool2d(
        _lift(x, "x", layout2, pooled=True),
        *_pool_args(kernel_size, stride, padding, dilation),
        ceil_mode,
        return_indices=return_indices,
        layout=layout2,
    )
    if return_indices:
        return _drop(res[0], layout2), _drop(res[1], layout2)
    return _drop(res, layout2)


@takes_out()
def max_pool1d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    layout: str = "NCL",
    indices: Optional[ArrayLike] = None,
    out: Out = None,
) -> Array:
    """Gradient of :func:`max_pool1d` with respect to x.

    Parameters
    ----------
    grad_out : array_like, the output's shape
    x, kernel_size, stride, padding, dilation, ceil_mode, layout
        As given to :func:`max_pool1d`.
    indices : array_like of ints, optional
        What ``max_pool1d(..., return_indices=True)`` returned: no window
        search then.

    Returns
    -------
    grad_x : ndarray, shape of x
    """
    layout2 = _layout(layout)
    if indices is not None:
        indices = _lift_indices(indices, layout2)
    gx = pool.max_pool2d_backward(
        _lift(grad_out, "grad_out", layout2),
        _lift(x, "x", layout2, pooled=True),
        *_pool_args(kernel_size, stride, padding, dilation),
        ceil_mode,
        layout=layout2,
        indices=indices,
    )
    return _drop(gx, layout2)


@takes_out()
def avg_pool1d(
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    layout: str = "NCL",
    out: Out = None,
) -> Array:
    """1-D average pooling, as ``torch.nn.functional.avg_pool1d``.

    Parameters
    ----------
    x : array_like of shape (N, C, L), or (N, L, C) for layout "NLC"
    kernel_size : int or 1-tuple
    stride : int or 1-tuple, optional
        Defaults to `kernel_size`.
    padding : int or 1-tuple
    ceil_mode, count_include_pad
        As for :func:`fastconv.avg_pool2d` (torch's avg_pool1d has no
        divisor_override, nor has this).
    layout : {"NCL", "NLC"}

    Returns
    -------
    out : ndarray of shape (N, C, OL), or (N, OL, C) for "NLC"

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool1d(np.array([[[1., 3., 2., 6.]]]), 2)
    array([[[2., 4.]]])
    """
    layout2 = _layout(layout)
    k, s, p, _ = _pool_args(kernel_size, stride, padding, 1)
    result = pool.avg_pool2d(
        _lift(x, "x", layout2, pooled=True),
        k,
        s,
        p,
        ceil_mode,
        count_include_pad,
        layout=layout2,
    )
    return _drop(result, layout2)


@takes_out()
def avg_pool1d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    layout: str = "NCL",
    out: Out = None,
) -> Array:
    """Gradient of :func:`avg_pool1d` with respect to x.

    Parameters
    ----------
    grad_out : array_like, the output's shape
    x, kernel_size, stride, padding, ceil_mode, count_include_pad, layout
        As given to :func:`avg_pool1d`.

    Returns
    -------
    grad_x : ndarray, shape of x
    """
    layout2 = _layout(layout)
    k, s, p, _ = _pool_args(kernel_size, stride, padding, 1)
    gx = pool.avg_pool2d_backward(
        _lift(grad_out, "grad_out", layout2),
        _lift(x, "x", layout2, pooled=True),
        k,
        s,
        p,
        ceil_mode,
        count_include_pad,
        layout=layout2,
    )
    return _drop(gx, layout2)


def _out_size(output_size):
    """Return a 1-D output size (int, 1-tuple, or None to keep L) as the view's."""
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 1:
            raise ValueError(
                f"output_size must be an int or a 1-tuple, got {tuple(output_size)!r}"
            )
        output_size = output_size[0]
    return (1, output_size)


@takes_out()
def adaptive_avg_pool1d(
    x: ArrayLike, output_size: OutputSize, *, layout: str = "NCL", out: Out = None
) -> Array:
    """1-D adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool1d``.

    Parameters
    ----------
    x : array_like of shape (N, C, L), or (N, L, C) for layout "NLC"
    output_size : int or 1-tuple
        OL; output o pools ``[floor(o*L/OL), ceil((o+1)*L/OL))``.
    layout : {"NCL", "NLC"}

    Returns
    -------
    out : ndarray of shape (N, C, OL), or (N, OL, C) for "NLC"

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.adaptive_avg_pool1d(np.array([[[1., 2., 3., 4., 5.]]]), 2)
    array([[[2., 4.]]])
    """
    layout2 = _layout(layout)
    result = adaptive.adaptive_avg_pool2d(
        _lift(x, "x", layout2, pooled=True), _out_size(output_size), layout=layout2
    )
    return _drop(result, layout2)


@takes_out()
def adaptive_avg_pool1d_backward(
    grad_out: ArrayLike, x: ArrayLike, *, layout: str = "NCL", out: Out = None
) -> Array:
    """Gradient of :func:`adaptive_avg_pool1d`; the output size is grad_out's."""
    layout2 = _layout(layout)
    gx = adaptive.adaptive_avg_pool2d_backward(
        _lift(grad_out, "grad_out", layout2),
        _lift(x, "x", layout2, pooled=True),
        layout=layout2,
    )
    return _drop(gx, layout2)


@overload
def adaptive_max_pool1d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: Literal[False] = False,
    *,
    layout: str = "NCL",
    out: Out = None,
) -> Array: ...


@overload
def adaptive_max_pool1d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: Literal[True],
    *,
    layout: str = "NCL",
    out: Out = None,
) -> Tuple[Array, Array]: ...


@overload
def adaptive_max_pool1d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    layout: str = "NCL",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]: ...


@takes_out(_with_indices)
def adaptive_max_pool1d(
    x: ArrayLike,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    layout: str = "NCL",
    out: Out = None,
) -> Union[Array, Tuple[Array, Array]]:
    """1-D adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool1d``.

    Parameters
    ----------
    x : array_like of shape (N, C, L), or (N, L, C) for layout "NLC"
    output_size : int or 1-tuple
    return_indices : bool
        Also return each window's argmax (its position in L).
    layout : {"NCL", "NLC"}

    Returns
    -------
    out : ndarray of shape (N, C, OL), or (N, OL, C) for "NLC"
    indices : ndarray of int64, shape of out (with `return_indices`)
    """
    layout2 = _layout(layout)
    res = adaptive.adaptive_max_pool2d(
        _lift(x, "x", layout2, pooled=True),
        _out_size(output_size),
        return_indices,
        layout=layout2,
    )
    if return_indices:
        return _drop(res[0], layout2), _drop(res[1], layout2)
    return _drop(res, layout2)


@takes_out()
def adaptive_max_pool1d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    *,
    layout: str = "NCL",
    indices: Optional[ArrayLike] = None,
    out: Out = None,
) -> Array:
    """Gradient of :func:`adaptive_max_pool1d`; `indices` as it returned them."""
    layout2 = _layout(layout)
    if indices is not None:
        indices = _lift_indices(indices, layout2)
    gx = adaptive.adaptive_max_pool2d_backward(
        _lift(grad_out, "grad_out", layout2),
        _lift(x, "x", layout2, pooled=True),
        layout=layout2,
        indices=indices,
    )
    return _drop(gx, layout2)


def _lift_indices(indices, layout2):
    indices = np.asarray(indices)
    if indices.ndim != 3:
        raise ValueError(f"indices must be 3-D, got shape {indices.shape}")
    return indices[:, :, None, :] if layout2 == "NCHW" else indices[:, None]


@takes_out()
def conv_transpose1d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: Size = 1,
    padding: Padding = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
    *,
    layout: str = "NCL",
    algorithm: str = "auto",
    out: Out = None,
) -> Array:
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``.

    Parameters
    ----------
    x : array_like of shape (N, C_in, L), or (N, L, C_in) for layout "NLC"
    weight : array_like of shape (C_in, F/groups, K), or (K, F/groups, C_in) for "NLC"
    bias : array_like of shape (F,), optional
    stride, padding, output_padding, dilation : int or 1-tuple
    groups, algorithm
        As for :func:`fastconv.conv_transpose2d`.
    layout : {"NCL", "NLC"}

    Returns
    -------
    out : ndarray of shape (N, F, OL), or (N, OL, F) for "NLC"
        ``OL = (L - 1)*stride - 2*padding + dilation*(K - 1) + output_padding + 1``.
    """
    layout2 = _layout(layout)
    result = conv.conv_transpose2d(
        _lift(x, "x", layout2),
        _lift_weight(weight, layout2),
        bias,
        _single(stride, "stride"),
        (0, _single(padding, "padding")[1]),
        (0, _single(output_padding, "output_padding")[1]),
        groups,
        _single(dilation, "dilation"),
        layout=layout2,
        algorithm=algorithm,
    )
    return _drop(result, layout2)


@takes_out(3)
def conv_transpose1d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    stride: Size = 1,
    padding: Padding = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
    *,
    layout: str = "NCL",
    algorithm: str = "auto",
    out: Out = None,
) -> Grads:
    """Gradients of :func:`conv_transpose1d`: (grad_x, grad_weight, grad_bias)."""
    layout2 = _layout(layout)
    gx, gw, gb = conv.conv_transpose2d_backward(
        _lift(grad_out, "grad_out", layout2),
        _lift(x, "x", layout2),
        _lift_weight(weight, layout2),
        _single(stride, "stride"),
        (0, _single(padding, "padding")[1]),
        (0, _single(output_padding, "output_padding")[1]),
        groups,
        _single(dilation, "dilation"),
        layout=layout2,
        algorithm=algorithm,
    )
    return _drop(gx, layout2), _drop_weight(gw, layout2), gb
