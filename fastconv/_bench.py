"""Smoke benchmark: fastconv against the naive oracle on a few course-sized layers.

A first, short version of the ``bench`` command: medians of interleaved
repeats, the oracle timed on a slice of the batch and scaled to the full
batch (the table says so).
"""

import time

import numpy as np

import fastconv

from . import naive

__all__ = ["SMOKE_LAYERS", "run_smoke", "add_arguments", "run"]

# name: (kind, N, C, H=W, F or None, kernel, stride, pad)
SMOKE_LAYERS = {
    "cs231n-speed": ("conv", 100, 3, 31, 25, 3, 2, 1),
    "cifar-c1": ("conv", 64, 3, 32, 32, 3, 1, 1),
    "cs231n-pool": ("pool", 100, 3, 32, None, 2, 2, 0),
}


def _median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _calls(kind, x, w, k, s, p):
    if kind == "conv":
        y = fastconv.conv2d(x, w, stride=s, padding=p)
        gy = np.ones_like(y)
        return (lambda m, xs: m.conv2d(xs, w, stride=s, padding=p),
                lambda m, xs: m.conv2d_backward(gy[:len(xs)], xs, w, stride=s, padding=p))
    y = fastconv.max_pool2d(x, k, s, p)
    gy = np.ones_like(y)
    return (lambda m, xs: m.max_pool2d(xs, k, s, p),
            lambda m, xs: m.max_pool2d_backward(gy[:len(xs)], xs, k, s, p))


def run_smoke(dtype=np.float64, repeat=5, naive_batch=2, out=print):
    """Time each smoke layer forward and backward; return a list of result dicts."""
    rng = np.random.default_rng(0)
    rows = []
    for name, (kind, N, C, H, F, k, s, p) in SMOKE_LAYERS.items():
        x = rng.standard_normal((N, C, H, H)).astype(dtype)
        w = rng.standard_normal((F, C, k, k)).astype(dtype) if F else None
        for phase, call in zip(("forward", "backward"), _calls(kind, x, w, k, s, p)):
            call(fastconv, x)                                 # compile outside timing
            xs = x[:naive_batch]
            fast, slow = [], []
            for _ in range(repeat):                        # interleave contenders
                fast.append(_median_time(lambda: call(fastconv, x), 1))
                slow.append(_median_time(lambda: call(naive, xs), 1) * N / naive_batch)
            row = dict(layer=name, phase=phase, dtype=np.dtype(dtype).name,
                       fast_ms=1e3 * float(np.median(fast)),
                       naive_ms=1e3 * float(np.median(slow)))
            row["speedup"] = row["naive_ms"] / row["fast_ms"]
            rows.append(row)
    out(f"fastconv smoke benchmark ({np.dtype(dtype).name}, medians of {repeat} "
        f"interleaved runs; naive timed on {naive_batch} samples and scaled to N)")
    out(f"{'layer':14s} {'phase':9s} {'fastconv ms':>12s} {'naive ms':>12s} {'speed-up':>9s}")
    for r in rows:
        out(f"{r['layer']:14s} {r['phase']:9s} {r['fast_ms']:12.2f} "
            f"{r['naive_ms']:12.1f} {r['speedup']:8.0f}x")
    return rows


def add_arguments(parser):
    """Options of ``python -m fastconv bench``."""
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--repeat", type=_positive_int, default=5,
                        help="interleaved repeats per contender (default 5)")


def _positive_int(text):
    import argparse

    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def run(args):
    """Run ``python -m fastconv bench``; return the exit status."""
    run_smoke(np.dtype(args.dtype), repeat=args.repeat)
    return 0
