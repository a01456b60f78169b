"""Fast convolution, im2col and col2im against the oracle (fastconv.naive).

A curated case table crossed with layout, dtype and every algorithm that
applies to the case ("auto" and each concrete one, forced with
``algorithm=``), then hypothesis properties over random geometry, again
through every algorithm. Arithmetic is compared with the per-dtype
tolerances of tests.helpers; im2col/col2im, which only move data, exactly.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from fastconv import naive
from fastconv._engine import algorithms
from fastconv._engine.geometry import conv_params
from tests.helpers import (
    DTYPES,
    LAYOUTS,
    algorithms_for,
    assert_close,
    assert_same,
    randn,
    rng,
)

# (id, N, C, H, W, F, KH, KW, stride, padding, dilation, groups): why it is here
CASES = [
    ("basic-3x3", 2, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1),  # the common layer
    ("wide-runs", 2, 7, 6, 5, 4, 3, 3, 1, 1, 1, 1),  # NHWC KW*C > 16: not planar
    ("pointwise", 2, 5, 4, 6, 3, 1, 1, 1, 0, 1, 1),  # 1x1 skips im2col
    ("pointwise-s2", 2, 4, 5, 5, 3, 1, 1, 2, 0, 1, 1),  # 1x1 that must subsample
    ("pointwise-groups", 2, 4, 3, 3, 6, 1, 1, 1, 0, 1, 2),  # 1x1 fast path with groups
    ("stride>kernel", 2, 2, 9, 9, 3, 2, 2, 3, 0, 1, 1),  # skipped pixels
    ("pad=kernel-1", 1, 2, 4, 5, 2, 3, 3, 1, 2, 1, 1),  # "full" convolution
    ("not-divisible", 2, 3, 8, 7, 2, 3, 2, 3, 1, 1, 1),  # H, W not multiples of stride
    ("non-square", 2, 2, 5, 9, 3, 2, 4, (1, 2), (1, 0), (2, 1), 1),
    ("depthwise", 2, 4, 6, 6, 4, 3, 3, 1, 1, 1, 4),  # groups = C
    ("groups-2", 2, 4, 6, 5, 6, 3, 3, 2, "same", 1, 2),
    # depthwise 3x3: the blocked kernels' blocks, left-over and border columns
    ("depthwise-wide", 2, 8, 5, 13, 8, 3, 3, 1, 1, 1, 8),
    ("depthwise-s2", 2, 6, 7, 12, 6, 3, 3, 2, (0, 2, 1, 0), 1, 6),
    ("depthwise-pad2", 1, 5, 4, 10, 5, 3, 3, 1, 2, 1, 5),  # rows wholly in padding
    ("depthwise-s1x2", 2, 4, 6, 11, 4, 3, 3, (1, 2), 1, 1, 4),
    ("depthwise-multiplier", 2, 3, 6, 6, 6, 3, 3, 1, 1, 1, 3),  # 2 filters a channel
    ("same-stride2", 2, 3, 7, 8, 4, 3, 3, 2, "same", 1, 1),  # "same" where torch refuses
    ("same-even-kernel", 1, 2, 6, 6, 2, 4, 2, 1, "same", 1, 1),  # odd pixel bottom/right
    ("same-dilated", 1, 2, 7, 6, 3, 3, 3, 1, "same", 2, 1),
    ("valid", 2, 2, 6, 6, 2, 3, 3, 1, "valid", 1, 1),
    ("four-tuple", 2, 2, 5, 5, 2, 3, 3, 1, (2, 0, 1, 3), 1, 1),  # asymmetric padding
    ("kernel=input", 2, 3, 4, 4, 5, 4, 4, 1, 0, 1, 1),  # a single output pixel
    ("dilated", 1, 2, 9, 9, 2, 3, 3, 2, 1, 3, 1),
    ("dilated-2x1", 2, 3, 9, 8, 4, 3, 3, 1, (2, 1), (2, 1), 1),  # Winograd's phases
    ("empty-batch", 0, 3, 5, 5, 2, 3, 3, 1, 1, 1, 1),  # N = 0
    ("single-pixel", 3, 1, 1, 1, 2, 1, 1, 1, 0, 1, 1),
    ("no-filters", 2, 3, 4, 4, 0, 3, 3, 1, 0, 1, 1),  # F = 0
    ("empty-height", 2, 3, 0, 5, 2, 2, 2, 1, 1, 1, 1),  # H = 0, padding only
]


def _make(case, layout, dtype, seed=0):
    _, N, C, H, W, F, KH, KW, stride, padding, dilation, groups = case
    g = rng(seed)
    if layout == "NCHW":
        x = randn(g, (N, C, H, W), dtype)
        w = randn(g, (F, C // groups, KH, KW), dtype)
    else:
        x = randn(g, (N, H, W, C), dtype)
        w = randn(g, (KH, KW, C // groups, F), dtype)
    b = randn(g, (F,), dtype)
    kw = dict(
        stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout
    )
    return x, w, b, kw


def _ids(cases):
    return [c[0] for c in cases]


def _with_algorithms(cases):
    """(case, layout, algorithm) for every algorithm that applies to the case."""
    params = []
    for case in cases:
        for layout in LAYOUTS:
            x, w, _, kw = _make(case, layout, np.float64)
            for alg in algorithms_for(x.shape, w.shape, kw):
                params.append(
                    pytest.param(case, layout, alg, id=f"{case[0]}-{layout}-{alg}")
                )
    return params


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case, layout, algorithm", _with_algorithms(CASES))
def test_conv2d_forward_matches_oracle(case, layout, algorithm, dtype):
    x, w, b, kw = _make(case, layout, dtype)
    assert_close(
        fastconv.conv2d(x, w, b, algorithm=algorithm, **kw), naive.conv2d(x, w, b, **kw)
    )
    assert_close(
        fastconv.conv2d(x, w, algorithm=algorithm, **kw), naive.conv2d(x, w, **kw)
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case, layout, algorithm", _with_algorithms(CASES))
def test_conv2d_backward_matches_oracle(case, layout, algorithm, dtype):
    x, w, b, kw = _make(case, layout, dtype)
    y = naive.conv2d(x, w, b, **kw)
    gy = randn(rng(1), y.shape, dtype)
    got = fastconv.conv2d_backward(gy, x, w, algorithm=algorithm, **kw)
    want = naive.conv2d_backward(gy, x, w, **kw)
    for g, e in zip(got, want):
        assert_close(g, e)


def test_every_concrete_algorithm_is_tested_somewhere():
    # the case table reaches each algorithm in each layout it implements
    reached = {(p.values[1], p.values[2]) for p in _with_algorithms(CASES)}
    for alg in algorithms.NAMES:
        for layout in LAYOUTS:
            shapes = conv_params(
                (2, 4, 6, 6) if layout == "NCHW" else (2, 6, 6, 4),
                (4, 4, 1, 1) if layout == "NCHW" else (1, 1, 4, 4),
                1,
                0,
                1,
                1,
                layout,
            )
            if alg == "auto" or "layout" not in (
                algorithms.reason_not(alg, shapes) or ""
            ):
                assert (layout, alg) in reached, (layout, alg)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_algorithm_that_does_not_apply_is_refused(layout):
    x, w, b, kw = _make(CASES[0], layout, np.float64)  # a 3x3, padded
    with pytest.raises(
        ValueError,
        match="algorithm 'pointwise' does not apply to this layer: it needs a 1x1 kernel",
    ):
        fastconv.conv2d(x, w, b, algorithm="pointwise", **kw)
    with pytest.raises(ValueError, match="algorithm 'pointwise' does not apply"):
        fastconv.conv2d_backward(np.ones((2, 4, 7, 7)), x, w, algorithm="pointwise", **kw)
    with pytest.raises(ValueError, match="algorithm must be one of 'auto', 'im2col'"):
        fastconv.conv2d(x, w, b, algorithm="fft", **kw)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        fastconv.plan_conv2d(x.shape, w.shape, x.dtype, algorithm=None, **kw)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_im2col_col2im_exact(case, layout):
    _, N, C, H, W, F, KH, KW, stride, padding, dilation, _ = case
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    # distinct integers, so any misplaced element shows
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) + 1
    kw = dict(stride=stride, padding=padding, dilation=dilation, layout=layout)
    cols = fastconv.im2col(x, (KH, KW), **kw)
    assert_same(cols, naive.im2col(x, (KH, KW), **kw))
    # col2im sums; integer-valued float64 sums are exact in any order
    assert_same(
        fastconv.col2im(cols, shape, (KH, KW), **kw),
        naive.col2im(cols, shape, (KH, KW), **kw),
    )


# --------------------------------------------------------------------------
# properties over random geometry

PAD_MODES = st.sampled_from(["int", "pair", "four", "valid", "same"])


@st.composite
def conv_problems(draw):
    layout = draw(st.sampled_from(LAYOUTS))
    dtype = draw(st.sampled_from(DTYPES))
    groups = draw(st.integers(1, 3))
    C = groups * draw(st.integers(1, 3))
    F = groups * draw(st.integers(1, 3))
    N = draw(st.integers(0, 3))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    keh, kew = (KH - 1) * dh + 1, (KW - 1) * dw + 1
    mode = draw(PAD_MODES)
    if mode == "int":
        p = draw(st.integers(0, 3))
        padding, pads = p, (p, p, p, p)
    elif mode == "pair":
        ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        padding, pads = (ph, pw), (ph, ph, pw, pw)
    elif mode == "four":
        pads = tuple(draw(st.integers(0, 3)) for _ in range(4))
        padding = pads
    else:
        padding, pads = mode, (0, 0, 0, 0)
    # the padded input must hold one window ("same" always pads enough)
    H = draw(st.integers(max(1, keh - pads[0] - pads[1]) if mode != "same" else 1, 10))
    W = draw(st.integers(max(1, kew - pads[2] - pads[3]) if mode != "same" else 1, 10))
    seed = draw(st.integers(0, 2**16))
    g = rng(seed)
    if layout == "NCHW":
        x = randn(g, (N, C, H, W), dtype)
        w = randn(g, (F, C // groups, KH, KW), dtype)
    else:
        x = randn(g, (N, H, W, C), dtype)
        w = randn(g, (KH, KW, C // groups, F), dtype)
    b = randn(g, (F,), dtype)
    kw = dict(
        stride=(sh, sw), padding=padding, dilation=(dh, dw), groups=groups, layout=layout
    )
    return x, w, b, kw, g


@given(conv_problems())
def test_conv2d_property(problem):
    x, w, b, kw, g = problem
    want_y = naive.conv2d(x, w, b, **kw)
    gy = randn(g, want_y.shape, x.dtype)
    want = naive.conv2d_backward(gy, x, w, **kw)
    for alg in algorithms_for(x.shape, w.shape, kw):
        assert_close(fastconv.conv2d(x, w, b, algorithm=alg, **kw), want_y)
        for got, e in zip(fastconv.conv2d_backward(gy, x, w, algorithm=alg, **kw), want):
            assert_close(got, e)


@given(conv_problems())
def test_im2col_col2im_property(problem):
    x, w, _, kw, g = problem
    kw.pop("groups")
    layout = kw["layout"]
    k = w.shape[2:] if layout == "NCHW" else w.shape[:2]
    cols = fastconv.im2col(x, k, **kw)
    assert_same(cols, naive.im2col(x, k, **kw))
    # integer-valued data: col2im's sums are exact whatever the order
    c = g.integers(-50, 50, cols.shape).astype(x.dtype)
    assert_same(fastconv.col2im(c, x.shape, k, **kw), naive.col2im(c, x.shape, k, **kw))


# --------------------------------------------------------------------------
# inputs: memory layouts, read-only, untouched, dtype rule


def _variants(a):
    """The same values in other memory layouts: Fortran, sliced, reversed, read-only."""
    big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
    big[tuple(slice(1, None, 2) for _ in a.shape)] = a
    rev = np.ascontiguousarray(a[..., ::-1])[..., ::-1]
    ro = a.copy()
    ro.flags.writeable = False
    return {
        "fortran": np.asfortranarray(a),
        "sliced": big[tuple(slice(1, None, 2) for _ in a.shape)],
        "negative-strides": rev,
        "read-only": ro,
    }


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv_any_memory_layout_gives_identical_results(layout):
    x, w, b, kw = _make(CASES[0], layout, np.float64)
    gy = randn(rng(2), fastconv.conv2d(x, w, b, **kw).shape)
    y = fastconv.conv2d(x, w, b, **kw)
    grads = fastconv.conv2d_backward(gy, x, w, **kw)
    for name, xv in _variants(x).items():
        for wname, wv in _variants(w).items():
            assert_same(fastconv.conv2d(xv, wv, b, **kw), y)
        for got, want in zip(
            fastconv.conv2d_backward(_variants(gy)[name], xv, _variants(w)[name], **kw),
            grads,
        ):
            assert_same(got, want)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv_does_not_modify_inputs(layout):
    x, w, b, kw = _make(CASES[8], layout, np.float32)
    gy = randn(rng(3), fastconv.conv2d(x, w, b, **kw).shape, np.float32)
    arrays = (x, w, b, gy)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False  # a write would raise, not just differ
    fastconv.conv2d(x, w, b, **kw)
    fastconv.conv2d_backward(gy, x, w, **kw)
    fastconv.im2col(x, 3, padding=1, layout=layout)
    for a, c in zip(arrays, copies):
        assert_same(a, c)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_results_are_bitwise_reproducible(layout):
    x, w, b, kw = _make(("big", 4, 8, 16, 16, 8, 3, 3, 1, 1, 1, 1), layout, np.float32)
    gy = randn(rng(4), fastconv.conv2d(x, w, b, **kw).shape, np.float32)
    first = (fastconv.conv2d(x, w, b, **kw),) + fastconv.conv2d_backward(gy, x, w, **kw)
    for _ in range(3):
        again = (fastconv.conv2d(x, w, b, **kw),) + fastconv.conv2d_backward(
            gy, x, w, **kw
        )
        for a, e in zip(again, first):
            assert_same(a, e)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("groups", [1, 2])
def test_workspace_limit_chunks_the_batch_with_same_results(layout, groups):
    case = ("chunked", 5, 4, 6, 6, 4, 3, 3, 1, 1, 1, groups)
    x, w, b, kw = _make(case, layout, np.float64)
    gy = randn(rng(5), naive.conv2d(x, w, b, **kw).shape)
    want = (naive.conv2d(x, w, b, **kw),) + naive.conv2d_backward(gy, x, w, **kw)
    # bytes per sample of the chunk buffers: NCHW columns (C*KK, P) plus the
    # (F, P) rows; NHWC columns (P, KK*C/groups)
    per = (4 * 9 + 4) * 36 * 8 if layout == "NCHW" else 36 * 9 * (4 // groups) * 8
    # chunks of 1, of 2 (the last one shorter: 2, 2, 1), and unchunked
    for limit in (1, 2 * per + 7, None):
        with fastconv.workspace_limit(limit):
            got = (fastconv.conv2d(x, w, b, **kw),) + fastconv.conv2d_backward(
                gy, x, w, **kw
            )
        for a, e in zip(got, want):
            assert_close(a, e)
    assert fastconv.get_workspace_limit() == fastconv.DEFAULT_WORKSPACE_LIMIT


@pytest.mark.parametrize(
    "xdtype, wdtype, expected, x_alone",
    [
        (np.float32, np.float32, np.float32, np.float32),
        (np.float64, np.float64, np.float64, np.float64),
        (np.float32, np.float64, np.float64, np.float32),  # numpy promotion
        (np.float16, np.float16, np.float16, np.float16),  # computed in float32
        (np.int32, np.int64, np.float64, np.float64),  # integers compute in float64
        (np.bool_, np.int8, np.float64, np.float64),
    ],
)
def test_dtype_rule(xdtype, wdtype, expected, x_alone):
    g = rng(6)
    x = g.integers(-3, 4, (2, 3, 5, 5)).astype(xdtype)
    w = g.integers(-3, 4, (2, 3, 3, 3)).astype(wdtype)
    y = fastconv.conv2d(x, w, padding=1)
    assert y.dtype == expected
    # small integers: every dtype computes the exact same sums
    want = naive.conv2d(x.astype(np.float64), w.astype(np.float64), padding=1)
    np.testing.assert_array_equal(y.astype(np.float64), want)
    grads = fastconv.conv2d_backward(y, x, w, padding=1)
    assert [gr.dtype for gr in grads] == [np.dtype(expected)] * 3
    assert fastconv.im2col(x, 3).dtype == x_alone


def test_concurrent_calls_from_threads_match_serial_results():
    import concurrent.futures as cf

    problems = [
        _make(c, layout, np.float64, seed=i)
        for i, c in enumerate(CASES[:6])
        for layout in LAYOUTS
    ]

    def run(p):
        x, w, b, kw = p
        y = fastconv.conv2d(x, w, b, **kw)
        return (y,) + fastconv.conv2d_backward(y, x, w, **kw)

    serial = [run(p) for p in problems]
    with cf.ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            for got, want in zip(pool.map(run, problems), serial):
                for a, e in zip(got, want):
                    assert_same(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("algorithm", ["auto", "im2col", "direct"])
def test_convolution_over_no_input_channels_is_the_bias(algorithm, layout, dtype):
    # well defined, as in PyTorch: every output is the bias, grad_x and
    # grad_weight are empty or zero, and grad_bias still sums grad_out
    # (the im2col backward once returned zeros for it)
    first = layout == "NCHW"
    x = np.zeros((2, 0, 5, 5) if first else (2, 5, 5, 0), dtype)
    w = np.zeros((3, 0, 3, 3) if first else (3, 3, 0, 3), dtype)
    b = np.array([1.0, -2.0, 0.5], dtype)
    kw = dict(padding=1, layout=layout)
    y = fastconv.conv2d(x, w, b, algorithm=algorithm, **kw)
    assert_same(y, naive.conv2d(x, w, b, **kw))
    gy = randn(rng(9), y.shape, dtype)
    got = fastconv.conv2d_backward(gy, x, w, algorithm=algorithm, **kw)
    want = naive.conv2d_backward(gy, x, w, **kw)
    for g, r in zip(got, want):
        assert g.shape == r.shape and g.dtype == np.dtype(dtype)
        assert_close(g, r)
