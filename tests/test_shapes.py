"""The shape functions agree with the functions: same output shape, same refusals.

For drawn arguments of every kind and rank, the shape function and the
function itself (run on zeros of the drawn shapes) either both succeed, with
the same output shape, or both raise the same exception type. The function
is the reference: the shape functions must describe what it does.
"""

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import fastconv
from fastconv import Axis

LAYOUTS = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}


def _both(shape_call, call):
    """Run both; return (shape from the shape function, the call's result shape)."""
    try:
        want = call()
    except (ValueError, TypeError) as exc:
        with pytest.raises(type(exc)):
            shape_call()
        return None
    got = shape_call()
    want = want[0] if isinstance(want, tuple) else want
    assert got == want.shape
    return got


def _per_axis(draw, rank, lo, hi):
    """An int, or a tuple of one per axis (sometimes a 1-tuple)."""
    kind = draw(st.sampled_from(["int", "tuple", "one"]))
    if kind == "int":
        return draw(st.integers(lo, hi))
    if kind == "one":
        return (draw(st.integers(lo, hi)),)
    return tuple(draw(st.integers(lo, hi)) for _ in range(rank))


def _x_shape(draw, rank, layout, C, min_size=1):
    sizes = tuple(draw(st.integers(min_size, 7)) for _ in range(rank))
    N = draw(st.integers(0, 2))
    return (N, C) + sizes if layout[1] == "C" else (N,) + sizes + (C,)


@st.composite
def conv_cases(draw):
    rank = draw(st.sampled_from([1, 2, 3]))
    layout = draw(st.sampled_from(LAYOUTS[rank]))
    groups = draw(st.sampled_from([1, 1, 2]))
    C = groups * draw(st.integers(1, 2))
    F = groups * draw(st.integers(1, 2))
    x_shape = _x_shape(draw, rank, layout, C)
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    Cg = C // groups if draw(st.booleans()) else C  # sometimes a wrong channel count
    w_shape = (F, Cg) + kernel if layout[1] == "C" else kernel + (Cg, F)
    padding = draw(
        st.one_of(st.sampled_from(["same", "valid"]), st.integers(0, 2))
        if rank != 2
        else st.one_of(st.sampled_from(["same", "valid"]), st.integers(0, 2))
    )
    kw = dict(
        stride=_per_axis(draw, rank, 1, 3),
        padding=padding,
        dilation=_per_axis(draw, rank, 1, 2),
        groups=groups,
        layout=layout,
    )
    return rank, x_shape, w_shape, kw


@given(conv_cases())
@settings(max_examples=120)
def test_conv_output_shape_is_the_functions(case):
    rank, x_shape, w_shape, kw = case
    note(f"{rank}-D {x_shape} {w_shape} {kw}")
    fn = getattr(fastconv, f"conv{rank}d")
    _both(
        lambda: fastconv.conv_output_shape(x_shape, w_shape, **kw),
        lambda: fn(np.zeros(x_shape), np.zeros(w_shape), **kw),
    )


@st.composite
def transpose_cases(draw):
    rank = draw(st.sampled_from([1, 2, 3]))
    layout = draw(st.sampled_from(LAYOUTS[rank]))
    groups = draw(st.sampled_from([1, 2]))
    C = groups * draw(st.integers(1, 2))
    Fg = draw(st.integers(1, 2))
    x_shape = _x_shape(draw, rank, layout, C)
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    w_shape = (C, Fg) + kernel if layout[1] == "C" else kernel + (Fg, C)
    kw = dict(
        stride=_per_axis(draw, rank, 1, 3),
        padding=_per_axis(draw, rank, 0, 2),
        output_padding=_per_axis(draw, rank, 0, 2),
        groups=groups,
        dilation=_per_axis(draw, rank, 1, 2),
        layout=layout,
    )
    return rank, x_shape, w_shape, kw


@given(transpose_cases())
@settings(max_examples=100)
def test_conv_transpose_output_shape_is_the_functions(case):
    rank, x_shape, w_shape, kw = case
    note(f"{rank}-D {x_shape} {w_shape} {kw}")
    fn = getattr(fastconv, f"conv_transpose{rank}d")
    _both(
        lambda: fastconv.conv_transpose_output_shape(x_shape, w_shape, **kw),
        lambda: fn(np.zeros(x_shape), np.zeros(w_shape), **kw),
    )


@st.composite
def pool_cases(draw):
    rank = draw(st.sampled_from([1, 2, 3]))
    layout = draw(st.sampled_from(LAYOUTS[rank]))
    kind = draw(st.sampled_from(["max", "avg"]))
    x_shape = _x_shape(draw, rank, layout, draw(st.integers(1, 2)))
    kw = dict(
        kernel_size=_per_axis(draw, rank, 1, 4),
        stride=draw(st.one_of(st.none(), st.integers(1, 3))),
        padding=_per_axis(draw, rank, 0, 2),
        ceil_mode=draw(st.booleans()),
        layout=layout,
    )
    if kind == "max":
        kw["dilation"] = _per_axis(draw, rank, 1, 2)
    return rank, kind, x_shape, kw


@given(pool_cases())
@settings(max_examples=150)
def test_pool_output_shape_is_the_functions(case):
    rank, kind, x_shape, kw = case
    note(f"{rank}-D {kind} {x_shape} {kw}")
    fn = getattr(fastconv, f"{kind}_pool{rank}d")
    _both(
        lambda: fastconv.pool_output_shape(x_shape, **kw),
        lambda: fn(np.zeros(x_shape), **kw),
    )


@st.composite
def adaptive_cases(draw):
    rank = draw(st.sampled_from([1, 2, 3]))
    layout = draw(st.sampled_from(LAYOUTS[rank]))
    x_shape = _x_shape(draw, rank, layout, draw(st.integers(1, 2)))
    item = st.one_of(st.integers(0, 5), st.none()) if rank > 1 else st.integers(0, 5)
    form = draw(st.sampled_from(["int", "tuple", "one"]))
    if form == "int":
        size = draw(item)
    elif form == "one":
        size = (draw(item),)
    else:
        size = tuple(draw(item) for _ in range(rank))
    return rank, x_shape, size, layout, draw(st.sampled_from(["avg", "max"]))


@given(adaptive_cases())
@settings(max_examples=100)
def test_adaptive_pool_output_shape_is_the_functions(case):
    rank, x_shape, size, layout, kind = case
    note(f"{rank}-D {kind} {x_shape} {size} {layout}")
    fn = getattr(fastconv, f"adaptive_{kind}_pool{rank}d")
    _both(
        lambda: fastconv.adaptive_pool_output_shape(x_shape, size, layout=layout),
        lambda: fn(np.zeros(x_shape), size, layout=layout),
    )


def test_geometry_resolves_same_padding_and_ceil_mode():
    g = fastconv.conv_geometry((2, 3, 7, 9), (4, 3, 3, 3), stride=2, padding="same")
    assert g.out_shape == (2, 4, 4, 5)
    # TensorFlow's rule: the odd pixel of padding at the bottom/right
    assert g.axes == (Axis(7, 4, 3, 2, 1, 1, 1), Axis(9, 5, 3, 2, 1, 1, 1))
    assert (g.rank, g.channels_last, g.groups) == (2, False, 1)
    g = fastconv.conv_geometry((1, 6, 2), (4, 2, 5), padding="same", layout="NLC")
    assert g.axes == (Axis(6, 6, 4, 1, 1, 1, 2),) and g.channels_last
    p = fastconv.pool_geometry((1, 1, 5, 6, 7), 2, ceil_mode=True)
    assert [a.out for a in p.axes] == [3, 3, 4] and p.weight_shape is None
    t = fastconv.conv_transpose_geometry(
        (1, 2, 4, 4), (2, 3, 3, 3), stride=2, padding=1, output_padding=1
    )
    assert t.out_shape == (1, 3, 8, 8)
    assert t.axes[0] == Axis(4, 8, 3, 2, 1, 1, 0)


def test_shape_functions_refuse_bad_arguments_by_name():
    with pytest.raises(ValueError, match="x_shape must be a tuple of 3, 4 or 5 ints"):
        fastconv.conv_output_shape((1, 2), (1, 2, 3))
    with pytest.raises(ValueError, match="layout must be 'NCL' or 'NLC' for a 1-D"):
        fastconv.pool_output_shape((1, 2, 8), 2, layout="NCHW")
    with pytest.raises(ValueError, match="weight_shape must be a 4-tuple"):
        fastconv.conv_output_shape((1, 2, 8, 8), (1, 2, 3))
    with pytest.raises(ValueError, match="x_shape must have non-empty non-batch axes"):
        fastconv.pool_output_shape((1, 0, 8, 8), 2)
    with pytest.raises(ValueError, match="x_shape must be non-negative"):
        fastconv.conv_output_shape((1, 2, -8, 8), (1, 2, 3, 3))


def test_result_type_is_the_dtype_the_functions_return():
    for dtypes in [
        (np.float32, np.float32),
        (np.float32, np.float64),
        (np.float16, np.float16),
        (np.int64, np.int8),
        (np.bool_, np.float32),
    ]:
        x = np.ones((1, 1, 3, 3), dtypes[0])
        w = np.ones((1, 1, 2, 2), dtypes[1])
        assert fastconv.result_type(x, w) == fastconv.conv2d(x, w).dtype, dtypes
    with pytest.raises(TypeError, match="real"):
        fastconv.result_type(np.complex64)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_pool_plan_runs_as_the_functions(layout, dtype):
    gen = np.random.default_rng(0)
    shape = (2, 3, 7, 6) if layout == "NCHW" else (2, 7, 6, 3)
    x = gen.standard_normal(shape).astype(dtype)
    kw = dict(stride=2, padding=1, ceil_mode=True, layout=layout)
    plan = fastconv.plan_pool2d("max", shape, dtype, 3, dilation=1, **kw)
    out, idx = plan.forward(x, return_indices=True)
    want, want_idx = fastconv.max_pool2d(x, 3, return_indices=True, **kw)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(idx, want_idx)
    assert out.dtype == want.dtype and plan.out_shape == out.shape
    gy = gen.standard_normal(out.shape).astype(dtype)
    want_gx = fastconv.max_pool2d_backward(gy, x, 3, **kw)
    np.testing.assert_array_equal(plan.backward(gy, x), want_gx)
    np.testing.assert_array_equal(plan.backward(gy, x, idx), want_gx)
    avg = fastconv.plan_pool2d("avg", shape, dtype, 3, count_include_pad=False, **kw)
    want = fastconv.avg_pool2d(x, 3, count_include_pad=False, **kw)
    np.testing.assert_array_equal(avg.forward(x), want)
    want_gx = fastconv.avg_pool2d_backward(gy, x, 3, count_include_pad=False, **kw)
    np.testing.assert_array_equal(avg.backward(gy, x), want_gx)
    np.testing.assert_array_equal(x, x.copy())


def test_pool_plan_checks_its_arguments():
    with pytest.raises(ValueError, match="kind must be 'max' or 'avg'"):
        fastconv.plan_pool2d("min", (1, 1, 4, 4), np.float32, 2)
    with pytest.raises(ValueError, match="average pooling takes no dilation"):
        fastconv.plan_pool2d("avg", (1, 1, 4, 4), np.float32, 2, dilation=2)
    with pytest.raises(ValueError, match="x_shape must have non-empty non-batch"):
        fastconv.plan_pool2d("max", (1, 0, 4, 4), np.float32, 2)
    with pytest.raises(TypeError, match="dtype must be a real"):
        fastconv.plan_pool2d("max", (1, 1, 4, 4), np.complex64, 2)
    plan = fastconv.plan_pool2d("max", (1, 1, 4, 4), np.float32, 2)
    with pytest.raises(ValueError, match=r"x must have the plan's shape \(1, 1, 4, 4\)"):
        plan.forward(np.ones((1, 1, 4, 5)))
    with pytest.raises(ValueError, match="grad_out must have the output's shape"):
        plan.backward(np.ones((1, 1, 3, 2)), np.ones((1, 1, 4, 4)))
    avg = fastconv.plan_pool2d("avg", (1, 1, 4, 4), np.float32, 2)
    with pytest.raises(ValueError, match="return_indices is for max pooling"):
        avg.forward(np.ones((1, 1, 4, 4)), return_indices=True)
