"""fastconv.compat.cs231n against the assignment's checks and the oracle.

The assignment 2 notebook (ConvolutionalNetworks.ipynb) checks the layers
three ways, all reproduced here for both the naive and the fast functions:
hard-coded ``correct_out`` arrays, centred-difference gradient checks, and
fast-versus-naive agreement. Then the geometries where the assignment's own
fast layers fail, and the argument checks.
"""

import numpy as np
import pytest

from fastconv.compat import cs231n
from fastconv.compat.cs231n import (
    conv_backward_fast,
    conv_backward_naive,
    conv_forward_fast,
    conv_forward_naive,
    max_pool_backward_fast,
    max_pool_backward_naive,
    max_pool_forward_fast,
    max_pool_forward_naive,
)
from tests.helpers import DTYPES, assert_close, randn, rng

KINDS = ["naive", "fast"]


def layer(name, kind):
    return getattr(cs231n, f"{name}_{kind}")


def rel_error(x, y):
    """Return the notebook's error measure, max |x - y| / max(1e-8, |x| + |y|)."""
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def numerical_gradient(f, x, dout, h):
    """Centred differences of ``sum(f(x) * dout)`` with respect to every entry of x.

    Written for these tests (the package is not used): x is perturbed in
    place one entry at a time and restored.
    """
    grad = np.empty_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views of x and grad
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        up = np.sum(f(x) * dout)
        flat[i] = saved - h
        down = np.sum(f(x) * dout)
        flat[i] = saved
        gflat[i] = (up - down) / (2 * h)
    return grad


def assert_printed(actual, printed, decimals):
    """`actual` prints as `printed`, which has `decimals` digits after the point."""
    np.testing.assert_allclose(
        actual, printed, rtol=0, atol=0.5 * 10.0**-decimals + 1e-13
    )


# --------------------------------------------------------------------------
# The notebook's correct_out checks. Source: cs231n assignment 2,
# ConvolutionalNetworks.ipynb, cells "Convolution: Naive forward pass" and
# "Max-Pooling: Naive forward" (identical numbers in every year's version;
# the 2016 notebook wraps correct_out in one extra pair of brackets).

CONV_CORRECT_OUT = np.array(
    [
        [
            [[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
            [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
            [[0.50813986, 0.54309974], [0.64082444, 0.67101435]],
        ],
        [
            [[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
            [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
            [[2.36270298, 2.36904306], [2.38090835, 2.38247847]],
        ],
    ]
)

POOL_CORRECT_OUT = np.array(
    [
        [
            [[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
            [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
            [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]],
        ],
        [
            [[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
            [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
            [[0.32631579, 0.34105263], [0.38526316, 0.4]],
        ],
    ]
)


@pytest.mark.parametrize("kind", KINDS)
def test_conv_forward_reproduces_correct_out(kind):
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    out, cache = layer("conv_forward", kind)(x, w, b, {"stride": 2, "pad": 1})
    assert out.shape == (2, 3, 2, 2)
    assert_printed(out, CONV_CORRECT_OUT, 8)
    assert rel_error(out, CONV_CORRECT_OUT) < 1e-7  # "should be around e-8"
    assert cache[0] is x and cache[1] is w and cache[2] is b


@pytest.mark.parametrize("kind", KINDS)
def test_max_pool_forward_reproduces_correct_out(kind):
    x = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    pool_param = {"pool_width": 2, "pool_height": 2, "stride": 2}
    out, cache = layer("max_pool_forward", kind)(x, pool_param)
    assert_printed(out, POOL_CORRECT_OUT, 8)
    assert rel_error(out, POOL_CORRECT_OUT) < 1e-7
    assert cache[0] is x and cache[1] is pool_param


# --------------------------------------------------------------------------
# The notebook's numerical gradient checks (np.random.seed(231) in the
# 2017+ versions; RandomState(231) draws the same numbers).


@pytest.mark.parametrize("kind", KINDS)
def test_conv_backward_passes_the_gradient_check(kind):
    rs = np.random.RandomState(231)
    x = rs.randn(4, 3, 5, 5)
    w = rs.randn(2, 3, 3, 3)
    b = rs.randn(
        2,
    )
    dout = rs.randn(4, 2, 5, 5)
    conv_param = {"stride": 1, "pad": 1}
    forward = layer("conv_forward", kind)
    # conv is linear in each argument, so the centred difference has no
    # truncation error whatever the step; 1e-4 (the notebook uses 1e-5) keeps
    # the rounding error of f(x + h) - f(x - h) an order below the 1e-8 bound
    h = 1e-4
    dx_num = numerical_gradient(lambda x: forward(x, w, b, conv_param)[0], x, dout, h)
    dw_num = numerical_gradient(lambda w: forward(x, w, b, conv_param)[0], w, dout, h)
    db_num = numerical_gradient(lambda b: forward(x, w, b, conv_param)[0], b, dout, h)
    out, cache = forward(x, w, b, conv_param)
    dx, dw, db = layer("conv_backward", kind)(dout, cache)
    assert rel_error(dx, dx_num) < 1e-8
    assert rel_error(dw, dw_num) < 1e-8
    assert rel_error(db, db_num) < 1e-8


@pytest.mark.parametrize("kind", KINDS)
def test_max_pool_backward_passes_the_gradient_check(kind):
    rs = np.random.RandomState(231)
    x = rs.randn(3, 2, 8, 8)
    dout = rs.randn(3, 2, 4, 4)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    forward = layer("max_pool_forward", kind)
    dx_num = numerical_gradient(lambda x: forward(x, pool_param)[0], x, dout, 1e-5)
    out, cache = forward(x, pool_param)
    dx = layer("max_pool_backward", kind)(dout, cache)
    assert rel_error(dx, dx_num) < 1e-8  # "should be around 1e-12"


def test_fast_layers_agree_with_naive_on_the_notebook_sizes():
    # the notebook's "Fast layers" timing cells (np.random.seed(231))
    rs = np.random.RandomState(231)
    x = rs.randn(100, 3, 31, 31)
    w = rs.randn(25, 3, 3, 3)
    b = rs.randn(
        25,
    )
    dout = rs.randn(100, 25, 16, 16)
    conv_param = {"stride": 2, "pad": 1}
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    out_fast, cache_fast = conv_forward_fast(x, w, b, conv_param)
    assert rel_error(out_naive, out_fast) < 1e-9
    for g_naive, g_fast in zip(
        conv_backward_naive(dout, cache_naive), conv_backward_fast(dout, cache_fast)
    ):
        assert rel_error(g_naive, g_fast) < 1e-9
    x = rs.randn(100, 3, 32, 32)
    dout = rs.randn(100, 3, 16, 16)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = max_pool_forward_fast(x, pool_param)
    np.testing.assert_array_equal(out_fast, out_naive)  # a max is exact
    np.testing.assert_array_equal(
        max_pool_backward_fast(dout, cache_fast),
        max_pool_backward_naive(dout, cache_naive),
    )


# --------------------------------------------------------------------------
# where the assignment's fast layers fail (they assert that the stride
# divides H + 2*pad - HH, and their pool reshape needs square tiling pools)


# (id, x shape, w shape, stride, pad): why it is here
CONV_CASES = [
    ("non-square-filter", (2, 2, 6, 7), (3, 2, 2, 4), 1, 1),
    ("not-divisible", (2, 3, 8, 7), (2, 3, 3, 3), 2, 1),  # 'height does not work'
    ("not-divisible-both", (1, 2, 9, 10), (2, 2, 4, 3), 3, 0),
    ("pad-0", (2, 3, 5, 5), (2, 3, 3, 3), 1, 0),
    ("stride>kernel", (1, 2, 9, 9), (2, 2, 2, 2), 3, 0),
    ("pad=kernel-1", (2, 1, 5, 9), (2, 1, 3, 3), 2, 2),
    ("empty-batch", (0, 3, 5, 5), (2, 3, 3, 3), 1, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_fast_conv_works_where_the_assignment_fast_layer_fails(case, dtype):
    _, xs, ws, stride, pad = case
    g = rng(5)
    x, w, b = randn(g, xs, dtype), randn(g, ws, dtype), randn(g, (ws[0],), dtype)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = conv_forward_fast(x, w, b, conv_param)
    want, naive_cache = conv_forward_naive(x, w, b, conv_param)
    assert_close(out, want)
    dout = randn(g, out.shape, dtype)
    grads = zip(conv_backward_fast(dout, cache), conv_backward_naive(dout, cache))
    for got, exp in grads:
        assert_close(got, exp)


# (id, x shape, (pool_height, pool_width), stride): why it is here
POOL_CASES = [
    ("overlapping", (2, 2, 5, 5), (3, 3), 1),
    ("overlapping-stride-2", (2, 3, 7, 7), (3, 3), 2),
    ("not-tiling", (2, 2, 5, 7), (2, 2), 2),  # 'Invalid height'
    ("non-square-pool", (2, 2, 6, 7), (2, 3), 2),
    ("stride>pool", (1, 2, 7, 7), (2, 2), 3),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_fast_pool_works_where_the_assignment_fast_layer_fails(case, dtype):
    _, xs, (ph, pw), stride = case
    g = rng(6)
    x = randn(g, xs, dtype)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward_fast(x, pool_param)
    np.testing.assert_array_equal(out, max_pool_forward_naive(x, pool_param)[0])
    assert out.dtype == dtype
    dout = randn(g, out.shape, dtype)
    assert_close(
        max_pool_backward_fast(dout, cache), max_pool_backward_naive(dout, cache)
    )


def test_naive_and_fast_caches_are_interchangeable():
    g = rng(7)
    x, w, b = randn(g, (2, 3, 5, 5)), randn(g, (2, 3, 3, 3)), randn(g, (2,))
    out, naive_cache = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    _, fast_cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    for got, exp in zip(
        conv_backward_fast(out, naive_cache), conv_backward_naive(out, fast_cache)
    ):
        assert_close(got, exp)


# --------------------------------------------------------------------------
# argument checks: one test per error, each naming the argument and value

X = np.zeros((1, 2, 4, 4))
W = np.zeros((3, 2, 3, 3))
B = np.zeros(3)
CP = {"stride": 1, "pad": 1}
PP = {"pool_height": 2, "pool_width": 2, "stride": 2}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "conv_param, exc, match",
    [
        (
            {"stride": 1},
            ValueError,
            r"conv_param must have a 'pad' key, got keys \['stride'\]",
        ),
        ({"pad": 1}, ValueError, r"conv_param must have a 'stride' key"),
        (
            {"stride": 0, "pad": 1},
            ValueError,
            r"conv_param\['stride'\] must be >= 1, got 0",
        ),
        (
            {"stride": 1, "pad": -2},
            ValueError,
            r"conv_param\['pad'\] must be >= 0, got -2",
        ),
        (
            {"stride": 2.0, "pad": 1},
            TypeError,
            r"conv_param\['stride'\] must be an int, got 2.0",
        ),
        ((1, 1), TypeError, r"conv_param must be a dict, got tuple \(1, 1\)"),
    ],
)
def test_conv_forward_rejects_bad_conv_param(kind, conv_param, exc, match):
    with pytest.raises(exc, match=match):
        layer("conv_forward", kind)(X, W, B, conv_param)


@pytest.mark.parametrize("kind", KINDS)
def test_conv_forward_rejects_b_of_the_wrong_shape(kind):
    with pytest.raises(
        ValueError,
        match=r"b must have shape \(F,\) = \(3,\) to match "
        r"w \(3, 2, 3, 3\), got shape \(2,\)",
    ):
        layer("conv_forward", kind)(X, W, np.zeros(2), CP)


@pytest.mark.parametrize("kind", KINDS)
def test_conv_forward_rejects_a_channel_mismatch(kind):
    with pytest.raises(
        ValueError,
        match=r"w \(3, 1, 3, 3\) is \(F, C, HH, WW\) with "
        r"C=1, but x \(1, 2, 4, 4\) has C=2 channels",
    ):
        layer("conv_forward", kind)(X, np.zeros((3, 1, 3, 3)), B, CP)


@pytest.mark.parametrize("kind", KINDS)
def test_conv_forward_rejects_a_filter_larger_than_the_padded_input(kind):
    with pytest.raises(
        ValueError,
        match=r"the 7x3 filter does not fit the padded input: "
        r"H \+ 2\*pad = 6",
    ):
        layer("conv_forward", kind)(X, np.zeros((3, 2, 7, 3)), B, CP)


@pytest.mark.parametrize("kind", KINDS)
def test_conv_forward_rejects_x_of_the_wrong_rank(kind):
    with pytest.raises(
        ValueError,
        match=r"x must be 4-D \(N, C, H, W\), got shape "
        r"\(2, 4, 4\)",
    ):
        layer("conv_forward", kind)(X[0], W, B, CP)


@pytest.mark.parametrize("kind", KINDS)
def test_conv_backward_rejects_a_pool_cache_and_a_bad_dout(kind):
    with pytest.raises(
        ValueError,
        match=rf"cache must be the \(x, w, b, conv_param\) "
        rf"tuple returned by conv_forward_{kind}, "
        rf"got a 2-tuple",
    ):
        layer("conv_backward", kind)(np.zeros((1, 3, 4, 4)), (X, PP))
    _, cache = layer("conv_forward", kind)(X, W, B, CP)
    with pytest.raises(
        ValueError,
        match=r"dout must have the shape of out, "
        r"\(1, 3, 4, 4\), got shape \(1, 3, 2, 2\)",
    ):
        layer("conv_backward", kind)(np.zeros((1, 3, 2, 2)), cache)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "pool_param, exc, match",
    [
        (
            {"pool_height": 2, "stride": 2},
            ValueError,
            r"pool_param must have a 'pool_width' key, got keys "
            r"\['pool_height', 'stride'\]",
        ),
        (
            {"pool_height": 2, "pool_width": 0, "stride": 2},
            ValueError,
            r"pool_param\['pool_width'\] must be >= 1, got 0",
        ),
        (
            {"pool_height": 2, "pool_width": 2, "stride": None},
            TypeError,
            r"pool_param\['stride'\] must be an int, got None",
        ),
        (
            {"pool_height": 5, "pool_width": 2, "stride": 1},
            ValueError,
            r"the 5x2 pool does not fit x of shape \(1, 2, 4, 4\)",
        ),
    ],
)
def test_max_pool_forward_rejects_bad_pool_param(kind, pool_param, exc, match):
    with pytest.raises(exc, match=match):
        layer("max_pool_forward", kind)(X, pool_param)


@pytest.mark.parametrize("kind", KINDS)
def test_max_pool_backward_rejects_a_conv_cache_and_a_bad_dout(kind):
    with pytest.raises(
        ValueError,
        match=rf"cache must be the \(x, pool_param\) tuple "
        rf"returned by max_pool_forward_{kind}, "
        rf"got a 4-tuple",
    ):
        layer("max_pool_backward", kind)(np.zeros((1, 2, 2, 2)), (X, W, B, CP))
    _, cache = layer("max_pool_forward", kind)(X, PP)
    with pytest.raises(
        ValueError,
        match=r"dout must have the shape of out, "
        r"\(1, 2, 2, 2\), got shape \(1, 2, 3, 3\)",
    ):
        layer("max_pool_backward", kind)(np.zeros((1, 2, 3, 3)), cache)
