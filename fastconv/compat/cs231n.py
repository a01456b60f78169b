"""The Stanford cs231n assignment 2 convolution and pooling layers, fast.

Same names, signatures, shapes and return values as the assignment's
``cs231n/layers.py`` and ``cs231n/fast_layers.py``:

==============================================  ===========================
``conv_forward_naive(x, w, b, conv_param)``      ``(out, cache)``
``conv_backward_naive(dout, cache)``             ``(dx, dw, db)``
``max_pool_forward_naive(x, pool_param)``        ``(out, cache)``
``max_pool_backward_naive(dout, cache)``         ``dx``
``conv_forward_fast``, ``conv_backward_fast``,   the same, on fastconv's engine
``max_pool_forward_fast``,
``max_pool_backward_fast``
==============================================  ===========================

Arrays are channels-first: x ``(N, C, H, W)``, w ``(F, C, HH, WW)``, b
``(F,)``, fastconv's "NCHW" layout. ``conv_param`` is ``{"stride", "pad"}``
and ``pool_param`` is ``{"pool_height", "pool_width", "stride"}``; pooling
has no padding. The caches are ``(x, w, b, conv_param)`` and
``(x, pool_param)``, so a naive cache also works with a fast backward and
vice versa.

The ``*_naive`` functions run :mod:`fastconv.naive`, fastconv's independent
plain-loop oracle: slow but obviously right. The ``*_fast`` functions run the
engine and, unlike the assignment's own fast layers, accept every geometry
the naive ones do: non-square filters and pools, sizes that the stride does
not divide (the assignment's versions assert "width does not work"), and
overlapping or non-tiling pools (which the assignment's reshape path cannot
take). float32 stays float32. Max pooling's backward pass sends a tied
window's gradient to its first maximum, as PyTorch does.
"""

import fastconv
from fastconv import naive

from . import _args as _a

__all__ = [
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
]


# --------------------------------------------------------------------------
# argument checks, with the assignment's names


def _conv_args(x, w, b, conv_param):
    x = _a.array(x, "x", 4, "(N, C, H, W)")
    w = _a.array(w, "w", 4, "(F, C, HH, WW)")
    stride = _a.param(conv_param, "conv_param", "stride", 1)
    pad = _a.param(conv_param, "conv_param", "pad", 0)
    N, C, H, W = x.shape
    F, wC, HH, WW = w.shape
    if wC != C:
        raise ValueError(
            f"w {w.shape} is (F, C, HH, WW) with C={wC}, but x {x.shape} has "
            f"C={C} channels"
        )
    if H + 2 * pad < HH or W + 2 * pad < WW:
        raise ValueError(
            f"the {HH}x{WW} filter does not fit the padded input: H + 2*pad = "
            f"{H + 2 * pad}, W + 2*pad = {W + 2 * pad} (H={H}, W={W}, pad={pad})"
        )
    if b is not None:
        b = _a.array(b, "b", 1, "(F,)")
        if b.shape != (F,):
            raise ValueError(
                f"b must have shape (F,) = ({F},) to match w {w.shape}, "
                f"got shape {b.shape}"
            )
    return x, w, b, stride, pad


def _pool_args(x, pool_param):
    x = _a.array(x, "x", 4, "(N, C, H, W)")
    ph = _a.param(pool_param, "pool_param", "pool_height", 1)
    pw = _a.param(pool_param, "pool_param", "pool_width", 1)
    stride = _a.param(pool_param, "pool_param", "stride", 1)
    H, W = x.shape[2:]
    if H < ph or W < pw:
        raise ValueError(
            f"the {ph}x{pw} pool does not fit x of shape {x.shape} (H={H}, W={W})"
        )
    return x, (ph, pw), stride


# --------------------------------------------------------------------------
# shared bodies: `engine` is fastconv (fast) or fastconv.naive (oracle)


def _conv_forward(engine, x, w, b, conv_param):
    xa, wa, ba, stride, pad = _conv_args(x, w, b, conv_param)
    out = engine.conv2d(xa, wa, ba, stride=stride, padding=pad)
    return out, (x, w, b, conv_param)


def _conv_backward(engine, dout, cache, producer):
    x, w, b, conv_param = _a.cache(cache, 4, "(x, w, b, conv_param)", producer)
    xa, wa, _, stride, pad = _conv_args(x, w, None, conv_param)
    dout = _a.array(dout, "dout", 4, "(N, F, H', W')")
    out = fastconv.conv_output_shape(xa.shape, wa.shape, stride, pad)
    _a.check_grad(dout, "dout", out, "out")
    return tuple(engine.conv2d_backward(dout, xa, wa, stride=stride, padding=pad))


def _pool_forward(engine, x, pool_param):
    xa, kernel, stride = _pool_args(x, pool_param)
    return engine.max_pool2d(xa, kernel, stride), (x, pool_param)


def _pool_backward(engine, dout, cache, producer):
    x, pool_param = _a.cache(cache, 2, "(x, pool_param)", producer)
    xa, kernel, stride = _pool_args(x, pool_param)
    dout = _a.array(dout, "dout", 4, "(N, C, H', W')")
    # (N, C, OH, OW): N and C pass through, so one (H, W) plane's geometry
    # gives the rest, and an empty C is left to the pooling, which names x
    plane = fastconv.pool_output_shape((1, 1) + xa.shape[2:], kernel, stride)
    _a.check_grad(dout, "dout", xa.shape[:2] + plane[2:], "out")
    return engine.max_pool2d_backward(dout, xa, kernel, stride)


# --------------------------------------------------------------------------
# layers.py: the oracle


def conv_forward_naive(x, w, b, conv_param):
    """Forward pass of a convolutional layer, on fastconv's plain-loop oracle.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
    w : array_like of shape (F, C, HH, WW)
    b : array_like of shape (F,)
    conv_param : dict
        ``{"stride": int >= 1, "pad": int >= 0}``; `pad` zeros on every side.

    Returns
    -------
    out : ndarray of shape (N, F, H', W')
        ``H' = 1 + (H + 2*pad - HH) // stride``, ``W' = 1 + (W + 2*pad - WW) // stride``.
    cache : tuple
        ``(x, w, b, conv_param)``.

    Examples
    --------
    The assignment's check (ConvolutionalNetworks.ipynb):

    >>> import numpy as np
    >>> from fastconv.compat.cs231n import conv_forward_naive
    >>> x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    >>> w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    >>> b = np.linspace(-0.1, 0.2, num=3)
    >>> out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    >>> print(np.round(out[0, 0], 8))
    [[-0.08759809 -0.10987781]
     [-0.18387192 -0.2109216 ]]
    """
    return _conv_forward(naive, x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """Backward pass of a convolutional layer, on fastconv's plain-loop oracle.

    Parameters
    ----------
    dout : array_like of shape (N, F, H', W')
        Upstream derivatives.
    cache : tuple
        ``(x, w, b, conv_param)`` as returned by :func:`conv_forward_naive`.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.cs231n import conv_forward_naive, conv_backward_naive
    >>> x, w, b = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1)
    >>> out, cache = conv_forward_naive(x, w, b, {"stride": 1, "pad": 0})
    >>> dx, dw, db = conv_backward_naive(np.ones_like(out), cache)
    >>> dx[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    return _conv_backward(naive, dout, cache, "conv_forward_naive")


def max_pool_forward_naive(x, pool_param):
    """Forward pass of a max-pooling layer, on fastconv's plain-loop oracle.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
    pool_param : dict
        ``{"pool_height": int, "pool_width": int, "stride": int}``, all >= 1.

    Returns
    -------
    out : ndarray of shape (N, C, H', W')
        ``H' = 1 + (H - pool_height) // stride``, ``W' = 1 + (W - pool_width) // stride``.
    cache : tuple
        ``(x, pool_param)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.cs231n import max_pool_forward_naive
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    >>> out, _ = max_pool_forward_naive(x, pool_param)
    >>> out[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return _pool_forward(naive, x, pool_param)


def max_pool_backward_naive(dout, cache):
    """Backward pass of a max-pooling layer, on fastconv's plain-loop oracle.

    Parameters
    ----------
    dout : array_like of shape (N, C, H', W')
    cache : tuple
        ``(x, pool_param)`` as returned by :func:`max_pool_forward_naive`.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
        Each upstream derivative lands on its window's (first) maximum;
        overlapping windows add up.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.cs231n import max_pool_forward_naive, max_pool_backward_naive
    >>> x = np.array([[[[1., 3.], [4., 2.]]]])
    >>> pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    >>> out, cache = max_pool_forward_naive(x, pool_param)
    >>> max_pool_backward_naive(np.full((1, 1, 1, 1), 5.0), cache)[0, 0]
    array([[0., 0.],
           [5., 0.]])
    """
    return _pool_backward(naive, dout, cache, "max_pool_forward_naive")


# --------------------------------------------------------------------------
# fast_layers.py: the engine


def conv_forward_fast(x, w, b, conv_param):
    """Forward pass of a convolutional layer, on fastconv's engine.

    Parameters and returns as :func:`conv_forward_naive`; any geometry the
    naive layer takes works here too.

    Examples
    --------
    A 2x3 filter, stride 2 on a 5x6 input (the assignment's fast layer
    asserts "height does not work" here):

    >>> import numpy as np
    >>> from fastconv.compat.cs231n import conv_forward_fast, conv_forward_naive
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.normal(size=(2, 3, 5, 6)), rng.normal(size=(4, 3, 2, 3))
    >>> b = np.zeros(4)
    >>> out, cache = conv_forward_fast(x, w, b, {"stride": 2, "pad": 0})
    >>> out.shape
    (2, 4, 2, 2)
    >>> bool(np.allclose(out, conv_forward_naive(x, w, b, {"stride": 2, "pad": 0})[0]))
    True
    """
    return _conv_forward(fastconv, x, w, b, conv_param)


def conv_backward_fast(dout, cache):
    """Backward pass of a convolutional layer, on fastconv's engine.

    Parameters and returns as :func:`conv_backward_naive`; `cache` comes
    from :func:`conv_forward_fast` or :func:`conv_forward_naive`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.cs231n import conv_forward_fast, conv_backward_fast
    >>> x, w, b = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1)
    >>> out, cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 0})
    >>> dx, dw, db = conv_backward_fast(np.ones_like(out), cache)
    >>> dw[0, 0], db
    (array([[4., 4.],
           [4., 4.]]), array([4.]))
    """
    return _conv_backward(fastconv, dout, cache, "conv_forward_fast")


def max_pool_forward_fast(x, pool_param):
    """Forward pass of a max-pooling layer, on fastconv's engine.

    Parameters and returns as :func:`max_pool_forward_naive`; overlapping
    and non-tiling pools work too.

    Examples
    --------
    A 3x3 pool with stride 2 over a 5x5 input (overlapping windows):

    >>> import numpy as np
    >>> from fastconv.compat.cs231n import max_pool_forward_fast
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    >>> out, _ = max_pool_forward_fast(x, pool_param)
    >>> out[0, 0]
    array([[12., 14.],
           [22., 24.]])
    """
    return _pool_forward(fastconv, x, pool_param)


def max_pool_backward_fast(dout, cache):
    """Backward pass of a max-pooling layer, on fastconv's engine.

    Parameters and returns as :func:`max_pool_backward_naive`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.compat.cs231n import max_pool_forward_fast, max_pool_backward_fast
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> pool_param = {"pool_height": 2, "pool_width": 2, "stride": 1}
    >>> out, cache = max_pool_forward_fast(x, pool_param)
    >>> max_pool_backward_fast(np.ones_like(out), cache)[0, 0]
    array([[0., 0., 0.],
           [0., 1., 1.],
           [0., 1., 1.]])
    """
    return _pool_backward(fastconv, dout, cache, "max_pool_forward_fast")
