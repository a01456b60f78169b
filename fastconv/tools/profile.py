"""``python -m fastconv profile``: where one layer's time goes, phase by phase.

Prints the layer's plan (algorithm, tiling, threads, workspace), then the
median time and share of each phase of the call: "prepare" (argument
checks, dtype and layout copies of the inputs), the fused kernels' own
phases (im2col, the GEMMs, col2im, bias; measured inside the kernels and
given per thread), "kernel" for pooling, "sum slots" (adding the backward
pass's partial sums) and "other", the rest of the call (allocation, thread
start-up, waiting for the slowest piece).
"""

import time

import numpy as np

import fastconv

from . import peers
from . import suite as _suite
from .options import layer as _layer
from .options import positive_int as _positive_int

__all__ = ["profile_layer", "layer_plan", "format_profile", "add_arguments", "run"]


def layer_plan(layer, dtype, layout, algorithm="auto"):
    """Return the plan fastconv runs for a 2-D `layer` (a ConvPlan or PoolPlan).

    None for the other layers (1-D, 3-D, transposed, adaptive): they run
    2-D calls (or adaptive kernels) with plans of their own inside.
    """
    if layer.group == "more":
        return None
    if layer.kind == "conv":
        return fastconv.plan_conv2d(
            layer.x_shape(layout),
            layer.weight_shape(layout),
            dtype,
            layout=layout,
            algorithm=algorithm,
            **layer.kwargs(),
        )
    return fastconv.plan_pool2d(
        layer.kind, layer.x_shape(layout), dtype, layout=layout, **layer.kwargs()
    )


def profile_layer(
    layer, dtype=np.float64, layout="NCHW", backward=False, rounds=7, algorithm="auto"
):
    """Median seconds per phase of one layer's forward (or backward) pass.

    `algorithm` (convolutions only) is passed to fastconv as ``algorithm=``.

    Returns
    -------
    phases : dict phase -> median seconds, in the order the phases first ran,
        plus "other" (the call's time outside any phase) and "total".
    """
    spec = layer.spec(layout, np.dtype(dtype).name)
    if layer.kind in _suite.CONV_KINDS:
        spec = dict(spec, kwargs=dict(spec["kwargs"], algorithm=algorithm))
    fwd, bwd = peers.fastconv_calls(spec, *peers.make_inputs(spec))
    fn = bwd if backward else fwd
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.05:  # compile, then steady state
        fn()
    samples = []
    for _ in range(rounds):
        with fastconv.record_phases() as rec:
            t0 = time.perf_counter()
            fn()
            total = time.perf_counter() - t0
        rec = dict(rec)
        rec["other"] = max(0.0, total - sum(rec.values()))
        rec["total"] = total
        samples.append(rec)
    names = list(dict.fromkeys(k for s in samples for k in s))
    return {k: float(np.median([s.get(k, 0.0) for s in samples])) for k in names}


def format_profile(layer, phases, dtype, layout, backward):
    """Return the profile as text lines."""
    total = phases["total"]
    direction = "backward" if backward else "forward"
    lines = [
        f"{layer.name} {layout} {np.dtype(dtype).name} {direction}: "
        f"{1e3 * total:.2f} ms per call (median)"
    ]
    lines.append(f"{'phase':18s} {'ms':>9s} {'share':>7s}  rate")
    for name, t in phases.items():
        if name == "total":
            continue
        rate = ""
        if name.startswith("gemm") and layer.kind in _suite.CONV_KINDS and t > 0:
            # forward: one GEMM per tile; backward: grad_weight and grad_cols, each
            # as many FLOPs as the forward pass
            rate = f"{layer.flops() / t / 1e9:.1f} GFLOP/s"
        elif name == "kernel" and layer.kind not in _suite.CONV_KINDS and t > 0:
            moved = layer.bytes_moved(np.dtype(dtype).itemsize, backward)
            rate = f"{moved / t / 1e9:.1f} GB/s moved"
        lines.append(f"{name:18s} {1e3 * t:9.3f} {100 * t / total:6.1f}%  {rate}")
    return lines


def _plot(layer, phases, path, title):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install matplotlib") from None
    items = [(k, v) for k, v in phases.items() if k != "total"]
    fig, ax = plt.subplots(figsize=(8, 1.8))
    left = 0.0
    for name, t in items:
        ax.barh(0, 1e3 * t, left=left, label=name)
        left += 1e3 * t
    ax.set_yticks([])
    ax.set_xlabel("ms")
    ax.set_title(title)
    ax.legend(
        ncol=min(4, len(items)),
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.45),
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def add_arguments(parser):
    """Options of ``python -m fastconv profile``."""
    parser.add_argument(
        "--layer", required=True, type=_layer, help=f"one of {', '.join(_suite.LAYERS)}"
    )
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW")
    parser.add_argument(
        "--backward", action="store_true", help="profile the backward pass"
    )
    parser.add_argument("--rounds", type=_positive_int, default=7)
    parser.add_argument(
        "--algorithm",
        choices=fastconv.ALGORITHMS,
        default="auto",
        help="force a convolution algorithm (default: what auto picks)",
    )
    parser.add_argument("--plot", metavar="PATH.png", help="also draw the phases")


def run(args):
    """Run ``python -m fastconv profile``; return the exit status."""
    dtype = np.dtype(args.dtype)
    if args.layer.kind not in _suite.CONV_KINDS and args.algorithm != "auto":
        raise SystemExit(f"--algorithm applies to convolutions, not {args.layer.name}")
    try:
        plan = layer_plan(args.layer, dtype, args.layout, args.algorithm)
    except ValueError as e:  # an algorithm that does not apply to the layer
        raise SystemExit(f"{args.layer.name}: {e}") from None
    phases = profile_layer(
        args.layer, dtype, args.layout, args.backward, args.rounds, args.algorithm
    )
    lines = format_profile(args.layer, phases, dtype, args.layout, args.backward)
    print(
        repr(plan)
        if plan is not None
        else f"{args.layer.name}: no plan of its own (it runs calls with plans of theirs)"
    )
    print()
    print("\n".join(lines))
    if args.plot:
        _plot(args.layer, phases, args.plot, lines[0])
        print(f"wrote {args.plot}")
    return 0
