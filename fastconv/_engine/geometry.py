"""Shapes of the fast path: argument pairs, padding resolution, output sizes.

Every fast function takes its window geometry from here and nowhere else.
The oracle (:mod:`fastconv.naive`) deliberately does not: it finds its bounds
by its own enumeration, and the tests compare the two.
"""

import math
import numbers
from typing import NamedTuple, Optional, Tuple

import numpy as np

__all__ = [
    "AXIS_NAMES",
    "Axis",
    "ConvParams",
    "LAYOUTS",
    "Planes",
    "Window",
    "adaptive_bounds",
    "adaptive_output_size",
    "as_pair",
    "as_sizes",
    "check_layout",
    "check_shape",
    "conv_params",
    "conv_window",
    "output_size",
    "phase_planes",
    "pool_axes",
    "pool_out_shape",
    "pool_window",
    "resolve_pads",
    "transpose_output_size",
    "transpose_params",
    "window",
    "window_axes",
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


#: how a rank's tuples are named in messages
_TUPLE = {1: "a 1-tuple", 2: "a pair", 3: "a triple"}
#: names of each rank's spatial axes, in messages
AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
_WORDS = {"L": "length", "D": "depth", "H": "height", "W": "width"}


def as_sizes(value, name, rank):
    """Return `value` as `rank` ints; an int or a 1-tuple stands for every axis.

    (PyTorch expands a one-element list the same way.)
    """
    if isinstance(value, (tuple, list)):
        if len(value) not in (1, rank):
            raise ValueError(
                f"{name} must be an int or {_TUPLE[rank]} of ints, got {tuple(value)!r}"
            )
        return tuple(_as_int(v, name) for v in value) * (rank // len(value))
    return (_as_int(value, name),) * rank


def as_pair(value, name):
    """Return `value` as a pair of ints ``(h, w)`` (:func:`as_sizes`)."""
    return as_sizes(value, name, 2)


def _same_padding(size, k, s, d):
    # TensorFlow's rule: out = ceil(size / s), odd pixel at the bottom/right.
    ke = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + ke - size, 0)
    return total // 2, total - total // 2


def resolve_pads(padding, sizes, kernel, stride, dilation, asymmetric=True):
    """Turn any accepted padding form into one ``(lo, hi)`` pair per axis.

    Parameters
    ----------
    padding : int, 1-tuple, one int per axis, "valid" or "same"
        With `asymmetric` also "same", whose odd pixel goes to the high
        side, and in 2-D ``(top, bottom, left, right)``; without it,
        PyTorch's symmetric forms only.
    sizes, kernel, stride, dilation : tuples of int, one per axis
        Needed only by "same", whose padding depends on the input size.

    Returns
    -------
    tuple of (int, int), one per axis
    """
    rank = len(sizes)
    if not asymmetric:
        pads = as_sizes(padding, "padding", rank)
    elif isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * rank
        if mode == "same":
            return tuple(map(_same_padding, sizes, kernel, stride, dilation))
        raise ValueError(f"padding must be {_pad_forms(rank)}, got {padding!r}")
    elif isinstance(padding, (tuple, list)) and len(padding) == 2 * rank == 4:
        pads = tuple(_as_int(p, "padding") for p in padding)
    elif isinstance(padding, (tuple, list)) and len(padding) not in (1, rank):
        raise ValueError(f"padding must be {_pad_forms(rank)}, got {tuple(padding)!r}")
    else:
        pads = as_sizes(padding, "padding", rank)
    if min(pads) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    if len(pads) == rank:
        return tuple((p, p) for p in pads)
    return tuple(zip(pads[::2], pads[1::2]))


def _pad_forms(rank):
    lo_hi = ", a 4-tuple" if rank == 2 else ""
    return f"an int, {_TUPLE[rank]}{lo_hi}, 'valid' or 'same'"


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


class Axis(NamedTuple):
    """One spatial axis of a convolution or pooling.

    ``out = floor((size + lo + hi - (kernel - 1)*dilation - 1) / stride) + 1``
    for a convolution or pooling (rounded up under ceil_mode, the last
    window starting inside the input or the low padding); for a transposed
    convolution `size` is its input's, `out` its output's,
    ``(size - 1)*stride - lo - hi + (kernel - 1)*dilation + 1`` (hi is the
    padding less output_padding).
    """

    size: int
    out: int
    kernel: int
    stride: int
    dilation: int
    lo: int
    hi: int

    @property
    def span(self):
        """Extent of the dilated kernel, ``(kernel - 1)*dilation + 1``."""
        return (self.kernel - 1) * self.dilation + 1


def _at_least(values, name, low):
    if min(values) < low:
        raise ValueError(f"{name} must be >= {low}, got {values}")


def _flat(pairs):
    """((lo, hi), ...) -> (lo, hi, lo, hi, ...)."""
    return sum(pairs, ())


def window_axes(
    sizes, kernel, stride, padding, dilation, ceil_mode=False, *, asymmetric=True
):
    """Check a sliding window's arguments; return one :class:`Axis` per axis.

    Parameters
    ----------
    sizes : tuple of int
        The input's spatial sizes; their number is the rank.
    kernel, stride, dilation : int, 1-tuple or one int per axis
    padding : any form :func:`resolve_pads` takes
    ceil_mode : bool
        Round the output sizes up (pooling).
    """
    rank = len(sizes)
    names = ("kernel_size", "stride", "dilation")
    k, s, d = (as_sizes(v, n, rank) for v, n in zip((kernel, stride, dilation), names))
    for values, name in zip((k, s, d), names):
        _at_least(values, name, 1)
    pads = resolve_pads(padding, sizes, k, s, d, asymmetric)
    span = tuple((ki - 1) * di + 1 for ki, di in zip(k, d))
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(sizes, pads))
    over = [_WORDS[a] for a, e, p in zip(AXIS_NAMES[rank], span, padded) if e > p]
    if over:
        raise ValueError(
            f"kernel_size {k} with dilation {d} spans {span}, larger than the "
            f"padded input {padded} (input {tuple(sizes)}, padding {_flat(pads)}): "
            f"it exceeds the padded input {' and '.join(over)}"
        )
    return tuple(
        Axis(n, output_size(n, ki, si, di, lo, hi, ceil_mode), ki, si, di, lo, hi)
        for n, ki, si, di, (lo, hi) in zip(sizes, k, s, d, pads)
    )


def window(axes):
    """Return the :class:`Window` of the last two of `axes` (a plane's)."""
    h, w = axes[-2:]
    return Window(
        h.size,
        w.size,
        h.kernel,
        w.kernel,
        h.stride,
        w.stride,
        h.dilation,
        w.dilation,
        h.lo,
        h.hi,
        w.lo,
        w.hi,
        h.out,
        w.out,
    )


def conv_window(in_hw, kernel_hw, stride, padding, dilation):
    """Window geometry of a 2-D convolution; raises ValueError on bad arguments."""
    return window(window_axes(in_hw, kernel_hw, stride, padding, dilation))


def pool_axes(sizes, kernel_size, stride, padding, dilation, ceil_mode):
    """Check a pooling's window arguments; return one :class:`Axis` per axis.

    `stride` None means `kernel_size`. Besides the convolution checks, every
    side's padding must be at most half the (dilated) kernel, as in PyTorch,
    and no window may lie wholly in the padding. 3-D pooling takes
    PyTorch's padding forms only (an int or a triple): its separable
    passes take each axis's padding as symmetric.
    """
    if stride is None:
        stride = kernel_size
    axes = window_axes(
        sizes,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        asymmetric=len(sizes) < 3,
    )
    kernel = tuple(a.kernel for a in axes)
    dilation = tuple(a.dilation for a in axes)
    pads = tuple(p for a in axes for p in (a.lo, a.hi))
    if any(max(a.lo, a.hi) > a.span // 2 for a in axes):
        raise ValueError(
            f"padding must be at most half the kernel for pooling: got padding "
            f"{pads} for kernel_size {kernel} with dilation {dilation}"
        )
    for name, a in zip(AXIS_NAMES[len(axes)], axes):
        # Only windows that start in the leading padding can miss the input
        # (a dilated kernel stepping over it); the others hold their first tap.
        for o in range(min(a.out, -(-a.lo // a.stride))):
            start = o * a.stride - a.lo
            first = -(start // a.dilation)  # first tap index at or past 0
            if first >= a.kernel or start + first * a.dilation >= a.size:
                raise ValueError(
                    f"window {o} along {name} lies wholly in the padding: "
                    f"kernel_size {kernel}, dilation {dilation}, padding {pads}, "
                    f"input {tuple(sizes)}"
                )
    return axes


def pool_window(in_hw, kernel_size, stride, padding, dilation, ceil_mode):
    """Window geometry of a 2-D pooling (:func:`pool_axes`)."""
    return window(pool_axes(in_hw, kernel_size, stride, padding, dilation, ceil_mode))


def _groups(groups):
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    return int(groups)


def _split(shape, layout):
    """(N, C, *spatial) or (N, *spatial, C) -> (N, C, spatial)."""
    if layout == "NCHW":
        return shape[0], shape[1], tuple(shape[2:])
    return shape[0], shape[-1], tuple(shape[1:-1])


def _join(N, C, sizes, layout):
    """Return the shape :func:`_split` splits."""
    sizes = tuple(sizes)
    return (N, C) + sizes if layout == "NCHW" else (N,) + sizes + (C,)


def _kernel_names(rank):
    return ", ".join("K" + a for a in AXIS_NAMES[rank])


class ConvParams(NamedTuple):
    """A convolution's checked parameters, at any rank (PyTorch's ConvParams).

    Every rank and both directions: ``conv1d`` ... ``conv3d``, and with
    `transposed` their transposed convolutions. Built by :func:`conv_params`
    and :func:`transpose_params`, which check every argument; consumers
    read it and check nothing again.

    Attributes
    ----------
    layout : {"NCHW", "NHWC"}
        Channels first or last, whatever the rank.
    N, C, F, groups : int
        Batch, input channels, output channels (filters), groups.
    axes : tuple of Axis
        One per spatial axis: (L,), (H, W) or (D, H, W).
    win : Window or None
        The last two axes as the 2-D kernels read them (None in 1-D).
    x_shape, weight_shape, out_shape : tuple of int
    transposed : bool
        A transposed convolution: each axis's `size` is x's, `out` the
        output's, `lo` the padding and `hi` the padding less output_padding.
    """

    layout: str
    N: int
    C: int
    F: int
    groups: int
    axes: Tuple[Axis, ...]
    win: Optional[Window]
    x_shape: tuple
    weight_shape: tuple
    out_shape: tuple
    transposed: bool = False

    @property
    def rank(self):
        """Number of spatial axes."""
        return len(self.axes)

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
        per_out = self.Cg if not self.transposed else self.Fg
        sizes = (a.out for a in self.axes) if not self.transposed else self.sizes
        out = self.F if not self.transposed else self.C
        return 2 * self.N * out * math.prod(sizes) * per_out * self.kernel_volume

    @property
    def sizes(self):
        """Spatial sizes of x."""
        return tuple(a.size for a in self.axes)

    @property
    def kernel_volume(self):
        """Taps per window."""
        return math.prod(a.kernel for a in self.axes)

    @property
    def pads(self):
        """Padding as (lo, hi) per axis, flat: 2-D ``(top, bottom, left, right)``."""
        return tuple(p for a in self.axes for p in (a.lo, a.hi))

    def plane_args(self):
        """stride, padding and dilation of the last two axes, as conv2d takes them."""
        h, w = self.axes[-2:]
        return dict(
            stride=(h.stride, w.stride),
            padding=(h.lo, h.hi, w.lo, w.hi),
            dilation=(h.dilation, w.dilation),
        )

    def adjoint(self):
        """Return the convolution a transposed one is the adjoint of (its grad_x).

        Its input has the transposed convolution's output shape; its weight
        is the same array, (C_in, F/groups, *kernel) read as (F', C'/groups,
        *kernel); its output sizes are at least x's, more when
        output_padding reaches the stride (the rest is zero).
        """
        a = self.axes
        return conv_params(
            self.out_shape,
            self.weight_shape,
            tuple(x.stride for x in a),
            tuple(x.lo for x in a),
            tuple(x.dilation for x in a),
            self.groups,
            self.layout,
        )


def conv_params(x_shape, weight_shape, stride, padding, dilation, groups, layout):
    """Check a convolution's shapes and arguments; return its :class:`ConvParams`.

    Parameters
    ----------
    x_shape : 3, 4 or 5 ints, (N, C, *spatial) or (N, *spatial, C) for "NHWC"
    weight_shape : as many ints, (F, C/groups, *kernel) or (*kernel, C/groups, F)
    stride, padding, dilation, groups
        As for :func:`fastconv.conv2d`, one value per spatial axis; padding
        as :func:`resolve_pads` takes it.
    layout : {"NCHW", "NHWC"}
        Channels first or last.
    """
    layout = check_layout(layout)
    groups = _groups(groups)
    rank = len(x_shape) - 2
    N, C, sizes = _split(x_shape, layout)
    if layout == "NCHW":
        F, Cg, kernel = weight_shape[0], weight_shape[1], tuple(weight_shape[2:])
        wdesc = f"(F, C/groups, {_kernel_names(rank)})"
    else:
        kernel, Cg, F = tuple(weight_shape[:-2]), weight_shape[-2], weight_shape[-1]
        wdesc = f"({_kernel_names(rank)}, C/groups, F)"
    if C % groups:
        raise ValueError(
            f"groups must be >= 1 and divide the input channels: x has C={C} "
            f"channels, groups={groups}"
        )
    if F % groups:
        raise ValueError(
            f"groups must be >= 1 and divide the output channels: weight has F={F} "
            f"filters, groups={groups}"
        )
    if Cg * groups != C:
        raise ValueError(
            f"weight {tuple(weight_shape)} ({layout} weight is {wdesc}) expects "
            f"C/groups={Cg} channels per group, but x {tuple(x_shape)} has C={C} "
            f"channels and groups={groups} (C/groups={C // groups})"
        )
    if min(kernel) < 1:
        raise ValueError(
            f"weight must have kernel size >= 1, got shape {tuple(weight_shape)}"
        )
    axes = window_axes(sizes, kernel, stride, padding, dilation)
    out = _join(N, F, (a.out for a in axes), layout)
    win = window(axes) if rank >= 2 else None
    return ConvParams(
        layout, N, C, F, groups, axes, win, tuple(x_shape), tuple(weight_shape), out
    )


def transpose_params(
    x_shape, weight_shape, stride, padding, output_padding, dilation, groups, layout
):
    """Check a transposed convolution's arguments; return its :class:`ConvParams`.

    ``conv_transpose2d(x, weight)`` is the grad_x of the convolution
    :meth:`ConvParams.adjoint` describes. Output size, per axis:
    ``(size - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``.

    Parameters
    ----------
    x_shape : (N, C_in, *spatial) or (N, *spatial, C_in) for "NHWC"
    weight_shape : (C_in, F/groups, *kernel) or (*kernel, F/groups, C_in)
    stride, padding, output_padding, dilation, groups, layout
        As for :func:`fastconv.conv_transpose2d`, one value per spatial axis.
    """
    layout = check_layout(layout)
    rank = len(x_shape) - 2
    if isinstance(padding, str):
        raise ValueError(
            f"padding must be an int or {_TUPLE[rank]} for a transposed convolution, "
            f"got {padding!r}"
        )
    names = ("stride", "padding", "output_padding", "dilation")
    given = (stride, padding, output_padding, dilation)
    s, p, op, d = (as_sizes(v, n, rank) for v, n in zip(given, names))
    for values, name, low in zip((s, p, op, d), names, (1, 0, 0, 1)):
        _at_least(values, name, low)
    if any(o >= max(si, di) for o, si, di in zip(op, s, d)):
        raise ValueError(
            "output_padding must be smaller than either stride or dilation, got "
            f"output_padding {op}, stride {s}, dilation {d}"
        )
    groups = _groups(groups)
    N, C, sizes = _split(x_shape, layout)
    if layout == "NCHW":
        Cw, Fg, kernel = weight_shape[0], weight_shape[1], tuple(weight_shape[2:])
        wdesc = f"(C_in, F/groups, {_kernel_names(rank)})"
    else:
        kernel, Fg, Cw = tuple(weight_shape[:-2]), weight_shape[-2], weight_shape[-1]
        wdesc = f"({_kernel_names(rank)}, F/groups, C_in)"
    if Cw != C:
        raise ValueError(
            f"weight {tuple(weight_shape)} ({wdesc} for {layout}) must have x's "
            f"C_in={C} channels, got {Cw}"
        )
    outs = tuple(map(transpose_output_size, sizes, kernel, s, d, p, op))
    if min(outs) < 1:
        raise ValueError(
            f"the transposed convolution's output would be {outs}: x "
            f"{tuple(x_shape)}, kernel {kernel}, stride {s}, padding {p}"
        )
    axes = tuple(map(Axis, sizes, outs, kernel, s, d, p, (a - b for a, b in zip(p, op))))
    out = _join(N, Fg * groups, outs, layout)
    win = window(axes) if rank >= 2 else None
    return ConvParams(
        layout,
        N,
        C,
        Fg * groups,
        groups,
        axes,
        win,
        tuple(x_shape),
        tuple(weight_shape),
        out,
        True,
    )


def pool_out_shape(x_shape, outs, layout):
    """Output shape of a pooling of `x_shape` to spatial sizes `outs`."""
    N, C, _ = _split(x_shape, layout)
    return _join(N, C, outs, layout)


def adaptive_output_size(output_size, sizes):
    """Return an adaptive pooling's output sizes: ints >= 1; None keeps an axis's size.

    `output_size` is an int, None, or one of them per axis of `sizes` (a
    1-tuple stands for every axis).
    """
    rank = len(sizes)
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else None
    if items is None:
        items = (output_size,) * rank
    elif len(items) == 1:
        items = items * rank
    if len(items) != rank:
        raise ValueError(
            f"output_size must be an int or {_TUPLE[rank]} (None keeps a size), "
            f"got {output_size!r}"
        )
    out = []
    for v, size in zip(items, sizes):
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
