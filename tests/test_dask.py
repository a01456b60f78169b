"""fastconv.dask against single-machine fastconv: chunkings, halos, gradients.

These run on dask's synchronous scheduler; tests/test_dask_cluster.py runs
the same calls on a distributed.LocalCluster of worker processes.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
import fastconv.dask as fd
from fastconv.dask._halo import block_rows, split_axis
from tests.helpers import DTYPES, LAYOUTS, assert_same, randn, rng

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

#: The issue's bound for arithmetic: a GEMM of another width may round a value
#: 1-2 ulp differently, no more: this times max(1, max|ref|).
CHUNK_ATOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-14}


def assert_chunked_close(actual, expected):
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    atol = CHUNK_ATOL[np.dtype(expected.dtype)] * scale
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol)


@pytest.fixture(autouse=True)
def _sync_scheduler():
    with dask.config.set(scheduler="synchronous"):
        yield


def _nhwc(shape, layout):
    N, C, H, W = shape
    return shape if layout == "NCHW" else (N, H, W, C)


def _chunks(chunks, layout):
    n, c, h, w = chunks
    return chunks if layout == "NCHW" else (n, h, w, c)


def _weight(gen, F, Cg, KH, KW, layout, dtype):
    w = randn(gen, (F, Cg, KH, KW), dtype)
    return w if layout == "NCHW" else np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def _quiet(fn, *args, **kwargs):
    """Call fn with RechunkWarnings silenced (tests that expect one say so)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fd.RechunkWarning)
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------
# the geometry of one axis


@pytest.mark.parametrize(
    "chunks, size, ek, s, lo, hi",
    [
        ((4, 4, 4), 12, 3, 1, 1, 1),  # stride 1: every boundary is on the grid
        ((5, 5, 6), 16, 3, 2, 1, 1),  # off the grid: moved
        ((1, 1, 1, 1, 8), 12, 5, 1, 2, 2),  # chunks below the halo: merged
        ((6, 6), 12, 2, 2, 0, 0),  # tiling windows: no halo
        ((3, 3, 3, 3), 12, 1, 3, 0, 0),  # stride > kernel
        ((7, 6), 13, 5, 2, 2, 2),  # dilated 3 -> 5, odd size
        ((12,), 12, 3, 1, 1, 1),  # one chunk
    ],
)
def test_split_axis_gives_each_output_once_from_rows_it_holds(
    chunks, size, ek, s, lo, hi
):
    n_out = (size + lo + hi - ek) // s + 1
    split = split_axis(chunks, size, ek, s, lo, hi, n_out)
    assert sum(split.in_chunks) == size and sum(split.out_chunks) == n_out
    assert min(split.in_chunks) >= min(max(split.before, split.after, 1), size)
    n = len(split.in_chunks)
    for j in range(n):
        a, b = split.in_bounds[j], split.in_bounds[j + 1]
        if j:  # interior boundaries are multiples of the stride
            assert a % s == 0 and a // s == split.out_bounds[j]
        r0, r1, top, bottom, row0 = block_rows(split, j)
        origin = a - (split.before if j else 0)  # the block: chunk and halos
        held = min(size, b + (split.after if j < n - 1 else 0)) - origin
        assert 0 <= r0 <= r1 <= held and row0 == origin + r0
        # the rows and padding give exactly this chunk's outputs
        assert (r1 - r0 + top + bottom - ek) // s + 1 == split.out_chunks[j]
        # ... and the first of them starts where the whole axis's does
        assert row0 - top == split.out_bounds[j] * s - lo


def test_split_axis_keeps_boundaries_already_on_the_grid():
    split = split_axis((4, 4, 4, 4), 16, 3, 2, 0, 0, 7)
    assert split.in_chunks == (4, 4, 4, 4) and split.out_chunks == (2, 2, 2, 1)
    # "same" padding at stride 1: output chunks are the input's
    split = split_axis((5, 5, 6), 16, 3, 1, 1, 1, 16)
    assert split.out_chunks == (5, 5, 6) and (split.before, split.after) == (1, 1)


# ---------------------------------------------------------------------------
# convolution forward

# (id, (N, C, H, W), F, kernel, kwargs, chunks (N, C, H, W))
CONV_CASES = [
    ("batch", (6, 3, 8, 8), 4, 3, dict(padding=1), (2, 3, 8, 8)),
    ("spatial-s1", (2, 3, 13, 11), 4, 3, dict(padding=1), (1, 3, 5, 4)),
    ("spatial-s2", (2, 3, 16, 16), 4, 3, dict(stride=2, padding=1), (2, 3, 5, 7)),
    ("same", (2, 2, 15, 9), 3, 4, dict(padding="same"), (1, 2, 6, 4)),
    ("asymmetric", (1, 2, 12, 12), 2, 3, dict(padding=(1, 0, 2, 1)), (1, 2, 4, 5)),
    ("dilated", (1, 2, 20, 14), 3, 3, dict(dilation=2, padding=2), (1, 2, 7, 6)),
    ("grouped", (2, 4, 10, 10), 4, 3, dict(groups=2, stride=(1, 2)), (1, 4, 4, 4)),
    ("channel-chunks", (2, 6, 8, 8), 4, 3, dict(padding=1), (2, 2, 8, 8)),
    ("pointwise", (2, 8, 9, 9), 4, 1, dict(), (1, 8, 4, 3)),
    ("valid-s3", (1, 3, 17, 17), 2, 5, dict(stride=3), (1, 3, 6, 6)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv2d_equals_the_single_machine_call(case, layout, dtype):
    _, shape, F, k, kw, chunks = case
    gen = rng(1)
    x = randn(gen, _nhwc(shape, layout), dtype)
    w = _weight(gen, F, shape[1] // kw.get("groups", 1), k, k, layout, dtype)
    b = randn(gen, (F,), dtype)
    ref = fastconv.conv2d(x, w, b, layout=layout, **kw)
    dx = da.from_array(x, chunks=_chunks(chunks, layout))
    out = _quiet(fd.conv2d, dx, w, b, layout=layout, **kw)
    assert isinstance(out, da.Array) and out.shape == ref.shape and out.dtype == ref.dtype
    assert out.chunks[0] == dx.chunks[0]  # the batch's chunks kept
    assert_chunked_close(out.compute(), ref)


def test_conv2d_merges_channel_chunks_and_says_so():
    x = da.ones((2, 6, 8, 8), chunks=(1, 2, 8, 8))
    with pytest.warns(fd.RechunkWarning, match=r"axis 1: \(2, 2, 2\) -> \(6,\)"):
        out = fd.conv2d(x, np.ones((4, 6, 3, 3)))
    assert out.chunks == ((1, 1), (4,), (6,), (6,))


def test_spatial_chunks_off_the_stride_grid_are_moved_and_said():
    x = da.ones((1, 1, 16, 16), chunks=(1, 1, 5, 16))
    with pytest.warns(fd.RechunkWarning, match=r"axis 2: \(5, 5, 5, 1\) -> \(6, 4, 6\)"):
        out = fd.max_pool2d(x, 2)  # rows 5, 10, 15 -> multiples of 2: 6, 10 (16 ends)
    assert out.chunks[2] == (3, 2, 3)


def test_chunks_on_the_stride_grid_are_kept_without_a_warning():
    x = da.ones((2, 3, 16, 16), chunks=(1, 3, 8, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fd.conv2d(x, np.ones((2, 3, 3, 3)), stride=2, padding=0)
        pooled = fd.avg_pool2d(x, 2)
    assert out.chunks == ((1, 1), (2,), (4, 3), (2, 2, 2, 1))
    assert pooled.chunks == ((1, 1), (3,), (4, 4), (2, 2, 2, 2))


def test_weights_are_one_key_of_the_graph_not_one_per_task():
    gen = rng(2)
    x = da.from_array(randn(gen, (8, 3, 16, 16)), chunks=(1, 3, 4, 4))
    w = randn(gen, (5, 3, 3, 3))
    out = fd.conv2d(x, w, padding=1)
    graph = dict(out.__dask_graph__())
    assert len(graph) > 100  # 128 chunks and their halos

    def holds_w(v):
        if isinstance(v, np.ndarray):
            return v.shape == w.shape and np.array_equal(v, w)
        if isinstance(v, (tuple, list)):
            return any(holds_w(e) for e in v)
        if isinstance(v, dict):
            return any(holds_w(e) for e in v.values())
        for attr in ("value", "args", "kwargs"):  # dask's task objects
            inner = getattr(v, attr, None)
            if inner is not None and inner is not v and holds_w(inner):
                return True
        return False

    assert sum(holds_w(v) for v in graph.values()) == 1


# ---------------------------------------------------------------------------
# pooling forward

# (id, (N, C, H, W), kwargs, chunks)
POOL_CASES = [
    ("2s2", (4, 3, 16, 16), dict(kernel_size=2), (2, 1, 6, 8)),
    ("3s2-pad", (2, 4, 17, 15), dict(kernel_size=3, stride=2, padding=1), (1, 2, 5, 6)),
    ("s1", (1, 2, 11, 12), dict(kernel_size=3, stride=1), (1, 2, 4, 5)),
    ("ceil", (2, 2, 15, 13), dict(kernel_size=3, stride=2, ceil_mode=True), (1, 2, 6, 6)),
    (
        "ceil-pad",
        (1, 2, 14, 14),
        dict(kernel_size=3, stride=3, padding=1, ceil_mode=True),
        (1, 1, 6, 5),
    ),
    ("non-square", (2, 2, 12, 18), dict(kernel_size=(2, 3), stride=(2, 1)), (2, 2, 4, 7)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_max_pool2d_equals_the_single_machine_call_bit_for_bit(case, layout, dtype):
    _, shape, kw, chunks = case
    x = randn(rng(3), _nhwc(shape, layout), dtype)
    dx = da.from_array(x, chunks=_chunks(chunks, layout))
    ref, ref_idx = fastconv.max_pool2d(x, layout=layout, return_indices=True, **kw)
    out = _quiet(fd.max_pool2d, dx, layout=layout, **kw)
    assert_same(out.compute(), ref)
    out, idx = _quiet(fd.max_pool2d, dx, layout=layout, return_indices=True, **kw)
    assert idx.dtype == np.int64 and idx.chunks == out.chunks
    assert_same(out.compute(), ref)
    assert_same(idx.compute(), ref_idx)


def test_max_pool2d_dilated_equals_the_single_machine_call():
    x = randn(rng(4), (1, 2, 21, 19), np.float32)
    dx = da.from_array(x, chunks=(1, 2, 8, 7))
    kw = dict(kernel_size=3, stride=2, padding=2, dilation=2)
    out, idx = _quiet(fd.max_pool2d, dx, return_indices=True, **kw)
    ref, ref_idx = fastconv.max_pool2d(x, return_indices=True, **kw)
    assert_same(out.compute(), ref)
    assert_same(idx.compute(), ref_idx)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_avg_pool2d_equals_the_single_machine_call(case, include, layout, dtype):
    _, shape, kw, chunks = case
    x = randn(rng(5), _nhwc(shape, layout), dtype)
    dx = da.from_array(x, chunks=_chunks(chunks, layout))
    kw = dict(kw, count_include_pad=include, layout=layout)
    kw.pop("dilation", None)
    ref = fastconv.avg_pool2d(x, **kw)
    assert_chunked_close(_quiet(fd.avg_pool2d, dx, **kw).compute(), ref)
    div = dict(kw, divisor_override=5)
    ref = fastconv.avg_pool2d(x, **div)
    assert_chunked_close(_quiet(fd.avg_pool2d, dx, **div).compute(), ref)


# ---------------------------------------------------------------------------
# backward passes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "kw", [dict(padding=1), dict(stride=2, padding=1, groups=2), dict(dilation=2)]
)
def test_conv2d_backward_sums_the_batch_chunks_partial_gradients(kw, layout, dtype):
    gen = rng(6)
    shape = (7, 4, 10, 9)
    x = randn(gen, _nhwc(shape, layout), dtype)
    w = _weight(gen, 6, 4 // kw.get("groups", 1), 3, 3, layout, dtype)
    ref_out = fastconv.conv2d(x, w, layout=layout, **kw)
    gy = randn(gen, ref_out.shape, dtype)
    ref = fastconv.conv2d_backward(gy, x, w, layout=layout, **kw)
    dx = da.from_array(x, chunks=(2,) + x.shape[1:])  # 2, 2, 2, 1 samples
    dgy = da.from_array(gy, chunks=(3,) + gy.shape[1:])  # rechunked to x's
    grads = _quiet(fd.conv2d_backward, dgy, dx, w, layout=layout, **kw)
    assert all(isinstance(g, da.Array) for g in grads)
    assert grads[0].chunks == dx.chunks
    # grad_weight and grad_bias: a tree of sums over the chunks' partials
    assert grads[1].shape == w.shape and grads[2].shape == (6,)
    layers = grads[1].__dask_graph__().layers
    assert any("partials" in name for name in layers)
    for got, want in zip(dask.compute(*grads), ref):
        assert_chunked_close(got, want)


def test_conv2d_backward_merges_spatial_chunks_and_says_so():
    x = da.ones((2, 3, 8, 8), chunks=(1, 3, 4, 4))
    gy = da.ones((2, 2, 6, 6), chunks=(1, 2, 3, 3))
    with pytest.warns(fd.RechunkWarning) as record:
        gx, gw, gb = fd.conv2d_backward(gy, x, np.ones((2, 3, 3, 3)))
    assert any("split the batch" in str(w.message) for w in record)
    assert gx.chunks == ((1, 1), (3,), (8,), (8,))
    ref = fastconv.conv2d_backward(
        np.ones((2, 2, 6, 6)), np.ones((2, 3, 8, 8)), np.ones((2, 3, 3, 3))
    )
    assert_chunked_close(gw.compute(), ref[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", POOL_CASES[:3], ids=[c[0] for c in POOL_CASES[:3]])
def test_pool_backwards_equal_the_single_machine_calls(case, layout, dtype):
    _, shape, kw, _ = case
    gen = rng(7)
    x = randn(gen, _nhwc(shape, layout), dtype)
    chunks = _chunks((1, 1) + shape[2:], layout)  # samples and channels
    dx = da.from_array(x, chunks=chunks)
    out, idx = fastconv.max_pool2d(x, layout=layout, return_indices=True, **kw)
    gy = randn(gen, out.shape, dtype)
    dgy = da.from_array(gy, chunks=gy.shape)
    ref = fastconv.max_pool2d_backward(gy, x, layout=layout, **kw)
    got = _quiet(fd.max_pool2d_backward, dgy, dx, layout=layout, **kw)
    assert got.chunks == dx.chunks
    assert_same(got.compute(), ref)
    didx = da.from_array(idx, chunks=2)
    got = _quiet(fd.max_pool2d_backward, dgy, dx, layout=layout, indices=didx, **kw)
    assert_same(got.compute(), ref)
    avg = dict(kw, layout=layout)
    ref = fastconv.avg_pool2d_backward(gy, x, **avg)
    assert_chunked_close(_quiet(fd.avg_pool2d_backward, dgy, dx, **avg).compute(), ref)


# ---------------------------------------------------------------------------
# arguments


def test_bad_arguments_are_refused_when_the_graph_is_built():
    x = da.ones((2, 3, 8, 8), chunks=2)
    with pytest.raises(TypeError, match="x must be a dask.array.Array, got ndarray"):
        fd.conv2d(np.ones((2, 3, 8, 8)), np.ones((1, 3, 3, 3)))
    with pytest.raises(ValueError, match="x must be 4-D"):
        fd.max_pool2d(da.ones((3, 8, 8)), 2)
    with pytest.raises(ValueError, match="expects C/groups=2"):
        fd.conv2d(x, np.ones((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        fd.max_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match="grad_out must have the output's shape"):
        fd.conv2d_backward(da.ones((2, 1, 5, 5)), x, np.ones((1, 3, 3, 3)))
    with pytest.raises(TypeError, match="indices must be an integer array"):
        fd.max_pool2d_backward(x[:, :, ::2, ::2], x, 2, indices=x[:, :, ::2, ::2])
    with pytest.raises(ValueError, match="layout must be"):
        fd.avg_pool2d(x, 2, layout="CHWN")


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: fd.max_pool2d(x, 1),
        lambda x: fd.avg_pool2d(x, 1),
        lambda x: fd.max_pool2d_backward(x, x, 1),
        lambda x: fd.avg_pool2d_backward(x, x, 1),
    ],
    ids=["max", "avg", "max-backward", "avg-backward"],
)
def test_pooling_over_no_channels_is_refused_when_the_graph_is_built(fn):
    with pytest.raises(ValueError, match=r"non-empty non-batch axes.*\(2, 0, 4, 4\)"):
        fn(da.ones((2, 0, 4, 4), chunks=(1, 1, 4, 4)))
    empty_batch = fn(da.ones((0, 2, 4, 4), chunks=(1, 1, 4, 4)))
    assert empty_batch.shape == (0, 2, 4, 4)


def test_import_without_dask_says_what_to_install():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'dask' or name.startswith('dask.'):\n"
        "            raise ImportError('no dask here')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import fastconv\n"
        "fastconv.max_pool2d(__import__('numpy').ones((1, 1, 2, 2)), 2)\n"
        "try:\n"
        "    import fastconv.dask\n"
        "except ImportError as e:\n"
        "    print('ImportError:', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "ImportError: fastconv.dask needs Dask: pip install 'fastconv[dask]'" in out


@st.composite
def _spatial_case(draw):
    k = draw(st.integers(1, 4))
    d = draw(st.integers(1, 2))
    s = draw(st.integers(1, 3))
    ek = (k - 1) * d + 1
    p = draw(st.integers(0, ek // 2))
    H = draw(st.integers(ek, 14))
    W = draw(st.integers(ek, 14))
    ch = draw(st.integers(1, H))
    cw = draw(st.integers(1, W))
    ceil = draw(st.booleans())
    return k, d, s, p, H, W, ch, cw, ceil


@settings(max_examples=40, deadline=None)
@given(case=_spatial_case(), layout=st.sampled_from(LAYOUTS))
def test_any_spatial_chunking_gives_the_single_machine_result(case, layout):
    k, d, s, p, H, W, ch, cw, ceil = case
    x = randn(rng(H * 31 + W), _nhwc((2, 3, H, W), layout), np.float64)
    dx = da.from_array(x, chunks=_chunks((1, 3, ch, cw), layout))
    kw = dict(
        kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil, layout=layout
    )
    try:
        ref, ref_idx = fastconv.max_pool2d(x, return_indices=True, **kw)
    except ValueError:  # a geometry the numpy call refuses: so must the graph
        with pytest.raises(ValueError):
            _quiet(fd.max_pool2d, dx, **kw)
        return
    out, idx = _quiet(fd.max_pool2d, dx, return_indices=True, **kw)
    assert_same(out.compute(), ref)
    assert_same(idx.compute(), ref_idx)
    w = _weight(rng(1), 2, 3, k, k, layout, np.float64)
    ckw = dict(stride=s, padding=p, dilation=d, layout=layout)
    assert_chunked_close(
        _quiet(fd.conv2d, dx, w, **ckw).compute(), fastconv.conv2d(x, w, **ckw)
    )
    if d == 1:
        for include in (True, False):
            akw = dict(kw, count_include_pad=include)
            del akw["dilation"]
            ref = fastconv.avg_pool2d(x, **akw)
            assert_chunked_close(_quiet(fd.avg_pool2d, dx, **akw).compute(), ref)


def _partition(draw, size):
    """Draw chunk sizes summing to `size`: uneven, as a user's rechunk leaves them."""
    cuts = draw(st.lists(st.integers(1, max(size - 1, 1)), max_size=3, unique=True))
    edges = [0, *sorted(c for c in cuts if 0 < c < size), size]
    return tuple(b - a for a, b in zip(edges, edges[1:]))


@st.composite
def _conv_chunked_case(draw):
    groups = draw(st.sampled_from([1, 2]))
    C, F = 2 * groups, 2 * groups
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    pad = tuple(draw(st.integers(0, e)) for e in (ekh, ekh, ekw, ekw))
    H = draw(st.integers(max(1, ekh - pad[0] - pad[1]), 20))
    W = draw(st.integers(max(1, ekw - pad[2] - pad[3]), 20))
    chunks = (draw(st.sampled_from([3, 2])), C, _partition(draw, H), _partition(draw, W))
    return dict(
        x_shape=(3, C, H, W),
        w_shape=(F, C // groups, kh, kw),
        chunks=chunks,
        kw=dict(stride=(sh, sw), padding=pad, dilation=(dh, dw), groups=groups),
    )


@settings(max_examples=60, deadline=None)
@given(case=_conv_chunked_case(), layout=st.sampled_from(LAYOUTS))
def test_conv2d_over_any_chunking_and_geometry_gives_the_single_machine_result(
    case, layout
):
    # asymmetric 4-tuple padding, per-axis stride and dilation, groups and
    # uneven spatial chunks together (an axis of one chunk whose halo was
    # longer than the axis once failed to build); two calls in one graph,
    # whose keys once collided
    x = randn(rng(sum(case["x_shape"])), _nhwc(case["x_shape"], layout), np.float64)
    F, Cg, KH, KW = case["w_shape"]
    w = _weight(rng(2), F, Cg, KH, KW, layout, np.float64)
    dx = da.from_array(x, chunks=_chunks(case["chunks"], layout))
    kw = dict(case["kw"], layout=layout)
    got = dask.compute(_quiet(fd.conv2d, dx, w, **kw), _quiet(fd.conv2d, dx, -w, **kw))
    ref = fastconv.conv2d(x, w, **kw)
    assert_chunked_close(got[0], ref)
    assert_chunked_close(got[1], -ref)


def test_calls_chained_in_one_graph_keep_keys_of_their_own():
    # every map_blocks once took one fixed name as its whole key, so a second
    # call of the same function in a graph (a network's second layer) read
    # the first one's blocks
    x = randn(rng(3), (4, 3, 12, 12), np.float64)
    w1, w2 = (
        randn(rng(4), (3, 3, 3, 3), np.float64),
        randn(rng(5), (3, 3, 3, 3), np.float64),
    )
    dx = da.from_array(x, chunks=(2, 3, 6, 6))
    y = _quiet(fd.conv2d, _quiet(fd.conv2d, dx, w1, padding=1), w2, padding=1)
    p = _quiet(fd.max_pool2d, _quiet(fd.max_pool2d, y, 2, 1, 1), 3, 1, 1)
    a = _quiet(fd.avg_pool2d, _quiet(fd.avg_pool2d, p, 3, 1, 1), 2)
    ref_y = fastconv.conv2d(fastconv.conv2d(x, w1, padding=1), w2, padding=1)
    ref_p = fastconv.max_pool2d(fastconv.max_pool2d(ref_y, 2, 1, 1), 3, 1, 1)
    ref_a = fastconv.avg_pool2d(fastconv.avg_pool2d(ref_p, 3, 1, 1), 2)
    got_y, got_p, got_a = dask.compute(y, p, a)
    assert_chunked_close(got_y, ref_y)
    assert_chunked_close(got_p, ref_p)
    assert_chunked_close(got_a, ref_a)
    g = randn(rng(6), ref_y.shape, np.float64)
    dg, dxb = da.from_array(g, chunks=(2, 3, 12, 12)), dx.rechunk((2, 3, 12, 12))
    gx1, gw1, _ = fd.conv2d_backward(dg, dxb, w1, padding=1)
    gx2, gw2, _ = fd.conv2d_backward(dg, dxb, w2, padding=1)
    got = dask.compute(gx1, gw1, gx2, gw2)
    for got_i, ref_i in zip(
        got,
        fastconv.conv2d_backward(g, x, w1, padding=1)[:2]
        + fastconv.conv2d_backward(g, x, w2, padding=1)[:2],
    ):
        assert_chunked_close(got_i, ref_i)
