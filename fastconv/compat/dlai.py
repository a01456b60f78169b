"""The DeepLearning.AI "Convolutional Model: step by step" functions, fast.

Same names, signatures, shapes and return values as the course notebook
(Deep Learning Specialization, course 4, week 1), backed by fastconv:

========================================  ====================================
``zero_pad(X, pad)``                      ``X_pad``
``conv_single_step(a_slice_prev, W, b)``  ``Z``, a numpy float scalar
``conv_forward(A_prev, W, b, hp)``        ``(Z, cache)``, cache ``(A_prev, W, b, hp)``
``conv_backward(dZ, cache)``              ``(dA_prev, dW, db)``
``pool_forward(A_prev, hp, mode)``        ``(A, cache)``, cache ``(A_prev, hp)``
``pool_backward(dA, cache, mode)``        ``dA_prev``
``create_mask_from_window(x)``            ``mask``
``distribute_value(dz, shape)``           ``a``
========================================  ====================================

Arrays are channels-last: ``A_prev`` is ``(m, n_H_prev, n_W_prev, n_C_prev)``
and ``W`` is ``(f, f, n_C_prev, n_C)``, which is exactly fastconv's "NHWC"
layout, so nothing is transposed. ``hparameters`` is ``{"stride", "pad"}`` for
the convolution and ``{"f", "stride"}`` for the pooling; ``mode`` is "max" or
"average".

Differences from the notebook's loops, all on purpose:

- Any stride, padding (including 0) and input size works; windows that do not
  fit at the bottom/right are dropped, as the course's floor formula says.
- float32 inputs give float32 results (the loops always return float64).
- Max pooling's backward pass sends a tied window's gradient to its first
  maximum (PyTorch's rule); the notebook's ``create_mask_from_window`` mask
  gives the full gradient to every tied maximum. They agree when the maximum
  is unique, as it is for real-valued data. :func:`create_mask_from_window`
  itself keeps the notebook's definition.
"""

import numpy as np

import fastconv

from . import _args as _a

__all__ = [
    "zero_pad",
    "conv_single_step",
    "conv_forward",
    "conv_backward",
    "pool_forward",
    "pool_backward",
    "create_mask_from_window",
    "distribute_value",
]

MODES = ("max", "average")


# --------------------------------------------------------------------------
# argument checks, with the course's names


def _hparam(hparameters, key, minimum):
    return _a.param(hparameters, "hparameters", key, minimum, quote='"')


def _mode(mode):
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be 'max' or 'average', got {mode!r}")
    return mode


def _check_fits(shape, fh, fw, pad, name):
    n_H_prev, n_W_prev = shape[1], shape[2]
    if n_H_prev + 2 * pad < fh or n_W_prev + 2 * pad < fw:
        padded = (
            f" padded with pad={pad}: n_H_prev + 2*pad = {n_H_prev + 2 * pad}, "
            f"n_W_prev + 2*pad = {n_W_prev + 2 * pad}"
            if pad
            else ""
        )
        raise ValueError(
            f"the {fh}x{fw} window does not fit {name} of shape {tuple(shape)}{padded}"
        )


def _conv_args(A_prev, W, b, hparameters):
    A_prev = _a.array(A_prev, "A_prev", 4, "(m, n_H_prev, n_W_prev, n_C_prev)")
    W = _a.array(W, "W", 4, "(f, f, n_C_prev, n_C)")
    stride = _hparam(hparameters, "stride", 1)
    pad = _hparam(hparameters, "pad", 0)
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    fh, fw, w_C_prev, n_C = W.shape
    if w_C_prev != n_C_prev:
        raise ValueError(
            f"W {W.shape} is (f, f, n_C_prev, n_C) with n_C_prev={w_C_prev}, but "
            f"A_prev {A_prev.shape} has n_C_prev={n_C_prev} channels"
        )
    _check_fits(A_prev.shape, fh, fw, pad, "A_prev")
    if b is not None:
        b = _a.array(b, "b", None, "")
        if b.shape != (1, 1, 1, n_C):
            raise ValueError(
                f"b must have shape (1, 1, 1, n_C) = (1, 1, 1, {n_C}) to match "
                f"W {W.shape}, got shape {b.shape}"
            )
    return A_prev, W, b, stride, pad


def _pool_args(A_prev, hparameters, mode):
    A_prev = _a.array(A_prev, "A_prev", 4, "(m, n_H_prev, n_W_prev, n_C_prev)")
    f = _hparam(hparameters, "f", 1)
    stride = _hparam(hparameters, "stride", 1)
    mode = _mode(mode)
    _check_fits(A_prev.shape, f, f, 0, "A_prev")
    return A_prev, f, stride, mode


# --------------------------------------------------------------------------
# the course functions


def zero_pad(X, pad):
    """Pad the height and width of every image in `X` with `pad` zeros.

    Parameters
    ----------
    X : array_like of shape (m, n_H, n_W, n_C)
    pad : int
        Zeros added on each side of the height and the width (0 is allowed).

    Returns
    -------
    X_pad : ndarray of shape (m, n_H + 2*pad, n_W + 2*pad, n_C)
        Same dtype as `X`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.dlai import zero_pad
    >>> zero_pad(np.ones((1, 1, 2, 1)), 1)[0, :, :, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 1., 0.],
           [0., 0., 0., 0.]])
    """
    X = _a.array(X, "X", 4, "(m, n_H, n_W, n_C)")
    pad = _a.int_arg(pad, "pad", 0)
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant")


def conv_single_step(a_slice_prev, W, b):
    """One output value of a convolution: ``sum(a_slice_prev * W) + b``.

    Parameters
    ----------
    a_slice_prev : array_like of shape (f, f, n_C_prev)
    W : array_like of shape (f, f, n_C_prev)
    b : array_like holding one value, shape (1, 1, 1) in the course

    Returns
    -------
    Z : numpy float scalar
        np.float64, or np.float32 when all three inputs are float32.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.dlai import conv_single_step
    >>> a_slice_prev, W = np.ones((2, 2, 3)), np.full((2, 2, 3), 0.5)
    >>> Z = conv_single_step(a_slice_prev, W, np.ones((1, 1, 1)))
    >>> print(Z, type(Z).__name__)
    7.0 float64
    """
    a = _a.array(a_slice_prev, "a_slice_prev", None, "")
    W = _a.array(W, "W", None, "")
    b = _a.array(b, "b", None, "")
    if a.shape != W.shape:
        raise ValueError(
            f"a_slice_prev and W must have the same shape (f, f, n_C_prev), got "
            f"{a.shape} and {W.shape}"
        )
    if b.size != 1:
        raise ValueError(f"b must hold a single value, got shape {b.shape}")
    dtype = np.result_type(a, W, b)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    a, W, b = a.astype(dtype, copy=False), W.astype(dtype, copy=False), b.astype(dtype)
    return np.sum(a * W) + b.reshape(())[()]


def conv_forward(A_prev, W, b, hparameters):
    """Forward pass of a convolution layer.

    Parameters
    ----------
    A_prev : array_like of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : array_like of shape (f, f, n_C_prev, n_C)
        A non-square (f_h, f_w) filter also works.
    b : array_like of shape (1, 1, 1, n_C)
    hparameters : dict
        ``{"stride": int >= 1, "pad": int >= 0}``.

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C)
        ``n_H = floor((n_H_prev + 2*pad - f) / stride) + 1``, likewise n_W.
    cache : tuple
        ``(A_prev, W, b, hparameters)``, the objects passed in, for
        :func:`conv_backward`.

    Examples
    --------
    The 2021 notebook's example (``np.random.RandomState(1)`` draws the same
    numbers as its ``np.random.seed(1)`` without touching numpy's global state):

    >>> import numpy as np
    >>> from fastconv.compat.dlai import conv_forward
    >>> rs = np.random.RandomState(1)
    >>> A_prev = rs.randn(2, 5, 7, 4); W = rs.randn(3, 3, 4, 8); b = rs.randn(1, 1, 1, 8)
    >>> Z, cache_conv = conv_forward(A_prev, W, b, {"pad": 1, "stride": 2})
    >>> Z.shape
    (2, 3, 4, 8)
    >>> print(np.round(Z[0, 2, 1], 8))
    [-2.17796037  8.07171329 -0.5772704   3.36286738  4.48113645 -2.89198428
     10.99288867  3.03171932]
    """
    A, Wa, ba, stride, pad = _conv_args(A_prev, W, b, hparameters)
    Z = fastconv.conv2d(A, Wa, ba.reshape(-1), stride=stride, padding=pad, layout="NHWC")
    return Z, (A_prev, W, b, hparameters)


def conv_backward(dZ, cache):
    """Backward pass of a convolution layer.

    Parameters
    ----------
    dZ : array_like of shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to the output Z of :func:`conv_forward`.
    cache : tuple
        ``(A_prev, W, b, hparameters)`` as returned by :func:`conv_forward`.

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    dW : ndarray of shape (f, f, n_C_prev, n_C)
    db : ndarray of shape (1, 1, 1, n_C)

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.dlai import conv_forward, conv_backward
    >>> A_prev, W = np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1))
    >>> b = np.zeros((1, 1, 1, 1))
    >>> Z, cache = conv_forward(A_prev, W, b, {"stride": 1, "pad": 0})
    >>> dA_prev, dW, db = conv_backward(np.ones_like(Z), cache)
    >>> dA_prev[0, :, :, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> db.shape
    (1, 1, 1, 1)
    """
    A_prev, W, b, hparameters = _a.cache(
        cache, 4, "(A_prev, W, b, hparameters)", "conv_forward"
    )
    A, Wa, _, stride, pad = _conv_args(A_prev, W, None, hparameters)
    dZ = _a.array(dZ, "dZ", 4, "(m, n_H, n_W, n_C)")
    out = fastconv.conv_output_shape(A.shape, Wa.shape, stride, pad, layout="NHWC")
    _a.check_grad(dZ, "dZ", out, "Z (m, n_H, n_W, n_C)")
    dA_prev, dW, db = fastconv.conv2d_backward(
        dZ, A, Wa, stride=stride, padding=pad, layout="NHWC"
    )
    return dA_prev, dW, db.reshape(1, 1, 1, -1)


def pool_forward(A_prev, hparameters, mode="max"):
    """Forward pass of a max or average pooling layer (no padding).

    Parameters
    ----------
    A_prev : array_like of shape (m, n_H_prev, n_W_prev, n_C_prev)
    hparameters : dict
        ``{"f": int >= 1, "stride": int >= 1}``; the window is f x f.
    mode : {"max", "average"}

    Returns
    -------
    A : ndarray of shape (m, n_H, n_W, n_C_prev)
        ``n_H = floor((n_H_prev - f) / stride) + 1``, likewise n_W: windows
        that do not fit at the bottom/right are dropped.
    cache : tuple
        ``(A_prev, hparameters)``, for :func:`pool_backward`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.dlai import pool_forward
    >>> A_prev = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> A, cache = pool_forward(A_prev, {"f": 2, "stride": 2}, mode="average")
    >>> A[0, :, :, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    A, f, stride, mode = _pool_args(A_prev, hparameters, mode)
    if mode == "max":
        out = fastconv.max_pool2d(A, f, stride, layout="NHWC")
    else:
        out = fastconv.avg_pool2d(A, f, stride, layout="NHWC")
    return out, (A_prev, hparameters)


def pool_backward(dA, cache, mode="max"):
    """Backward pass of a max or average pooling layer.

    Parameters
    ----------
    dA : array_like of shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to the output A of :func:`pool_forward`.
    cache : tuple
        ``(A_prev, hparameters)`` as returned by :func:`pool_forward`.
    mode : {"max", "average"}

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
        Overlapping windows add up. In "max" mode each gradient goes to its
        window's (first) maximum; in "average" mode it is spread evenly.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.dlai import pool_forward, pool_backward
    >>> A_prev = np.array([[1., 3., 2.], [0., 0., 0.]]).reshape(1, 2, 3, 1)
    >>> A, cache = pool_forward(A_prev, {"f": 2, "stride": 1})  # two windows share the 3
    >>> pool_backward(np.ones_like(A), cache)[0, :, :, 0]
    array([[0., 2., 0.],
           [0., 0., 0.]])
    """
    A_prev, hparameters = _a.cache(cache, 2, "(A_prev, hparameters)", "pool_forward")
    A, f, stride, mode = _pool_args(A_prev, hparameters, mode)
    dA = _a.array(dA, "dA", 4, "(m, n_H, n_W, n_C)")
    # (m, n_H, n_W, n_C): m and n_C pass through, so one plane's geometry gives
    # (n_H, n_W), and an empty n_C is left to the pooling, which names x
    plane = fastconv.pool_output_shape(
        (1,) + A.shape[1:3] + (1,), f, stride, layout="NHWC"
    )
    out = A.shape[:1] + plane[1:3] + A.shape[3:]
    _a.check_grad(dA, "dA", out, "A (m, n_H, n_W, n_C)")
    if mode == "max":
        return fastconv.max_pool2d_backward(dA, A, f, stride, layout="NHWC")
    return fastconv.avg_pool2d_backward(dA, A, f, stride, layout="NHWC")


def create_mask_from_window(x):
    """Boolean mask of the maximum of `x`: ``x == np.max(x)``.

    Parameters
    ----------
    x : array_like of shape (f, f), or any non-empty shape

    Returns
    -------
    mask : ndarray of bool, shape of `x`
        True at every position holding the maximum (the notebook's
        definition, so a tie marks all of them).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.dlai import create_mask_from_window
    >>> create_mask_from_window(np.array([[1, 3], [4, 2]]))
    array([[False, False],
           [ True, False]])
    """
    x = _a.array(x, "x", None, "")
    if x.size == 0:
        raise ValueError(f"x must not be empty, got shape {x.shape}")
    return x == np.max(x)


def distribute_value(dz, shape):
    """Spread the value `dz` evenly over a matrix of `shape`.

    Parameters
    ----------
    dz : float
    shape : (int, int)
        ``(n_H, n_W)``, both >= 1.

    Returns
    -------
    a : ndarray of shape `shape`
        Every entry is ``dz / (n_H * n_W)``; float32 if `dz` is a float32.

    Examples
    --------
    >>> from fastconv.compat.dlai import distribute_value
    >>> distribute_value(2, (2, 2))
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be a pair (n_H, n_W), got {shape!r}")
    n_H, n_W = (
        _a.int_arg(shape[0], "shape[0] (n_H)", 1),
        _a.int_arg(shape[1], "shape[1] (n_W)", 1),
    )
    dz = _a.array(dz, "dz", None, "")
    if dz.size != 1:
        raise ValueError(f"dz must be a single number, got shape {dz.shape}")
    value = dz.reshape(())[()] / (n_H * n_W)
    return np.full((n_H, n_W), value)
