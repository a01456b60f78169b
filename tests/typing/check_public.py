"""User code against the public signatures: make lint runs mypy over it.

Nothing here runs (the functions are never called); mypy checks that code a
user writes type-checks, and that the types it sees are the ones the
functions return (``assert_type`` fails the lint otherwise).
"""

from typing import Tuple

import numpy as np
from typing_extensions import assert_type

import fastconv
from fastconv import nn


def convolutions(x: np.ndarray, w: np.ndarray) -> None:
    y = fastconv.conv2d(x, w, padding="same", stride=(1, 2), layout="NHWC")
    assert_type(y, np.ndarray)
    gx, gw, gb = fastconv.conv2d_backward(y, x, w, padding="same")
    buf = np.empty_like(y)
    assert fastconv.conv2d(x, w, out=buf) is not None
    assert_type(fastconv.conv1d(x, w, padding=1), np.ndarray)
    grads = fastconv.conv_transpose1d_backward(x, x, w)
    assert_type(grads, Tuple[np.ndarray, np.ndarray, np.ndarray])
    fastconv.conv3d(x, w, padding_mode="circular")
    fastconv.conv_transpose2d(x, w, stride=2, output_padding=1)
    plan = fastconv.plan_conv2d(x.shape, w.shape, np.float32, padding=1)
    plan.forward(x, w)


def pooling(x: np.ndarray, flag: bool) -> None:
    y = fastconv.max_pool2d(x, 2)
    assert_type(y, np.ndarray)
    y, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    fastconv.max_pool2d_backward(y, x, 2, indices=idx)
    either = fastconv.max_pool3d(x, 2, return_indices=flag)
    assert not isinstance(either, int)
    v, i = fastconv.adaptive_max_pool1d(x, 4, True)
    assert_type(fastconv.max_pool1d(x, 2), np.ndarray)
    assert_type(
        fastconv.max_pool1d(x, 2, return_indices=True), Tuple[np.ndarray, np.ndarray]
    )
    assert_type(fastconv.avg_pool1d(x, 3, count_include_pad=False), np.ndarray)
    # torch's avg_pool1d has no divisor_override, nor its type (the ignore
    # fails the lint if mypy stops refusing it)
    fastconv.avg_pool1d(x, 3, divisor_override=2)  # type: ignore[call-arg]
    fastconv.adaptive_avg_pool2d(x, (None, 7))
    pool = fastconv.plan_pool2d("max", x.shape, x.dtype, 2)
    pool.forward(x, return_indices=True)


def shapes() -> None:
    shape = fastconv.conv_output_shape((8, 3, 32, 32), (16, 3, 3, 3), padding="same")
    assert_type(shape, Tuple[int, ...])
    g = fastconv.pool_geometry((1, 2, 9), 2, ceil_mode=True)
    assert_type(g.axes[0].out, int)
    assert_type(fastconv.result_type(np.float32), np.dtype)


def layers(x: np.ndarray) -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    y = model.forward(x)
    model.backward(np.ones_like(y))
