"""Shapes of the fast path: argument pairs, padding resolution, output sizes.

Every fast function takes its window geometry from here and nowhere else.
The oracle (:mod:`fastconv.naive`) deliberately does not: it finds its bounds
by its own enumeration, and the tests compare the two.
"""

import numbers
from typing import NamedTuple

import numpy as np

__all__ = [
    "as_triple",
    "resolve_padding_3d",
    "transpose_shapes",
    "adaptive_bounds",
    "adaptive_output_size",
    "Window",
    "ConvShapes",
    "LAYOUTS",
    "check_layout",
    "check_shape",
    "as_pair",
    "resolve_padding",
    "output_size",
    "conv_window",
    "conv_shapes",
    "pool_window",
    "check_pool_padding",
    "pool_out_shape",
    "Planes",
    "phase_planes",
]

LAYOUTS = ("NCHW", "NHWC")


class Window(NamedTuple):
    """Resolved geometry of a sliding window over an (H, W) plane.

    All fields are plain ints; ``(top, bottom, left, right)`` is the padding.
    """

    H: int
    W: int
    KH: int
    KW: int
    sh: int
    sw: int
    dh: int
    dw: int
    top: int
    bottom: int
    left: int
    right: int
    OH: int
    OW: int


#: Geometry values beyond this cannot describe a real array (and would not
#: fit the kernels' 64-bit integers).
MAX_INT = 2**62


def _as_int(value, name):
    # bool is an int subclass, but stride=True is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int or a tuple of ints, got {value!r}")
    if abs(int(value)) > MAX_INT:
        raise ValueError(f"{name} must be at most 2**62 in size, got {value!r}")
    return int(value)


def as_pair(value, name):
    """Return `value` as a pair of ints ``(h, w)``; an int or a 1-tuple stands for both.

    (PyTorch expands a one-element list the same way.)
    """
    if isinstance(value, (tuple, list)):
        if len(value) not in (1, 2):
            raise ValueError(
                f"{name} must be an int or a pair of ints, got {tuple(value)!r}"
            )
        return (_as_int(value[0], name), _as_int(value[-1], name))
    v = _as_int(value, name)
    return (v, v)


def _same_padding(size, k, s, d):
    # TensorFlow's rule: out = ceil(size / s), odd pixel at the bottom/right.
    ke = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + ke - size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding, in_hw, kernel_hw, stride_hw, dilation_hw):
    """Turn any accepted padding form into ``(top, bottom, left, right)``.

    Parameters
    ----------
    padding : int, 1-tuple, pair, ``(top, bottom, left, right)``, "valid" or "same"
    in_hw, kernel_hw, stride_hw, dilation_hw : pairs of int
        Needed only by "same", whose padding depends on the input size.

    Returns
    -------
    tuple of 4 ints
    """
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0, 0, 0)
        if mode == "same":
            t, b = _same_padding(in_hw[0], kernel_hw[0], stride_hw[0], dilation_hw[0])
            lf, rt = _same_padding(in_hw[1], kernel_hw[1], stride_hw[1], dilation_hw[1])
            return (t, b, lf, rt)
        raise ValueError(
            f"padding must be an int, a pair, a 4-tuple, 'valid' or 'same', "
            f"got {padding!r}"
        )
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        pads = tuple(_as_int(p, "padding") for p in padding)
    elif isinstance(padding, (tuple, list)) and len(padding) not in (1, 2):
        raise ValueError(
            f"padding must be an int, a pair, a 4-tuple, 'valid' or 'same', "
            f"got {tuple(padding)!r}"
        )
    else:
        ph, pw = as_pair(padding, "padding")
        pads = (ph, ph, pw, pw)
    if min(pads) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return pads


def as_triple(value, name):
    """Return `value` as three ints ``(d, h, w)``; an int or a 1-tuple stands for all."""
    if isinstance(value, (tuple, list)):
        if len(value) not in (1, 3):
            raise ValueError(
                f"{name} must be an int or a triple of ints, got {tuple(value)!r}"
            )
        items = tuple(value) * (3 // len(value))
        return tuple(_as_int(v, name) for v in items)
    v = _as_int(value, name)
    return (v, v, v)


def resolve_padding_3d(padding, in_dhw, kernel, stride, dilation):
    """Any 3-D padding form (int, 1- or 3-tuple, "valid", "same") as 6 ints.

    Returns ``(front, back, top, bottom, left, right)``; "same" follows the
    2-D rule on each axis (TensorFlow's: output ``ceil(size / stride)``).
    """
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0,) * 6
        if mode == "same":
            return sum(
                (
                    _same_padding(n, k, s, d)
                    for n, k, s, d in zip(in_dhw, kernel, stride, dilation)
                ),
                (),
            )
        raise ValueError(
            f"padding must be an int, a triple, 'valid' or 'same', got {padding!r}"
        )
    pd, ph, pw = as_triple(padding, "padding")
    if min(pd, ph, pw) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return (pd, pd, ph, ph, pw, pw)


def output_size(size, k, s, d, lo, hi, ceil_mode=False):
    """Return the number of window positions along one axis (PyTorch's formula).

    ``floor((size + lo + hi - ke) / s) + 1`` with ``ke = (k - 1) * d + 1``;
    with `ceil_mode` the division rounds up, but the last window must start
    inside the input or the leading padding.
    """
    span = size + lo + hi - ((k - 1) * d + 1)
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + lo:
            out -= 1
        return out
    return span // s + 1


def transpose_output_size(size, k, s, d, p, output_padding):
    """Output size along one axis of a transposed convolution (PyTorch's rule).

    ``(size - 1)*s - 2*p + d*(k - 1) + output_padding + 1``: the input size of
    the convolution it is the adjoint of (the largest that maps to `size`,
    plus `output_padding`).
    """
    return (size - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


def _window(in_hw, kernel, stride, padding, dilation, ceil_mode, names):
    kh, kw = as_pair(kernel, names[0])
    sh, sw = as_pair(stride, "stride")
    dh, dw = as_pair(dilation, "dilation")
    if kh < 1 or kw < 1:
        raise ValueError(f"{names[0]} must be >= 1, got {(kh, kw)}")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be >= 1, got {(sh, sw)}")
    if dh < 1 or dw < 1:
        raise ValueError(f"dilation must be >= 1, got {(dh, dw)}")
    H, W = in_hw
    t, b, lf, rt = resolve_padding(padding, in_hw, (kh, kw), (sh, sw), (dh, dw))
    keh, kew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if keh > H + t + b or kew > W + lf + rt:
        raise ValueError(
            f"{names[0]} {(kh, kw)} with dilation {(dh, dw)} spans {(keh, kew)}, "
            f"larger than the padded input {(H + t + b, W + lf + rt)} "
            f"(input {(H, W)}, padding {(t, b, lf, rt)})"
        )
    OH = output_size(H, kh, sh, dh, t, b, ceil_mode)
    OW = output_size(W, kw, sw, dw, lf, rt, ceil_mode)
    return Window(H, W, kh, kw, sh, sw, dh, dw, t, b, lf, rt, OH, OW)


def conv_window(in_hw, kernel_hw, stride, padding, dilation):
    """Window geometry of a convolution; raises ValueError on bad arguments."""
    return _window(in_hw, kernel_hw, stride, padding, dilation, False, ("kernel_size",))


def transpose_shapes(
    x_shape, weight_shape, stride, padding, output_padding, dilation, groups, layout
):
    """Shapes of a transposed convolution, as the convolution it is the adjoint of.

    ``conv_transpose2d(x, weight)`` is the grad_x of the convolution that maps
    an input of the returned ``conv_x_shape`` to x's shape: its filters are
    x's channels, its weight is the transposed convolution's own, (C_in,
    F/groups, KH, KW) read as (F', C'/groups, KH, KW). Output size, per axis:
    ``(H - 1)*stride - 2*padding + dilation*(KH - 1) + output_padding + 1``.

    Returns
    -------
    conv_x_shape : tuple
        The transposed convolution's output shape.
    rows : (int, int)
        (H, W) of the convolution's output that x fills: at least x's, more
        when output_padding >= stride (then the rest is zero).
    """
    layout = check_layout(layout)
    if isinstance(padding, str):
        raise ValueError(
            f"padding must be an int or a pair for a transposed convolution, "
            f"got {padding!r}"
        )
    sh, sw = as_pair(stride, "stride")
    ph, pw = as_pair(padding, "padding")
    oph, opw = as_pair(output_padding, "output_padding")
    dh, dw = as_pair(dilation, "dilation")
    if min(sh, sw, dh, dw) < 1:
        raise ValueError(
            f"stride and dilation must be >= 1, got {(sh, sw)} and {(dh, dw)}"
        )
    if min(ph, pw, oph, opw) < 0:
        raise ValueError(
            f"padding and output_padding must be >= 0, got {(ph, pw)} and {(oph, opw)}"
        )
    if not (oph < max(sh, dh) and opw < max(sw, dw)):
        raise ValueError(
            "output_padding must be smaller than either stride or dilation, got "
            f"output_padding {(oph, opw)}, stride {(sh, sw)}, dilation {(dh, dw)}"
        )
    if layout == "NCHW":
        N, C, H, W = x_shape
        Cw, Fg, KH, KW = weight_shape
    else:
        N, H, W, C = x_shape
        KH, KW, Fg, Cw = weight_shape
    if Cw != C:
        desc = (
            "(C_in, F/groups, KH, KW)" if layout == "NCHW" else "(KH, KW, F/groups, C_in)"
        )
        raise ValueError(
            f"weight {tuple(weight_shape)} ({desc} for {layout}) must have x's "
            f"C_in={C} channels, got {Cw}"
        )
    OH = transpose_output_size(H, KH, sh, dh, ph, oph)
    OW = transpose_output_size(W, KW, sw, dw, pw, opw)
    if OH < 1 or OW < 1:
        raise ValueError(
            f"the transposed convolution's output would be {(OH, OW)}: x "
            f"{tuple(x_shape)}, kernel {(KH, KW)}, stride {(sh, sw)}, "
            f"padding {(ph, pw)}"
        )
    F = Fg * groups
    out = (N, F, OH, OW) if layout == "NCHW" else (N, OH, OW, F)
    rows = (
        (OH + 2 * ph - dh * (KH - 1) - 1) // sh + 1,
        (OW + 2 * pw - dw * (KW - 1) - 1) // sw + 1,
    )
    return out, rows


def check_pool_padding(kernel_hw, pads, dilation_hw):
    """Raise ValueError unless every side's padding is at most half the dilated kernel.

    PyTorch's rule, so that no pooling window lies wholly in the padding;
    `pads` is (top, bottom, left, right).
    """
    keh = (kernel_hw[0] - 1) * dilation_hw[0] + 1
    kew = (kernel_hw[1] - 1) * dilation_hw[1] + 1
    if max(pads[:2]) > keh // 2 or max(pads[2:]) > kew // 2:
        raise ValueError(
            f"padding must be at most half the kernel for pooling: got padding "
            f"{tuple(pads)} for kernel_size {tuple(kernel_hw)} with dilation "
            f"{tuple(dilation_hw)}"
        )


def pool_window(in_hw, kernel_size, stride, padding, dilation, ceil_mode):
    """Window geometry of a pooling; `stride` None means `kernel_size`.

    Besides the convolution checks, every side's padding must be at most half
    the (dilated) kernel, as in PyTorch, so that no window lies wholly in the
    padding.
    """
    if stride is None:
        stride = kernel_size
    win = _window(
        in_hw, kernel_size, stride, padding, dilation, ceil_mode, ("kernel_size",)
    )
    check_pool_padding(
        (win.KH, win.KW), (win.top, win.bottom, win.left, win.right), (win.dh, win.dw)
    )
    for axis, size, k, st, d, lo, n_out in (
        ("H", win.H, win.KH, win.sh, win.dh, win.top, win.OH),
        ("W", win.W, win.KW, win.sw, win.dw, win.left, win.OW),
    ):
        # Only windows that start in the leading padding can miss the input
        # (a dilated kernel stepping over it); the others hold their first tap.
        for o in range(min(n_out, -(-lo // st))):
            start = o * st - lo
            first = -(start // d)  # first tap index at or past 0
            if first >= k or start + first * d >= size:
                raise ValueError(
                    f"window {o} along {axis} lies wholly in the padding: "
                    f"kernel_size {(win.KH, win.KW)}, dilation {(win.dh, win.dw)}, "
                    f"padding {(win.top, win.bottom, win.left, win.right)}, "
                    f"input {(win.H, win.W)}"
                )
    return win


def adaptive_output_size(output_size, in_hw):
    """Return an adaptive pooling's (OH, OW): ints >= 1; None keeps the input's size."""
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else None
    if items is None:
        items = (output_size, output_size)
    elif len(items) == 1:
        items = items * 2
    if len(items) != 2:
        raise ValueError(
            "output_size must be an int or a pair (None keeps a size), "
            f"got {output_size!r}"
        )
    out = []
    for v, size in zip(items, in_hw):
        if v is None:
            out.append(size)
            continue
        v = _as_int(v, "output_size")
        if v < 1:
            raise ValueError(f"output_size must be >= 1, got {output_size!r}")
        out.append(v)
    return tuple(out)


def adaptive_bounds(size, n_out):
    """Windows of an adaptive pooling along one axis, as int64 arrays (starts, ends).

    PyTorch's rule: output o pools ``[floor(o*size/n_out), ceil((o+1)*size/n_out))``;
    windows differ in size by one at most and overlap when n_out does not
    divide size.
    """
    o = np.arange(n_out, dtype=np.int64)
    return (o * size) // n_out, -((-(o + 1) * size) // n_out)


def check_layout(layout):
    """Return `layout` if it is "NCHW" or "NHWC", else raise ValueError."""
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    return layout


def check_shape(shape, name, ndim=4):
    """`shape` as a tuple of `ndim` non-negative ints, else ValueError naming `name`."""
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != ndim
        or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in shape
        )
    ):
        raise ValueError(f"{name} must be a {ndim}-tuple of ints, got {shape!r}")
    shape = tuple(int(v) for v in shape)
    if min(shape) < 0:
        raise ValueError(f"{name} must be non-negative, got {shape!r}")
    if max(shape) > MAX_INT:
        raise ValueError(f"{name} must hold sizes of at most 2**62, got {shape!r}")
    return shape


class ConvShapes(NamedTuple):
    """Checked shapes of a convolution: sizes, groups, the window, array shapes."""

    layout: str
    N: int
    C: int
    F: int
    groups: int
    win: Window
    x_shape: tuple
    weight_shape: tuple
    out_shape: tuple

    @property
    def Cg(self):
        """Input channels per group."""
        return self.C // self.groups

    @property
    def Fg(self):
        """Filters per group."""
        return self.F // self.groups

    @property
    def flops(self):
        """Multiply-adds x 2 of the forward pass."""
        w = self.win
        return 2 * self.N * self.F * w.OH * w.OW * self.Cg * w.KH * w.KW


def conv_shapes(x_shape, weight_shape, stride, padding, dilation, groups, layout):
    """Check a convolution's shapes and arguments; return its :class:`ConvShapes`.

    Parameters
    ----------
    x_shape : 4 ints, (N, C, H, W) or (N, H, W, C) for "NHWC"
    weight_shape : 4 ints, (F, C/groups, KH, KW) or (KH, KW, C/groups, F)
    stride, padding, dilation, groups, layout
        As for :func:`fastconv.conv2d`.
    """
    layout = check_layout(layout)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"groups must be an int, got {groups!r}")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    if layout == "NCHW":
        N, C, H, W = x_shape
        F, Cg, KH, KW = weight_shape
        wdesc = "(F, C/groups, KH, KW)"
    else:
        N, H, W, C = x_shape
        KH, KW, Cg, F = weight_shape
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
            f"weight {tuple(weight_shape)} ({layout} weight is {wdesc}) expects "
            f"C/groups={Cg} channels per group, but x {tuple(x_shape)} has C={C} "
            f"channels and groups={groups} (C/groups={C // groups})"
        )
    if KH < 1 or KW < 1:
        raise ValueError(
            f"weight must have kernel size >= 1, got shape {tuple(weight_shape)}"
        )
    win = conv_window((H, W), (KH, KW), stride, padding, dilation)
    out = (N, F, win.OH, win.OW) if layout == "NCHW" else (N, win.OH, win.OW, F)
    return ConvShapes(
        layout, N, C, F, groups, win, tuple(x_shape), tuple(weight_shape), out
    )


def pool_out_shape(x_shape, win, layout):
    """Output shape of a pooling of `x_shape` over window `win`."""
    if layout == "NCHW":
        return (x_shape[0], x_shape[1], win.OH, win.OW)
    return (x_shape[0], win.OH, win.OW, x_shape[3])


class Planes(NamedTuple):
    """Phase planes of a zero-padded input, the layout the plane kernels read.

    The padded input ``xpad`` (H + top + bottom, W + left + right) is split by
    the strides into ``sh * sw`` phase planes, plane ``(a, b)`` holding
    ``xpad[a::sh, b::sw]`` as rows of pitch `Wq`. Tap (i, j) then reads
    plane ``((i*dh) % sh, (j*dw) % sw)`` from flat offset
    ``((i*dh) // sh) * Wq + (j*dw) // sw``, and one output row after another
    lies in a single run of ``L = OH * Wq`` positions: every tap is one
    contiguous slice, the columns ``OW..Wq-1`` of each output row being
    computed and dropped. `PS` is a plane's length: ``Hq*Wq`` plus the slack
    the last tap reads past it, rounded up to a multiple of 16.
    """

    sh: int
    sw: int
    Hq: int
    Wq: int
    PS: int
    L: int

    @property
    def phases(self):
        """Phase planes per channel."""
        return self.sh * self.sw


def phase_planes(win):
    """Return the :class:`Planes` layout of window `win`."""
    Hp, Wp = win.H + win.top + win.bottom, win.W + win.left + win.right
    Hq, Wq = -(-Hp // win.sh), -(-Wp // win.sw)
    # the last output row's slice of the last tap runs (KW-1)*dw//sw past Hq*Wq
    # rows: (OH - 1) + (KH-1)*dh//sh <= Hq - 1 holds by the output size rule
    slack = ((win.KW - 1) * win.dw) // win.sw + 1
    PS = -(-(Hq * Wq + slack) // 16) * 16
    return Planes(win.sh, win.sw, Hq, Wq, PS, win.OH * Wq)
