"""2-D max and average pooling, forward and backward, PyTorch semantics.

The public functions check and normalise their arguments and call the direct
window kernels of :mod:`fastconv._kernels.pool` (no im2col: pooling is
memory-bound and a column copy would only add traffic).
"""

import numbers

import numpy as np

from ._engine.args import as_real_array, check_layout, dtypes, prepare
from ._engine.geometry import pool_window
from ._engine.threads import parallel_for
from ._engine.trace import phase
from ._kernels import pool as _k

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"]

# NHWC with fewer channels than this: the separable row kernels (vectorised
# along W*C) beat the channel-vectorised ones (measured: cs231n-pool, C=3,
# 1.5x; at C=64 the row kernels are 5x slower).
_ROWS_BELOW = 16


def _hw(x, layout):
    return (x.shape[2], x.shape[3]) if layout == "NCHW" else (x.shape[1], x.shape[2])


def _out_shape(x, win, layout):
    if layout == "NCHW":
        return (x.shape[0], x.shape[1], win.OH, win.OW)
    return (x.shape[0], win.OH, win.OW, x.shape[3])


def _check_pool(x, kernel_size, stride, padding, dilation, ceil_mode, layout, grad_out):
    layout = check_layout(layout)
    x = as_real_array(x, "x")
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"ceil_mode must be a bool, got {ceil_mode!r}")
    win = pool_window(
        _hw(x, layout), kernel_size, stride, padding, dilation, bool(ceil_mode)
    )
    arrays = [x]
    if grad_out is not None:
        grad_out = as_real_array(grad_out, "grad_out")
        expected = _out_shape(x, win, layout)
        if grad_out.shape != expected:
            raise ValueError(
                f"grad_out must have the output's shape {expected}, "
                f"got shape {grad_out.shape}"
            )
        arrays.append(grad_out)
    dtype, out_dtype = dtypes(*arrays)
    x = prepare(x, dtype)
    if grad_out is not None:
        grad_out = prepare(grad_out, dtype)
    return layout, x, grad_out, win, out_dtype


def _check_avg_options(count_include_pad, divisor_override):
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"count_include_pad must be a bool, got {count_include_pad!r}")
    if divisor_override is None:
        return bool(count_include_pad), 0
    if isinstance(divisor_override, bool) or not isinstance(
        divisor_override, numbers.Integral
    ):
        raise TypeError(
            f"divisor_override must be an int or None, got {divisor_override!r}"
        )
    if not 1 <= divisor_override <= 2**62:
        raise ValueError(
            f"divisor_override must be >= 1 (and at most 2**62), got {divisor_override!r}"
        )
    return bool(count_include_pad), int(divisor_override)


def _win_args(win):
    return (win.KH, win.KW, win.sh, win.sw, win.dh, win.dw, win.top, win.left)


def _avg_win_args(win):
    return (win.KH, win.KW, win.sh, win.sw, win.top, win.bottom, win.left, win.right)


def max_pool2d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    *,
    return_indices=False,
    layout="NCHW",
):
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
        layout, x, _, win, out_dtype = _check_pool(
            x, kernel_size, stride, padding, dilation, ceil_mode, layout, None
        )
    shape = _out_shape(x, win, layout)
    out = np.empty(shape, x.dtype)
    idx = np.empty(shape if return_indices else (1, 1, 1, 1), np.int64)
    if x.shape[0]:
        g, want = _win_args(win), bool(return_indices)
        with phase("kernel"):
            if layout == "NCHW" and not want:
                parallel_for(
                    lambda a, b: _k.max_pool_values_nchw(x[a:b], *g, out[a:b]),
                    x.shape[0],
                    x.nbytes + out.nbytes,
                )
            else:
                kernel = (
                    _k.max_pool_nchw
                    if layout == "NCHW"
                    else _k.max_pool_nhwc
                    if x.shape[3] >= _ROWS_BELOW
                    else _k.max_pool_nhwc_rows
                )
                parallel_for(
                    lambda a, b: kernel(
                        x[a:b], *g, out[a:b], idx[a:b] if want else idx, want
                    ),
                    x.shape[0],
                    x.nbytes + out.nbytes,
                )
    out = out.astype(out_dtype, copy=False)
    return (out, idx) if return_indices else out


def max_pool2d_backward(
    grad_out,
    x,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    *,
    layout="NCHW",
):
    """Gradient of :func:`max_pool2d` with respect to x.

    Parameters
    ----------
    grad_out : array_like, shape of max_pool2d's output
    x, kernel_size, stride, padding, dilation, ceil_mode, layout
        As given to :func:`max_pool2d`.

    Returns
    -------
    grad_x : ndarray, shape of x
        Each grad_out entry added at its window's argmax (recomputed from x,
        same tie and NaN rule as the forward pass); overlapping windows sum.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[[1., 3.], [3., 2.]]]])
    >>> fastconv.max_pool2d_backward(np.array([[[[5.]]]]), x, 2)
    array([[[[0., 5.],
             [0., 0.]]]])
    """
    with phase("prepare"):
        layout, x, go, win, out_dtype = _check_pool(
            x, kernel_size, stride, padding, dilation, ceil_mode, layout, grad_out
        )
    grad_x = np.empty(x.shape, x.dtype)
    if x.shape[0]:
        if layout == "NCHW":
            kernel = _k.max_pool_backward_nchw
        elif x.shape[3] >= _ROWS_BELOW:
            kernel = _k.max_pool_backward_nhwc
        else:
            kernel = _k.max_pool_backward_nhwc_rows
        with phase("kernel"):
            g = _win_args(win)
            parallel_for(
                lambda a, b: kernel(go[a:b], x[a:b], *g, grad_x[a:b]),
                x.shape[0],
                2 * x.nbytes + go.nbytes,
            )
    return grad_x.astype(out_dtype, copy=False)


def avg_pool2d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    layout="NCHW",
):
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
        layout, x, _, win, out_dtype = _check_pool(
            x, kernel_size, stride, padding, 1, ceil_mode, layout, None
        )
    include, divisor = _check_avg_options(count_include_pad, divisor_override)
    out = np.empty(_out_shape(x, win, layout), x.dtype)
    if x.shape[0]:
        kernel = _k.avg_pool_nchw if layout == "NCHW" else _k.avg_pool_nhwc
        with phase("kernel"):
            g = _avg_win_args(win)
            parallel_for(
                lambda a, b: kernel(x[a:b], *g, include, divisor, out[a:b]),
                x.shape[0],
                x.nbytes + out.nbytes,
            )
    return out.astype(out_dtype, copy=False)


def avg_pool2d_backward(
    grad_out,
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    layout="NCHW",
):
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
        layout, x, go, win, out_dtype = _check_pool(
            x, kernel_size, stride, padding, 1, ceil_mode, layout, grad_out
        )
    include, divisor = _check_avg_options(count_include_pad, divisor_override)
    grad_x = np.empty(x.shape, x.dtype)
    if x.shape[0]:
        if layout == "NCHW":
            kernel = _k.avg_pool_backward_nchw
        else:
            kernel = _k.avg_pool_backward_nhwc
        with phase("kernel"):
            g = _avg_win_args(win)
            parallel_for(
                lambda a, b: kernel(go[a:b], *g, include, divisor, grad_x[a:b]),
                x.shape[0],
                go.nbytes + grad_x.nbytes,
            )
    return grad_x.astype(out_dtype, copy=False)
