"""pytest-benchmark suite over the canonical layers (``make bench-suite``).

Each benchmark times one fastconv pass of one suite layer; inputs are built
and numba compiles outside the timed region. Benchmarks are grouped per
layer, layout and dtype, so ``--benchmark-compare`` between two saved runs
lines each pass up with itself. ``extra_info["peak_mib"]`` records the
peak memory of a cold call (workspace released first), the asv way: time
and memory side by side.
"""

import tracemalloc

import pytest

import fastconv
from fastconv.tools import peers as _baselines
from fastconv.tools import suite as _suite

LAYERS = _suite.CONV_LAYERS + _suite.POOL_LAYERS + _suite.MORE_LAYERS


@pytest.mark.parametrize("direction", ["fwd", "bwd"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("layer", LAYERS, ids=[L.name for L in LAYERS])
def test_layer(benchmark, layer, layout, dtype, direction):
    spec = layer.spec(layout, dtype)
    fwd, bwd = _baselines.fastconv_calls(spec, *_baselines.make_inputs(spec))
    fn = fwd if direction == "fwd" else bwd
    fn()  # compile outside the timed region
    fastconv.release_workspace()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    benchmark.group = f"{layer.name} {layer.layout_name(layout)} {dtype}"
    benchmark.extra_info["peak_mib"] = round(peak / 2**20, 1)
    if layer.kind in _suite.CONV_KINDS:
        benchmark.extra_info["gflop"] = layer.flops(direction == "bwd") / 1e9
    benchmark(fn)
