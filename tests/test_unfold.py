"""im2col/col2im in 1-D and 3-D and the unfold/fold aliases, vs the oracle and torch."""

import numpy as np
import pytest

import fastconv
from fastconv import naive
from tests.helpers import DTYPES, assert_close, assert_same, randn, rng

# (shape, layout, kwargs)
CASES = [
    ((2, 3, 7), "NCL", dict(kernel_size=3, stride=2, padding=1)),
    ((2, 7, 3), "NLC", dict(kernel_size=(2,), padding="same", dilation=2)),
    ((1, 2, 4, 5, 4), "NCDHW", dict(kernel_size=(2, 3, 2), stride=(1, 2, 1), padding=1)),
    ((1, 4, 5, 4, 2), "NDHWC", dict(kernel_size=2, padding="same", dilation=(1, 2, 1))),
    ((2, 3, 3, 4, 4), "NCHW", dict(kernel_size=2, stride=2)),  # channels-first 5-D
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[c[1] + str(len(c[0])) for c in CASES])
def test_im2col_and_col2im_in_1d_and_3d_match_the_oracle(case, dtype):
    shape, layout, kw = case
    x = randn(rng(1), shape, dtype)
    cols = fastconv.im2col(x, layout=layout, **kw)
    assert_same(cols, naive.im2col(x, layout=layout, **kw))
    back = fastconv.col2im(cols, shape, layout=layout, **kw)
    assert_close(back, naive.col2im(cols, shape, layout=layout, **kw))


def test_unfold_and_fold_take_torch_argument_order():
    x = randn(rng(2), (2, 3, 7, 6))
    cols = fastconv.unfold(x, (3, 2), 2, 1, (2, 1))  # kernel, dilation, padding, stride
    assert_same(cols, fastconv.im2col(x, (3, 2), (2, 1), 1, 2))
    back = fastconv.fold(cols, (7, 6), (3, 2), 2, 1, (2, 1))
    assert_same(back, fastconv.col2im(cols, x.shape, (3, 2), (2, 1), 1, 2))
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    F = torch.nn.functional
    tcols = F.unfold(torch.tensor(x), (3, 2), dilation=2, padding=1, stride=(2, 1))
    assert_close(cols, tcols.numpy())
    tback = F.fold(tcols, (7, 6), (3, 2), dilation=2, padding=1, stride=(2, 1))
    assert_close(back, tback.numpy())


def test_nd_cols_arguments_are_checked():
    with pytest.raises(ValueError, match="layout must be one of"):
        fastconv.im2col(np.ones((1, 2, 5)), 2, layout="NCDHW")
    with pytest.raises(ValueError, match="x must be 3-D, 4-D or 5-D, got 2-D"):
        fastconv.im2col(np.ones((2, 5)), 2)
    with pytest.raises(ValueError, match="cols must have the shape im2col3d gives"):
        fastconv.col2im(np.ones((1, 3, 4)), (1, 2, 3, 3, 3), 2)
    with pytest.raises(ValueError, match="must be C\\*KH\\*KW"):
        fastconv.fold(np.ones((1, 5, 4)), (3, 3), 2)


# unit strides and as many output columns as input columns (OW == W), with a
# dilated tap whose columns all lie in the padding: im2col's one-long-copy
# path read past the plane there (found by make test-boundscheck, under
# which an out-of-bounds read raises; without the checks the copied values
# were zeroed after, so the results below were right even then)
PADDING_TAPS = [
    ((1, 1, 2, 1), (1, 2), (0, 0, 0, 2), (1, 2)),  # a tap right of the image
    ((1, 1, 2, 2), (1, 3), (0, 0, 4, 0), (1, 2)),  # a tap left of it
    ((2, 3, 2, 3), (1, 2), (0, 0, 4, 1), (1, 3)),
]


@pytest.mark.parametrize("shape, kernel, padding, dilation", PADDING_TAPS)
def test_taps_wholly_in_the_padding_columns_copy_nothing(
    shape, kernel, padding, dilation
):
    x = randn(rng(5), shape, np.float64)
    kw = dict(stride=1, padding=padding, dilation=dilation)
    cols = fastconv.im2col(x, kernel, **kw)
    assert_same(cols, naive.im2col(x, kernel, **kw))
    w = randn(rng(6), (2, shape[1]) + kernel, np.float64)
    y = fastconv.conv2d(x, w, algorithm="im2col", **kw)
    assert_close(y, naive.conv2d(x, w, **kw))
    gy = randn(rng(7), y.shape, np.float64)
    got = fastconv.conv2d_backward(gy, x, w, algorithm="im2col", **kw)
    for g, r in zip(got, naive.conv2d_backward(gy, x, w, **kw)):
        assert_close(g, r)
