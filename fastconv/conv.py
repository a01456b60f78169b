"""2-D convolution forward and backward, its plans, and im2col/col2im.

The public functions check and normalise their arguments once, into a
:class:`~fastconv._engine.plan.ConvPlan` (cached per shape), and the
driver (:mod:`fastconv._engine.conv_driver`) runs it: fused jitted
im2col + GEMM (+ col2im) kernels on tiles, one piece per core, calling
numpy's BLAS single-threaded.
"""

import numpy as np

from ._engine import blas, conv_driver, results, threads
from ._engine import padding as padding_modes
from ._engine.args import as_real_array, dtypes, prepare
from ._engine.geometry import (
    as_pair,
    check_layout,
    check_shape,
    conv_shapes,
    conv_window,
    transpose_shapes,
)
from ._engine.padding import check_padding_mode
from ._engine.plan import ConvPlan, cached, plan_conv
from ._engine.results import takes_out
from ._engine.trace import phase
from ._kernels.im2col import col2im_samples, im2col_samples

__all__ = [
    "conv2d",
    "conv2d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "plan_conv2d",
    "ConvPlan",
    "im2col",
    "col2im",
    "unfold",
    "fold",
]


def plan_conv2d(
    x_shape,
    weight_shape,
    dtype,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCHW",
    algorithm="auto",
):
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
):
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
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCHW",
    algorithm="auto",
    padding_mode="zeros",
):
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
        "winograd-2x2", "winograd-4x4" to run it in every pass it implements. A ValueError
        names the argument when the algorithm does not apply to the layer.
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
    out = conv_driver.forward(plan, x, weight, bias)
    return out.astype(plan.result_dtype, copy=False)


def _pad_copy(x, weight, stride, padding, dilation, groups, layout, mode):
    """Return x padded into a copy in `mode`, and the (top, bottom, left, right) used."""
    x = as_real_array(x, "x")
    w = as_real_array(weight, "weight")
    win = conv_shapes(x.shape, w.shape, stride, padding, dilation, groups, layout).win
    pads = (win.top, win.bottom, win.left, win.right)
    return padding_modes.pad(x, pads, mode, padding_modes.spatial_axes(layout)), pads


@takes_out(3)
def conv2d_backward(
    grad_out,
    x,
    weight,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCHW",
    algorithm="auto",
    padding_mode="zeros",
):
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
):
    """Plan of the convolution a transposed one is the adjoint of, and its shapes.

    Returns (plan, x, weight, out_shape): the plan maps an input of the
    transposed convolution's output shape to (at least) x's shape.
    """
    x = as_real_array(x, "x")
    weight = as_real_array(weight, "weight")
    out_shape, _ = transpose_shapes(
        x.shape, weight.shape, stride, padding, output_padding, dilation, groups, layout
    )
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
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
    *,
    layout="NCHW",
    algorithm="auto",
):
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
    out = conv_driver.grad_input(plan, x, weight, bias)
    return out.astype(plan.result_dtype, copy=False)


@takes_out(3)
def conv_transpose2d_backward(
    grad_out,
    x,
    weight,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
    *,
    layout="NCHW",
    algorithm="auto",
):
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
    return tuple(
        np.ascontiguousarray(g).astype(plan.result_dtype, copy=False)
        for g in (grad_x, grad_w, grad_b)
    )


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


def _per_sample(fn, n, nbytes):
    with blas.hold():
        threads.parallel_for(fn, n, nbytes)


@takes_out()
def im2col(x, kernel_size, stride=1, padding=0, dilation=1, *, layout="NCHW"):
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
        _per_sample(lambda a, b: im2col_samples(x, win, nchw, a, b, cols), N, cols.nbytes)
    return cols.astype(out_dtype, copy=False)


@takes_out()
def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1, *, layout="NCHW"):
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
        _per_sample(lambda a, b: col2im_samples(cols, win, nchw, a, b, x), N, cols.nbytes)
    else:
        x[...] = 0
    return x.astype(out_dtype, copy=False)


@takes_out()
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """``torch.nn.functional.unfold``'s argument order for :func:`im2col` (NCHW).

    Returns
    -------
    cols : ndarray of shape (N, C*KH*KW, L)
    """
    return im2col(input, kernel_size, stride, padding, dilation)


@takes_out()
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
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
    from .oned import _padding, _single

    return (
        _single(kernel_size, "kernel_size"),
        _single(stride, "stride"),
        _padding(padding),
        _single(dilation, "dilation"),
    )


def _cols_nd(x, kernel_size, stride, padding, dilation, layout):
    """im2col of a 1-D (N, C, L) or 3-D (N, C, D, H, W) x (channels-last alike)."""
    nd = _nd_layout(x.ndim, layout, "x")
    if x.ndim == 5:
        from .threed import im2col3d

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
        from .threed import col2im3d

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
