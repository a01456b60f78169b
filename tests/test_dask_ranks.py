"""fastconv.dask in 1-D and 3-D against single-machine fastconv of the same rank.

Chunkings along N and every spatial axis (sizes that do not divide the
axis), stride, padding, dilation, ceil_mode, count_include_pad, both
layouts and both float dtypes; the 1-D and 3-D calls through the same
rank-generic graphs as 2-D (tests/test_dask.py), whose single-machine
reference the naive oracle already holds to. Synchronous scheduler.
"""

import warnings
from unittest import mock

import numpy as np
import pytest

import fastconv
import fastconv.dask as fd
from fastconv._engine.geometry import output_size
from fastconv.dask._halo import block_rows, split_axis
from tests.helpers import DTYPES, assert_same, randn, rng
from tests.test_dask import assert_chunked_close

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

#: rank -> (channels-first layout, channels-last layout)
RANK_LAYOUTS = {1: ("NCL", "NLC"), 3: ("NCDHW", "NDHWC")}


@pytest.fixture(autouse=True)
def _sync_scheduler():
    with dask.config.set(scheduler="synchronous"):
        yield


def _last(layout):
    return layout[1] != "C"


def _x(a, layout):
    """A channels-first array in `layout`: (N, C, *S) -> (N, *S, C) if channels-last."""
    return np.ascontiguousarray(np.moveaxis(a, 1, -1)) if _last(layout) else a


def _chunks(chunks, layout):
    return (chunks[0], *chunks[2:], chunks[1]) if _last(layout) else chunks


def _w(w, layout):
    """(F, C/groups, *K) -> (*K, C/groups, F) if channels-last."""
    if not _last(layout):
        return w
    return np.ascontiguousarray(w.transpose(*range(2, w.ndim), 1, 0))


def _spatial(layout):
    n = len(layout) - 2
    return tuple(range(1, 1 + n)) if _last(layout) else tuple(range(2, 2 + n))


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fd.RechunkWarning)
        return fn(*args, **kwargs)


def _fns(rank):
    names = ["conv", "max_pool", "avg_pool"]
    return {
        n: (getattr(fastconv, f"{n}{rank}d"), getattr(fd, f"{n}{rank}d")) for n in names
    } | {
        f"{n}_backward": (
            getattr(fastconv, f"{n}{rank}d_backward"),
            getattr(fd, f"{n}{rank}d_backward"),
        )
        for n in names
    }


def _assert_spatial_chunks_kept(out, dx, layout):
    # the batch's chunks, and more than one output chunk along every spatial
    # axis that x split (these cases' chunks all hold their halo)
    assert out.chunks[0] == dx.chunks[0]
    for a in _spatial(layout):
        if dx.numblocks[a] > 1:
            assert len(out.chunks[a]) > 1, (a, out.chunks)


# ---------------------------------------------------------------------------
# the geometry of one axis when every chunk's call keeps the axis's padding


@pytest.mark.parametrize(
    "chunks, size, ek, s, lo",
    [
        ((4, 4, 4), 12, 3, 1, 1),  # skip*s = lo: the 2-D halo
        ((5, 5, 6), 16, 3, 2, 1),  # lo = 1 < s: a halo of one stride, skip 1
        ((7, 6), 13, 5, 2, 2),  # dilated 3 -> 5, lo = s
        ((3, 3, 3, 3, 3), 15, 3, 3, 1),  # stride = kernel, padding 1
        ((6, 6, 6), 18, 7, 4, 3),  # lo < s < ek
        ((12,), 12, 3, 2, 1),  # one chunk: the whole axis's call
    ],
)
def test_kept_padding_gives_each_output_once_from_rows_it_holds(chunks, size, ek, s, lo):
    hi = lo  # a pooling's padding, the same at both ends
    for ceil in (False, True):
        n_out = output_size(size, ek, s, 1, lo, hi, ceil)
        split = split_axis(chunks, size, ek, s, lo, hi, n_out, keep_padding=True)
        assert sum(split.in_chunks) == size and sum(split.out_chunks) == n_out
        assert split.before == -(-lo // s) * s
        n = len(split.in_chunks)
        for j in range(n):
            a, b = split.in_bounds[j], split.in_bounds[j + 1]
            r0, r1, top, bottom, row0 = block_rows(split, j)
            assert (top, bottom) == (lo, hi)  # the whole axis's padding
            origin = a - (split.before if j else 0)
            held = min(size, b + (split.after if j < n - 1 else 0)) - origin
            assert 0 <= r0 <= r1 <= held and origin >= 0 and row0 == origin + r0
            # the call's output skip is the chunk's first ...
            skip = split.skip(j)
            assert row0 - lo + skip * s == split.out_bounds[j] * s - lo
            # ... whose window reads no padding the whole axis lacks
            assert j == 0 or row0 - lo + skip * s >= row0
            # and the call gives all of the chunk's outputs
            count = output_size(r1 - r0, ek, s, 1, top, bottom, ceil)
            assert count >= skip + split.out_chunks[j]


# ---------------------------------------------------------------------------
# convolution forward, 1-D and 3-D

# (id, rank, (N, C, *S) channels-first, F, kernel, kwargs, chunks (N, C, *S))
CONV_CASES = [
    ("1d-batch", 1, (6, 3, 16), 4, 3, dict(padding=1), (2, 3, 16)),
    ("1d-s2-pad", 1, (2, 3, 23), 4, 3, dict(stride=2, padding=1), (1, 3, 7)),
    ("1d-dilated", 1, (2, 2, 25), 3, 3, dict(dilation=2, padding=2), (1, 2, 6)),
    ("1d-same-even", 1, (2, 2, 19), 3, 4, dict(padding="same"), (1, 2, 5)),
    ("1d-groups-C-chunks", 1, (2, 4, 15), 4, 3, dict(groups=2, stride=3), (1, 2, 4)),
    ("3d-batch", 3, (4, 2, 5, 6, 6), 3, 3, dict(padding=1), (2, 2, 5, 6, 6)),
    ("3d-s1", 3, (1, 2, 7, 9, 8), 3, 3, dict(padding=1), (1, 2, 3, 4, 5)),
    ("3d-s2-pad", 3, (2, 2, 9, 10, 11), 3, 3, dict(stride=2, padding=1), (1, 2, 4, 3, 5)),
    (
        "3d-dilated-pads",  # a padding per axis, one of them none
        3,
        (1, 2, 11, 10, 9),
        2,
        3,
        dict(dilation=2, padding=(2, 1, 0)),
        (1, 2, 5, 4, 4),
    ),
    ("3d-same-even", 3, (1, 2, 8, 9, 7), 2, 2, dict(padding="same"), (1, 2, 3, 4, 3)),
    (
        "3d-groups-strides",
        3,
        (2, 4, 6, 6, 7),
        4,
        (2, 3, 3),
        dict(groups=2, stride=(1, 2, 3), padding=1),
        (1, 2, 3, 3, 4),
    ),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_equals_the_single_machine_call(case, last, dtype):
    _, rank, shape, F, k, kw, chunks = case
    layout = RANK_LAYOUTS[rank][last]
    ks = (k,) * rank if isinstance(k, int) else k
    gen = rng(20)
    x = _x(randn(gen, shape, dtype), layout)
    w = _w(randn(gen, (F, shape[1] // kw.get("groups", 1), *ks), dtype), layout)
    b = randn(gen, (F,), dtype)
    ref, fn = _fns(rank)["conv"]
    ref = ref(x, w, b, layout=layout, **kw)
    dx = da.from_array(x, chunks=_chunks(chunks, layout))
    out = _quiet(fn, dx, w, b, layout=layout, **kw)
    assert isinstance(out, da.Array) and out.shape == ref.shape and out.dtype == ref.dtype
    _assert_spatial_chunks_kept(out, dx, layout)
    assert_chunked_close(out.compute(), ref)


def test_conv3d_is_lazy_and_runs_the_3d_call_once_per_block():
    x = randn(rng(21), (2, 2, 8, 8, 8), np.float32)
    w = randn(rng(22), (3, 2, 3, 3, 3), np.float32)
    dx = da.from_array(x, chunks=(1, 2, 4, 4, 8))
    real = fastconv.conv3d
    with mock.patch.object(fastconv, "conv3d", side_effect=real) as spy:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # on the stride grid, halos held
            out = fd.conv3d(dx, w, padding=1)
        assert spy.call_count == 0  # nothing computed yet
        got = out.compute()
    assert spy.call_count == 8 and out.chunks == ((1, 1), (3,), (4, 4), (4, 4), (8,))
    assert_chunked_close(got, real(x, w, padding=1))


def test_chunks_on_the_stride_grid_are_kept_without_a_warning_1d_and_3d():
    x1 = da.ones((2, 3, 16), chunks=(1, 3, 4))
    x3 = da.ones((2, 3, 8, 8, 12), chunks=(1, 3, 4, 2, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c1 = fd.conv1d(x1, np.ones((2, 3, 3)), stride=2)
        p1 = fd.avg_pool1d(x1, 2)
        c3 = fd.conv3d(x3, np.ones((2, 3, 1, 1, 1)), stride=2)
        m3 = fd.max_pool3d(x3, 2)
    assert c1.chunks == ((1, 1), (2,), (2, 2, 2, 1))
    assert p1.chunks == ((1, 1), (3,), (2, 2, 2, 2))
    assert c3.chunks == ((1, 1), (2,), (2, 2), (1, 1, 1, 1), (3, 3))
    assert m3.chunks == ((1, 1), (3,), (2, 2), (1, 1, 1, 1), (3, 3))


def test_chunks_are_moved_and_merged_with_a_warning_that_says_so():
    x = da.ones((1, 2, 16), chunks=(1, 1, 5))
    with pytest.warns(fd.RechunkWarning) as record:
        out = fd.conv1d(x, np.ones((3, 2, 2)), stride=2)
    said = " | ".join(str(w.message) for w in record)
    assert "axis 1: (1, 1) -> (2,)" in said  # channels merged
    assert "axis 2: (5, 5, 5, 1) -> (6, 4, 6)" in said  # onto multiples of 2
    assert out.chunks[2] == (3, 2, 3)
    # 3-D pooling keeps the padding: a halo of ceil(1/3)*3 = 3 planes before
    # each chunk (2-D's would be 1), so the last chunk of 2, on the grid,
    # is merged into its neighbour
    x = randn(rng(28), (1, 1, 14, 4, 4), np.float64)
    dx = da.from_array(x, chunks=(1, 1, 3, 4, 4))
    with pytest.warns(fd.RechunkWarning) as record:
        out = fd.max_pool3d(dx, 3, 3, 1)
    said = str(record[0].message)
    assert "axis 2: (3, 3, 3, 3, 2) -> (3, 3, 3, 5)" in said, said
    assert "at least the halo (3 planes, 3 rows, 3 columns)" in said, said
    assert out.chunks[2] == (1, 1, 1, 2)
    assert_same(out.compute(), fastconv.max_pool3d(x, 3, 3, 1))


# ---------------------------------------------------------------------------
# pooling forward, 1-D and 3-D

# (id, rank, (N, C, *S) channels-first, kwargs, chunks (N, C, *S))
POOL_CASES = [
    ("1d-2s2", 1, (3, 2, 20), dict(kernel_size=2), (2, 1, 7)),
    ("1d-3s2-pad", 1, (2, 3, 23), dict(kernel_size=3, stride=2, padding=1), (1, 2, 6)),
    ("1d-s1-pad", 1, (1, 2, 13), dict(kernel_size=3, stride=1, padding=1), (1, 2, 4)),
    ("1d-ceil", 1, (2, 2, 21), dict(kernel_size=3, stride=2, ceil_mode=True), (1, 2, 8)),
    (
        "1d-ceil-pad",
        1,
        (1, 2, 20),
        dict(kernel_size=3, stride=3, padding=1, ceil_mode=True),
        (1, 1, 7),
    ),
    ("3d-2s2", 3, (2, 2, 8, 8, 10), dict(kernel_size=2), (1, 1, 3, 5, 4)),
    (
        "3d-3s2-pad",
        3,
        (1, 2, 9, 11, 10),
        dict(kernel_size=3, stride=2, padding=1),
        (1, 2, 4, 5, 3),
    ),
    (
        "3d-ceil",
        3,
        (1, 2, 9, 9, 11),
        dict(kernel_size=3, stride=2, ceil_mode=True),
        (1, 2, 4, 4, 6),
    ),
    (
        "3d-ceil-pad",  # padding 1 < stride 3: halos of a whole stride
        3,
        (1, 1, 10, 10, 8),
        dict(kernel_size=3, stride=3, padding=1, ceil_mode=True),
        (1, 1, 4, 4, 3),
    ),
    (
        "3d-per-axis",
        3,
        (1, 2, 7, 12, 10),
        dict(kernel_size=(2, 3, 3), stride=(1, 2, 3), padding=(1, 1, 0)),
        (1, 2, 3, 5, 4),
    ),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_max_pool_equals_the_single_machine_call_bit_for_bit(case, last, dtype):
    _, rank, shape, kw, chunks = case
    layout = RANK_LAYOUTS[rank][last]
    x = _x(randn(rng(23), shape, dtype), layout)
    dx = da.from_array(x, chunks=_chunks(chunks, layout))
    ref_fn, fn = _fns(rank)["max_pool"]
    ref, ref_idx = ref_fn(x, layout=layout, return_indices=True, **kw)
    out = _quiet(fn, dx, layout=layout, **kw)
    _assert_spatial_chunks_kept(out, dx, layout)
    assert_same(out.compute(), ref)
    out, idx = _quiet(fn, dx, layout=layout, return_indices=True, **kw)
    assert idx.dtype == np.int64 and idx.chunks == out.chunks
    got, got_idx = dask.compute(out, idx)
    assert_same(got, ref)
    assert_same(got_idx, ref_idx)  # flat in the whole L, or the whole volume


@pytest.mark.parametrize(
    "rank, shape, chunks",
    [(1, (1, 2, 29), (1, 2, 8)), (3, (1, 2, 11, 12, 9), (1, 2, 5, 4, 4))],
    ids=["1d", "3d"],
)
def test_max_pool_dilated_equals_the_single_machine_call(rank, shape, chunks):
    x = randn(rng(24), shape, np.float32)
    dx = da.from_array(x, chunks=chunks)
    kw = dict(kernel_size=3, stride=2, padding=2, dilation=2)
    ref_fn, fn = _fns(rank)["max_pool"]
    out, idx = _quiet(fn, dx, return_indices=True, **kw)
    ref, ref_idx = ref_fn(x, return_indices=True, **kw)
    assert_same(out.compute(), ref)
    assert_same(idx.compute(), ref_idx)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_avg_pool_equals_the_single_machine_call(case, last, dtype):
    _, rank, shape, kw, chunks = case
    layout = RANK_LAYOUTS[rank][last]
    x = _x(randn(rng(25), shape, dtype), layout)
    dx = da.from_array(x, chunks=_chunks(chunks, layout))
    ref_fn, fn = _fns(rank)["avg_pool"]
    extra = [dict(count_include_pad=True), dict(count_include_pad=False)]
    if rank == 3:  # avg_pool1d has no divisor_override, as torch's
        extra.append(dict(divisor_override=5))
    for more in extra:
        akw = dict(kw, layout=layout, **more)
        out = _quiet(fn, dx, **akw)
        _assert_spatial_chunks_kept(out, dx, layout)
        assert_chunked_close(out.compute(), ref_fn(x, **akw))


# ---------------------------------------------------------------------------
# backward passes: batch chunks kept (and channels, for pooling); planes merged


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize(
    "rank, shape, kw",
    [
        (1, (7, 4, 17), dict(padding=1)),
        (1, (7, 4, 17), dict(stride=2, padding=1, dilation=2, groups=2)),
        (3, (5, 4, 6, 7, 5), dict(padding=1)),
        (3, (5, 4, 6, 7, 5), dict(stride=(2, 1, 2), padding=(1, 0, 1), groups=2)),
    ],
    ids=["1d", "1d-s2-dilated-groups", "3d", "3d-strides-groups"],
)
def test_conv_backward_sums_the_batch_chunks_partial_gradients(
    rank, shape, kw, last, dtype
):
    layout = RANK_LAYOUTS[rank][last]
    gen = rng(26)
    x = _x(randn(gen, shape, dtype), layout)
    w = _w(randn(gen, (6, 4 // kw.get("groups", 1)) + (3,) * rank, dtype), layout)
    fns = _fns(rank)
    gy = randn(gen, fns["conv"][0](x, w, layout=layout, **kw).shape, dtype)
    ref = fns["conv_backward"][0](gy, x, w, layout=layout, **kw)
    spatial = _spatial(layout)
    # 2, 2, 2, 1 samples; x's spatial axes and grad_out's batch chunked apart
    chunks = tuple(2 if a == 0 else (4 if a in spatial else -1) for a in range(x.ndim))
    dx = da.from_array(x, chunks=chunks)
    dgy = da.from_array(gy, chunks=(3,) + gy.shape[1:])
    with pytest.warns(fd.RechunkWarning) as record:
        grads = fns["conv_backward"][1](dgy, dx, w, layout=layout, **kw)
    assert any("split the batch" in str(r.message) for r in record)
    assert all(isinstance(g, da.Array) for g in grads)
    assert grads[0].chunks[0] == dx.chunks[0]
    assert all(len(grads[0].chunks[a]) == 1 for a in spatial)
    assert grads[1].shape == w.shape and grads[2].shape == (6,)
    assert any("partials" in name for name in grads[1].__dask_graph__().layers)
    for got, want in zip(dask.compute(*grads), ref):
        assert_chunked_close(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize(
    "case",
    [POOL_CASES[1], POOL_CASES[4], POOL_CASES[6], POOL_CASES[8]],
    ids=lambda c: c[0],
)
def test_pool_backwards_equal_the_single_machine_calls(case, last, dtype):
    _, rank, shape, kw, _ = case
    layout = RANK_LAYOUTS[rank][last]
    gen = rng(27)
    x = _x(randn(gen, shape, dtype), layout)
    ca = x.ndim - 1 if last else 1
    chunks = tuple(1 if a in (0, ca) else -1 for a in range(x.ndim))
    dx = da.from_array(x, chunks=chunks)  # samples and channels
    fns = _fns(rank)
    out, idx = fns["max_pool"][0](x, layout=layout, return_indices=True, **kw)
    gy = randn(gen, out.shape, dtype)
    dgy = da.from_array(gy, chunks=gy.shape)
    max_ref, max_fn = fns["max_pool_backward"]
    ref = max_ref(gy, x, layout=layout, **kw)
    got = _quiet(max_fn, dgy, dx, layout=layout, **kw)
    assert got.chunks == dx.chunks
    assert_same(got.compute(), ref)
    didx = da.from_array(idx, chunks=2)
    got = _quiet(max_fn, dgy, dx, layout=layout, indices=didx, **kw)
    assert_same(got.compute(), ref)
    avg_ref, avg_fn = fns["avg_pool_backward"]
    for include in (True, False):
        akw = dict(kw, layout=layout, count_include_pad=include)
        ref = avg_ref(gy, x, **akw)
        assert_chunked_close(_quiet(avg_fn, dgy, dx, **akw).compute(), ref)


def test_spatial_chunks_of_a_pooling_backward_are_merged_and_said():
    x = da.ones((2, 2, 8, 8, 8), chunks=(1, 1, 4, 8, 8))
    gy = da.ones((2, 2, 4, 4, 4), chunks=(2, 2, 2, 4, 4))
    with pytest.warns(fd.RechunkWarning) as record:
        gx = fd.avg_pool3d_backward(gy, x, 2)
    assert "x rechunked (axis 2: (4, 4) -> (8,))" in str(record[0].message)
    assert gx.chunks == x.rechunk({2: 8}).chunks
    ref = fastconv.avg_pool3d_backward(np.ones(gy.shape), np.ones(x.shape), 2)
    assert_same(gx.compute(), ref)


# ---------------------------------------------------------------------------
# arguments


def _args(rank, name):
    """(fastconv.dask function, its arguments) of a valid call, channels-first."""
    S = (8,) * rank
    x = da.ones((2, 2) + S, chunks=(1, 2) + (4,) * rank)
    w = np.ones((3, 2) + (3,) * rank)
    gy_conv = da.ones((2, 3) + (6,) * rank, chunks=1)
    gy_pool = da.ones((2, 2) + (4,) * rank, chunks=1)
    base, back = name.removesuffix("_backward"), name.endswith("_backward")
    fn = getattr(fd, f"{base}{rank}d" + ("_backward" if back else ""))
    return fn, {
        "conv": (x, w),
        "conv_backward": (gy_conv, x, w),
        "max_pool": (x, 2),
        "max_pool_backward": (gy_pool, x, 2),
        "avg_pool": (x, 2),
        "avg_pool_backward": (gy_pool, x, 2),
    }[name]


FAMILIES = [
    "conv",
    "conv_backward",
    "max_pool",
    "max_pool_backward",
    "avg_pool",
    "avg_pool_backward",
]
CALLS = [(rank, name) for rank in (1, 3) for name in FAMILIES]


@pytest.mark.parametrize("rank, name", CALLS, ids=[f"{n}-{r}d" for r, n in CALLS])
def test_a_bad_layout_or_rank_is_refused_naming_the_argument(rank, name):
    fn, args = _args(rank, name)
    assert isinstance(_quiet(fn, *args), (da.Array, tuple))  # the valid call builds
    first, other = RANK_LAYOUTS[rank]
    two_d = "NCHW"  # a layout of another rank
    with pytest.raises(
        ValueError, match=f"layout must be '{first}' or '{other}', got 'NCHW'"
    ):
        fn(*args, layout=two_d)
    # x, grad_out and weight with an axis too few or too many (a 2-D array,
    # say): refused with the argument's name before anything else is read
    x_pos = 0 if name in ("conv", "max_pool", "avg_pool") else 1
    named = [(x_pos, "x")] + [(0, "grad_out")] * (x_pos == 1)
    named += [(len(args) - 1, "weight")] * name.startswith("conv")
    for pos, arg in named:
        for wrong in (args[pos][..., 0], args[pos][..., None]):
            bad = list(args)
            bad[pos] = wrong
            with pytest.raises(ValueError, match=rf"^{arg} must be {rank + 2}-D"):
                fn(*bad)
    bad = list(args)
    bad[x_pos] = np.ones(args[x_pos].shape)
    with pytest.raises(TypeError, match="x must be a dask.array.Array, got ndarray"):
        fn(*bad)


def test_bad_geometry_is_refused_when_the_graph_is_built():
    x1 = da.ones((2, 3, 8), chunks=2)
    x3 = da.ones((2, 3, 6, 6, 6), chunks=3)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        fd.conv1d(x1, np.ones((1, 3, 3)), stride=0)
    with pytest.raises(ValueError, match="expects C/groups=2"):
        fd.conv1d(x1, np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match=r"stride must be >= 1, got \(1, 0, 1\)"):
        fd.conv3d(x3, np.ones((1, 3, 3, 3, 3)), stride=(1, 0, 1))
    with pytest.raises(ValueError, match="groups must be >= 1 and divide"):
        fd.conv3d(x3, np.ones((1, 3, 3, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="padding must be at most half the kernel"):
        fd.max_pool3d(x3, 2, padding=2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        fd.avg_pool1d(x1, 9)
    with pytest.raises(
        ValueError, match=r"grad_out must have the output's shape \(2, 1, 4, 4, 4\)"
    ):
        fd.conv3d_backward(da.ones((2, 1, 5, 4, 4)), x3, np.ones((1, 3, 3, 3, 3)))
    with pytest.raises(
        TypeError, match=r"indices must be an integer array \(what max_pool3d"
    ):
        p = x3[:, :, ::2, ::2, ::2]
        fd.max_pool3d_backward(p, x3, 2, indices=p)
    with pytest.raises(
        ValueError, match=r"indices must have the output's shape \(2, 3, 4\)"
    ):
        fd.max_pool1d_backward(x1[:, :, ::2], x1, 2, indices=x1[:, :, :3].astype(int))
    with pytest.raises(ValueError, match=r"non-empty non-batch axes.*\(2, 0, 8\)"):
        fd.max_pool1d(da.ones((2, 0, 8), chunks=1), 2)
