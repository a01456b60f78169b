"""The instruments: benchmark peers, timing, bench and profile commands, machine."""

import argparse
import json
import time

import numpy as np
import pytest

import fastconv
from fastconv._engine import trace as _trace
from fastconv._engine import workspace as _config
from fastconv.tools import bench as _bench
from fastconv.tools import machine as _machine
from fastconv.tools import peers as _baselines
from fastconv.tools import profile as _profile
from fastconv.tools import suite as _suite
from tests.helpers import assert_close

# small layers of each kind, so the peers can be checked quickly
SMALL = [
    _suite.Layer("conv-3x3", "conv", 2, 3, 9, 4, 3, 1, 1),
    _suite.Layer("conv-s2", "conv", 2, 3, 9, 4, 3, 2, 1),
    _suite.Layer("conv-1x1", "conv", 2, 4, 5, 3, 1, 1, 0),
    _suite.Layer("max-3s2", "max", 2, 3, 9, None, 3, 2, 1),
    _suite.Layer("avg-2s2", "avg", 2, 3, 8, None, 2, 2, 0),
]


def _as_array(a, weight=False):
    return np.asarray(a)


def _check_peer(calls, layer, layout, from_peer=_as_array):
    x, w, b, gy = _suite.make_inputs(layer, np.float64, layout)
    fwd, bwd = calls(layer, x, w, b, gy, layout)
    ffwd, fbwd = _baselines.fastconv_calls(layer, x, w, b, gy, layout)
    assert_close(from_peer(fwd()), ffwd())
    got, want = bwd(), fbwd()
    if layer.kind == "conv":
        got = (from_peer(got[0]), from_peer(got[1], weight=True), np.asarray(got[2]))
        for g, e in zip(got, want):
            assert_close(g, e)
    else:
        assert_close(from_peer(got), want)


def _from_torch(layout):
    # torch works on NCHW-shaped (channels_last) tensors: back to the layout's shape
    def convert(t, weight=False):
        a = t.detach().numpy()
        if layout == "NHWC":
            a = a.transpose((2, 3, 1, 0) if weight else (0, 2, 3, 1))
        return a

    return convert


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("layer", SMALL, ids=[L.name for L in SMALL])
def test_numpy_baseline_computes_the_same_layer(layer, layout):
    _check_peer(_baselines.numpy_calls, layer, layout)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("layer", SMALL, ids=[L.name for L in SMALL])
def test_torch_peer_computes_the_same_layer(layer, layout):
    pytest.importorskip(
        "torch", reason="PyTorch not installed: the torch peer is not used"
    )
    _check_peer(_baselines.torch_calls, layer, layout, _from_torch(layout))


def test_suite_layers_match_the_issue_and_their_flops():
    L = _suite.get_layer("resnet-3x3")
    assert (L.N, L.C, L.H, L.F, L.kernel, L.stride, L.pad) == (8, 64, 56, 64, 3, 1, 1)
    assert L.out_hw == 56
    assert L.flops() == 2 * 8 * 64 * 56 * 56 * 64 * 9
    assert L.flops(backward=True) == 2 * L.flops()
    assert len(_suite.CONV_LAYERS) == 8 and len(_suite.POOL_LAYERS) == 4
    y = fastconv.conv2d(
        *_suite.make_inputs(_suite.get_layer("alexnet-c1"), np.float32)[:2],
        stride=4,
        padding=2,
    )
    assert y.shape[2] == _suite.get_layer("alexnet-c1").out_hw == 55
    with pytest.raises(ValueError, match="unknown layer 'vgg'"):
        _suite.get_layer("vgg")


def test_time_interleaved_reports_medians_per_call():
    med = _bench.time_interleaved(
        {"sleep": lambda: time.sleep(0.002), "noop": lambda: None},
        rounds=3,
        min_time=0.001,
    )
    assert med["sleep"] >= 0.002
    assert med["noop"] < med["sleep"]


def test_bench_rows_and_ratios():
    lines = []
    info, rows, gemm = _bench.run_bench(
        [SMALL[0], SMALL[3]],
        [np.float32],
        rounds=1,
        with_torch=False,
        out=lines.append,
        progress=False,
    )
    assert gemm["float32"] > 0
    assert [(r["layer"], r["layout"]) for r in rows] == [
        ("conv-3x3", "NCHW"),
        ("conv-3x3", "NHWC"),
        ("max-3s2", "NCHW"),
        ("max-3s2", "NHWC"),
    ]
    for r in rows:
        fb = r["fastconv_fwd_s"] + r["fastconv_bwd_s"]
        assert r["x_numpy_fb"] == pytest.approx(
            (r["numpy_fwd_s"] + r["numpy_bwd_s"]) / fb
        )
        assert r["x_naive_fb"] == pytest.approx(
            (r["naive_fwd_s"] + r["naive_bwd_s"]) / fb
        )
        assert r["x_torch_fb"] is None
    assert rows[0]["gflops_fwd"] == pytest.approx(
        SMALL[0].flops() / rows[0]["fastconv_fwd_s"] / 1e9
    )
    text = "\n".join(lines)
    assert "BLAS:" in text and "cores" in text and "geomean conv" in text
    assert "n/i" in text  # torch left out: its columns say so


def _parse(module, argv):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_bench_command_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    args = _parse(
        _bench,
        [
            "--layers",
            "cs231n-pool",
            "--dtype",
            "float32",
            "--rounds",
            "1",
            "--no-torch",
            "--json",
            str(path),
        ],
    )
    assert _bench.run(args) == 0
    data = json.loads(path.read_text())
    assert {r["layout"] for r in data["rows"]} == {"NCHW", "NHWC"}
    assert data["rows"][0]["layer"] == "cs231n-pool" and data["rounds"] == 1
    assert "cs231n-pool" in capsys.readouterr().out


def test_bench_command_plot(tmp_path):
    pytest.importorskip(
        "matplotlib", reason="matplotlib not installed: --plot unavailable"
    )
    path = tmp_path / "bench.png"
    args = _parse(
        _bench,
        [
            "--layers",
            "lenet-c1",
            "--dtype",
            "float32",
            "--rounds",
            "1",
            "--no-torch",
            "--plot",
            str(path),
        ],
    )
    assert _bench.run(args) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_rejects_unknown_layer(capsys):
    with pytest.raises(SystemExit) as exc:
        _parse(_bench, ["--layers", "resnet-3x3,vgg"])
    assert exc.value.code == 2
    assert "unknown layer 'vgg'" in capsys.readouterr().err


@pytest.mark.parametrize("backward", [False, True])
def test_profile_phases_add_up(backward):
    phases = _profile.profile_layer(
        _suite.get_layer("cs231n-speed"), np.float32, "NCHW", backward, rounds=3
    )
    for name in ("prepare", "im2col", "gemm", "other", "total"):
        assert phases[name] >= 0, name
    assert ("col2im" in phases) == backward
    # the marked phases carry the work: "other" (checks, allocation) is the rest
    assert phases["gemm"] > 0 and phases["im2col"] > 0
    assert phases["gemm"] + phases["im2col"] > phases["other"]
    lines = _profile.format_profile(
        _suite.get_layer("cs231n-speed"), phases, np.float32, "NCHW", backward
    )
    assert "GFLOP/s" in "\n".join(lines)


def test_profile_pool_kernel_phase(capsys):
    assert (
        _profile.run(_parse(_profile, ["--layer", "cs231n-pool", "--rounds", "2"])) == 0
    )
    out = capsys.readouterr().out
    assert "kernel" in out and "cs231n-pool NCHW float64 forward" in out


def test_trace_is_a_no_op_outside_recording():
    with _trace.phase("x"):
        pass
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


def test_diagnosis_says_how_to_fix(monkeypatch):
    monkeypatch.delenv("FASTCONV_BLAS_FIX_APPLIED", raising=False)
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    monkeypatch.setattr(_machine, "blas_fix", lambda check=True: "SkylakeX")
    monkeypatch.setattr(
        _machine, "blas_info", lambda: {"library": "openblas", "core_type": "Haswell"}
    )
    info = {"blas": _machine.blas_info()}
    assert _machine.blas_env(check=False) == {
        "OPENBLAS_CORETYPE": "SkylakeX",
        "OPENBLAS_THREAD_TIMEOUT": "4",
    }
    lines = _machine.diagnosis(info)
    assert any("export OPENBLAS_CORETYPE=SkylakeX" in line for line in lines)
    assert any("export OPENBLAS_THREAD_TIMEOUT=4" in line for line in lines)
    # after the restart, the run says what it set and why
    monkeypatch.setenv(
        "FASTCONV_BLAS_FIX_APPLIED",
        "OPENBLAS_CORETYPE=SkylakeX OPENBLAS_THREAD_TIMEOUT=4",
    )
    monkeypatch.setenv("FASTCONV_BLAS_FIX_APPLIED_WAS", "Haswell")
    text = " ".join(_machine.diagnosis(info))
    assert "OPENBLAS_CORETYPE=Haswell in the environment forces" in text
    assert "this run set OPENBLAS_CORETYPE=SkylakeX OPENBLAS_THREAD_TIMEOUT=4" in text


def test_scratch_reuses_one_buffer_within_the_limit():
    _config.release_workspace()
    a, b = _config.scratch(np.float32, (10, 7), (3,))
    assert a.shape == (10, 7) and b.shape == (3,) and a.dtype == np.float32
    assert not np.shares_memory(a, b)
    (c,) = _config.scratch(np.float64, (5, 5))
    assert np.shares_memory(a, c)  # the same cached buffer
    with fastconv.workspace_limit(100):
        (big,) = _config.scratch(np.float64, (1000,))  # over the limit: not kept
        (d,) = _config.scratch(np.float64, (5,))
        assert not np.shares_memory(big, d)
    _config.release_workspace()
    (e,) = _config.scratch(np.float64, (5, 5))
    assert not np.shares_memory(c, e)


def test_parallel_for_covers_the_range_once(monkeypatch):
    from fastconv._engine import threads as _threads

    seen = []
    lock = __import__("threading").Lock()

    def record(lo, hi):
        with lock:
            seen.append((lo, hi))

    previous = _threads.set_num_threads(3)
    try:
        _threads.parallel_for(record, 10, nbytes=1 << 30)
        assert sorted(seen) == [(0, 3), (3, 6), (6, 10)]
        seen.clear()
        _threads.parallel_for(record, 10, nbytes=10)  # too small to split
        assert seen == [(0, 10)]
    finally:
        _threads.set_num_threads(previous)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        _threads.set_num_threads(0)


def test_the_pool_grows_to_the_thread_count():
    from fastconv._engine import threads as _threads

    previous = _threads.set_num_threads(1)
    try:
        _threads.parallel_for(lambda a, b: None, 10, nbytes=1 << 30)  # no pool needed
        _threads.set_num_threads(4)
        _threads.parallel_for(lambda a, b: None, 10, nbytes=1 << 30)
        assert _threads._pool._max_workers >= 3
    finally:
        _threads.set_num_threads(previous)


@pytest.mark.parametrize("shape", [(6, 16, 40), (16, 2, 64)], ids=["N<C", "N>C"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_results_do_not_depend_on_the_number_of_threads(layout, shape):
    from fastconv._engine import threads as _threads

    L = _suite.Layer("t", "conv", *shape, 8, 3, 1, 1)
    x, w, b, gy = _suite.make_inputs(L, np.float32, layout, seed=3)
    runs = []
    for n in (1, 2, 3):
        previous = _threads.set_num_threads(n)
        try:
            res = [fastconv.conv2d(x, w, b, padding=1, layout=layout)]
            res += fastconv.conv2d_backward(gy, x, w, padding=1, layout=layout)
            res.append(fastconv.max_pool2d(x, 3, 2, 1, layout=layout))
            res.append(fastconv.max_pool2d_backward(res[-1], x, 3, 2, 1, layout=layout))
            res.append(fastconv.avg_pool2d_backward(res[-2], x, 3, 2, 1, layout=layout))
        finally:
            _threads.set_num_threads(previous)
        runs.append(res)
    for other in runs[1:]:
        for a, e in zip(other, runs[0]):
            np.testing.assert_array_equal(a, e)
