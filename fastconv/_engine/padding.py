"""Padding modes other than zeros: a padded copy forward, its adjoint backward.

``padding_mode`` as ``torch.nn.Conv2d``/``Conv3d`` has it: "zeros" (the
kernels' own implicit padding), "reflect" (mirror without the edge:
``[c b | a b c | b a]``), "replicate" (the edge repeated) and "circular"
(wrap around). The other modes pad a copy of x (a gather along each spatial
axis in turn) and run the convolution without padding; the backward pass
folds the padded input's gradient back onto the entries each padded one was
copied from. A padded copy moves x once more, which the convolution's own
cost dwarfs; inside the im2col kernels it would be a per-tap branch in their
innermost loops. One code path serves every rank: `axes` names the spatial
axes of x and `pads` holds a (low, high) pair per axis, flattened.
"""

import numpy as np

__all__ = ["MODES", "check_padding_mode", "sources", "spatial_axes", "pad", "fold"]

MODES = ("zeros", "reflect", "replicate", "circular")

#: layout -> the axes of x that padding applies to
_SPATIAL_AXES = {
    "NCHW": (2, 3),
    "NHWC": (1, 2),
    "NCDHW": (2, 3, 4),
    "NDHWC": (1, 2, 3),
}


def check_padding_mode(mode):
    """Return `mode` if it is one of MODES, else raise ValueError."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(
            f"padding_mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}"
        )
    return mode


def spatial_axes(layout):
    """Return the spatial axes of an x in `layout` ("NCHW", "NDHWC", ...)."""
    return _SPATIAL_AXES[layout]


def _names(n):
    return ("D", "H", "W")[3 - n :]


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


def pad(x: np.ndarray, pads, mode: str, axes) -> np.ndarray:
    """Return x padded in `mode` (a copy).

    Parameters
    ----------
    x : ndarray
    pads : sequence of 2*len(axes) ints
        ``(low, high)`` per spatial axis, in the order of `axes`: (top,
        bottom, left, right) in 2-D, (front, back, top, bottom, left, right)
        in 3-D.
    mode : {"reflect", "replicate", "circular"}
    axes : tuple of int
        The spatial axes of x (:func:`spatial_axes`).
    """
    for i, (axis, name) in enumerate(zip(axes, _names(len(axes)))):
        lo, hi = pads[2 * i], pads[2 * i + 1]
        x = np.take(x, sources(x.shape[axis], lo, hi, mode, name), axis=axis)
    return x


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


def fold(g: np.ndarray, x_shape, pads, mode: str, axes) -> np.ndarray:
    """grad_x from the gradient `g` of the padded x (the adjoint of :func:`pad`).

    The axes are folded in the reverse of the order :func:`pad` padded them.
    """
    for i in reversed(range(len(axes))):
        axis = axes[i]
        g = _fold_axis(g, x_shape[axis], pads[2 * i], pads[2 * i + 1], mode, axis)
    return g
