"""2-D convolution forward and backward as im2col + GEMM, and im2col/col2im.

The public functions check and normalise their arguments, then hand clean
arrays to the jitted kernels in :mod:`fastconv._kernels.im2col` and the GEMMs
to numpy's BLAS. The batch is processed in chunks that keep the column
matrices within the workspace limit (:func:`fastconv.set_workspace_limit`).
"""

from typing import NamedTuple

import numpy as np

from ._engine import workspace as _config
from ._engine.args import as_real_array, check_layout, dtypes, prepare
from ._engine.geometry import Window, as_pair, conv_window
from ._engine.threads import parallel_for
from ._engine.trace import phase
from ._kernels.im2col import (
    col2im_nchw,
    col2im_nhwc,
    im2col_nchw,
    im2col_nhwc,
    nchw_to_rows,
    rows_to_nchw,
)

__all__ = ["conv2d", "conv2d_backward", "im2col", "col2im"]


class _Conv(NamedTuple):
    """A checked convolution: clean arrays and the geometry."""

    x: np.ndarray  # (N, C, H, W) or (N, H, W, C), C-contiguous, compute dtype
    weight: np.ndarray  # (F, Cg, KH, KW) or (KH, KW, Cg, F)
    bias: object  # (F,) or None
    win: Window
    layout: str
    groups: int
    N: int
    C: int
    F: int
    dtype: np.dtype  # compute dtype
    out_dtype: np.dtype


def _check_conv(
    x, weight, bias, stride, padding, dilation, groups, layout, grad_out=None
):
    layout = check_layout(layout)
    x = as_real_array(x, "x")
    weight = as_real_array(weight, "weight")
    arrays = [x, weight]
    if bias is not None:
        bias = as_real_array(bias, "bias", ndim=None)
        arrays.append(bias)
    if grad_out is not None:
        grad_out = as_real_array(grad_out, "grad_out")
        arrays.append(grad_out)
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"groups must be an int, got {groups!r}")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")

    if layout == "NCHW":
        N, C, H, W = x.shape
        F, Cg, KH, KW = weight.shape
        wdesc = "(F, C/groups, KH, KW)"
    else:
        N, H, W, C = x.shape
        KH, KW, Cg, F = weight.shape
        wdesc = "(KH, KW, C/groups, F)"
    if C % groups:
        raise ValueError(
            f"groups must divide the input channels: x has C={C} channels, "
            f"groups={groups}"
        )
    if F % groups:
        raise ValueError(
            f"groups must divide the output channels: weight has F={F} filters, "
            f"groups={groups}"
        )
    if Cg * groups != C:
        raise ValueError(
            f"weight {weight.shape} ({layout} weight is {wdesc}) expects "
            f"C/groups={Cg} channels per group, but x {x.shape} has C={C} "
            f"channels and groups={groups} (C/groups={C // groups})"
        )
    if KH < 1 or KW < 1:
        raise ValueError(f"weight must have kernel size >= 1, got shape {weight.shape}")
    if bias is not None and bias.shape != (F,):
        raise ValueError(
            f"bias must have shape (F,) = ({F},) to match weight {weight.shape}, "
            f"got shape {bias.shape}"
        )
    win = conv_window((H, W), (KH, KW), stride, padding, dilation)
    if grad_out is not None:
        expected = (N, F, win.OH, win.OW) if layout == "NCHW" else (N, win.OH, win.OW, F)
        if grad_out.shape != expected:
            raise ValueError(
                f"grad_out must have the output's shape {expected}, "
                f"got shape {grad_out.shape}"
            )
    dtype, out_dtype = dtypes(*arrays)
    spec = _Conv(
        prepare(x, dtype),
        prepare(weight, dtype),
        None if bias is None else prepare(bias, dtype),
        win,
        layout,
        groups,
        N,
        C,
        F,
        dtype,
        out_dtype,
    )
    return spec, (None if grad_out is None else prepare(grad_out, dtype))


def _is_pointwise(win):
    # A 1x1 window with unit stride and no padding: x itself is the column matrix.
    return (
        win.KH == 1
        and win.KW == 1
        and win.sh == 1
        and win.sw == 1
        and win.top == 0
        and win.bottom == 0
        and win.left == 0
        and win.right == 0
    )


def _geom_args(win):
    return (
        win.KH,
        win.KW,
        win.sh,
        win.sw,
        win.dh,
        win.dw,
        win.top,
        win.left,
        win.OH,
        win.OW,
    )


def _im2col_nchw(x, win, cols):
    """Parallel :func:`im2col_nchw` over channels (or samples, when C is small)."""
    N, C = x.shape[0], x.shape[1]
    g = _geom_args(win)
    if C >= N:
        parallel_for(lambda a, b: im2col_nchw(x, a, b, 0, N, *g, cols), C, cols.nbytes)
    else:
        parallel_for(lambda a, b: im2col_nchw(x, 0, C, a, b, *g, cols), N, cols.nbytes)


def _col2im_nchw(cols, win, x):
    """Parallel :func:`col2im_nchw` over samples (or channels, when N is small)."""
    N, C = x.shape[0], x.shape[1]
    g = _geom_args(win)
    if N >= C:
        parallel_for(lambda a, b: col2im_nchw(cols, 0, C, a, b, *g, x), N, cols.nbytes)
    else:
        parallel_for(lambda a, b: col2im_nchw(cols, a, b, 0, N, *g, x), C, cols.nbytes)


def _im2col_nhwc(x, c0, Cg, win, cols):
    """Parallel :func:`im2col_nhwc` over samples (each owns its rows of cols)."""
    rows = cols.shape[0] // max(x.shape[0], 1)
    g = _geom_args(win)
    parallel_for(
        lambda a, b: im2col_nhwc(x[a:b], c0, Cg, *g, cols[a * rows : b * rows]),
        x.shape[0],
        cols.nbytes,
    )


def _col2im_nhwc(cols, c0, Cg, win, x):
    """Parallel :func:`col2im_nhwc` over samples (each owns its plane of x)."""
    rows = cols.shape[0] // max(x.shape[0], 1)
    g = _geom_args(win)
    parallel_for(
        lambda a, b: col2im_nhwc(cols[a * rows : b * rows], c0, Cg, *g, x[a:b]),
        x.shape[0],
        cols.nbytes,
    )


def _chunks(n, step):
    for n0 in range(0, n, step):
        yield n0, min(n0 + step, n)


# --------------------------------------------------------------------------
# NCHW: cols (C*KH*KW, nb*P) with the batch in the columns, so one GEMM per
# group and chunk: rows (F, nb*P) = W2 (F, Cg*KK) @ cols, then rows -> NCHW.


def _nchw_chunk(s, extra_rows):
    """Chunk size and a function giving the C-contiguous chunk buffers
    cols (C*KK, m*P) and rows (extra_rows, m*P) for a chunk of m samples.
    """
    win = s.win
    P, K = win.OH * win.OW, s.C * win.KH * win.KW
    nb = _config.batch_chunk(s.N, (K + extra_rows) * P * s.dtype.itemsize)
    flat_cols, flat_rows = _config.scratch(s.dtype, (K * nb * P,), (extra_rows * nb * P,))

    def buffers(m):
        return (
            flat_cols[: K * m * P].reshape(K, m * P),
            flat_rows[: extra_rows * m * P].reshape(extra_rows, m * P),
        )

    return nb, buffers


def _forward_nchw(s):
    win, G = s.win, s.groups
    P, KK = win.OH * win.OW, win.KH * win.KW
    Cg, Fg = s.C // G, s.F // G
    w2 = s.weight.reshape(s.F, Cg * KK)  # (F, Cg*KK)
    out = np.empty((s.N, s.F, win.OH, win.OW), s.dtype)
    out3 = out.reshape(s.N, s.F, P)  # (N, F, P)
    bias = s.bias if s.bias is not None else np.zeros(s.F, s.dtype)
    if _is_pointwise(win):
        # x (N, C, P) is the column matrix already: per-sample GEMMs straight
        # into the output, no copies
        x3 = s.x.reshape(s.N, s.C, P)  # (N, C, P)
        with phase("gemm"):
            for g in range(G):
                np.matmul(
                    w2[g * Fg : (g + 1) * Fg],
                    x3[:, g * Cg : (g + 1) * Cg],
                    out=out3[:, g * Fg : (g + 1) * Fg],
                )
        if s.bias is not None:
            with phase("bias"):
                out3 += s.bias[:, None]
        return out
    nb, buffers = _nchw_chunk(s, s.F)
    for n0, n1 in _chunks(s.N, nb):
        cols, rows = buffers(n1 - n0)
        with phase("im2col"):
            _im2col_nchw(s.x[n0:n1], win, cols)
        with phase("gemm"):
            for g in range(G):
                np.matmul(
                    w2[g * Fg : (g + 1) * Fg],
                    cols[g * Cg * KK : (g + 1) * Cg * KK],
                    out=rows[g * Fg : (g + 1) * Fg],
                )  # (Fg, nb*P)
        with phase("layout+bias"):
            o = out3[n0:n1]
            parallel_for(
                lambda a, b: rows_to_nchw(rows, bias, a, b, o), n1 - n0, o.nbytes
            )
    return out


def _backward_nchw(s, go):
    win, G = s.win, s.groups
    P, KK = win.OH * win.OW, win.KH * win.KW
    Cg, Fg = s.C // G, s.F // G
    go3 = go.reshape(s.N, s.F, P)  # (N, F, P)
    w2 = s.weight.reshape(s.F, Cg * KK)  # (F, Cg*KK)
    grad_w2 = np.zeros((s.F, Cg * KK), s.dtype)
    grad_x = np.empty(s.x.shape, s.dtype)
    if _is_pointwise(win):
        x3 = s.x.reshape(s.N, s.C, P)  # (N, C, P)
        gx3 = grad_x.reshape(s.N, s.C, P)
        tmp = np.empty((Fg, Cg), s.dtype)
        with phase("gemm"):
            for g in range(G):
                fs, cs = slice(g * Fg, (g + 1) * Fg), slice(g * Cg, (g + 1) * Cg)
                for n in range(s.N):  # dW_g += dY[n] @ x[n].T
                    np.matmul(go3[n, fs], x3[n, cs].T, out=tmp)
                    grad_w2[fs] += tmp
                np.matmul(w2[fs].T, go3[:, fs], out=gx3[:, cs])
        with phase("grad_bias"):
            grad_b = go3.sum(axis=(0, 2))
        return grad_x, grad_w2.reshape(s.weight.shape), grad_b
    sums = np.zeros(s.F, np.float64)
    nb, buffers = _nchw_chunk(s, s.F)
    first = True
    for n0, n1 in _chunks(s.N, nb):
        cols, dy = buffers(n1 - n0)
        with phase("layout+grad_bias"):
            gy = go3[n0:n1]  # -> dY (F, nb*P)
            parallel_for(lambda a, b: nchw_to_rows(gy, a, b, dy, sums), s.F, gy.nbytes)
        with phase("im2col"):
            _im2col_nchw(s.x[n0:n1], win, cols)
        with phase("gemm"):
            for g in range(G):
                fs, ks = (
                    slice(g * Fg, (g + 1) * Fg),
                    slice(g * Cg * KK, (g + 1) * Cg * KK),
                )
                # dW_g (Fg, Cg*KK) = dY_g @ cols_g.T, summed over chunks
                if first:
                    np.matmul(dy[fs], cols[ks].T, out=grad_w2[fs])
                else:
                    grad_w2[fs] += dy[fs] @ cols[ks].T
                # dcols_g (Cg*KK, nb*P) = W_g.T @ dY_g, written over cols_g
                np.matmul(w2[fs].T, dy[fs], out=cols[ks])
        first = False
        with phase("col2im"):
            _col2im_nchw(cols, win, grad_x[n0:n1])
    return grad_x, grad_w2.reshape(s.weight.shape), sums.astype(s.dtype)


# --------------------------------------------------------------------------
# NHWC: cols (nb*OH*OW, KH*KW*Cg); out rows (nb*P, Fg) = cols @ W2_g (KK*Cg, Fg)


def _weight_nhwc(weight, g, Fg):
    KH, KW, Cg, _ = weight.shape
    return weight[..., g * Fg : (g + 1) * Fg].reshape(KH * KW * Cg, Fg)  # (KK*Cg, Fg)


def _forward_nhwc(s):
    win, G = s.win, s.groups
    P = win.OH * win.OW
    Cg, Fg = s.C // G, s.F // G
    out = np.empty((s.N, win.OH, win.OW, s.F), s.dtype)
    out2 = out.reshape(s.N * P, s.F)  # (N*P, F)
    if _is_pointwise(win):
        x2 = s.x.reshape(s.N * P, s.C)  # (N*H*W, C)
        with phase("gemm"):
            for g in range(G):
                np.matmul(
                    x2[:, g * Cg : (g + 1) * Cg],
                    _weight_nhwc(s.weight, g, Fg),
                    out=out2[:, g * Fg : (g + 1) * Fg],
                )
    else:
        width = win.KH * win.KW * Cg
        nb = _config.batch_chunk(s.N, P * width * s.dtype.itemsize)
        (buf,) = _config.scratch(s.dtype, (nb * P, width))  # (nb*P, KK*Cg)
        for n0, n1 in _chunks(s.N, nb):
            cols = buf[: (n1 - n0) * P]
            for g in range(G):
                with phase("im2col"):
                    _im2col_nhwc(s.x[n0:n1], g * Cg, Cg, win, cols)
                with phase("gemm"):
                    np.matmul(
                        cols,
                        _weight_nhwc(s.weight, g, Fg),
                        out=out2[n0 * P : n1 * P, g * Fg : (g + 1) * Fg],
                    )
    if s.bias is not None:
        with phase("bias"):
            out2 += s.bias
    return out


def _backward_nhwc(s, go):
    win, G = s.win, s.groups
    P = win.OH * win.OW
    Cg, Fg = s.C // G, s.F // G
    go2 = go.reshape(s.N * P, s.F)  # (N*P, F)
    KH, KW = win.KH, win.KW
    grad_w = np.zeros((KH, KW, Cg, s.F), s.dtype)
    if _is_pointwise(win):
        grad_x = np.empty(s.x.shape, s.dtype)
        x2 = s.x.reshape(s.N * P, s.C)  # (N*H*W, C)
        gx2 = grad_x.reshape(s.N * P, s.C)
        with phase("gemm"):
            for g in range(G):
                fs, cs = slice(g * Fg, (g + 1) * Fg), slice(g * Cg, (g + 1) * Cg)
                grad_w[..., fs] = (x2[:, cs].T @ go2[:, fs]).reshape(1, 1, Cg, Fg)
                np.matmul(go2[:, fs], _weight_nhwc(s.weight, g, Fg).T, out=gx2[:, cs])
    else:
        with phase("zero"):
            grad_x = np.zeros(s.x.shape, s.dtype)
        width = KH * KW * Cg
        nb = _config.batch_chunk(s.N, P * width * s.dtype.itemsize)
        (buf,) = _config.scratch(s.dtype, (nb * P, width))  # (nb*P, KK*Cg)
        gw = [np.zeros((width, Fg), s.dtype) for _ in range(G)]
        for n0, n1 in _chunks(s.N, nb):
            cols = buf[: (n1 - n0) * P]
            rows = slice(n0 * P, n1 * P)
            for g in range(G):
                fs = slice(g * Fg, (g + 1) * Fg)
                with phase("im2col"):
                    _im2col_nhwc(s.x[n0:n1], g * Cg, Cg, win, cols)
                with phase("gemm"):
                    gw[g] += cols.T @ go2[rows, fs]  # (KK*Cg, Fg)
                    # dcols (nb*P, KK*Cg) = dY_g @ W2_g.T, written over cols
                    np.matmul(go2[rows, fs], _weight_nhwc(s.weight, g, Fg).T, out=cols)
                with phase("col2im"):
                    _col2im_nhwc(cols, g * Cg, Cg, win, grad_x[n0:n1])
        for g in range(G):
            grad_w[..., g * Fg : (g + 1) * Fg] = gw[g].reshape(KH, KW, Cg, Fg)
    with phase("grad_bias"):
        grad_b = go2.sum(axis=0)
    return grad_x, grad_w, grad_b


# --------------------------------------------------------------------------
# Public API


def conv2d(
    x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, layout="NCHW"
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

    Returns
    -------
    out : ndarray of shape (N, F, OH, OW), or (N, OH, OW, F) for "NHWC"
        ``OH = floor((H + top + bottom - (KH - 1)*dilation_h - 1) / stride_h) + 1``,
        likewise OW. dtype: see the package's dtype rule (float32 stays float32).

    Notes
    -----
    Computed as im2col + GEMM. The scratch of a chunk of nb samples takes
    ``nb * (C*KH*KW + F) * OH*OW * itemsize`` bytes in NCHW (columns plus
    the GEMM's rows) and ``nb * KH*KW*C/groups * OH*OW * itemsize`` in NHWC;
    the batch is chunked to stay within :func:`fastconv.get_workspace_limit`.
    1x1 convolutions with unit stride and no padding skip im2col.

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
        s, _ = _check_conv(x, weight, bias, stride, padding, dilation, groups, layout)
    out = _forward_nchw(s) if s.layout == "NCHW" else _forward_nhwc(s)
    return out.astype(s.out_dtype, copy=False)


def conv2d_backward(
    grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1, *, layout="NCHW"
):
    """Gradients of :func:`conv2d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : array_like of shape (N, F, OH, OW), or (N, OH, OW, F) for "NHWC"
        Gradient of the loss with respect to the convolution's output.
    x, weight, stride, padding, dilation, groups, layout
        As given to :func:`conv2d`.

    Returns
    -------
    grad_x : ndarray, shape of x
    grad_weight : ndarray, shape of weight
    grad_bias : ndarray of shape (F,)

    Notes
    -----
    ``grad_weight = sum_n dY[n] @ cols[n].T`` and
    ``grad_x = col2im(W.T @ dY)``; one column buffer per chunk serves both.

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
    with phase("prepare"):
        s, go = _check_conv(
            x, weight, None, stride, padding, dilation, groups, layout, grad_out=grad_out
        )
    if s.layout == "NCHW":
        grads = _backward_nchw(s, go)
    else:
        grads = _backward_nhwc(s, go)
    return tuple(g.astype(s.out_dtype, copy=False) for g in grads)


def _check_cols_args(x_shape, kernel_size, stride, padding, dilation, layout):
    layout = check_layout(layout)
    if (
        not isinstance(x_shape, (tuple, list))
        or len(x_shape) != 4
        or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in x_shape
        )
    ):
        raise ValueError(f"x_shape must be a 4-tuple of ints, got {x_shape!r}")
    x_shape = tuple(int(v) for v in x_shape)
    if min(x_shape) < 0:
        raise ValueError(f"x_shape must be non-negative, got {x_shape!r}")
    kh, kw = as_pair(kernel_size, "kernel_size")
    if layout == "NCHW":
        N, C, H, W = x_shape
    else:
        N, H, W, C = x_shape
    win = conv_window((H, W), (kh, kw), stride, padding, dilation)
    return layout, win, N, C


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
        ``cols[n, (c*KH + i)*KW + j, oh*OW + ow] = xpad[n, c, oh*sh + i*dh, ow*sw + j*dw]``
        (the order of ``torch.nn.functional.unfold``).
        NHWC: shape (N, OH*OW, KH*KW*C) with
        ``cols[n, oh*OW + ow, (i*KW + j)*C + c] = xpad[n, oh*sh + i*dh, ow*sw + j*dw, c]``.

    Notes
    -----
    The result is ``KH*KW / (sh*sw)`` times the size of x, roughly: a 3x3
    window copies the input about nine times. In NCHW the engine builds its
    own ``(C*KH*KW, N*OH*OW)`` layout and transposes it into this one, so the
    call briefly holds the result twice.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.im2col(np.arange(9.0).reshape(1, 1, 3, 3), 2)
    array([[[0., 1., 3., 4.],
            [1., 2., 4., 5.],
            [3., 4., 6., 7.],
            [4., 5., 7., 8.]]])
    """
    x = as_real_array(x, "x")
    layout, win, N, C = _check_cols_args(
        x.shape, kernel_size, stride, padding, dilation, layout
    )
    dtype, out_dtype = dtypes(x)
    x = prepare(x, dtype)
    KK, P = win.KH * win.KW, win.OH * win.OW
    if layout == "NCHW":
        cols = np.empty((C * KK, N * P), dtype)  # (C*KK, N*P)
        if N:
            _im2col_nchw(x, win, cols)
        # (C*KK, N, P) -> (N, C*KK, P): the engine keeps the batch in the columns
        cols = cols.reshape(C * KK, N, P).transpose(1, 0, 2).copy()
    else:
        cols = np.empty((N * P, KK * C), dtype)  # (N*P, KK*C)
        if N:
            _im2col_nhwc(x, 0, C, win, cols)
        cols = cols.reshape(N, P, KK * C)  # (N, P, KK*C)
    return cols.astype(out_dtype, copy=False)


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
    layout, win, N, C = _check_cols_args(
        x_shape, kernel_size, stride, padding, dilation, layout
    )
    KK, P = win.KH * win.KW, win.OH * win.OW
    expected = (N, C * KK, P) if layout == "NCHW" else (N, P, KK * C)
    if cols.shape != expected:
        raise ValueError(
            f"cols must have shape {expected} for x_shape {tuple(x_shape)} and "
            f"this window, got shape {cols.shape}"
        )
    dtype, out_dtype = dtypes(cols)
    if layout == "NCHW":
        # (N, C*KK, P) -> (C*KK, N*P), the engine's column layout
        cols = prepare(cols.transpose(1, 0, 2), dtype).reshape(C * KK, N * P)
        x = np.empty(tuple(x_shape), dtype)
        if N:
            _col2im_nchw(cols, win, x)
    else:
        cols = prepare(cols, dtype)
        x = np.zeros(tuple(x_shape), dtype)
        if N:
            _col2im_nhwc(cols.reshape(N * P, KK * C), 0, C, win, x)
    return x.astype(out_dtype, copy=False)
