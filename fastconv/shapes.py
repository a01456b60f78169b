"""What a call returns, from shapes alone: output shapes and resolved geometry.

Every convolution and pooling kind, at every rank (1-, 2- and 3-D, the rank
read from ``len(x_shape)``), with the same arguments as the function and
the same checks: a geometry this module returns is one the function
accepts, and an argument it refuses raises the error the function would.
Nothing is allocated and nothing is computed on arrays, so a layer, a Dask
graph or a course checker can size its buffers and chunks before it runs.

Each spatial axis is described by an :class:`Axis`: its input size, output
size, kernel size, stride, dilation and resolved padding (the low and
high sides), so "same" padding and ``ceil_mode`` are visible as numbers.

Examples
--------
>>> import fastconv
>>> fastconv.conv_output_shape((8, 3, 32, 32), (16, 3, 3, 3), padding="same", stride=2)
(8, 16, 16, 16)
>>> g = fastconv.conv_geometry((1, 5, 7), (2, 7, 3), stride=2, layout="NLC")
>>> g.out_shape, g.axes[0]
((1, 2, 3), Axis(size=5, out=2, kernel=2, stride=2, dilation=1, lo=0, hi=0))
>>> fastconv.pool_output_shape((2, 4, 9, 9, 9), 2, ceil_mode=True)
(2, 4, 5, 5, 5)
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import numpy as np

from . import oned
from ._engine.args import check_pool_shape, dtype_rule
from ._engine.geometry import (
    Axis,
    adaptive_output_size,
    check_shape,
    conv_params,
    pool_axes,
    transpose_params,
)
from ._typing import ArrayLike, DTypeLike, OptSize, OutputSize, Padding, Shape, Size

__all__ = [
    "Axis",
    "Geometry",
    "LAYOUTS",
    "conv_geometry",
    "conv_output_shape",
    "conv_transpose_geometry",
    "conv_transpose_output_shape",
    "pool_geometry",
    "pool_output_shape",
    "adaptive_pool_output_shape",
    "result_type",
]

#: The layouts of each rank, channels-first first (the default).
LAYOUTS = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}


class Geometry(NamedTuple):
    """A checked call's shapes (x, weight, output) and one :class:`Axis` per axis.

    Attributes
    ----------
    layout : str
        As given (or the rank's channels-first default).
    x_shape, out_shape : tuple of int
    axes : tuple of Axis
        In the layout's order: (L,), (H, W) or (D, H, W).
    weight_shape : tuple of int or None
        None for pooling.
    groups : int
    """

    layout: str
    x_shape: Tuple[int, ...]
    out_shape: Tuple[int, ...]
    axes: Tuple[Axis, ...]
    weight_shape: Optional[Tuple[int, ...]] = None
    groups: int = 1

    @property
    def rank(self):
        """Number of spatial axes: 1, 2 or 3."""
        return len(self.axes)

    @property
    def channels_last(self):
        """Whether the channels are the last axis (NLC, NHWC, NDHWC)."""
        return self.layout[-1] == "C"


def _rank(x_shape, layout):
    """Return (rank, layout, the 2-D layout of its slices) of an x_shape."""
    if not isinstance(x_shape, (tuple, list)) or len(x_shape) not in (3, 4, 5):
        raise ValueError(
            f"x_shape must be a tuple of 3, 4 or 5 ints (1-, 2- or 3-D), got {x_shape!r}"
        )
    rank = len(x_shape) - 2
    first, last = LAYOUTS[rank]
    layout = first if layout is None else layout
    if layout not in (first, last):
        raise ValueError(
            f"layout must be {first!r} or {last!r} for a {rank}-D x_shape, got {layout!r}"
        )
    x_shape = check_shape(x_shape, "x_shape", rank + 2)
    return rank, layout, "NCHW" if layout == first else "NHWC"


def _weight(weight_shape, rank) -> Tuple[int, ...]:
    return check_shape(weight_shape, "weight_shape", rank + 2)


def _lift(shape, layout2):
    """(N, C, L) -> (N, C, 1, L); (N, L, C) -> (N, 1, L, C) (1-D as a one-row view)."""
    return (
        shape[:2] + (1,) + shape[2:]
        if layout2 == "NCHW"
        else shape[:1] + (1,) + shape[1:]
    )


def _lift_weight(shape, layout2):
    """(F, C/g, K) -> (F, C/g, 1, K); (K, C/g, F) -> (1, K, C/g, F)."""
    return shape[:2] + (1,) + shape[2:] if layout2 == "NCHW" else (1,) + shape


def _drop(shape, layout2):
    """Return the one-row view's shape in 1-D."""
    return shape[:2] + shape[3:] if layout2 == "NCHW" else shape[:1] + shape[2:]


def _out(x_shape, channels, sizes, layout2):
    """(N, channels, *sizes) or (N, *sizes, channels)."""
    if layout2 == "NCHW":
        return (x_shape[0], channels) + tuple(sizes)
    return (x_shape[0],) + tuple(sizes) + (channels,)


def _spatial(shape, layout2):
    return tuple(shape[2:]) if layout2 == "NCHW" else tuple(shape[1:-1])


def conv_geometry(
    x_shape: Shape,
    weight_shape: Shape,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: Optional[str] = None,
) -> Geometry:
    """Geometry of :func:`fastconv.conv1d`, ``conv2d`` or ``conv3d``.

    Parameters
    ----------
    x_shape : tuple of 3, 4 or 5 ints
        (N, C, *spatial), or (N, *spatial, C) for a channels-last layout.
    weight_shape : tuple of as many ints
        (F, C/groups, *kernel), or (*kernel, C/groups, F) channels-last.
    stride, padding, dilation, groups
        As the function of that rank takes them.
    layout : str, optional
        The rank's layout ("NCL"/"NLC", "NCHW"/"NHWC", "NCDHW"/"NDHWC");
        default channels-first.

    Returns
    -------
    Geometry
    """
    rank, layout, layout2 = _rank(x_shape, layout)
    x_shape, weight_shape = tuple(x_shape), _weight(weight_shape, rank)
    if rank == 1:  # conv1d's one-row view: its argument forms and checks
        R = oned.Row
        p = conv_params(
            _lift(x_shape, layout2),
            _lift_weight(weight_shape, layout2),
            R.size(stride, "stride"),
            R.padding(padding),
            R.size(dilation, "dilation"),
            groups,
            layout2,
        )
        axes, out = p.axes[1:], _drop(p.out_shape, layout2)
    else:
        p = conv_params(x_shape, weight_shape, stride, padding, dilation, groups, layout2)
        axes, out = p.axes, p.out_shape
    return Geometry(layout, x_shape, out, axes, weight_shape, int(groups))


def conv_output_shape(
    x_shape: Shape,
    weight_shape: Shape,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    layout: Optional[str] = None,
) -> Tuple[int, ...]:
    """Output shape of the convolution :func:`conv_geometry` describes."""
    return conv_geometry(
        x_shape, weight_shape, stride, padding, dilation, groups, layout=layout
    ).out_shape


def conv_transpose_geometry(
    x_shape: Shape,
    weight_shape: Shape,
    stride: Size = 1,
    padding: Padding = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
    *,
    layout: Optional[str] = None,
) -> Geometry:
    """Geometry of :func:`fastconv.conv_transpose1d`, ``2d`` or ``3d``.

    Parameters
    ----------
    x_shape : tuple of 3, 4 or 5 ints
        (N, C_in, *spatial), or (N, *spatial, C_in) channels-last.
    weight_shape : tuple of as many ints
        (C_in, F/groups, *kernel), or (*kernel, F/groups, C_in).
    stride, padding, output_padding, groups, dilation, layout
        As the function of that rank takes them.

    Returns
    -------
    Geometry
        Each axis's `size` is x's, `out` the output's; `lo` the padding,
        `hi` the padding less output_padding.
    """
    rank, layout, layout2 = _rank(x_shape, layout)
    x_shape, weight_shape = tuple(x_shape), _weight(weight_shape, rank)
    if rank == 1:  # conv_transpose1d's one-row view
        R = oned.Row
        t = transpose_params(
            _lift(x_shape, layout2),
            _lift_weight(weight_shape, layout2),
            R.size(stride, "stride"),
            R.pair(padding, "padding"),
            R.pair(output_padding, "output_padding"),
            R.size(dilation, "dilation"),
            groups,
            layout2,
        )
        axes, out = t.axes[1:], _drop(t.out_shape, layout2)
    else:
        t = transpose_params(
            x_shape,
            weight_shape,
            stride,
            padding,
            output_padding,
            dilation,
            groups,
            layout2,
        )
        axes, out = t.axes, t.out_shape
    return Geometry(layout, x_shape, out, axes, weight_shape, int(groups))


def conv_transpose_output_shape(
    x_shape: Shape,
    weight_shape: Shape,
    stride: Size = 1,
    padding: Padding = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
    *,
    layout: Optional[str] = None,
) -> Tuple[int, ...]:
    """Output shape of the transposed convolution of :func:`conv_transpose_geometry`."""
    return conv_transpose_geometry(
        x_shape,
        weight_shape,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        layout=layout,
    ).out_shape


def pool_geometry(
    x_shape: Shape,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    layout: Optional[str] = None,
) -> Geometry:
    """Geometry of max or average pooling (``max_pool1d`` ... ``avg_pool3d``).

    Parameters
    ----------
    x_shape : tuple of 3, 4 or 5 ints
        (N, C, *spatial), or (N, *spatial, C) channels-last; only N may be 0.
    kernel_size, stride, padding, dilation, ceil_mode, layout
        As the pooling function of that rank takes them (average pooling:
        dilation 1); `stride` None means `kernel_size`.

    Returns
    -------
    Geometry
    """
    rank, layout, layout2 = _rank(x_shape, layout)
    x_shape = tuple(x_shape)
    check_pool_shape(x_shape, "x_shape")
    sizes = _spatial(x_shape, layout2)
    if rank == 1:  # the 1-D functions' one-row view
        R = oned.Row
        k, s = R.size(kernel_size, "kernel_size"), R.size(stride, "stride", True)
        p, d = R.padding(padding), R.size(dilation, "dilation")
        axes = pool_axes((1,) + sizes, k, s, p, d, ceil_mode)[1:]
    else:
        axes = pool_axes(sizes, kernel_size, stride, padding, dilation, ceil_mode)
    C = x_shape[1] if layout2 == "NCHW" else x_shape[-1]
    out = _out(x_shape, C, (a.out for a in axes), layout2)
    return Geometry(layout, x_shape, out, axes)


def pool_output_shape(
    x_shape: Shape,
    kernel_size: Size,
    stride: OptSize = None,
    padding: Padding = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    layout: Optional[str] = None,
) -> Tuple[int, ...]:
    """Output shape of the pooling :func:`pool_geometry` describes."""
    return pool_geometry(
        x_shape, kernel_size, stride, padding, dilation, ceil_mode, layout=layout
    ).out_shape


def adaptive_pool_output_shape(
    x_shape: Shape, output_size: OutputSize, *, layout: Optional[str] = None
) -> Tuple[int, ...]:
    """Output shape of an adaptive pooling (``adaptive_avg_pool1d`` ... ``_max_pool3d``).

    Parameters
    ----------
    x_shape : tuple of 3, 4 or 5 ints
    output_size : int, None or a tuple of them (one per spatial axis)
        None keeps that axis's size.
    layout : str, optional

    Returns
    -------
    tuple of int
    """
    rank, layout, layout2 = _rank(x_shape, layout)
    x_shape = tuple(x_shape)
    check_pool_shape(x_shape, "x_shape")
    sizes = _spatial(x_shape, layout2)
    if rank == 1:
        out = adaptive_output_size(oned.Row.output_size(output_size), (1,) + sizes)[1:]
    else:
        out = adaptive_output_size(output_size, sizes)
    C = x_shape[1] if layout2 == "NCHW" else x_shape[-1]
    return _out(x_shape, C, out, layout2)


def result_type(*arrays_and_dtypes: ArrayLike | DTypeLike) -> np.dtype:
    """Return the dtype fastconv's functions return for these inputs.

    float32 stays float32 and float64 float64; float16 computes in float32
    and returns float16; bool and integer inputs compute and return
    float64; a mix follows ``numpy.result_type`` first.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.result_type(np.float32, np.ones(3, np.float32))
    dtype('float32')
    >>> fastconv.result_type(np.int64)
    dtype('float64')
    """
    return dtype_rule(np.result_type(*arrays_and_dtypes))[1]
