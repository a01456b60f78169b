"""Padding modes other than zeros: a padded copy forward, its adjoint backward.

``padding_mode`` as ``torch.nn.Conv2d`` has it: "zeros" (the kernels' own
implicit padding), "reflect" (mirror without the edge: ``[c b | a b c | b a]``),
"replicate" (the edge repeated) and "circular" (wrap around). The other modes
pad a copy of x (a gather along H, then W) and run the convolution without
padding; the backward pass folds the padded input's gradient back onto the
entries each padded one was copied from. A padded copy moves x once more,
which the convolution's own cost dwarfs; inside the im2col kernels it would
be a per-tap branch in their innermost loops.
"""

import numpy as np

__all__ = ["MODES", "check_padding_mode", "sources", "pad", "fold"]

MODES = ("zeros", "reflect", "replicate", "circular")


def check_padding_mode(mode):
    """Return `mode` if it is one of MODES, else raise ValueError."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(
            f"padding_mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}"
        )
    return mode


def sources(size, lo, hi, mode, axis):
    """Index in [0, size) that each of the ``lo + size + hi`` padded entries copies."""
    if mode == "reflect" and max(lo, hi) >= size:
        raise ValueError(
            f"padding_mode 'reflect' needs padding below the input size along {axis}: "
            f"padding {(lo, hi)}, size {size}"
        )
    if mode == "circular" and max(lo, hi) > size:
        raise ValueError(
            f"padding_mode 'circular' needs padding at most the input size along "
            f"{axis}: padding {(lo, hi)}, size {size}"
        )
    i = np.arange(-lo, size + hi)
    if mode == "replicate":
        return np.clip(i, 0, size - 1)
    if mode == "circular":
        return i % size
    i = np.abs(i)  # reflect: -k -> k, then size - 1 + k -> size - 1 - k
    return np.where(i >= size, 2 * (size - 1) - i, i)


def _axes(layout):
    return (2, 3) if layout == "NCHW" else (1, 2)


def pad(x, pads, mode, layout):
    """Return x padded by ``pads = (top, bottom, left, right)`` in `mode` (a copy)."""
    ha, wa = _axes(layout)
    t, b, lf, rt = pads
    rows = sources(x.shape[ha], t, b, mode, "H")
    cols = sources(x.shape[wa], lf, rt, mode, "W")
    return np.take(np.take(x, rows, axis=ha), cols, axis=wa)


def _fold_axis(g, size, lo, hi, mode, axis):
    """Return the adjoint of padding one axis: each padded entry added to its source."""
    src = sources(size, lo, hi, mode, "")
    index = [slice(None)] * g.ndim
    index[axis] = slice(lo, lo + size)
    out = g[tuple(index)].copy()
    for i in list(range(lo)) + list(range(lo + size, lo + size + hi)):
        index[axis] = i
        dst = [slice(None)] * g.ndim
        dst[axis] = src[i]
        out[tuple(dst)] += g[tuple(index)]
    return out


def fold(g, x_shape, pads, mode, layout):
    """grad_x from the gradient `g` of the padded x (the adjoint of :func:`pad`)."""
    ha, wa = _axes(layout)
    t, b, lf, rt = pads
    g = _fold_axis(g, x_shape[wa], lf, rt, mode, wa)
    return _fold_axis(g, x_shape[ha], t, b, mode, ha)
