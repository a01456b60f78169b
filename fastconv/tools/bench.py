"""``python -m fastconv bench``: fastconv against its peers on the layer suite.

Each contender (fastconv, plain numpy, PyTorch when installed, and any
``--contender``) runs in its own worker process (:mod:`.bench_worker`), in
the environment the user has: no BLAS or OpenMP variable is set for it.
For every layer of :mod:`.suite`, in each layout and dtype, the parent asks
the workers for samples in interleaved rounds (the order rotating from
round to round); before each sample the other workers' threads must have
gone idle (Linux: their CPU time stops growing), and the sampled worker
first runs the pass untimed for a while, so every sample is a steady-state
call, as in a training loop. The tables quote medians of the rounds and
ratios between contenders measured in the same run. The naive oracle is
timed once per layer, on a slice of the batch, and scaled, in a worker of
its own; numpy's GEMM rate and copy bandwidth come from another numpy
worker, before the rounds.

``--contender fastconv:VAR=VALUE[,VAR=VALUE]`` adds fastconv in an
environment with those variables; ``--contender fastconv@PATH`` adds
fastconv from another source tree (a checkout of an earlier commit), so a
change can be measured against what it replaces, side by side.

Before timing a layer, the parent asks every worker for one call's results
of each pass on the same inputs (built from the spec's seed in each worker,
by the same :func:`.peers.make_inputs`): the output, and every array the
backward returns (grad_x, grad_weight, grad_bias of a convolution, grad_x
of a pooling). A worker saves its arrays as .npy files in a temporary
folder and returns their paths; the parent reads them memory-mapped, in
chunks, and compares each contender's with fastconv's (the first
contender's), one contender at a time, then deletes them. An entry agrees
when ``|a - ref| <= rtol * |ref| + atol_scale * max(1, max|ref|)``, the
tolerance every fast path is held to in the test suite
(:data:`TOLERANCES`). The report gives, per layer and contender, the
largest ``max|a - ref| / max|ref|`` of each pass's arrays; a pass outside
the tolerance is void: its cells show "wrong" instead of a ratio, it is
left out of the geomeans, and a warning names the layer, pass, contender
and difference. The JSON rows carry the figures ("check") and the void
passes ("void"). The naive oracle is not compared: it runs on a slice of
the batch, with inputs of its own (and the tests compare it with fastconv).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

from . import machine as _machine
from . import options
from . import peers as _peers
from . import suite as _suite
from .contenders import Contender, Worker, parse_contender, wait_idle

__all__ = ["add_arguments", "check_layer", "compare_arrays", "run", "run_bench"]

#: Untimed steady-state calls before each sample, and the least a sample lasts.
#: A process that sat idle while others ran needs more than 20 ms of calls
#: to reach its steady speed again (measured: a small layer's first 20 ms
#: after 0.1 s idle ran 1.25x slower); 50 ms leave no difference.
WARM_S, SAMPLE_S = 0.05, 0.01
#: And at least this many calls: a large result is new memory, which this
#: machine's hypervisor takes back within seconds of its release, so after
#: the other contenders' turns the first calls fault it in again (float64
#: pooling backward of 51 MB: 40-90 ms for about five calls, then 5 ms).
WARM_CALLS = 10
QUICK_LAYERS = ("lenet-c1", "resnet-3x3", "cs231n-speed", "max-2s2", "cs231n-pool")
PASSES = ("fwd", "bwd")
#: The tolerances every fast path is held to in the test suite (TOLERANCES of
#: tests/helpers.py; a test keeps the two equal): an entry of a contender's
#: result agrees with fastconv's when
#: ``|a - ref| <= rtol * |ref| + atol_scale * max(1, max|ref|)``.
TOLERANCES = {
    "float32": dict(rtol=2e-4, atol_scale=2e-5),
    "float64": dict(rtol=1e-9, atol_scale=1e-10),
}
#: Entries compared at a time: the parent holds a few float64 chunks of 8 MB,
#: never a whole result.
CHECK_CHUNK = 1 << 20


# --------------------------------------------------------------------------
# the check of results


def compare_arrays(ref, got, dtype):
    """Return how far `got` is from `ref`: ``(diff, used)``.

    Parameters
    ----------
    ref, got : ndarray (memory-mapped, read in chunks of :data:`CHECK_CHUNK`)
        fastconv's result and a contender's, C-contiguous.
    dtype : the layer's dtype, which sets the tolerance (:data:`TOLERANCES`)

    Returns
    -------
    diff : float
        ``max|got - ref| / max(max|ref|, tiny)``.
    used : float
        The largest share of its tolerance an entry's difference takes,
        ``max(|got - ref| / (rtol * |ref| + atol))``: the arrays agree when it
        is at most 1.

    Both are inf when the shapes differ or either array holds a NaN or an
    infinity.
    """
    if ref.shape != got.shape:
        return math.inf, math.inf
    t = TOLERANCES[np.dtype(dtype).name]
    ref, got = ref.reshape(-1), got.reshape(-1)
    chunks = [slice(i, i + CHECK_CHUNK) for i in range(0, ref.size, CHECK_CHUNK)]
    # atol scales with max|ref|: a first pass finds it
    top = max((float(np.max(np.abs(ref[c]))) for c in chunks), default=0.0)
    atol = t["atol_scale"] * max(1.0, top)
    largest = used = 0.0
    for c in chunks:
        r = np.asarray(ref[c], np.float64)
        d = np.abs(np.asarray(got[c], np.float64) - r)
        if not np.isfinite(d).all():
            return math.inf, math.inf
        largest = max(largest, float(d.max()))
        used = max(used, float((d / (t["rtol"] * np.abs(r) + atol)).max()))
    return largest / max(top, float(np.finfo(dtype).tiny)), used


def _compare_pass(ref_paths, paths, names, dtype):
    """Compare a contender's saved arrays of one pass with fastconv's.

    Returns ``{"diff", "used", "array", "ok"}``: the largest diff and share
    of the tolerance (:func:`compare_arrays`) over the pass's arrays, the
    name of the array nearest to (or furthest beyond) its tolerance, and
    whether every array is within it.
    """
    if len(paths) != len(ref_paths):
        what = f"{len(paths)} arrays, fastconv {len(ref_paths)}"
        return {"diff": math.inf, "used": math.inf, "array": what, "ok": False}
    entry = {"diff": 0.0, "used": 0.0, "array": None, "ok": True}
    for i, (rp, p) in enumerate(zip(ref_paths, paths)):
        diff, used = compare_arrays(
            np.load(rp, mmap_mode="r"), np.load(p, mmap_mode="r"), dtype
        )
        entry["diff"] = max(entry["diff"], diff)
        if entry["array"] is None or used > entry["used"]:
            entry["used"] = used
            entry["array"] = names[i] if i < len(names) else str(i)
    entry["ok"] = entry["used"] <= 1.0
    return entry


def check_layer(spec, workers):
    """Compare the other workers' results of both passes with the first worker's.

    Each worker runs each pass once and saves its arrays in a temporary
    folder; the parent compares them with the first worker's (fastconv's),
    one contender at a time, and deletes them: at most two contenders'
    results of one layer are on disk, and a few chunks in memory.

    Returns
    -------
    dict
        ``{label: {"fwd": {"diff", "used", "array", "ok"}, "bwd": ...}}`` for
        ``workers[1:]`` (see :func:`_compare_pass`); a worker that returned
        no results has ``diff`` None, ``ok`` False and its error as ``array``.
    """
    check = {}
    if len(workers) < 2:
        return check
    with tempfile.TemporaryDirectory(prefix="fastconv-bench-") as tmp:
        main = workers[0]
        ref = main.ask(op="results", prefix=os.path.join(tmp, "ref"))
        if "error" in ref:
            raise RuntimeError(f"bench worker {main.contender.label}: {ref['error']}")
        for k, w in enumerate(workers[1:]):
            reply = w.ask(op="results", prefix=os.path.join(tmp, str(k)))
            entry = {}
            for p in PASSES:
                if "error" in reply:
                    entry[p] = {
                        "diff": None,
                        "used": None,
                        "array": reply["error"],
                        "ok": False,
                    }
                else:
                    names = _peers.result_names(spec, p)
                    entry[p] = _compare_pass(ref[p], reply[p], names, spec["dtype"])
            check[w.contender.label] = entry
            for path in reply.get("fwd", []) + reply.get("bwd", []):
                os.remove(path)
    return check


def bench_layer(layer, dtype, layout, workers, rounds, naive=None):
    """Time one layer on every worker; a dict of medians (s) and derived figures.

    `naive` is the oracle's worker (timed once, after the rounds), or None.
    """
    spec = layer.spec(layout, np.dtype(dtype).name)
    ready = {}
    algorithm = None
    for w in workers:
        reply = w.ask(op="setup", spec=spec)
        ready[w.contender.label] = reply.get("ok", False)
        if w is workers[0]:
            algorithm = reply.get("algorithm")
    live = [w for w in workers if ready[w.contender.label]]
    # every contender's results against fastconv's, before any timing
    check = check_layer(spec, live) if live and live[0] is workers[0] else {}
    void = {
        label: [p for p in PASSES if not c[p]["ok"]]
        for label, c in check.items()
        if not all(c[p]["ok"] for p in PASSES)
    }
    samples = {(w.contender.label, p): [] for w in live for p in ("fwd", "bwd")}
    number = {}
    for r in range(rounds):
        order = live[r % len(live) :] + live[: r % len(live)] if live else []
        for w in order:
            others = [o.proc.pid for o in live if o is not w]
            for p in ("fwd", "bwd"):
                wait_idle(others)
                key = (w.contender.label, p)
                reply = w.ask(
                    op="sample",
                    **{"pass": p},
                    warm=WARM_S,
                    warm_calls=WARM_CALLS,
                    min_time=SAMPLE_S,
                    number=number.get(key),
                )
                number[key] = reply["number"]
                samples[key].append(reply["seconds"])
    med = {k: float(np.median(v)) for k, v in samples.items()}
    row = {
        "layer": layer.name,
        "kind": layer.kind,
        "group": layer.group,
        "layout": layout,
        "layout_name": layer.layout_name(layout),
        "dtype": np.dtype(dtype).name,
        "contenders": [w.contender.label for w in workers],
        "algorithm": algorithm,
        "check": check,
        "void": void,
    }
    for w in workers:
        label = w.contender.label
        row[f"{label}_fwd_s"] = med.get((label, "fwd"))
        row[f"{label}_bwd_s"] = med.get((label, "bwd"))
    row["samples"] = {f"{k[0]}_{k[1]}": v for k, v in samples.items()}
    main = workers[0].contender.label
    if naive is not None:
        naive.ask(op="setup", spec=spec)
        n = naive.ask(op="naive")
        row["naive_fwd_s"], row["naive_bwd_s"] = n["fwd"], n["bwd"]
        row["naive_samples"] = n["samples"]
    f0, b0 = row[f"{main}_fwd_s"], row[f"{main}_bwd_s"]
    itemsize = np.dtype(dtype).itemsize
    if layer.kind in _suite.CONV_KINDS:
        row["gflops_fwd"] = layer.flops() / f0 / 1e9
        row["gflops_bwd"] = layer.flops(backward=True) / b0 / 1e9
    else:
        row["gbs_fwd"] = layer.bytes_moved(itemsize) / f0 / 1e9
        row["gbs_bwd"] = layer.bytes_moved(itemsize, backward=True) / b0 / 1e9
    for label in ["naive"] + [w.contender.label for w in workers[1:]]:
        f, b = row.get(f"{label}_fwd_s"), row.get(f"{label}_bwd_s")
        # a wrong result's time is void: no ratio, so no geomean either
        if "fwd" in void.get(label, ()):
            f = None
        if "bwd" in void.get(label, ()):
            b = None
        row[f"x_{label}_fwd"] = None if f is None else f / f0
        row[f"x_{label}_fb"] = None if f is None or b is None else (f + b) / (f0 + b0)
    return row


# --------------------------------------------------------------------------
# report


def geomean(values):
    """Geometric mean of the values that are not None (None if there are none)."""
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _fmt_x(v):
    return "    -" if v is None else (f"{v:5.2f}" if v < 10 else f"{v:5.0f}")


def _short(label):
    return label if len(label) <= 12 else label[:11] + "~"


def _columns(rows):
    # (heading, sub-heading, row key, contender, the passes the cell times)
    labels = rows[0]["contenders"][1:]
    cols = [("x naive", "f+b", "x_naive_fb", "naive", PASSES)]
    for label in labels:
        if label == "torch":
            cols.append(("x torch", "fwd", "x_torch_fwd", label, ("fwd",)))
        cols.append((f"x {_short(label)}", "f+b", f"x_{label}_fb", label, PASSES))
    return cols


def _cell(r, col):
    void = r.get("void", {}).get(col[3], ())
    return "wrong" if any(p in void for p in col[4]) else _fmt_x(r.get(col[2]))


def _fmt_diff(c):
    if c["diff"] is None:
        return "error!"
    return ("0" if c["diff"] == 0 else f"{c['diff']:.1e}") + ("" if c["ok"] else "!")


def check_lines(rows):
    """Return the check's report of one dtype's rows: a line per row, then warnings.

    A warning for each void pass names the layer, pass, contender and difference.
    """
    labels = rows[0]["contenders"][1:]
    if not labels:
        return []
    t = TOLERANCES[rows[0]["dtype"]]
    rule = f"rtol {t['rtol']:.0e}, atol {t['atol_scale']:.0e}*max(1,max|fastconv|)"
    lines = [
        f"check: largest max|a-b|/max|fastconv| of each pass's arrays, fwd/bwd; "
        f"! = beyond the tests' tolerance ({rule} per entry): that pass's time is "
        f'void ("wrong")'
    ]
    for r in rows:
        cells = []
        for label in labels:
            c = r["check"].get(label)
            what = "/".join(_fmt_diff(c[p]) for p in PASSES) if c else "-"
            cells.append(f"{_short(label)} {what:17s}")  # 1.0e-02!/1.0e-02!
        line = f"{r['layer']:13s} {r['layout_name']:6s} " + "  ".join(cells)
        lines.append(line.rstrip())
    for r in rows:
        for label, passes in r["void"].items():
            for p in passes:
                c = r["check"][label][p]
                if c["diff"] is None:
                    what = f"no results: {c['array']}"
                elif math.isinf(c["diff"]):
                    what = f"{c['array']}: another shape, or not finite"
                else:
                    what = (
                        f"max|a-b|/max|fastconv| = {c['diff']:.1e}; {c['array']} at "
                        f"{c['used']:.3g}x the tolerance, {rule}"
                    )
                lines.append(
                    f"WARNING: {r['layer']} {r['layout_name']} {r['dtype']} {p}: {label} "
                    f"disagrees with fastconv ({what}); its time is void"
                )
    return lines


def table(rows, machine, out):
    """Print the table of one dtype's rows, with geomeans per kind and layout.

    Then the check of the results (:func:`check_lines`).
    """
    dtype = rows[0]["dtype"]
    gemm, copy = machine["gemm_gflops"][dtype], machine["copy_gbs"]
    # convolutions against the FMA peak of the threads a call uses (the
    # engine's tile in L1), or numpy's GEMM rate where it was not measured
    fma = machine.get("fma_gflops", {}).get(dtype)
    ceiling = fma or gemm
    cols = _columns(rows)
    width = max(8, *(len(c[0]) for c in cols))
    head = (
        f"{'layer':13s} {'layout':6s} {'fwd ms':>8s} {'bwd ms':>8s} {'rate':>7s} "
        f"{'%peak':>5s} {'%peak':>5s} "
        + " ".join(f"{c[0]:>{width}s}" for c in cols)
        + f"  {'auto chose (fwd/grad_x/grad_w)':s}"
    )
    sub = (
        f"{'':13s} {'':6s} {'':>8s} {'':>8s} {'fwd':>7s} {'fwd':>5s} {'bwd':>5s} "
        + " ".join(f"{c[1]:>{width}s}" for c in cols)
    )
    peak_text = (
        f"FMA peak {fma:.1f} GFLOP/s (fastconv's register tile in L1, "
        f"{machine['fma_threads']} thread(s)), "
        if fma
        else ""
    )
    out(
        f"\n{dtype}: {peak_text}numpy GEMM {gemm:.1f} GFLOP/s (1024x1024 matmul), "
        f"copy {copy:.1f} GB/s (read + write); rate: conv GFLOP/s, pool GB/s "
        f"moved; %peak: conv of the {'FMA peak' if fma else 'GEMM rate'}, pool of "
        "the copy"
    )
    out(head)
    out(sub)
    out("-" * len(head))
    for kind in ("conv", "pool", "more"):
        group = [r for r in rows if r["group"] == kind]
        if not group:
            continue
        for r in group:
            main = r["contenders"][0]
            # the share of the FMA peak (conv) or of the copy bandwidth
            # (pool: the least bytes a pass moves) each pass reaches
            if r["kind"] in _suite.CONV_KINDS:
                rate, peak = r["gflops_fwd"], 100 * r["gflops_fwd"] / ceiling
                peak_b = 100 * r["gflops_bwd"] / ceiling
            else:
                rate, peak = r["gbs_fwd"], 100 * r["gbs_fwd"] / copy
                peak_b = 100 * r["gbs_bwd"] / copy
            out(
                f"{r['layer']:13s} {r['layout_name']:6s} {1e3 * r[f'{main}_fwd_s']:8.2f} "
                f"{1e3 * r[f'{main}_bwd_s']:8.2f} {rate:7.1f} {peak:4.0f}% "
                f"{peak_b:4.0f}% "
                + " ".join(f"{_cell(r, c):>{width}s}" for c in cols)
                + (f"  {r['algorithm']}" if r.get("algorithm") else "")
            )
        for layout in ("NCHW", "NHWC", "all"):
            sel = [r for r in group if layout in ("all", r["layout"])]
            if not sel:
                continue
            out(
                f"{'geomean ' + kind:13s} {layout:6s} {'':8s} {'':8s} {'':7s} "
                f"{'':5s} {'':5s} "
                + " ".join(
                    f"{_fmt_x(geomean([r.get(c[2]) for r in sel])):>{width}s}"
                    for c in cols
                )
            )
        out("-" * len(head))
    for line in check_lines(rows):
        out(line)


def _progress(total):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, file=sys.stderr, leave=False, dynamic_ncols=True)


def run_bench(
    layers,
    dtypes,
    layouts=("NCHW", "NHWC"),
    rounds=5,
    contenders=None,
    naive=True,
    out=print,
    progress=True,
):
    """Run the benchmark; print the tables and return ``(info, rows)``."""
    if contenders is None:
        contenders = [Contender("fastconv", "fastconv"), Contender("numpy", "numpy")]
        if _torch_importable():
            contenders.append(Contender("torch", "torch"))
    info = _machine.machine_info()
    workers, oracle = [], None
    try:
        for c in contenders:
            workers.append(Worker(c))
        info["workers"] = {w.contender.label: w.info for w in workers}
        # the oracle and the machine's rates in processes of their own: the
        # oracle's large temporaries must not change the allocator state of
        # a timed contender (seen: 20-35% slower fastconv samples after it)
        if naive:
            oracle = Worker(Contender("naive", "naive"))
        info.update(Worker.once(Contender("numpy", "numpy"), op="machine"))
        _header(info, rounds, out)
        jobs = [(d, L, lay) for d in dtypes for L in layers for lay in layouts]
        bar = _progress(len(jobs)) if progress else None
        rows = []
        for d, L, lay in jobs:
            if bar is not None:
                bar.set_description(f"{L.name} {lay} {np.dtype(d).name}")
            rows.append(bench_layer(L, d, lay, workers, rounds, oracle))
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.close()
    finally:
        for w in workers + ([oracle] if oracle else []):
            w.close()
    for d in dtypes:
        sel = [r for r in rows if r["dtype"] == np.dtype(d).name]
        if sel:
            table(sel, info, out)
    return info, rows


def _torch_importable():
    proc = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return proc.returncode == 0


def _header(info, rounds, out):
    blas = info["blas"]
    w = info["workers"]
    out(f"fastconv bench, {info['date']}")
    out(
        f"machine: {info['cpu']} ({info['simd']}), {info['cores']} cores; python "
        f"{info['python']}, numpy {info['numpy']}, numba {info['numba']}"
    )
    out(
        f"BLAS: {blas.get('library')} {blas.get('version') or ''}, "
        f"{blas.get('threads', '?')} threads, core type {blas.get('core_type', '?')}"
    )
    env = " ".join(f"{k}={v}" for k, v in info["blas_env"].items()) or "none"
    out(f"environment: BLAS/OpenMP variables set by the user: {env}")
    for label, wi in w.items():
        what = (
            f"torch {wi['torch']}"
            if wi["kind"] == "torch"
            else f"numpy {wi['numpy']}"
            if wi["kind"] == "numpy"
            else f"fastconv {wi.get('fastconv')} from {wi.get('path')}"
        )
        out(f"contender {label}: {what}, {wi.get('threads', '?')} threads, own process")
    for line in _machine.diagnosis(info):
        out(f"note: {line}")
    out(
        f"method: each contender in its own process, default environment; medians of "
        f"{rounds} interleaved rounds, each sample after {WARM_S * 1e3:.0f} ms and "
        f"{WARM_CALLS} calls (whichever is longer) of untimed "
        f"calls with the other processes idle; x = other's time / fastconv's (higher is "
        f"better); x naive: the oracle on N/8 samples (at least 1), scaled to N"
    )
    out(
        "check: before the rounds, each contender's results of both passes against "
        "fastconv's, within the test suite's tolerance (the oracle's are not "
        'compared: it runs on a slice); a pass outside it is void: "wrong", no '
        "ratio, left out of the geomeans"
    )


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
        labels = [f"{r['layer']}\n{r['layout_name']}" for r in sel]
        xs = np.arange(len(sel))
        peers = [
            lab
            for lab in sel[0]["contenders"][1:]
            if any(r.get(f"x_{lab}_fb") for r in sel)
        ]
        width = 0.8 / max(len(peers), 1)
        for k, name in enumerate(peers):
            ax.bar(
                xs + k * width,
                [r.get(f"x_{name}_fb") or 0 for r in sel],
                width,
                label=f"vs {name}",
            )
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
        type=options.layer_list,
        default=None,
        help=f"comma-separated layer names (default: all of {names})",
    )
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument("--layout", choices=["NCHW", "NHWC", "both"], default="both")
    parser.add_argument(
        "--rounds",
        type=options.positive_int,
        default=None,
        help="interleaved rounds per contender (default 5, --quick 3)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds and a few representative layers"
    )
    parser.add_argument(
        "--contender",
        action="append",
        type=_contender,
        default=[],
        metavar="SPEC",
        help="add a contender: fastconv:VAR=VALUE[,...] (fastconv in "
        "that environment) or fastconv@PATH (another source tree)",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-naive", action="store_true", help="do not time the oracle")
    parser.add_argument(
        "--dask",
        action="store_true",
        help="time one layer (the first of --layers, default resnet-3x3) over a "
        "large batch through fastconv.dask on a LocalCluster of 1 and 2 workers "
        "against the in-process call (needs fastconv[dask])",
    )
    parser.add_argument("--json", metavar="PATH", help="write the raw results as JSON")
    parser.add_argument("--plot", metavar="PATH.png", help="bar chart of the speed-ups")


def _contender(text):
    try:
        return parse_contender(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def run(args):
    """Run ``python -m fastconv bench``; return the exit status."""
    if args.plot:  # fail before the run, not after it
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("--plot needs matplotlib: pip install matplotlib", file=sys.stderr)
            return 2
    if args.dask:
        return _run_dask(args)
    layers = args.layers or (
        [_suite.get_layer(n) for n in QUICK_LAYERS]
        if args.quick
        else _suite.CONV_LAYERS + _suite.POOL_LAYERS + _suite.MORE_LAYERS
    )
    dtypes = [np.float32, np.float64] if args.dtype == "both" else [np.dtype(args.dtype)]
    layouts = ("NCHW", "NHWC") if args.layout == "both" else (args.layout,)
    rounds = args.rounds or (3 if args.quick else 5)
    contenders = [Contender("fastconv", "fastconv"), Contender("numpy", "numpy")]
    if not args.no_torch and _torch_importable():
        contenders.append(Contender("torch", "torch"))
    contenders += args.contender
    info, rows = run_bench(
        layers, dtypes, layouts, rounds, contenders, naive=not args.no_naive
    )
    if args.json:
        with open(args.json, "w") as fh:
            check = {"tolerances": TOLERANCES, "source": "tests/helpers.py TOLERANCES"}
            json.dump(
                {"machine": info, "rounds": rounds, "check": check, "rows": rows},
                fh,
                indent=1,
                default=str,
            )
        print(f"wrote {args.json}")
    if args.plot:
        _plot(rows, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _run_dask(args):
    """``bench --dask``: one layer, one dtype and layout (float32, NCHW by default)."""
    from .bench_dask import run_dask

    layer = (args.layers or [_suite.get_layer("resnet-3x3")])[0]
    dtype = np.float32 if args.dtype == "both" else np.dtype(args.dtype)
    layout = "NCHW" if args.layout == "both" else args.layout
    result = run_dask(layer, dtype, layout, args.rounds or 5, sys.stdout)
    if result is None:
        return 2
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1, default=str)
        print(f"wrote {args.json}")
    return 0
