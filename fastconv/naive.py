"""Reference oracle: plain-loop 2-D convolution, pooling, im2col and col2im.

This module is the ground truth the fast engine is tested against, so it is
written to be obviously correct rather than fast, and it is deliberately
independent of the rest of fastconv:

- it imports only numpy and the standard library, never anything from fastconv;
- it resolves padding ("same", "valid", int, pair, 4-tuple) with its own code;
- it finds output sizes by enumerating window start positions one by one
  (a window is kept while it fits), not by the closed formula
  ``(H + pad - ke) // s + 1`` that the fast geometry uses;
- it never builds a padded array: a kernel tap that falls outside the input is
  simply skipped (zero padding contributes nothing, -inf padding is never the
  maximum, an im2col entry in the padding stays zero).

Every function is a literal transcription of the defining sum or max, looped
over output positions and kernel taps and vectorised only over the batch and
channel axes. Arithmetic is accumulated in float64 and the result is returned
in the input dtype (integer inputs give float64; im2col, a pure copy, keeps
the dtype of x). Inputs are never modified.

Semantics are those of ``torch.nn.functional`` (NCHW). The "NHWC" layout takes
x of shape (N, H, W, C) and conv weights of shape (KH, KW, C/groups, F); it is
transposed to NCHW, computed, and transposed back. The 1-D functions ("NCL",
"NLC") run these loops on one row, with their own argument parsing.
"""

import numpy as np

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "im2col",
    "col2im",
    "conv1d",
    "conv1d_backward",
    "max_pool1d",
    "max_pool1d_backward",
    "avg_pool1d",
    "avg_pool1d_backward",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_backward",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv3d",
    "conv3d_backward",
    "max_pool3d",
    "max_pool3d_backward",
    "avg_pool3d",
    "avg_pool3d_backward",
    "adaptive_avg_pool3d",
    "adaptive_avg_pool3d_backward",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_backward",
    "conv_transpose3d",
    "conv_transpose3d_backward",
]

_LAYOUTS = ("NCHW", "NHWC")


# ---------------------------------------------------------------------------
# Argument handling and geometry (private to the oracle)
# ---------------------------------------------------------------------------


def _pair(value, name):
    """Return an int or a pair of ints as a tuple ``(h, w)``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value), int(value))
    pair = tuple(value)
    if len(pair) == 1:  # as PyTorch expands a one-element list
        pair = pair * 2
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return (int(pair[0]), int(pair[1]))


def _positive_pair(value, name):
    pair = _pair(value, name)
    if min(pair) < 1:
        raise ValueError(f"{name} must be >= 1, got {pair}")
    return pair


def _check_layout(layout):
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {_LAYOUTS}, got {layout!r}")


def _as_4d(a, name):
    a = np.asarray(a)
    if a.ndim != 4:
        raise ValueError(f"{name} must be 4-D, got shape {a.shape}")
    return a


def _pool_input(x):
    """Return x as an array; PyTorch pools only over non-empty channels and sizes."""
    x = np.asarray(x)
    if x.ndim > 1 and min(x.shape[1:]) == 0:
        raise ValueError(
            f"x must have non-empty non-batch axes (channels and spatial "
            f"sizes; only the batch may be empty), got shape {x.shape}"
        )
    return x


def _result_dtype(*arrays):
    """Return the inputs' common dtype; non-float inputs give float64."""
    dtype = np.result_type(*arrays)
    if dtype.kind == "c":
        raise ValueError(f"complex inputs are not supported, got {dtype}")
    if dtype.kind != "f":
        return np.dtype(np.float64)
    return dtype


def _to_nchw(a, layout):
    """(N, H, W, C) -> (N, C, H, W) for NHWC; identity for NCHW."""
    return a if layout == "NCHW" else a.transpose(0, 3, 1, 2)


def _from_nchw(a, layout):
    """(N, C, H, W) -> (N, H, W, C) for NHWC; identity for NCHW."""
    return a if layout == "NCHW" else a.transpose(0, 2, 3, 1)


def _same_padding(size, k, s, d):
    """TensorFlow "same" padding ``(before, after)`` along one axis."""
    ke = (k - 1) * d + 1
    out = len(range(0, size, s))  # one window per stride step that starts in the input
    total = max((out - 1) * s + ke - size, 0)
    return total // 2, total - total // 2  # the odd pixel goes after


def _padding(padding, size_hw, kernel, stride, dilation):
    """Resolve any padding form to ``(top, bottom, left, right)``."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            top, bottom = _same_padding(size_hw[0], kernel[0], stride[0], dilation[0])
            left, right = _same_padding(size_hw[1], kernel[1], stride[1], dilation[1])
            return (top, bottom, left, right)
        raise ValueError(f"padding must be 'same', 'valid' or ints, got {padding!r}")
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        pads = (int(padding),) * 4
    else:
        values = tuple(padding)
        if not all(isinstance(v, (int, np.integer)) for v in values):
            raise ValueError(f"padding must hold ints, got {padding!r}")
        if len(values) == 1:
            pads = values * 4
        elif len(values) == 2:
            pads = (values[0], values[0], values[1], values[1])
        elif len(values) == 4:
            pads = values
        else:
            raise ValueError(f"padding must have 1, 2 or 4 entries, got {padding!r}")
        pads = tuple(int(v) for v in pads)
    if min(pads) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return pads


def _axis_taps(size, before, after, k, s, d, ceil_mode, axis):
    """Input coordinates of the k taps of every window along one axis.

    Windows start at ``o*s`` in padded coordinates, i.e. ``o*s - before`` in
    input coordinates, for o = 0, 1, ...; a window is kept while its extent
    ``(k-1)*d + 1`` fits in ``before + size + after`` (plus ``s - 1`` in
    ceil_mode, where a window must also start inside the input or the
    before-padding). Coordinates outside ``[0, size)`` are padding.
    """
    extent = (k - 1) * d + 1
    room = before + size + after + (s - 1 if ceil_mode else 0)
    taps = []
    start = 0
    while start + extent <= room:
        if ceil_mode and start >= size + before:
            break
        taps.append([start - before + i * d for i in range(k)])
        start += s
    if not taps:
        raise ValueError(
            f"no window fits along {axis}: input size {size}, padding "
            f"({before}, {after}), kernel extent {extent}"
        )
    return taps


def _geometry(size_hw, kernel, stride, padding, dilation, ceil_mode=False):
    """Per-axis tap coordinates ``(row_taps, col_taps)`` and the resolved padding."""
    kernel = _positive_pair(kernel, "kernel_size")
    stride = _positive_pair(stride, "stride")
    dilation = _positive_pair(dilation, "dilation")
    top, bottom, left, right = _padding(padding, size_hw, kernel, stride, dilation)
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    rows = _axis_taps(size_hw[0], top, bottom, kh, sh, dh, ceil_mode, "H")
    cols = _axis_taps(size_hw[1], left, right, kw, sw, dw, ceil_mode, "W")
    return rows, cols, (top, bottom, left, right)


def _in_bounds_taps(rows, cols, H, W):
    """Yield ``(oh, ow, i, j, h, w)`` for every in-bounds kernel tap.

    For each output position (oh, ow), the taps (i, j) that land inside the
    input at (h, w), in row-major tap order (i outer, j inner). Taps in the
    padding are skipped.
    """
    for oh, row in enumerate(rows):
        for ow, col in enumerate(cols):
            for i, h in enumerate(row):
                if not 0 <= h < H:
                    continue
                for j, w in enumerate(col):
                    if 0 <= w < W:
                        yield oh, ow, i, j, h, w


def _check_grad_out(grad_out, expected_shape):
    if grad_out.shape != tuple(expected_shape):
        raise ValueError(
            f"grad_out must have shape {tuple(expected_shape)}, got {grad_out.shape}"
        )


# ---------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------


def _conv_setup(x, weight, stride, padding, dilation, groups, layout):
    """Shared set-up of conv2d and conv2d_backward: NCHW float64 copies and taps."""
    _check_layout(layout)
    x = _as_4d(x, "x")
    weight = _as_4d(weight, "weight")
    xc = _to_nchw(x, layout).astype(np.float64)  # (N, C, H, W)
    # NHWC weight (KH, KW, C/groups, F) -> (F, C/groups, KH, KW)
    wc = (weight if layout == "NCHW" else weight.transpose(3, 2, 0, 1)).astype(np.float64)
    N, C, H, W = xc.shape
    F, Cg, KH, KW = wc.shape
    is_int = isinstance(groups, (int, np.integer)) and not isinstance(groups, bool)
    if not is_int or groups < 1:
        raise ValueError(f"groups must be an int >= 1, got {groups!r}")
    if C % groups or F % groups:
        raise ValueError(f"groups={groups} must divide C={C} and F={F}")
    if Cg != C // groups:
        raise ValueError(
            f"weight has {Cg} input channels, "
            f"expected C/groups = {C}/{groups} = {C // groups}"
        )
    rows, cols, _ = _geometry((H, W), (KH, KW), stride, padding, dilation)
    return xc, wc, rows, cols


_PAD_MODES = ("zeros", "reflect", "replicate", "circular")


def _source(i, size, mode):
    """Return the input index a padded position ``i`` (input coordinates) copies."""
    if mode == "replicate":
        return min(max(i, 0), size - 1)
    if mode == "circular":
        return i % size
    while i < 0 or i >= size:  # reflect, about the edge entries
        i = -i if i < 0 else 2 * (size - 1) - i
    return i


def _mode_pads(x, weight, stride, padding, dilation, layout, mode):
    """Check `mode`; return (top, bottom, left, right) and the sizes (H, W) of x."""
    if mode not in _PAD_MODES:
        raise ValueError(f"padding_mode must be one of {_PAD_MODES}, got {mode!r}")
    x = _as_4d(x, "x")
    w = np.asarray(weight)
    H, W = x.shape[2:] if layout == "NCHW" else x.shape[1:3]
    KH, KW = w.shape[2:] if layout == "NCHW" else w.shape[:2]
    pads = _padding(
        padding,
        (H, W),
        (KH, KW),
        _positive_pair(stride, "stride"),
        _positive_pair(dilation, "dilation"),
    )
    for (lo, hi), size in ((pads[:2], H), (pads[2:], W)):
        if (mode == "reflect" and max(lo, hi) >= size) or (
            mode == "circular" and max(lo, hi) > size
        ):
            raise ValueError(f"padding {pads} too large for padding_mode {mode!r}")
    return pads, (H, W)


def _padded_copy(x, pads, size_hw, mode, layout):
    """X with its padding filled in `mode`, entry by entry."""
    xa = np.moveaxis(np.asarray(x), (1, 2) if layout == "NHWC" else (2, 3), (0, 1))
    t, b, lf, rt = pads
    H, W = size_hw
    out = np.empty((H + t + b, W + lf + rt) + xa.shape[2:], dtype=xa.dtype)
    for r in range(H + t + b):
        for c in range(W + lf + rt):
            out[r, c] = xa[_source(r - t, H, mode), _source(c - lf, W, mode)]
    return np.moveaxis(out, (0, 1), (1, 2) if layout == "NHWC" else (2, 3))


def _fold_copy(g, pads, size_hw, mode, layout):
    """Return the gradient of x from its padded copy's: each entry to its source."""
    ga = np.moveaxis(
        np.asarray(g, dtype=np.float64), (1, 2) if layout == "NHWC" else (2, 3), (0, 1)
    )
    t, b, lf, rt = pads
    H, W = size_hw
    out = np.zeros((H, W) + ga.shape[2:])
    for r in range(H + t + b):
        for c in range(W + lf + rt):
            out[_source(r - t, H, mode), _source(c - lf, W, mode)] += ga[r, c]
    return np.moveaxis(out, (0, 1), (1, 2) if layout == "NHWC" else (2, 3))


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
    padding_mode="zeros",
):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    ``out[n, f, oh, ow] = bias[f] + sum_{c, i, j} xpad[n, g*Cg + c, oh*sh + i*dh,
    ow*sw + j*dw] * weight[f, c, i, j]`` with g = f // (F/groups), Cg = C/groups
    and zero padding.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), or (N, H, W, C) for NHWC
    weight : ndarray of shape (F, C/groups, KH, KW), or (KH, KW, C/groups, F) for NHWC
    bias : ndarray of shape (F,) or None
    stride, dilation : int or (int, int)
    padding : int, (ph, pw), (top, bottom, left, right), "valid" or "same"
    groups : int, dividing C and F
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    out : ndarray of shape (N, F, OH, OW), or (N, OH, OW, F) for NHWC

    Examples
    --------
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> conv2d(x, w)
    array([[[[27., 37.],
             [57., 67.]]]])
    """
    if padding_mode != "zeros":  # pad a copy, then no padding
        pads, hw = _mode_pads(x, weight, stride, padding, dilation, layout, padding_mode)
        xp = _padded_copy(x, pads, hw, padding_mode, layout)
        return conv2d(xp, weight, bias, stride, 0, dilation, groups, layout=layout)
    arrays = [x, weight] + ([] if bias is None else [bias])
    dtype = _result_dtype(*arrays)
    xc, wc, rows, cols = _conv_setup(x, weight, stride, padding, dilation, groups, layout)
    N, C, H, W = xc.shape
    F = wc.shape[0]
    Cg, Fg = C // groups, F // groups
    out = np.zeros((N, F, len(rows), len(cols)))
    for oh, ow, i, j, h, w in _in_bounds_taps(rows, cols, H, W):
        for g in range(groups):
            cs = slice(g * Cg, (g + 1) * Cg)
            fs = slice(g * Fg, (g + 1) * Fg)
            # (N, Cg) @ (Cg, Fg)
            out[:, fs, oh, ow] += xc[:, cs, h, w] @ wc[fs, :, i, j].T
    if bias is not None:
        b = np.asarray(bias, dtype=np.float64)
        if b.shape != (F,):
            raise ValueError(f"bias must have shape ({F},), got {b.shape}")
        out += b[None, :, None, None]
    return np.ascontiguousarray(_from_nchw(out, layout).astype(dtype))


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
    padding_mode="zeros",
):
    """Gradients of conv2d with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : ndarray of shape (N, F, OH, OW), or (N, OH, OW, F) for NHWC
    x, weight, stride, padding, dilation, groups, layout
        As for `conv2d`.

    Returns
    -------
    grad_x : ndarray shaped like x
    grad_weight : ndarray shaped like weight
    grad_bias : ndarray of shape (F,)
    """
    if padding_mode != "zeros":
        pads, hw = _mode_pads(x, weight, stride, padding, dilation, layout, padding_mode)
        xp = _padded_copy(x, pads, hw, padding_mode, layout)
        gxp, gw, gb = conv2d_backward(
            grad_out, xp, weight, stride, 0, dilation, groups, layout=layout
        )
        gx = _fold_copy(gxp, pads, hw, padding_mode, layout).astype(gxp.dtype)
        return np.ascontiguousarray(gx), gw, gb
    dtype = _result_dtype(grad_out, x, weight)
    xc, wc, rows, cols = _conv_setup(x, weight, stride, padding, dilation, groups, layout)
    N, C, H, W = xc.shape
    F, _, KH, KW = wc.shape
    Cg, Fg = C // groups, F // groups
    go = _to_nchw(_as_4d(grad_out, "grad_out"), layout).astype(np.float64)
    # go: (N, F, OH, OW)
    _check_grad_out(go, (N, F, len(rows), len(cols)))
    gx = np.zeros_like(xc)
    gw = np.zeros_like(wc)
    for oh, ow, i, j, h, w in _in_bounds_taps(rows, cols, H, W):
        for g in range(groups):
            cs = slice(g * Cg, (g + 1) * Cg)
            fs = slice(g * Fg, (g + 1) * Fg)
            gx[:, cs, h, w] += go[:, fs, oh, ow] @ wc[fs, :, i, j]  # (N, Fg) @ (Fg, Cg)
            gw[fs, :, i, j] += go[:, fs, oh, ow].T @ xc[:, cs, h, w]  # (Fg, N) @ (N, Cg)
    gb = go.sum(axis=(0, 2, 3))
    # (F, C/groups, KH, KW) -> (KH, KW, C/groups, F) for NHWC
    gw = gw if layout == "NCHW" else gw.transpose(2, 3, 1, 0)
    return (
        np.ascontiguousarray(_from_nchw(gx, layout).astype(dtype)),
        np.ascontiguousarray(gw.astype(dtype)),
        gb.astype(dtype),
    )


# ---------------------------------------------------------------------------
# Max pooling
# ---------------------------------------------------------------------------


def _max_pool_nchw(xc, kernel_size, stride, padding, dilation, ceil_mode):
    """Max and flat argmax ``h*W + w`` of every window; xc is (N, C, H, W) float64.

    Taps in the padding are skipped (padding acts as -inf). Within a window the
    in-bounds taps are scanned row-major; the running max is replaced when
    ``val > max or isnan(val)`` and starts at -inf with the index of the first
    in-bounds tap (PyTorch's CPU rule: first maximum wins, NaN propagates).
    """
    N, C, H, W = xc.shape
    stride = kernel_size if stride is None else stride
    rows, cols, _ = _geometry((H, W), kernel_size, stride, padding, dilation, ceil_mode)
    for axis, taps, size in (("H", rows, H), ("W", cols, W)):
        for o, window in enumerate(taps):
            if not any(0 <= t < size for t in window):
                raise ValueError(
                    f"max-pool window {o} along {axis} lies entirely in the padding "
                    f"(taps {window}, input size {size}); its max is undefined"
                )
    out = np.full((N, C, len(rows), len(cols)), -np.inf)
    idx = np.full((N, C, len(rows), len(cols)), -1, dtype=np.int64)
    for oh, ow, i, j, h, w in _in_bounds_taps(rows, cols, H, W):
        val = xc[:, :, h, w]  # (N, C)
        best, arg = out[:, :, oh, ow], idx[:, :, oh, ow]  # views, updated in place
        arg[arg < 0] = h * W + w  # the index starts at the first in-bounds tap
        take = (val > best) | np.isnan(val)
        best[take] = val[take]
        arg[take] = h * W + w
    return out, idx


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
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    Padding acts as -inf. Ties go to the first maximum in row-major window
    order; a NaN in a window makes the output NaN and its index points at the
    last NaN scanned.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), or (N, H, W, C) for NHWC
    kernel_size, dilation : int or (int, int)
    stride : int, (int, int) or None (= kernel_size)
    padding : int, (ph, pw), (top, bottom, left, right), "valid" or "same"
    ceil_mode : bool
    return_indices : bool
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW), or (N, OH, OW, C) for NHWC
    indices : int64 ndarray shaped like out, only if `return_indices`
        Flat index ``h*W + w`` of the selected element in its input plane.
    """
    x = _pool_input(x)
    _check_layout(layout)
    x = _as_4d(x, "x")
    dtype = _result_dtype(x)
    xc = _to_nchw(x, layout).astype(np.float64)
    out, idx = _max_pool_nchw(xc, kernel_size, stride, padding, dilation, ceil_mode)
    out = np.ascontiguousarray(_from_nchw(out, layout).astype(dtype))
    if return_indices:
        return out, np.ascontiguousarray(_from_nchw(idx, layout))
    return out


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
    indices=None,
):
    """Gradient of max_pool2d with respect to x.

    Each output's gradient goes to the element its window selected;
    overlapping windows accumulate.

    Parameters
    ----------
    grad_out : ndarray of shape (N, C, OH, OW), or (N, OH, OW, C) for NHWC
    x, kernel_size, stride, padding, dilation, ceil_mode, layout
        As for `max_pool2d`.
    indices : integer ndarray shaped like grad_out, optional
        The selected elements (``max_pool2d(..., return_indices=True)``),
        used instead of searching the windows again.

    Returns
    -------
    grad_x : ndarray shaped like x
    """
    x = _pool_input(x)
    _check_layout(layout)
    x = _as_4d(x, "x")
    dtype = _result_dtype(grad_out, x)
    xc = _to_nchw(x, layout).astype(np.float64)
    N, C, H, W = xc.shape
    _, idx = _max_pool_nchw(xc, kernel_size, stride, padding, dilation, ceil_mode)
    go = _to_nchw(_as_4d(grad_out, "grad_out"), layout).astype(np.float64)
    _check_grad_out(go, idx.shape)
    if indices is not None:
        given = np.asarray(indices)
        if given.dtype.kind not in "iu":
            raise TypeError(f"indices must be an integer array, got dtype {given.dtype}")
        given = _to_nchw(_as_4d(given, "indices"), layout)
        if given.shape != idx.shape:
            raise ValueError(f"indices must have shape {idx.shape}, got {given.shape}")
        if given.size and not (0 <= given.min() and given.max() < H * W):
            raise ValueError(f"indices must lie in [0, {H * W}) (an input plane)")
        idx = given.astype(np.int64)
    gx = np.zeros((N, C, H * W))
    n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")  # (N, C) each
    for oh in range(idx.shape[2]):
        for ow in range(idx.shape[3]):
            # (n, c) pairs are distinct, so this fancy-indexed += never collides
            gx[n, c, idx[:, :, oh, ow]] += go[:, :, oh, ow]
    gx = gx.reshape(N, C, H, W)
    return np.ascontiguousarray(_from_nchw(gx, layout).astype(dtype))


# ---------------------------------------------------------------------------
# Average pooling
# ---------------------------------------------------------------------------


def _avg_pool_windows(
    H, W, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    """Clipped windows and divisors of every avg-pool output.

    Returns ``(windows, (OH, OW))`` where windows holds one
    ``(oh, ow, h0, h1, w0, w1, divisor)`` per output: the output is the sum over
    ``[h0, h1) x [w0, w1)`` divided by divisor. PyTorch's rule, with the two
    sides of the padding kept apart: the window ``[hstart, hstart + kh)`` is
    first cut at ``H + bottom`` (its area there is pool_size, the
    count_include_pad divisor), then clipped to ``[0, H)``; likewise along w.
    """
    kernel_size = _positive_pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else stride
    if divisor_override is not None and divisor_override == 0:
        raise ValueError("divisor_override must be non-zero, got 0")
    rows, cols, (top, bottom, left, right) = _geometry(
        (H, W), kernel_size, stride, padding, 1, ceil_mode
    )
    windows = []
    for oh, row in enumerate(rows):
        hstart, hend = row[0], min(row[-1] + 1, H + bottom)
        h0, h1 = max(hstart, 0), min(hend, H)
        for ow, col in enumerate(cols):
            wstart, wend = col[0], min(col[-1] + 1, W + right)
            w0, w1 = max(wstart, 0), min(wend, W)
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:
                divisor = (hend - hstart) * (wend - wstart)  # pool_size
            else:
                divisor = max(h1 - h0, 0) * max(w1 - w0, 0)
            if divisor == 0:
                raise ValueError(
                    f"avg-pool window ({oh}, {ow}) lies entirely in the padding and "
                    "count_include_pad=False leaves nothing to divide by"
                )
            windows.append((oh, ow, h0, h1, w0, w1, divisor))
    return windows, (len(rows), len(cols))


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
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    The window sum is divided by `divisor_override` if given, else by the
    window area counting padding (`count_include_pad`) or only the in-bounds
    area. In ceil_mode, positions beyond the padding are never counted.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), or (N, H, W, C) for NHWC
    kernel_size : int or (int, int)
    stride : int, (int, int) or None (= kernel_size)
    padding : int, (ph, pw), (top, bottom, left, right), "valid" or "same"
    ceil_mode, count_include_pad : bool
    divisor_override : int or None
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW), or (N, OH, OW, C) for NHWC
    """
    x = _pool_input(x)
    _check_layout(layout)
    x = _as_4d(x, "x")
    dtype = _result_dtype(x)
    xc = _to_nchw(x, layout).astype(np.float64)
    N, C, H, W = xc.shape
    windows, (OH, OW) = _avg_pool_windows(
        H, W, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )
    out = np.zeros((N, C, OH, OW))
    for oh, ow, h0, h1, w0, w1, divisor in windows:
        out[:, :, oh, ow] = xc[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / divisor
    return np.ascontiguousarray(_from_nchw(out, layout).astype(dtype))


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
    """Gradient of avg_pool2d with respect to x.

    Each output's gradient, divided by that output's divisor, is added to every
    in-bounds element of its window.

    Parameters
    ----------
    grad_out : ndarray of shape (N, C, OH, OW), or (N, OH, OW, C) for NHWC
    x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        As for `avg_pool2d`.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    grad_x : ndarray shaped like x
    """
    x = _pool_input(x)
    _check_layout(layout)
    x = _as_4d(x, "x")
    dtype = _result_dtype(grad_out, x)
    N, C, H, W = _to_nchw(x, layout).shape
    windows, (OH, OW) = _avg_pool_windows(
        H, W, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )
    go = _to_nchw(_as_4d(grad_out, "grad_out"), layout).astype(np.float64)
    _check_grad_out(go, (N, C, OH, OW))
    gx = np.zeros((N, C, H, W))
    for oh, ow, h0, h1, w0, w1, divisor in windows:
        gx[:, :, h0:h1, w0:w1] += (go[:, :, oh, ow] / divisor)[:, :, None, None]
    return np.ascontiguousarray(_from_nchw(gx, layout).astype(dtype))


# ---------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------


def _cols_shape(N, C, KH, KW, L, layout):
    return (N, C * KH * KW, L) if layout == "NCHW" else (N, L, KH * KW * C)


def _nd_windows(sizes, kernel_size, stride, padding, dilation):
    """1-D or 3-D windows: per axis the starts, and the kernel sizes and dilations."""
    n = len(sizes)

    def tup(v, name):
        items = tuple(v) if isinstance(v, (tuple, list)) else (v,)
        items = items * n if len(items) == 1 else items
        if len(items) != n:
            raise ValueError(f"{name} must be an int or a {n}-tuple, got {v!r}")
        return tuple(int(i) for i in items)

    k, s, d = (
        tup(kernel_size, "kernel_size"),
        tup(stride, "stride"),
        tup(dilation, "dilation"),
    )
    if isinstance(padding, str):
        pads = (
            [(0, 0)] * n
            if padding == "valid"
            else [_same_padding(m, kk, ss, dd) for m, kk, ss, dd in zip(sizes, k, s, d)]
        )
    else:
        pads = [(p, p) for p in tup(padding, "padding")]
    starts = [
        [
            o
            for o in range(-lo, m + hi)
            if (o + lo) % ss == 0 and o + (kk - 1) * dd < m + hi
        ]
        for m, kk, ss, dd, (lo, hi) in zip(sizes, k, s, d, pads)
    ]
    return starts, k, d


def _nd_pairs(x_shape, kernel_size, stride, padding, dilation, first):
    """(column, row, input position) triples of a 1-D/3-D im2col, channels aside."""
    sizes = x_shape[2:] if first else x_shape[1:-1]
    starts, k, d = _nd_windows(sizes, kernel_size, stride, padding, dilation)
    outs = list(np.ndindex(*[len(v) for v in starts]))
    taps = list(np.ndindex(*k))
    pairs = []
    for p, o in enumerate(outs):
        for t, tap in enumerate(taps):
            pos = tuple(starts[a][o[a]] + tap[a] * d[a] for a in range(len(sizes)))
            if all(0 <= q < m for q, m in zip(pos, sizes)):
                pairs.append((p, t, pos))
    return pairs, len(outs), len(taps)


def _im2col_nd(x, kernel_size, stride, padding, dilation, layout):
    x = np.asarray(x)
    first = layout in ("NCHW", "NCL", "NCDHW")
    pairs, P, T = _nd_pairs(x.shape, kernel_size, stride, padding, dilation, first)
    N = x.shape[0]
    C = x.shape[1] if first else x.shape[-1]
    cols = np.zeros((N, C * T, P) if first else (N, P, T * C), dtype=x.dtype)
    for p, t, pos in pairs:
        for c in range(C):
            if first:
                cols[:, c * T + t, p] = x[(slice(None), c) + pos]
            else:
                cols[:, p, t * C + c] = x[(slice(None),) + pos + (c,)]
    return cols


def _col2im_nd(cols, x_shape, kernel_size, stride, padding, dilation, layout):
    cols = np.asarray(cols)
    first = layout in ("NCHW", "NCL", "NCDHW")
    pairs, P, T = _nd_pairs(x_shape, kernel_size, stride, padding, dilation, first)
    C = x_shape[1] if first else x_shape[-1]
    x = np.zeros(x_shape, dtype=np.float64)
    for p, t, pos in pairs:
        for c in range(C):
            if first:
                x[(slice(None), c) + pos] += cols[:, c * T + t, p]
            else:
                x[(slice(None),) + pos + (c,)] += cols[:, p, t * C + c]
    return x.astype(_result_dtype(cols))


def im2col(x, kernel_size, stride=1, padding=0, dilation=1, *, layout="NCHW"):
    """Unfold every (dilated, strided) window of x into a column.

    Column order (entries falling in the padding are 0):

    - NCHW, exactly ``torch.nn.functional.unfold``:
      ``cols[n, (c*KH + i)*KW + j, oh*OW + ow] = xpad[n, c, oh*sh + i*dh, ow*sw + j*dw]``
    - NHWC:
      ``cols[n, oh*OW + ow, (i*KW + j)*C + c] = xpad[n, oh*sh + i*dh, ow*sw + j*dw, c]``

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), or (N, H, W, C) for NHWC
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (ph, pw), (top, bottom, left, right), "valid" or "same"
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    cols : ndarray of shape (N, C*KH*KW, OH*OW), or (N, OH*OW, KH*KW*C) for NHWC
        Same dtype as x (a pure copy, no arithmetic).

    Examples
    --------
    >>> im2col(np.arange(9).reshape(1, 1, 3, 3), 2)
    array([[[0, 1, 3, 4],
            [1, 2, 4, 5],
            [3, 4, 6, 7],
            [4, 5, 7, 8]]])
    """
    if np.ndim(x) in (3, 5):  # 1-D and 3-D, by their own loops
        return _im2col_nd(x, kernel_size, stride, padding, dilation, layout)
    _check_layout(layout)
    x = _as_4d(x, "x")
    xc = _to_nchw(x, layout)  # (N, C, H, W), a view
    N, C, H, W = xc.shape
    KH, KW = _positive_pair(kernel_size, "kernel_size")
    rows, cols_w, _ = _geometry((H, W), (KH, KW), stride, padding, dilation)
    OW = len(cols_w)
    cols = np.zeros(_cols_shape(N, C, KH, KW, len(rows) * OW, layout), dtype=x.dtype)
    c = np.arange(C)
    for oh, ow, i, j, h, w in _in_bounds_taps(rows, cols_w, H, W):
        p = oh * OW + ow
        if layout == "NCHW":
            cols[:, (c * KH + i) * KW + j, p] = xc[:, :, h, w]
        else:
            cols[:, p, (i * KW + j) * C + c] = xc[:, :, h, w]
    return cols


def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1, *, layout="NCHW"):
    """Sum columns back into an image: the adjoint of `im2col`.

    Every entry of `cols` is added to the input position it was copied from by
    `im2col` with the same arguments; entries that came from the padding are
    dropped. ``<im2col(x), cols> == <x, col2im(cols, x.shape)>``.

    Parameters
    ----------
    cols : ndarray of shape (N, C*KH*KW, OH*OW), or (N, OH*OW, KH*KW*C) for NHWC
    x_shape : (N, C, H, W), or (N, H, W, C) for NHWC
    kernel_size, stride, padding, dilation, layout
        As for `im2col`.

    Returns
    -------
    x : ndarray of shape x_shape
    """
    if len(x_shape) in (3, 5):
        return _col2im_nd(
            cols, tuple(x_shape), kernel_size, stride, padding, dilation, layout
        )
    _check_layout(layout)
    cols = np.asarray(cols)
    if cols.ndim != 3:
        raise ValueError(f"cols must be 3-D, got shape {cols.shape}")
    x_shape = tuple(int(v) for v in x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must have 4 entries, got {x_shape}")
    dtype = _result_dtype(cols)
    if layout == "NCHW":
        N, C, H, W = x_shape
    else:
        N, H, W, C = x_shape
    KH, KW = _positive_pair(kernel_size, "kernel_size")
    rows, cols_w, _ = _geometry((H, W), (KH, KW), stride, padding, dilation)
    OW = len(cols_w)
    expected = _cols_shape(N, C, KH, KW, len(rows) * OW, layout)
    if cols.shape != expected:
        raise ValueError(
            f"cols must have shape {expected} for x_shape {x_shape}, got {cols.shape}"
        )
    src = cols.astype(np.float64)
    x = np.zeros((N, C, H, W))
    c = np.arange(C)
    for oh, ow, i, j, h, w in _in_bounds_taps(rows, cols_w, H, W):
        p = oh * OW + ow
        if layout == "NCHW":
            x[:, :, h, w] += src[:, (c * KH + i) * KW + j, p]
        else:
            x[:, :, h, w] += src[:, p, (i * KW + j) * C + c]
    return np.ascontiguousarray(_from_nchw(x, layout).astype(dtype))


# ---------------------------------------------------------------------------
# 1-D: the 2-D loops above on one row (NCL (N, C, L) is NCHW (N, C, 1, L))
# ---------------------------------------------------------------------------

_LAYOUTS_1D = {"NCL": "NCHW", "NLC": "NHWC"}


def _one(value, name):
    """Return an int or a one-element tuple as the one-row pair ``(1, value)``."""
    if value is None:
        return None
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) != 1 or not isinstance(items[0], (int, np.integer)):
        raise ValueError(f"{name} must be an int or a 1-tuple, got {value!r}")
    return (1, int(items[0]))


def _pad_1d(padding):
    if isinstance(padding, str):
        return padding
    return (0, 0) + (_one(padding, "padding")[1],) * 2


def _rows(a, name, layout):
    """(N, C, L) -> (N, C, 1, L); NLC (N, L, C) -> (N, 1, L, C)."""
    if layout not in _LAYOUTS_1D:
        raise ValueError(f"layout must be one of {tuple(_LAYOUTS_1D)}, got {layout!r}")
    a = np.asarray(a)
    if a.ndim != 3:
        raise ValueError(f"{name} must be 3-D, got shape {a.shape}")
    return np.expand_dims(a, 2 if layout == "NCL" else 1)


def _unrow(a, layout):
    return np.squeeze(a, 2 if layout == "NCL" else 1)


def _weight_rows(weight, layout):
    """(F, C/groups, K) -> (F, C/groups, 1, K); NLC (K, C/g, F) -> (1, K, C/g, F)."""
    w = np.asarray(weight)
    if w.ndim != 3:
        raise ValueError(f"weight must be 3-D, got shape {w.shape}")
    return np.expand_dims(w, 2 if layout == "NCL" else 0)


def conv1d(
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCL",
    padding_mode="zeros",
):
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``: conv2d on one row.

    x (N, C, L) or (N, L, C) for "NLC"; weight (F, C/groups, K) or (K,
    C/groups, F); returns (N, F, OL) or (N, OL, F).
    """
    out = conv2d(
        _rows(x, "x", layout),
        _weight_rows(weight, layout),
        bias,
        _one(stride, "stride"),
        _pad_1d(padding),
        _one(dilation, "dilation"),
        groups,
        layout=_LAYOUTS_1D[layout],
        padding_mode=padding_mode,
    )
    return _unrow(out, layout)


def conv1d_backward(
    grad_out,
    x,
    weight,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCL",
    padding_mode="zeros",
):
    """Gradients of conv1d: (grad_x, grad_weight, grad_bias)."""
    gx, gw, gb = conv2d_backward(
        _rows(grad_out, "grad_out", layout),
        _rows(x, "x", layout),
        _weight_rows(weight, layout),
        _one(stride, "stride"),
        _pad_1d(padding),
        _one(dilation, "dilation"),
        groups,
        layout=_LAYOUTS_1D[layout],
        padding_mode=padding_mode,
    )
    return _unrow(gx, layout), np.squeeze(gw, 2 if layout == "NCL" else 0), gb


def max_pool1d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    *,
    return_indices=False,
    layout="NCL",
):
    """1-D max pooling, as ``torch.nn.functional.max_pool1d``; indices index L."""
    x = _pool_input(x)
    res = max_pool2d(
        _rows(x, "x", layout),
        _one(kernel_size, "kernel_size"),
        _one(stride, "stride"),
        _pad_1d(padding),
        _one(dilation, "dilation"),
        ceil_mode,
        return_indices=return_indices,
        layout=_LAYOUTS_1D[layout],
    )
    if return_indices:
        return _unrow(res[0], layout), _unrow(res[1], layout)
    return _unrow(res, layout)


def max_pool1d_backward(
    grad_out,
    x,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    *,
    layout="NCL",
    indices=None,
):
    """Gradient of max_pool1d with respect to x."""
    x = _pool_input(x)
    if indices is not None:
        indices = _rows(indices, "indices", layout)
    gx = max_pool2d_backward(
        _rows(grad_out, "grad_out", layout),
        _rows(x, "x", layout),
        _one(kernel_size, "kernel_size"),
        _one(stride, "stride"),
        _pad_1d(padding),
        _one(dilation, "dilation"),
        ceil_mode,
        layout=_LAYOUTS_1D[layout],
        indices=indices,
    )
    return _unrow(gx, layout)


def avg_pool1d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    *,
    layout="NCL",
):
    """1-D average pooling, as ``torch.nn.functional.avg_pool1d``."""
    x = _pool_input(x)
    out = avg_pool2d(
        _rows(x, "x", layout),
        _one(kernel_size, "kernel_size"),
        _one(stride, "stride"),
        _pad_1d(padding),
        ceil_mode,
        count_include_pad,
        layout=_LAYOUTS_1D[layout],
    )
    return _unrow(out, layout)


def avg_pool1d_backward(
    grad_out,
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    *,
    layout="NCL",
):
    """Gradient of avg_pool1d with respect to x."""
    x = _pool_input(x)
    gx = avg_pool2d_backward(
        _rows(grad_out, "grad_out", layout),
        _rows(x, "x", layout),
        _one(kernel_size, "kernel_size"),
        _one(stride, "stride"),
        _pad_1d(padding),
        ceil_mode,
        count_include_pad,
        layout=_LAYOUTS_1D[layout],
    )
    return _unrow(gx, layout)


# ---------------------------------------------------------------------------
# adaptive pooling: windows [floor(o*L/O), ceil((o+1)*L/O)), by exact fractions
# ---------------------------------------------------------------------------


def _adaptive_windows(size, n_out):
    from fractions import Fraction
    from math import ceil, floor

    return [
        (floor(Fraction(o * size, n_out)), ceil(Fraction((o + 1) * size, n_out)))
        for o in range(n_out)
    ]


def _adaptive_size(output_size, H, W):
    items = (
        tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,)
    )
    if len(items) == 1:
        items = items * 2
    if len(items) != 2:
        raise ValueError(f"output_size must be an int or a pair, got {output_size!r}")
    sizes = []
    for v, size in zip(items, (H, W)):
        if v is None:
            sizes.append(size)
        elif not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(
                f"output_size must hold ints >= 1 or None, got {output_size!r}"
            )
        else:
            sizes.append(int(v))
    return sizes


def adaptive_avg_pool2d(x, output_size, *, layout="NCHW"):
    """Adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``."""
    x = _pool_input(x)
    _check_layout(layout)
    xc = _to_nchw(_as_4d(x, "x"), layout).astype(np.float64)
    N, C, H, W = xc.shape
    OH, OW = _adaptive_size(output_size, H, W)
    out = np.zeros((N, C, OH, OW))
    for oh, (h0, h1) in enumerate(_adaptive_windows(H, OH)):
        for ow, (w0, w1) in enumerate(_adaptive_windows(W, OW)):
            for h in range(h0, h1):
                for w in range(w0, w1):
                    out[:, :, oh, ow] += xc[:, :, h, w]
            out[:, :, oh, ow] /= (h1 - h0) * (w1 - w0)
    return np.ascontiguousarray(_from_nchw(out, layout).astype(_result_dtype(x)))


def adaptive_avg_pool2d_backward(grad_out, x, *, layout="NCHW"):
    """Gradient of adaptive_avg_pool2d; the output size is grad_out's."""
    x = _pool_input(x)
    _check_layout(layout)
    xc = _to_nchw(_as_4d(x, "x"), layout)
    g = _to_nchw(_as_4d(grad_out, "grad_out"), layout).astype(np.float64)
    N, C, H, W = xc.shape
    OH, OW = g.shape[2:]
    gx = np.zeros((N, C, H, W))
    for oh, (h0, h1) in enumerate(_adaptive_windows(H, OH)):
        for ow, (w0, w1) in enumerate(_adaptive_windows(W, OW)):
            share = g[:, :, oh, ow] / ((h1 - h0) * (w1 - w0))
            for h in range(h0, h1):
                for w in range(w0, w1):
                    gx[:, :, h, w] += share
    return np.ascontiguousarray(_from_nchw(gx, layout).astype(_result_dtype(x, grad_out)))


def adaptive_max_pool2d(x, output_size, return_indices=False, *, layout="NCHW"):
    """Adaptive max pooling; indices flat h*W + w, first maximum, NaN wins."""
    x = _pool_input(x)
    _check_layout(layout)
    xa = _as_4d(x, "x")
    xc = _to_nchw(xa, layout)
    N, C, H, W = xc.shape
    OH, OW = _adaptive_size(output_size, H, W)
    out = np.empty((N, C, OH, OW))  # float64 holds every input value exactly
    idx = np.empty((N, C, OH, OW), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for oh, (h0, h1) in enumerate(_adaptive_windows(H, OH)):
                for ow, (w0, w1) in enumerate(_adaptive_windows(W, OW)):
                    best, at = -np.inf, h0 * W + w0
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            v = xc[n, c, h, w]
                            if v > best or np.isnan(v):
                                best, at = v, h * W + w
                    out[n, c, oh, ow], idx[n, c, oh, ow] = best, at
    out = np.ascontiguousarray(_from_nchw(out, layout)).astype(_result_dtype(x))
    idx = np.ascontiguousarray(_from_nchw(idx, layout))
    return (out, idx) if return_indices else out


def adaptive_max_pool2d_backward(grad_out, x, *, layout="NCHW", indices=None):
    """Gradient of adaptive_max_pool2d: grad_out added at each window's argmax."""
    x = _pool_input(x)
    _check_layout(layout)
    g = _as_4d(grad_out, "grad_out")
    if indices is None:
        size = g.shape[2:] if layout == "NCHW" else g.shape[1:3]
        _, indices = adaptive_max_pool2d(x, tuple(size), True, layout=layout)
    xc = _to_nchw(_as_4d(x, "x"), layout)
    gc = _to_nchw(g, layout).astype(np.float64)
    ic = _to_nchw(np.asarray(indices), layout)
    N, C, H, W = xc.shape
    gx = np.zeros((N, C, H * W))
    for n in range(N):
        for c in range(C):
            for k, v in zip(ic[n, c].ravel(), gc[n, c].ravel()):
                if not 0 <= k < H * W:
                    raise ValueError(f"indices must lie in [0, {H * W}), got {k}")
                gx[n, c, k] += v
    gx = gx.reshape(N, C, H, W)
    return np.ascontiguousarray(_from_nchw(gx, layout).astype(_result_dtype(x, grad_out)))


def _size_1d(output_size):
    items = (
        tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,)
    )
    if len(items) != 1:
        raise ValueError(f"output_size must be an int or a 1-tuple, got {output_size!r}")
    return (1, items[0])


def adaptive_avg_pool1d(x, output_size, *, layout="NCL"):
    """1-D adaptive average pooling: adaptive_avg_pool2d on one row."""
    x = _pool_input(x)
    out = adaptive_avg_pool2d(
        _rows(x, "x", layout), _size_1d(output_size), layout=_LAYOUTS_1D[layout]
    )
    return _unrow(out, layout)


def adaptive_avg_pool1d_backward(grad_out, x, *, layout="NCL"):
    """Gradient of adaptive_avg_pool1d."""
    x = _pool_input(x)
    gx = adaptive_avg_pool2d_backward(
        _rows(grad_out, "grad_out", layout),
        _rows(x, "x", layout),
        layout=_LAYOUTS_1D[layout],
    )
    return _unrow(gx, layout)


def adaptive_max_pool1d(x, output_size, return_indices=False, *, layout="NCL"):
    """1-D adaptive max pooling; indices are positions in L."""
    x = _pool_input(x)
    res = adaptive_max_pool2d(
        _rows(x, "x", layout), _size_1d(output_size), True, layout=_LAYOUTS_1D[layout]
    )
    out, idx = _unrow(res[0], layout), _unrow(res[1], layout)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d_backward(grad_out, x, *, layout="NCL", indices=None):
    """Gradient of adaptive_max_pool1d."""
    x = _pool_input(x)
    if indices is not None:
        indices = _rows(indices, "indices", layout)
    gx = adaptive_max_pool2d_backward(
        _rows(grad_out, "grad_out", layout),
        _rows(x, "x", layout),
        layout=_LAYOUTS_1D[layout],
        indices=indices,
    )
    return _unrow(gx, layout)


# ---------------------------------------------------------------------------
# transposed convolution: each input pixel scattered through the kernel
# ---------------------------------------------------------------------------


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
):
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    ``out[n, g*Fg + f, h*sh - ph + i*dh, w*sw - pw + j*dw] += x[n, g*Cg + c, h,
    w] * weight[g*Cg + c, f, i, j]``, positions outside the output dropped;
    weight (C_in, F/groups, KH, KW), or (KH, KW, F/groups, C_in) for NHWC.
    """
    _check_layout(layout)
    dtype = _result_dtype(*([x, weight] + ([] if bias is None else [bias])))
    xc = _to_nchw(_as_4d(x, "x"), layout).astype(np.float64)
    w = np.asarray(weight, dtype=np.float64)
    w = w if layout == "NCHW" else w.transpose(3, 2, 0, 1)  # -> (C_in, Fg, KH, KW)
    sh, sw = _positive_pair(stride, "stride")
    dh, dw = _positive_pair(dilation, "dilation")
    ph, pw = _pair(padding, "padding")
    oph, opw = _pair(output_padding, "output_padding")
    if not (oph < max(sh, dh) and opw < max(sw, dw)):
        raise ValueError("output_padding must be smaller than either stride or dilation")
    N, C, H, W = xc.shape
    Cw, Fg, KH, KW = w.shape
    if Cw != C or C % groups:
        raise ValueError(
            f"weight {w.shape} does not fit x's {C} channels, groups {groups}"
        )
    Cg = C // groups
    OH = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1
    OW = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1
    out = np.zeros((N, Fg * groups, OH, OW))
    for g in range(groups):
        for c in range(g * Cg, (g + 1) * Cg):
            for h in range(H):
                for ww in range(W):
                    for i in range(KH):
                        for j in range(KW):
                            oh, ow = h * sh - ph + i * dh, ww * sw - pw + j * dw
                            if 0 <= oh < OH and 0 <= ow < OW:
                                # (N,) x (Fg,) outer product into the group's filters
                                out[:, g * Fg : (g + 1) * Fg, oh, ow] += (
                                    xc[:, c, h, ww][:, None] * w[c, :, i, j][None, :]
                                )
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return np.ascontiguousarray(_from_nchw(out, layout).astype(dtype))


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
):
    """Gradients of conv_transpose2d: (grad_x, grad_weight, grad_bias), by its loops.

    grad_x[n, c, h, w] and grad_weight[c, f, i, j] sum grad_out over the
    same (input pixel, tap) -> output position pairs the forward scatters.
    """
    _check_layout(layout)
    dtype = _result_dtype(grad_out, x, weight)
    xc = _to_nchw(_as_4d(x, "x"), layout).astype(np.float64)
    gc = _to_nchw(_as_4d(grad_out, "grad_out"), layout).astype(np.float64)
    w = np.asarray(weight, dtype=np.float64)
    w = w if layout == "NCHW" else w.transpose(3, 2, 0, 1)
    sh, sw = _positive_pair(stride, "stride")
    dh, dw = _positive_pair(dilation, "dilation")
    ph, pw = _pair(padding, "padding")
    N, C, H, W = xc.shape
    _, Fg, KH, KW = w.shape
    Cg = C // groups
    OH, OW = gc.shape[2:]
    gx = np.zeros_like(xc)
    gw = np.zeros_like(w)
    for g in range(groups):
        fs = slice(g * Fg, (g + 1) * Fg)
        for c in range(g * Cg, (g + 1) * Cg):
            for h in range(H):
                for ww in range(W):
                    for i in range(KH):
                        for j in range(KW):
                            oh, ow = h * sh - ph + i * dh, ww * sw - pw + j * dw
                            if 0 <= oh < OH and 0 <= ow < OW:
                                gx[:, c, h, ww] += gc[:, fs, oh, ow] @ w[c, :, i, j]
                                gw[c, :, i, j] += xc[:, c, h, ww] @ gc[:, fs, oh, ow]
    gb = gc.sum(axis=(0, 2, 3))
    gw = gw if layout == "NCHW" else gw.transpose(2, 3, 1, 0)
    return (
        np.ascontiguousarray(_from_nchw(gx, layout).astype(dtype)),
        np.ascontiguousarray(gw.astype(dtype)),
        gb.astype(dtype),
    )


def _transposed_rows(weight, layout):
    w = np.asarray(weight)
    if w.ndim != 3:
        raise ValueError(f"weight must be 3-D, got shape {w.shape}")
    return np.expand_dims(w, 2 if layout == "NCL" else 0)


def conv_transpose1d(
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
    *,
    layout="NCL",
):
    """1-D transposed convolution: conv_transpose2d on one row."""
    out = conv_transpose2d(
        _rows(x, "x", layout),
        _transposed_rows(weight, layout),
        bias,
        _one(stride, "stride"),
        (0, _one(padding, "padding")[1]),
        (0, _one(output_padding, "output_padding")[1]),
        groups,
        _one(dilation, "dilation"),
        layout=_LAYOUTS_1D[layout],
    )
    return _unrow(out, layout)


def conv_transpose1d_backward(
    grad_out,
    x,
    weight,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
    *,
    layout="NCL",
):
    """Gradients of conv_transpose1d."""
    gx, gw, gb = conv_transpose2d_backward(
        _rows(grad_out, "grad_out", layout),
        _rows(x, "x", layout),
        _transposed_rows(weight, layout),
        _one(stride, "stride"),
        (0, _one(padding, "padding")[1]),
        (0, _one(output_padding, "output_padding")[1]),
        groups,
        _one(dilation, "dilation"),
        layout=_LAYOUTS_1D[layout],
    )
    return _unrow(gx, layout), np.squeeze(gw, 2 if layout == "NCL" else 0), gb


# ---------------------------------------------------------------------------
# 3-D convolution: the defining sum, tap by tap (NCDHW; NDHWC transposed)
# ---------------------------------------------------------------------------


def _triple(value, name):
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) == 1:
        items = items * 3
    if len(items) != 3 or not all(isinstance(v, (int, np.integer)) for v in items):
        raise ValueError(f"{name} must be an int or a triple of ints, got {value!r}")
    return tuple(int(v) for v in items)


def _conv3d_setup(x, weight, stride, padding, dilation, groups, layout):
    if layout not in ("NCDHW", "NDHWC"):
        raise ValueError(f"layout must be 'NCDHW' or 'NDHWC', got {layout!r}")
    xc = np.asarray(x, dtype=np.float64)
    wc = np.asarray(weight, dtype=np.float64)
    if layout == "NDHWC":
        xc, wc = xc.transpose(0, 4, 1, 2, 3), wc.transpose(4, 3, 0, 1, 2)
    s, d = _triple(stride, "stride"), _triple(dilation, "dilation")
    sizes, ks = xc.shape[2:], wc.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * 3
        elif padding == "same":
            pads = [_same_padding(n, k, st, dl) for n, k, st, dl in zip(sizes, ks, s, d)]
        else:
            raise ValueError(f"padding must be 'same', 'valid' or ints, got {padding!r}")
    else:
        pads = [(p, p) for p in _triple(padding, "padding")]
    # each axis's window starts, enumerated while the window fits (as in 2-D)
    starts = []
    for n, k, st, dl, (lo, hi) in zip(sizes, ks, s, d, pads):
        starts.append(
            [
                o
                for o in range(-lo, n + hi)
                if (o + lo) % st == 0 and o + (k - 1) * dl < n + hi
            ]
        )
    return xc, wc, s, d, starts, pads


def _mode_pads3d(x, weight, stride, padding, dilation, groups, layout, mode):
    """Check `mode`; return the (low, high) padding per axis (D, H, W)."""
    if mode not in _PAD_MODES:
        raise ValueError(f"padding_mode must be one of {_PAD_MODES}, got {mode!r}")
    xc, _, _, _, _, pads = _conv3d_setup(
        x, weight, stride, padding, dilation, groups, layout
    )
    for (lo, hi), size in zip(pads, xc.shape[2:]):
        if (mode == "reflect" and max(lo, hi) >= size) or (
            mode == "circular" and max(lo, hi) > size
        ):
            raise ValueError(f"padding {pads} too large for padding_mode {mode!r}")
    return pads


def _padded_copy3d(x, pads, mode, layout):
    """X with its padding filled in `mode`, entry by entry (x in `layout`)."""
    axes = (1, 2, 3) if layout == "NDHWC" else (2, 3, 4)
    xa = np.moveaxis(np.asarray(x), axes, (0, 1, 2))
    sizes = xa.shape[:3]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(sizes, pads))
    out = np.empty(padded + xa.shape[3:], dtype=xa.dtype)
    for z in range(padded[0]):
        for r in range(padded[1]):
            for c in range(padded[2]):
                out[z, r, c] = xa[
                    _source(z - pads[0][0], sizes[0], mode),
                    _source(r - pads[1][0], sizes[1], mode),
                    _source(c - pads[2][0], sizes[2], mode),
                ]
    return np.moveaxis(out, (0, 1, 2), axes)


def _fold_copy3d(g, x_shape, pads, mode, layout):
    """Return the gradient of x from its padded copy's: each entry to its source."""
    axes = (1, 2, 3) if layout == "NDHWC" else (2, 3, 4)
    ga = np.moveaxis(np.asarray(g, dtype=np.float64), axes, (0, 1, 2))
    sizes = tuple(x_shape[a] for a in axes)
    out = np.zeros(sizes + ga.shape[3:])
    for z in range(ga.shape[0]):
        for r in range(ga.shape[1]):
            for c in range(ga.shape[2]):
                out[
                    _source(z - pads[0][0], sizes[0], mode),
                    _source(r - pads[1][0], sizes[1], mode),
                    _source(c - pads[2][0], sizes[2], mode),
                ] += ga[z, r, c]
    return np.moveaxis(out, (0, 1, 2), axes)


def conv3d(
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCDHW",
    padding_mode="zeros",
):
    """3-D cross-correlation, as ``torch.nn.functional.conv3d``, by its defining sum.

    A `padding_mode` other than "zeros" pads a copy of x entry by entry
    (reflect, replicate or circular, as ``torch.nn.Conv3d``), then sums
    without padding.
    """
    if padding_mode != "zeros":
        pads = _mode_pads3d(
            x, weight, stride, padding, dilation, groups, layout, padding_mode
        )
        xp = _padded_copy3d(x, pads, padding_mode, layout)
        return conv3d(xp, weight, bias, stride, 0, dilation, groups, layout=layout)
    dtype = _result_dtype(*([x, weight] + ([] if bias is None else [bias])))
    xc, wc, s, d, starts, _ = _conv3d_setup(
        x, weight, stride, padding, dilation, groups, layout
    )
    N, C, D, H, W = xc.shape
    F, Cg, KD, KH, KW = wc.shape
    Fg = F // groups
    out = np.zeros((N, F) + tuple(len(v) for v in starts))
    for od, z0 in enumerate(starts[0]):
        for oh, h0 in enumerate(starts[1]):
            for ow, w0 in enumerate(starts[2]):
                for a in range(KD):
                    for b in range(KH):
                        for c in range(KW):
                            z, h, w = z0 + a * d[0], h0 + b * d[1], w0 + c * d[2]
                            if not (0 <= z < D and 0 <= h < H and 0 <= w < W):
                                continue
                            for g in range(groups):
                                cs, fs = (
                                    slice(g * Cg, (g + 1) * Cg),
                                    slice(g * Fg, (g + 1) * Fg),
                                )
                                out[:, fs, od, oh, ow] += (
                                    xc[:, cs, z, h, w] @ wc[fs, :, a, b, c].T
                                )
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None, None]
    if layout == "NDHWC":
        out = out.transpose(0, 2, 3, 4, 1)
    return np.ascontiguousarray(out.astype(dtype))


def conv3d_backward(
    grad_out,
    x,
    weight,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCDHW",
    padding_mode="zeros",
):
    """Gradients of conv3d: (grad_x, grad_weight, grad_bias), by the same sum."""
    if padding_mode != "zeros":
        pads = _mode_pads3d(
            x, weight, stride, padding, dilation, groups, layout, padding_mode
        )
        xp = _padded_copy3d(x, pads, padding_mode, layout)
        gxp, gw, gb = conv3d_backward(
            grad_out, xp, weight, stride, 0, dilation, groups, layout=layout
        )
        gx = _fold_copy3d(gxp, np.shape(x), pads, padding_mode, layout)
        return np.ascontiguousarray(gx.astype(gxp.dtype)), gw, gb
    dtype = _result_dtype(grad_out, x, weight)
    xc, wc, s, d, starts, _ = _conv3d_setup(
        x, weight, stride, padding, dilation, groups, layout
    )
    go = np.asarray(grad_out, dtype=np.float64)
    if layout == "NDHWC":
        go = go.transpose(0, 4, 1, 2, 3)
    N, C, D, H, W = xc.shape
    F, Cg, KD, KH, KW = wc.shape
    Fg = F // groups
    gx, gw = np.zeros_like(xc), np.zeros_like(wc)
    for od, z0 in enumerate(starts[0]):
        for oh, h0 in enumerate(starts[1]):
            for ow, w0 in enumerate(starts[2]):
                for a in range(KD):
                    for b in range(KH):
                        for c in range(KW):
                            z, h, w = z0 + a * d[0], h0 + b * d[1], w0 + c * d[2]
                            if not (0 <= z < D and 0 <= h < H and 0 <= w < W):
                                continue
                            for g in range(groups):
                                cs, fs = (
                                    slice(g * Cg, (g + 1) * Cg),
                                    slice(g * Fg, (g + 1) * Fg),
                                )
                                gx[:, cs, z, h, w] += (
                                    go[:, fs, od, oh, ow] @ wc[fs, :, a, b, c]
                                )
                                gw[fs, :, a, b, c] += (
                                    go[:, fs, od, oh, ow].T @ xc[:, cs, z, h, w]
                                )
    gb = go.sum(axis=(0, 2, 3, 4))
    if layout == "NDHWC":
        gx, gw = gx.transpose(0, 2, 3, 4, 1), gw.transpose(2, 3, 4, 1, 0)
    return (
        np.ascontiguousarray(gx.astype(dtype)),
        np.ascontiguousarray(gw.astype(dtype)),
        gb.astype(dtype),
    )


# ---------------------------------------------------------------------------
# 3-D pooling: window by window, taps in (d, h, w) order (NCDHW; NDHWC transposed)
# ---------------------------------------------------------------------------


def _pool3d_windows(sizes, kernel_size, stride, padding, dilation, ceil_mode):
    """Per axis, the window starts: kept while a window starts inside input + left pad."""
    k = _triple(kernel_size, "kernel_size")
    s = k if stride is None else _triple(stride, "stride")
    p, d = _triple(padding, "padding"), _triple(dilation, "dilation")
    axes = []
    for n, kk, ss, pp, dd in zip(sizes, k, s, p, d):
        ke = (kk - 1) * dd + 1
        starts, o = [], -pp
        while True:
            fits = o + ke <= n + pp  # the window inside the padded input
            # ceil_mode: a last partial window too, if it starts inside the
            # input or the leading padding
            partial = ceil_mode and o <= n + pp - ke + ss - 1 and o < n
            if not (fits or partial):
                break
            starts.append(o)
            o += ss
        axes.append(starts)
    return axes, k, d


def _to_ncdhw(a, layout):
    if layout not in ("NCDHW", "NDHWC"):
        raise ValueError(f"layout must be 'NCDHW' or 'NDHWC', got {layout!r}")
    a = np.asarray(a)
    return a if layout == "NCDHW" else a.transpose(0, 4, 1, 2, 3)


def _from_ncdhw(a, layout):
    return a if layout == "NCDHW" else a.transpose(0, 2, 3, 4, 1)


def max_pool3d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    *,
    return_indices=False,
    layout="NCDHW",
):
    """3-D max pooling; indices flat d*H*W + h*W + w, first maximum, a NaN wins."""
    x = _pool_input(x)
    xc = _to_ncdhw(x, layout)
    N, C, D, H, W = xc.shape
    axes, k, d = _pool3d_windows(
        (D, H, W), kernel_size, stride, padding, dilation, ceil_mode
    )
    out = np.empty((N, C) + tuple(len(a) for a in axes))
    idx = np.empty(out.shape, np.int64)
    for od, z0 in enumerate(axes[0]):
        for oh, h0 in enumerate(axes[1]):
            for ow, w0 in enumerate(axes[2]):
                taps = [
                    (z0 + a * d[0], h0 + b * d[1], w0 + c * d[2])
                    for a in range(k[0])
                    for b in range(k[1])
                    for c in range(k[2])
                ]
                taps = [
                    (z, h, w)
                    for z, h, w in taps
                    if 0 <= z < D and 0 <= h < H and 0 <= w < W
                ]
                if not taps:
                    raise ValueError(
                        f"max-pool window {(od, oh, ow)} lies entirely in the "
                        f"padding (input size {(D, H, W)}); its max is undefined"
                    )
                for n in range(N):
                    for ch in range(C):
                        best, at = -np.inf, taps[0]
                        for z, h, w in taps:
                            v = xc[n, ch, z, h, w]
                            if v > best or np.isnan(v):
                                best, at = v, (z, h, w)
                        out[n, ch, od, oh, ow] = best
                        idx[n, ch, od, oh, ow] = (at[0] * H + at[1]) * W + at[2]
    out = np.ascontiguousarray(_from_ncdhw(out, layout)).astype(_result_dtype(x))
    idx = np.ascontiguousarray(_from_ncdhw(idx, layout))
    return (out, idx) if return_indices else out


def max_pool3d_backward(
    grad_out,
    x,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    *,
    layout="NCDHW",
    indices=None,
):
    """Gradient of max_pool3d: grad_out added at each window's argmax."""
    x = _pool_input(x)
    if indices is None:
        _, indices = max_pool3d(
            x,
            kernel_size,
            stride,
            padding,
            dilation,
            ceil_mode,
            return_indices=True,
            layout=layout,
        )
    xc = _to_ncdhw(x, layout)
    gc = _to_ncdhw(grad_out, layout).astype(np.float64)
    ic = _to_ncdhw(indices, layout)
    N, C = xc.shape[:2]
    V = int(np.prod(xc.shape[2:]))
    gx = np.zeros((N, C, V))
    for n in range(N):
        for c in range(C):
            for k_, v in zip(ic[n, c].ravel(), gc[n, c].ravel()):
                gx[n, c, k_] += v
    gx = gx.reshape(xc.shape)
    return np.ascontiguousarray(_from_ncdhw(gx, layout)).astype(
        _result_dtype(x, grad_out)
    )


def _avg3d_divisor(starts, sizes, k, pads, include, override, window):
    if override is not None:
        return override
    div = 1
    for start, n, kk, p, (lo, hi) in zip(starts, sizes, k, pads, window):
        if include:
            div *= min(start + kk, n + p) - start
        else:
            div *= hi - lo
    return div


def avg_pool3d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    layout="NCDHW",
):
    """3-D average pooling, as ``torch.nn.functional.avg_pool3d``, window by window."""
    x = _pool_input(x)
    xc = _to_ncdhw(x, layout).astype(np.float64)
    N, C, D, H, W = xc.shape
    sizes = (D, H, W)
    axes, k, _ = _pool3d_windows(sizes, kernel_size, stride, padding, 1, ceil_mode)
    pads = _triple(padding, "padding")
    out = np.zeros((N, C) + tuple(len(a) for a in axes))
    for od, z0 in enumerate(axes[0]):
        for oh, h0 in enumerate(axes[1]):
            for ow, w0 in enumerate(axes[2]):
                win = [
                    (max(s0, 0), min(s0 + kk, n))
                    for s0, kk, n in zip((z0, h0, w0), k, sizes)
                ]
                for z in range(*win[0]):
                    for h in range(*win[1]):
                        for w in range(*win[2]):
                            out[:, :, od, oh, ow] += xc[:, :, z, h, w]
                out[:, :, od, oh, ow] /= _avg3d_divisor(
                    (z0, h0, w0), sizes, k, pads, count_include_pad, divisor_override, win
                )
    return np.ascontiguousarray(_from_ncdhw(out, layout)).astype(_result_dtype(x))


def avg_pool3d_backward(
    grad_out,
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    layout="NCDHW",
):
    """Gradient of avg_pool3d: each grad_out / divisor spread over its window."""
    x = _pool_input(x)
    xc = _to_ncdhw(x, layout)
    gc = _to_ncdhw(grad_out, layout).astype(np.float64)
    N, C, D, H, W = xc.shape
    sizes = (D, H, W)
    axes, k, _ = _pool3d_windows(sizes, kernel_size, stride, padding, 1, ceil_mode)
    pads = _triple(padding, "padding")
    gx = np.zeros(xc.shape)
    for od, z0 in enumerate(axes[0]):
        for oh, h0 in enumerate(axes[1]):
            for ow, w0 in enumerate(axes[2]):
                win = [
                    (max(s0, 0), min(s0 + kk, n))
                    for s0, kk, n in zip((z0, h0, w0), k, sizes)
                ]
                share = gc[:, :, od, oh, ow] / _avg3d_divisor(
                    (z0, h0, w0), sizes, k, pads, count_include_pad, divisor_override, win
                )
                for z in range(*win[0]):
                    for h in range(*win[1]):
                        for w in range(*win[2]):
                            gx[:, :, z, h, w] += share
    return np.ascontiguousarray(_from_ncdhw(gx, layout)).astype(
        _result_dtype(x, grad_out)
    )


def _adaptive_sizes_3d(output_size, sizes):
    items = (
        tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,)
    )
    if len(items) == 1:
        items = items * 3
    if len(items) != 3:
        raise ValueError(f"output_size must be an int or a triple, got {output_size!r}")
    return tuple(n if v is None else int(v) for v, n in zip(items, sizes))


def adaptive_avg_pool3d(x, output_size, *, layout="NCDHW"):
    """3-D adaptive average pooling, window by window (exact-fraction windows)."""
    x = _pool_input(x)
    xc = _to_ncdhw(x, layout).astype(np.float64)
    N, C, D, H, W = xc.shape
    OD, OH, OW = _adaptive_sizes_3d(output_size, (D, H, W))
    out = np.zeros((N, C, OD, OH, OW))
    for od, (z0, z1) in enumerate(_adaptive_windows(D, OD)):
        for oh, (h0, h1) in enumerate(_adaptive_windows(H, OH)):
            for ow, (w0, w1) in enumerate(_adaptive_windows(W, OW)):
                out[:, :, od, oh, ow] = xc[:, :, z0:z1, h0:h1, w0:w1].sum(
                    axis=(2, 3, 4)
                ) / ((z1 - z0) * (h1 - h0) * (w1 - w0))
    return np.ascontiguousarray(_from_ncdhw(out, layout)).astype(_result_dtype(x))


def adaptive_avg_pool3d_backward(grad_out, x, *, layout="NCDHW"):
    """Gradient of adaptive_avg_pool3d; the output size is grad_out's."""
    x = _pool_input(x)
    xc = _to_ncdhw(x, layout)
    gc = _to_ncdhw(grad_out, layout).astype(np.float64)
    N, C, D, H, W = xc.shape
    OD, OH, OW = gc.shape[2:]
    gx = np.zeros(xc.shape)
    for od, (z0, z1) in enumerate(_adaptive_windows(D, OD)):
        for oh, (h0, h1) in enumerate(_adaptive_windows(H, OH)):
            for ow, (w0, w1) in enumerate(_adaptive_windows(W, OW)):
                share = gc[:, :, od, oh, ow] / ((z1 - z0) * (h1 - h0) * (w1 - w0))
                gx[:, :, z0:z1, h0:h1, w0:w1] += share[:, :, None, None, None]
    return np.ascontiguousarray(_from_ncdhw(gx, layout)).astype(
        _result_dtype(x, grad_out)
    )


def adaptive_max_pool3d(x, output_size, return_indices=False, *, layout="NCDHW"):
    """3-D adaptive max pooling; indices flat d*H*W + h*W + w, first max, NaN wins."""
    x = _pool_input(x)
    xc = _to_ncdhw(x, layout)
    N, C, D, H, W = xc.shape
    OD, OH, OW = _adaptive_sizes_3d(output_size, (D, H, W))
    out = np.empty((N, C, OD, OH, OW))
    idx = np.empty(out.shape, np.int64)
    for od, (z0, z1) in enumerate(_adaptive_windows(D, OD)):
        for oh, (h0, h1) in enumerate(_adaptive_windows(H, OH)):
            for ow, (w0, w1) in enumerate(_adaptive_windows(W, OW)):
                for n in range(N):
                    for c in range(C):
                        best, at = -np.inf, (z0 * H + h0) * W + w0
                        for z in range(z0, z1):
                            for h in range(h0, h1):
                                for w in range(w0, w1):
                                    v = xc[n, c, z, h, w]
                                    if v > best or np.isnan(v):
                                        best, at = v, (z * H + h) * W + w
                        out[n, c, od, oh, ow], idx[n, c, od, oh, ow] = best, at
    out = np.ascontiguousarray(_from_ncdhw(out, layout)).astype(_result_dtype(x))
    idx = np.ascontiguousarray(_from_ncdhw(idx, layout))
    return (out, idx) if return_indices else out


def adaptive_max_pool3d_backward(grad_out, x, *, layout="NCDHW", indices=None):
    """Gradient of adaptive_max_pool3d: grad_out added at each argmax."""
    x = _pool_input(x)
    if indices is None:
        size = np.asarray(grad_out).shape
        size = size[2:] if layout == "NCDHW" else size[1:4]
        _, indices = adaptive_max_pool3d(x, tuple(size), True, layout=layout)
    xc = _to_ncdhw(x, layout)
    gc = _to_ncdhw(grad_out, layout).astype(np.float64)
    ic = _to_ncdhw(indices, layout)
    N, C = xc.shape[:2]
    gx = np.zeros((N, C, int(np.prod(xc.shape[2:]))))
    for n in range(N):
        for c in range(C):
            for k_, v in zip(ic[n, c].ravel(), gc[n, c].ravel()):
                gx[n, c, k_] += v
    gx = gx.reshape(xc.shape)
    return np.ascontiguousarray(_from_ncdhw(gx, layout)).astype(
        _result_dtype(x, grad_out)
    )


def conv_transpose3d(
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
    *,
    layout="NCDHW",
):
    """3-D transposed convolution: each input voxel scattered through the kernel."""
    dtype = _result_dtype(*([x, weight] + ([] if bias is None else [bias])))
    xc = _to_ncdhw(x, layout).astype(np.float64)
    w = np.asarray(weight, dtype=np.float64)
    w = w if layout == "NCDHW" else w.transpose(4, 3, 0, 1, 2)  # -> (C_in, Fg, *K)
    s, p = _triple(stride, "stride"), _triple(padding, "padding")
    op, d = _triple(output_padding, "output_padding"), _triple(dilation, "dilation")
    N, C, D, H, W = xc.shape
    _, Fg, KD, KH, KW = w.shape
    Cg = C // groups
    size = [
        (n - 1) * ss - 2 * pp + dd * (k - 1) + o + 1
        for n, ss, pp, dd, k, o in zip((D, H, W), s, p, d, (KD, KH, KW), op)
    ]
    out = np.zeros((N, Fg * groups) + tuple(size))
    for c in range(C):
        g = c // Cg
        fs = slice(g * Fg, (g + 1) * Fg)
        for z in range(D):
            for h in range(H):
                for ww in range(W):
                    for a in range(KD):
                        for b in range(KH):
                            for e in range(KW):
                                o = (
                                    z * s[0] - p[0] + a * d[0],
                                    h * s[1] - p[1] + b * d[1],
                                    ww * s[2] - p[2] + e * d[2],
                                )
                                if all(0 <= v < n for v, n in zip(o, size)):
                                    out[:, fs, o[0], o[1], o[2]] += (
                                        xc[:, c, z, h, ww][:, None]
                                        * w[c, :, a, b, e][None, :]
                                    )
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None, None]
    return np.ascontiguousarray(_from_ncdhw(out, layout)).astype(dtype)


def conv_transpose3d_backward(
    grad_out,
    x,
    weight,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
    *,
    layout="NCDHW",
):
    """Gradients of conv_transpose3d, summed over the forward's scatter pairs."""
    dtype = _result_dtype(grad_out, x, weight)
    xc = _to_ncdhw(x, layout).astype(np.float64)
    gc = _to_ncdhw(grad_out, layout).astype(np.float64)
    w = np.asarray(weight, dtype=np.float64)
    w = w if layout == "NCDHW" else w.transpose(4, 3, 0, 1, 2)
    s, p, d = (
        _triple(stride, "stride"),
        _triple(padding, "padding"),
        _triple(dilation, "dilation"),
    )
    N, C, D, H, W = xc.shape
    _, Fg, KD, KH, KW = w.shape
    Cg = C // groups
    size = gc.shape[2:]
    gx, gw = np.zeros_like(xc), np.zeros_like(w)
    for c in range(C):
        g = c // Cg
        fs = slice(g * Fg, (g + 1) * Fg)
        for z in range(D):
            for h in range(H):
                for ww in range(W):
                    for a in range(KD):
                        for b in range(KH):
                            for e in range(KW):
                                o = (
                                    z * s[0] - p[0] + a * d[0],
                                    h * s[1] - p[1] + b * d[1],
                                    ww * s[2] - p[2] + e * d[2],
                                )
                                if all(0 <= v < n for v, n in zip(o, size)):
                                    go = gc[:, fs, o[0], o[1], o[2]]
                                    gx[:, c, z, h, ww] += go @ w[c, :, a, b, e]
                                    gw[c, :, a, b, e] += xc[:, c, z, h, ww] @ go
    gb = gc.sum(axis=(0, 2, 3, 4))
    gw = gw if layout == "NCDHW" else gw.transpose(2, 3, 4, 1, 0)
    return (
        np.ascontiguousarray(_from_ncdhw(gx, layout)).astype(dtype),
        np.ascontiguousarray(gw.astype(dtype)),
        gb.astype(dtype),
    )
