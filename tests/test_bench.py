"""The instruments: peers, the suite, bench (worker processes), profile, machine."""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import fastconv
from fastconv._engine import trace as _trace
from fastconv.tools import bench as _bench
from fastconv.tools import contenders as _contenders
from fastconv.tools import machine as _machine
from fastconv.tools import peers as _peers
from fastconv.tools import profile as _profile
from fastconv.tools import suite as _suite
from tests.helpers import LAYOUTS, TOLERANCES, assert_close

# small layers of each kind, so the peers can be checked quickly
SMALL = [
    _suite._conv("conv-3x3", 2, 3, 9, 4, 3, 1, 1),
    _suite._conv("conv-s2", 2, 3, 9, 4, 3, 2, 1),
    _suite._conv("conv-1x1", 2, 4, 5, 3, 1, 1, 0),
    _suite._conv("conv-1x3", 2, 4, 6, 3, (1, 3), 1, (0, 1), W=7),
    _suite._pool("max-3s2", "max", 2, 3, 9, 3, 2, 1),
    _suite._pool("avg-2s2", "avg", 2, 3, 8, 2, 2, 0),
]
GROUPED = _suite._conv("conv-g2-d2", 2, 4, 9, 6, 3, 1, 2, dilation=2, groups=2)
# small layers of the kinds beyond 2-D convolution and pooling
MORE = [
    _suite._nd("conv1d", "conv", 2, 3, (11,), 4, 3, 2, 1),
    _suite._nd("conv3d", "conv", 2, 3, (4, 5, 6), 4, 3, 1, 1),
    _suite._nd("convT", "conv_transpose", 2, 4, (5, 6), 3, 4, 2, 1),
    _suite.Layer("adaptive", "adaptive_avg", 2, 5, (7, 6), None, (3, 2), 1, (0, 0)),
]


def _as_array(a, weight=False):
    return np.asarray(a)


def _check_peer(calls, layer, layout, from_peer=_as_array, reference=None):
    spec = layer.spec(layout, "float64")
    arrays = _peers.make_inputs(spec)
    fwd, bwd = calls(spec, *arrays)
    ffwd, fbwd = (reference or _peers.fastconv_calls)(spec, *arrays)
    assert_close(from_peer(fwd()), ffwd())
    got, want = bwd(), fbwd()
    if layer.kind in _suite.CONV_KINDS:
        got = (from_peer(got[0]), from_peer(got[1], weight=True), np.asarray(got[2]))
        for g, e in zip(got, want):
            assert_close(g, e)
    else:
        assert_close(from_peer(got), want)


def _from_torch(layout):
    # torch works on channels-first-shaped tensors: back to the layout's shape
    def convert(t, weight=False):
        a = t.detach().numpy()
        n = a.ndim - 2
        if layout == "NHWC":
            a = a.transpose(
                (*range(2, n + 2), 1, 0) if weight else (0, *range(2, n + 2), 1)
            )
        return a

    return convert


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("layer", SMALL, ids=[L.name for L in SMALL])
def test_numpy_peer_computes_the_same_layer(layer, layout):
    _check_peer(_peers.numpy_calls, layer, layout)


def test_numpy_peer_declines_what_it_does_not_support():
    for layer in [GROUPED] + MORE:
        spec = layer.spec("NCHW", "float64")
        assert _peers.numpy_calls(spec, *_peers.make_inputs(spec)) is None


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("layer", MORE, ids=[L.name for L in MORE])
def test_fastconv_peer_runs_each_kind_as_the_oracle_does(layer, layout):
    # the peer calls the function of the layer's kind and dimension, with its
    # arguments; the oracle's functions of the same names are the reference
    _check_peer(_peers.fastconv_calls, layer, layout, reference=_peers.naive_calls)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "layer", SMALL + [GROUPED] + MORE, ids=[L.name for L in SMALL + [GROUPED] + MORE]
)
def test_torch_peer_computes_the_same_layer(layer, layout):
    pytest.importorskip(
        "torch", reason="PyTorch not installed: the torch peer is not used"
    )
    _check_peer(_peers.torch_calls, layer, layout, _from_torch(layout))


def test_suite_layers_and_their_sizes_come_from_the_geometry():
    L = _suite.get_layer("resnet-3x3")
    assert (L.N, L.C, L.size, L.F, L.kernel, L.stride, L.padding) == (
        8,
        64,
        (56, 56),
        64,
        (3, 3),
        1,
        (1, 1),
    )
    assert L.out_size == (56, 56)
    assert L.flops() == 2 * 8 * 64 * 56 * 56 * 64 * 9
    assert L.flops(backward=True) == 2 * L.flops()
    assert len(_suite.CONV_LAYERS) == 12 and len(_suite.POOL_LAYERS) == 4
    a = _suite.get_layer("alexnet-c1")
    x, w, b, gy = _suite.make_inputs(a, np.float32, "NHWC")
    y = fastconv.conv2d(x, w, b, layout="NHWC", **a.kwargs())
    assert y.shape == a.out_shape("NHWC") == gy.shape and a.out_size == (55, 55)
    p = _suite.get_layer("max-3s2")
    assert p.bytes_moved(4) == 8 * 64 * (112 * 112 + 56 * 56) * 4
    with pytest.raises(ValueError, match="unknown layer 'vgg'"):
        _suite.get_layer("vgg")


def test_suite_layers_beyond_2d_and_their_sizes():
    # the four layers, their shapes in both layouts, FLOPs and bytes
    c1 = _suite.get_layer("conv1d-k3")
    assert c1.x_shape("NHWC") == (32, 1024, 64) and c1.weight_shape("NCHW") == (64, 64, 3)
    assert c1.spec("NHWC", "float32")["layout"] == "NLC"
    assert c1.out_shape("NCHW") == (32, 64, 1024)
    assert c1.flops() == 2 * 32 * 64 * 1024 * 64 * 3
    c3 = _suite.get_layer("conv3d-3x3x3")
    assert c3.x_shape("NCHW") == (2, 32, 16, 56, 56)
    assert c3.weight_shape("NHWC") == (3, 3, 3, 32, 32)
    assert c3.spec("NCHW", "float32")["layout"] == "NCDHW"
    assert c3.flops() == 2 * 2 * 32 * 16 * 56 * 56 * 32 * 27
    t = _suite.get_layer("dcgan-convT")
    assert t.weight_shape("NCHW") == (128, 64, 4, 4)
    assert t.weight_shape("NHWC") == (4, 4, 64, 128)
    assert t.out_shape("NHWC") == (16, 32, 32, 64)
    # as many multiply-adds as the convolution it is the adjoint of
    adjoint = _suite._conv("adjoint", 16, 64, 32, 128, 4, 2, 1)
    assert t.flops() == adjoint.flops() and t.flops(backward=True) == 2 * t.flops()
    a = _suite.get_layer("adaptive-avg")
    assert a.out_shape("NCHW") == (32, 512, 1, 1) and a.weight_shape("NCHW") is None
    assert a.bytes_moved(4) == a.bytes_moved(4, backward=True) == 32 * 512 * 50 * 4
    assert {L.group for L in _suite.MORE_LAYERS} == {"more"}
    assert {L.group for L in _suite.CONV_LAYERS} == {"conv"}
    assert {L.group for L in _suite.POOL_LAYERS} == {"pool"}
    for layer in _suite.MORE_LAYERS:  # the engine agrees with the suite's shapes
        x, w, b, gy = _suite.make_inputs(layer, np.float32, "NHWC")
        fwd, _ = _peers.fastconv_calls(layer.spec("NHWC", "float32"), x, w, b, gy)
        assert fwd().shape == gy.shape == layer.out_shape("NHWC")


def test_parse_contender():
    c = _contenders.parse_contender(
        "fastconv:OPENBLAS_THREAD_TIMEOUT=4,OMP_NUM_THREADS=1"
    )
    assert (c.kind, c.env) == (
        "fastconv",
        {"OPENBLAS_THREAD_TIMEOUT": "4", "OMP_NUM_THREADS": "1"},
    )
    repo = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    c = _contenders.parse_contender(f"fastconv@{repo}")
    assert c.path == repo and c.label.startswith("fastconv@")
    assert c.label != f"fastconv@{repo}"  # a checkout is named by its commit
    assert _contenders.parse_contender("torch").kind == "torch"
    with pytest.raises(ValueError, match="expected VAR=VALUE, got 'X'"):
        _contenders.parse_contender("fastconv:X")
    with pytest.raises(ValueError, match="no fastconv package in"):
        _contenders.parse_contender("fastconv@/nonexistent")
    with pytest.raises(ValueError, match="contender must be numpy, torch, fastconv"):
        _contenders.parse_contender("tensorflow")


def test_wait_idle_waits_for_a_busy_process_and_not_for_an_idle_one():
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        if _contenders._cpu_seconds(idle.pid) is None:
            pytest.skip("no /proc/<pid>/task/*/schedstat here: wait_idle sleeps instead")
        t0 = time.perf_counter()
        _contenders.wait_idle([idle.pid], limit=0.4)
        assert time.perf_counter() - t0 < 0.1
        t0 = time.perf_counter()
        _contenders.wait_idle([busy.pid], limit=0.4)
        assert time.perf_counter() - t0 >= 0.4
    finally:
        idle.kill()
        busy.kill()


def test_bench_rows_and_ratios_from_worker_processes():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    contenders = [
        _contenders.Contender("fastconv", "fastconv"),
        _contenders.Contender("numpy", "numpy"),
        _contenders.parse_contender("fastconv:FASTCONV_TEST_VAR=1"),
        _contenders.parse_contender(f"fastconv@{repo}"),
    ]
    tree = contenders[-1].label
    lines = []
    info, rows = _bench.run_bench(
        [SMALL[0], SMALL[4], GROUPED, MORE[1]],
        [np.float32],
        rounds=1,
        contenders=contenders,
        out=lines.append,
        progress=False,
    )
    assert info["gemm_gflops"]["float32"] > 0 and info["copy_gbs"] > 0
    assert info["fma_gflops"]["float32"] > 0 and info["fma_threads"] >= 1
    assert any("FMA peak" in line and "register tile" in line for line in lines)
    assert set(info["workers"]) == {c.label for c in contenders}
    pids = {w["pid"] for w in info["workers"].values()}
    assert len(pids) == 4 and os.getpid() not in pids  # each in its own process
    assert [(r["layer"], r["layout"]) for r in rows] == [
        (L.name, lay) for L in (SMALL[0], SMALL[4], GROUPED, MORE[1]) for lay in LAYOUTS
    ]
    assert [r["layout_name"] for r in rows[-2:]] == ["NCDHW", "NDHWC"]
    assert [r["group"] for r in rows] == ["conv"] * 2 + ["pool"] * 2 + ["conv"] * 2 + [
        "more"
    ] * 2
    for r in rows:
        fb = r["fastconv_fwd_s"] + r["fastconv_bwd_s"]
        if r["layer"] in (GROUPED.name, MORE[1].name):
            assert r["numpy_fwd_s"] is None and r["x_numpy_fb"] is None  # declined
        else:
            assert r["x_numpy_fb"] == pytest.approx(
                (r["numpy_fwd_s"] + r["numpy_bwd_s"]) / fb
            )
        assert r["x_naive_fb"] == pytest.approx(
            (r["naive_fwd_s"] + r["naive_bwd_s"]) / fb
        )
        for label in ("fastconv:FASTCONV_TEST_VAR=1", tree):
            assert r[f"x_{label}_fb"] > 0
        assert all(len(v) == 1 for v in r["samples"].values())
        assert r["void"] == {}  # every contender's results agree with fastconv's
        # the algorithm "auto" chose for each pass, as the plan reports it
        if r["group"] == "conv":
            L = {x.name: x for x in (SMALL[0], GROUPED)}[r["layer"]]
            kw = dict(L.kwargs(), layout=r["layout"])
            x_shape, w_shape = L.x_shape(r["layout"]), L.weight_shape(r["layout"])
            passes = fastconv.plan_conv2d(x_shape, w_shape, np.float32, **kw).passes
            names = [passes[p] for p in ("forward", "grad_x", "grad_w")]
            assert r["algorithm"].split("/") in (names, names[:1])
        else:
            assert r["algorithm"] is None
    conv = rows[0]
    assert conv["gflops_fwd"] == pytest.approx(
        SMALL[0].flops() / conv["fastconv_fwd_s"] / 1e9
    )
    pool = rows[2]
    assert pool["gbs_fwd"] == pytest.approx(
        SMALL[4].bytes_moved(4) / pool["fastconv_fwd_s"] / 1e9
    )
    c3 = rows[-1]
    assert c3["gflops_bwd"] == pytest.approx(
        MORE[1].flops(backward=True) / c3["fastconv_bwd_s"] / 1e9
    )
    text = "\n".join(lines)
    for part in (
        "BLAS:",
        "cores",
        "geomean conv",
        "geomean pool",
        "geomean more",
        "NDHWC",
        "own process",
        "method:",
        "x numpy",
        "environment:",
        "auto chose",
    ):
        assert part in text, part


def _parse(module, argv):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_bench_command_json_and_plot(tmp_path, capsys):
    path = tmp_path / "bench.json"
    argv = [
        "--layers",
        "cs231n-pool",
        "--dtype",
        "float32",
        "--layout",
        "NHWC",
        "--rounds",
        "1",
        "--no-torch",
        "--no-naive",
        "--json",
        str(path),
    ]
    have_mpl = True
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        have_mpl = False
    if have_mpl:
        argv += ["--plot", str(tmp_path / "bench.png")]
    assert _bench.run(_parse(_bench, argv)) == 0
    data = json.loads(path.read_text())
    assert [r["layout"] for r in data["rows"]] == ["NHWC"]
    assert data["rows"][0]["layer"] == "cs231n-pool" and data["rounds"] == 1
    assert "naive_fwd_s" not in data["rows"][0]
    # the check's figures and flag travel in the JSON
    assert data["check"]["tolerances"] == _bench.TOLERANCES
    assert set(data["rows"][0]["check"]["numpy"]) == {"fwd", "bwd"}
    assert data["rows"][0]["check"]["numpy"]["bwd"]["ok"] is True
    assert data["rows"][0]["void"] == {}
    assert "cs231n-pool" in capsys.readouterr().out
    if have_mpl:
        assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_tolerances_are_the_tests_own():
    # the bench voids a timing by the tolerance every fast path is held to here
    assert {np.dtype(k): v for k, v in _bench.TOLERANCES.items()} == TOLERANCES


def test_compare_arrays_by_the_tests_tolerance():
    gen = np.random.default_rng(0)
    ref = gen.standard_normal((3, 4, 5)).astype(np.float32)
    assert _bench.compare_arrays(ref, ref.copy(), np.float32) == (0.0, 0.0)
    # float32 rounding-sized differences agree, and their size is reported
    near = ref * np.float32(1 + 1e-5)
    diff, used = _bench.compare_arrays(ref, near, np.float32)
    assert used < 0.1 and diff == pytest.approx(1e-5, rel=0.1)
    # 1% off at the largest entry: 0.01 / (rtol 2e-4 + atol 2e-5) of the tolerance
    far = ref.copy()
    i = np.argmax(np.abs(ref))
    far.flat[i] *= 1.01
    diff, used = _bench.compare_arrays(ref, far, np.float32)
    assert diff == pytest.approx(0.01, rel=1e-3)
    assert used == pytest.approx(0.01 / 2.2e-4, rel=1e-3)
    # at the smallest entry, 1e-5 * max|ref| is within float32's tolerance
    # (atol 2e-5 * max|ref|), not float64's (atol 1e-10 * max|ref|)
    small = ref.astype(np.float64)
    j = np.argmin(np.abs(ref))
    bumped = small.copy()
    bumped.flat[j] += 1e-5 * np.abs(ref).max()
    assert _bench.compare_arrays(small, bumped, np.float32)[1] <= 1
    assert _bench.compare_arrays(small, bumped, np.float64)[1] > 1
    assert _bench.compare_arrays(ref, ref[:2], np.float32) == (np.inf, np.inf)
    nan = ref.copy()
    nan.flat[0] = np.nan
    assert _bench.compare_arrays(ref, nan, np.float32) == (np.inf, np.inf)
    # read in chunks: a difference in the last one counts
    big = np.ones(3 * _bench.CHECK_CHUNK + 5)
    off = big.copy()
    off[-1] = 1.5
    assert _bench.compare_arrays(big, off, np.float64)[0] == 0.5


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("layer", [SMALL[0], MORE[1]], ids=["conv2d", "conv3d"])
def test_result_arrays_bring_torch_results_to_the_layout(layer, layout):
    pytest.importorskip("torch", reason="PyTorch not installed")
    spec = layer.spec(layout, "float64")
    arrays = _peers.make_inputs(spec)
    for want, got in zip(
        _peers.fastconv_calls(spec, *arrays), _peers.torch_calls(spec, *arrays)
    ):
        want, got = _peers.result_arrays(spec, want()), _peers.result_arrays(spec, got())
        assert len(got) == len(want)
        for g, e in zip(got, want):
            assert_close(g, e)


#: The contender whose backward results are 1% off at one entry: the worker's
#: test-only hook (its timed calls are fastconv's own).
WRONG = "fastconv:FASTCONV_BENCH_TEST_PERTURB=bwd"


@pytest.fixture(scope="module")
def checked_bench():
    """One small bench run: numpy and torch agree with fastconv, WRONG does not.

    A strided convolution and a padded max pooling, channels-last (torch's
    results come back from channels_last tensors); one run serves the two
    tests below, which share its worker start-up. The check is what they
    test: the samples are as short as can be, and the machine's rates are
    not measured.
    """
    contenders = [
        _contenders.Contender("fastconv", "fastconv"),
        _contenders.Contender("numpy", "numpy"),
    ]
    if _peers.torch_available():
        contenders.append(_contenders.Contender("torch", "torch"))
    contenders.append(_contenders.parse_contender(WRONG))
    rates = {"gemm_gflops": {"float32": 1.0}, "copy_gbs": 1.0}
    lines = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_bench, "WARM_S", 0.0)
        mp.setattr(_bench, "WARM_CALLS", 1)
        mp.setattr(_bench.Worker, "once", classmethod(lambda cls, c, **req: rates))
        _, rows = _bench.run_bench(
            [SMALL[1], SMALL[4]],
            [np.float32],
            ("NHWC",),
            rounds=1,
            contenders=contenders,
            naive=False,
            out=lines.append,
            progress=False,
        )
    return [c.label for c in contenders[1:-1]], rows, lines


def test_bench_voids_the_timing_of_a_wrong_result(checked_bench):
    _, rows, lines = checked_bench
    for row in rows:
        assert row["void"] == {WRONG: ["bwd"]}
        fwd, bwd = row["check"][WRONG]["fwd"], row["check"][WRONG]["bwd"]
        assert fwd == {"diff": 0.0, "used": 0.0, "array": "out", "ok": True}
        assert not bwd["ok"] and bwd["array"] == "grad_x" and bwd["used"] > 1
        assert bwd["diff"] == pytest.approx(0.01, rel=1e-3)
        # measured, but no ratio, so no geomean
        assert row[f"{WRONG}_bwd_s"] > 0 and row[f"x_{WRONG}_fb"] is None
    for name in ("conv-s2", "max-3s2"):
        line, check = [x for x in lines if x.startswith(name)]  # table, check
        assert "wrong" in line.split(), line
        assert check.split()[-2:] == [f"{WRONG[:11]}~", "0/1.0e-02!"], check
    # WRONG is the last column
    geo = [x for x in lines if x.startswith("geomean")]
    assert len(geo) == 4 and all(x.split()[-1] == "-" for x in geo)
    warnings = [x for x in lines if x.startswith("WARNING")]
    assert len(warnings) == 2
    for name, warning in zip(("conv-s2", "max-3s2"), warnings):
        for part in (f"{name} NHWC float32 bwd: {WRONG} disagrees", "= 1.0e-02;"):
            assert part in warning, part


def test_bench_reports_the_largest_difference_of_agreeing_contenders(checked_bench):
    agreeing, rows, lines = checked_bench
    for r in rows:
        for label in agreeing:
            c = r["check"][label]
            assert c["fwd"]["ok"] and c["bwd"]["ok"], (label, c)
            assert all(c[p]["used"] <= 1 for p in ("fwd", "bwd"))
            # float32 rounding apart, at most (max pooling's forward selects:
            # exact; its backward sums overlapping windows in some order)
            assert all(0 <= c[p]["diff"] < 1e-5 for p in ("fwd", "bwd")), (label, c)
            if r["kind"] == "max":
                assert c["fwd"]["diff"] == 0
            assert r[f"x_{label}_fb"] > 0
    check = [x for x in lines if x.startswith(("conv-s2", "max-3s2"))][len(rows) :]
    assert len(check) == len(rows)  # a line per row after the table
    for r, line in zip(rows, check):
        assert line.split()[:2] == [r["layer"], r["layout_name"]]
        for label in agreeing:
            c = r["check"][label]
            cell = f"{label} {_bench._fmt_diff(c['fwd'])}/{_bench._fmt_diff(c['bwd'])} "
            assert cell in line and "!" not in cell, line
    assert not any(label in x for x in lines if "WARNING" in x for label in agreeing)


def test_bench_dask_times_the_clusters_against_the_in_process_call(tmp_path, capsys):
    pytest.importorskip("distributed")
    import dask

    path = tmp_path / "dask.json"
    argv = ["--dask", "--layers", "cs231n-pool", "--rounds", "1", "--json", str(path)]
    before = dask.config.get("scheduler", None)
    assert _bench.run(_parse(_bench, argv)) == 0
    assert dask.config.get("scheduler", None) == before  # its clients left no default
    data = json.loads(path.read_text())
    assert data["layer"] == "cs231n-pool" and data["batch"] == 32 * 100
    rates = data["images_per_s"]
    assert set(rates) == {"in-process", "1 worker", "2 workers"}
    assert all(r > 0 for r in rates.values()) and data["per_chunk_s"] > 0
    out = capsys.readouterr().out
    assert "2 workers" in out and "overhead per chunk" in out


def test_bench_rejects_unknown_layer_and_contender(capsys):
    with pytest.raises(SystemExit) as exc:
        _parse(_bench, ["--layers", "resnet-3x3,vgg"])
    assert exc.value.code == 2
    assert "unknown layer 'vgg'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse(_bench, ["--contender", "fastconv@/nonexistent"])
    assert "no fastconv package in /nonexistent" in capsys.readouterr().err


@pytest.mark.parametrize("backward", [False, True])
def test_profile_phases_add_up_and_come_from_inside_the_kernels(backward):
    layer = _suite.get_layer("resnet-s2")  # an im2col plan
    phases = _profile.profile_layer(layer, np.float32, "NCHW", backward, rounds=3)
    gemm = ("gemm grad_weight", "gemm grad_cols") if backward else ("gemm",)
    for name in ("prepare", "im2col", *gemm, "other", "total"):
        assert phases[name] >= 0, name
    assert ("col2im" in phases) == backward
    # the kernels report their phases: the GEMMs took time
    assert all(phases[g] > 0 for g in gemm) and phases["im2col"] > 0
    assert sum(v for k, v in phases.items() if k != "total") == pytest.approx(
        phases["total"], rel=0.05
    )
    lines = _profile.format_profile(layer, phases, np.float32, "NCHW", backward)
    assert "GFLOP/s" in "\n".join(lines)


def test_profile_of_a_direct_plan_shows_its_phases():
    layer = _suite.get_layer("depthwise-3x3")
    assert _profile.layer_plan(layer, np.float32, "NCHW").passes["forward"] == "direct"
    phases = _profile.profile_layer(layer, np.float32, "NCHW", False, rounds=2)
    assert phases["taps"] > 0 and phases["planes"] > 0


def test_profile_of_a_layer_beyond_2d_shows_the_phases_of_its_2d_calls(capsys):
    # the transposed convolution runs the engine's grad_x pass: its GEMM and col2im
    argv = ["--layer", "dcgan-convT", "--rounds", "1", "--dtype", "float32"]
    assert _profile.run(_parse(_profile, argv + ["--algorithm", "im2col"])) == 0
    out = capsys.readouterr().out
    assert "no plan of its own" in out and "gemm grad_cols" in out and "col2im" in out
    assert (
        _profile.layer_plan(_suite.get_layer("dcgan-convT"), np.float32, "NCHW") is None
    )
    with pytest.raises(SystemExit, match="applies to convolutions"):
        argv = ["--layer", "adaptive-avg", "--algorithm", "im2col"]
        _profile.run(_parse(_profile, argv))


def test_profile_command_forces_an_algorithm(capsys):
    argv = ["--layer", "depthwise-3x3", "--rounds", "1", "--dtype", "float32"]
    assert _profile.run(_parse(_profile, argv + ["--algorithm", "im2col"])) == 0
    out = capsys.readouterr().out
    assert "forward: im2col" in out and "grad_w:  im2col" in out, out
    with pytest.raises(SystemExit, match="winograd-2x2' does not apply"):
        _profile.run(_parse(_profile, argv + ["--algorithm", "winograd-2x2"]))
    with pytest.raises(SystemExit, match="applies to convolutions"):
        _profile.run(_parse(_profile, ["--layer", "max-2s2", "--algorithm", "im2col"]))


def test_profile_command_prints_the_plan(capsys):
    assert (
        _profile.run(
            _parse(
                _profile, ["--layer", "resnet-1x1", "--rounds", "2", "--dtype", "float32"]
            )
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "ConvPlan(NCHW, float32)" in out and "forward: pointwise" in out
    assert (
        _profile.run(_parse(_profile, ["--layer", "cs231n-pool", "--rounds", "2"])) == 0
    )
    out = capsys.readouterr().out
    assert "PoolPlan(max, NCHW, float64)" in out
    assert "kernel" in out and "GB/s moved" in out


def test_trace_is_a_no_op_outside_recording():
    with _trace.phase("x"):
        pass
    assert _trace.kernel_clock() == (0, 0)
    with _trace.recording() as rec:
        with _trace.phase("a"):
            time.sleep(0.001)
        with _trace.phase("a"):
            pass
    assert set(rec) == {"a"} and rec["a"] >= 0.001


@pytest.mark.parametrize(
    "core, flags, library, expected",
    [
        (
            "Haswell",
            {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"},
            "openblas",
            "SkylakeX",
        ),
        (
            "SkylakeX",
            {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"},
            "openblas",
            None,
        ),
        ("Haswell", {"avx2", "fma"}, "openblas", None),  # no AVX-512: right call
        (
            "Haswell",
            {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"},
            "mkl",
            None,
        ),
    ],
)
def test_blas_fix_only_for_openblas_below_the_cpu(
    monkeypatch, core, flags, library, expected
):
    monkeypatch.setattr(
        _machine, "blas_info", lambda: {"library": library, "core_type": core}
    )
    monkeypatch.setattr(
        _machine, "cpu_info", lambda: {"model": "x", "cores": 2, "flags": flags}
    )
    assert _machine.blas_fix(check=False) == expected


def test_diagnosis_advises_and_changes_nothing(monkeypatch):
    monkeypatch.setattr(_machine, "blas_fix", lambda check=True: "SkylakeX")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    info = {"blas": {"library": "openblas", "core_type": "Haswell"}}
    (line,) = _machine.diagnosis(info)
    assert "OPENBLAS_CORETYPE=Haswell in the environment forces" in line
    assert "export OPENBLAS_CORETYPE=SkylakeX" in line
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"
    monkeypatch.setattr(_machine, "blas_fix", lambda check=True: None)
    assert _machine.diagnosis(info) == []
