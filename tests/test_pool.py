"""Fast max and average pooling against the oracle (fastconv.naive).

Max pooling only selects, so its forward values, indices and (tie-free)
gradients are compared exactly; average pooling with the dtype tolerance.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from fastconv import naive
from fastconv._engine import config, pool_driver
from tests.helpers import (
    DTYPES,
    LAYOUTS,
    assert_close,
    assert_same,
    every_path,
    randn,
    rng,
)

# (id, N, C, H, W, kernel, stride, padding, dilation, ceil_mode): why it is here
CASES = [
    ("2s2", 2, 3, 8, 8, 2, None, 0, 1, False),  # the common pool
    ("3s2-pad", 2, 3, 9, 9, 3, 2, 1, 1, False),  # overlapping, padded
    ("overlap-s1", 1, 2, 6, 7, 3, 1, 0, 1, False),
    ("non-tiling", 2, 2, 7, 5, 2, 2, 0, 1, False),  # last row/col dropped
    ("ceil", 2, 2, 7, 5, 2, 2, 0, 1, True),  # ...or kept in ceil mode
    ("ceil-pad-drop", 1, 2, 6, 6, 3, 3, 1, 1, True),  # last ceil window dropped
    ("ceil-pad", 1, 2, 5, 8, 3, 2, 1, 1, True),
    ("stride>kernel", 1, 2, 9, 9, 2, 3, 0, 1, False),
    ("non-square", 2, 2, 6, 9, (2, 3), (1, 2), (1, 1), 1, False),
    ("dilated", 1, 2, 9, 9, 3, 2, 2, 2, False),  # max only
    ("same", 2, 2, 7, 6, 3, 2, "same", 1, False),
    ("four-tuple", 1, 2, 6, 6, 3, 2, (1, 0, 0, 1), 1, False),
    ("global", 2, 3, 4, 5, (4, 5), None, 0, 1, False),
    ("empty-batch", 0, 3, 4, 4, 2, 2, 0, 1, False),
    ("many-channels", 2, 20, 7, 6, 3, 2, 1, 1, True),  # NHWC: channel-vectorised kernels
    ("many-channels-dil", 1, 17, 9, 9, 2, 1, 1, 2, False),
    # NHWC, C >= 16, windows tiling the plane: the store-once backward
    ("many-channels-tiled", 2, 20, 7, 6, 2, None, 0, 1, False),
    # NHWC, one sample of 64 channels: the backward in blocks of channels
    ("channel-blocks", 1, 64, 6, 5, 3, 2, 1, 1, False),
]


def _x(case, layout, dtype, seed=0):
    _, N, C, H, W = case[:5]
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    # a permutation: no ties, so argmax and gradients are unambiguous
    vals = rng(seed).permutation(np.prod(shape)).astype(dtype)
    return vals.reshape(shape) / max(1, vals.size)


def _max_kw(case, layout):
    _, _, _, _, _, k, s, p, d, ceil = case
    return dict(
        kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil, layout=layout
    )


def _avg_kw(case, layout, include=True, divisor=None):
    _, _, _, _, _, k, s, p, d, ceil = case
    return dict(
        kernel_size=k,
        stride=s,
        padding=p,
        ceil_mode=ceil,
        count_include_pad=include,
        divisor_override=divisor,
        layout=layout,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_max_pool_matches_oracle_exactly(case, layout, dtype):
    x = _x(case, layout, dtype)
    kw = _max_kw(case, layout)
    out, idx = fastconv.max_pool2d(x, return_indices=True, **kw)
    want_out, want_idx = naive.max_pool2d(x, return_indices=True, **kw)
    assert_same(out, want_out)
    assert_same(idx, want_idx)
    assert_same(fastconv.max_pool2d(x, **kw), want_out)
    gy = randn(rng(1), out.shape, dtype)
    # no ties and at most a few overlapping windows: sums of <= 9 terms, tolerance
    want_gx = naive.max_pool2d_backward(gy, x, **kw)
    searched = fastconv.max_pool2d_backward(gy, x, **kw)
    assert_close(searched, want_gx)
    # from the forward's indices: the same sums in the same order, bitwise
    assert_same(fastconv.max_pool2d_backward(gy, x, indices=idx, **kw), searched)
    assert_close(naive.max_pool2d_backward(gy, x, indices=want_idx, **kw), want_gx)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "options",
    [(True, None), (False, None), (True, 3), (False, 5)],
    ids=["include-pad", "exclude-pad", "divisor-3", "divisor-5"],
)
@pytest.mark.parametrize(
    "case", [c for c in CASES if c[8] == 1], ids=[c[0] for c in CASES if c[8] == 1]
)
def test_avg_pool_matches_oracle(case, layout, dtype, options):
    x = randn(rng(2), _x(case, layout, dtype).shape, dtype)
    kw = _avg_kw(case, layout, *options)
    out = fastconv.avg_pool2d(x, **kw)
    assert_close(out, naive.avg_pool2d(x, **kw))
    gy = randn(rng(3), out.shape, dtype)
    assert_close(
        fastconv.avg_pool2d_backward(gy, x, **kw), naive.avg_pool2d_backward(gy, x, **kw)
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool_ties_go_to_first_maximum(layout):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = x[0, 0, 2, 1] = 5.0  # three tied maxima, one window
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1)
    kw = dict(kernel_size=3, stride=1, layout=layout)
    out, idx = fastconv.max_pool2d(x, return_indices=True, **kw)
    want_out, want_idx = naive.max_pool2d(x, return_indices=True, **kw)
    assert_same(idx, want_idx)
    assert idx.ravel()[0] == 1 * 4 + 1  # window (0, 0): first max in row-major order
    gx = fastconv.max_pool2d_backward(np.ones_like(out), x, **kw)
    assert_same(gx, naive.max_pool2d_backward(np.ones_like(out), x, **kw))
    assert gx.sum() == 4 and gx.reshape(-1)[1 * 4 + 1] == 4.0


@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool_propagates_nan(layout):
    x = rng(4).standard_normal((1, 2, 4, 4))
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 3, 3] = np.nan
    x[0, 1, 2, 2] = -np.inf
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1).copy()
    kw = dict(kernel_size=2, stride=1, padding=1, layout=layout)
    out, idx = fastconv.max_pool2d(x, return_indices=True, **kw)
    want_out, want_idx = naive.max_pool2d(x, return_indices=True, **kw)
    assert_same(out, want_out)  # assert_array_equal treats NaN == NaN
    assert_same(idx, want_idx)
    assert np.isnan(out).sum() == 8  # each NaN is in four 2x2 windows
    assert_same(
        fastconv.max_pool2d_backward(np.ones_like(out), x, **kw),
        naive.max_pool2d_backward(np.ones_like(out), x, **kw),
    )


def test_max_pool_all_minus_inf_window_points_at_its_first_pixel():
    x = np.full((1, 1, 3, 3), -np.inf)
    out, idx = fastconv.max_pool2d(x, 2, stride=1, padding=1, return_indices=True)
    assert np.all(out == -np.inf)
    assert_same(idx, naive.max_pool2d(x, 2, stride=1, padding=1, return_indices=True)[1])


# --------------------------------------------------------------------------
# properties


@st.composite
def pool_problems(draw):
    layout = draw(st.sampled_from(LAYOUTS))
    dtype = draw(st.sampled_from(DTYPES))
    # few channels, or enough for NHWC's channel-vectorised kernels
    N, C = draw(st.integers(0, 3)), draw(st.integers(1, 4) | st.integers(16, 18))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ceil = draw(st.booleans())
    mode = draw(st.sampled_from(["int-pair", "four", "valid", "same"]))
    keh, kew = (KH - 1) * dh + 1, (KW - 1) * dw + 1
    # at most half the undilated kernel: valid for max (dilated) and avg pooling
    if mode == "int-pair":
        pads = (draw(st.integers(0, KH // 2)),) * 2 + (draw(st.integers(0, KW // 2)),) * 2
        padding = (pads[0], pads[2])
    elif mode == "four":
        pads = (
            draw(st.integers(0, KH // 2)),
            draw(st.integers(0, KH // 2)),
            draw(st.integers(0, KW // 2)),
            draw(st.integers(0, KW // 2)),
        )
        padding = pads
    else:
        padding, pads = mode, (0, 0, 0, 0)
    H = draw(st.integers(max(1, keh - pads[0] - pads[1]), 10))
    W = draw(st.integers(max(1, kew - pads[2] - pads[3]), 10))
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    g = rng(draw(st.integers(0, 2**16)))
    x = (g.permutation(int(np.prod(shape))).astype(dtype) / 7).reshape(shape)
    geo = dict(
        kernel_size=(KH, KW),
        stride=(sh, sw),
        padding=padding,
        ceil_mode=ceil,
        layout=layout,
    )
    return x, geo, (dh, dw), g


@given(pool_problems(), st.booleans())
def test_max_pool_property(problem, forced):
    x, geo, dilation, g = problem
    with every_path(forced):
        _check_max_pool(x, geo, dilation, g)


def _check_max_pool(x, geo, dilation, g):
    try:
        want_out, want_idx = naive.max_pool2d(
            x, dilation=dilation, return_indices=True, **geo
        )
    except ValueError:
        # a dilated window that steps over the whole input: both must refuse
        with pytest.raises(ValueError, match="wholly in the padding"):
            fastconv.max_pool2d(x, dilation=dilation, **geo)
        return
    out, idx = fastconv.max_pool2d(x, dilation=dilation, return_indices=True, **geo)
    assert_same(out, want_out)
    assert_same(idx, want_idx)
    gy = randn(g, out.shape, x.dtype)
    searched = fastconv.max_pool2d_backward(gy, x, dilation=dilation, **geo)
    assert_close(searched, naive.max_pool2d_backward(gy, x, dilation=dilation, **geo))
    assert_same(
        fastconv.max_pool2d_backward(gy, x, dilation=dilation, indices=idx, **geo),
        searched,
    )


@given(pool_problems(), st.booleans(), st.sampled_from([None, 1, 4]), st.booleans())
def test_avg_pool_property(problem, include, divisor, forced):
    x, geo, _, g = problem
    kw = dict(geo, count_include_pad=include, divisor_override=divisor)
    with every_path(forced):
        out = fastconv.avg_pool2d(x, **kw)
        gy = randn(g, out.shape, x.dtype)
        gx = fastconv.avg_pool2d_backward(gy, x, **kw)
    assert_close(out, naive.avg_pool2d(x, **kw))
    assert_close(gx, naive.avg_pool2d_backward(gy, x, **kw))


# --------------------------------------------------------------------------
# inputs


@pytest.mark.parametrize("layout", LAYOUTS)
def test_pool_any_memory_layout_and_inputs_untouched(layout):
    case = CASES[1]
    x = _x(case, layout, np.float64)
    kw = _max_kw(case, layout)
    akw = _avg_kw(case, layout)
    out, idx = fastconv.max_pool2d(x, return_indices=True, **kw)
    gy = randn(rng(5), out.shape)
    ref = (
        out,
        idx,
        fastconv.max_pool2d_backward(gy, x, **kw),
        fastconv.avg_pool2d(x, **akw),
        fastconv.avg_pool2d_backward(gy, x, **akw),
    )
    variants = [
        np.asfortranarray(x),
        np.ascontiguousarray(x[..., ::-1])[..., ::-1],
        np.pad(x, 1)[1:-1, 1:-1, 1:-1, 1:-1],
    ]
    for v in variants:
        v.flags.writeable = False
        keep = v.copy()
        got = fastconv.max_pool2d(v, return_indices=True, **kw) + (
            fastconv.max_pool2d_backward(gy, v, **kw),
            fastconv.avg_pool2d(v, **akw),
            fastconv.avg_pool2d_backward(gy, v, **akw),
        )
        for a, e in zip(got, ref):
            assert_same(a, e)
        assert_same(v, keep)


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.float32, np.float32),
        (np.float16, np.float16),
        (np.int64, np.float64),
        (np.uint8, np.float64),
    ],
)
def test_pool_dtype_rule(dtype, expected):
    x = rng(7).integers(0, 100, (2, 3, 6, 6)).astype(dtype)
    out = fastconv.max_pool2d(x, 2)
    assert out.dtype == expected
    np.testing.assert_array_equal(out, naive.max_pool2d(x.astype(np.float64), 2))
    assert fastconv.avg_pool2d(x, 2).dtype == expected
    assert fastconv.max_pool2d_backward(out, x, 2).dtype == expected
    assert fastconv.avg_pool2d_backward(out, x, 2).dtype == expected


# --------------------------------------------------------------------------
# max_pool2d_backward from the forward's indices


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("backend", [fastconv, naive], ids=["fastconv", "naive"])
def test_max_pool_backward_checks_the_indices_it_is_given(layout, backend):
    x = _x(CASES[1], layout, np.float64)  # 3s2, padded: 5x5 outputs of 9x9
    kw = _max_kw(CASES[1], layout)
    out, idx = fastconv.max_pool2d(x, return_indices=True, **kw)
    gy = np.ones_like(out)
    with pytest.raises(TypeError, match="indices must be an integer array.*float64"):
        backend.max_pool2d_backward(gy, x, indices=idx.astype(np.float64), **kw)
    with pytest.raises(ValueError, match=r"indices must have .*shape"):
        backend.max_pool2d_backward(gy, x, indices=idx[:1], **kw)
    for bad in (-1, 81):  # outside a 9x9 plane
        wrong = idx.copy()
        wrong.flat[7] = bad
        before = wrong.copy()
        with pytest.raises(ValueError, match=r"indices must lie in .*\[0, 81\)"):
            backend.max_pool2d_backward(gy, x, indices=wrong, **kw)
        assert_same(wrong, before)  # inputs are never modified
    # int32 indices (another library's) are taken as they are
    assert_same(
        backend.max_pool2d_backward(gy, x, indices=idx.astype(np.int32), **kw),
        backend.max_pool2d_backward(gy, x, **kw),
    )


def test_max_pool_backward_names_the_bad_index_and_where_it_is():
    x = np.zeros((2, 3, 4, 4))
    _, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    idx[1, 2, 0, 1] = 99
    with pytest.raises(ValueError, match=r"got 99 at \(1, 2, 0, 1\)"):
        fastconv.max_pool2d_backward(np.ones((2, 3, 2, 2)), x, 2, indices=idx)


def test_max_pool_layer_sends_the_gradient_through_its_forward_indices(monkeypatch):
    x = _x(CASES[1], "NHWC", np.float32)
    kw = _max_kw(CASES[1], "NHWC")
    layer = fastconv.nn.MaxPool2d(
        kw["kernel_size"], kw["stride"], kw["padding"], layout="NHWC"
    )
    out = layer.forward(x)
    _, idx = fastconv.max_pool2d(x, return_indices=True, **kw)
    seen = []
    real = fastconv.max_pool2d_backward

    def spy(*args, **kwargs):
        seen.append(kwargs.get("indices"))
        return real(*args, **kwargs)

    monkeypatch.setattr(fastconv, "max_pool2d_backward", spy)
    gy = randn(rng(2), out.shape, np.float32)
    assert_same(layer.backward(gy), real(gy, x, **kw))
    assert len(seen) == 1 and seen[0] is not None
    assert_same(seen[0], idx)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_max_pool_backward_stored_once_equals_the_scatter(
    case, layout, dtype, monkeypatch
):
    # NCHW planes of any size: the store-once kernel (where windows tile the
    # plane) gives the scatter's result bit for bit, and the oracle's (NHWC's
    # choice depends on the channels, not on this setting: oracle only)
    x = _x(case, layout, dtype)
    kw = _max_kw(case, layout)
    out, idx = fastconv.max_pool2d(x, return_indices=True, **kw)
    gy = randn(rng(4), out.shape, dtype)
    monkeypatch.setattr(config, "POOL_TILED_PLANE_BYTES", 1 << 62)
    scatter = fastconv.max_pool2d_backward(gy, x, indices=idx, **kw)
    monkeypatch.setattr(config, "POOL_TILED_PLANE_BYTES", 0)
    stored = fastconv.max_pool2d_backward(gy, x, indices=idx, **kw)
    assert_same(stored, scatter)
    assert_close(stored, naive.max_pool2d_backward(gy, x, indices=idx, **kw))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool_backward_scatters_indices_outside_their_windows_too(
    layout, monkeypatch
):
    # windows that tile the plane store each element once (NHWC with many
    # channels, NCHW planes from POOL_TILED_PLANE_BYTES: 0 here), which is right
    # only for each window's own index: any other index (in range) must
    # still receive its gradient, as the oracle's scatter gives it
    case = next(c for c in CASES if c[0] == "many-channels-tiled")
    x = _x(case, layout, np.float64)
    kw = _max_kw(case, layout)
    out, idx = fastconv.max_pool2d(x, return_indices=True, **kw)
    gy = randn(rng(3), out.shape, np.float64)
    tiled = []
    name = f"max_unpool_tiled_{layout.lower()}"
    real = pool_driver.execute

    def execute(task, values):
        if task.kernel.__name__ == name:
            tiled.append(1)
        return real(task, values)

    monkeypatch.setattr(pool_driver, "execute", execute)
    monkeypatch.setattr(config, "POOL_TILED_PLANE_BYTES", 0)
    own = fastconv.max_pool2d_backward(gy, x, indices=idx, **kw)
    assert_close(own, naive.max_pool2d_backward(gy, x, **kw))
    other = np.zeros_like(idx)  # gradients to pixel 0, to the last, and own
    other.flat[1::7] = case[3] * case[4] - 1
    other.flat[::5] = idx.flat[::5]
    assert_close(
        fastconv.max_pool2d_backward(gy, x, indices=other, **kw),
        naive.max_pool2d_backward(gy, x, indices=other, **kw),
    )
    # the store-once kernel ran both times (the second fell back)
    assert len(tiled) == 2


def test_one_element_tuples_stand_for_both_axes():
    # as PyTorch expands them: kernel_size, stride, padding and dilation
    x = randn(rng(8), (2, 3, 9, 9), np.float64)
    w = randn(rng(9), (4, 3, 3, 3), np.float64)
    one = dict(stride=(2,), padding=(1,), dilation=(1,))
    both = dict(stride=2, padding=1, dilation=1)
    for mod in (fastconv, naive):
        assert_same(mod.conv2d(x, w, **one), mod.conv2d(x, w, **both))
        assert_same(
            mod.max_pool2d(x, (3,), **one, return_indices=True)[1],
            mod.max_pool2d(x, 3, **both, return_indices=True)[1],
        )
        assert_same(mod.avg_pool2d(x, (3,), (2,), (1,)), mod.avg_pool2d(x, 3, 2, 1))
    layer = fastconv.nn.Conv2d(3, 4, (3,), stride=(2,), padding=(1,), rng=0)
    assert layer.kernel_size == (3, 3) and layer.stride == (2, 2)
    assert layer.forward(x).shape == (2, 4, 5, 5)
    with pytest.raises(ValueError, match=r"stride must be an int or a pair of ints"):
        fastconv.conv2d(x, w, stride=(1, 1, 1))
