"""``python -m fastconv bench``: fastconv against its peers on the layer suite.

For every layer of :mod:`fastconv._suite`, in both layouts and each dtype,
the contenders (fastconv, plain numpy, PyTorch when installed) run their
forward and backward passes in interleaved rounds; the table reports medians
and ratios measured in this one run. The naive oracle is timed on a slice of
the batch and scaled, and the GEMM rate comes from numpy matmul in the same
run. Pass ``--json`` for the raw numbers and ``--plot`` for a bar chart.
"""

import argparse
import json
import math
import sys
import time

import numpy as np

from . import machine as _machine
from . import peers as _baselines
from . import suite as _suite

__all__ = ["add_arguments", "run", "run_bench", "gemm_rate", "time_interleaved"]

CONTENDERS = ("fastconv", "numpy", "torch")

#: Tells the command line to apply the OpenBLAS core-type fix before running.
MEASURES_SPEED = True


# --------------------------------------------------------------------------
# timing


def _calibrate(fn, min_time):
    """Calls per sample so that one sample lasts at least `min_time` seconds."""
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    return max(1, min(1000, math.ceil(min_time / max(once, 1e-7))))


def time_interleaved(fns, rounds, min_time=0.005, warm=0.015):
    """Median seconds per call of each callable, the callables taking turns.

    Parameters
    ----------
    fns : dict name -> zero-argument callable (each already warmed up)
    rounds : int
        Samples per callable; in each round every callable gives one sample,
        so a burst of load on the machine hits them all alike.
    min_time : float
        Fast callables repeat within a sample until it lasts this long.
    warm : float
        Before each sample the callable runs untimed for at least this long:
        threads a previous contender left spinning (torch's OpenMP workers
        spin ~10 ms after each op) die down, and the sample measures the
        callable in steady state, as in a training loop.

    Returns
    -------
    dict name -> median seconds per call
    """
    number = {k: _calibrate(f, min_time) for k, f in fns.items()}
    samples = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            n = number[k]
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < warm:
                f()
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            samples[k].append((time.perf_counter() - t0) / n)
    return {k: float(np.median(v)) for k, v in samples.items()}


def gemm_rate(dtype, size=1024, rounds=5):
    """The machine's GEMM rate in GFLOP/s: numpy matmul of two (size, size) arrays."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    a @ b
    t = time_interleaved({"gemm": lambda: a @ b}, rounds)["gemm"]
    return 2 * size**3 / t / 1e9


# --------------------------------------------------------------------------
# one layer


def _naive_slice(layer):
    # enough samples to amortise per-call overhead, few enough to stay quick
    return max(1, min(layer.N, layer.N // 8))


def bench_layer(layer, dtype, layout, rounds, with_torch):
    """Time one layer; returns a dict of medians (seconds) and derived figures."""
    x, w, b, gy = _suite.make_inputs(layer, dtype, layout)
    calls = {
        "fastconv": _baselines.fastconv_calls(layer, x, w, b, gy, layout),
        "numpy": _baselines.numpy_calls(layer, x, w, b, gy, layout),
    }
    if with_torch:
        calls["torch"] = _baselines.torch_calls(layer, x, w, b, gy, layout)
    fns = {}
    for name, (fwd, bwd) in calls.items():
        fwd(), bwd()  # compile / warm up
        fns[name + ":fwd"], fns[name + ":bwd"] = fwd, bwd
    med = time_interleaved(fns, rounds)

    k = _naive_slice(layer)
    nfwd, nbwd = _baselines.naive_calls(layer, x[:k], w, b, gy[:k], layout)
    naive = {}
    for phase, fn in (("fwd", nfwd), ("bwd", nbwd)):
        t0 = time.perf_counter()
        fn()
        naive[phase] = (time.perf_counter() - t0) * layer.N / k

    row = {
        "layer": layer.name,
        "kind": layer.kind,
        "layout": layout,
        "dtype": np.dtype(dtype).name,
        "naive_samples": k,
    }
    for name in CONTENDERS:
        for phase in ("fwd", "bwd"):
            row[f"{name}_{phase}_s"] = med.get(f"{name}:{phase}")
    row["naive_fwd_s"], row["naive_bwd_s"] = naive["fwd"], naive["bwd"]
    if layer.kind == "conv":
        row["gflops_fwd"] = layer.flops() / row["fastconv_fwd_s"] / 1e9
        row["gflops_bwd"] = layer.flops(backward=True) / row["fastconv_bwd_s"] / 1e9
    fb = row["fastconv_fwd_s"] + row["fastconv_bwd_s"]
    for name in ("naive", "numpy", "torch"):
        f, bw = row.get(f"{name}_fwd_s"), row.get(f"{name}_bwd_s")
        row[f"x_{name}_fwd"] = None if f is None else f / row["fastconv_fwd_s"]
        row[f"x_{name}_fb"] = None if f is None else (f + bw) / fb
    return row


# --------------------------------------------------------------------------
# report


def _geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _fmt_x(v):
    return "    -" if v is None else (f"{v:5.2f}" if v < 10 else f"{v:5.0f}")


def _table(rows, gemm, with_torch, out):
    dtype = rows[0]["dtype"]
    head = (
        f"{'layer':13s} {'layout':6s} {'fwd ms':>8s} {'bwd ms':>8s} "
        f"{'GFLOP/s':>7s} {'%GEMM':>5s} {'x naive':>7s} {'x numpy':>7s} "
        f"{'x torch':>7s} {'x torch':>7s}"
    )
    sub = (
        f"{'':13s} {'':6s} {'':>8s} {'':>8s} {'fwd':>7s} {'fwd':>5s} "
        f"{'f+b':>7s} {'f+b':>7s} {'fwd':>7s} {'f+b':>7s}"
    )
    out(f"\n{dtype}: GEMM rate {gemm:.1f} GFLOP/s (numpy matmul 1024x1024, this run)")
    out(head)
    out(sub)
    out("-" * len(head))
    for kind in ("conv", "pool"):
        group = [r for r in rows if (r["kind"] == "conv") == (kind == "conv")]
        if not group:
            continue
        for r in group:
            gf = f"{r['gflops_fwd']:7.1f}" if "gflops_fwd" in r else f"{'':7s}"
            pct = (
                f"{100 * r['gflops_fwd'] / gemm:4.0f}%"
                if "gflops_fwd" in r
                else f"{'':5s}"
            )
            torch_f = _fmt_x(r["x_torch_fwd"]) if with_torch else "  n/i"
            torch_fb = _fmt_x(r["x_torch_fb"]) if with_torch else "  n/i"
            out(
                f"{r['layer']:13s} {r['layout']:6s} {1e3 * r['fastconv_fwd_s']:8.2f} "
                f"{1e3 * r['fastconv_bwd_s']:8.2f} {gf} {pct} "
                f"{_fmt_x(r['x_naive_fb']):>7s} {_fmt_x(r['x_numpy_fb']):>7s} "
                f"{torch_f:>7s} {torch_fb:>7s}"
            )
        for layout in ("NCHW", "NHWC", "all"):
            sel = [r for r in group if layout in ("all", r["layout"])]
            if not sel:
                continue
            g = {
                key: _geomean([r[key] for r in sel])
                for key in ("x_naive_fb", "x_numpy_fb", "x_torch_fwd", "x_torch_fb")
            }
            label = f"geomean {kind}"
            out(
                f"{label:13s} {layout:6s} {'':8s} {'':8s} {'':7s} {'':5s} "
                f"{_fmt_x(g['x_naive_fb']):>7s} {_fmt_x(g['x_numpy_fb']):>7s} "
                f"{_fmt_x(g['x_torch_fwd']) if with_torch else '  n/i':>7s} "
                f"{_fmt_x(g['x_torch_fb']) if with_torch else '  n/i':>7s}"
            )
        out("-" * len(head))


def _progress(i, total, label, stream=sys.stderr):
    width = 30
    done = int(width * i / total)
    stream.write(f"\r[{'#' * done}{'.' * (width - done)}] {i}/{total} {label:40s}")
    if i == total:
        stream.write("\n")
    stream.flush()


def run_bench(layers, dtypes, rounds=5, with_torch=None, out=print, progress=True):
    """Run the benchmark; print the tables and return ``(machine, rows, gemm)``."""
    if with_torch is None:
        with_torch = _baselines.torch_available()
    info = _machine.machine_info()
    blas = info["blas"]
    out(
        f"machine: {info['cpu']}, {info['cores']} cores; python {info['python']}, "
        f"numpy {info['numpy']}, numba {info['numba']}"
    )
    out(
        f"BLAS: {blas.get('library')} {blas.get('version') or ''}, "
        f"{blas.get('threads', '?')} threads, core type {blas.get('core_type', '?')}"
    )
    out(
        f"torch: {info['torch'] or 'not installed (pip install torch==2.13.0 for the x torch columns)'}"
    )
    for line in _machine.diagnosis(info):
        out(f"note: {line}")
    jobs = [(d, lay, L) for d in dtypes for L in layers for lay in ("NCHW", "NHWC")]
    rows, gemm = [], {}
    for d in dtypes:
        gemm[np.dtype(d).name] = gemm_rate(d)
    for i, (d, layout, L) in enumerate(jobs):
        if progress:
            _progress(i, len(jobs), f"{L.name} {layout} {np.dtype(d).name}")
        rows.append(bench_layer(L, d, layout, rounds, with_torch))
    if progress:
        _progress(len(jobs), len(jobs), "done")
    out(
        f"\nmedians of {rounds} interleaved rounds; x = other's time / fastconv's "
        f"(higher is better); x naive: the oracle timed on N/8 samples "
        f"(at least 1) and scaled to N; n/i: torch not installed"
    )
    for d in dtypes:
        name = np.dtype(d).name
        _table([r for r in rows if r["dtype"] == name], gemm[name], with_torch, out)
    return info, rows, gemm


def _plot(rows, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install matplotlib") from None
    dtypes = sorted({r["dtype"] for r in rows})
    fig, axes = plt.subplots(len(dtypes), 1, figsize=(12, 4 * len(dtypes)), squeeze=False)
    for ax, d in zip(axes[:, 0], dtypes):
        sel = [r for r in rows if r["dtype"] == d]
        labels = [f"{r['layer']}\n{r['layout']}" for r in sel]
        xs = np.arange(len(sel))
        peers = [("numpy", "x_numpy_fb")] + (
            [("torch", "x_torch_fb")] if sel[0]["x_torch_fb"] is not None else []
        )
        width = 0.8 / len(peers)
        for k, (name, key) in enumerate(peers):
            ax.bar(xs + k * width, [r[key] for r in sel], width, label=f"vs {name}")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(
            xs + width * (len(peers) - 1) / 2, labels, fontsize=7, rotation=60, ha="right"
        )
        ax.set_ylabel("speed-up, forward+backward")
        ax.set_title(f"fastconv speed-up ({d}; above 1 = fastconv faster)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def add_arguments(parser):
    """Options of ``python -m fastconv bench``."""
    names = ", ".join(_suite.LAYERS)
    parser.add_argument(
        "--layers",
        type=_layer_list,
        default=None,
        help=f"comma-separated layer names (default: all of {names})",
    )
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument(
        "--rounds",
        type=_positive_int,
        default=None,
        help="interleaved rounds per contender (default 5, --quick 3)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds and a few representative layers"
    )
    parser.add_argument("--json", metavar="PATH", help="write the raw results as JSON")
    parser.add_argument("--plot", metavar="PATH.png", help="bar chart of the speed-ups")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument(
        "--no-blas-fix",
        action="store_true",
        help="keep the machine's OpenBLAS core type even if misdetected",
    )


QUICK_LAYERS = ("lenet-c1", "resnet-3x3", "cs231n-speed", "max-2s2", "cs231n-pool")


def _layer_list(text):
    try:
        return [
            _suite.get_layer(name.strip()) for name in text.split(",") if name.strip()
        ]
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def run(args):
    """Run ``python -m fastconv bench``; return the exit status."""
    if args.plot:  # fail before the run, not after it
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("--plot needs matplotlib: pip install matplotlib", file=sys.stderr)
            return 2
    layers = args.layers or (
        [_suite.get_layer(n) for n in QUICK_LAYERS]
        if args.quick
        else _suite.CONV_LAYERS + _suite.POOL_LAYERS
    )
    dtypes = [np.float32, np.float64] if args.dtype == "both" else [np.dtype(args.dtype)]
    rounds = args.rounds or (3 if args.quick else 5)
    with_torch = False if args.no_torch else None
    info, rows, gemm = run_bench(layers, dtypes, rounds, with_torch)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {"machine": info, "gemm_gflops": gemm, "rounds": rounds, "rows": rows},
                fh,
                indent=1,
                default=str,
            )
        print(f"wrote {args.json}")
    if args.plot:
        _plot(rows, args.plot)
        print(f"wrote {args.plot}")
    return 0
