"""Tests of the oracle itself (fastconv.naive).

Three independent checks, so that the oracle is not trusted on its own word:

1. hand-worked examples whose expected numbers are written out literally;
2. centred-difference numerical gradients of every backward, and col2im as the
   adjoint of im2col;
3. torch.nn.functional with autograd, where PyTorch is installed.

Every check runs in both layouts: inputs are written in NCHW and converted.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastconv import naive
from tests.helpers import LAYOUTS, randn, rng, tol

NAN = np.nan
INF = np.inf

# Every function checked numerically is linear (conv in x and in the weight,
# avg pool, col2im) or locally linear (max pool away from ties), so a centred
# difference is exact up to rounding and a large step keeps rounding small.
GRAD_EPS = 1e-3
GRAD_TOL = dict(rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------------------
# Layout plumbing: tests are written in NCHW and run in both layouts
# ---------------------------------------------------------------------------


def x_to(x, layout):
    """(N, C, H, W) -> the layout's input shape."""
    return x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def x_from(a, layout):
    """Convert the layout's input/output shape to (N, C, H, W)."""
    return a if layout == "NCHW" else a.transpose(0, 3, 1, 2)


def w_to(w, layout):
    """(F, C/g, KH, KW) -> the layout's weight shape."""
    return w if layout == "NCHW" else np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def w_from(w, layout):
    """Convert the layout's weight shape to (F, C/g, KH, KW)."""
    return w if layout == "NCHW" else w.transpose(3, 2, 0, 1)


def conv(x, w, layout, bias=None, **kw):
    out = naive.conv2d(x_to(x, layout), w_to(w, layout), bias, layout=layout, **kw)
    return x_from(out, layout)


def conv_backward(go, x, w, layout, **kw):
    gx, gw, gb = naive.conv2d_backward(
        x_to(go, layout), x_to(x, layout), w_to(w, layout), layout=layout, **kw
    )
    return x_from(gx, layout), w_from(gw, layout), gb


def max_pool(x, layout, *args, return_indices=False, **kw):
    res = naive.max_pool2d(
        x_to(x, layout), *args, return_indices=return_indices, layout=layout, **kw
    )
    if return_indices:
        return x_from(res[0], layout), x_from(res[1], layout)
    return x_from(res, layout)


def max_pool_backward(go, x, layout, *args, **kw):
    return x_from(
        naive.max_pool2d_backward(
            x_to(go, layout), x_to(x, layout), *args, layout=layout, **kw
        ),
        layout,
    )


def avg_pool(x, layout, *args, **kw):
    return x_from(naive.avg_pool2d(x_to(x, layout), *args, layout=layout, **kw), layout)


def avg_pool_backward(go, x, layout, *args, **kw):
    return x_from(
        naive.avg_pool2d_backward(
            x_to(go, layout), x_to(x, layout), *args, layout=layout, **kw
        ),
        layout,
    )


def plane(rows):
    """Build a single (1, 1, H, W) float64 plane from nested lists."""
    return np.array(rows, dtype=np.float64)[None, None]


# The 3x3 plane and 2x2 kernel most hand examples use.
X33 = plane([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
W22 = plane([[1, 2], [3, 4]])


# ---------------------------------------------------------------------------
# 1. Hand-worked examples
# ---------------------------------------------------------------------------

CONV_HAND = [
    # out[oh, ow] = sum_ij x[oh*s + i*d - pad, ow*s + j*d - pad] * w[i, j]
    pytest.param(dict(), [[27, 37], [57, 67]], id="stride1"),
    pytest.param(dict(stride=2), [[27]], id="stride2-drops-partial-window"),
    pytest.param(dict(stride=(1, 2)), [[27], [57]], id="stride-pair"),
    pytest.param(dict(dilation=2), [[54]], id="dilation2"),  # 0*1 + 2*2 + 6*3 + 8*4
    pytest.param(
        dict(padding=1),
        [[0, 4, 11, 6], [12, 27, 37, 17], [30, 57, 67, 29], [12, 20, 23, 8]],
        id="padding1",
    ),
    pytest.param(dict(padding=1, stride=2), [[0, 11], [30, 67]], id="padding1-stride2"),
    pytest.param(
        dict(padding=(1, 0, 0, 0)), [[4, 11], [27, 37], [57, 67]], id="padding-top-only"
    ),
    pytest.param(
        dict(padding="same"),
        [[27, 37, 17], [57, 67, 29], [20, 23, 8]],
        id="same-extra-at-bottom-right",
    ),
    pytest.param(dict(padding="valid"), [[27, 37], [57, 67]], id="valid"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kw, expected", CONV_HAND)
def test_conv2d_hand(kw, expected, layout):
    np.testing.assert_array_equal(conv(X33, W22, layout, **kw), plane(expected))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv2d_bias_hand(layout):
    out = conv(X33, W22, layout, bias=np.array([0.5]))
    np.testing.assert_array_equal(out, plane([[27.5, 37.5], [57.5, 67.5]]))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv2d_groups_hand(layout):
    # C=4 channels of constant value 1, 2, 3, 4; groups=2 so output 0 sees
    # channels 0-1 and output 1 sees channels 2-3.
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1, 1)
    w = np.array([[1.0, 10.0], [100.0, 1000.0]]).reshape(2, 2, 1, 1)
    out = conv(x, w, layout, groups=2)
    np.testing.assert_array_equal(out.ravel(), [1 * 1 + 2 * 10, 3 * 100 + 4 * 1000])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv2d_groups_multiplier_hand(layout):
    # C=2, F=4, groups=2: filters 0, 1 belong to group 0 (channel 0),
    # filters 2, 3 to group 1 (channel 1).
    x = np.array([[[[1.0, 2.0]], [[10.0, 20.0]]]])  # (1, 2, 1, 2)
    w = np.array([1.0, 2.0, 3.0, 4.0]).reshape(4, 1, 1, 1)
    out = conv(x, w, layout, groups=2)
    np.testing.assert_array_equal(out[0, :, 0], [[1, 2], [2, 4], [30, 60], [40, 80]])


MAX_HAND = [
    # (x plane, args, kwargs, expected out, expected indices)
    # ties: the first maximum in row-major order wins (the two tied cells are
    # in one column, so the order survives the H/W swap of the "h" variant)
    pytest.param([[2, 3], [1, 3]], (2,), {}, [[3]], [[1]], id="tie-first-wins"),
    pytest.param(
        [[3, 3, 0]],
        ((1, 3), 1, (0, 1)),
        {},
        [[3, 3, 3]],
        [[0, 0, 1]],
        id="tie-first-wins-padded",
    ),
    pytest.param([[NAN, 1], [NAN, 0]], (2,), {}, [[NAN]], [[2]], id="nan-last-nan"),
    pytest.param([[1, NAN], [5, 2]], (2,), {}, [[NAN]], [[1]], id="nan-beats-later-max"),
    pytest.param(
        [[-1, -2, -3], [-4, -5, -6], [-7, -8, -9]],
        (2, 2, 1),
        {},
        [[-1, -2], [-4, -5]],
        [[0, 1], [3, 4]],
        id="padding-is-minus-inf",
    ),
    pytest.param(
        [[3, 8, 1], [0, 9, 0], [7, 0, 2]],
        (2,),
        dict(stride=1, dilation=2),
        [[7]],
        [[6]],
        id="dilation-skips-9-and-8",
    ),
    pytest.param(
        [[-INF, -INF, -INF]],
        ((1, 2), 1, (0, 1)),
        {},
        [[-INF, -INF, -INF, -INF]],
        [[0, 0, 1, 2]],
        id="all-minus-inf-first-in-bounds",
    ),
    pytest.param(
        [[3, 1, 4, 1]],
        ((1, 2), 1, "same"),
        {},
        [[3, 4, 4, 1]],
        [[0, 2, 2, 3]],
        id="same-pads-right",
    ),
    pytest.param([[1, 5, 2, 4, 3]], ((1, 2),), {}, [[5, 4]], [[1, 3]], id="floor"),
    pytest.param(
        [[1, 5, 2, 4, 3]],
        ((1, 2),),
        dict(ceil_mode=True),
        [[5, 4, 3]],
        [[1, 3, 4]],
        id="ceil-partial-window",
    ),
    # W=3, k=2, s=2, pad=1: ceil room admits a 3rd window at padded start 4, but
    # it starts in the right padding (4 >= W + left), so it is dropped.
    pytest.param(
        [[1, 5, 2]],
        ((1, 2), (1, 2), (0, 1)),
        dict(ceil_mode=True),
        [[1, 5]],
        [[0, 1]],
        id="ceil-drops-window-in-padding",
    ),
]


@pytest.mark.parametrize("axis", ["w", "h"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("rows, args, kw, expected, indices", MAX_HAND)
def test_max_pool2d_hand(rows, args, kw, expected, indices, layout, axis):
    x, out_e, idx_e = plane(rows), plane(expected), np.array(indices)[None, None]
    if axis == "h":  # the same example along the other axis: swap H and W everywhere
        x, out_e = x.transpose(0, 1, 3, 2), out_e.transpose(0, 1, 3, 2)
        W = x.shape[3]
        idx_e = (idx_e % x.shape[2]) * W + idx_e // x.shape[2]  # (w, h) -> h*W + w
        idx_e = idx_e.transpose(0, 1, 3, 2)
        args = tuple(_swap(a) for a in args)
        kw = {k: _swap(v) for k, v in kw.items()}
    out, idx = max_pool(x, layout, *args, return_indices=True, **kw)
    np.testing.assert_array_equal(out, out_e)
    np.testing.assert_array_equal(idx, idx_e)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(max_pool(x, layout, *args, **kw), out_e)


def _swap(v):
    """Swap the (h, w) roles of a pair or of a (top, bottom, left, right) padding."""
    if isinstance(v, tuple) and len(v) == 2:
        return (v[1], v[0])
    if isinstance(v, tuple) and len(v) == 4:
        return (v[2], v[3], v[0], v[1])
    return v


@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool2d_backward_hand(layout):
    # 2x2 windows with stride 1 over [[0, 1, 2], [3, 9, 5], [6, 7, 8]]: the 9
    # wins all four windows, so it collects all four gradients.
    x = plane([[0, 1, 2], [3, 9, 5], [6, 7, 8]])
    go = plane([[1, 2], [3, 4]])
    gx = max_pool_backward(go, x, layout, 2, 1)
    np.testing.assert_array_equal(gx, plane([[0, 0, 0], [0, 10, 0], [0, 0, 0]]))


X_AVG = X33 + 1  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]

AVG_HAND = [
    pytest.param((2, 1), {}, [[3, 4], [6, 7]], id="stride1"),
    # windows at -1 and 1 hold {1}, {2, 3}, {4, 7}, {5, 6, 8, 9}
    pytest.param((2, 2, 1), {}, [[0.25, 1.25], [2.75, 7]], id="pad-counted"),
    pytest.param(
        (2, 2, 1),
        dict(count_include_pad=False),
        [[1, 2.5], [5.5, 7]],
        id="pad-not-counted",
    ),
    pytest.param(
        (2, 2, 1),
        dict(divisor_override=2),
        [[0.5, 2.5], [5.5, 14]],
        id="divisor-override",
    ),
    pytest.param(
        (2, 2),
        dict(ceil_mode=True),
        [[3, 4.5], [7.5, 9]],
        id="ceil-window-past-edge-not-counted",
    ),
    pytest.param(
        (2, 2, (0, 1, 0, 1)),
        {},
        [[3, 2.25], [3.75, 2.25]],
        id="asymmetric-padding-bottom-right",
    ),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("args, kw, expected", AVG_HAND)
def test_avg_pool2d_hand(args, kw, expected, layout):
    np.testing.assert_array_equal(avg_pool(X_AVG, layout, *args, **kw), plane(expected))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "count_include_pad, expected",
    [
        # W=4, k=3, s=2, pad=1, ceil: windows [-1, 2), [1, 4), [3, 5) cut at W + pad = 5.
        # Included: sums 3, 9, 4 over sizes 3, 3, 2; excluded: over 2, 3, 1.
        (True, [[1, 3, 2]]),
        (False, [[1.5, 3, 4]]),
    ],
)
def test_avg_pool2d_ceil_with_padding_hand(count_include_pad, expected, layout):
    x = plane([[1, 2, 3, 4]])
    out = avg_pool(
        x,
        layout,
        (1, 3),
        (1, 2),
        (0, 1),
        ceil_mode=True,
        count_include_pad=count_include_pad,
    )
    np.testing.assert_array_equal(out, plane(expected))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_avg_pool2d_backward_hand(layout):
    # k=2, s=1, pad=1 over a 2x2 input, count_include_pad=False: corner windows
    # see 1 element, edge windows 2, the centre window 4.
    x = plane([[1, 2], [3, 4]])
    go = np.ones((1, 1, 3, 3))
    gx = avg_pool_backward(go, x, layout, 2, 1, 1, count_include_pad=False)
    # each element: 1 (corner) + 1/2 + 1/2 (edges) + 1/4 (centre)
    np.testing.assert_array_equal(gx, np.full((1, 1, 2, 2), 2.25))


X_COLS = np.arange(18).reshape(1, 2, 3, 3)  # NCHW: x[c, h, w] = 9c + 3h + w


def test_im2col_nchw_hand():
    cols = naive.im2col(X_COLS, 2)
    # rows (c, i, j); columns (oh, ow) = (0, 0), (0, 1), (1, 0), (1, 1)
    expected = [
        [0, 1, 3, 4],
        [1, 2, 4, 5],
        [3, 4, 6, 7],
        [4, 5, 7, 8],
        [9, 10, 12, 13],
        [10, 11, 13, 14],
        [12, 13, 15, 16],
        [13, 14, 16, 17],
    ]
    np.testing.assert_array_equal(cols, np.array([expected]))
    assert cols.dtype == X_COLS.dtype


def test_im2col_nhwc_hand():
    x = np.arange(18).reshape(1, 3, 3, 2)  # NHWC: x[h, w, c] = 2(3h + w) + c
    cols = naive.im2col(x, 2, layout="NHWC")
    # rows (oh, ow); columns (i, j, c)
    expected = [
        [0, 1, 2, 3, 6, 7, 8, 9],
        [2, 3, 4, 5, 8, 9, 10, 11],
        [6, 7, 8, 9, 12, 13, 14, 15],
        [8, 9, 10, 11, 14, 15, 16, 17],
    ]
    np.testing.assert_array_equal(cols, np.array([expected]))


X22 = np.array([[[[1, 2], [3, 4]]]])

IM2COL_HAND = [
    # (x, args, kwargs, expected NCHW cols for C=1; NHWC is its transpose)
    pytest.param(
        X22,
        (2,),
        dict(padding=1),
        [
            [0, 0, 0, 0, 1, 2, 0, 3, 4],
            [0, 0, 0, 1, 2, 0, 3, 4, 0],
            [0, 1, 2, 0, 3, 4, 0, 0, 0],
            [1, 2, 0, 3, 4, 0, 0, 0, 0],
        ],
        id="padding",
    ),
    pytest.param(
        X_COLS[:, :1], (2,), dict(dilation=2), [[0], [2], [6], [8]], id="dilation"
    ),
    pytest.param(X_COLS[:, :1], (1,), dict(stride=2), [[0, 2, 6, 8]], id="stride"),
    pytest.param(
        X22,
        (1,),
        dict(padding=(1, 0, 0, 2)),
        [[0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0]],
        id="padding-4-tuple",
    ),
    # W=6, k=3, s=2, "same": out 3, total pad 1, all on the right
    pytest.param(
        np.arange(6).reshape(1, 1, 1, 6),
        ((1, 3), (1, 2), "same"),
        {},
        [[0, 2, 4], [1, 3, 5], [2, 4, 0]],
        id="same-stride2",
    ),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x, args, kw, expected", IM2COL_HAND)
def test_im2col_hand(x, args, kw, expected, layout):
    expected = np.array([expected])
    if layout == "NHWC":  # with C = 1 the NHWC columns are the transposed NCHW ones
        expected = expected.transpose(0, 2, 1)
    cols = naive.im2col(x_to(x, layout), *args, layout=layout, **kw)
    np.testing.assert_array_equal(cols, expected)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_col2im_counts_windows_hand(layout):
    # col2im of all-ones columns counts how many windows cover each pixel.
    x_shape = (1, 1, 3, 3) if layout == "NCHW" else (1, 3, 3, 1)
    out = naive.col2im(np.ones((1, 4, 4)), x_shape, 2, layout=layout)
    counts = plane([[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_array_equal(x_from(out, layout), counts)
    # with padding 1 every pixel is covered by all 4 windows; padding entries are dropped
    x_shape = (1, 1, 2, 2) if layout == "NCHW" else (1, 2, 2, 1)
    cols = np.ones((1, 4, 9) if layout == "NCHW" else (1, 9, 4))
    out = naive.col2im(cols, x_shape, 2, padding=1, layout=layout)
    np.testing.assert_array_equal(x_from(out, layout), np.full((1, 1, 2, 2), 4.0))


# ---------------------------------------------------------------------------
# Geometry cross-checks: enumeration against closed formulas written here
# ---------------------------------------------------------------------------


def closed_out_size(size, pad, k, s, d, ceil_mode):
    """PyTorch's closed-form output size (symmetric padding)."""
    ke = (k - 1) * d + 1
    num = size + 2 * pad - ke + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= size + pad:
        out -= 1
    return out


GEOMETRY_GRID = [
    (size, pad, k, s, d)
    for size in range(1, 9)
    for k in (1, 2, 3)
    for s in (1, 2, 3)
    for d in (1, 2)
    for pad in range(0, k // 2 + 1)
    if size + 2 * pad >= (k - 1) * d + 1
]


def every_window_touches_input(size, pad, k, s, d, out):
    return all(any(0 <= o * s - pad + i * d < size for i in range(k)) for o in range(out))


def test_output_size_matches_closed_formula():
    for size, pad, k, s, d in GEOMETRY_GRID:
        x = np.zeros((0, 1, size, size + 1))
        cols = naive.im2col(x, k, s, pad, d)
        oh, ow = (closed_out_size(n, pad, k, s, d, False) for n in (size, size + 1))
        assert cols.shape == (0, k * k, oh * ow), (size, pad, k, s, d)
        oh, ow = (closed_out_size(n, pad, k, s, d, True) for n in (size, size + 1))
        if not every_window_touches_input(size, pad, k, s, d, oh):
            continue  # a max-pool window entirely in the padding is an error
        out = naive.max_pool2d(x, k, s, pad, d, ceil_mode=True)
        assert out.shape == (0, 1, oh, ow), (size, pad, k, s, d)


def tf_same(size, k, s, d):
    """TensorFlow's "same" padding (before, after), written independently."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def test_same_padding_matches_tensorflow_rule():
    x = np.arange(9 * 10, dtype=np.float64).reshape(1, 1, 9, 10)
    for H in range(1, 10):
        for k in (1, 2, 3, 4):
            for s in (1, 2, 3):
                for d in (1, 2):
                    xs = x[:, :, :H, : H + 1]
                    pads = tf_same(H, k, s, d) + tf_same(H + 1, k, s, d)
                    same = naive.im2col(xs, k, s, "same", d)
                    assert same.shape[2] == math.ceil(H / s) * math.ceil((H + 1) / s)
                    np.testing.assert_array_equal(same, naive.im2col(xs, k, s, pads, d))


# ---------------------------------------------------------------------------
# Contract: dtypes, empty batch, inputs untouched, errors
# ---------------------------------------------------------------------------


def all_calls(xl, wl, layout):
    """One call of every public function on x and weight given in `layout`, by name."""
    out = naive.conv2d(xl, wl, layout=layout, padding=1)
    pool = naive.max_pool2d(xl, 2, layout=layout)
    cols = naive.im2col(xl, 2, layout=layout)
    return {
        "conv2d": out,
        "conv2d_backward": naive.conv2d_backward(out, xl, wl, layout=layout, padding=1),
        "max_pool2d": pool,
        "max_pool2d_backward": naive.max_pool2d_backward(pool, xl, 2, layout=layout),
        "avg_pool2d": naive.avg_pool2d(xl, 2, 1, 1, layout=layout),
        "avg_pool2d_backward": naive.avg_pool2d_backward(
            naive.avg_pool2d(xl, 2, 1, 1, layout=layout), xl, 2, 1, 1, layout=layout
        ),
        "im2col": cols,
        "col2im": naive.col2im(cols, xl.shape, 2, layout=layout),
        **_more_calls(xl, wl, layout),
    }


def _more_calls(xl, wl, layout):
    """The adaptive, transposed and 1-D functions, on x and weight cut to fit."""
    nchw = layout == "NCHW"
    l1 = "NCL" if nchw else "NLC"
    x1 = xl[:, :, 0, :] if nchw else xl[:, 0, :, :]  # (N, C, L) / (N, L, C)
    w1 = wl[:, :, 0, :] if nchw else wl[0]
    wt = np.swapaxes(wl, 0, 1) if nchw else np.swapaxes(wl, 2, 3)  # transposed
    wt1 = wt[:, :, 0, :] if nchw else wt[0]
    ad, (am, ai) = (
        naive.adaptive_avg_pool2d(xl, 3, layout=layout),
        naive.adaptive_max_pool2d(xl, 3, True, layout=layout),
    )
    ct = naive.conv_transpose2d(xl, wt, stride=2, layout=layout)
    c1 = naive.conv1d(x1, w1, padding=1, layout=l1)
    p1 = naive.max_pool1d(x1, 2, layout=l1)
    a1 = naive.avg_pool1d(x1, 2, layout=l1)
    aa1 = naive.adaptive_avg_pool1d(x1, 3, layout=l1)
    am1 = naive.adaptive_max_pool1d(x1, 3, layout=l1)
    ct1 = naive.conv_transpose1d(x1, wt1, stride=2, layout=l1)
    l3 = "NCDHW" if nchw else "NDHWC"  # 3-D: a depth of one
    x3 = xl[:, :, None] if nchw else xl[:, None]
    w3 = wl[:, :, None] if nchw else wl[None]
    c3 = naive.conv3d(x3, w3, padding=(0, 1, 1), layout=l3)
    p3 = naive.max_pool3d(x3, (1, 2, 2), layout=l3)
    a3 = naive.avg_pool3d(x3, (1, 2, 2), layout=l3)
    aa3 = naive.adaptive_avg_pool3d(x3, (1, 3, 2), layout=l3)
    am3, ai3 = naive.adaptive_max_pool3d(x3, (1, 3, 2), True, layout=l3)
    wt3 = wt[:, :, None] if nchw else wt[None]
    ct3 = naive.conv_transpose3d(x3, wt3, stride=(1, 2, 2), layout=l3)
    return {
        "conv_transpose3d": ct3,
        "conv_transpose3d_backward": naive.conv_transpose3d_backward(
            ct3, x3, wt3, stride=(1, 2, 2), layout=l3
        ),
        "adaptive_avg_pool3d": aa3,
        "adaptive_avg_pool3d_backward": naive.adaptive_avg_pool3d_backward(
            aa3, x3, layout=l3
        ),
        "adaptive_max_pool3d": am3,
        "adaptive_max_pool3d_backward": naive.adaptive_max_pool3d_backward(
            am3, x3, layout=l3, indices=ai3
        ),
        "max_pool3d": p3,
        "max_pool3d_backward": naive.max_pool3d_backward(p3, x3, (1, 2, 2), layout=l3),
        "avg_pool3d": a3,
        "avg_pool3d_backward": naive.avg_pool3d_backward(a3, x3, (1, 2, 2), layout=l3),
        "conv3d": c3,
        "conv3d_backward": naive.conv3d_backward(
            c3, x3, w3, padding=(0, 1, 1), layout=l3
        ),
        "adaptive_avg_pool2d": ad,
        "adaptive_avg_pool2d_backward": naive.adaptive_avg_pool2d_backward(
            ad, xl, layout=layout
        ),
        "adaptive_max_pool2d": am,
        "adaptive_max_pool2d_backward": naive.adaptive_max_pool2d_backward(
            am, xl, layout=layout, indices=ai
        ),
        "conv_transpose2d": ct,
        "conv_transpose2d_backward": naive.conv_transpose2d_backward(
            ct, xl, wt, stride=2, layout=layout
        ),
        "conv1d": c1,
        "conv1d_backward": naive.conv1d_backward(c1, x1, w1, padding=1, layout=l1),
        "max_pool1d": p1,
        "max_pool1d_backward": naive.max_pool1d_backward(p1, x1, 2, layout=l1),
        "avg_pool1d": a1,
        "avg_pool1d_backward": naive.avg_pool1d_backward(a1, x1, 2, layout=l1),
        "adaptive_avg_pool1d": aa1,
        "adaptive_avg_pool1d_backward": naive.adaptive_avg_pool1d_backward(
            aa1, x1, layout=l1
        ),
        "adaptive_max_pool1d": am1,
        "adaptive_max_pool1d_backward": naive.adaptive_max_pool1d_backward(
            am1, x1, layout=l1
        ),
        "conv_transpose1d": ct1,
        "conv_transpose1d_backward": naive.conv_transpose1d_backward(
            ct1, x1, wt1, stride=2, layout=l1
        ),
    }


def test_all_public_functions_covered():
    calls = all_calls(np.zeros((1, 2, 4, 4)), np.zeros((3, 2, 2, 2)), "NCHW")
    assert sorted(calls) == sorted(naive.__all__)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(dtype, layout):
    gen = rng(1)
    x, w = randn(gen, (2, 2, 4, 5), dtype), randn(gen, (3, 2, 2, 2), dtype)
    calls = all_calls(x_to(x, layout), w_to(w, layout), layout)
    for name, res in calls.items():
        for a in res if isinstance(res, tuple) else (res,):
            assert a.dtype == dtype, name


def test_integer_input():
    x = np.arange(16).reshape(1, 1, 4, 4)
    assert naive.im2col(x, 2).dtype == x.dtype  # a pure copy keeps the dtype
    out = naive.avg_pool2d(x, 2)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, plane([[2.5, 4.5], [10.5, 12.5]]))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_empty_batch(layout):
    x, w = np.zeros((0, 2, 5, 4)), np.zeros((3, 2, 2, 2))
    calls = all_calls(x_to(x, layout), w_to(w, layout), layout)
    expected = {
        "conv2d": (0, 3, 6, 5),
        "max_pool2d": (0, 2, 2, 2),
        "max_pool2d_backward": (0, 2, 5, 4),
        "avg_pool2d": (0, 2, 6, 5),
        "avg_pool2d_backward": (0, 2, 5, 4),
        "col2im": (0, 2, 5, 4),
    }
    for name, shape in expected.items():
        assert x_from(calls[name], layout).shape == shape, name
    gx, gw, gb = calls["conv2d_backward"]
    assert x_from(gx, layout).shape == (0, 2, 5, 4)
    np.testing.assert_array_equal(w_from(gw, layout), np.zeros((3, 2, 2, 2)))
    np.testing.assert_array_equal(gb, np.zeros(3))
    cols_shape = (0, 8, 12) if layout == "NCHW" else (0, 12, 8)
    assert calls["im2col"].shape == cols_shape


@pytest.mark.parametrize("layout", LAYOUTS)
def test_inputs_not_modified(layout):
    gen = rng(2)
    x, w = randn(gen, (2, 2, 4, 5)), randn(gen, (3, 2, 2, 2))
    xl, wl = x_to(x, layout), w_to(w, layout)
    x_copy, w_copy = xl.copy(), wl.copy()
    xl.setflags(write=False)  # an in-place write would raise
    wl.setflags(write=False)
    all_calls(xl, wl, layout)
    np.testing.assert_array_equal(xl, x_copy)
    np.testing.assert_array_equal(wl, w_copy)


X_ERR = np.zeros((1, 2, 4, 4))
W_ERR = np.zeros((2, 2, 2, 2))


def conv_err(**kw):
    """conv2d on the valid X_ERR, W_ERR with one argument changed."""
    args = {"x": X_ERR, "weight": W_ERR, **kw}
    return lambda: naive.conv2d(**args)


ERRORS = [
    (conv_err(layout="NCWH"), "layout must be one of"),
    (conv_err(x=X_ERR[0]), r"x must be 4-D, got shape \(2, 4, 4\)"),
    (conv_err(stride=(0, 2)), r"stride must be >= 1, got \(0, 2\)"),
    (conv_err(dilation=0), r"dilation must be >= 1, got \(0, 0\)"),
    (conv_err(padding=-1), "padding must be >= 0"),
    (conv_err(padding="full"), "padding must be 'same', 'valid'"),
    (conv_err(padding=(1, 2, 3)), "padding must have 1, 2 or 4 entries"),
    (conv_err(weight=W_ERR[:, :1], groups=3), "groups=3 must divide C=2 and F=2"),
    (conv_err(weight=W_ERR[:, :1]), "weight has 1 input channels, expected"),
    (conv_err(bias=np.zeros(3)), r"bias must have shape \(2,\)"),
    (conv_err(weight=np.zeros((2, 2, 5, 2))), "no window fits along H"),
    (conv_err(dilation=(1, 4)), "no window fits along W"),
    (
        lambda: naive.conv2d_backward(np.zeros((1, 2, 3, 4)), X_ERR, W_ERR),
        r"grad_out must have shape \(1, 2, 3, 3\), got \(1, 2, 3, 4\)",
    ),
    (
        lambda: naive.max_pool2d(X_ERR, 2, padding=(0, 0, 0, 2)),
        "window 2 along W lies entirely in the padding",
    ),
    (
        lambda: naive.max_pool2d_backward(np.zeros((1, 2, 2, 3)), X_ERR, 2),
        r"grad_out must have shape \(1, 2, 2, 2\)",
    ),
    (
        lambda: naive.avg_pool2d(X_ERR, 2, padding=(2, 0, 0, 0), count_include_pad=False),
        r"window \(0, 0\) lies entirely in the padding",
    ),
    (
        lambda: naive.avg_pool2d(X_ERR, 2, divisor_override=0),
        "divisor_override must be non-zero",
    ),
    (
        lambda: naive.col2im(np.zeros((1, 8, 8)), (1, 2, 4, 4), 2),
        r"cols must have shape \(1, 8, 9\)",
    ),
]


@pytest.mark.parametrize("call, match", ERRORS)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_avg_pool2d_window_in_padding_counted_is_zero():
    # The same all-padding windows that raise without count_include_pad are
    # plain zeros with it: pool_size 1, sum 0.
    out = naive.avg_pool2d(plane([[5]]), 1, 1, (0, 0, 1, 1))
    np.testing.assert_array_equal(out, plane([[0, 5, 0]]))


# ---------------------------------------------------------------------------
# 2. Numerical gradients and adjointness (float64)
# ---------------------------------------------------------------------------


def numerical_grad(f, a, eps=GRAD_EPS):
    """Centred-difference gradient of the scalar function f at a, element by element."""
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        step = np.zeros_like(a)
        step[idx] = eps
        grad[idx] = (f(a + step) - f(a - step)) / (2 * eps)
    return grad


CONV_GRAD_CASES = [
    # (x shape, weight shape, kwargs)
    pytest.param((2, 2, 5, 4), (3, 2, 2, 3), dict(), id="plain"),
    pytest.param(
        (1, 4, 6, 5),
        (4, 2, 3, 2),
        dict(stride=(2, 1), padding=(1, 2), groups=2),
        id="stride-padding-groups",
    ),
    pytest.param(
        (2, 2, 5, 6),
        (2, 1, 2, 2),
        dict(dilation=(2, 1), padding=(0, 1, 2, 0), groups=2),
        id="dilation-asym-padding-depthwise",
    ),
    pytest.param(
        (1, 2, 5, 5), (2, 2, 3, 3), dict(stride=2, padding="same"), id="same-stride2"
    ),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x_shape, w_shape, kw", CONV_GRAD_CASES)
def test_conv2d_backward_numerical(x_shape, w_shape, kw, layout):
    gen = rng(10)
    x, w, b = randn(gen, x_shape), randn(gen, w_shape), randn(gen, (w_shape[0],))
    go = randn(gen, conv(x, w, layout, **kw).shape)
    gx, gw, gb = conv_backward(go, x, w, layout, **kw)

    def loss(x, w, b):
        return np.sum(conv(x, w, layout, bias=b, **kw) * go)

    np.testing.assert_allclose(gx, numerical_grad(lambda a: loss(a, w, b), x), **GRAD_TOL)
    np.testing.assert_allclose(gw, numerical_grad(lambda a: loss(x, a, b), w), **GRAD_TOL)
    np.testing.assert_allclose(gb, numerical_grad(lambda a: loss(x, w, a), b), **GRAD_TOL)


POOL_GRAD_CASES = [
    # (x shape, positional args, kwargs shared by max and avg pool)
    pytest.param((2, 2, 5, 4), (2,), {}, id="plain"),
    pytest.param((1, 2, 6, 5), (3, 1, 1), {}, id="overlapping-padded"),
    pytest.param((1, 2, 6, 7), ((3, 2), (2, 3), (1, 1)), dict(ceil_mode=True), id="ceil"),
    pytest.param((2, 1, 5, 5), (2, 2, (0, 1, 1, 0)), {}, id="asymmetric-padding"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x_shape, args, kw", POOL_GRAD_CASES)
def test_max_pool2d_backward_numerical(x_shape, args, kw, layout):
    gen = rng(11)
    # distinct values 0.5 apart: no window has a near-tie within GRAD_EPS
    x = gen.permutation(np.prod(x_shape)).reshape(x_shape) * 0.5
    for dilation in (1, 2):
        go = randn(gen, max_pool(x, layout, *args, dilation=dilation, **kw).shape)
        gx = max_pool_backward(go, x, layout, *args, dilation=dilation, **kw)
        f = lambda a: np.sum(max_pool(a, layout, *args, dilation=dilation, **kw) * go)  # noqa: E731
        np.testing.assert_allclose(gx, numerical_grad(f, x), **GRAD_TOL)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "avg_kw",
    [
        dict(),
        dict(count_include_pad=False),
        dict(divisor_override=3),
    ],
)
@pytest.mark.parametrize("x_shape, args, kw", POOL_GRAD_CASES)
def test_avg_pool2d_backward_numerical(x_shape, args, kw, avg_kw, layout):
    gen = rng(12)
    x = randn(gen, x_shape)
    kw = {**kw, **avg_kw}
    go = randn(gen, avg_pool(x, layout, *args, **kw).shape)
    gx = avg_pool_backward(go, x, layout, *args, **kw)
    f = lambda a: np.sum(avg_pool(a, layout, *args, **kw) * go)  # noqa: E731
    np.testing.assert_allclose(gx, numerical_grad(f, x), **GRAD_TOL)


IM2COL_CASES = [
    # (x shape NCHW, kernel_size, kwargs)
    pytest.param((2, 3, 5, 4), 2, dict(), id="plain"),
    pytest.param(
        (1, 2, 7, 6), (3, 2), dict(stride=(2, 3), padding=(1, 0)), id="stride-padding"
    ),
    pytest.param(
        (2, 1, 6, 6),
        3,
        dict(dilation=(2, 1), padding=(2, 0, 1, 3)),
        id="dilation-asym-padding",
    ),
    pytest.param((1, 2, 5, 6), (2, 3), dict(stride=2, padding="same"), id="same-stride2"),
    pytest.param((1, 2, 4, 4), 4, dict(stride=5, padding=2), id="stride-over-kernel"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x_shape, k, kw", IM2COL_CASES)
def test_col2im_is_adjoint_of_im2col(x_shape, k, kw, layout):
    gen = rng(13)
    x = x_to(randn(gen, x_shape), layout)
    cols = naive.im2col(x, k, layout=layout, **kw)
    c = randn(gen, cols.shape)
    back = naive.col2im(c, x.shape, k, layout=layout, **kw)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(cols, c), np.vdot(x, back), **tol(np.float64))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x_shape, k, kw", IM2COL_CASES)
def test_conv2d_equals_im2col_matmul(x_shape, k, kw, layout):
    # A third route to the convolution: weights times unfolded columns.
    gen = rng(14)
    x = randn(gen, x_shape)
    KH, KW = (k, k) if isinstance(k, int) else k
    w = randn(gen, (3, x_shape[1], KH, KW))
    cols = naive.im2col(x, k, **kw)  # (N, C*KH*KW, OH*OW)
    out = conv(x, w, layout, **kw)  # (N, F, OH, OW)
    expected = np.einsum("fk,nkl->nfl", w.reshape(3, -1), cols)  # (N, F, OH*OW)
    np.testing.assert_allclose(out.reshape(expected.shape), expected, **tol(np.float64))


# ---------------------------------------------------------------------------
# 3. PyTorch (float64, autograd)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch not installed")


def tensor(torch, a, grad=False):
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=grad)


def explicit_padding(padding, x_shape, k, s, d):
    """Any padding form as (top, bottom, left, right), for torch's F.pad."""
    (KH, KW), (sh, sw), (dh, dw) = (_as_pair(v) for v in (k, s, d))
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        return tf_same(x_shape[2], KH, sh, dh) + tf_same(x_shape[3], KW, sw, dw)
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[0], padding[1], padding[1])
    return tuple(padding)


def _as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


TORCH_CONV_CASES = [
    # (x shape, weight shape, kwargs): the case table of the style guide
    pytest.param((2, 3, 7, 6), (4, 3, 3, 3), dict(), id="plain"),
    pytest.param((2, 3, 5, 5), (2, 3, 1, 1), dict(), id="1x1"),
    pytest.param((2, 2, 9, 8), (3, 2, 2, 2), dict(stride=3), id="stride-over-kernel"),
    pytest.param(
        (1, 2, 5, 6), (2, 2, 3, 2), dict(padding=(2, 1)), id="padding-kernel-minus-1"
    ),
    pytest.param(
        (2, 3, 8, 7),
        (2, 3, 3, 2),
        dict(stride=(2, 3), padding=(1, 0), dilation=(2, 1)),
        id="non-square-not-divisible",
    ),
    pytest.param((2, 4, 6, 6), (6, 2, 3, 3), dict(padding=1, groups=2), id="groups2"),
    pytest.param(
        (1, 3, 6, 5), (3, 1, 3, 3), dict(stride=2, padding=1, groups=3), id="depthwise"
    ),
    pytest.param(
        (1, 3, 5, 5), (6, 1, 2, 2), dict(padding=1, groups=3), id="depthwise-x2"
    ),
    pytest.param(
        (1, 2, 6, 7), (3, 2, 4, 3), dict(padding="same", dilation=(1, 2)), id="same"
    ),
    pytest.param(
        (1, 2, 7, 6), (3, 2, 3, 2), dict(padding="same", stride=(2, 3)), id="same-stride"
    ),
    pytest.param((1, 2, 5, 6), (3, 2, 3, 3), dict(padding="valid"), id="valid"),
    pytest.param(
        (2, 2, 5, 4), (3, 2, 2, 3), dict(padding=(1, 2, 0, 3)), id="padding-4-tuple"
    ),
    pytest.param((0, 2, 5, 4), (3, 2, 2, 2), dict(padding=1), id="empty-batch"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x_shape, w_shape, kw", TORCH_CONV_CASES)
def test_conv2d_matches_torch(torch, x_shape, w_shape, kw, layout):
    F = torch.nn.functional
    gen = rng(20)
    x, w, b = randn(gen, x_shape), randn(gen, w_shape), randn(gen, (w_shape[0],))
    stride, dilation = kw.get("stride", 1), kw.get("dilation", 1)
    pads = explicit_padding(kw.get("padding", 0), x_shape, w_shape[2:], stride, dilation)
    tx, tw, tb = tensor(torch, x, True), tensor(torch, w, True), tensor(torch, b, True)
    xpad = F.pad(tx, (pads[2], pads[3], pads[0], pads[1]))
    t_out = F.conv2d(
        xpad, tw, tb, stride=stride, dilation=dilation, groups=kw.get("groups", 1)
    )
    out = conv(x, w, layout, bias=b, **kw)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **tol(np.float64))

    go = randn(gen, out.shape)
    t_out.backward(tensor(torch, go))
    gx, gw, gb = conv_backward(go, x, w, layout, **kw)
    np.testing.assert_allclose(gx, tx.grad.numpy(), **tol(np.float64))
    np.testing.assert_allclose(gw, tw.grad.numpy(), **tol(np.float64))
    np.testing.assert_allclose(gb, tb.grad.numpy(), **tol(np.float64))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("k, d", [((3, 3), 1), ((4, 2), (1, 3)), ((2, 5), 2)])
def test_conv2d_same_matches_torch_native_same(torch, k, d):
    # torch's own padding="same" (stride 1 only) puts the odd pixel bottom/right too.
    gen = rng(21)
    x, w = randn(gen, (1, 2, 6, 7)), randn(gen, (3, 2) + k)
    t_out = torch.nn.functional.conv2d(
        tensor(torch, x), tensor(torch, w), padding="same", dilation=d
    )
    out = naive.conv2d(x, w, padding="same", dilation=d)
    np.testing.assert_allclose(out, t_out.numpy(), **tol(np.float64))


TORCH_POOL_CASES = [
    # (x shape, kernel_size, stride, padding, dilation, ceil_mode); torch needs pad <= k/2
    pytest.param((2, 3, 7, 6), 2, None, 0, 1, False, id="default-stride"),
    pytest.param((2, 3, 7, 6), 3, 2, 1, 1, False, id="overlapping-padded"),
    pytest.param((1, 2, 7, 6), 3, 2, 1, 1, True, id="ceil"),
    pytest.param((1, 2, 3, 5), 2, 2, 1, 1, True, id="ceil-drop-rule"),
    pytest.param((1, 2, 4, 8), (3, 2), (2, 3), (1, 1), 1, True, id="ceil-non-square"),
    pytest.param((1, 1, 5, 5), 3, 1, 1, 1, False, id="stride1-heavy-overlap"),
    pytest.param((2, 2, 5, 7), (2, 3), (3, 4), (1, 0), 1, True, id="stride-over-kernel"),
    pytest.param((2, 2, 9, 8), (3, 2), (2, 1), (1, 1), (2, 1), True, id="dilation"),
    pytest.param((0, 2, 5, 4), 2, 1, 1, 1, False, id="empty-batch"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x_shape, k, s, p, d, ceil_mode", TORCH_POOL_CASES)
def test_max_pool2d_matches_torch(torch, x_shape, k, s, p, d, ceil_mode, layout):
    gen = rng(22)
    x = randn(gen, x_shape)
    tx = tensor(torch, x, True)
    t_out, t_idx = torch.nn.functional.max_pool2d(
        tx, k, s, p, d, ceil_mode, return_indices=True
    )
    out, idx = max_pool(x, layout, k, s, p, d, ceil_mode, return_indices=True)
    np.testing.assert_array_equal(out, t_out.detach().numpy())
    np.testing.assert_array_equal(idx, t_idx.numpy())

    go = randn(gen, out.shape)
    t_out.backward(tensor(torch, go))
    gx = max_pool_backward(go, x, layout, k, s, p, d, ceil_mode)
    np.testing.assert_allclose(gx, tx.grad.numpy(), **tol(np.float64))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("seed", range(3))
def test_max_pool2d_ties_and_nans_match_torch(torch, seed, layout):
    # Values from {0, 1, 2}, some NaN and -inf: many ties and NaN windows.
    # NHWC is compared with torch's channels_last kernel, a separate code path.
    gen = rng(30 + seed)
    x = gen.integers(0, 3, (2, 3, 7, 6)).astype(np.float64)
    x[gen.random(x.shape) < 0.1] = np.nan
    x[gen.random(x.shape) < 0.1] = -np.inf
    tx = tensor(torch, x)
    if layout == "NHWC":
        tx = tx.contiguous(memory_format=torch.channels_last)
    for args in [(2,), (3, 1, 1), (3, 2, 1, 2, True)]:
        t_out, t_idx = torch.nn.functional.max_pool2d(tx, *args, return_indices=True)
        out, idx = max_pool(x, layout, *args, return_indices=True)
        np.testing.assert_array_equal(out, t_out.numpy())
        np.testing.assert_array_equal(idx, t_idx.numpy())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "avg_kw",
    [
        dict(),
        dict(count_include_pad=False),
        dict(divisor_override=3),
        dict(count_include_pad=False, divisor_override=2),
    ],
)
@pytest.mark.parametrize(
    "x_shape, k, s, p, d, ceil_mode", [c for c in TORCH_POOL_CASES if c.values[4] == 1]
)
def test_avg_pool2d_matches_torch(torch, x_shape, k, s, p, d, ceil_mode, avg_kw, layout):
    gen = rng(23)
    x = randn(gen, x_shape)
    tx = tensor(torch, x, True)
    t_out = torch.nn.functional.avg_pool2d(tx, k, s, p, ceil_mode, **avg_kw)
    out = avg_pool(x, layout, k, s, p, ceil_mode, **avg_kw)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **tol(np.float64))

    go = randn(gen, out.shape)
    t_out.backward(tensor(torch, go))
    gx = avg_pool_backward(go, x, layout, k, s, p, ceil_mode, **avg_kw)
    np.testing.assert_allclose(gx, tx.grad.numpy(), **tol(np.float64))


TORCH_UNFOLD_CASES = [
    # (x shape, kernel_size, stride, padding, dilation)
    pytest.param((2, 3, 5, 4), 2, 1, 0, 1, id="plain"),
    pytest.param((1, 2, 7, 6), (3, 2), (2, 3), (1, 0), 1, id="stride-padding"),
    pytest.param((2, 2, 6, 7), 3, 1, (2, 1), (2, 3), id="dilation"),
    pytest.param((1, 1, 4, 4), 4, 5, 2, 1, id="stride-over-kernel"),
    pytest.param((2, 3, 4, 4), 1, 1, 0, 1, id="1x1"),
    pytest.param((0, 2, 5, 4), 2, 1, 1, 1, id="empty-batch"),
]


@pytest.mark.parametrize("x_shape, k, s, p, d", TORCH_UNFOLD_CASES)
def test_im2col_matches_torch_unfold(torch, x_shape, k, s, p, d):
    x = np.arange(np.prod(x_shape), dtype=np.float64).reshape(x_shape) + 1
    t_cols = torch.nn.functional.unfold(tensor(torch, x), k, d, p, s).numpy()
    np.testing.assert_array_equal(naive.im2col(x, k, s, p, d), t_cols)
    # NHWC columns are the NCHW ones with the (c) and (i, j) axes swapped
    N, C = x_shape[:2]
    KH, KW = _as_pair(k)
    t_nhwc = t_cols.reshape(N, C, KH * KW, t_cols.shape[2])  # (N, C, KH*KW, L)
    t_nhwc = t_nhwc.transpose(0, 3, 2, 1)  # (N, L, KH*KW, C)
    t_nhwc = t_nhwc.reshape(N, t_cols.shape[2], KH * KW * C)  # (N, L, KH*KW*C)
    cols = naive.im2col(x_to(x, "NHWC"), k, s, p, d, layout="NHWC")
    np.testing.assert_array_equal(cols, t_nhwc)


@pytest.mark.parametrize("x_shape, k, s, p, d", TORCH_UNFOLD_CASES)
def test_col2im_matches_torch_fold(torch, x_shape, k, s, p, d):
    gen = rng(24)
    L_shape = naive.im2col(np.zeros(x_shape), k, s, p, d).shape
    cols = randn(gen, L_shape)
    t_x = torch.nn.functional.fold(tensor(torch, cols), x_shape[2:], k, d, p, s).numpy()
    x = naive.col2im(cols, x_shape, k, s, p, d)
    np.testing.assert_allclose(x, t_x, **tol(np.float64))


@settings(max_examples=30)  # deadline and derandomizing come from the profile
@given(
    n=st.integers(1, 2),
    cg=st.integers(1, 3),
    fg=st.integers(1, 3),
    groups=st.integers(1, 2),
    h=st.integers(1, 8),
    w=st.integers(1, 8),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    dh=st.integers(1, 2),
    dw=st.integers(1, 2),
    ph=st.integers(0, 2),
    pw=st.integers(0, 2),
    layout=st.sampled_from(LAYOUTS),
)
def test_conv2d_matches_torch_random_geometry(
    torch, n, cg, fg, groups, h, w, kh, kw, sh, sw, dh, dw, ph, pw, layout
):
    if h + 2 * ph < (kh - 1) * dh + 1 or w + 2 * pw < (kw - 1) * dw + 1:
        return  # no window fits: torch raises too
    gen = rng(25)
    x = randn(gen, (n, cg * groups, h, w))
    wt = randn(gen, (fg * groups, cg, kh, kw))
    kwargs = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)
    t_out = torch.nn.functional.conv2d(tensor(torch, x), tensor(torch, wt), **kwargs)
    out = conv(x, wt, layout, **kwargs)
    np.testing.assert_allclose(out, t_out.numpy(), **tol(np.float64))
