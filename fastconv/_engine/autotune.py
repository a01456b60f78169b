"""Autotuning: time the convolution algorithms once per layer shape, keep the fastest.

Off by default. With it on (:func:`set_autotune` or the :func:`autotune`
block), a plan built with ``algorithm="auto"`` for shapes not seen before
runs every algorithm that applies on random arrays of those shapes (the
forward pass, and the backward pass, each a warm-up call then the best of
:data:`config.AUTOTUNE_ROUNDS`), and keeps the fastest forward and the fastest backward
for the rest of the process (cuDNN's benchmark mode). Every algorithm is
held by the tests to the same tolerances against the oracle, so the choice
changes results only by rounding; but it is a timing, so two processes may
choose differently: results are reproducible within a process, not
always across processes (leave autotuning off for that).
"""

import contextlib
import threading
import time
from typing import Iterator

import numpy as np

from . import algorithms, config, registry
from .threads import get_num_threads

__all__ = ["get_autotune", "set_autotune", "autotune", "forget", "tuned_passes"]


_enabled = False
_lock = threading.Lock()
# (ConvParams, dtype, threads) -> passes dict
_winners: dict = {}


def get_autotune() -> bool:
    """Return whether autotuning is on."""
    return _enabled


def set_autotune(flag: bool) -> bool:
    """Turn autotuning on or off (process-wide); return the previous setting.

    Parameters
    ----------
    flag : bool
        True: plans built with ``algorithm="auto"`` time the algorithms
        that apply to their shapes, once per shape, and run the fastest.
    """
    global _enabled
    if not isinstance(flag, (bool, np.bool_)):
        raise TypeError(f"flag must be True or False, got {flag!r}")
    previous = _enabled
    _enabled = bool(flag)
    return previous


@contextlib.contextmanager
def autotune(flag: bool = True) -> Iterator[None]:
    """Autotune (or not) inside a ``with`` block; the previous setting after."""
    previous = set_autotune(flag)
    try:
        yield
    finally:
        set_autotune(previous)


def forget():
    """Forget every timed choice (the next plans time their candidates again)."""
    with _lock:
        _winners.clear()


def _best_of(fn):
    fn()  # warm-up: compilation, workspace, caches
    best = float("inf")
    for _ in range(config.AUTOTUNE_ROUNDS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _time_candidates(shapes, dtype, build):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shapes.x_shape).astype(dtype)
    w = rng.standard_normal(shapes.weight_shape).astype(dtype)
    gy = rng.standard_normal(shapes.out_shape).astype(dtype)
    plans = [
        build(name)
        for name in algorithms.NAMES[1:]
        if algorithms.reason_not(name, shapes) is None
    ]
    fwd, bwd = {}, {}
    for plan in plans:
        p = plan.passes
        if p["forward"] not in fwd:
            fwd[p["forward"]] = _best_of(lambda: plan.forward(x, w))
        if (p["grad_x"], p["grad_w"]) not in bwd:
            bwd[p["grad_x"], p["grad_w"]] = _best_of(lambda: plan.backward(gy, x, w))
    gx, gw = min(bwd, key=bwd.get)
    return {"forward": min(fwd, key=fwd.get), "grad_x": gx, "grad_w": gw}


def tuned_passes(shapes, dtype, build):
    """Return the timed choice of each pass for these shapes (timing them if new).

    ``build(name)`` returns a plan of these shapes and dtype that runs
    algorithm `name` (the caller's plan class: this module stays below it).
    """
    key = (shapes, np.dtype(dtype), get_num_threads())
    with _lock:
        passes = _winners.get(key)
    if passes is None:
        auto = algorithms.choose(shapes, dtype)
        if 0 in shapes.x_shape + shapes.out_shape + shapes.weight_shape:
            return auto  # nothing to time
        if registry.get(auto["forward"]).all_or_none:
            return auto  # its settings serve all passes or none: nothing to mix
        passes = _time_candidates(shapes, dtype, build)
        with _lock:
            _winners.setdefault(key, passes)
    return dict(passes)
