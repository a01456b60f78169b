"""The public functions of :mod:`fastconv.dask`, every rank: check, then build the graph.

Each function checks its arguments once, on the whole array's shape, with
:func:`fastconv.conv_geometry` or :func:`fastconv.pool_geometry` (the
single-machine functions' own checks, at every rank), and hands the
resulting :class:`fastconv.Geometry` and the call each block makes (the
single-machine function of its rank) to the rank-generic graph builders of
:mod:`fastconv.dask._graph`.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import dask.array as da
import numpy as np

import fastconv
from fastconv._typing import ArrayLike, OptSize, Padding, Size

from ._graph import (
    LAYOUT_AXES,
    RechunkWarning,
    as_dask,
    check_indices,
    conv_backward,
    conv_forward,
    layout_axes,
    pool_backward,
    pool_forward,
)

__all__ = [
    "conv1d",
    "conv1d_backward",
    "max_pool1d",
    "max_pool1d_backward",
    "avg_pool1d",
    "avg_pool1d_backward",
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv3d",
    "conv3d_backward",
    "max_pool3d",
    "max_pool3d_backward",
    "avg_pool3d",
    "avg_pool3d_backward",
    "RechunkWarning",
]

_CONV_BACKWARD = {
    1: fastconv.conv1d_backward,
    2: fastconv.conv2d_backward,
    3: fastconv.conv3d_backward,
}
_MAX_POOL_BACKWARD = {
    1: fastconv.max_pool1d_backward,
    2: fastconv.max_pool2d_backward,
    3: fastconv.max_pool3d_backward,
}
_AVG_POOL_BACKWARD = {
    1: fastconv.avg_pool1d_backward,
    2: fastconv.avg_pool2d_backward,
    3: fastconv.avg_pool3d_backward,
}


# --------------------------------------------------------------------------
# the 2-D convolution each rank runs: what "auto" is planned on

#: 1-D layout -> the 2-D layout of its 1 x L view (as fastconv.conv1d runs it)
_VIEW_1D = {"NCL": "NCHW", "NLC": "NHWC"}


def _plan_shapes(geom):
    """Return the plan_conv2d arguments of the 2-D convolution the whole array runs.

    1-D: the 1 x L view, x (N, C, 1, L) or (N, 1, L, C). 3-D: the stack of
    depth taps, x (N*OD, H, W, C*KD) by weight (KH, KW, KD*C/groups, F),
    NHWC (:mod:`fastconv._engine.depth`).
    """
    x_shape, w_shape, layout = geom.x_shape, geom.weight_shape, geom.layout
    if geom.rank == 1:
        plane = (fastconv.Axis(1, 1, 1, 1, 1, 0, 0),) + geom.axes  # the view's row, L
        if layout == "NCL":
            x_shape = x_shape[:2] + (1,) + x_shape[2:]  # (N, C, 1, L)
            w_shape = w_shape[:2] + (1,) + w_shape[2:]  # (F, C/groups, 1, K)
        else:
            x_shape = x_shape[:1] + (1,) + x_shape[1:]  # (N, 1, L, C)
            w_shape = (1,) + w_shape  # (1, K, C/groups, F)
        layout = _VIEW_1D[layout]
    elif geom.rank == 3:
        depth, plane = geom.axes[0], geom.axes[1:]
        ca = LAYOUT_AXES[layout][0]
        C, F = x_shape[ca], geom.out_shape[ca]
        KD = depth.kernel
        # (N*OD, H, W, C*KD) and (KH, KW, KD*C/groups, F)
        x_shape = (x_shape[0] * depth.out, plane[0].size, plane[1].size, C * KD)
        w_shape = (plane[0].kernel, plane[1].kernel, KD * (C // geom.groups), F)
        layout = "NHWC"
    else:
        plane = geom.axes
    return dict(
        x_shape=x_shape,
        weight_shape=w_shape,
        stride=tuple(a.stride for a in plane),
        padding=tuple(p for a in plane for p in (a.lo, a.hi)),
        dilation=tuple(a.dilation for a in plane),
        groups=geom.groups,
        layout=layout,
    )


# --------------------------------------------------------------------------
# what each block calls: the single-machine function of its rank
#
# 1-D forward calls run the 2-D function on the 1 x L view, as fastconv's
# own 1-D functions do, so that each end of L takes a padding of its own;
# the view's window is (1, K), its stride (1, s), its dilation (1, d).


def _view(a, layout):
    # (N, C, L) -> (N, C, 1, L); (N, L, C) -> (N, 1, L, C)
    return a[:, :, None] if layout == "NCL" else a[:, None]


def _unview(a, layout):
    # (N, C, 1, L) -> (N, C, L); (N, 1, L, C) -> (N, L, C)
    return a[:, :, 0] if layout == "NCL" else a[:, 0]


def _conv_call(geom, stride, dilation):
    """Return ``call(piece, w, b, pad, algorithm)`` for :func:`conv_forward`."""
    layout, groups = geom.layout, geom.groups
    if geom.rank == 1:
        (L,) = geom.axes

        def call(piece, w, b, pads, algorithm):
            ((lo, hi),) = pads
            out = fastconv.conv2d(
                _view(piece, layout),
                w[:, :, None]
                if layout == "NCL"
                else w[None],  # (F, Cg, 1, K), (1, K, Cg, F)
                b,
                (1, L.stride),
                (0, 0, lo, hi),
                (1, L.dilation),
                groups,
                layout=_VIEW_1D[layout],
                algorithm=algorithm,
            )
            return _unview(out, layout)

    elif geom.rank == 2:

        def call(piece, w, b, pads, algorithm):
            return fastconv.conv2d(
                piece,
                w,
                b,
                stride,
                sum(pads, ()),  # (top, bottom, left, right)
                dilation,
                groups,
                layout=layout,
                algorithm=algorithm,
            )

    else:

        def call(piece, w, b, padding, algorithm):
            return fastconv.conv3d(
                piece,
                w,
                b,
                stride,
                padding,
                dilation,
                groups,
                layout=layout,
                algorithm=algorithm,
            )

    return call


def _max_pool_call(geom, kernel_size, stride, padding, dilation, ceil_mode, ri):
    """Return ``call(piece, pads)`` for :func:`pool_forward` (`ri`: return_indices)."""
    layout = geom.layout
    if geom.rank == 1:
        (L,) = geom.axes

        def call(piece, pads):
            ((lo, hi),) = pads
            res = fastconv.max_pool2d(
                _view(piece, layout),
                (1, L.kernel),
                (1, L.stride),
                (0, 0, lo, hi),
                (1, L.dilation),
                ceil_mode,
                return_indices=ri,
                layout=_VIEW_1D[layout],
            )
            # indices h*L + l with h = 0: the position in L
            return tuple(_unview(r, layout) for r in res) if ri else _unview(res, layout)

    elif geom.rank == 2:

        def call(piece, pads):
            return fastconv.max_pool2d(
                piece,
                kernel_size,
                stride,
                sum(pads, ()),
                dilation,
                ceil_mode,
                return_indices=ri,
                layout=layout,
            )

    else:

        def call(piece, pads):
            return fastconv.max_pool3d(
                piece,
                kernel_size,
                stride,
                padding,
                dilation,
                ceil_mode,
                return_indices=ri,
                layout=layout,
            )

    return call


def _avg_pool_call(geom, kernel_size, stride, padding, ceil_mode, include, div):
    """Return ``call(piece, pads)`` for :func:`pool_forward`."""
    layout = geom.layout
    if geom.rank == 1:
        (L,) = geom.axes

        def call(piece, pads):
            ((lo, hi),) = pads
            out = fastconv.avg_pool2d(
                _view(piece, layout),
                (1, L.kernel),
                (1, L.stride),
                (0, 0, lo, hi),
                ceil_mode,
                include,
                layout=_VIEW_1D[layout],
            )
            return _unview(out, layout)

    elif geom.rank == 2:

        def call(piece, pads):
            return fastconv.avg_pool2d(
                piece,
                kernel_size,
                stride,
                sum(pads, ()),
                ceil_mode,
                include,
                div,
                layout=layout,
            )

    else:

        def call(piece, pads):
            return fastconv.avg_pool3d(
                piece,
                kernel_size,
                stride,
                padding,
                ceil_mode,
                include,
                div,
                layout=layout,
            )

    return call


# --------------------------------------------------------------------------
# each family, any rank: check x (and grad_out, weight) as Dask or numpy
# arrays of the rank first, then the geometry on their shapes


def _array(value, name, ndim):
    """`value` (a weight or bias) as an ndarray of a real dtype with `ndim` axes."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must have a real (bool, integer or float) dtype, "
            f"got dtype {arr.dtype}"
        )
    if arr.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D, got an array of shape {arr.shape} ({arr.ndim}-D)"
        )
    return arr


def _conv_inputs(rank, layout, x, weight, grad_out=None):
    layout_axes(layout, rank)
    x = as_dask(x, ndim=rank + 2)
    if grad_out is not None:
        grad_out = as_dask(grad_out, "grad_out", ndim=rank + 2)
    return x, _array(weight, "weight", rank + 2), grad_out


def _pool_inputs(rank, layout, x, grad_out=None):
    layout_axes(layout, rank)
    x = as_dask(x, ndim=rank + 2, pooled=True)
    if grad_out is not None:
        grad_out = as_dask(grad_out, "grad_out", ndim=rank + 2)
    return x, grad_out


def _conv(rank, x, weight, bias, stride, padding, dilation, groups, layout, algorithm):
    x, weight, _ = _conv_inputs(rank, layout, x, weight)
    if bias is not None:
        bias = _array(bias, "bias", 1)
    geom = fastconv.conv_geometry(
        x.shape, weight.shape, stride, padding, dilation, groups, layout=layout
    )
    call = _conv_call(geom, stride, dilation)
    plan = _plan_shapes(geom)
    token = f"fastconv-conv{rank}d"
    return conv_forward(x, weight, bias, geom, plan, call, padding, algorithm, token)


def _conv_backward(
    rank, grad_out, x, weight, stride, padding, dilation, groups, layout, algorithm
):
    x, weight, grad_out = _conv_inputs(rank, layout, x, weight, grad_out)
    geom = fastconv.conv_geometry(
        x.shape, weight.shape, stride, padding, dilation, groups, layout=layout
    )
    backward = _CONV_BACKWARD[rank]

    def call(gb, xb, w, algorithm):
        return backward(
            gb,
            xb,
            w,
            stride,
            padding,
            dilation,
            groups,
            layout=layout,
            algorithm=algorithm,
        )

    plan = _plan_shapes(geom)
    token = f"fastconv-conv{rank}d-backward"
    return conv_backward(grad_out, x, weight, geom, plan, call, algorithm, token)


def _max_pool(
    rank, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout
):
    x, _ = _pool_inputs(rank, layout, x)
    geom = fastconv.pool_geometry(
        x.shape, kernel_size, stride, padding, dilation, ceil_mode, layout=layout
    )
    call = _max_pool_call(
        geom, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )
    token = f"fastconv-max-pool{rank}d"
    return pool_forward(x, geom, call, token, return_indices)


def _max_pool_backward(
    rank, grad_out, x, kernel_size, stride, padding, dilation, ceil_mode, layout, indices
):
    x, grad_out = _pool_inputs(rank, layout, x, grad_out)
    geom = fastconv.pool_geometry(
        x.shape, kernel_size, stride, padding, dilation, ceil_mode, layout=layout
    )
    indices = check_indices(indices, geom.out_shape, rank)
    backward = _MAX_POOL_BACKWARD[rank]

    def call(gb, xb, eb):
        return backward(
            gb,
            xb,
            kernel_size,
            stride,
            padding,
            dilation,
            ceil_mode,
            layout=layout,
            indices=eb,
        )

    return pool_backward(grad_out, x, geom, call, indices)


def _avg_pool(rank, x, kernel_size, stride, padding, ceil_mode, include, div, layout):
    x, _ = _pool_inputs(rank, layout, x)
    geom = fastconv.pool_geometry(
        x.shape, kernel_size, stride, padding, 1, ceil_mode, layout=layout
    )
    call = _avg_pool_call(geom, kernel_size, stride, padding, ceil_mode, include, div)
    return pool_forward(x, geom, call, f"fastconv-avg-pool{rank}d")


def _avg_pool_backward(
    rank, grad_out, x, kernel_size, stride, padding, ceil_mode, include, div, layout
):
    x, grad_out = _pool_inputs(rank, layout, x, grad_out)
    geom = fastconv.pool_geometry(
        x.shape, kernel_size, stride, padding, 1, ceil_mode, layout=layout
    )
    # avg_pool1d has no divisor_override (torch's neither)
    extra = {} if rank == 1 else {"divisor_override": div}
    backward = _AVG_POOL_BACKWARD[rank]

    def call(gb, xb, eb):
        return backward(
            gb,
            xb,
            kernel_size,
            stride,
            padding,
            ceil_mode,
            include,
            layout=layout,
            **extra,
        )

    return pool_backward(grad_out, x, geom, call)


# --------------------------------------------------------------------------
# 1-D


def conv1d(
    x: da.Array,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCL",
    algorithm: str = "auto",
) -> da.Array:
    """:func:`fastconv.conv1d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, L), or (N, L, C) for "NLC"
        Any chunking along N and L; chunks along C are merged, and chunk
        boundaries along L moved onto the stride grid, each with a
        :class:`RechunkWarning`.
    weight : array_like of shape (F, C/groups, K), or (K, C/groups, F) for "NLC"
    bias : array_like of shape (F,), optional
        numpy arrays, sent to the workers once per graph.
    stride, padding, dilation, groups, layout, algorithm
        As for :func:`fastconv.conv1d`.

    Returns
    -------
    out : dask.array.Array of shape (N, F, OL), or (N, OL, F) for "NLC"
        Chunked as x along N, the outputs of x's chunks along L, one chunk
        along F. Equal to :func:`fastconv.conv1d` of the whole array within
        rounding.
    """
    return _conv(1, x, weight, bias, stride, padding, dilation, groups, layout, algorithm)


def conv1d_backward(
    grad_out: da.Array,
    x: da.Array,
    weight: ArrayLike,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCL",
    algorithm: str = "auto",
) -> Tuple[da.Array, da.Array, da.Array]:
    """:func:`fastconv.conv1d_backward` over Dask arrays: data-parallel gradients.

    Parameters
    ----------
    grad_out : dask.array.Array of shape (N, F, OL), or (N, OL, F) for "NLC"
    x : dask.array.Array of shape (N, C, L), or (N, L, C)
        Any chunking along N (grad_out is rechunked to x's); chunks along C
        and L are merged, with a :class:`RechunkWarning`.
    weight : array_like, as for :func:`fastconv.conv1d`
    stride, padding, dilation, groups, layout, algorithm
        As given to :func:`conv1d`.

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks
    grad_weight : dask.array.Array, weight's shape
    grad_bias : dask.array.Array of shape (F,)
        Sums over the batch chunks of each chunk's partial gradient, reduced
        in a tree on the workers.
    """
    return _conv_backward(
        1, grad_out, x, weight, stride, padding, dilation, groups, layout, algorithm
    )


def max_pool1d(
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: bool = False,
    layout: str = "NCL",
) -> Union[da.Array, Tuple[da.Array, da.Array]]:
    """:func:`fastconv.max_pool1d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, L), or (N, L, C) for "NLC"
        Any chunking along N and C; chunk boundaries along L are moved onto
        the stride grid (with a :class:`RechunkWarning`).
    kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout
        As for :func:`fastconv.max_pool1d`.

    Returns
    -------
    out : dask.array.Array of shape (N, C, OL), or (N, OL, C)
    indices : dask.array.Array of int64, out's shape and chunks
        With `return_indices`: each maximum's position in the whole L. Both
        equal the single-machine results bit for bit.
    """
    return _max_pool(
        1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout
    )


def max_pool1d_backward(
    grad_out: da.Array,
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    layout: str = "NCL",
    indices: Optional[da.Array] = None,
) -> da.Array:
    """:func:`fastconv.max_pool1d_backward` over Dask arrays.

    Parameters
    ----------
    grad_out : dask.array.Array, the output's shape
    x : dask.array.Array of shape (N, C, L), or (N, L, C)
        Any chunking along N and C; chunks along L are merged (with a
        :class:`RechunkWarning`).
    kernel_size, stride, padding, dilation, ceil_mode, layout
        As given to :func:`max_pool1d`.
    indices : dask.array.Array of ints, optional
        The indices :func:`max_pool1d` returned (``return_indices=True``).

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks; bit for bit the
        single-machine result.
    """
    return _max_pool_backward(
        1, grad_out, x, kernel_size, stride, padding, dilation, ceil_mode, layout, indices
    )


def avg_pool1d(
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    layout: str = "NCL",
) -> da.Array:
    """:func:`fastconv.avg_pool1d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, L), or (N, L, C) for "NLC"
        Chunked as for :func:`max_pool1d`.
    kernel_size, stride, padding, ceil_mode, count_include_pad, layout
        As for :func:`fastconv.avg_pool1d` (no divisor_override, as there).

    Returns
    -------
    out : dask.array.Array of shape (N, C, OL), or (N, OL, C)
        Equal to the single-machine call within rounding.
    """
    return _avg_pool(
        1, x, kernel_size, stride, padding, ceil_mode, count_include_pad, None, layout
    )


def avg_pool1d_backward(
    grad_out: da.Array,
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    layout: str = "NCL",
) -> da.Array:
    """:func:`fastconv.avg_pool1d_backward` over Dask arrays.

    Parameters
    ----------
    grad_out : dask.array.Array, the output's shape
    x : dask.array.Array of shape (N, C, L), or (N, L, C)
        Chunked as for :func:`max_pool1d_backward`.
    kernel_size, stride, padding, ceil_mode, count_include_pad, layout
        As given to :func:`avg_pool1d`.

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks
    """
    return _avg_pool_backward(
        1,
        grad_out,
        x,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        None,
        layout,
    )


# --------------------------------------------------------------------------
# 2-D


def conv2d(
    x: da.Array,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCHW",
    algorithm: str = "auto",
) -> da.Array:
    """:func:`fastconv.conv2d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C) for "NHWC"
        Any chunking along N, H and W; chunks along C are merged (every
        output needs all input channels), and spatial chunk boundaries are
        moved onto the stride grid, each with a :class:`RechunkWarning`.
    weight : array_like of shape (F, C/groups, KH, KW), or (KH, KW, C/groups, F)
    bias : array_like of shape (F,), optional
        numpy arrays, sent to the workers once per graph.
    stride, padding, dilation, groups, layout, algorithm
        As for :func:`fastconv.conv2d`.

    Returns
    -------
    out : dask.array.Array of shape (N, F, OH, OW), or (N, OH, OW, F)
        Chunked as x along N, the output rows and columns of x's spatial
        chunks, one chunk along F. Equal to :func:`fastconv.conv2d` of the
        whole array within rounding: a chunk's GEMMs may have another width.
    """
    return _conv(2, x, weight, bias, stride, padding, dilation, groups, layout, algorithm)


def conv2d_backward(
    grad_out: da.Array,
    x: da.Array,
    weight: ArrayLike,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCHW",
    algorithm: str = "auto",
) -> Tuple[da.Array, da.Array, da.Array]:
    """:func:`fastconv.conv2d_backward` over Dask arrays: data-parallel gradients.

    Parameters
    ----------
    grad_out : dask.array.Array of shape (N, F, OH, OW), or (N, OH, OW, F)
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C)
        Any chunking along N (grad_out is rechunked to x's); chunks along C,
        H and W are merged, with a :class:`RechunkWarning`.
    weight : array_like, as for :func:`fastconv.conv2d`
    stride, padding, dilation, groups, layout, algorithm
        As given to :func:`conv2d`.

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks
    grad_weight : dask.array.Array, weight's shape
    grad_bias : dask.array.Array of shape (F,)
        Sums over the batch chunks of each chunk's partial gradient, reduced
        in a tree on the workers (dask's sum), not gathered to the client.
    """
    return _conv_backward(
        2, grad_out, x, weight, stride, padding, dilation, groups, layout, algorithm
    )


def max_pool2d(
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: bool = False,
    layout: str = "NCHW",
) -> Union[da.Array, Tuple[da.Array, da.Array]]:
    """:func:`fastconv.max_pool2d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C) for "NHWC"
        Any chunking along N and C; spatial chunk boundaries are moved onto
        the stride grid (with a :class:`RechunkWarning`).
    kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout
        As for :func:`fastconv.max_pool2d`.

    Returns
    -------
    out : dask.array.Array of shape (N, C, OH, OW), or (N, OH, OW, C)
    indices : dask.array.Array of int64, out's shape and chunks
        With `return_indices`: each maximum's flat index ``h*W + w`` in its
        whole input plane, as the single-machine call gives it. Both equal
        the single-machine results bit for bit.
    """
    return _max_pool(
        2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout
    )


def max_pool2d_backward(
    grad_out: da.Array,
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    layout: str = "NCHW",
    indices: Optional[da.Array] = None,
) -> da.Array:
    """:func:`fastconv.max_pool2d_backward` over Dask arrays.

    Parameters
    ----------
    grad_out : dask.array.Array, the output's shape
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C)
        Any chunking along N and C; chunks along H and W are merged (with a
        :class:`RechunkWarning`).
    kernel_size, stride, padding, dilation, ceil_mode, layout
        As given to :func:`max_pool2d`.
    indices : dask.array.Array of ints, optional
        The indices :func:`max_pool2d` returned (``return_indices=True``).

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks; bit for bit the
        single-machine result.
    """
    return _max_pool_backward(
        2, grad_out, x, kernel_size, stride, padding, dilation, ceil_mode, layout, indices
    )


def avg_pool2d(
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
    *,
    layout: str = "NCHW",
) -> da.Array:
    """:func:`fastconv.avg_pool2d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C) for "NHWC"
        Chunked as for :func:`max_pool2d`.
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, layout
        As for :func:`fastconv.avg_pool2d`.

    Returns
    -------
    out : dask.array.Array of shape (N, C, OH, OW), or (N, OH, OW, C)
        Equal to the single-machine call within rounding: a window at a
        chunk's edge may be summed by another of the kernel's paths, in
        another order (tested to 1e-6 x max(1, max|ref|) in float32).
    """
    return _avg_pool(
        2,
        x,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        layout,
    )


def avg_pool2d_backward(
    grad_out: da.Array,
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
    *,
    layout: str = "NCHW",
) -> da.Array:
    """:func:`fastconv.avg_pool2d_backward` over Dask arrays.

    Parameters
    ----------
    grad_out : dask.array.Array, the output's shape
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C)
        Chunked as for :func:`max_pool2d_backward`.
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, layout
        As given to :func:`avg_pool2d`.

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks
    """
    return _avg_pool_backward(
        2,
        grad_out,
        x,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        layout,
    )


# --------------------------------------------------------------------------
# 3-D


def conv3d(
    x: da.Array,
    weight: ArrayLike,
    bias: Optional[ArrayLike] = None,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCDHW",
    algorithm: str = "auto",
) -> da.Array:
    """:func:`fastconv.conv3d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, D, H, W), or (N, D, H, W, C) for "NDHWC"
        Any chunking along N, D, H and W; chunks along C are merged, and
        spatial chunk boundaries moved onto the stride grid, each with a
        :class:`RechunkWarning`.
    weight : array_like of shape (F, C/groups, KD, KH, KW), or (KD, KH, KW,
        C/groups, F) for "NDHWC"
    bias : array_like of shape (F,), optional
        numpy arrays, sent to the workers once per graph.
    stride, padding, dilation, groups, layout, algorithm
        As for :func:`fastconv.conv3d`.

    Returns
    -------
    out : dask.array.Array of shape (N, F, OD, OH, OW), or (N, OD, OH, OW, F)
        Chunked as x along N, the outputs of x's spatial chunks, one chunk
        along F. Equal to :func:`fastconv.conv3d` of the whole array within
        rounding.

    Notes
    -----
    :func:`fastconv.conv3d` pads both ends of an axis alike; a chunk at one
    end of a split axis gets that end's padding as explicit zeros, in a
    padded copy of its block.
    """
    return _conv(3, x, weight, bias, stride, padding, dilation, groups, layout, algorithm)


def conv3d_backward(
    grad_out: da.Array,
    x: da.Array,
    weight: ArrayLike,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: str = "NCDHW",
    algorithm: str = "auto",
) -> Tuple[da.Array, da.Array, da.Array]:
    """:func:`fastconv.conv3d_backward` over Dask arrays: data-parallel gradients.

    Parameters
    ----------
    grad_out : dask.array.Array of shape (N, F, OD, OH, OW), or (N, OD, OH, OW, F)
    x : dask.array.Array of shape (N, C, D, H, W), or (N, D, H, W, C)
        Any chunking along N (grad_out is rechunked to x's); chunks along C,
        D, H and W are merged, with a :class:`RechunkWarning`.
    weight : array_like, as for :func:`fastconv.conv3d`
    stride, padding, dilation, groups, layout, algorithm
        As given to :func:`conv3d`.

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks
    grad_weight : dask.array.Array, weight's shape
    grad_bias : dask.array.Array of shape (F,)
        Sums over the batch chunks of each chunk's partial gradient, reduced
        in a tree on the workers.
    """
    return _conv_backward(
        3, grad_out, x, weight, stride, padding, dilation, groups, layout, algorithm
    )


def max_pool3d(
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    return_indices: bool = False,
    layout: str = "NCDHW",
) -> Union[da.Array, Tuple[da.Array, da.Array]]:
    """:func:`fastconv.max_pool3d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, D, H, W), or (N, D, H, W, C) for "NDHWC"
        Any chunking along N and C; spatial chunk boundaries are moved onto
        the stride grid (with a :class:`RechunkWarning`).
    kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout
        As for :func:`fastconv.max_pool3d`.

    Returns
    -------
    out : dask.array.Array of shape (N, C, OD, OH, OW), or (N, OD, OH, OW, C)
    indices : dask.array.Array of int64, out's shape and chunks
        With `return_indices`: each maximum's flat index ``d*H*W + h*W + w``
        in its whole input volume. Both equal the single-machine results
        bit for bit.

    Notes
    -----
    :func:`fastconv.max_pool3d` pads both ends of an axis alike, so every
    chunk's call pads as the whole array's does: a chunk after the first
    reads ``ceil(padding / stride) * stride`` entries before it (not
    ``padding``) and drops the outputs its padding adds.
    """
    return _max_pool(
        3, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout
    )


def max_pool3d_backward(
    grad_out: da.Array,
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    layout: str = "NCDHW",
    indices: Optional[da.Array] = None,
) -> da.Array:
    """:func:`fastconv.max_pool3d_backward` over Dask arrays.

    Parameters
    ----------
    grad_out : dask.array.Array, the output's shape
    x : dask.array.Array of shape (N, C, D, H, W), or (N, D, H, W, C)
        Any chunking along N and C; chunks along D, H and W are merged
        (with a :class:`RechunkWarning`).
    kernel_size, stride, padding, dilation, ceil_mode, layout
        As given to :func:`max_pool3d`.
    indices : dask.array.Array of ints, optional
        The indices :func:`max_pool3d` returned (``return_indices=True``).

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks; bit for bit the
        single-machine result.
    """
    return _max_pool_backward(
        3, grad_out, x, kernel_size, stride, padding, dilation, ceil_mode, layout, indices
    )


def avg_pool3d(
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
    *,
    layout: str = "NCDHW",
) -> da.Array:
    """:func:`fastconv.avg_pool3d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, D, H, W), or (N, D, H, W, C) for "NDHWC"
        Chunked as for :func:`max_pool3d` (and its chunks' calls pad as
        there).
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, layout
        As for :func:`fastconv.avg_pool3d`.

    Returns
    -------
    out : dask.array.Array of shape (N, C, OD, OH, OW), or (N, OD, OH, OW, C)
        Equal to the single-machine call within rounding.
    """
    return _avg_pool(
        3,
        x,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        layout,
    )


def avg_pool3d_backward(
    grad_out: da.Array,
    x: da.Array,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
    *,
    layout: str = "NCDHW",
) -> da.Array:
    """:func:`fastconv.avg_pool3d_backward` over Dask arrays.

    Parameters
    ----------
    grad_out : dask.array.Array, the output's shape
    x : dask.array.Array of shape (N, C, D, H, W), or (N, D, H, W, C)
        Chunked as for :func:`max_pool3d_backward`.
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, layout
        As given to :func:`avg_pool3d`.

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks
    """
    return _avg_pool_backward(
        3,
        grad_out,
        x,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        layout,
    )
