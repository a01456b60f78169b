"""``out=``: results written into the caller's buffers, checked as numpy does.

The results equal the calls without ``out`` bit for bit; the paths that
allocate their results through the engine write straight into the buffer
(measured with tracemalloc: numpy reports its data allocations to it).
"""

import tracemalloc

import numpy as np
import pytest

import fastconv
from fastconv import nn
from fastconv.nn import _buffers
from tests.helpers import assert_same, randn, rng

F32, F64 = np.float32, np.float64


def _calls(dtype):
    """(id, function, args, kwargs): one per family, results of 0.5-2 MB."""
    g = rng(0)
    x = randn(g, (4, 16, 48, 48), dtype)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    w = randn(g, (16, 16, 3, 3), dtype)
    w1 = randn(g, (16, 16, 1, 1), dtype)
    y = fastconv.conv2d(x, w, padding=1)
    yp, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    x1 = randn(g, (4, 16, 2304), dtype)
    cols = fastconv.im2col(x, 3, padding=1)
    return [
        ("conv2d", fastconv.conv2d, (x, w), dict(padding=1)),
        ("conv2d-1x1", fastconv.conv2d, (x, w1), {}),
        (
            "conv2d-winograd",
            fastconv.conv2d,
            (x, w),
            dict(padding=1, algorithm="winograd-4x4"),
        ),
        (
            "conv2d-nhwc",
            fastconv.conv2d,
            (xh, w.transpose(2, 3, 1, 0).copy()),
            dict(padding=1, layout="NHWC"),
        ),
        ("conv2d_backward", fastconv.conv2d_backward, (y, x, w), dict(padding=1)),
        ("conv_transpose2d", fastconv.conv_transpose2d, (y, w), dict(padding=1)),
        ("max_pool2d", fastconv.max_pool2d, (x, 2), dict(return_indices=True)),
        ("max_pool2d-values", fastconv.max_pool2d, (xh, 3, 2), dict(layout="NHWC")),
        (
            "max_pool2d_backward",
            fastconv.max_pool2d_backward,
            (yp, x, 2),
            dict(indices=idx),
        ),
        ("max_pool2d_backward-search", fastconv.max_pool2d_backward, (yp, x, 2), {}),
        ("avg_pool2d", fastconv.avg_pool2d, (x, 2), {}),
        ("avg_pool2d_backward", fastconv.avg_pool2d_backward, (yp, x, 2), {}),
        ("adaptive_avg_pool2d", fastconv.adaptive_avg_pool2d, (x, (24, 24)), {}),
        (
            "adaptive_max_pool2d_backward",
            fastconv.adaptive_max_pool2d_backward,
            (yp, x),
            {},
        ),
        ("im2col", fastconv.im2col, (x, 3), dict(padding=1)),
        ("col2im", fastconv.col2im, (cols, x.shape, 3), dict(padding=1)),
        ("max_pool1d", fastconv.max_pool1d, (x1, 2), {}),
        (
            "avg_pool1d_backward",
            fastconv.avg_pool1d_backward,
            (x1[:, :, ::2].copy(), x1, 2),
            {},
        ),
    ]


CALLS = [c[0] for c in _calls(F32)]

#: What a call allocates besides its result, as a fraction of the result's size
#: (0.5 if not listed): the transposed forward's untouched stand-in for an
#: unread x (the result's shape); the adaptive max search's own forward pass
#: (values and int64 indices at the output's size, a quarter of x here).
ALLOWED = {"conv_transpose2d": 1.1, "adaptive_max_pool2d_backward": 0.9}


def _buffers_for(result):
    if isinstance(result, tuple):
        return tuple(np.empty_like(r) for r in result)
    return np.empty_like(result)


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("name", CALLS)
def test_out_receives_the_result_without_allocating_it(name, dtype):
    _, fn, args, kwargs = next(c for c in _calls(dtype) if c[0] == name)
    ref = fn(*args, **kwargs)
    out = _buffers_for(ref)
    # one thread: every piece on this one, so its workspace is made by the
    # warm-up call (a worker's could be made by the measured one)
    threads = fastconv.get_num_threads()
    fastconv.set_num_threads(1)
    try:
        _measure(fn, args, kwargs, ref, out, name)
    finally:
        fastconv.set_num_threads(threads)


def _measure(fn, args, kwargs, ref, out, name):
    fn(*args, out=out, **kwargs)  # compiled, plans cached, workspace made
    out = (
        tuple(np.full_like(b, 7) for b in out)
        if isinstance(out, tuple)
        else np.full_like(out, 7)
    )
    big = max(r.nbytes for r in (out if isinstance(out, tuple) else (out,)))
    tracemalloc.start()
    got = fn(*args, out=out, **kwargs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if isinstance(ref, tuple):
        assert all(g is o for g, o in zip(got, out))
        for g, r in zip(got, ref):
            assert_same(g, r)
    else:
        assert got is out
        assert_same(got, ref)
    # the result went straight into the buffer: no array of its size was made
    assert peak < ALLOWED.get(name, 0.5) * big, (peak, big)


def test_some_results_in_buffers_others_new():
    x = randn(rng(1), (2, 3, 8, 8), F64)
    w = randn(rng(2), (4, 3, 3, 3), F64)
    gy = randn(rng(3), (2, 4, 6, 6), F64)
    ref = fastconv.conv2d_backward(gy, x, w)
    gw = np.empty_like(ref[1])
    got = fastconv.conv2d_backward(gy, x, w, out=(None, gw, None))
    assert got[1] is gw
    for g, r in zip(got, ref):
        assert_same(g, r)


def test_a_float32_buffer_takes_a_float64_result_cast_as_numpy_does():
    x = randn(rng(1), (2, 3, 8, 8), F64)
    ref = fastconv.avg_pool2d(x, 2)
    out = np.empty(ref.shape, F32)
    assert fastconv.avg_pool2d(x, 2, out=out) is out
    assert_same(out, ref.astype(F32))


def test_one_d_and_three_d_results_land_in_their_buffers():
    x1 = randn(rng(4), (2, 3, 10), F64)
    x3 = randn(rng(5), (2, 3, 4, 6, 6), F64)
    for fn, x in [(fastconv.avg_pool1d, x1), (fastconv.max_pool3d, x3)]:
        ref = fn(x, 2)
        out = np.empty_like(ref)
        assert fn(x, 2, out=out) is out
        assert_same(out, ref)
    ref, idx = fastconv.adaptive_max_pool3d(x3, 2, True)
    out = (np.empty_like(ref), np.empty_like(idx))
    got = fastconv.adaptive_max_pool3d(x3, 2, True, out=out)
    assert got[0] is out[0] and got[1] is out[1]
    assert_same(got[0], ref)
    assert_same(got[1], idx)


X = np.zeros((2, 3, 8, 8))


@pytest.mark.parametrize(
    "out, kw, exc, match",
    [
        (
            np.zeros((2, 3, 4, 5)),
            {},
            ValueError,
            r"out must have the result's shape \(2, 3, 4, 4\), got \(2, 3, 4, 5\)",
        ),
        (np.zeros((2, 3, 4, 8))[..., ::2], {}, ValueError, "out must be C-contiguous"),
        (
            np.zeros((2, 3, 4, 4), np.int64),
            {},
            TypeError,
            r"casts to \(same_kind\), got dtype int64",
        ),
        ([[0.0]], {}, TypeError, "out must be a numpy array or None, got list"),
        (
            np.zeros((2, 3, 4, 4)),
            dict(return_indices=True),
            ValueError,
            r"out must be a tuple of 2 buffers \(or None\), one per result, got ndarray",
        ),
        (
            (np.zeros((2, 3, 4, 4)),),
            dict(return_indices=True),
            ValueError,
            r"out must hold one buffer \(or None\) per result: 2, got a tuple of 1",
        ),
    ],
    ids=["shape", "strided", "dtype", "list", "one-for-two", "short-tuple"],
)
def test_bad_out_is_refused_naming_it(out, kw, exc, match):
    with pytest.raises(exc, match=match):
        fastconv.max_pool2d(X, 2, out=out, **kw)


def test_out_overlapping_an_input_or_read_only_is_refused():
    x = np.zeros((2, 3, 8, 8))
    with pytest.raises(ValueError, match="out must not overlap the input x"):
        fastconv.avg_pool2d(x, 1, out=x)
    ro = np.zeros((2, 3, 4, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        fastconv.avg_pool2d(x, 2, out=ro)
    a = np.zeros((2, 3, 4, 4))
    with pytest.raises(ValueError, match="out's buffers must not overlap one another"):
        fastconv.max_pool2d(x, 2, return_indices=True, out=(a, a.view(np.int64)))
    with pytest.raises(ValueError, match=r"out\[1\] must have the result's shape"):
        fastconv.max_pool2d(
            x, 2, return_indices=True, out=(a, np.zeros((2, 3, 4, 5), np.int64))
        )


# --------------------------------------------------------------------------
# the nn layers: results kept and reused, never while someone holds them


def _net(layout, backend=None, relu=True):
    kw = dict(layout=layout, backend=backend)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, rng=0, **kw),
        *([nn.ReLU()] if relu else []),
        nn.MaxPool2d(2, **kw),
        nn.Conv2d(16, 16, 3, padding=1, rng=1, **kw),
        nn.AvgPool2d(2, **kw),
        nn.Flatten(),
        nn.Linear(16 * 16 * 16, 10, rng=2),
    )


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_nn_steps_reuse_their_results_and_never_overwrite_held_ones(layout):
    model, oracle = _net(layout), _net(layout, fastconv.naive)
    shape = (8, 3, 64, 64) if layout == "NCHW" else (8, 64, 64, 3)
    held = []
    for step in range(4):
        x = randn(rng(step), shape, F32)
        y = model.forward(x)
        g = model.backward(np.ones_like(y))
        held.append((y, y.copy(), g, g.copy()))
        yr = oracle.forward(x)
        gr = oracle.backward(np.ones_like(yr))
        np.testing.assert_allclose(y, yr, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(g, gr, rtol=1e-4, atol=1e-5)
    for y, y0, g, g0 in held:  # what the caller kept is as it was returned
        assert_same(y, y0)
        assert_same(g, g0)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_a_training_step_after_the_first_makes_no_large_result(layout):
    # the engine's layers only (ReLU's arrays are numpy's own)
    model = _net(layout, relu=False)
    shape = (8, 3, 64, 64) if layout == "NCHW" else (8, 64, 64, 3)
    x = randn(rng(7), shape, F32)
    biggest = 8 * 16 * 64 * 64 * 4  # the first conv's output, 2 MB
    peaks = []
    for _ in range(5):
        tracemalloc.start()
        y = model.forward(x)
        model.backward(np.ones_like(y))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        del y
    # the first step allocates the results; later ones reuse them
    assert peaks[0] > 2 * biggest
    assert max(peaks[2:]) < biggest / 4, peaks


def test_a_kept_array_is_free_only_when_the_pool_alone_holds_it():
    pool = _buffers.ResultBuffers()
    f64 = np.dtype(F64)
    a = pool._take((4,), f64)
    assert pool._take((4,), f64) is not a  # `a` is held here
    b = a.reshape(2, 2)  # a view holds its owner too
    del a
    assert all(pool._take((4,), f64) is not b.base for _ in range(2))
    owner = b.base
    del b
    assert pool._take((4,), f64) is not owner  # held by `owner`
    owner_id = id(owner)
    del owner
    assert any(id(pool._take((4,), f64)) == owner_id for _ in range(3))
