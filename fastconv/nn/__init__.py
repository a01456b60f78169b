"""Small neural-network layers on the fastconv engine, with optimisers.

A consumer of the engine, not a framework. Every layer has ``forward(x)``
and ``backward(grad_out)``; it keeps what its backward pass needs from the
last forward pass, owns its parameters in ``params`` and their gradients in
``grads`` (two dicts with the same keys), and reaches convolution and pooling
only through the public functions of its `backend`: the fast engine
(``fastconv``, the default) or the plain-loop oracle (``fastconv.naive``),
which share function names. There is no autograd graph: :class:`Sequential`
runs its layers forward, then their backward passes in reverse.

``backward`` overwrites the gradients (it does not accumulate), so there is
nothing to zero between steps. Optimisers take ``(param, grad)`` pairs, from
``model.parameters()``, and update the parameters in place.

Layers that see images take ``layout="NCHW"`` (x of shape (N, C, H, W),
conv weight (F, C/groups, KH, KW)) or ``layout="NHWC"`` (x (N, H, W, C),
weight (KH, KW, C/groups, F)), exactly as :func:`fastconv.conv2d` does; the
1-D layers (Conv1d, ConvTranspose1d, MaxPool1d, AvgPool1d, AdaptiveMaxPool1d,
AdaptiveAvgPool1d) ``"NCL"`` or ``"NLC"``, and the 3-D ones (Conv3d,
ConvTranspose3d, MaxPool3d, AvgPool3d, AdaptiveMaxPool3d, AdaptiveAvgPool3d)
``"NCDHW"`` or ``"NDHWC"``. A transposed convolution's weight is
(C_in, F/groups, *K) channels-first, (*K, F/groups, C_in) channels-last, as
:func:`fastconv.conv_transpose2d` takes it. The max-pooling layers keep the
forward pass's argmaxes for their backward pass.

Examples
--------
>>> import numpy as np
>>> from fastconv import nn
>>> rng = np.random.default_rng(0)
>>> model = nn.Sequential(
...     nn.Conv2d(1, 4, 3, padding="same", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
...     nn.Flatten(), nn.Linear(4 * 4 * 4, 10, rng=rng))
>>> loss_fn, opt = nn.SoftmaxCrossEntropy(), nn.SGD(model.parameters(), lr=0.1)
>>> x, y = rng.random((8, 1, 8, 8), dtype=np.float32), np.arange(8)
>>> first = loss_fn.forward(model.forward(x), y)
>>> for _ in range(20):
...     loss = loss_fn.forward(model.forward(x), y)
...     _ = model.backward(loss_fn.backward())
...     opt.step()
>>> bool(loss < first)
True
"""

from .layers import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    Dropout,
    Flatten,
    Layer,
    Linear,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    ReLU,
    Sequential,
)
from .loss import SoftmaxCrossEntropy, softmax
from .optim import SGD, Adam

__all__ = [
    "Layer",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "Conv1d",
    "MaxPool1d",
    "AvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveMaxPool1d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "Conv3d",
    "ConvTranspose3d",
    "MaxPool3d",
    "AvgPool3d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool3d",
    "ReLU",
    "Flatten",
    "Linear",
    "Dropout",
    "Sequential",
    "SoftmaxCrossEntropy",
    "softmax",
    "SGD",
    "Adam",
]
