"""The fast path against torch.nn.functional and torch autograd.

The second oracle of the style guide, held to the public API directly (the
oracle's own comparison with torch lives in test_naive.py), through every
convolution algorithm that applies to a case (forced) and "auto". Arrays are built
in fastconv's layout; for NHWC torch runs on permuted views, x (N, H, W, C) ->
(N, C, H, W) and weight (KH, KW, Cg, F) -> (F, Cg, KH, KW), and its results
are permuted back. float32 is computed by torch in float32, so both dtypes
are compared with the per-dtype tolerances of tests.helpers; data movement
(im2col, col2im, max-pool selection) exactly.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
from tests.helpers import (
    DTYPES,
    LAYOUTS,
    algorithms_for,
    assert_close,
    assert_same,
    randn,
    rng,
)

torch = pytest.importorskip(
    "torch",
    reason="PyTorch not installed: pip install torch==2.13.0 to cross-check "
    "against torch.nn.functional",
)
F = torch.nn.functional

# torch picks its max-pool kernel by memory format: both must agree with fastconv
MEMORY_FORMATS = {
    "contiguous": torch.contiguous_format,
    "channels_last": torch.channels_last,
}

# torch's padding="same" with an even kernel warns that it may copy the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


# --------------------------------------------------------------------------
# plumbing, written here and not taken from fastconv


def pair(v):
    """An int or a pair as a pair."""
    return (v, v) if isinstance(v, int) else tuple(v)


def tf_same(size, k, s, d):
    """TensorFlow's "same" padding (before, after) along one axis."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def explicit_pads(padding, hw, k, s, d):
    """Any of fastconv's padding forms as (top, bottom, left, right)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        (kh, kw), (sh, sw), (dh, dw) = pair(k), pair(s), pair(d)
        return tf_same(hw[0], kh, sh, dh) + tf_same(hw[1], kw, sw, dw)
    if isinstance(padding, tuple) and len(padding) == 4:
        return padding
    ph, pw = pair(padding)
    return (ph, ph, pw, pw)


def torch_pad(t, pads, value=0.0):
    """F.pad of an (N, C, H, W) tensor by (top, bottom, left, right)."""
    top, bottom, left, right = pads
    return F.pad(t, (left, right, top, bottom), value=value)


def leaf(a, grad=False):
    """A torch leaf tensor holding a copy of `a`, in a's dtype."""
    return torch.tensor(np.ascontiguousarray(a), requires_grad=grad)


def to_nchw(t, layout):
    """The layout's x-shaped tensor as (N, C, H, W)."""
    return t if layout == "NCHW" else t.permute(0, 3, 1, 2)  # (N, C, H, W)


def from_nchw(t, layout):
    """An (N, C, H, W) tensor in the layout's shape."""
    return t if layout == "NCHW" else t.permute(0, 2, 3, 1)  # (N, H, W, C)


def weight_to_torch(t, layout):
    """The layout's weight tensor as torch's (F, Cg, KH, KW)."""
    return t if layout == "NCHW" else t.permute(3, 2, 0, 1)  # (F, Cg, KH, KW)


def dense(t, memory_format=torch.contiguous_format):
    """A copy of `t` with the canonical strides of `memory_format`, in the graph.

    torch 2.13 misbehaves on permuted views whose strides fit two formats
    (a size-1 C, H or W): its float32 conv2d returns wrong values (x NHWC
    (2, 9, 3, 1), weight (2, 3, 1, 2), stride (1, 2), dilation (3, 1)), segfaults
    with a bias (x NHWC (2, 6, 1, 6), weight (1, 2, 2, 6), groups 3, stride
    (3, 2), padding 3, dilation (1, 2)) or refuses to backprop ("slow_conv2d:
    grad_weight must be contiguous"). ``.contiguous()`` keeps such strides.
    """
    return t.clone(memory_format=memory_format)


def to_numpy(t):
    """The values of a tensor, out of the graph."""
    return t.detach().numpy()


def backprop(y, gy):
    """Autograd of (y * gy).sum(): the gradients fastconv's backward returns."""
    (y * leaf(gy)).sum().backward()


# --------------------------------------------------------------------------
# convolution

# (id, N, C, H, W, F, KH, KW, stride, padding, dilation, groups): why it is here
CONV_CASES = [
    ("basic-3x3", 2, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1),  # the common layer
    ("no-padding", 2, 3, 6, 5, 2, 3, 3, 1, 0, 1, 1),
    ("pointwise", 2, 5, 4, 6, 3, 1, 1, 1, 0, 1, 1),  # 1x1: no im2col
    ("pointwise-s2", 2, 4, 5, 5, 3, 1, 1, 2, 0, 1, 1),  # 1x1 that subsamples
    ("pointwise-pad", 1, 3, 3, 4, 2, 1, 1, 1, 1, 1, 1),  # border sees only bias
    ("pointwise-groups", 2, 4, 3, 3, 6, 1, 1, 1, 0, 1, 2),  # 1x1 path with groups
    ("stride>kernel", 2, 2, 9, 9, 3, 2, 2, 3, 0, 1, 1),  # skipped pixels: zero grad
    ("pad=kernel-1", 1, 2, 4, 5, 2, 3, 3, 1, 2, 1, 1),  # "full" convolution
    ("not-divisible", 2, 3, 8, 7, 2, 3, 2, 3, 1, 1, 1),  # H, W % stride != 0
    # non-square everything, with torch's own pair padding
    ("non-square-pair", 2, 2, 5, 9, 3, 2, 4, (1, 2), (1, 0), (2, 1), 1),
    ("groups-2", 2, 4, 6, 5, 6, 3, 3, 2, 1, 1, 2),
    ("depthwise", 2, 4, 6, 6, 4, 3, 3, 1, 1, 1, 4),  # groups = C
    ("depthwise-x2", 1, 3, 5, 6, 6, 3, 3, 2, 1, 1, 3),  # groups = C, 2 filters each
    ("dilated", 1, 2, 9, 9, 2, 3, 3, 2, 1, 3, 1),
    ("valid", 2, 2, 6, 6, 2, 3, 3, 1, "valid", 1, 1),  # torch's own "valid"
    ("same", 2, 3, 6, 7, 4, 3, 3, 1, "same", 1, 1),  # torch's own "same"
    ("same-even-kernel", 1, 2, 6, 6, 2, 4, 2, 1, "same", 1, 1),  # odd pixel bottom/right
    ("same-dilated", 1, 2, 7, 6, 3, 3, 3, 1, "same", 2, 1),
    ("same-stride2", 2, 3, 7, 8, 4, 3, 3, 2, "same", 1, 1),  # torch refuses: F.pad
    ("same-stride-pair", 1, 2, 7, 6, 3, 3, 2, (2, 3), "same", 1, 1),
    ("same-needs-none", 1, 2, 6, 6, 2, 2, 2, 3, "same", 1, 1),  # total padding 0
    ("same-groups", 2, 4, 6, 5, 6, 3, 3, 2, "same", 1, 2),
    ("four-tuple", 2, 2, 5, 5, 2, 3, 3, 1, (2, 0, 1, 3), 1, 1),  # asymmetric: F.pad
    ("four-tuple-strided", 1, 3, 6, 7, 2, 2, 3, 2, (0, 1, 2, 0), (1, 2), 1),
    ("kernel=input", 2, 3, 4, 4, 5, 4, 4, 1, 0, 1, 1),  # a single output pixel
    ("empty-batch", 0, 3, 5, 5, 2, 3, 3, 1, 1, 1, 1),  # torch accepts N = 0 too
    ("single-pixel", 3, 1, 1, 1, 2, 1, 1, 1, 0, 1, 1),
    ("wide", 2, 16, 10, 10, 8, 3, 3, 1, 1, 1, 1),  # long float32 sums
    # previously failed, in torch: NHWC views with a size-1 axis (see dense)
    ("size-1-C", 2, 1, 9, 3, 2, 2, 3, (1, 2), "valid", (3, 1), 1),
    ("size-1-W", 2, 6, 6, 1, 6, 1, 2, (3, 2), 3, (1, 2), 3),
]


def _ids(cases):
    return [c[0] for c in cases]


def _conv_problem(case, layout, dtype, seed=0):
    _, N, C, H, W, nf, KH, KW, stride, padding, dilation, groups = case
    g = rng(seed)
    if layout == "NCHW":
        x = randn(g, (N, C, H, W), dtype)
        w = randn(g, (nf, C // groups, KH, KW), dtype)
    else:
        x = randn(g, (N, H, W, C), dtype)
        w = randn(g, (KH, KW, C // groups, nf), dtype)
    b = randn(g, (nf,), dtype)
    kw = dict(
        stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout
    )
    return x, w, b, kw


def torch_conv(x, w, b, stride, padding, dilation, groups, layout):
    """torch's conv2d of the layout's arrays: (y in the layout, (tx, tw, tb) leaves).

    int, pair, "valid" and stride-1 "same" are passed to torch as they are;
    4-tuples and strided "same" (which torch refuses) become an F.pad.
    """
    tx, tw = leaf(x, True), leaf(w, True)
    tb = None if b is None else leaf(b, True)
    xt = dense(to_nchw(tx, layout))  # (N, C, H, W)
    wt = dense(weight_to_torch(tw, layout))  # (F, Cg, KH, KW)
    strided_same = padding == "same" and pair(stride) != (1, 1)
    if strided_same or (isinstance(padding, tuple) and len(padding) == 4):
        pads = explicit_pads(padding, xt.shape[2:], wt.shape[2:], stride, dilation)
        xt, padding = torch_pad(xt, pads), 0
    y = F.conv2d(
        xt, wt, tb, stride=stride, padding=padding, dilation=dilation, groups=groups
    )
    return from_nchw(y, layout), (tx, tw, tb)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CONV_CASES, ids=_ids(CONV_CASES))
def test_conv2d_matches_torch(case, layout, dtype):
    x, w, b, kw = _conv_problem(case, layout, dtype)
    for bias in (b, None):
        y, _ = torch_conv(x, w, bias, **kw)
        # every algorithm that applies, forced, and "auto"
        for alg in algorithms_for(x.shape, w.shape, kw):
            assert_close(fastconv.conv2d(x, w, bias, algorithm=alg, **kw), to_numpy(y))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CONV_CASES, ids=_ids(CONV_CASES))
def test_conv2d_backward_matches_torch_autograd(case, layout, dtype):
    x, w, b, kw = _conv_problem(case, layout, dtype)
    y, (tx, tw, tb) = torch_conv(x, w, b, **kw)
    gy = randn(rng(1), tuple(y.shape), dtype)
    backprop(y, gy)
    for alg in algorithms_for(x.shape, w.shape, kw):
        gx, gw, gb = fastconv.conv2d_backward(gy, x, w, algorithm=alg, **kw)
        assert_close(gx, tx.grad.numpy())
        assert_close(gw, tw.grad.numpy())
        assert_close(gb, tb.grad.numpy())


PAD_MODES = ["int", "pair", "four", "valid", "same"]


@st.composite
def conv_problems(draw):
    layout = draw(st.sampled_from(LAYOUTS))
    dtype = draw(st.sampled_from(DTYPES))
    groups = draw(st.integers(1, 3))
    C, nf = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    N = draw(st.integers(0, 2))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    mode = draw(st.sampled_from(PAD_MODES))
    if mode == "int":
        padding = draw(st.integers(0, 3))
    elif mode == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    elif mode == "four":
        padding = tuple(draw(st.integers(0, 3)) for _ in range(4))
    else:
        padding = mode
    # the padded input must hold one window ("same" always pads enough)
    t, b, lf, rt = explicit_pads(padding, (1, 1), (KH, KW), stride, dilation)
    keh, kew = (KH - 1) * dilation[0] + 1, (KW - 1) * dilation[1] + 1
    lo_h = 1 if mode == "same" else max(1, keh - t - b)
    lo_w = 1 if mode == "same" else max(1, kew - lf - rt)
    H, W = draw(st.integers(lo_h, lo_h + 6)), draw(st.integers(lo_w, lo_w + 6))
    case = ("drawn", N, C, H, W, nf, KH, KW, stride, padding, dilation, groups)
    return _conv_problem(case, layout, dtype, seed=draw(st.integers(0, 2**16)))


@settings(max_examples=40)  # deadline, health checks, derandomizing: the loaded profile
@given(conv_problems())
def test_conv2d_property_matches_torch(problem):
    x, w, b, kw = problem
    y, (tx, tw, tb) = torch_conv(x, w, b, **kw)
    gy = randn(rng(2), tuple(y.shape), x.dtype)
    backprop(y, gy)
    for alg in algorithms_for(x.shape, w.shape, kw):
        assert_close(fastconv.conv2d(x, w, b, algorithm=alg, **kw), to_numpy(y))
        got = fastconv.conv2d_backward(gy, x, w, algorithm=alg, **kw)
        for g, t in zip(got, (tx, tw, tb)):
            assert_close(g, t.grad.numpy())


# --------------------------------------------------------------------------
# max pooling

# (id, N, C, H, W, kernel, stride, padding, dilation, ceil_mode): why it is here
POOL_CASES = [
    ("2s2", 2, 3, 8, 8, 2, None, 0, 1, False),  # the common pool, stride=None
    ("3s2-pad", 2, 3, 9, 9, 3, 2, 1, 1, False),  # overlapping, padded
    ("overlap-s1", 1, 2, 6, 7, 3, 1, 0, 1, False),  # a pixel in up to 9 windows
    ("non-tiling", 2, 2, 7, 5, 2, 2, 0, 1, False),  # last row/col dropped
    ("ceil", 2, 2, 7, 5, 2, 2, 0, 1, True),  # ...or kept, partial
    ("ceil-drop", 1, 2, 3, 5, 2, 2, 1, 1, True),  # ceil window in padding
    ("ceil-pad", 1, 2, 5, 8, 3, 2, 1, 1, True),
    ("ceil-non-square", 1, 2, 4, 8, (3, 2), (2, 3), (1, 1), 1, True),
    ("stride>kernel", 1, 2, 9, 9, 2, 3, 0, 1, False),
    ("non-square", 2, 2, 6, 9, (2, 3), (1, 2), (1, 1), 1, False),
    ("kernel-1-s2", 1, 3, 5, 6, 1, 2, 0, 1, False),  # pure subsampling
    ("global", 2, 3, 4, 5, (4, 5), None, 0, 1, False),  # one window per plane
    ("empty-batch", 0, 3, 4, 4, 2, 2, 0, 1, False),  # torch accepts N = 0 too
    ("dilated", 1, 2, 9, 9, 3, 2, 1, 2, False),  # max only
    ("dilated-ceil", 2, 2, 9, 8, (3, 2), (2, 1), (1, 1), (2, 1), True),
    ("dilated-s1", 1, 2, 7, 7, 2, 1, 1, 3, False),  # windows interleave
    # torch takes no 4-tuple or "same": these pad by hand (-inf for max, 0 for avg)
    ("same", 2, 2, 7, 6, 3, 2, "same", 1, False),
    ("same-even", 1, 2, 5, 7, (2, 4), 1, "same", 1, False),  # odd pixel bottom/right
    ("same-dilated", 1, 2, 7, 6, 3, 1, "same", 2, False),  # pad 2 > torch's k//2
    ("four-tuple", 1, 2, 6, 6, 3, 2, (1, 0, 0, 1), 1, False),
]

AVG_CASES = [c for c in POOL_CASES if c[8] == 1]  # avg pooling has no dilation


def _native_pool_padding(padding):
    return isinstance(padding, int) or (isinstance(padding, tuple) and len(padding) == 2)


def _pool_x(case, layout, dtype, seed=0):
    _, N, C, H, W = case[:5]
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    # a permutation: no ties, so argmax and gradients are unambiguous
    vals = rng(seed).permutation(int(np.prod(shape))).astype(dtype)
    return vals.reshape(shape) / max(1, vals.size)


def _pool_kw(case):
    _, _, _, _, _, k, s, p, d, ceil = case
    return dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)


def _overlapping(kernel_size, stride, dilation):
    """Whether windows can overlap (then a pixel's gradient may be a sum)."""
    k, d = pair(kernel_size), pair(dilation)
    s = k if stride is None else pair(stride)
    return any(si < (ki - 1) * di + 1 for ki, si, di in zip(k, s, d))


def torch_max_pool(
    x, layout, memory_format, kernel_size, stride, padding, dilation, ceil_mode
):
    """torch's max_pool2d of x in the layout: (out, indices, leaf), in the layout.

    Paddings torch does not take become an F.pad with -inf and the indices are
    moved back from the padded plane to x's.
    """
    tx = leaf(x, True)
    xt = dense(to_nchw(tx, layout), MEMORY_FORMATS[memory_format])  # (N, C, H, W)
    H, W = xt.shape[2:]
    native = _native_pool_padding(padding)
    if not native:
        # with F.pad torch's ceil rule would count the padding as input
        assert not ceil_mode
        pads = explicit_pads(
            padding, (H, W), kernel_size, stride or kernel_size, dilation
        )
        xt, padding = torch_pad(xt, pads, -math.inf), 0
    out, idx = F.max_pool2d(
        xt, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True
    )
    if not native:
        Wp = xt.shape[3]
        idx = (idx // Wp - pads[0]) * W + (idx % Wp - pads[2])  # h*W + w in x
    return from_nchw(out, layout), from_nchw(idx, layout), tx


@pytest.mark.parametrize("memory_format", list(MEMORY_FORMATS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", POOL_CASES, ids=_ids(POOL_CASES))
def test_max_pool2d_matches_torch(case, layout, dtype, memory_format):
    x = _pool_x(case, layout, dtype)
    kw = _pool_kw(case)
    t_out, t_idx, tx = torch_max_pool(x, layout, memory_format, **kw)
    out, idx = fastconv.max_pool2d(x, return_indices=True, layout=layout, **kw)
    assert_same(out, to_numpy(t_out))
    assert_same(idx, t_idx.numpy())
    assert_same(fastconv.max_pool2d(x, layout=layout, **kw), to_numpy(t_out))

    gy = randn(rng(1), out.shape, dtype)
    backprop(t_out, gy)
    gx = fastconv.max_pool2d_backward(gy, x, layout=layout, **kw)
    if _overlapping(kw["kernel_size"], kw["stride"], kw["dilation"]):
        assert_close(gx, tx.grad.numpy())  # sums of a few grad_out entries
    else:
        assert_same(gx, tx.grad.numpy())  # each pixel gets one entry or nothing


# (kernel_size, stride, padding, dilation, ceil_mode): window shapes for tied values
TIE_GEOMETRIES = [
    (2, None, 0, 1, False),  # disjoint windows
    (3, 1, 1, 1, False),  # heavy overlap, padded
    (3, 2, 1, 2, True),  # dilated, ceil
    ((2, 3), (3, 2), (1, 1), 1, True),
    # no "same" or 4-tuple here: torch would see its F.pad -inf as input, and an
    # all -inf window would point into the padding
]


def _tied_x(layout, dtype, seed):
    """Ties, constant planes, NaN and -inf: every way a max can be ambiguous."""
    g = rng(seed)
    x = g.integers(0, 3, (2, 5, 7, 6)).astype(dtype)  # (N, C, H, W), many ties
    x[:, 0][g.random(x[:, 0].shape) < 0.15] = np.nan
    x[:, 0][g.random(x[:, 0].shape) < 0.15] = -np.inf
    x[:, 1] = 1.0  # one constant plane
    x[:, 2] = -np.inf  # every window all -inf
    x[:, 3] = np.nan  # every window all NaN
    x[:, 4] = -np.inf
    x[:, 4][g.random(x[:, 4].shape) < 0.2] = np.nan  # NaN among -inf
    return x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("memory_format", list(MEMORY_FORMATS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("seed", range(2))
def test_max_pool2d_ties_nan_inf_match_torch(seed, layout, dtype, memory_format):
    x = _tied_x(layout, dtype, seed)
    for k, s, p, d, ceil in TIE_GEOMETRIES:
        kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
        t_out, t_idx, tx = torch_max_pool(x, layout, memory_format, **kw)
        out, idx = fastconv.max_pool2d(x, return_indices=True, layout=layout, **kw)
        assert_same(out, to_numpy(t_out))  # NaN == NaN for assert_array_equal
        assert_same(idx, t_idx.numpy())

        gy = randn(rng(seed + 10), out.shape, dtype)
        backprop(t_out, gy)
        gx = fastconv.max_pool2d_backward(gy, x, layout=layout, **kw)
        if _overlapping(k, s, d):
            assert_close(gx, tx.grad.numpy())
        else:
            assert_same(gx, tx.grad.numpy())


# --------------------------------------------------------------------------
# average pooling


def torch_avg_pool(
    x,
    layout,
    kernel_size,
    stride,
    padding,
    ceil_mode,
    count_include_pad,
    divisor_override,
):
    """torch's avg_pool2d of x in the layout: (out in the layout, leaf).

    Paddings torch does not take become an F.pad with zeros; excluding the
    padding from the count then divides window sums by window counts of a
    zero-padded plane of ones (TensorFlow's "SAME" average).
    """
    tx = leaf(x, True)
    xt = dense(to_nchw(tx, layout))  # (N, C, H, W)
    if _native_pool_padding(padding):
        out = F.avg_pool2d(
            xt,
            kernel_size,
            stride,
            padding,
            ceil_mode,
            count_include_pad,
            divisor_override,
        )
        return from_nchw(out, layout), tx
    assert not ceil_mode  # with F.pad torch's ceil rule would count the padding
    pads = explicit_pads(padding, xt.shape[2:], kernel_size, stride or kernel_size, 1)
    sums = F.avg_pool2d(torch_pad(xt, pads), kernel_size, stride, divisor_override=1)
    if divisor_override is not None:
        out = sums / divisor_override
    elif count_include_pad:
        kh, kw = pair(kernel_size)
        out = sums / (kh * kw)
    else:
        ones = torch_pad(torch.ones_like(xt), pads)
        out = sums / F.avg_pool2d(ones, kernel_size, stride, divisor_override=1)
    return from_nchw(out, layout), tx


# (count_include_pad, divisor_override)
AVG_OPTIONS = [(True, None), (False, None), (True, 3), (False, 5)]


@pytest.mark.parametrize(
    "options", AVG_OPTIONS, ids=["include-pad", "exclude-pad", "divisor-3", "divisor-5"]
)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", AVG_CASES, ids=_ids(AVG_CASES))
def test_avg_pool2d_matches_torch(case, layout, dtype, options):
    x = randn(rng(2), _pool_x(case, layout, dtype).shape, dtype)
    kw = _pool_kw(case)
    del kw["dilation"]
    kw.update(count_include_pad=options[0], divisor_override=options[1])
    t_out, tx = torch_avg_pool(x, layout, **kw)
    assert_close(fastconv.avg_pool2d(x, layout=layout, **kw), to_numpy(t_out))

    gy = randn(rng(3), tuple(t_out.shape), dtype)
    backprop(t_out, gy)
    assert_close(
        fastconv.avg_pool2d_backward(gy, x, layout=layout, **kw), tx.grad.numpy()
    )


# --------------------------------------------------------------------------
# pooling property


@st.composite
def pool_problems(draw):
    layout = draw(st.sampled_from(LAYOUTS))
    dtype = draw(st.sampled_from(DTYPES))
    memory_format = draw(st.sampled_from(sorted(MEMORY_FORMATS)))
    N, C = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    # torch's limit: padding at most half the (undilated) kernel
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    ceil = draw(st.booleans())
    # a dilated kernel that fits x unpadded cannot have a window wholly in padding
    H, W = (
        draw(st.integers((ki - 1) * di + 1 if di > 1 else max(1, ki - 2 * pi), 9))
        for ki, di, pi in zip(k, d, p)
    )
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    g = rng(draw(st.integers(0, 2**16)))
    if draw(st.booleans()):
        x = g.integers(0, 3, shape).astype(dtype)  # ties everywhere
    else:
        x = (g.permutation(int(np.prod(shape))).astype(dtype) / 7).reshape(shape)
    geo = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil)
    return x, layout, memory_format, geo, d, g


@settings(max_examples=40)  # deadline, health checks, derandomizing: the loaded profile
@given(pool_problems(), st.booleans(), st.sampled_from([None, 1, 4]))
def test_pool_property_matches_torch(problem, include, divisor):
    x, layout, memory_format, geo, d, g = problem
    t_out, t_idx, tx = torch_max_pool(x, layout, memory_format, dilation=d, **geo)
    out, idx = fastconv.max_pool2d(
        x, dilation=d, return_indices=True, layout=layout, **geo
    )
    assert_same(out, to_numpy(t_out))
    assert_same(idx, t_idx.numpy())
    gy = randn(g, out.shape, x.dtype)
    backprop(t_out, gy)
    assert_close(
        fastconv.max_pool2d_backward(gy, x, dilation=d, layout=layout, **geo),
        tx.grad.numpy(),
    )

    akw = dict(geo, count_include_pad=include, divisor_override=divisor)
    t_out, tx = torch_avg_pool(x, layout, **akw)
    assert_close(fastconv.avg_pool2d(x, layout=layout, **akw), to_numpy(t_out))
    gy = randn(g, tuple(t_out.shape), x.dtype)
    backprop(t_out, gy)
    assert_close(
        fastconv.avg_pool2d_backward(gy, x, layout=layout, **akw), tx.grad.numpy()
    )


# --------------------------------------------------------------------------
# im2col and col2im against unfold and fold

# (id, N, C, H, W, kernel, stride, padding, dilation): why it is here
COLS_CASES = [
    ("plain", 2, 3, 5, 4, 2, 1, 0, 1),
    ("non-square", 1, 2, 7, 6, (3, 2), (2, 3), (1, 0), 1),
    ("dilation", 2, 2, 6, 7, 3, 1, (2, 1), (2, 3)),
    ("stride>kernel", 1, 1, 4, 4, 4, 5, 2, 1),  # one window, mostly padding
    ("pointwise", 2, 3, 4, 4, 1, 1, 0, 1),  # cols are x itself
    ("pointwise-s2", 1, 3, 5, 6, 1, 2, 0, 1),
    ("kernel=input", 2, 2, 3, 4, (3, 4), 1, 0, 1),  # a single column
    ("pad=kernel-1", 1, 2, 3, 3, 3, 1, 2, 1),
    ("same-stride2", 1, 2, 5, 6, (2, 3), 2, "same", 1),  # unfold has no "same"
    ("four-tuple", 2, 2, 4, 5, 3, (1, 2), (2, 0, 1, 3), (1, 2)),  # nor 4-tuples
    ("many-channels", 1, 7, 4, 3, 2, 1, 1, 1),  # NHWC copies runs of C
    ("empty-batch", 0, 2, 5, 4, 2, 1, 1, 1),  # torch accepts N = 0 too
]


def _unfold_padding(padding, hw, k, s, d):
    """(padding for unfold/fold, (top, bottom, left, right) to F.pad first)."""
    if _native_pool_padding(padding):
        return padding, (0, 0, 0, 0)
    return 0, explicit_pads(padding, hw, k, s, d)


def _nchw_cols_to_nhwc(t, N, C, KK):
    """torch.unfold's (N, C*KK, L) columns in fastconv's NHWC order (N, L, KK*C)."""
    L = t.shape[2]
    t = t.reshape(N, C, KK, L)  # (N, C, KH*KW, L)
    t = t.permute(0, 3, 2, 1)  # (N, L, KH*KW, C)
    return t.reshape(N, L, KK * C)  # (N, L, KH*KW*C)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", COLS_CASES, ids=_ids(COLS_CASES))
def test_im2col_matches_torch_unfold(case, layout, dtype):
    _, N, C, H, W, k, s, padding, d = case
    KK = pair(k)[0] * pair(k)[1]
    p, pads = _unfold_padding(padding, (H, W), k, s, d)
    # distinct integers, exact in float32 too, so any misplaced element shows
    x = (np.arange(N * C * H * W, dtype=dtype) + 1).reshape(N, C, H, W)
    t_cols = F.unfold(torch_pad(leaf(x), pads), k, d, p, s)  # (N, C*KK, L)
    if layout == "NCHW":
        want = t_cols
    else:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # (N, H, W, C)
        want = _nchw_cols_to_nhwc(t_cols, N, C, KK)
    got = fastconv.im2col(x, k, stride=s, padding=padding, dilation=d, layout=layout)
    assert_same(got, want.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", COLS_CASES, ids=_ids(COLS_CASES))
def test_col2im_matches_torch_fold(case, layout, dtype):
    _, N, C, H, W, k, s, padding, d = case
    KK = pair(k)[0] * pair(k)[1]
    p, (top, bottom, left, right) = _unfold_padding(padding, (H, W), k, s, d)
    Hp, Wp = H + top + bottom, W + left + right
    L = F.unfold(torch.zeros(1, 1, Hp, Wp), k, d, p, s).shape[2]  # from torch itself
    # integer-valued columns: fold's sums are exact in any order, in float32 too
    cols = rng(4).integers(-50, 50, (N, C * KK, L)).astype(dtype)
    folded = F.fold(leaf(cols), (Hp, Wp), k, d, p, s)  # (N, C, Hp, Wp)
    want = folded[:, :, top : top + H, left : left + W]  # (N, C, H, W)
    shape = (N, C, H, W)
    if layout == "NHWC":
        cols = to_numpy(_nchw_cols_to_nhwc(leaf(cols), N, C, KK))  # (N, L, KK*C)
        want = from_nchw(want, layout)  # (N, H, W, C)
        shape = (N, H, W, C)
    got = fastconv.col2im(
        cols, shape, k, stride=s, padding=padding, dilation=d, layout=layout
    )
    assert_same(got, to_numpy(want))
