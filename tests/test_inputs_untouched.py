"""Every public function leaves its input arrays bitwise unchanged, any memory layout."""

import functools
import inspect
from typing import Callable, NamedTuple

import numpy as np
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

import fastconv
from fastconv import naive, nn
from fastconv.compat import cs231n, dlai
from tests.helpers import DTYPES, LAYOUTS, algorithms_for, randn, rng

# Each example draws one call: its arguments first, then a copy of every input
# array (and of the buffer a view of it lives in), then the call, then a
# comparison of each input with its copy: values (NaN equal to NaN), bits (a
# 0.0 rewritten as -0.0, a NaN's payload), dtype, shape, strides and flags.
#
# The inputs come in every memory layout the functions take, and in particular
# already C-contiguous in the call's compute dtype (float32 or float64): then
# no defensive copy is taken and the caller's own array reaches the kernels.
# That is how col2im and fold wrote into their cols (fixed in 887fce7). Every
# array is writeable: a read-only one would turn such a write into an error
# raised by numpy or numba rather than a silently changed input.

#: memory layouts of an input: the caller's array as it is ("contiguous"), or
#: a copy is due: Fortran order, negative strides, every other element of a
#: larger array (whose other elements a write past the view would change), or
#: another dtype (float16 and integers are computed in float32 and float64)
MEMORY = ("contiguous", "fortran", "reversed", "strided", "other-dtype")
OTHER_DTYPES = {"f": (np.float16, np.int32), "i": (np.int32, np.uint16)}

#: channels-first and channels-last layouts of each rank
RANK_LAYOUTS = {1: ("NCL", "NLC"), 2: LAYOUTS, 3: ("NCDHW", "NDHWC")}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
#: the padding forms a convolution (or im2col) of each rank takes
CONV_PADDINGS = {
    1: ("int", "tuple", "same", "valid"),
    2: ("int", "tuple", "four", "same", "valid"),
    3: ("int", "tuple", "same", "valid"),
}
#: and a pooling (3-D pooling: no strings)
POOL_PADDINGS = {1: CONV_PADDINGS[1], 2: CONV_PADDINGS[2], 3: ("int", "tuple")}
#: algorithms that run every convolution, of any rank, transposed or not
ANY_LAYER_ALGORITHMS = ("auto", "im2col", "direct")


# --------------------------------------------------------------------------
# drawing arrays


class Draw:
    """The hypothesis draws of one example, and a generator seeded from them."""

    def __init__(self, data):
        self.data = data
        self.gen = rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
        self.dtype = np.dtype(self.choice(DTYPES, "dtype"))
        # half the calls take every array as it is (no copy anywhere); the
        # others draw a memory layout per array
        self.no_copy = self.bool("every input C-contiguous in the compute dtype")
        self.specials = self.bool("NaN, inf and -0.0 among the values")

    def __call__(self, strategy, label):
        return self.data.draw(strategy, label=label)

    def int(self, lo, hi, label):
        return self(st.integers(lo, hi), label)

    def ints(self, n, lo, hi, label):
        return tuple(self.int(lo, hi, label) for _ in range(n))

    def bool(self, label):
        return self(st.booleans(), label)

    def choice(self, options, label):
        return self(st.sampled_from(options), label)

    def floats(self, shape, label):
        """Standard-normal values of `shape`, laid out as drawn."""
        return self.lay_out(randn(self.gen, shape, self.dtype), label)

    def lay_out(self, values, label):
        """`values` (C-contiguous: float, or int64 indices) in a drawn memory layout."""
        memory = "contiguous" if self.no_copy else self.choice(MEMORY, f"{label} memory")
        if memory == "other-dtype":
            dtype = np.dtype(
                self.choice(OTHER_DTYPES[values.dtype.kind], f"{label} dtype")
            )
            if values.dtype.kind == "f" and dtype.kind != "f":
                values = np.rint(values * 4)  # small integers of the same sign
            values = values.astype(dtype)
        if self.specials and values.dtype.kind == "f" and values.size:
            values = values.copy()
            at = self.gen.integers(0, values.size, 3)
            values.reshape(-1)[at] = (np.nan, np.inf, -0.0)
        return _in_memory(values, memory, self.gen)


def _in_memory(values, memory, gen):
    """A new writeable array equal to `values`, in the memory layout `memory`."""
    if values.ndim == 0 or memory in ("contiguous", "other-dtype"):
        return values.copy()  # C order
    if memory == "fortran":
        return np.array(values, order="F")
    every = (slice(None, None, -1),) * values.ndim
    if memory == "reversed":
        return values[every].copy()[every]
    shape = tuple(2 * n + 1 for n in values.shape)
    if values.dtype.kind == "f":
        big = randn(gen, shape, values.dtype)
    else:
        big = gen.integers(0, 100, shape).astype(values.dtype)
    view = big[(slice(1, None, 2),) * values.ndim]
    view[...] = values
    return view


# --------------------------------------------------------------------------
# the table: a name, a function that draws a call's arguments (from a Draw and
# the module the call runs on), and a function that makes the call


class Call(NamedTuple):
    args: tuple
    kwargs: dict


def _call_function(name, target, call):
    return getattr(target, name)(*call.args, **call.kwargs)


class Entry(NamedTuple):
    name: str
    draw: Callable[[Draw, object], Call]
    call: Callable[[object, Call], object] = None

    def run(self, target, call):
        if self.call is None:
            return _call_function(self.name, target, call)
        return self.call(target, call)


def _zeros(*shapes, dtype=np.float64):
    """Fresh arrays, for the probe calls that find an output's shape."""
    return [np.zeros(s, dtype) for s in shapes]


def _channels_first(layout):
    return layout[1] == "C"


def _shape(layout, N, C, sizes):
    return (N, C) + sizes if _channels_first(layout) else (N,) + sizes + (C,)


def _padding(d, rank, forms, bound):
    """A padding argument in one of `forms`, each side at most ``bound[axis]``.

    Returns the argument and its (lo, hi) per axis; None for "same".
    """
    form = d.choice(forms, "padding form")
    if form == "same":
        return form, None
    if form == "valid":
        return form, ((0, 0),) * rank
    if form == "int":
        p = d.int(0, min(bound), "padding")
        return p, ((p, p),) * rank
    if form == "tuple":
        ps = tuple(d.int(0, b, "padding") for b in bound)
        return ps, tuple((p, p) for p in ps)
    sides = tuple(d.int(0, bound[i // 2], "padding") for i in range(4))  # 2-D only
    return sides, ((sides[0], sides[1]), (sides[2], sides[3]))


def _window(d, rank, forms, padding_mode="zeros"):
    """Kernel, stride, dilation, padding and input sizes of a valid convolution."""
    if d.bool("3-wide kernel, stride 1, padding 1"):
        # half the time the commonest layer, whose output is as wide as its input:
        # the kernels have fast paths for it (col2im's whole-row adds, which
        # wrote into cols, among them)
        K, stride, dilation = (3,) * rank, (1,) * rank, (1,) * rank
        padding, pads = 1, ((1, 1),) * rank
    else:
        K = d.ints(rank, 1, 3, "kernel_size")
        stride = (1,) * rank if d.bool("unit stride") else d.ints(rank, 1, 2, "stride")
        dilation = d.ints(rank, 1, 2, "dilation")
        padding, pads = _padding(d, rank, forms, (2,) * rank)
    ke = tuple((k - 1) * dl + 1 for k, dl in zip(K, dilation))
    sizes = []
    for axis in range(rank):
        if pads is None:  # "same" pads less than the dilated kernel on each side
            low = ke[axis] if padding_mode != "zeros" else 1
        else:
            lo, hi = pads[axis]
            low = max(1, ke[axis] - lo - hi)
            if padding_mode != "zeros":  # reflect: padding below the size
                low = max(low, lo + 1, hi + 1)
        sizes.append(d.int(low, low + (2 if rank == 3 else 3), "size"))
    return K, stride, dilation, padding, tuple(sizes)


class Conv(NamedTuple):
    x_shape: tuple
    w_shape: tuple
    F: int
    K: tuple
    kwargs: dict


def _conv(d, rank, target=None, *, transposed=False, padding_mode=False):
    """A valid (transposed) convolution of this rank; `algorithm` only for fastconv."""
    layout = d.choice(RANK_LAYOUTS[rank], "layout")
    groups = d.int(1, 2, "groups")
    C, F = groups * d.int(1, 2, "C/groups"), groups * d.int(1, 2, "F/groups")
    N = d.int(1, 2, "N")
    first = _channels_first(layout)
    if transposed:
        K = d.ints(rank, 1, 3, "kernel_size")
        stride = d.ints(rank, 1, 2, "stride")
        dilation = d.ints(rank, 1, 2, "dilation")
        sizes = d.ints(rank, 1, 4, "size")
        op = tuple(
            d.int(0, max(s, dl) - 1, "output_padding") for s, dl in zip(stride, dilation)
        )
        # padding that leaves an output of at least one
        bound = tuple(
            min(1, ((n - 1) * s + dl * (k - 1) + o) // 2)
            for n, s, dl, k, o in zip(sizes, stride, dilation, K, op)
        )
        padding, _ = _padding(d, rank, ("int", "tuple"), bound)
        kwargs = dict(stride=stride, padding=padding, output_padding=op, groups=groups)
        kwargs.update(dilation=dilation, layout=layout)
        w_shape = (C, F // groups) + K if first else K + (F // groups, C)
    else:
        mode = d.choice(PADDING_MODES, "padding_mode") if padding_mode else "zeros"
        K, stride, dilation, padding, sizes = _window(d, rank, CONV_PADDINGS[rank], mode)
        kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        kwargs.update(layout=layout)
        if padding_mode:
            kwargs["padding_mode"] = mode
        w_shape = (F, C // groups) + K if first else K + (C // groups, F)
    x_shape = _shape(layout, N, C, sizes)
    if target is fastconv:
        algorithms = ANY_LAYER_ALGORITHMS
        if rank == 2 and not transposed:  # pointwise and Winograd where they apply
            algorithms = algorithms_for(x_shape, w_shape, kwargs)
        kwargs["algorithm"] = d.choice(algorithms, "algorithm")
    return Conv(x_shape, w_shape, F, K, kwargs)


def _conv_forward(rank, transposed=False):
    modes = rank < 3 and not transposed  # padding_mode where it is accepted

    def draw(d, target):
        p = _conv(d, rank, target, transposed=transposed, padding_mode=modes)
        x, w = d.floats(p.x_shape, "x"), d.floats(p.w_shape, "weight")
        b = d.floats((p.F,), "bias") if d.bool("bias") else None
        return Call((x, w, b), p.kwargs)

    return draw


def _conv_backward(rank, transposed=False):
    modes = rank < 3 and not transposed
    forward = getattr(
        fastconv, f"conv_transpose{rank}d" if transposed else f"conv{rank}d"
    )

    def draw(d, target):
        p = _conv(d, rank, target, transposed=transposed, padding_mode=modes)
        out = forward(*_zeros(p.x_shape, p.w_shape), **p.kwargs)
        gy = d.floats(out.shape, "grad_out")
        x, w = d.floats(p.x_shape, "x"), d.floats(p.w_shape, "weight")
        return Call((gy, x, w), p.kwargs)

    return draw


class Pool(NamedTuple):
    x_shape: tuple
    K: tuple
    kwargs: dict


def _pool(d, rank, kind):
    """A valid max ("max") or average ("avg") pooling of this rank."""
    layout = d.choice(RANK_LAYOUTS[rank], "layout")
    N, C = d.int(1, 2, "N"), d.int(1, 3, "C")
    K = d.ints(rank, 1, 3, "kernel_size")
    dilation = d.ints(rank, 1, 2, "dilation") if kind == "max" else (1,) * rank
    ke = tuple((k - 1) * dl + 1 for k, dl in zip(K, dilation))
    stride = d.choice([None, "unit", "drawn"], "stride")
    stride = (1,) * rank if stride == "unit" else stride
    stride = d.ints(rank, 1, 3, "stride") if stride == "drawn" else stride
    # each side at most half the dilated kernel (PyTorch's rule)
    padding, pads = _padding(d, rank, POOL_PADDINGS[rank], tuple(e // 2 for e in ke))
    pads = pads or ((0, 0),) * rank  # "same": any size
    sizes = tuple(
        d.int(max(1, e - lo - hi), max(1, e - lo - hi) + 3, "size")
        for e, (lo, hi) in zip(ke, pads)
    )
    kwargs = dict(stride=stride, padding=padding, ceil_mode=d.bool("ceil_mode"))
    if kind == "max":
        kwargs["dilation"] = dilation
    else:
        kwargs["count_include_pad"] = d.bool("count_include_pad")
        if rank > 1:
            divisor = d.choice([None, 1, 2, 3], "divisor_override")
            kwargs["divisor_override"] = divisor
    kwargs["layout"] = layout
    x_shape = _shape(layout, N, C, sizes)
    # a max-pooling window whose dilated taps all fall in the padding is
    # refused with a ValueError (PyTorch's max would be -inf): not a call
    try:
        getattr(fastconv, f"{kind}_pool{rank}d")(*_zeros(x_shape), K, **kwargs)
    except ValueError as e:
        assume("wholly in the" not in str(e))
        raise
    return Pool(x_shape, K, kwargs)


def _pool_forward(rank, kind):
    def draw(d, target):
        p = _pool(d, rank, kind)
        kwargs = dict(p.kwargs)
        if kind == "max":
            kwargs["return_indices"] = d.bool("return_indices")
        return Call((d.floats(p.x_shape, "x"), p.K), kwargs)

    return draw


def _pool_backward(rank, kind):
    forward = getattr(fastconv, f"{kind}_pool{rank}d")

    def draw(d, target):
        p = _pool(d, rank, kind)
        values = randn(d.gen, p.x_shape, d.dtype)
        x = d.lay_out(values, "x")
        kwargs = dict(p.kwargs)
        if kind == "max":
            out, idx = forward(values.copy(), p.K, return_indices=True, **p.kwargs)
            if d.bool("indices"):
                kwargs["indices"] = d.lay_out(idx, "indices")
        else:
            out = forward(values.copy(), p.K, **p.kwargs)
        return Call((d.floats(out.shape, "grad_out"), x, p.K), kwargs)

    return draw


def _adaptive(d, rank):
    """x's shape, an output_size (None keeps an axis' size) and the layout."""
    layout = d.choice(RANK_LAYOUTS[rank], "layout")
    sizes = d.ints(rank, 1, 3 if rank == 3 else 4, "size")
    if rank == 1 or d.bool("one output_size for every axis"):
        size = d.int(1, min(sizes) + 1, "output_size")
        output_size = (size,) if rank == 1 and d.bool("1-tuple") else size
    else:
        output_size = tuple(
            d.choice([None, *range(1, n + 2)], "output_size") for n in sizes
        )
    x_shape = _shape(layout, d.int(1, 2, "N"), d.int(1, 3, "C"), sizes)
    return x_shape, output_size, layout


def _adaptive_forward(rank, kind):
    def draw(d, target):
        x_shape, output_size, layout = _adaptive(d, rank)
        kwargs = dict(layout=layout)
        if kind == "max":
            kwargs["return_indices"] = d.bool("return_indices")
        return Call((d.floats(x_shape, "x"), output_size), kwargs)

    return draw


def _adaptive_backward(rank, kind):
    forward = getattr(fastconv, f"adaptive_{kind}_pool{rank}d")

    def draw(d, target):
        x_shape, output_size, layout = _adaptive(d, rank)
        values = randn(d.gen, x_shape, d.dtype)
        x = d.lay_out(values, "x")
        kwargs = dict(layout=layout)
        if kind == "max":
            out, idx = forward(values.copy(), output_size, True, layout=layout)
            if d.bool("indices"):
                kwargs["indices"] = d.lay_out(idx, "indices")
        else:
            out = forward(values.copy(), output_size, layout=layout)
        return Call((d.floats(out.shape, "grad_out"), x), kwargs)

    return draw


def _cols_problem(d):
    """x's shape and the window arguments of an im2col, at any rank."""
    rank = d.int(1, 3, "rank")
    # 1-D and 3-D also take the 2-D layout names
    layouts = RANK_LAYOUTS[rank] + (LAYOUTS if rank != 2 else ())
    layout = d.choice(layouts, "layout")
    K, stride, dilation, padding, sizes = _window(d, rank, CONV_PADDINGS[rank])
    x_shape = _shape(layout, d.int(1, 2, "N"), d.int(1, 3, "C"), sizes)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, layout=layout)
    return x_shape, K, kwargs


def _draw_im2col(d, target):
    x_shape, K, kwargs = _cols_problem(d)
    return Call((d.floats(x_shape, "x"), K), kwargs)


def _draw_col2im(d, target):
    x_shape, K, kwargs = _cols_problem(d)
    cols = fastconv.im2col(*_zeros(x_shape), K, **kwargs)
    return Call((d.floats(cols.shape, "cols"), x_shape, K), kwargs)


def _unfold_problem(d):
    """x's shape and unfold's (kernel_size, dilation, padding, stride), NCHW."""
    K, stride, dilation, padding, sizes = _window(d, 2, ("int", "tuple"))
    x_shape = _shape("NCHW", d.int(1, 2, "N"), d.int(1, 3, "C"), sizes)
    return x_shape, (K, dilation, padding, stride)


def _draw_unfold(d, target):
    x_shape, args = _unfold_problem(d)
    return Call((d.floats(x_shape, "input"), *args), {})


def _draw_fold(d, target):
    x_shape, args = _unfold_problem(d)
    cols = fastconv.unfold(*_zeros(x_shape), *args)
    return Call((d.floats(cols.shape, "input"), x_shape[2:], *args), {})


def _draw_plan(d, target):
    p = _conv(d, 2, target)
    out = fastconv.conv2d(*_zeros(p.x_shape, p.w_shape), **p.kwargs)
    x, w = d.floats(p.x_shape, "x"), d.floats(p.w_shape, "weight")
    b = d.floats((p.F,), "bias") if d.bool("bias") else None
    gy = d.floats(out.shape, "grad_out")
    return Call((x, w, b, gy), p.kwargs)


def _call_plan(target, call):
    # the plan is built from shapes; its forward and backward take the arrays
    x, w, b, gy = call.args
    kwargs = dict(call.kwargs)
    dtype = np.result_type(*[a for a in (x, w, b, gy) if a is not None])
    plan = target.plan_conv2d(x.shape, w.shape, dtype, **kwargs)
    plan.forward(x, w, b)
    plan.backward(gy, x, w)


def _draw_pool_plan(d, target):
    kind = d.choice(["max", "avg"], "kind")
    p = _pool(d, 2, kind)
    out, idx = (
        fastconv.max_pool2d(*_zeros(p.x_shape), p.K, return_indices=True, **p.kwargs)
        if kind == "max"
        else (fastconv.avg_pool2d(*_zeros(p.x_shape), p.K, **p.kwargs), None)
    )
    x, gy = d.floats(p.x_shape, "x"), d.floats(out.shape, "grad_out")
    indices = d.lay_out(idx, "indices") if idx is not None and d.bool("indices") else None
    return Call((kind, x, gy, indices, p.K), p.kwargs)


def _call_pool_plan(target, call):
    # built from shapes; its forward and backward take the arrays
    kind, x, gy, indices, K = call.args
    kwargs = dict(call.kwargs)
    layout = kwargs.pop("layout")
    plan = target.plan_pool2d(kind, x.shape, x.dtype, K, layout=layout, **kwargs)
    plan.forward(x, return_indices=kind == "max")
    plan.backward(gy, x, indices)


#: The public numpy API: run on fastconv, and on fastconv.naive for the names
#: it has (every one but those in NAIVE_LACKS).
API = [
    Entry("conv1d", _conv_forward(1)),
    Entry("conv1d_backward", _conv_backward(1)),
    Entry("conv2d", _conv_forward(2)),
    Entry("conv2d_backward", _conv_backward(2)),
    Entry("conv3d", _conv_forward(3)),
    Entry("conv3d_backward", _conv_backward(3)),
    Entry("conv_transpose1d", _conv_forward(1, transposed=True)),
    Entry("conv_transpose1d_backward", _conv_backward(1, transposed=True)),
    Entry("conv_transpose2d", _conv_forward(2, transposed=True)),
    Entry("conv_transpose2d_backward", _conv_backward(2, transposed=True)),
    Entry("conv_transpose3d", _conv_forward(3, transposed=True)),
    Entry("conv_transpose3d_backward", _conv_backward(3, transposed=True)),
    Entry("max_pool1d", _pool_forward(1, "max")),
    Entry("max_pool1d_backward", _pool_backward(1, "max")),
    Entry("max_pool2d", _pool_forward(2, "max")),
    Entry("max_pool2d_backward", _pool_backward(2, "max")),
    Entry("max_pool3d", _pool_forward(3, "max")),
    Entry("max_pool3d_backward", _pool_backward(3, "max")),
    Entry("avg_pool1d", _pool_forward(1, "avg")),
    Entry("avg_pool1d_backward", _pool_backward(1, "avg")),
    Entry("avg_pool2d", _pool_forward(2, "avg")),
    Entry("avg_pool2d_backward", _pool_backward(2, "avg")),
    Entry("avg_pool3d", _pool_forward(3, "avg")),
    Entry("avg_pool3d_backward", _pool_backward(3, "avg")),
    Entry("adaptive_avg_pool1d", _adaptive_forward(1, "avg")),
    Entry("adaptive_avg_pool1d_backward", _adaptive_backward(1, "avg")),
    Entry("adaptive_avg_pool2d", _adaptive_forward(2, "avg")),
    Entry("adaptive_avg_pool2d_backward", _adaptive_backward(2, "avg")),
    Entry("adaptive_avg_pool3d", _adaptive_forward(3, "avg")),
    Entry("adaptive_avg_pool3d_backward", _adaptive_backward(3, "avg")),
    Entry("adaptive_max_pool1d", _adaptive_forward(1, "max")),
    Entry("adaptive_max_pool1d_backward", _adaptive_backward(1, "max")),
    Entry("adaptive_max_pool2d", _adaptive_forward(2, "max")),
    Entry("adaptive_max_pool2d_backward", _adaptive_backward(2, "max")),
    Entry("adaptive_max_pool3d", _adaptive_forward(3, "max")),
    Entry("adaptive_max_pool3d_backward", _adaptive_backward(3, "max")),
    Entry("im2col", _draw_im2col),  # every rank: 3-D, 4-D and 5-D x
    Entry("col2im", _draw_col2im),
    Entry("unfold", _draw_unfold),
    Entry("fold", _draw_fold),
    Entry("plan_conv2d", _draw_plan, _call_plan),
    Entry("plan_pool2d", _draw_pool_plan, _call_pool_plan),
]
NAIVE_LACKS = {"unfold", "fold", "plan_conv2d", "plan_pool2d"}


# --------------------------------------------------------------------------
# fastconv.compat: the course functions, their caches as inputs of the backward


def _cs231n_conv(d):
    N, C, F = d.int(1, 2, "N"), d.int(1, 3, "C"), d.int(1, 3, "F")
    HH, WW = d.int(1, 3, "HH"), d.int(1, 3, "WW")
    conv_param = {"stride": d.int(1, 2, "stride"), "pad": d.int(0, 2, "pad")}
    pad = conv_param["pad"]
    H = d.int(max(1, HH - 2 * pad), max(1, HH - 2 * pad) + 3, "H")
    W = d.int(max(1, WW - 2 * pad), max(1, WW - 2 * pad) + 3, "W")
    return (N, C, H, W), (F, C, HH, WW), F, conv_param


def _draw_cs231n_conv_forward(d, target):
    x_shape, w_shape, F, conv_param = _cs231n_conv(d)
    x, w, b = d.floats(x_shape, "x"), d.floats(w_shape, "w"), d.floats((F,), "b")
    return Call((x, w, b, conv_param), {})


def _draw_cs231n_conv_backward(d, target):
    x_shape, w_shape, F, conv_param = _cs231n_conv(d)
    out, _ = cs231n.conv_forward_fast(*_zeros(x_shape, w_shape, (F,)), conv_param)
    dout = d.floats(out.shape, "dout")
    x, w, b = d.floats(x_shape, "x"), d.floats(w_shape, "w"), d.floats((F,), "b")
    return Call((dout, (x, w, b, conv_param)), {})  # the forward's cache


def _cs231n_pool(d):
    ph, pw = d.int(1, 3, "pool_height"), d.int(1, 3, "pool_width")
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": d.int(1, 3, "stride")}
    x_shape = (d.int(1, 2, "N"), d.int(1, 3, "C"), d.int(ph, ph + 3, "H"))
    return x_shape + (d.int(pw, pw + 3, "W"),), pool_param


def _draw_cs231n_pool_forward(d, target):
    x_shape, pool_param = _cs231n_pool(d)
    return Call((d.floats(x_shape, "x"), pool_param), {})


def _draw_cs231n_pool_backward(d, target):
    x_shape, pool_param = _cs231n_pool(d)
    out, _ = cs231n.max_pool_forward_fast(*_zeros(x_shape), pool_param)
    dout, x = d.floats(out.shape, "dout"), d.floats(x_shape, "x")
    return Call((dout, (x, pool_param)), {})  # the forward's cache


def _dlai_conv(d):
    m, n_C_prev, n_C = d.int(1, 2, "m"), d.int(1, 3, "n_C_prev"), d.int(1, 3, "n_C")
    fh, fw = d.int(1, 3, "f"), d.int(1, 3, "f")
    hp = {"stride": d.int(1, 2, "stride"), "pad": d.int(0, 2, "pad")}
    lo_h, lo_w = max(1, fh - 2 * hp["pad"]), max(1, fw - 2 * hp["pad"])
    A_shape = (m, d.int(lo_h, lo_h + 3, "n_H_prev"), d.int(lo_w, lo_w + 3, "n_W_prev"))
    return A_shape + (n_C_prev,), (fh, fw, n_C_prev, n_C), (1, 1, 1, n_C), hp


def _draw_dlai_conv_forward(d, target):
    A_shape, W_shape, b_shape, hp = _dlai_conv(d)
    A, W = d.floats(A_shape, "A_prev"), d.floats(W_shape, "W")
    return Call((A, W, d.floats(b_shape, "b"), hp), {})


def _draw_dlai_conv_backward(d, target):
    A_shape, W_shape, b_shape, hp = _dlai_conv(d)
    Z, _ = dlai.conv_forward(*_zeros(A_shape, W_shape, b_shape), hp)
    dZ = d.floats(Z.shape, "dZ")
    A, W = d.floats(A_shape, "A_prev"), d.floats(W_shape, "W")
    return Call((dZ, (A, W, d.floats(b_shape, "b"), hp)), {})  # the forward's cache


def _dlai_pool(d):
    f = d.int(1, 3, "f")
    hp = {"f": f, "stride": d.int(1, 3, "stride")}
    A_shape = (d.int(1, 2, "m"), d.int(f, f + 3, "n_H_prev"), d.int(f, f + 3, "n_W_prev"))
    mode = d.choice(dlai.MODES, "mode")
    return A_shape + (d.int(1, 3, "n_C_prev"),), hp, mode


def _draw_dlai_pool_forward(d, target):
    A_shape, hp, mode = _dlai_pool(d)
    return Call((d.floats(A_shape, "A_prev"), hp), dict(mode=mode))


def _draw_dlai_pool_backward(d, target):
    A_shape, hp, mode = _dlai_pool(d)
    A, _ = dlai.pool_forward(*_zeros(A_shape), hp, mode)
    dA, A_prev = d.floats(A.shape, "dA"), d.floats(A_shape, "A_prev")
    return Call((dA, (A_prev, hp)), dict(mode=mode))  # the forward's cache


def _draw_zero_pad(d, target):
    X = d.floats(d.ints(4, 1, 3, "X shape"), "X")
    return Call((X, d.int(0, 2, "pad")), {})


def _draw_conv_single_step(d, target):
    shape = d.ints(3, 1, 3, "(f, f, n_C_prev)")
    a, W = d.floats(shape, "a_slice_prev"), d.floats(shape, "W")
    return Call((a, W, d.floats((1, 1, 1), "b")), {})


def _draw_create_mask_from_window(d, target):
    shape = d.ints(d.int(1, 3, "ndim"), 1, 3, "x shape")
    return Call((d.floats(shape, "x"),), {})


def _draw_distribute_value(d, target):
    dz = d.floats(d.choice([(), (1,), (1, 1)], "dz shape"), "dz")
    return Call((dz, d.ints(2, 1, 3, "shape")), {})


COMPAT = {
    cs231n: [
        Entry("conv_forward_naive", _draw_cs231n_conv_forward),
        Entry("conv_backward_naive", _draw_cs231n_conv_backward),
        Entry("max_pool_forward_naive", _draw_cs231n_pool_forward),
        Entry("max_pool_backward_naive", _draw_cs231n_pool_backward),
        Entry("conv_forward_fast", _draw_cs231n_conv_forward),
        Entry("conv_backward_fast", _draw_cs231n_conv_backward),
        Entry("max_pool_forward_fast", _draw_cs231n_pool_forward),
        Entry("max_pool_backward_fast", _draw_cs231n_pool_backward),
    ],
    dlai: [
        Entry("zero_pad", _draw_zero_pad),
        Entry("conv_single_step", _draw_conv_single_step),
        Entry("conv_forward", _draw_dlai_conv_forward),
        Entry("conv_backward", _draw_dlai_conv_backward),
        Entry("pool_forward", _draw_dlai_pool_forward),
        Entry("pool_backward", _draw_dlai_pool_backward),
        Entry("create_mask_from_window", _draw_create_mask_from_window),
        Entry("distribute_value", _draw_distribute_value),
    ],
}


# --------------------------------------------------------------------------
# fastconv.nn: a layer's forward then backward; the inputs are x, grad_out and
# the layer's parameters (only the optimisers change parameters)


def _forward_backward(target, call):
    layer, x, grad_out = call.args
    layer.forward(x)
    layer.backward(grad_out)


def _layer_call(d, make, x_shape):
    """A fresh layer from `make`, a drawn x, and a grad_out of the output's shape."""
    x = d.floats(x_shape, "x")
    # the output's shape from a twin (same seed): the layer under test runs once
    out = make().forward(np.zeros(x_shape, d.dtype))
    return Call((make(), x, d.floats(out.shape, "grad_out")), {})


def _nn_conv(cls, rank, transposed=False):
    modes = rank < 3 and not transposed

    def draw(d, target):
        p = _conv(d, rank, transposed=transposed, padding_mode=modes)
        C, F = p.x_shape[1 if _channels_first(p.kwargs["layout"]) else -1], p.F
        kwargs = dict(p.kwargs, bias=d.bool("bias"), dtype=d.dtype, backend=target)
        kwargs["rng"] = d.int(0, 2**16, "layer seed")
        return _layer_call(d, functools.partial(cls, C, F, p.K, **kwargs), p.x_shape)

    return Entry(cls.__name__, draw, _forward_backward)


def _nn_pool(cls, rank, kind):
    def draw(d, target):
        p = _pool(d, rank, kind)
        kwargs = dict(p.kwargs, backend=target)
        kwargs.pop("divisor_override", None)  # not a layer argument
        return _layer_call(d, functools.partial(cls, p.K, **kwargs), p.x_shape)

    return Entry(cls.__name__, draw, _forward_backward)


def _nn_adaptive(cls, rank):
    def draw(d, target):
        x_shape, output_size, layout = _adaptive(d, rank)
        make = functools.partial(cls, output_size, layout=layout, backend=target)
        return _layer_call(d, make, x_shape)

    return Entry(cls.__name__, draw, _forward_backward)


def _any_shape(d, min_ndim=1):
    return d.ints(d.int(min_ndim, 4, "ndim"), 1, 3, "shape")


def _draw_relu(d, target):
    return _layer_call(d, nn.ReLU, _any_shape(d))


def _draw_flatten(d, target):
    return _layer_call(d, nn.Flatten, _any_shape(d, 2))


def _draw_linear(d, target):
    n_in, n_out = d.int(1, 4, "in_features"), d.int(1, 4, "out_features")
    make = functools.partial(
        nn.Linear, n_in, n_out, d.bool("bias"), dtype=d.dtype, rng=d.int(0, 99, "seed")
    )
    return _layer_call(d, make, (d.int(1, 3, "N"), n_in))


def _draw_dropout(d, target):
    p, training = d.choice([0.0, 0.5], "p"), d.bool("training")
    seed = d.int(0, 99, "layer seed")

    def make():
        return nn.Dropout(p, rng=seed).train(training)

    return _layer_call(d, make, _any_shape(d))


def _draw_sequential(d, target):
    layout = d.choice(LAYOUTS, "layout")
    N, C, F, H, W = d.ints(5, 1, 3, "N, C, F, H, W")
    H, W, classes, seed = H + 1, W + 1, d.int(1, 3, "classes"), d.int(0, 99, "seed")
    kw = dict(layout=layout, backend=target)

    def make():
        return nn.Sequential(
            nn.Conv2d(C, F, 3, padding="same", dtype=d.dtype, rng=seed, **kw),
            nn.ReLU(),
            nn.MaxPool2d(2, **kw),
            nn.Flatten(),
            nn.Linear(F * (H // 2) * (W // 2), classes, dtype=d.dtype, rng=seed),
            nn.Dropout(0.5, rng=seed),
        )

    return _layer_call(d, make, _shape(layout, N, C, (H, W)))


def _draw_cross_entropy(d, target):
    N, K = d.int(1, 3, "N"), d.int(1, 4, "K")
    logits = d.floats((N, K), "logits")
    labels = d.lay_out(d.gen.integers(0, K, N), "labels")
    return Call((nn.SoftmaxCrossEntropy(), logits, labels), {})


def _call_cross_entropy(target, call):
    loss, logits, labels = call.args
    loss.forward(logits, labels)
    loss.backward()


def _draw_softmax(d, target):
    return Call((d.floats(d.ints(2, 1, 4, "(N, K)"), "logits"),), {})


#: layers with a `backend` (run on fastconv and on fastconv.naive) ...
NN_BACKEND = [
    _nn_conv(nn.Conv1d, 1),
    _nn_conv(nn.Conv2d, 2),
    _nn_conv(nn.Conv3d, 3),
    _nn_conv(nn.ConvTranspose1d, 1, transposed=True),
    _nn_conv(nn.ConvTranspose2d, 2, transposed=True),
    _nn_conv(nn.ConvTranspose3d, 3, transposed=True),
    _nn_pool(nn.MaxPool1d, 1, "max"),
    _nn_pool(nn.MaxPool2d, 2, "max"),
    _nn_pool(nn.MaxPool3d, 3, "max"),
    _nn_pool(nn.AvgPool1d, 1, "avg"),
    _nn_pool(nn.AvgPool2d, 2, "avg"),
    _nn_pool(nn.AvgPool3d, 3, "avg"),
    _nn_adaptive(nn.AdaptiveAvgPool1d, 1),
    _nn_adaptive(nn.AdaptiveAvgPool2d, 2),
    _nn_adaptive(nn.AdaptiveAvgPool3d, 3),
    _nn_adaptive(nn.AdaptiveMaxPool1d, 1),
    _nn_adaptive(nn.AdaptiveMaxPool2d, 2),
    _nn_adaptive(nn.AdaptiveMaxPool3d, 3),
    Entry("Sequential", _draw_sequential, _forward_backward),
]
#: ... and the rest, plain numpy
NN_PLAIN = [
    Entry("ReLU", _draw_relu, _forward_backward),
    Entry("Flatten", _draw_flatten, _forward_backward),
    Entry("Linear", _draw_linear, _forward_backward),
    Entry("Dropout", _draw_dropout, _forward_backward),
    Entry("SoftmaxCrossEntropy", _draw_cross_entropy, _call_cross_entropy),
    Entry("softmax", _draw_softmax),
]


# --------------------------------------------------------------------------
# the check


def _arrays(value, path):
    """(path, array) of every ndarray in a call's arguments, layers' parameters too."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _arrays(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _arrays(v, f"{path}[{k!r}]")
    elif isinstance(value, nn.Layer):
        for name, param, _ in value.named_parameters():
            yield f"{path}.params[{name!r}]", param


def _signature(a):
    flags = (a.flags.c_contiguous, a.flags.f_contiguous, a.flags.writeable)
    return a.dtype, a.shape, a.strides, flags, a.__array_interface__["data"][0]


def _root(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def snapshot(call):
    """Copies of every input array of `call`, and of the array each is a view of."""
    records = []
    arrays = [*_arrays(call.args, "args"), *_arrays(call.kwargs, "kwargs")]
    for path, a in arrays:
        # a read-only input would make a write raise instead of showing here
        assert a.flags.writeable, f"{path} is read-only: the strategy must not do that"
        root = _root(a)
        root_copy = None if root is a else root.copy()
        records.append((path, a, a.copy(), _signature(a), root, root_copy))
    return records


def _same(a, before):
    """Equal values (NaN equal to NaN) and equal bits: -0.0 is not 0.0."""
    return np.array_equal(a, before, equal_nan=True) and a.tobytes() == before.tobytes()


def _changes(a, before):
    """The first few flat indices whose bits differ, with the values before and after."""
    if a.size == 0:
        return "(empty)"
    bits = np.frombuffer(a.tobytes(), np.uint8).reshape(a.size, -1)
    old = np.frombuffer(before.tobytes(), np.uint8).reshape(a.size, -1)
    where = np.flatnonzero((bits != old).any(axis=1))
    flat, flat_before = a.reshape(-1), before.reshape(-1)
    shown = ", ".join(f"[{i}] {flat_before[i]!r} -> {flat[i]!r}" for i in where[:5])
    return f"{len(where)} of {a.size} entries changed: {shown}"


def assert_unchanged(what, records):
    for path, a, before, signature, root, root_before in records:
        assert _signature(a) == signature, (
            f"{what} changed {path}'s dtype, shape, strides or flags: "
            f"{signature} -> {_signature(a)}"
        )
        assert _same(a, before), f"{what} modified {path}: {_changes(a, before)}"
        if root_before is not None:
            assert _same(root, root_before), (
                f"{what} wrote into the array that {path} is a view of, outside "
                f"the view: {_changes(root, root_before)}"
            )


def _describe(value):
    if isinstance(value, np.ndarray):
        order = (
            "C" if value.flags.c_contiguous else "F" if value.flags.f_contiguous else "-"
        )
        return f"array({value.shape}, {value.dtype}, strides={value.strides}, {order})"
    if isinstance(value, tuple):
        return (
            "(" + ", ".join(_describe(v) for v in value) + ("," * (len(value) == 1)) + ")"
        )
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _target_name(target):
    return target.__name__.replace("fastconv.compat.", "")


CASES = (
    [pytest.param(fastconv, e, id=f"fastconv.{e.name}") for e in API]
    + [
        pytest.param(naive, e, id=f"naive.{e.name}")
        for e in API
        if e.name not in NAIVE_LACKS
    ]
    + [
        pytest.param(module, e, id=f"{_target_name(module)}.{e.name}")
        for module, entries in COMPAT.items()
        for e in entries
    ]
    + [
        pytest.param(backend, e, id=f"nn.{e.name}[{_target_name(backend)}]")
        for e in NN_BACKEND
        for backend in (fastconv, naive)
    ]
    + [pytest.param(nn, e, id=f"nn.{e.name}") for e in NN_PLAIN]
)


# numba compiles on first use and the kernels are cached on disk: after that
# an example takes milliseconds, and each of the 125 cases runs the profile's
# number of them. The NaN and inf among the values make numpy warn.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("target, entry", CASES)
@given(data=st.data())
def test_inputs_are_left_bitwise_unchanged(target, entry, data):
    call = entry.draw(Draw(data), target)
    records = snapshot(call)
    note(f"{entry.name}(*{_describe(call.args)}, **{_describe(call.kwargs)})")
    entry.run(target, call)
    assert_unchanged(entry.name, records)


# --------------------------------------------------------------------------
# the tables are complete: a new public function cannot be left out

#: public names of fastconv that take no arrays, or are run under another entry
NOT_ARRAY_FUNCTIONS = {
    # settings, and the context managers that set them for a block
    "DEFAULT_WORKSPACE_LIMIT",
    "get_workspace_limit",
    "set_workspace_limit",
    "workspace_limit",
    "release_workspace",
    "get_num_threads",
    "set_num_threads",
    "autotune",
    "get_autotune",
    "set_autotune",
    # built by plan_conv2d and plan_pool2d from shapes: their entries run
    # forward and backward
    "ConvPlan",
    "PoolPlan",
    "PreparedWeight",  # made by ConvPlan.prepare_weight: tests/test_engine.py
    # shapes in, shapes out (result_type reads dtypes only), and names
    "conv_output_shape",
    "conv_transpose_output_shape",
    "pool_output_shape",
    "adaptive_pool_output_shape",
    "conv_geometry",
    "conv_transpose_geometry",
    "pool_geometry",
    "Geometry",
    "Axis",
    "result_type",
    "ALGORITHMS",
    "PADDING_MODES",
    # times the calls made inside its block
    "record_phases",
    # times its own arrays (a dtype in, a rate out)
    "fma_peak",
    # the lazily loaded subpackages, each with its table (naive runs API)
    "naive",
    "compat",
    "nn",
    # the grader: it takes a user's module and makes up its own arrays
    "check",
}

#: public names of fastconv.nn that are no layer to run forward and backward
NN_NOT_LAYERS = {
    "Layer",  # the base class: its forward and backward raise NotImplementedError
    "SGD",  # the optimisers update the parameters in place: that is their job
    "Adam",
}


def test_every_public_array_function_is_in_the_table():
    public = set(fastconv.__all__)
    assert NOT_ARRAY_FUNCTIONS <= public  # no stale exclusion
    names = [e.name for e in API]
    assert len(names) == len(set(names))
    assert set(names) == public - NOT_ARRAY_FUNCTIONS


def test_every_naive_function_is_in_the_table():
    assert set(naive.__all__) == {e.name for e in API} - NAIVE_LACKS


def test_every_compat_function_is_in_the_table():
    assert set(fastconv.compat.__all__) == {m.__name__.split(".")[-1] for m in COMPAT}
    for module, entries in COMPAT.items():
        assert set(module.__all__) == {e.name for e in entries}, module.__name__


def test_every_nn_layer_is_in_the_table():
    assert NN_NOT_LAYERS <= set(nn.__all__)
    names = {e.name for e in NN_BACKEND + NN_PLAIN}
    assert names == set(nn.__all__) - NN_NOT_LAYERS
    # the layers that take a backend run on both
    on_both = {e.name for e in NN_BACKEND}
    for name in names:
        takes_backend = "backend" in inspect.signature(getattr(nn, name)).parameters
        assert not takes_backend or name in on_both, name


# --------------------------------------------------------------------------
# the check itself sees a write into any input, whatever its memory layout


def _write(a, kind):
    first = (0,) * a.ndim
    if kind == "value":
        a[first] += 1
    elif kind == "-0.0 over 0.0":  # equal values, other bits
        a[first] = -0.0
    else:  # "outside the view": the first element of the buffer, not in the view
        _root(a).reshape(-1)[0] += 1


# every memory layout but another dtype (which is a plain C-contiguous array)
# with a write in the array, and the strided view with one next to it
WRITES = [(m, k) for m in MEMORY[:4] for k in ("value", "-0.0 over 0.0")]
WRITES += [("strided", "outside the view")]


@pytest.mark.parametrize("memory, kind", WRITES)
def test_the_check_sees_every_write(memory, kind):
    a = _in_memory(np.zeros((2, 3), np.float32), memory, rng(0))
    records = snapshot(Call((a,), {}))
    _write(a, kind)
    message = "outside the view" if kind == "outside the view" else "modified args"
    with pytest.raises(AssertionError, match=message):
        assert_unchanged("write", records)
