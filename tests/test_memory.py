"""The workspace limit bounds what a convolution allocates beyond its results.

A layer whose full column matrix would take 2 GiB runs forward and backward
under the default limit; numpy reports its allocations to tracemalloc, so
the peak of what a call allocates can be measured exactly. The bound: the
call's results plus the limit, plus 10% of everything (inputs, results,
limit) for small temporaries.
"""

import tracemalloc

import numpy as np
import pytest

import fastconv

GIB = 2**30


def _peak(fn):
    fastconv.release_workspace()  # a cold call: the workspace is allocated anew
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def _warm(x, w, layout):
    xs = x[:2, :8, :8] if layout == "NHWC" else x[:2, :, :8, :8]
    y = fastconv.conv2d(xs, w, padding=1, layout=layout)
    fastconv.conv2d_backward(y, xs, w, padding=1, layout=layout)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_a_2gib_im2col_convolution_stays_within_the_limit(layout):
    N, C, H, F = 114, 64, 64, 8  # columns: 114 * 576 * 4096 * 8 B = 2.0 GiB
    g = np.random.default_rng(0)
    if layout == "NCHW":
        x = g.standard_normal((N, C, H, H))
        w = g.standard_normal((F, C, 3, 3)) * 0.05
    else:
        x = g.standard_normal((N, H, H, C))
        w = g.standard_normal((3, 3, C, F)) * 0.05
    assert N * C * 9 * H * H * 8 >= 2 * GIB
    # load the kernels first: numba's loading allocates Python objects, which
    # tracemalloc would count against the call
    _warm(x, w, layout)
    limit = fastconv.get_workspace_limit()
    assert limit == fastconv.DEFAULT_WORKSPACE_LIMIT <= 512 * 2**20

    y, peak = _peak(lambda: fastconv.conv2d(x, w, padding=1, layout=layout))
    inputs = x.nbytes + w.nbytes
    assert peak <= y.nbytes + limit + 0.1 * (inputs + y.nbytes + limit), peak / GIB
    print(f"forward: peak {peak / 2**20:.0f} MiB, results {y.nbytes / 2**20:.0f} MiB")

    gy = np.ones_like(y)
    grads, peak = _peak(
        lambda: fastconv.conv2d_backward(gy, x, w, padding=1, layout=layout)
    )
    results = sum(a.nbytes for a in grads)
    inputs = x.nbytes + w.nbytes + gy.nbytes
    assert peak <= results + limit + 0.1 * (inputs + results + limit), peak / GIB
    print(f"backward: peak {peak / 2**20:.0f} MiB, results {results / 2**20:.0f} MiB")

    # spot-check the chunked result against single samples: the first chunk
    # and the last, shorter one
    for n in (0, N - 1):
        k = fastconv.conv2d(x[n : n + 1], w, padding=1, layout=layout)
        np.testing.assert_allclose(y[n : n + 1], k, rtol=1e-12, atol=1e-12)
    fastconv.release_workspace()
