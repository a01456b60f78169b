"""One test per error path: the exception type and the argument named.

Every call below is valid except for the one argument under test, so a test
cannot pass because some other check fired first; the message is matched on
the argument's name and the offending value.
"""

import re

import numpy as np
import pytest

import fastconv

X = np.zeros((2, 4, 6, 6))  # NCHW
W = np.zeros((3, 4, 3, 3))  # (F, C, KH, KW)
XH = np.zeros((2, 6, 6, 4))  # NHWC
WH = np.zeros((3, 3, 4, 3))  # (KH, KW, C, F)


def raises(exc, pattern):
    return pytest.raises(exc, match=re.escape(pattern))


def test_valid_baseline_calls_do_not_raise():
    # the fixtures above are valid: each test below changes exactly one thing
    fastconv.conv2d(X, W, np.zeros(3), padding=1)
    fastconv.conv2d(XH, WH, padding=1, layout="NHWC")
    fastconv.conv2d_backward(np.zeros((2, 3, 4, 4)), X, W)
    fastconv.max_pool2d(X, 2)
    fastconv.avg_pool2d_backward(np.zeros((2, 4, 3, 3)), X, 2)
    fastconv.col2im(np.zeros((2, 36, 16)), (2, 4, 6, 6), 3)


# ---- conv2d / conv2d_backward


def test_x_wrong_ndim():
    with raises(ValueError, "x must be 4-D, got an array of shape (4, 6, 6)"):
        fastconv.conv2d(X[0], W)


def test_weight_wrong_ndim():
    with raises(ValueError, "weight must be 4-D, got an array of shape (3, 4, 3)"):
        fastconv.conv2d(X, W[..., 0])


def test_channel_mismatch():
    with raises(
        ValueError, "expects C/groups=5 channels per group, but x (2, 4, 6, 6) has C=4"
    ):
        fastconv.conv2d(X, np.zeros((3, 5, 3, 3)))


def test_channel_mismatch_nhwc():
    with raises(
        ValueError, "expects C/groups=2 channels per group, but x (2, 6, 6, 4) has C=4"
    ):
        fastconv.conv2d(XH, np.zeros((3, 3, 2, 3)), layout="NHWC")


def test_groups_must_divide_input_channels():
    with raises(ValueError, "x has C=4 channels, groups=3"):
        fastconv.conv2d(X, np.zeros((3, 1, 3, 3)), groups=3)


def test_groups_must_divide_output_channels():
    with raises(ValueError, "weight has F=3 filters, groups=2"):
        fastconv.conv2d(X, np.zeros((3, 2, 3, 3)), groups=2)


def test_groups_below_one():
    with raises(ValueError, "groups must be >= 1, got 0"):
        fastconv.conv2d(X, W, groups=0)


def test_groups_not_an_int():
    with raises(TypeError, "groups must be an int, got 1.0"):
        fastconv.conv2d(X, W, groups=1.0)


def test_kernel_larger_than_padded_input():
    with raises(ValueError, "larger than the padded input (8, 8)"):
        fastconv.conv2d(X, np.zeros((3, 4, 9, 3)), padding=1)


def test_dilated_kernel_larger_than_input():
    with raises(ValueError, "spans (7, 7), larger than the padded input (6, 6)"):
        fastconv.conv2d(X, W, dilation=3)


def test_stride_below_one():
    with raises(ValueError, "stride must be >= 1, got (0, 2)"):
        fastconv.conv2d(X, W, stride=(0, 2))


def test_stride_not_int():
    with raises(TypeError, "stride must be an int or a tuple of ints, got 1.5"):
        fastconv.conv2d(X, W, stride=1.5)


def test_stride_wrong_length():
    with raises(ValueError, "stride must be an int or a pair of ints, got (1, 1, 1)"):
        fastconv.conv2d(X, W, stride=(1, 1, 1))


def test_dilation_below_one():
    with raises(ValueError, "dilation must be >= 1, got (1, 0)"):
        fastconv.conv2d(X, W, dilation=(1, 0))


def test_negative_padding():
    with raises(ValueError, "padding must be >= 0, got (1, -1)"):
        fastconv.conv2d(X, W, padding=(1, -1))


def test_negative_padding_four_tuple():
    with raises(ValueError, "padding must be >= 0, got (0, 0, -2, 0)"):
        fastconv.conv2d(X, W, padding=(0, 0, -2, 0))


def test_unknown_padding_mode():
    with raises(ValueError, "'valid' or 'same', got 'full'"):
        fastconv.conv2d(X, W, padding="full")


def test_padding_wrong_length():
    with raises(ValueError, "'valid' or 'same', got (1, 1, 1)"):
        fastconv.conv2d(X, W, padding=(1, 1, 1))


def test_unknown_layout():
    with raises(ValueError, "layout must be 'NCHW' or 'NHWC', got 'CHWN'"):
        fastconv.conv2d(X, W, layout="CHWN")


def test_bias_wrong_size():
    with raises(
        ValueError,
        "bias must have shape (F,) = (3,) to match weight (3, 4, 3, 3), got shape (4,)",
    ):
        fastconv.conv2d(X, W, np.zeros(4))


def test_bias_wrong_ndim():
    with raises(ValueError, "bias must have shape (F,) = (3,)"):
        fastconv.conv2d(X, W, np.zeros((1, 3)))


def test_complex_x():
    with raises(
        TypeError,
        "x must have a real (bool, integer or float) dtype, got dtype complex128",
    ):
        fastconv.conv2d(X.astype(complex), W)


def test_object_weight():
    with raises(
        TypeError,
        "weight must have a real (bool, integer or float) dtype, got dtype object",
    ):
        fastconv.conv2d(X, W.astype(object))


def test_complex_grad_out():
    with raises(TypeError, "grad_out must have a real"):
        fastconv.conv2d_backward(np.zeros((2, 3, 4, 4), complex), X, W)


def test_grad_out_wrong_shape():
    with raises(
        ValueError,
        "grad_out must have the output's shape (2, 3, 4, 4), got shape (2, 3, 4, 5)",
    ):
        fastconv.conv2d_backward(np.zeros((2, 3, 4, 5)), X, W)


def test_grad_out_wrong_shape_nhwc():
    with raises(
        ValueError,
        "grad_out must have the output's shape (2, 4, 4, 3), got shape (2, 3, 4, 4)",
    ):
        fastconv.conv2d_backward(np.zeros((2, 3, 4, 4)), XH, WH, layout="NHWC")


# ---- pooling


def test_pool_x_wrong_ndim():
    with raises(ValueError, "x must be 4-D, got an array of shape (6, 6)"):
        fastconv.max_pool2d(X[0, 0], 2)


def test_pool_kernel_below_one():
    with raises(ValueError, "kernel_size must be >= 1, got (0, 2)"):
        fastconv.avg_pool2d(X, (0, 2))


def test_pool_padding_more_than_half_kernel():
    with raises(
        ValueError,
        "padding must be at most half the kernel for pooling: got padding (2, 2, 2, 2) "
        "for kernel_size (3, 3)",
    ):
        fastconv.max_pool2d(X, 3, padding=2)


def test_avg_pool_padding_more_than_half_kernel():
    with raises(ValueError, "got padding (0, 2, 0, 0) for kernel_size (3, 3)"):
        fastconv.avg_pool2d(X, 3, padding=(0, 2, 0, 0))


def test_pool_kernel_larger_than_input():
    with raises(
        ValueError,
        "kernel_size (7, 7) with dilation (1, 1) spans (7, 7), larger than the padded "
        "input (6, 6)",
    ):
        fastconv.max_pool2d(X, 7)


def test_pool_stride_below_one():
    with raises(ValueError, "stride must be >= 1, got (1, 0)"):
        fastconv.max_pool2d(X, 2, stride=(1, 0))


def test_pool_ceil_mode_not_bool():
    with raises(TypeError, "ceil_mode must be a bool, got 'yes'"):
        fastconv.max_pool2d(X, 2, ceil_mode="yes")


def test_pool_unknown_layout():
    with raises(ValueError, "layout must be 'NCHW' or 'NHWC', got 'nchw'"):
        fastconv.avg_pool2d(X, 2, layout="nchw")


def test_pool_complex_x():
    with raises(
        TypeError,
        "x must have a real (bool, integer or float) dtype, got dtype complex64",
    ):
        fastconv.max_pool2d(X.astype(np.complex64), 2)


def test_pool_grad_out_wrong_shape():
    with raises(
        ValueError,
        "grad_out must have the output's shape (2, 4, 3, 3), got shape (2, 4, 6, 6)",
    ):
        fastconv.max_pool2d_backward(X, X, 2)


def test_divisor_override_below_one():
    with raises(ValueError, "divisor_override must be >= 1 (and at most 2**62), got 0"):
        fastconv.avg_pool2d(X, 2, divisor_override=0)


def test_divisor_override_not_int():
    with raises(TypeError, "divisor_override must be an int or None, got 2.5"):
        fastconv.avg_pool2d_backward(np.zeros((2, 4, 3, 3)), X, 2, divisor_override=2.5)


def test_count_include_pad_not_bool():
    with raises(TypeError, "count_include_pad must be a bool, got None"):
        fastconv.avg_pool2d(X, 2, count_include_pad=None)


# ---- im2col / col2im


def test_im2col_kernel_too_large():
    with raises(
        ValueError,
        "kernel_size (7, 1) with dilation (1, 1) spans (7, 1), larger than the padded "
        "input (6, 6)",
    ):
        fastconv.im2col(X, (7, 1))


def test_col2im_wrong_cols_shape():
    with raises(
        ValueError,
        "cols must have shape (2, 36, 16) for x_shape (2, 4, 6, 6) and this window, "
        "got shape (2, 36, 15)",
    ):
        fastconv.col2im(np.zeros((2, 36, 15)), (2, 4, 6, 6), 3)


def test_col2im_bad_x_shape():
    with raises(ValueError, "x_shape must be a 4-tuple of ints, got (4, 6)"):
        fastconv.col2im(np.zeros((2, 36, 16)), (4, 6), 3)
    # a 3-tuple is a 1-D x: these columns do not fit it
    with raises(ValueError, "cols must have shape (4, 18, 4)"):
        fastconv.col2im(np.zeros((2, 36, 16)), (4, 6, 6), 3)


def test_col2im_x_shape_not_ints():
    with raises(ValueError, "x_shape must be a 4-tuple of ints, got (2, 4, 6, 6.5)"):
        fastconv.col2im(np.zeros((2, 36, 16)), (2, 4, 6, 6.5), 3)


def test_col2im_negative_x_shape():
    with raises(ValueError, "x_shape must be non-negative, got (2, -4, 6, 6)"):
        fastconv.col2im(np.zeros((2, 36, 16)), (2, -4, 6, 6), 3)


def test_col2im_cols_wrong_ndim():
    with raises(ValueError, "cols must be 3-D, got an array of shape (72, 16)"):
        fastconv.col2im(np.zeros((72, 16)), (2, 4, 6, 6), 3)


# ---- settings


def test_workspace_limit_below_one():
    with raises(ValueError, "nbytes must be >= 1, got 0"):
        fastconv.set_workspace_limit(0)


def test_workspace_limit_not_int():
    with raises(TypeError, "nbytes must be an int or None, got '1GB'"):
        fastconv.set_workspace_limit("1GB")


def test_pool_dilated_window_wholly_in_padding():
    # k=2, dilation 2, padding 1 on a 1x1 input: the taps at -1 and +1 both miss
    with raises(ValueError, "window 0 along H lies wholly in the padding"):
        fastconv.max_pool2d(
            np.zeros((1, 1, 1, 3)), 2, stride=1, padding=(1, 0), dilation=(2, 1)
        )


def test_divisor_override_too_large():
    # would not fit the kernel's 64-bit integer: refused, not a numba typing error
    with raises(
        ValueError,
        "divisor_override must be >= 1 (and at most 2**62), got 100000000000000000000",
    ):
        fastconv.avg_pool2d(X, 2, divisor_override=10**20)


def test_stride_too_large():
    with raises(
        ValueError, "stride must be at most 2**62 in size, got 100000000000000000000"
    ):
        fastconv.conv2d(X, W, stride=10**20)


def test_return_indices_not_bool():
    with raises(TypeError, "return_indices must be a bool, got 'no'"):
        fastconv.max_pool2d(X, 2, return_indices="no")


def test_num_threads_not_int():
    with raises(TypeError, "n must be an int, got 2.0"):
        fastconv.set_num_threads(2.0)


def test_num_threads_below_one():
    with raises(ValueError, "n must be >= 1, got 0"):
        fastconv.set_num_threads(0)


# pooling over no channels (or an empty spatial axis): refused as PyTorch
# does, at every rank and in every family, fast path and oracle alike; an
# empty batch stays valid
_POOLS = {
    "max_pool": dict(kernel_size=1),
    "avg_pool": dict(kernel_size=1),
    "adaptive_avg_pool": dict(output_size=1),
    "adaptive_max_pool": dict(output_size=1),
}
_EMPTY = [(rank, family) for rank in (1, 2, 3) for family in _POOLS]


def _pool_fns(module, rank, family):
    forward = getattr(module, f"{family}{rank}d")
    backward = getattr(module, f"{family}{rank}d_backward")
    return forward, backward


def _call_pool(fn, x, family, backward):
    kw = _POOLS[family]
    if not backward:
        return fn(x, **kw)
    grad_out = np.zeros(x.shape[:2] + (1,) * (x.ndim - 2))
    if family.startswith("adaptive"):
        return fn(grad_out, x)
    return fn(grad_out, x, **kw)


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("module", ["fastconv", "naive"])
@pytest.mark.parametrize("rank, family", _EMPTY, ids=[f"{f}{r}d" for r, f in _EMPTY])
def test_pool_over_no_channels_or_an_empty_axis(rank, family, module, backward):
    mod = fastconv if module == "fastconv" else fastconv.naive
    fn = _pool_fns(mod, rank, family)[backward]
    valid = np.ones((1, 2) + (1,) * rank)
    assert _call_pool(fn, valid, family, backward).shape == valid.shape
    for shape in [(1, 0) + (1,) * rank, (1, 2) + (1,) * (rank - 1) + (0,)]:
        with raises(ValueError, "non-batch axes (channels and spatial sizes; only "):
            _call_pool(fn, np.ones(shape), family, backward)
        with raises(ValueError, f"got shape {shape}"):
            _call_pool(fn, np.ones(shape), family, backward)
    empty_batch = np.ones((0, 2) + (1,) * rank)
    assert _call_pool(fn, empty_batch, family, backward).shape == empty_batch.shape
