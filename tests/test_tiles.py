"""fastconv's own register tiles, at every tile kind this machine can run.

Every kind runs here whatever the CPU: LLVM splits 512-bit operations on
a CPU without AVX-512, and the portable kind is plain loops. The GEMM on
the tiles is checked against numpy's matmul in float64 (the dtype's
tolerance), the "brgemm" convolution against the oracle over the
convolution case table, and the vector kinds against each other bitwise
(each element is the same chain of FMAs whatever the tile's shape).
"""

import numpy as np
import pytest
from numba import njit

import fastconv
from fastconv import naive
from fastconv._engine import config, cpu, threads
from fastconv._kernels import tile as _tile
from tests.helpers import DTYPES, assert_close, assert_same, randn, rng
from tests.test_conv import CASES, _make
from tests.test_engine import _assert_thread_count_independent

KINDS = {"wide": _tile.WIDE, "narrow": _tile.NARROW, "portable": _tile.PORTABLE}


@pytest.fixture(params=list(KINDS), ids=list(KINDS))
def kind(request, monkeypatch):
    """Run the test with each tile kind in config.TILE_KIND."""
    monkeypatch.setattr(config, "TILE_KIND", KINDS[request.param])
    return KINDS[request.param]


# ---- one tile


@njit
def _run_tile(kind, rows, cols, a_offs, b_offs, k, a, rsa, csa, b, ldb, c, ldc, add):
    u = np.uint64
    segs, zero = u(len(a_offs)), u(0)
    if kind == _tile.PORTABLE:
        _tile.portable_tile(
            u(rows), u(cols), segs, a_offs, b_offs, u(k), a, zero, u(rsa), u(csa), b,
            zero, u(ldb), c, zero, u(ldc), add,
        )  # fmt: skip
    else:
        _tile.tile(
            kind, u(rows), u(cols), segs, a_offs, b_offs, u(k), a, zero, u(rsa),
            u(csa), b, zero, u(ldb), c, zero, u(ldc), add,
        )  # fmt: skip


def _tile_problem(kind, dtype, segs, k, rsa, csa, ldb, ldc, seed=1):
    """Flat operands of one whole tile, and its sums (float64) as an MR x NR array."""
    mr, nr = _tile.shape(kind, np.dtype(dtype).itemsize)
    g = rng(seed)
    a_span = (mr - 1) * rsa + (k - 1) * csa + 1 if k else 1
    b_span = (k - 1) * ldb + nr if k else 1
    a_offs = np.arange(segs, dtype=np.int64) * a_span
    b_offs = np.arange(segs, dtype=np.int64)[::-1].copy() * b_span
    a = randn(g, segs * a_span, dtype)
    b = randn(g, segs * b_span, dtype)
    c = randn(g, (mr - 1) * ldc + nr, dtype)
    want = np.zeros((mr, nr))
    for s in range(segs):
        for p in range(k):
            rows = a[a_offs[s] + p * csa + np.arange(mr) * rsa].astype(np.float64)
            cols = b[b_offs[s] + p * ldb + np.arange(nr)].astype(np.float64)
            want += np.outer(rows, cols)
    return a_offs, b_offs, a, b, c, want


#: (segments, k, A's row and column strides, B's and C's extra leading dimension)
TILES = [(1, 40, 1, 0, 0, 0), (3, 17, 5, 1, 0, 0), (4, 1, 2, 9, 0, 3), (2, 0, 1, 1, 0, 0)]


def _shapes(mr, nr):
    """(rows, cols) of a whole tile, a ragged one and the smallest."""
    return [(mr, nr), (max(1, mr - 3), nr - 3), (1, 1), (mr, nr // 2 + 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", TILES, ids=[str(t) for t in TILES])
@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_tile_sums_its_segments_into_its_rows_and_columns_only(kind, case, dtype):
    segs, k, rsa, csa, ldb_extra, ldc_extra = case
    mr, nr = _tile.shape(kind, np.dtype(dtype).itemsize)
    csa = csa or mr  # 0: packed A (column p at p*MR)
    ldb, ldc = nr + ldb_extra, nr + ldc_extra
    a_offs, b_offs, a, b, c0, want = _tile_problem(
        kind, dtype, segs, k, rsa, csa, ldb, ldc
    )
    for rows, cols in _shapes(mr, nr):
        inside = (np.arange(rows)[:, None] * ldc + np.arange(cols)).ravel()
        for add in (False, True):
            c = c0.copy()
            _run_tile(
                kind, rows, cols, a_offs, b_offs, k, a, rsa, csa, b, ldb, c, ldc, add
            )
            expected = want[:rows, :cols] + (c0[inside].reshape(rows, cols) if add else 0)
            assert_close(c[inside].reshape(rows, cols), expected.astype(dtype))
            outside = np.setdiff1d(np.arange(c.size), inside)
            assert_same(c[outside], c0[outside])


@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_tiles_give_bitwise_the_same_sums(dtype):
    # each C element is one chain of FMAs in the same order at every shape
    g = rng(2)
    k, segs = 50, 3
    a = randn(g, segs * k * 8, dtype)  # room for 8 rows, packed
    b = randn(g, segs * k * 32, dtype)
    a_offs = np.arange(segs, dtype=np.int64) * k * 8
    b_offs = np.arange(segs, dtype=np.int64) * k * 32
    sums = []
    for kind, rows, cols in [
        (_tile.WIDE, 8, 32),
        (_tile.NARROW, 6, 16),
        (_tile.WIDE, 5, 7),
    ]:
        cols = min(cols, _tile.shape(kind, np.dtype(dtype).itemsize)[1])
        c = np.zeros(8 * 32, dtype)
        _run_tile(kind, rows, cols, a_offs, b_offs, k, a, 1, 8, b, 32, c, 32, False)
        sums.append(c.reshape(8, 32))
    for other in sums[1:]:
        common = other != 0
        assert_same(other[common], sums[0][common])


def test_tile_asks_llvm_for_512_bit_vectors():
    # a function holding a tile carries the attributes that stop LLVM from
    # splitting 512-bit vectors on CPUs tuned for 256-bit code
    @njit
    def one_tile(a, b, c):
        z = np.zeros(1, np.int64)
        u = np.uint64
        one, k, nr = u(1), u(4), u(32)
        _tile.tile(
            0, u(8), nr, one, z, z, k, a, u(0), one, u(8), b, u(0), nr, c, u(0), nr, False
        )

    a, b, c = np.ones(32, np.float32), np.ones(128, np.float32), np.zeros(256, np.float32)
    one_tile(a, b, c)
    assert (c == 4).all()
    ir = one_tile.inspect_llvm(one_tile.signatures[0])
    assert '"prefer-vector-width"="512"' in ir
    assert "llvm.fma.v16f32" in ir


@pytest.mark.parametrize(
    "features, want",
    [
        ("+avx2,+fma,+avx512f", _tile.WIDE),
        ("+avx2,+fma,-avx512f", _tile.NARROW),
        ("+avx2,-fma", _tile.PORTABLE),
        ("+sse2", _tile.PORTABLE),
    ],
)
def test_vector_kind_follows_the_features_numba_compiles_for(monkeypatch, features, want):
    import numba

    monkeypatch.setattr(numba.config, "CPU_FEATURES", features)
    cpu.vector_kind.cache_clear()
    try:
        assert cpu.vector_kind() == want
    finally:
        cpu.vector_kind.cache_clear()


def test_host_vector_kind_is_one_the_cpu_has():
    flags = set()
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    kind = cpu.vector_kind()
    if kind == _tile.WIDE:
        assert "avx512f" in flags
    elif kind == _tile.NARROW:
        assert {"avx2", "fma"} <= flags


# ---- the "brgemm" convolution


def _nhwc_cases():
    return [c for c in CASES if c[-1] == 1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", _nhwc_cases(), ids=[c[0] for c in _nhwc_cases()])
def test_brgemm_matches_the_oracle_at_every_tile_kind(case, dtype, kind):
    x, w, b, kw = _make(case, "NHWC", dtype)
    assert_close(
        fastconv.conv2d(x, w, b, algorithm="brgemm", **kw), naive.conv2d(x, w, b, **kw)
    )
    assert_close(
        fastconv.conv2d(x, w, algorithm="brgemm", **kw), naive.conv2d(x, w, **kw)
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_brgemm_vector_kinds_agree_bitwise(monkeypatch, dtype):
    # filters past one tile and a ragged last one, a ragged right edge
    g = rng(3)
    x, w, b = randn(g, (2, 9, 13, 5), dtype), randn(g, (3, 3, 5, 41), dtype), None
    got = []
    for kind in (_tile.WIDE, _tile.NARROW):
        monkeypatch.setattr(config, "TILE_KIND", kind)
        got.append(fastconv.conv2d(x, w, b, padding=1, layout="NHWC", algorithm="brgemm"))
    assert_same(got[0], got[1])


def test_brgemm_first_layer_shapes_and_large_windows(kind):
    # C = 3 with an 11x11 stride-4 window (alexnet-c1's shape), dilation 2
    g = rng(4)
    for xs, ws, kw in [
        ((2, 27, 30, 3), (11, 11, 3, 16), dict(stride=4, padding=2)),
        ((1, 12, 14, 3), (3, 3, 3, 20), dict(dilation=2, padding=2)),
        ((1, 6, 40, 2), (1, 7, 2, 9), dict(padding=(0, 3))),
    ]:
        x, w, b = randn(g, xs, np.float32), randn(g, ws, np.float32), randn(g, ws[3:])
        b = b.astype(np.float32)
        want = naive.conv2d(x, w, b, layout="NHWC", **kw)
        got = fastconv.conv2d(x, w, b, layout="NHWC", algorithm="brgemm", **kw)
        assert_close(got, want)


def test_brgemm_is_thread_count_independent():
    g = rng(5)
    x, w, b = (
        randn(g, (5, 64, 64, 8), np.float32),
        randn(g, (3, 3, 8, 40), np.float32),
        None,
    )
    kw = dict(padding=1, layout="NHWC", algorithm="brgemm")
    p = fastconv.plan_conv2d(x.shape, w.shape, x.dtype, **kw)
    assert p.passes["forward"] == "brgemm" and p.parallel
    nbytes = x.nbytes + int(np.prod(p.out_shape)) * 4
    assert len(threads.split(5 * 64, nbytes, 3)) > 2
    _assert_thread_count_independent(lambda: [fastconv.conv2d(x, w, b, **kw)])


def test_brgemm_leaves_its_inputs_alone_and_refuses_what_it_cannot_run():
    g = rng(6)
    x, w = randn(g, (2, 7, 7, 4), np.float32), randn(g, (3, 3, 4, 6), np.float32)
    x0, w0 = x.copy(), w.copy()
    fastconv.conv2d(x, w, padding=1, layout="NHWC", algorithm="brgemm")
    assert_same(x, x0)
    assert_same(w, w0)
    with pytest.raises(ValueError, match="algorithm 'brgemm' does not apply.*NHWC"):
        fastconv.conv2d(np.ones((1, 4, 5, 5)), np.ones((2, 4, 3, 3)), algorithm="brgemm")
    with pytest.raises(ValueError, match="algorithm 'brgemm' does not apply.*groups=2"):
        fastconv.conv2d(
            np.ones((1, 5, 5, 4)), np.ones((3, 3, 2, 2)), groups=2, layout="NHWC",
            algorithm="brgemm",
        )  # fmt: skip


def test_brgemm_prepared_weight_packed_for_another_tile_is_repacked(monkeypatch):
    g = rng(7)
    x, w = randn(g, (1, 6, 6, 3), np.float64), randn(g, (3, 3, 3, 20), np.float64)
    kw = dict(padding=1, layout="NHWC", algorithm="brgemm")
    plan = fastconv.plan_conv2d(x.shape, w.shape, x.dtype, **kw)
    monkeypatch.setattr(config, "TILE_KIND", _tile.WIDE)  # 16 float64 filters a tile
    pw = plan.prepare_weight(w)
    monkeypatch.setattr(config, "TILE_KIND", _tile.NARROW)  # 8: 24 padded, not 32
    assert_close(plan.forward(x, pw), naive.conv2d(x, w, padding=1, layout="NHWC"))
    # 32 filters: the same number of values in 2 panels of 16 or 4 of 8
    w = randn(g, (3, 3, 3, 32), np.float64)
    plan = fastconv.plan_conv2d(x.shape, w.shape, x.dtype, **kw)
    monkeypatch.setattr(config, "TILE_KIND", _tile.WIDE)
    pw = plan.prepare_weight(w)
    monkeypatch.setattr(config, "TILE_KIND", _tile.NARROW)
    assert_close(plan.forward(x, pw), naive.conv2d(x, w, padding=1, layout="NHWC"))


def test_fma_peak_measures_each_kind_and_checks_its_dtype():
    for kind in KINDS.values():
        for dtype in ("float32", "float64"):
            rate = fastconv.fma_peak(dtype, kind=kind, seconds=0.001, rounds=1)
            assert np.isfinite(rate) and rate > 0
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got int64"):
        fastconv.fma_peak("int64")
