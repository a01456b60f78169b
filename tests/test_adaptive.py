"""Adaptive pooling against the oracle, and against PyTorch if importable."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from fastconv import naive
from tests.helpers import (
    DTYPES,
    LAYOUTS,
    assert_close,
    assert_same,
    every_path,
    randn,
    rng,
)

# (id, (N, C, H, W), output_size): why it is here
CASES = [
    ("global", (2, 5, 7, 7), 1),  # ResNet's head
    ("divides", (2, 3, 8, 12), (4, 3)),
    ("uneven", (1, 3, 7, 10), (3, 4)),  # windows of two sizes, overlapping
    ("larger-output", (2, 2, 3, 5), (5, 7)),  # windows repeat input rows
    ("keep-width", (1, 4, 9, 6), (2, None)),
    ("one-tuple", (1, 2, 5, 5), (3,)),
    ("many-channels", (2, 20, 6, 5), (4, 3)),
    ("empty-batch", (0, 3, 4, 4), 2),
]


def _x(shape, layout, dtype, seed=0):
    N, C, H, W = shape
    # a permutation: no ties, so argmax and gradients are unambiguous
    vals = rng(seed).permutation(N * C * H * W).astype(dtype).reshape(shape)
    return vals if layout == "NCHW" else np.ascontiguousarray(vals.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_adaptive_pooling_matches_the_oracle(case, layout, dtype):
    _, shape, size = case
    x = _x(shape, layout, dtype)
    out = fastconv.adaptive_avg_pool2d(x, size, layout=layout)
    assert_close(out, naive.adaptive_avg_pool2d(x, size, layout=layout))
    gy = randn(rng(1), out.shape, dtype)
    assert_close(
        fastconv.adaptive_avg_pool2d_backward(gy, x, layout=layout),
        naive.adaptive_avg_pool2d_backward(gy, x, layout=layout),
    )
    m, idx = fastconv.adaptive_max_pool2d(x, size, True, layout=layout)
    ref, ref_idx = naive.adaptive_max_pool2d(x, size, True, layout=layout)
    assert_same(m, ref)
    assert_same(idx, ref_idx)
    assert_same(fastconv.adaptive_max_pool2d(x, size, layout=layout), ref)
    want = naive.adaptive_max_pool2d_backward(gy, x, layout=layout)
    assert_close(fastconv.adaptive_max_pool2d_backward(gy, x, layout=layout), want)
    got = fastconv.adaptive_max_pool2d_backward(gy, x, layout=layout, indices=idx)
    assert_close(got, want)


@given(
    N=st.integers(0, 2),
    C=st.integers(1, 3) | st.integers(16, 18),
    H=st.integers(1, 9),
    W=st.integers(1, 9),
    size=st.tuples(st.integers(1, 10), st.integers(1, 10)),
    layout=st.sampled_from(LAYOUTS),
    dtype=st.sampled_from(DTYPES),
    forced=st.booleans(),
)
def test_adaptive_pooling_property(N, C, H, W, size, layout, dtype, forced):
    # any sizes, the global pool among them (size (1, 1)), with the split
    # thresholds at their least or as they are
    x = _x((N, C, H, W), layout, dtype, seed=H * 10 + W)
    with every_path(forced):
        out = fastconv.adaptive_avg_pool2d(x, size, layout=layout)
        gy = randn(rng(1), out.shape, dtype)
        gx = fastconv.adaptive_avg_pool2d_backward(gy, x, layout=layout)
        m, idx = fastconv.adaptive_max_pool2d(x, size, True, layout=layout)
        gm = fastconv.adaptive_max_pool2d_backward(gy, x, layout=layout, indices=idx)
    assert_close(out, naive.adaptive_avg_pool2d(x, size, layout=layout))
    assert_close(gx, naive.adaptive_avg_pool2d_backward(gy, x, layout=layout))
    ref, ref_idx = naive.adaptive_max_pool2d(x, size, True, layout=layout)
    assert_same(m, ref)
    assert_same(idx, ref_idx)
    assert_close(gm, naive.adaptive_max_pool2d_backward(gy, x, layout=layout))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_adaptive_max_takes_the_first_maximum_and_propagates_nan(layout):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = x[0, 0, 3, 0] = 5.0  # a tie in the (2, 2)-output's windows
    x[0, 0, 0, 3] = np.nan
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    out, idx = fastconv.adaptive_max_pool2d(x, 2, True, layout=layout)
    ref, ref_idx = naive.adaptive_max_pool2d(x, 2, True, layout=layout)
    assert_same(out, ref)
    assert_same(idx, ref_idx)
    assert np.isnan(out).sum() == 1


def test_adaptive_arguments_are_checked_with_their_names():
    x = np.ones((2, 3, 6, 6))
    with pytest.raises(ValueError, match="output_size must be >= 1, got 0"):
        fastconv.adaptive_avg_pool2d(x, 0)
    with pytest.raises(ValueError, match=r"output_size must be an int or a pair"):
        fastconv.adaptive_max_pool2d(x, (1, 2, 3))
    with pytest.raises(
        TypeError, match="output_size must be an int or a tuple of ints, got 1.5"
    ):
        fastconv.adaptive_avg_pool2d(x, 1.5)
    with pytest.raises(TypeError, match="return_indices must be a bool"):
        fastconv.adaptive_max_pool2d(x, 2, return_indices="yes")
    with pytest.raises(ValueError, match=r"grad_out must have the output's shape \(2, 3"):
        fastconv.adaptive_avg_pool2d_backward(np.ones((1, 3, 2, 2)), x)
    with pytest.raises(ValueError, match="indices must have the output's shape"):
        fastconv.adaptive_max_pool2d_backward(
            np.ones((2, 3, 2, 2)), x, indices=np.zeros((2, 3, 3, 3), np.int64)
        )
    with pytest.raises(
        ValueError, match=r"indices must lie in an input plane, \[0, H\*W\)"
    ):
        fastconv.adaptive_max_pool2d_backward(
            np.ones((2, 3, 2, 2)), x, indices=np.full((2, 3, 2, 2), 36)
        )
    with pytest.raises(ValueError, match="x must be 4-D"):
        fastconv.adaptive_avg_pool2d(np.ones((3, 6, 6)), 2)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_adaptive_pooling_matches_torch(layout):
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    F = torch.nn.functional
    x = randn(rng(2), (2, 6, 11, 9), np.float64)
    tx = torch.tensor(x, requires_grad=True)
    ty = F.adaptive_avg_pool2d(tx, (4, 5))
    gy = randn(rng(3), tuple(ty.shape), np.float64)
    ty.backward(torch.tensor(gy))
    tm, ti = F.adaptive_max_pool2d(torch.tensor(x), (4, 5), return_indices=True)

    def lay(a):
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)) if layout == "NHWC" else a

    kw = dict(layout=layout)
    assert_close(
        fastconv.adaptive_avg_pool2d(lay(x), (4, 5), **kw), lay(ty.detach().numpy())
    )
    assert_close(
        fastconv.adaptive_avg_pool2d_backward(lay(gy), lay(x), **kw), lay(tx.grad.numpy())
    )
    m, i = fastconv.adaptive_max_pool2d(lay(x), (4, 5), True, **kw)
    assert_same(m, lay(tm.numpy()))
    assert_same(i, lay(ti.numpy()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCL", "NLC"])
@pytest.mark.parametrize(
    "size", [1, 3, (4,), 9], ids=["global", "uneven", "one-tuple", "larger"]
)
def test_adaptive_pooling_1d_matches_the_oracle(size, layout, dtype):
    vals = rng(4).permutation(2 * 5 * 7).astype(dtype).reshape(2, 5, 7)
    x = vals if layout == "NCL" else np.ascontiguousarray(vals.transpose(0, 2, 1))
    kw = dict(layout=layout)
    out = fastconv.adaptive_avg_pool1d(x, size, **kw)
    assert out.ndim == 3
    assert_close(out, naive.adaptive_avg_pool1d(x, size, **kw))
    gy = randn(rng(5), out.shape, dtype)
    assert_close(
        fastconv.adaptive_avg_pool1d_backward(gy, x, **kw),
        naive.adaptive_avg_pool1d_backward(gy, x, **kw),
    )
    m, idx = fastconv.adaptive_max_pool1d(x, size, True, **kw)
    ref, ref_idx = naive.adaptive_max_pool1d(x, size, True, **kw)
    assert_same(m, ref)
    assert_same(idx, ref_idx)
    want = naive.adaptive_max_pool1d_backward(gy, x, **kw)
    assert_close(fastconv.adaptive_max_pool1d_backward(gy, x, **kw), want)
    assert_close(fastconv.adaptive_max_pool1d_backward(gy, x, indices=idx, **kw), want)


def test_adaptive_pooling_1d_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    F = torch.nn.functional
    x = randn(rng(6), (3, 4, 13), np.float64)
    assert_close(
        fastconv.adaptive_avg_pool1d(x, 5),
        F.adaptive_avg_pool1d(torch.tensor(x), 5).numpy(),
    )
    tm, ti = F.adaptive_max_pool1d(torch.tensor(x), 5, return_indices=True)
    m, i = fastconv.adaptive_max_pool1d(x, 5, True)
    assert_same(m, tm.numpy())
    assert_same(i, ti.numpy())


def test_global_average_of_infinite_and_nan_planes():
    # the partial sums start at zero, not at a plane's first value
    x = np.ones((1, 3, 5, 5))
    x[0, 0, 0, 0] = np.inf
    x[0, 1, 0, 0], x[0, 1, 4, 4] = np.inf, -np.inf
    x[0, 2, 2, 2] = np.nan
    out = fastconv.adaptive_avg_pool2d(x, 1).ravel()
    assert out[0] == np.inf and np.isnan(out[1]) and np.isnan(out[2])
    assert_close(
        fastconv.adaptive_avg_pool2d(np.ones((2, 3, 7, 7)), 1), np.ones((2, 3, 1, 1))
    )


# global pooling (a 1 x 1 output) has kernels of its own: row tails of the
# four-pixel sums (W = 1, 4, 5, 6, 7), channel runs that span whole vectors
# (C = 8, 16) so the kernels split off the channels before a vector boundary
GLOBAL_SHAPES = [(2, 16, 7, 7), (1, 8, 3, 5), (2, 3, 6, 1), (1, 24, 1, 4), (2, 8, 5, 6)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", GLOBAL_SHAPES, ids=str)
def test_global_average_pooling_matches_the_oracle_at_any_alignment(shape, layout, dtype):
    x0 = _x(shape, layout, dtype)
    gy = randn(rng(7), (shape[0], shape[1], 1, 1), dtype)
    if layout == "NHWC":
        gy = np.ascontiguousarray(gy.transpose(0, 2, 3, 1))
    for offset in range(8):  # x at each element offset from a 32-byte boundary
        buf = np.empty(x0.size + 8, dtype)
        x = buf[offset : offset + x0.size].reshape(x0.shape)
        x[...] = x0
        out = fastconv.adaptive_avg_pool2d(x, 1, layout=layout)
        assert_close(out, naive.adaptive_avg_pool2d(x0, 1, layout=layout))
    assert_close(
        fastconv.adaptive_avg_pool2d_backward(gy, x0, layout=layout),
        naive.adaptive_avg_pool2d_backward(gy, x0, layout=layout),
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_global_average_pooling_is_bitwise_the_same_on_any_thread_count(layout, dtype):
    # 6.4 MB in float32: large enough for two or three pieces
    N, C, H, W = 64, 512, 7, 7
    x = randn(rng(8), (N, C, H, W) if layout == "NCHW" else (N, H, W, C), dtype)
    gy = randn(rng(9), (N, C, 1, 1) if layout == "NCHW" else (N, 1, 1, C), dtype)
    runs = []
    for n in (1, 2, 3):
        previous = fastconv.set_num_threads(n)
        try:
            out = fastconv.adaptive_avg_pool2d(x, 1, layout=layout)
            gx = fastconv.adaptive_avg_pool2d_backward(gy, x, layout=layout)
            runs.append((out, gx))
        finally:
            fastconv.set_num_threads(previous)
    for out, gx in runs[1:]:
        assert_same(out, runs[0][0])
        assert_same(gx, runs[0][1])
    axes = (2, 3) if layout == "NCHW" else (1, 2)
    want = x.astype(np.float64).mean(axis=axes, keepdims=True).astype(dtype)
    assert_close(runs[0][0], want)
    assert_same(runs[0][1], np.broadcast_to(gy / (H * W), x.shape).astype(dtype))


def test_output_size_none_keeps_every_size():
    """A bare None keeps both sizes (each window one pixel): x itself, as the oracle."""
    x = np.arange(24.0).reshape(1, 2, 3, 4)
    for name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        out = getattr(fastconv, name)(x, None)
        np.testing.assert_array_equal(out, getattr(naive, name)(x, None))
        np.testing.assert_array_equal(out, x)
