"""padding_mode (reflect, replicate, circular) against the oracle and PyTorch."""

import numpy as np
import pytest

import fastconv
from fastconv import naive, nn
from tests.helpers import DTYPES, LAYOUTS, assert_close, randn, rng

MODES = ("reflect", "replicate", "circular")

# (id, (N, C, H, W), F, kernel, kwargs)
CASES = [
    ("pad1", (2, 3, 6, 7), 4, 3, dict(padding=1)),
    ("asymmetric", (1, 2, 5, 6), 3, 3, dict(padding=(2, 1, 0, 3))),
    ("same-s2", (2, 2, 7, 6), 2, 4, dict(padding="same", stride=2)),
    ("dilated-grouped", (1, 4, 8, 8), 4, 3, dict(padding=2, dilation=2, groups=2)),
]


def _lay(a, layout):
    return a if layout == "NCHW" else np.ascontiguousarray(a.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_padding_modes_match_the_oracle(case, mode, layout, dtype):
    _, shape, F, k, kw = case
    gen = rng(1)
    x = _lay(randn(gen, shape, dtype), layout)
    w = randn(gen, (F, shape[1] // kw.get("groups", 1), k, k), dtype)
    w = w if layout == "NCHW" else np.ascontiguousarray(w.transpose(2, 3, 1, 0))
    kw = dict(kw, layout=layout, padding_mode=mode)
    x_before = x.copy()
    out = fastconv.conv2d(x, w, **kw)
    assert_close(out, naive.conv2d(x, w, **kw))
    gy = randn(rng(2), out.shape, dtype)
    for g, r in zip(
        fastconv.conv2d_backward(gy, x, w, **kw), naive.conv2d_backward(gy, x, w, **kw)
    ):
        assert_close(g, r)
    np.testing.assert_array_equal(x, x_before)  # the padded copy, not x


@pytest.mark.parametrize("mode", MODES)
def test_padding_modes_match_torch_nn_conv2d(mode):
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    gen = rng(3)
    x = randn(gen, (2, 3, 7, 9))
    conv = torch.nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode=mode).double()
    tx = torch.tensor(x, requires_grad=True)
    ty = conv(tx)
    gy = randn(gen, tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    kw = dict(padding=(1, 2), padding_mode=mode)
    assert_close(fastconv.conv2d(x, w, b, **kw), ty.detach().numpy())
    gx, gw, gb = fastconv.conv2d_backward(gy, x, w, **kw)
    assert_close(gx, tx.grad.numpy())
    assert_close(gw, conv.weight.grad.numpy())
    # 1-D, through the layer: torch.nn.Conv1d with the same mode
    c1 = torch.nn.Conv1d(3, 2, 5, padding=2, padding_mode=mode).double()
    x1 = randn(gen, (2, 3, 11))
    layer = nn.Conv1d(3, 2, 5, padding=2, padding_mode=mode, dtype=np.float64)
    layer.params["weight"][...] = c1.weight.detach().numpy()
    layer.params["bias"][...] = c1.bias.detach().numpy()
    assert_close(layer.forward(x1), c1(torch.tensor(x1)).detach().numpy())


def test_padding_mode_arguments_are_checked():
    x, w = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))
    with pytest.raises(
        ValueError, match="padding_mode must be one of 'zeros', 'reflect'"
    ):
        fastconv.conv2d(x, w, padding=1, padding_mode="mirror")
    with pytest.raises(ValueError, match="'reflect' needs padding below the input size"):
        fastconv.conv2d(x, w, padding=4, padding_mode="reflect")
    with pytest.raises(ValueError, match="'circular' needs padding at most the input"):
        fastconv.conv2d(x, w, padding=5, padding_mode="circular")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(1, 1, 3, padding_mode="wrap")


# (id, (N, C, D, H, W), F, kernel, kwargs): 3-D, through conv3d's own path
CASES_3D = [
    ("pad1", (1, 2, 4, 5, 6), 3, 3, dict(padding=1)),
    ("per-axis", (2, 2, 5, 4, 4), 2, (3, 2, 3), dict(padding=(2, 1, 0))),
    ("same-s2", (1, 3, 5, 6, 4), 2, 3, dict(padding="same", stride=(2, 1, 2))),
    ("dilated-grouped", (1, 4, 5, 5, 5), 2, 2, dict(padding=2, dilation=2, groups=2)),
]


def _lay3d(a, layout):
    return a if layout == "NCHW" else np.ascontiguousarray(a.transpose(0, 2, 3, 4, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES_3D, ids=[c[0] for c in CASES_3D])
def test_padding_modes_3d_match_the_oracle(case, mode, layout, dtype):
    _, shape, F, k, kw = case
    k = k if isinstance(k, tuple) else (k,) * 3
    gen = rng(4)
    x = _lay3d(randn(gen, shape, dtype), layout)
    w = randn(gen, (F, shape[1] // kw.get("groups", 1)) + k, dtype)
    if layout == "NHWC":
        w = np.ascontiguousarray(w.transpose(2, 3, 4, 1, 0))
    kw = dict(kw, layout="NCDHW" if layout == "NCHW" else "NDHWC", padding_mode=mode)
    x_before = x.copy()
    out = fastconv.conv3d(x, w, **kw)
    assert_close(out, naive.conv3d(x, w, **kw))
    gy = randn(rng(5), out.shape, dtype)
    for g, r in zip(
        fastconv.conv3d_backward(gy, x, w, **kw), naive.conv3d_backward(gy, x, w, **kw)
    ):
        assert g.shape == r.shape and g.dtype == r.dtype
        assert_close(g, r)
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("mode", MODES)
def test_padding_modes_match_torch_nn_conv3d(mode):
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    gen = rng(6)
    x = randn(gen, (2, 3, 5, 6, 7))
    conv = torch.nn.Conv3d(3, 4, 3, padding=(1, 2, 1), padding_mode=mode).double()
    tx = torch.tensor(x, requires_grad=True)
    ty = conv(tx)
    gy = randn(gen, tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    kw = dict(padding=(1, 2, 1), padding_mode=mode)
    assert_close(fastconv.conv3d(x, w, b, **kw), ty.detach().numpy())
    gx, gw, gb = fastconv.conv3d_backward(gy, x, w, **kw)
    assert_close(gx, tx.grad.numpy())
    assert_close(gw, conv.weight.grad.numpy())
    assert_close(gb, conv.bias.grad.numpy())
    # through the layer, on both backends
    for backend in (fastconv, naive):
        layer = nn.Conv3d(
            3,
            4,
            3,
            padding=(1, 2, 1),
            padding_mode=mode,
            dtype=np.float64,
            backend=backend,
        )
        layer.params["weight"][...] = w
        layer.params["bias"][...] = b
        assert_close(layer.forward(x), ty.detach().numpy())
        assert_close(layer.backward(gy), tx.grad.numpy())
        assert_close(layer.grads["weight"], conv.weight.grad.numpy())


def test_padding_mode_3d_arguments_are_checked():
    x, w = np.ones((1, 1, 4, 4, 4)), np.ones((1, 1, 3, 3, 3))
    for fn in (fastconv.conv3d, naive.conv3d):
        with pytest.raises(ValueError, match="padding_mode must be one of"):
            fn(x, w, padding=1, padding_mode="mirror")
    with pytest.raises(ValueError, match="'reflect' needs padding below the input size"):
        fastconv.conv3d(x, w, padding=(4, 1, 1), padding_mode="reflect")
    with pytest.raises(ValueError, match="'circular' needs padding at most the input"):
        fastconv.conv3d(x, w, padding=(1, 1, 5), padding_mode="circular")
    gy = np.ones((1, 1, 4, 4, 4))
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        fastconv.conv3d_backward(gy, x, w, padding=1, padding_mode="wrap")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv3d(1, 1, 3, padding_mode="wrap")
