"""fastconv.nn against PyTorch: a training step, the optimisers, single layers.

One training step of the same network with the same weights gives the same
loss and parameter gradients, and SGD-momentum and Adam steps give the same
parameters as torch.optim. The transposed-convolution and adaptive-pooling
layers give torch.nn's outputs and gradients, one layer at a time.

The torch network is built here from torch.nn.functional and computes in NCHW;
for NHWC its input and conv weights are permuted, (N, H, W, C) -> (N, C, H, W)
and (KH, KW, C, F) -> (F, C, KH, KW), and the activations are permuted back to
(N, H, W, C) before flattening, as fastconv.nn.Flatten flattens NHWC in
(h, w, c) order. Dropout is left out: its masks come from different generators
(its gradient is checked numerically in test_nn.py).
"""

import numpy as np
import pytest

from fastconv import nn
from tests.helpers import DTYPES, LAYOUTS, NETWORK_TOLERANCES, randn, rng

torch = pytest.importorskip(
    "torch",
    reason="PyTorch not installed: pip install torch==2.13.0 to cross-check "
    "fastconv.nn against torch",
)
F = torch.nn.functional


LABELS = np.array([0, 2, 1, 2])


def fast_net(layout, dtype, seed=0):
    """conv-relu-maxpool (same), conv-relu-avgpool (stride pair), dense-relu-dense."""
    g = np.random.default_rng(seed)
    c = dict(layout=layout, dtype=dtype, rng=g)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding="same", **c),
        nn.ReLU(),
        nn.MaxPool2d(2, layout=layout),
        nn.Conv2d(4, 6, 3, stride=(1, 2), padding=1, **c),
        nn.ReLU(),
        nn.AvgPool2d(2, layout=layout),
        nn.Flatten(),
        nn.Linear(6 * 2 * 1, 5, dtype=dtype, rng=g),
        nn.ReLU(),
        nn.Linear(5, 3, dtype=dtype, rng=g),
    )


def to_torch_params(net, layout):
    """Return the fastconv network's parameters as leaf tensors in torch's layout."""
    out = {}
    for name, p, _ in net.named_parameters():
        t = torch.tensor(p)
        if layout == "NHWC" and name.endswith("weight") and p.ndim == 4:
            t = t.permute(3, 2, 0, 1).contiguous()  # (KH, KW, C, F) -> (F, C, KH, KW)
        out[name] = t.requires_grad_()
    return out


def from_torch_grad(name, t, layout):
    a = t.detach().numpy()
    if layout == "NHWC" and name.endswith("weight") and a.ndim == 4:
        a = a.transpose(2, 3, 1, 0)  # (F, C, KH, KW) -> (KH, KW, C, F)
    return a


def torch_forward(P, x, layout):
    h = torch.tensor(x)
    if layout == "NHWC":
        h = h.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    h = F.max_pool2d(F.relu(F.conv2d(h, P["0.weight"], P["0.bias"], padding=1)), 2)
    h = F.relu(F.conv2d(h, P["3.weight"], P["3.bias"], stride=(1, 2), padding=1))
    h = F.avg_pool2d(h, 2)
    if layout == "NHWC":
        h = h.permute(0, 2, 3, 1)  # flatten in (h, w, c) order
    h = h.flatten(1)
    h = F.relu(F.linear(h, P["7.weight"], P["7.bias"]))
    return F.linear(h, P["9.weight"], P["9.bias"])


def make_input(layout, dtype):
    shape = (4, 2, 8, 8) if layout == "NCHW" else (4, 8, 8, 2)
    return randn(rng(0), shape, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_training_step_matches_torch(layout, dtype):
    x = make_input(layout, dtype)
    net = fast_net(layout, dtype)
    P = to_torch_params(net, layout)
    ce = nn.SoftmaxCrossEntropy()
    loss = ce.forward(net.forward(x), LABELS)
    net.backward(ce.backward())

    t_loss = F.cross_entropy(torch_forward(P, x, layout), torch.tensor(LABELS))
    t_loss.backward()

    tol = NETWORK_TOLERANCES[np.dtype(dtype)]
    np.testing.assert_allclose(loss, t_loss.item(), **tol)
    for name, _, grad in net.named_parameters():
        assert grad.dtype == dtype, name
        np.testing.assert_allclose(
            grad, from_torch_grad(name, P[name].grad, layout), **tol, err_msg=name
        )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "opt_name, kwargs",
    [
        ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=1e-3)),
        ("SGD", dict(lr=0.1)),
        ("Adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=1e-3)),
        ("Adam", dict(lr=1e-3)),
    ],
    ids=["sgd-momentum-wd", "sgd-plain", "adam-options", "adam-defaults"],
)
def test_optimiser_steps_match_torch_optim(layout, opt_name, kwargs):
    dtype = np.float64
    x = make_input(layout, dtype)
    net = fast_net(layout, dtype)
    P = to_torch_params(net, layout)
    opt = getattr(nn, opt_name)(net.parameters(), **kwargs)
    t_opt = getattr(torch.optim, opt_name)(list(P.values()), **kwargs)
    ce = nn.SoftmaxCrossEntropy()
    for step in range(3):
        ce.forward(net.forward(x), LABELS)
        net.backward(ce.backward())
        opt.step()
        t_opt.zero_grad()
        F.cross_entropy(torch_forward(P, x, layout), torch.tensor(LABELS)).backward()
        t_opt.step()
        for name, p, _ in net.named_parameters():
            np.testing.assert_allclose(
                p,
                from_torch_grad(name, P[name], layout),
                **NETWORK_TOLERANCES[np.dtype(dtype)],
                err_msg=f"{name} after step {step + 1}",
            )


# --------------------------------------------------------------------------
# single layers against torch.nn's: the same weights (bias made non-zero), the
# same input and cotangent; the output, and the gradients for x and for every
# parameter. Channels-last arrays go to torch permuted to channels-first
# ((N, *S, C) -> (N, C, *S); weight (*K, F/groups, C_in) -> (C_in, F/groups, *K))
# and its results come back permuted the other way.

#: (channels-first, channels-last) layouts by x's ndim
LAYOUTS_BY_NDIM = {3: ("NCL", "NLC"), 4: LAYOUTS, 5: ("NCDHW", "NDHWC")}


def x_to_torch(a):
    return a.transpose(0, a.ndim - 1, *range(1, a.ndim - 1))  # (N, *S, C) -> (N, C, *S)


def x_from_torch(a):
    return a.transpose(0, *range(2, a.ndim), 1)  # (N, C, *S) -> (N, *S, C)


def weight_to_torch(w):
    n = w.ndim
    return w.transpose(n - 1, n - 2, *range(n - 2))  # (*K, Fg, C) -> (C, Fg, *K)


def weight_from_torch(w):
    return w.transpose(*range(2, w.ndim), 1, 0)  # (C, Fg, *K) -> (*K, Fg, C)


# (layer name, arguments both libraries take, channels-first x shape): why
LAYER_CASES = [
    (
        "ConvTranspose1d",  # stride, output_padding, groups
        dict(
            in_channels=4,
            out_channels=6,
            kernel_size=3,
            stride=2,
            padding=1,
            output_padding=1,
            groups=2,
        ),
        (2, 4, 5),
    ),
    (
        "ConvTranspose1d",  # dilated, output_padding below the dilation
        dict(in_channels=3, out_channels=2, kernel_size=2, dilation=3, output_padding=2),
        (2, 3, 4),
    ),
    (
        "ConvTranspose2d",
        dict(in_channels=2, out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=1),
        (2, 2, 3, 4),
    ),
    (
        "ConvTranspose3d",  # every argument per axis
        dict(
            in_channels=4,
            out_channels=2,
            kernel_size=(2, 3, 2),
            stride=(2, 1, 2),
            padding=(0, 1, 1),
            output_padding=(1, 0, 1),
            groups=2,
            dilation=(1, 1, 2),
        ),
        (1, 4, 2, 3, 3),
    ),
    (
        "ConvTranspose3d",
        dict(in_channels=2, out_channels=3, kernel_size=2, bias=False),
        (2, 2, 2, 2, 3),
    ),
    ("AdaptiveMaxPool1d", dict(output_size=3), (2, 3, 7)),  # overlapping windows
    ("AdaptiveAvgPool1d", dict(output_size=(3,)), (2, 3, 7)),
    ("AdaptiveMaxPool2d", dict(output_size=(3, None)), (2, 3, 5, 6)),
    ("AdaptiveAvgPool2d", dict(output_size=(None, 4)), (2, 3, 5, 6)),
    ("AdaptiveMaxPool3d", dict(output_size=(2, None, 3)), (1, 2, 3, 5, 4)),
    ("AdaptiveAvgPool3d", dict(output_size=(2, None, 3)), (1, 2, 3, 5, 4)),
    ("AdaptiveMaxPool3d", dict(output_size=4), (2, 2, 3, 2, 3)),  # larger than x
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize(
    "name, kwargs, shape",
    LAYER_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(LAYER_CASES)],
)
def test_layer_matches_torch_nn(name, kwargs, shape, last, dtype):
    layout = LAYOUTS_BY_NDIM[len(shape)][last]
    conv = name.startswith("Conv")
    t_dtype = torch.float32 if dtype == np.float32 else torch.float64
    if conv:
        layer = getattr(nn, name)(**kwargs, layout=layout, dtype=dtype, rng=3)
        t_layer = getattr(torch.nn, name)(**kwargs, dtype=t_dtype)
        if "bias" in layer.params:
            layer.params["bias"][...] = randn(rng(2), layer.params["bias"].shape)
        with torch.no_grad():
            w = layer.params["weight"]
            t_layer.weight.copy_(torch.from_numpy(weight_to_torch(w) if last else w))
            if "bias" in layer.params:
                t_layer.bias.copy_(torch.from_numpy(layer.params["bias"]))
    else:
        layer = getattr(nn, name)(**kwargs, layout=layout)
        t_layer = getattr(torch.nn, name)(**kwargs)
    x_cf = randn(rng(0), shape, dtype)
    x = np.ascontiguousarray(x_from_torch(x_cf)) if last else x_cf
    y = layer.forward(x)
    r = randn(rng(1), y.shape, dtype)  # dLoss/dy, in the layer's layout
    gx = layer.backward(r)

    t_x = torch.from_numpy(x_cf).requires_grad_()
    t_y = t_layer(t_x)
    t_y.backward(torch.from_numpy(np.ascontiguousarray(x_to_torch(r) if last else r)))

    def back(t, convert):
        a = t.detach().numpy()
        return convert(a) if last else a

    tol = NETWORK_TOLERANCES[np.dtype(dtype)]
    assert y.dtype == dtype and gx.dtype == dtype
    np.testing.assert_allclose(y, back(t_y, x_from_torch), **tol, err_msg="forward")
    np.testing.assert_allclose(gx, back(t_x.grad, x_from_torch), **tol, err_msg="grad x")
    if conv:
        np.testing.assert_allclose(
            layer.grads["weight"],
            back(t_layer.weight.grad, weight_from_torch),
            **tol,
            err_msg="grad weight",
        )
        if "bias" in layer.params:
            np.testing.assert_allclose(
                layer.grads["bias"], t_layer.bias.grad.numpy(), **tol, err_msg="grad bias"
            )
        else:
            assert t_layer.bias is None
