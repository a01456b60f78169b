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
