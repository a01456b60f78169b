"""The engine's own machinery: plans and their cache, threads, the BLAS hold, the GEMM.

Values are checked against the oracle (fastconv.naive) or against the same
call made another way (single-threaded, without the plan cache), bitwise
where the engine promises bitwise equality.
"""

import collections
import concurrent.futures as cf
import threading
import time

import numpy as np
import pytest
import threadpoolctl

import fastconv
from fastconv import naive
from fastconv._engine import (
    algorithms,
    autotune,
    blas,
    config,
    plan,
    threads,
)
from fastconv._engine import workspace as _workspace
from tests.helpers import DTYPES, LAYOUTS, assert_close, assert_same, randn, rng


def _conv_problem(
    layout, dtype=np.float64, N=3, C=4, H=9, W=7, F=5, k=3, groups=1, seed=0
):
    g = rng(seed)
    if layout == "NCHW":
        x = randn(g, (N, C, H, W), dtype)
        w = randn(g, (F, C // groups, k, k), dtype)
    else:
        x = randn(g, (N, H, W, C), dtype)
        w = randn(g, (k, k, C // groups, F), dtype)
    return x, w, randn(g, (F,), dtype)


def _all_passes(x, w, b, layout, **kw):
    """Forward, backward and the poolings of one input: a list of arrays."""
    y = fastconv.conv2d(x, w, b, layout=layout, **kw)
    out = [y, *fastconv.conv2d_backward(y, x, w, layout=layout, **kw)]
    p, idx = fastconv.max_pool2d(x, 3, 2, 1, layout=layout, return_indices=True)
    out += [p, idx, fastconv.max_pool2d_backward(p, x, 3, 2, 1, layout=layout)]
    out.append(fastconv.max_pool2d_backward(p, x, 3, 2, 1, layout=layout, indices=idx))
    out.append(fastconv.avg_pool2d(x, 3, 2, 1, layout=layout))
    out.append(fastconv.avg_pool2d_backward(p, x, 3, 2, 1, layout=layout))
    return out


def _assert_thread_count_independent(run, counts=(1, 2, 3)):
    """Assert `run()` gives bitwise the same arrays on each thread count."""
    runs = []
    for n in counts:
        previous = threads.set_num_threads(n)
        try:
            runs.append(run())
        finally:
            threads.set_num_threads(previous)
    for other in runs[1:]:
        for a, e in zip(other, runs[0]):
            assert_same(a, e)


# ---- plans


@pytest.mark.parametrize("algorithm", ["auto", "im2col", "direct"])
def test_plan_runs_the_convolution_of_conv2d_bitwise(algorithm):
    x, w, b = _conv_problem("NCHW", np.float32)
    p = fastconv.plan_conv2d(
        x.shape, w.shape, np.float32, stride=2, padding=1, algorithm=algorithm
    )
    assert isinstance(p, fastconv.ConvPlan)
    assert p.out_shape == (3, 5, 5, 4)
    if algorithm != "auto":
        assert p.algorithm == algorithm and set(p.passes.values()) == {algorithm}
    kw = dict(stride=2, padding=1, algorithm=algorithm)
    assert_same(p.forward(x, w, b), fastconv.conv2d(x, w, b, **kw))
    gy = randn(rng(1), p.out_shape, np.float32)
    for got, want in zip(p.backward(gy, x, w), fastconv.conv2d_backward(gy, x, w, **kw)):
        assert_same(got, want)
    # ...and the convolution is right
    assert_close(p.forward(x, w, b), naive.conv2d(x, w, b, stride=2, padding=1))


# (layout, x shape, weight shape, kwargs): layers whose forward algorithm
# prepares the weight (Winograd's U, NHWC depthwise and grouped layouts) and
# ones whose does not (im2col, pointwise, NCHW direct)
PREPARED = [
    ("NCHW", (2, 32, 9, 10), (32, 32, 3, 3), dict(padding=1)),
    ("NHWC", (2, 9, 10, 32), (3, 3, 32, 40), dict(padding=1)),
    ("NHWC", (2, 9, 10, 16), (3, 3, 1, 16), dict(padding=1, groups=16)),
    ("NHWC", (2, 9, 10, 16), (3, 3, 1, 16), dict(stride=2, groups=16)),
    ("NHWC", (2, 9, 10, 8), (3, 3, 2, 8), dict(groups=4)),
    ("NCHW", (2, 8, 9, 10), (8, 2, 3, 3), dict(groups=4)),
    ("NHWC", (2, 5, 6, 8), (1, 1, 8, 6), {}),
    ("NCHW", (2, 32, 11, 10), (32, 32, 3, 3), dict(padding=2, dilation=2)),
    ("NHWC", (2, 9, 10, 16), (3, 3, 1, 16), dict(padding=2, dilation=2, groups=16)),
    ("NHWC", (0, 9, 10, 16), (3, 3, 1, 16), dict(padding=1, groups=16)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", PREPARED)
def test_prepared_weight_runs_as_the_weight_bitwise(case, dtype):
    layout, xs, ws, kw = case
    gen = rng(5)
    x, w = randn(gen, xs, dtype), randn(gen, ws, dtype)
    F = ws[0] if layout == "NCHW" else ws[-1]
    b = randn(gen, (F,), dtype)
    for alg in algorithms.NAMES:
        shapes = fastconv.plan_conv2d(xs, ws, dtype, layout=layout, **kw).shapes
        if alg != "auto" and algorithms.reason_not(alg, shapes) is not None:
            continue
        if alg != "auto" and "forward" not in algorithms.implements(alg, shapes):
            continue
        plan = fastconv.plan_conv2d(xs, ws, dtype, layout=layout, algorithm=alg, **kw)
        w_before = w.copy()
        pw = plan.prepare_weight(w)
        w[...] = 0  # a snapshot: the prepared weight is the plan's own
        assert_same(plan.forward(x, pw, b), plan.forward(x, w_before, b))
        assert_same(plan.forward(x, pw), plan.forward(x, w_before))
        w[...] = w_before
        assert repr(pw).startswith(f"PreparedWeight({ws}, {plan.algorithm}")


def test_prepared_weight_is_not_transformed_again(monkeypatch):
    from fastconv._engine import winograd

    plan = fastconv.plan_conv2d(
        (2, 32, 9, 10), (32, 32, 3, 3), np.float32, padding=1, algorithm="winograd-2x2"
    )
    x, w = randn(rng(6), plan.x_shape), randn(rng(7), plan.weight_shape)
    x, w = x.astype(np.float32), w.astype(np.float32)
    pw = plan.prepare_weight(w)
    calls = []
    real = winograd.transform_weight
    monkeypatch.setattr(
        winograd, "transform_weight", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    plan.forward(x, pw)
    assert calls == []
    plan.forward(x, w)
    assert calls == [1]


def test_prepared_direct_weight_is_not_reordered_again(monkeypatch):
    from fastconv._engine import direct

    plan = fastconv.plan_conv2d(
        (2, 9, 10, 16),
        (3, 3, 1, 16),
        np.float64,
        padding=1,
        groups=16,
        layout="NHWC",
        algorithm="direct",
    )
    x, w = randn(rng(6), plan.x_shape), randn(rng(7), plan.weight_shape)
    pw = plan.prepare_weight(w)
    calls = []
    real = direct._row_variants
    monkeypatch.setattr(
        direct, "_row_variants", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    plan.forward(x, pw)
    assert calls == []
    plan.forward(x, w)
    assert calls == [1]


def test_prepared_weight_belongs_to_its_layer_and_is_read_only():
    from fastconv._engine.prepared import PreparedWeight

    plan = fastconv.plan_conv2d((1, 2, 5, 5), (3, 2, 3, 3), np.float64)
    other = fastconv.plan_conv2d((1, 2, 5, 5), (3, 2, 3, 3), np.float64, padding=1)
    x = np.ones((1, 2, 5, 5))
    pw = other.prepare_weight(np.ones((3, 2, 3, 3)))
    with pytest.raises(ValueError, match="PreparedWeight of another layer"):
        plan.forward(x, pw)
    with pytest.raises(ValueError, match=r"weight must have the plan's shape"):
        plan.prepare_weight(np.ones((3, 2, 2, 2)))
    # a plan of the same layer (not the same object) takes it
    mine = plan.prepare_weight(np.ones((3, 2, 3, 3)))
    again = fastconv.plan_conv2d((1, 2, 5, 5), (3, 2, 3, 3), np.float64)
    assert again is not plan
    assert_same(again.forward(x, mine), plan.forward(x, np.ones((3, 2, 3, 3))))
    # x and bias are still checked
    with pytest.raises(ValueError, match=r"x must have the plan's shape"):
        plan.forward(np.ones((1, 2, 6, 5)), mine)
    with pytest.raises(ValueError, match=r"bias must have shape"):
        plan.forward(x, mine, np.ones(2))
    # only plan.forward takes one
    with pytest.raises(TypeError, match="only ConvPlan.forward takes one"):
        plan.backward(np.ones(plan.out_shape), x, mine)
    with pytest.raises(TypeError, match="only ConvPlan.forward takes one"):
        fastconv.conv2d(x, mine)
    with pytest.raises(TypeError, match="comes from ConvPlan.prepare_weight"):
        PreparedWeight(None, mine.key, mine.weight, None)
    with pytest.raises(ValueError, match="read-only"):
        mine.weight[...] = 0
    with pytest.raises(AttributeError):
        mine.weight = np.zeros((3, 2, 3, 3))


def _resnet_nhwc_plan(dtype, algorithm="auto"):
    """The plan of the suite's resnet-3x3 layer, NHWC."""
    return fastconv.plan_conv2d(
        (8, 56, 56, 64),
        (3, 3, 64, 64),
        dtype,
        padding=1,
        layout="NHWC",
        algorithm=algorithm,
    )


def test_plan_describes_itself():
    p = _resnet_nhwc_plan(np.float64, "im2col")
    assert p.flops == 2 * 8 * 56 * 56 * 64 * 64 * 9
    assert p.backward_flops == 2 * p.flops
    assert p.dtype == np.float64 and p.result_dtype == np.float64
    assert 0 < p.workspace_bytes < 64 * 2**20
    assert p.items == 8 * -(-56 // p.tile_rows) and 1 <= p.slots <= 8
    text = repr(p)
    for part in (
        "ConvPlan(NHWC, float64)",
        "(8, 56, 56, 64)",
        "forward: im2col",
        "items",
        "slots",
        "threads",
        "workspace",
        "GFLOP",
    ):
        assert part in text, part


def test_plan_describes_each_pass_of_auto():
    p = _resnet_nhwc_plan(np.float32)
    assert set(p.passes.values()) == {"winograd-4x4"}
    text = repr(p)
    assert "forward: winograd-4x4" in text and "grad_w:  winograd-4x4" in text, text
    assert "F(3x3, 4x4), 4 items (slots of samples)" in text, text
    # 4x4 tiles: 8 samples x 14 rows of 14 tiles, in bands of 10 rows (>= 128 tiles)
    assert "12 items (bands of 10 rows of 4x4 output tiles" in text, text
    assert "36 GEMMs a band" in text, text
    forced = _resnet_nhwc_plan(np.float32, "winograd-2x2")
    # 2x2 tiles: 8 samples x 28 rows of 28 tiles, in bands of 5 rows
    assert "45 items (bands of 5 rows of 2x2 output tiles" in repr(forced)


def test_the_cost_model_counts_what_each_algorithm_does():
    shapes = fastconv.plan_conv2d(
        (8, 64, 56, 56), (32, 64, 3, 3), np.float32, padding=1
    ).shapes
    P = 8 * 56 * 56
    # im2col: K = 64*9 = 576 deep columns; a 1 MiB-ish tile of them per GEMM
    f = algorithms.features("im2col", shapes, np.float32, "forward")
    per_tile = max(config.MIN_TILE_COLUMNS, config.TILE_BYTES // (576 * 4))
    tiles = 8 * -(-56 * 56 // per_tile)
    assert f == (1.0, P * 576 * 32, P * 576, tiles * 576 * 32)
    # F(4x4, 3x3): 14 x 14 tiles a sample, 36 GEMMs of C x F
    t = 8 * 14 * 14
    f = algorithms.features("winograd-4x4", shapes, np.float32, "forward")
    assert f == (1.0, 36 * t * 64 * 32, 36 * t * 64, 36 * t * 32, 36 * 64 * 32)
    # grad_x swaps the roles of channels and filters; F(2x2): 28 x 28 tiles
    t = 8 * 28 * 28
    f = algorithms.features("winograd-2x2", shapes, np.float32, "grad_x")
    assert f == (1.0, 16 * t * 32 * 64, 16 * t * 32, 16 * t * 64, 16 * 32 * 64)


NHWC_S2 = dict(layout="NHWC", stride=2)


@pytest.mark.parametrize(
    "x_shape, w_shape, dtype, kw, want",
    [
        # large images: F(4x4, 3x3) measured fastest (docs/algorithms.md)
        ((8, 64, 56, 56), (64, 64, 3, 3), np.float32, {}, "winograd-4x4"),
        ((8, 64, 56, 56), (64, 64, 3, 3), np.float64, {}, "winograd-4x4"),
        # 256 channels: F(4x4) would be fastest, but its float32 error is
        # too close to the tolerance, so auto keeps to F(2x2)
        ((16, 256, 14, 14), (256, 256, 3, 3), np.float32, {}, "winograd-2x2"),
        ((16, 256, 14, 14), (256, 256, 3, 3), np.float64, {}, "winograd-4x4"),
        # 7x7 images of 512 channels: F(4x4)'s tiles waste 9 of every 16
        # outputs and its weight transform is larger than x; F(2x2) measured
        # fastest
        ((8, 512, 7, 7), (512, 512, 3, 3), np.float64, {}, "winograd-2x2"),
        # three channels: GEMMs too thin for Winograd
        ((8, 3, 32, 32), (32, 3, 3, 3), np.float32, {}, "im2col"),
        # the same first layer channels-last: the register tiles, forward
        ((8, 32, 32, 3), (3, 3, 3, 32), np.float32, dict(layout="NHWC"), "brgemm"),
        ((8, 32, 32, 3), (3, 3, 3, 32), np.float64, dict(layout="NHWC"), "brgemm"),
        # channels-last, many filters over wide rows: the tiles too
        ((8, 28, 28, 128), (3, 3, 128, 256), np.float32, NHWC_S2, "brgemm"),
        # ... but not with three filters (empty lanes), nor on 4-pixel rows
        ((8, 28, 28, 64), (3, 3, 64, 3), np.float32, NHWC_S2, "im2col"),
        ((8, 7, 7, 512), (3, 3, 512, 512), np.float64, NHWC_S2, "im2col"),
    ],
)
def test_auto_chooses_by_cost_and_accuracy(x_shape, w_shape, dtype, kw, want):
    p = fastconv.plan_conv2d(x_shape, w_shape, dtype, padding=1, **kw)
    assert p.passes["forward"] == want, p.passes
    if want.startswith("winograd"):
        # grad_weight: F(3x3, m x m), the forward's tiles
        assert p.passes["grad_w"] == want
    if want == "brgemm":  # a forward pass only: the others as auto picks
        assert p.passes["grad_x"] == p.passes["grad_w"] == "im2col"


# ---- autotuning


@pytest.fixture
def tuning():
    """Autotuning on, with no remembered choices; off and forgotten after."""
    autotune.forget()
    with fastconv.autotune():
        yield
    autotune.forget()


def test_autotune_keeps_the_fastest_of_each_pass_and_times_once(monkeypatch, tuning):
    # fake timings, in the order the candidates are timed: per algorithm
    # that applies (im2col, direct, winograd-2x2, winograd-4x4), its
    # forward, then its backward; direct is the fastest forward, im2col
    # the fastest backward
    fake = iter([5.0, 1.0, 2.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    calls = []

    def best_of(fn):
        fn()  # the candidate really runs
        calls.append(1)
        return next(fake)

    monkeypatch.setattr(autotune, "_best_of", best_of)
    x, w, b = _conv_problem("NCHW", np.float32, N=2, C=32, H=8, W=8, F=32)
    p = fastconv.plan_conv2d(x.shape, w.shape, x.dtype, padding=1)
    assert p.passes == {"forward": "direct", "grad_x": "im2col", "grad_w": "im2col"}
    assert len(calls) == 8
    # remembered: the same shapes again, through conv2d's cache too
    y = fastconv.conv2d(x, w, b, padding=1)
    gx, gw, gb = fastconv.conv2d_backward(y, x, w, padding=1)
    assert len(calls) == 8
    # the mixed plan computes what the oracle does
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    assert_close(y, naive.conv2d(x64, w64, b64, padding=1).astype(np.float32))
    want = naive.conv2d_backward(y.astype(np.float64), x64, w64, padding=1)
    for got, ref in zip((gx, gw, gb), want):
        assert_close(got, ref.astype(np.float32))
    # forgotten: timed again, and now F(4x4) forward, direct backward win
    autotune.forget()
    fake = iter([3.0, 4.0, 5.0, 2.0, 5.0, 6.0, 1.0, 8.0])
    p = fastconv.plan_conv2d(x.shape, w.shape, x.dtype, padding=1)
    assert p.passes == {"forward": "winograd-4x4", "grad_x": "direct", "grad_w": "direct"}
    assert len(calls) == 16


@pytest.mark.parametrize("layout", LAYOUTS)
def test_autotuned_results_match_the_oracle(layout, tuning):
    x, w, b = _conv_problem(layout, np.float64, N=2, C=32, H=9, W=7, F=32)
    y = fastconv.conv2d(x, w, b, padding=1, layout=layout)
    assert_close(y, naive.conv2d(x, w, b, padding=1, layout=layout))
    got = fastconv.conv2d_backward(y, x, w, padding=1, layout=layout)
    want = naive.conv2d_backward(y, x, w, padding=1, layout=layout)
    for g, e in zip(got, want):
        assert_close(g, e)


def test_autotune_skips_what_it_cannot_time(monkeypatch, tuning):
    monkeypatch.setattr(autotune, "_best_of", lambda fn: pytest.fail("timed"))
    # an empty batch, and a pointwise layer (plain GEMMs in every pass)
    empty = fastconv.plan_conv2d((0, 32, 8, 8), (32, 32, 3, 3), np.float32, padding=1)
    assert (
        empty.passes
        == fastconv.plan_conv2d(
            (0, 32, 8, 8), (32, 32, 3, 3), np.float32, padding=1, algorithm="auto"
        ).passes
    )
    pw = fastconv.plan_conv2d((2, 32, 8, 8), (32, 32, 1, 1), np.float32)
    assert set(pw.passes.values()) == {"pointwise"}
    # a forced algorithm is never tuned
    forced = fastconv.plan_conv2d(
        (2, 32, 8, 8), (32, 32, 3, 3), np.float32, padding=1, algorithm="im2col"
    )
    assert set(forced.passes.values()) == {"im2col"}


def test_autotune_setting_is_checked_and_restored():
    assert fastconv.get_autotune() is False
    with fastconv.autotune():
        assert fastconv.get_autotune() is True
        with fastconv.autotune(False):
            assert fastconv.get_autotune() is False
        assert fastconv.get_autotune() is True
    assert fastconv.get_autotune() is False
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match=f"flag must be True or False, got {bad!r}"):
            fastconv.set_autotune(bad)
    assert fastconv.set_autotune(True) is False
    assert fastconv.set_autotune(False) is True


def test_few_channel_nhwc_plans_build_planar_columns():
    # the case table runs both kinds against the oracle ("basic-3x3" planar,
    # "wide-runs" not); here, which plans are which
    few = fastconv.plan_conv2d((2, 9, 8, 1), (5, 5, 1, 3), np.float32, layout="NHWC")
    assert few.planar and few.units == 1
    wide = fastconv.plan_conv2d((2, 6, 5, 7), (3, 3, 7, 4), np.float32, layout="NHWC")
    assert not wide.planar
    grouped = fastconv.plan_conv2d(
        (2, 6, 5, 4), (3, 3, 2, 4), np.float32, layout="NHWC", groups=2
    )
    nchw = fastconv.plan_conv2d((2, 1, 9, 8), (3, 1, 5, 5), np.float32)
    assert not grouped.planar and not nchw.planar


def test_pointwise_plan_needs_no_columns():
    p = fastconv.plan_conv2d((2, 16, 7, 7), (8, 16, 1, 1), np.float32)
    assert p.algorithm == "pointwise" and p.cols_elems == 0
    s2 = fastconv.plan_conv2d((2, 16, 7, 7), (8, 16, 1, 1), np.float32, stride=2)
    assert s2.algorithm != "pointwise"  # a strided 1x1 must gather


def test_plan_follows_the_dtype_rule():
    p = fastconv.plan_conv2d((1, 2, 5, 5), (3, 2, 3, 3), np.float16)
    assert p.dtype == np.float32 and p.result_dtype == np.float16
    x = np.ones((1, 2, 5, 5), np.float16)
    assert p.forward(x, np.ones((3, 2, 3, 3))).dtype == np.float16
    p = fastconv.plan_conv2d((1, 2, 5, 5), (3, 2, 3, 3), np.int32)
    assert p.dtype == p.result_dtype == np.float64


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (
            lambda p: p.forward(np.ones((2, 3, 8, 8)), np.ones((4, 3, 3, 3))),
            ValueError,
            "x must have the plan's shape (1, 3, 8, 8), got shape (2, 3, 8, 8)",
        ),
        (
            lambda p: p.forward(np.ones((1, 3, 8, 8)), np.ones((4, 3, 2, 3))),
            ValueError,
            "weight must have the plan's shape (4, 3, 3, 3), got shape (4, 3, 2, 3)",
        ),
        (
            lambda p: p.forward(np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3)), np.ones(3)),
            ValueError,
            "bias must have shape (F,) = (4,)",
        ),
        (
            lambda p: p.backward(
                np.ones((1, 4, 8, 8)), np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3))
            ),
            ValueError,
            "grad_out must have the output's shape (1, 4, 6, 6), got shape (1, 4, 8, 8)",
        ),
        (
            lambda p: p.forward(np.ones((1, 3, 8, 8), complex), np.ones((4, 3, 3, 3))),
            TypeError,
            "x must have a real",
        ),
    ],
)
def test_plan_checks_the_arrays_it_is_given(call, exc, message):
    p = fastconv.plan_conv2d((1, 3, 8, 8), (4, 3, 3, 3), np.float64)
    with pytest.raises(exc, match=__import__("re").escape(message)):
        call(p)


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        (
            dict(x_shape=(1, 3, 8)),
            ValueError,
            "x_shape must be a 4-tuple of ints, got (1, 3, 8)",
        ),
        (
            dict(weight_shape=(4, 3, 3, 3.0)),
            ValueError,
            "weight_shape must be a 4-tuple of ints, got (4, 3, 3, 3.0)",
        ),
        (dict(x_shape=(1, -3, 8, 8)), ValueError, "x_shape must be non-negative"),
        (dict(dtype=np.complex64), TypeError, "dtype must be a real"),
        (
            dict(dtype="nonsense"),
            TypeError,
            "dtype must be a numpy dtype, got 'nonsense'",
        ),
        (dict(groups=2), ValueError, "x has C=3 channels, groups=2"),
        (dict(layout="CHWN"), ValueError, "layout must be 'NCHW' or 'NHWC', got 'CHWN'"),
    ],
)
def test_plan_conv2d_checks_its_arguments(kwargs, exc, message):
    args = dict(x_shape=(1, 3, 8, 8), weight_shape=(4, 3, 3, 3), dtype=np.float32)
    args.update(kwargs)
    with pytest.raises(exc, match=__import__("re").escape(message)):
        fastconv.plan_conv2d(**args)


def test_conv2d_reuses_its_plan_and_the_cache_keeps_argument_types(monkeypatch):
    import fastconv.conv as conv_module

    built = []

    def counting(*args):
        built.append(args)
        return plan.plan_conv(*args)

    monkeypatch.setattr(conv_module, "plan_conv", counting)
    monkeypatch.setattr(plan, "_caches", collections.defaultdict(collections.OrderedDict))
    x, w, b = _conv_problem("NCHW", seed=4, N=2, C=3, H=6, W=6, F=2)
    fastconv.conv2d(x, w, b, padding=(1, 2))
    assert len(built) == 1
    fastconv.conv2d(x + 1, w, b, padding=[1, 2])  # same shapes and arguments
    fastconv.conv2d_backward(np.ones((2, 2, 6, 8)), x, w, padding=(1, 2))
    assert len(built) == 1
    # stride=True equals 1 and hashes like it, but is not a valid stride
    fastconv.conv2d(x, w, stride=1)
    with pytest.raises(
        TypeError, match="stride must be an int or a tuple of ints, got True"
    ):
        fastconv.conv2d(x, w, stride=True)
    # an unhashable argument skips the cache and still gets its error
    with pytest.raises(TypeError, match="padding must be an int or a tuple of ints"):
        fastconv.conv2d(x, w, padding={"top": 1})
    # the workspace limit is part of the key (it changes the tiling)
    count = len(built)
    with fastconv.workspace_limit(1 << 16):
        fastconv.conv2d(x, w, b, padding=(1, 2))
    assert len(built) == count + 1


def test_tiny_workspace_limit_still_gives_the_same_results():
    x, w, b = _conv_problem("NHWC", N=2, C=8, H=12, W=12, F=4)
    want = [fastconv.conv2d(x, w, b, padding=1, layout="NHWC")]
    want += fastconv.conv2d_backward(want[0], x, w, padding=1, layout="NHWC")
    with fastconv.workspace_limit(1024):
        got = [fastconv.conv2d(x, w, b, padding=1, layout="NHWC")]
        got += fastconv.conv2d_backward(want[0], x, w, padding=1, layout="NHWC")
    for a, e in zip(got, want):
        assert_close(a, e)


# ---- the GEMM: numpy's BLAS by address, or the loops


def test_blas_is_found_and_correct():
    info = blas.describe()
    assert info.sgemm and info.dgemm, info  # numpy's wheels ship CBLAS
    assert "cblas gemm by address" in repr(info)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_plain_loop_gemm_fallback_matches_the_oracle(layout, dtype):
    x, w, b = _conv_problem(layout, dtype, N=2, C=4, H=7, W=6, F=6, groups=2, seed=2)
    kw = dict(stride=(1, 2), padding=1, groups=2, layout=layout)
    with blas.use_fallback():
        assert blas.gemm(dtype)[0] == 0
        y = fastconv.conv2d(x, w, b, **kw)
        grads = fastconv.conv2d_backward(y, x, w, **kw)
    assert_close(y, naive.conv2d(x, w, b, **kw))
    for got, want in zip(grads, naive.conv2d_backward(y, x, w, **kw)):
        assert_close(got, want)
    # pointwise (x is the column matrix, other leading dimensions)
    x1 = x[..., :4] if layout == "NHWC" else x
    w1 = (
        randn(rng(5), (3, 4, 1, 1), dtype)
        if layout == "NCHW"
        else randn(rng(5), (1, 1, 4, 3), dtype)
    )
    with blas.use_fallback():
        y1 = fastconv.conv2d(x1, w1, layout=layout)
    assert_close(y1, naive.conv2d(x1, w1, layout=layout))


# ---- threads and the BLAS hold


def _blas_threads():
    return [
        p["num_threads"]
        for p in threadpoolctl.threadpool_info()
        if p["user_api"] == "blas"
    ][0]


def test_blas_is_held_at_one_thread_during_calls_and_restored_after():
    x, w, b = _conv_problem("NCHW", np.float32, N=8, C=16, H=24, W=24, F=16)
    target = 2
    with threadpoolctl.threadpool_limits(limits=target, user_api="blas"):
        assert _blas_threads() == target
        seen = set()
        stop = threading.Event()
        controller = blas.describe().controller

        def watch():
            while not stop.is_set():
                seen.add(controller.get_num_threads())

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            for _ in range(20):
                fastconv.conv2d(x, w, b, padding=1)
        finally:
            stop.set()
            watcher.join()
        assert 1 in seen  # held while the calls ran
        assert _blas_threads() == target  # ...and given back


def test_many_python_threads_restore_blas_and_match_single_threaded_results():
    # 4 threads call fastconv for a few seconds; afterwards the BLAS thread
    # count is what it was, and every result equals the single-threaded one
    problems = [
        (*_conv_problem(lay, dt, seed=i, N=4, C=6, H=10, W=10, F=8), lay)
        for i, (lay, dt) in enumerate([(lay, dt) for lay in LAYOUTS for dt in DTYPES])
    ]
    previous = threads.set_num_threads(1)
    try:
        serial = [_all_passes(x, w, b, lay, padding=1) for x, w, b, lay in problems]
    finally:
        threads.set_num_threads(previous)
    before = _blas_threads()
    deadline = time.perf_counter() + 3.0

    def hammer(k):
        rounds = 0
        while time.perf_counter() < deadline or rounds == 0:
            i = (k + rounds) % len(problems)
            x, w, b, lay = problems[i]
            for got, want in zip(_all_passes(x, w, b, lay, padding=1), serial[i]):
                assert_same(got, want)
            rounds += 1
        return rounds

    with cf.ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(hammer, range(4)))
    assert min(counts) >= 1
    assert _blas_threads() == before


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "shape", [(6, 16, 40, 40), (16, 2, 30, 20), (1, 8, 64, 64)], ids=["N<C", "N>C", "N=1"]
)
def test_results_do_not_depend_on_the_number_of_threads(layout, shape):
    N, C, H, W = shape
    x, w, b = _conv_problem(layout, np.float32, N=N, C=C, H=H, W=W, F=8, seed=3)
    _assert_thread_count_independent(lambda: _all_passes(x, w, b, layout, padding=1))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "algorithm, groups, C, N",
    [
        ("winograd-2x2", 1, 8, 5),
        ("winograd-2x2", 1, 8, 1),
        ("winograd-4x4", 1, 8, 5),
        ("winograd-4x4", 1, 8, 1),
        ("direct", 8, 8, 5),
        ("direct", 8, 8, 1),
        ("direct", 2, 8, 5),
        ("im2col", 1, 2, 5),
    ],
    ids=[
        "winograd",
        "winograd-N=1",
        "winograd-4x4",
        "winograd-4x4-N=1",
        "depthwise",
        "depthwise-N=1",
        "grouped",
        "planar",
    ],
)
def test_every_algorithm_is_thread_count_independent(layout, algorithm, groups, C, N):
    side = 128 if N > 1 else 256  # enough bytes to split into pieces
    x, w, b = _conv_problem(
        layout, np.float32, N=N, C=C, H=side, W=side, F=8, groups=groups, seed=4
    )
    kw = dict(padding=1, groups=groups, algorithm=algorithm)
    p = fastconv.plan_conv2d(x.shape, w.shape, x.dtype, layout=layout, **kw)
    assert set(p.passes.values()) <= {algorithm, "im2col"}
    nbytes = x.nbytes + int(np.prod(p.out_shape)) * 4
    assert p.parallel and len(threads.split(plan.pass_items(p, "forward"), nbytes, 3)) > 2
    _assert_thread_count_independent(lambda: _all_passes(x, w, b, layout, **kw))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_sample_pooling_is_split_across_the_threads(layout):
    # NCHW by planes; NHWC forward by output rows, backward by channel blocks
    shape = (1, 64, 224, 224) if layout == "NCHW" else (1, 224, 224, 64)
    p = plan.plan_pool("max", shape, np.float32, 3, 2, 1, 1, False, layout)
    nbytes = 4 * (np.prod(shape) + np.prod(p.out_shape))
    split = config.POOL_SPLIT_BYTES
    assert len(threads.split(p.forward_items, nbytes, 2, split)) == 3  # two pieces
    backward_items = p.items * p.channel_blocks
    assert len(threads.split(backward_items, nbytes, 2, split)) == 3
    x = randn(rng(5), shape, np.float32)
    kw = dict(kernel_size=3, stride=2, padding=1, layout=layout)

    def passes():
        out, idx = fastconv.max_pool2d(x, return_indices=True, **kw)
        gx = fastconv.max_pool2d_backward(out, x, indices=idx, **kw)
        avg = fastconv.avg_pool2d(x, **kw)
        lay = dict(layout=layout)  # adaptive pooling: the same splits
        ad = fastconv.adaptive_avg_pool2d(x, (13, 7), **lay)
        am, ai = fastconv.adaptive_max_pool2d(x, (13, 7), True, **lay)
        return (
            out,
            idx,
            gx,
            avg,
            fastconv.avg_pool2d_backward(avg, x, **kw),
            ad,
            fastconv.adaptive_avg_pool2d_backward(ad, x, **lay),
            am,
            ai,
            fastconv.adaptive_max_pool2d_backward(am, x, indices=ai, **lay),
        )

    _assert_thread_count_independent(passes, counts=(1, 2))


def test_a_single_sample_is_split_across_the_threads():
    p = fastconv.plan_conv2d((1, 32, 64, 64), (32, 32, 3, 3), np.float32, padding=1)
    assert p.items > 1 and p.parallel  # N = 1 still gives every core a piece
    assert len(threads.split(p.items, 1 << 30, 2)) - 1 == 2


def test_run_covers_the_range_once_and_propagates_errors():
    seen = []
    lock = threading.Lock()

    def record(piece, lo, hi):
        with lock:
            seen.append((piece, lo, hi))

    previous = threads.set_num_threads(3)
    try:
        assert threads.run(record, 10, nbytes=1 << 30) == 3
        assert sorted(seen) == [(0, 0, 3), (1, 3, 6), (2, 6, 10)]
        seen.clear()
        assert threads.run(record, 10, nbytes=10) == 1  # too small to split
        assert seen == [(0, 0, 10)]
        seen.clear()  # pieces of at least min_bytes: 2 here
        assert threads.run(record, 10, nbytes=5 << 20, min_bytes=2 << 20) == 2
        assert sorted(seen) == [(0, 0, 5), (1, 5, 10)]

        def fail(piece, lo, hi):
            if piece == 0:
                raise RuntimeError("piece 0 failed")

        with pytest.raises(RuntimeError, match="piece 0 failed"):
            threads.run(fail, 10, nbytes=1 << 30)
    finally:
        threads.set_num_threads(previous)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        threads.set_num_threads(0)
    with pytest.raises(TypeError, match="n must be an int, got 2.0"):
        threads.set_num_threads(2.0)


def test_the_pool_grows_to_the_thread_count():
    previous = threads.set_num_threads(1)
    try:
        threads.parallel_for(lambda a, b: None, 10, nbytes=1 << 30)  # no pool needed
        threads.set_num_threads(4)
        threads.parallel_for(lambda a, b: None, 10, nbytes=1 << 30)
        assert threads._pool._max_workers >= 3
    finally:
        threads.set_num_threads(previous)


def test_scratch_reuses_one_buffer_within_the_limit():
    _workspace.release_workspace()
    a, b = _workspace.scratch(np.float32, (10, 7), (3,))
    assert a.shape == (10, 7) and b.shape == (3,) and a.dtype == np.float32
    assert not np.shares_memory(a, b)
    (c,) = _workspace.scratch(np.float64, (5, 5))
    assert np.shares_memory(a, c)  # the same cached buffer
    with fastconv.workspace_limit(100):
        (big,) = _workspace.scratch(np.float64, (1000,))  # over the limit: not kept
        (d,) = _workspace.scratch(np.float64, (5,))
        assert not np.shares_memory(big, d)
    _workspace.release_workspace()
    (e,) = _workspace.scratch(np.float64, (5, 5))
    assert not np.shares_memory(c, e)
