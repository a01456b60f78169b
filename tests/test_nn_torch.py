"""fastconv.nn against PyTorch: a training step, and the optimisers.

One training step of the same network with the same weights gives the same
loss and parameter gradients, and SGD-momentum and Adam steps give the same
parameters as torch.optim.

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
