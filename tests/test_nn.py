"""fastconv.nn: numerical gradients, optimiser rules, Dropout, error paths.

Every layer and a whole network are checked against numerical gradients,
the optimisers against hand-computed values; the transposed-convolution and
adaptive-pooling layers also against the oracle's functions, called directly.

Gradients are checked in float64 by centred differences of the scalar
``sum(layer(x) * r)`` (r a fixed random cotangent), perturbing every entry of
the input and of every parameter. Inputs are random normal, so no ReLU input
sits on its kink and no max-pool window has a near tie.
"""

import re
import types

import numpy as np
import pytest

import fastconv
from fastconv import naive, nn
from tests.helpers import DTYPES, LAYOUTS, assert_close, assert_same, randn, rng

EPS = 1e-6  # centred-difference step
GRAD_TOL = dict(rtol=1e-5, atol=1e-8)  # float64 numerical vs analytic


def raises(exc, text):
    return pytest.raises(exc, match=re.escape(text))


def image(gen, N, C, H, W, layout):
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    return randn(gen, shape)


def numeric_grad(f, arr):
    """Return d f() / d arr by centred differences, perturbing `arr` in place."""
    grad = np.zeros_like(arr)
    flat, gflat = arr.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + EPS
        up = f()
        flat[i] = old - EPS
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * EPS)
    return grad


def check_layer(layer, x, seed=1):
    """Check the layer's input and parameter gradients by centred differences.

    A layer with a generator (Dropout) has it reset before every forward
    pass, so that each evaluation draws the same mask. Returns the layer.
    """
    state = layer.rng.bit_generator.state if hasattr(layer, "rng") else None

    def forward():
        if state is not None:
            layer.rng.bit_generator.state = state
        return layer.forward(x)

    r = randn(rng(seed), forward().shape)  # dLoss/dy

    def loss():
        return float(np.sum(forward() * r))

    forward()
    gx = layer.backward(r)
    grads = {name: g.copy() for name, g in layer.grads.items()}
    assert gx.shape == x.shape
    np.testing.assert_allclose(gx, numeric_grad(loss, x), **GRAD_TOL)
    for name, p in layer.params.items():
        np.testing.assert_allclose(
            grads[name], numeric_grad(loss, p), **GRAD_TOL, err_msg=name
        )
    return layer


# --------------------------------------------------------------------------
# numerical gradients, layer by layer, both layouts

# (id, kwargs, (N, C, H, W)): why it is here
CONV_CASES = [
    ("same", dict(kernel_size=3, padding="same"), (2, 2, 5, 5)),
    (
        "SAME-stride-pair",
        dict(kernel_size=3, stride=(2, 1), padding="SAME"),
        (2, 2, 5, 6),
    ),
    ("valid-nonsquare", dict(kernel_size=(2, 3), padding="VALID"), (2, 3, 5, 6)),
    (
        "four-tuple-dilated",
        dict(kernel_size=2, padding=(1, 0, 2, 1), dilation=2),
        (1, 2, 5, 5),
    ),
    (
        "groups-no-bias",
        dict(kernel_size=3, padding=1, groups=2, bias=False),
        (2, 4, 4, 4),
    ),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv2d_gradients(case, layout):
    _, kw, (N, C, H, W) = case
    F = 4
    x = image(rng(0), N, C, H, W, layout)
    layer = check_layer(nn.Conv2d(C, F, layout=layout, dtype=np.float64, rng=3, **kw), x)
    assert set(layer.grads) == (
        {"weight"} if kw.get("bias") is False else {"weight", "bias"}
    )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=(2, 3), stride=(1, 2), padding="same"),
        dict(kernel_size=2, ceil_mode=True, dilation=(1, 2)),
    ],
    ids=["2x2", "3x3-s2-p1", "same-stride-pair", "ceil-dilated"],
)
def test_max_pool_gradients(kw, layout):
    x = image(rng(0), 2, 3, 5, 6, layout)
    check_layer(nn.MaxPool2d(layout=layout, **kw), x)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=3, stride=2, padding="same", count_include_pad=False),
        dict(kernel_size=2, ceil_mode=True),
    ],
    ids=["2x2", "3x3-s2-p1", "tf-same", "ceil"],
)
def test_avg_pool_gradients(kw, layout):
    x = image(rng(0), 2, 3, 5, 6, layout)
    check_layer(nn.AvgPool2d(layout=layout, **kw), x)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_relu_and_flatten_gradients(layout):
    x = image(rng(0), 2, 3, 4, 5, layout)
    check_layer(nn.ReLU(), x)
    check_layer(nn.Flatten(), x)


def test_linear_gradients():
    check_layer(nn.Linear(5, 3, dtype=np.float64, rng=2), randn(rng(0), (4, 5)))
    layer = check_layer(
        nn.Linear(5, 3, bias=False, dtype=np.float64, rng=2), randn(rng(0), (4, 5))
    )
    assert list(layer.params) == ["weight"]


def test_dropout_gradients_with_a_fixed_mask():
    check_layer(nn.Dropout(0.3, rng=7), randn(rng(0), (4, 6)))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layers_compute_what_the_engine_computes(layout):
    """Each layer's forward is the engine function with the layer's options."""
    x = image(rng(0), 2, 4, 7, 6, layout)
    conv = nn.Conv2d(
        4,
        6,
        (3, 2),
        stride=(2, 1),
        padding=(1, 0, 2, 1),
        dilation=(1, 2),
        groups=2,
        layout=layout,
        dtype=np.float64,
        rng=0,
    )
    conv.params["bias"][...] = randn(rng(1), (6,))
    want = fastconv.conv2d(
        x,
        conv.params["weight"],
        conv.params["bias"],
        stride=(2, 1),
        padding=(1, 0, 2, 1),
        dilation=(1, 2),
        groups=2,
        layout=layout,
    )
    np.testing.assert_array_equal(conv.forward(x), want)
    pool = nn.MaxPool2d(
        3, (2, 1), padding=1, dilation=(1, 2), ceil_mode=True, layout=layout
    )
    np.testing.assert_array_equal(
        pool.forward(x), fastconv.max_pool2d(x, 3, (2, 1), 1, (1, 2), True, layout=layout)
    )
    avg = nn.AvgPool2d(
        (3, 2), 2, padding="same", ceil_mode=True, count_include_pad=False, layout=layout
    )
    np.testing.assert_array_equal(
        avg.forward(x),
        fastconv.avg_pool2d(x, (3, 2), 2, "same", True, False, layout=layout),
    )


def test_loss_gradient():
    logits = randn(rng(0), (5, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2])
    ce = nn.SoftmaxCrossEntropy()
    ce.forward(logits, labels)
    grad = ce.backward()
    num = numeric_grad(lambda: ce.forward(logits, labels), logits)
    np.testing.assert_allclose(grad, num, **GRAD_TOL)


def test_loss_value_and_stability():
    ce = nn.SoftmaxCrossEntropy()
    logits = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    want = np.mean([np.log(np.exp([1, 2, 3]).sum()) - 1, 0.0])  # row 2 is certain
    assert ce.forward(logits, np.array([0, 0])) == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(nn.softmax(logits).sum(axis=1), 1.0)


def small_net(layout, backend=None, seed=0, dropout=0.5):
    """conv-relu-maxpool, conv-relu-avgpool, dense-relu-dropout-dense: 8x8 -> 3."""
    g = np.random.default_rng(seed)
    conv = dict(layout=layout, dtype=np.float64, rng=g, backend=backend)
    pool = dict(layout=layout, backend=backend)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding="same", **conv),
        nn.ReLU(),
        nn.MaxPool2d(2, **pool),
        nn.Conv2d(3, 4, 3, stride=(1, 2), padding=1, **conv),
        nn.ReLU(),
        nn.AvgPool2d(2, **pool),
        nn.Flatten(),
        nn.Linear(4 * 2 * 1, 5, dtype=np.float64, rng=g),
        nn.ReLU(),
        nn.Dropout(dropout, rng=g),
        nn.Linear(5, 3, dtype=np.float64, rng=g),
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_whole_network_with_loss_gradients(layout):
    x = image(rng(0), 3, 2, 8, 8, layout)
    labels = np.array([0, 2, 1])
    ce = nn.SoftmaxCrossEntropy()
    net = small_net(layout)
    drop = net[9]
    mask_state = drop.rng.bit_generator.state

    def loss():
        drop.rng.bit_generator.state = mask_state  # the same mask every time
        return ce.forward(net.forward(x), labels)

    loss()
    gx = net.backward(ce.backward())
    grads = {name: g.copy() for name, _, g in net.named_parameters()}
    assert len(grads) == 8
    np.testing.assert_allclose(gx, numeric_grad(loss, x), **GRAD_TOL)
    for name, p, _ in net.named_parameters():
        np.testing.assert_allclose(
            grads[name], numeric_grad(loss, p), **GRAD_TOL, err_msg=name
        )


# --------------------------------------------------------------------------
# the two backends and the two layouts agree


@pytest.mark.parametrize("layout", LAYOUTS)
def test_naive_backend_gives_the_same_step(layout):
    x = image(rng(0), 3, 2, 8, 8, layout)
    labels = np.array([0, 2, 1])
    fast, slow = small_net(layout), small_net(layout, backend=naive)
    assert fast[0].backend is fastconv and slow[0].backend is naive
    results = []
    for net in (fast, slow):
        ce = nn.SoftmaxCrossEntropy()
        loss = ce.forward(net.forward(x), labels)
        gx = net.backward(ce.backward())
        results.append((loss, gx, [g.copy() for _, g in net.parameters()]))
    (l1, gx1, g1), (l2, gx2, g2) = results
    assert l1 == pytest.approx(l2, rel=1e-12)
    np.testing.assert_allclose(gx1, gx2, rtol=1e-10, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_layouts_give_the_same_network():
    """An NHWC network with the NCHW network's weights, transposed, agrees."""
    nchw, nhwc = small_net("NCHW"), small_net("NHWC", seed=1)
    state = nchw.state_dict()
    for i in (0, 3):  # (F, C, KH, KW) -> (KH, KW, C, F)
        state[f"{i}.weight"] = state[f"{i}.weight"].transpose(2, 3, 1, 0)
    # Flatten takes (c, h, w) in NCHW and (h, w, c) in NHWC: permute dense columns
    w = state["7.weight"]
    state["7.weight"] = w.reshape(5, 4, 2, 1).transpose(0, 2, 3, 1).reshape(5, 8)
    nhwc.load_state_dict(state)
    x = image(rng(0), 3, 2, 8, 8, "NCHW")
    nchw.eval(), nhwc.eval()
    np.testing.assert_allclose(
        nhwc.forward(x.transpose(0, 2, 3, 1)), nchw.forward(x), rtol=1e-12, atol=1e-12
    )


# --------------------------------------------------------------------------
# parameters, modes, dtypes


def test_he_initialisation_is_seeded_and_scaled():
    a = nn.Conv2d(8, 64, 3, rng=5, dtype=np.float64).params["weight"]
    b = nn.Conv2d(8, 64, 3, rng=np.random.default_rng(5), dtype=np.float64)
    b = b.params["weight"]
    np.testing.assert_array_equal(a, b)
    assert a.std() == pytest.approx(np.sqrt(2 / (8 * 9)), rel=0.05)  # fan_in = C*KH*KW
    lin = nn.Linear(200, 300, rng=0)
    assert lin.params["weight"].std() == pytest.approx(np.sqrt(2 / 200), rel=0.05)
    assert not lin.params["bias"].any()
    assert nn.Conv2d(4, 6, (2, 3), groups=2, layout="NHWC", rng=0).params[
        "weight"
    ].shape == (2, 3, 2, 6)


def test_parameters_are_the_arrays_backward_writes():
    net = small_net("NCHW")
    pairs = net.parameters()
    ce = nn.SoftmaxCrossEntropy()
    ce.forward(net.forward(image(rng(0), 2, 2, 8, 8, "NCHW")), np.array([0, 1]))
    net.backward(ce.backward())
    for (p, g), (name, p2, g2) in zip(pairs, net.named_parameters()):
        assert p is p2 and g is g2 and g.any(), name


def test_float32_stays_float32_through_a_training_step():
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding="same", rng=0),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8, 3, rng=0),
    )
    opt = nn.Adam(net.parameters())
    y = net.forward(np.ones((2, 1, 4, 4), np.float32))
    assert y.dtype == np.float32
    ce = nn.SoftmaxCrossEntropy()
    ce.forward(y, np.array([0, 1]))
    assert net.backward(ce.backward()).dtype == np.float32
    opt.step()
    assert all(
        p.dtype == np.float32 and g.dtype == np.float32 for p, g in net.parameters()
    )


def test_state_dict_round_trip():
    a, b = small_net("NCHW", seed=0), small_net("NCHW", seed=1)
    b.load_state_dict(a.state_dict())
    for (_, p, _), (_, q, _) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p, q)
    state = a.state_dict()
    state["0.weight"] += 1  # a copy, not the live parameter
    assert not np.array_equal(state["0.weight"], a[0].params["weight"])


def test_train_and_eval_propagate():
    net = small_net("NCHW")
    assert net.eval() is net and not net[9].training and not net.training
    assert net.train()[9].training


def test_backward_before_forward():
    for layer in (
        nn.Conv2d(1, 1, 1),
        nn.MaxPool2d(2),
        nn.AvgPool2d(2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(1, 1),
        nn.Dropout(),
        nn.ConvTranspose1d(1, 1, 1),
        nn.ConvTranspose3d(1, 1, 1),
        nn.AdaptiveMaxPool1d(1),
        nn.AdaptiveMaxPool2d(1),
        nn.AdaptiveMaxPool3d(1),
        nn.AdaptiveAvgPool1d(1),
        nn.AdaptiveAvgPool3d(1),
    ):
        with raises(
            RuntimeError, f"{type(layer).__name__}.backward called before forward"
        ):
            layer.backward(np.zeros((1, 1, 1, 1)))
    with raises(RuntimeError, "SoftmaxCrossEntropy.backward called before forward"):
        nn.SoftmaxCrossEntropy().backward()


# --------------------------------------------------------------------------
# Dropout


def test_dropout_train_and_eval():
    x = np.ones((100, 100))
    drop = nn.Dropout(0.25, rng=0)
    y = drop.forward(x)
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.02)
    np.testing.assert_array_equal(drop.backward(x), y)  # the same mask
    drop.eval()
    assert drop.forward(x) is x and drop.backward(x) is x
    assert nn.Dropout(0.0, rng=0).forward(x) is x


def test_dropout_masks_are_seeded():
    x = np.ones((20, 20), np.float32)
    a, b, c = nn.Dropout(0.5, rng=3), nn.Dropout(0.5, rng=3), nn.Dropout(0.5, rng=4)
    ya, yb, yc = a.forward(x), b.forward(x), c.forward(x)
    assert ya.dtype == np.float32
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(ya, yc)
    assert not np.array_equal(a.forward(x), ya)  # a new mask each step


# --------------------------------------------------------------------------
# optimisers against hand-computed values


def test_sgd_plain_and_weight_decay():
    p, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    nn.SGD([(p, g)], lr=0.1).step()
    np.testing.assert_allclose(p, [0.95, -2.025])
    p = np.array([1.0, -2.0])
    nn.SGD([(p, g)], lr=0.1, weight_decay=0.5).step()  # g + 0.5 p = [1.0, -0.75]
    np.testing.assert_allclose(p, [0.9, -1.925])


def test_sgd_momentum_two_steps():
    p, g = np.array([1.0]), np.array([0.5])
    opt = nn.SGD([(p, g)], lr=0.1, momentum=0.9)
    opt.step()  # v = 0.5; p = 1 - 0.05
    g[...] = -1.0
    opt.step()  # v = 0.45 - 1 = -0.55; p = 0.95 + 0.055
    np.testing.assert_allclose(p, [1.005])
    np.testing.assert_allclose(opt.velocity[0], [-0.55])


def test_adam_two_steps():
    p, g = np.array([1.0]), np.array([0.5])
    opt = nn.Adam([(p, g)], lr=0.01, betas=(0.9, 0.99), eps=1e-8)
    opt.step()
    # m = 0.05, v = 0.0025; mhat = 0.5, vhat = 0.25: p = 1 - 0.01 * 0.5 / (0.5 + 1e-8)
    np.testing.assert_allclose(p, [1 - 0.01 * 0.5 / (0.5 + 1e-8)], rtol=1e-14)
    g[...] = 2.0
    p1 = p.copy()
    opt.step()
    m = 0.9 * 0.05 + 0.1 * 2.0  # 0.245
    v = 0.99 * 0.0025 + 0.01 * 4.0  # 0.042475
    want = p1 - 0.01 / (1 - 0.81) * m / (np.sqrt(v) / np.sqrt(1 - 0.99**2) + 1e-8)
    np.testing.assert_allclose(p, want, rtol=1e-14)


def test_adam_weight_decay():
    p, g = np.array([2.0]), np.array([0.0])
    nn.Adam([(p, g)], lr=0.1, weight_decay=0.5).step()  # g = 1.0: moves lr * sign
    np.testing.assert_allclose(p, [1.9], rtol=1e-7)


def test_optimisers_take_a_layer():
    net = nn.Linear(3, 2, rng=0)
    w = net.params["weight"]
    net.grads["weight"][...] = 1.0
    before = w.copy()
    nn.SGD(net, lr=0.5).step()
    np.testing.assert_allclose(w, before - 0.5)


def test_a_few_steps_fit_a_batch():
    net = small_net("NHWC", dropout=0.0)
    x = image(rng(0), 6, 2, 8, 8, "NHWC")
    labels = np.array([0, 1, 2, 0, 1, 2])
    ce = nn.SoftmaxCrossEntropy()
    opt = nn.Adam(net.parameters(), lr=0.02)
    losses = []
    for _ in range(60):
        losses.append(ce.forward(net.forward(x), labels))
        net.backward(ce.backward())
        opt.step()
    assert losses[-1] < 0.1 * losses[0]


# --------------------------------------------------------------------------
# error paths: each call is valid but for the one argument under test


def test_valid_baseline_constructors_do_not_raise():
    nn.Conv2d(
        2,
        4,
        3,
        stride=(1, 2),
        padding="same",
        dilation=1,
        groups=2,
        layout="NHWC",
        dtype=np.float64,
        rng=0,
        backend=naive,
    )
    nn.MaxPool2d(3, 2, padding=1, layout="NHWC")
    nn.AvgPool2d((2, 2), padding=(1, 0))
    nn.Linear(3, 4, rng=np.random.default_rng(0))
    nn.Dropout(0.0)
    nn.SGD([(np.zeros(2), np.zeros(2))], lr=0.1, momentum=0.9)
    nn.Adam([(np.zeros(2), np.zeros(2))], betas=[0.5, 0.0])


@pytest.mark.parametrize(
    "kwargs, exc, text",
    [
        (dict(in_channels=0), ValueError, "in_channels must be >= 1, got 0"),
        (dict(in_channels=2.0), TypeError, "in_channels must be an int, got 2.0"),
        (dict(out_channels=-1), ValueError, "out_channels must be >= 1, got -1"),
        (dict(kernel_size=(3, 0)), ValueError, "kernel_size must be >= 1, got (3, 0)"),
        (
            dict(kernel_size=(3, 3, 3)),
            ValueError,
            "kernel_size must be an int or a pair of ints, got (3, 3, 3)",
        ),
        (dict(stride=(0, 1)), ValueError, "stride must be >= 1, got (0, 1)"),
        (
            dict(stride=True),
            TypeError,
            "stride must be an int or a pair of ints, got True",
        ),
        (
            dict(padding="full"),
            ValueError,
            "padding must be 'same', 'valid', an int, a pair "
            "or (top, bottom, left, right), got 'full'",
        ),
        (dict(padding=-1), ValueError, "padding must be >= 0, got -1"),
        (
            dict(padding=(1, 1, 1)),
            ValueError,
            "padding must be an int, a pair or (top, bottom, left, right), got (1, 1, 1)",
        ),
        (
            dict(padding=1.5),
            TypeError,
            "padding must be 'same', 'valid', an int or a tuple of ints, got 1.5",
        ),
        (dict(dilation=0), ValueError, "dilation must be >= 1, got 0"),
        (
            dict(groups=3),
            ValueError,
            "groups must divide in_channels and out_channels, got "
            "groups=3, in_channels=2, out_channels=4",
        ),
        (dict(bias=1), TypeError, "bias must be a bool, got 1"),
        (dict(layout="NHCW"), ValueError, "layout must be 'NCHW' or 'NHWC', got 'NHCW'"),
        (
            dict(dtype=np.int32),
            TypeError,
            "dtype must be a float dtype, got <class 'numpy.int32'>",
        ),
        (
            dict(rng="seed"),
            TypeError,
            "rng must be None, an int seed or a numpy Generator, got 'seed'",
        ),
        (
            dict(backend=np),
            TypeError,
            "backend must provide conv2d, conv2d_backward "
            "(fastconv or fastconv.naive), got <module 'numpy'",
        ),
    ],
)
def test_conv2d_constructor_errors(kwargs, exc, text):
    args = dict(in_channels=2, out_channels=4, kernel_size=3)
    args.update(kwargs)
    with raises(exc, text):
        nn.Conv2d(**args)


@pytest.mark.parametrize(
    "cls, kwargs, exc, text",
    [
        (
            nn.MaxPool2d,
            dict(kernel_size=0),
            ValueError,
            "kernel_size must be >= 1, got 0",
        ),
        (
            nn.MaxPool2d,
            dict(kernel_size=2, stride=(1, 0)),
            ValueError,
            "stride must be >= 1, got (1, 0)",
        ),
        (
            nn.MaxPool2d,
            dict(kernel_size=2, padding=2),
            ValueError,
            "padding must be at most half the kernel for pooling: got padding "
            "(2, 2, 2, 2) for kernel_size (2, 2)",
        ),
        (
            nn.MaxPool2d,
            dict(kernel_size=2, ceil_mode="yes"),
            TypeError,
            "ceil_mode must be a bool, got 'yes'",
        ),
        (
            nn.MaxPool2d,
            dict(kernel_size=2, layout="nchw"),
            ValueError,
            "layout must be 'NCHW' or 'NHWC', got 'nchw'",
        ),
        (
            nn.MaxPool2d,
            dict(kernel_size=2, backend=naive.conv2d),
            TypeError,
            "backend must provide max_pool2d, max_pool2d_backward",
        ),
        (
            nn.AvgPool2d,
            dict(kernel_size=3, padding=(0, 0, 0, 2)),
            ValueError,
            "padding must be at most half the kernel for pooling: "
            "got padding (0, 0, 0, 2)",
        ),
        (
            nn.AvgPool2d,
            dict(kernel_size=2, count_include_pad=None),
            TypeError,
            "count_include_pad must be a bool, got None",
        ),
        (
            nn.AvgPool2d,
            dict(kernel_size=2, backend=object()),
            TypeError,
            "backend must provide avg_pool2d, avg_pool2d_backward",
        ),
        (
            nn.Linear,
            dict(in_features=0, out_features=2),
            ValueError,
            "in_features must be >= 1, got 0",
        ),
        (
            nn.Linear,
            dict(in_features=2, out_features=np.float64(2)),
            TypeError,
            "out_features must be an int, got",
        ),
        (
            nn.Linear,
            dict(in_features=2, out_features=2, dtype="int64"),
            TypeError,
            "dtype must be a float dtype, got 'int64'",
        ),
        (
            nn.Linear,
            dict(in_features=2, out_features=2, rng=1.5),
            TypeError,
            "rng must be None, an int seed or a numpy Generator, got 1.5",
        ),
        (nn.Dropout, dict(p=1.0), ValueError, "p must be in [0, 1), got 1.0"),
        (nn.Dropout, dict(p=-0.1), ValueError, "p must be in [0, 1), got -0.1"),
        (nn.Dropout, dict(p="0.5"), TypeError, "p must be a float in [0, 1), got '0.5'"),
    ],
)
def test_layer_constructor_errors(cls, kwargs, exc, text):
    with raises(exc, text):
        cls(**kwargs)


def test_sequential_rejects_a_non_layer():
    with raises(
        TypeError,
        "layers[1] must be a layer with forward, backward and parameters, got 'relu'",
    ):
        nn.Sequential(nn.ReLU(), "relu")


def test_load_state_dict_errors():
    net = nn.Sequential(nn.Linear(2, 3, rng=0))
    with raises(
        ValueError,
        "state must have the parameters ['0.bias', '0.weight'], got ['0.weight']",
    ):
        net.load_state_dict({"0.weight": np.zeros((3, 2))})
    with raises(ValueError, "state['0.weight'] must have shape (3, 2), got (2, 3)"):
        net.load_state_dict({"0.weight": np.zeros((2, 3)), "0.bias": np.zeros(3)})


def test_linear_input_shape_error():
    with raises(ValueError, "x must have shape (N, in_features=3), got shape (2, 4)"):
        nn.Linear(3, 1, rng=0).forward(np.zeros((2, 4)))


def test_engine_errors_surface_through_layers():
    with raises(ValueError, "but x (1, 3, 5, 5) has C=3"):
        nn.Conv2d(2, 1, 3, rng=0).forward(np.zeros((1, 3, 5, 5)))


@pytest.mark.parametrize(
    "logits, labels, exc, text",
    [
        (
            np.zeros(3),
            np.array([0]),
            ValueError,
            "logits must have shape (N, K) with N >= 1, got shape (3,)",
        ),
        (
            np.zeros((2, 3)),
            np.array([0.0, 1.0]),
            TypeError,
            "labels must be integers, got dtype float64",
        ),
        (
            np.zeros((2, 3)),
            np.array([0, 1, 2]),
            ValueError,
            "labels must have shape (2,) to match logits (2, 3), got shape (3,)",
        ),
        (
            np.zeros((2, 3)),
            np.array([0, 3]),
            ValueError,
            "labels must be in [0, 3), got [3]",
        ),
        (
            np.zeros((2, 3)),
            np.array([-1, 0]),
            ValueError,
            "labels must be in [0, 3), got [-1]",
        ),
    ],
)
def test_loss_errors(logits, labels, exc, text):
    with raises(exc, text):
        nn.SoftmaxCrossEntropy().forward(logits, labels)


PAIR = [(np.zeros(2), np.zeros(2))]


@pytest.mark.parametrize(
    "make, exc, text",
    [
        (lambda: nn.SGD(PAIR, lr=0), ValueError, "lr must be in (0.0, inf), got 0.0"),
        (lambda: nn.SGD(PAIR, lr="0.1"), TypeError, "lr must be a number, got '0.1'"),
        (
            lambda: nn.SGD(PAIR, momentum=-0.5),
            ValueError,
            "momentum must be in [0.0, inf), got -0.5",
        ),
        (
            lambda: nn.SGD(PAIR, weight_decay=float("nan")),
            ValueError,
            "weight_decay must be in [0.0, inf), got nan",
        ),
        (
            lambda: nn.Adam(PAIR, betas=(0.9, 1.0)),
            ValueError,
            "betas[1] must be in [0.0, 1.0), got 1.0",
        ),
        (
            lambda: nn.Adam(PAIR, betas=0.9),
            ValueError,
            "betas must be a pair of floats, got 0.9",
        ),
        (
            lambda: nn.Adam(PAIR, eps=-1e-8),
            ValueError,
            "eps must be in [0.0, inf), got -1e-08",
        ),
        (
            lambda: nn.SGD(5),
            TypeError,
            "params must be (param, grad) pairs or a layer, got 5",
        ),
        (
            lambda: nn.SGD([(np.zeros(2),)]),
            ValueError,
            "params[0] must be a (param, grad) pair, got 1 items",
        ),
        (
            lambda: nn.SGD([([0.0], np.zeros(1))]),
            TypeError,
            "params[0] must hold a float ndarray param, got [0.0]",
        ),
        (
            lambda: nn.Adam([(np.zeros(2), np.zeros(3))]),
            ValueError,
            "params[0] grad must be an ndarray of the param's shape (2,), got (3,)",
        ),
    ],
)
def test_optimiser_errors(make, exc, text):
    with raises(exc, text):
        make()


# --------------------------------------------------------------------------
# the 1-D layers: numerical gradients, both layouts


def sequence(gen, N, C, L, layout):
    return randn(gen, (N, C, L) if layout == "NCL" else (N, L, C))


@pytest.mark.parametrize("layout", ["NCL", "NLC"])
@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=3, padding="same"),
        dict(kernel_size=(2,), stride=(2,), padding=(1,), dilation=2),
        dict(kernel_size=3, groups=2, bias=False, padding="VALID"),
    ],
    ids=["same", "one-tuples-dilated", "groups-no-bias"],
)
def test_conv1d_gradients(kw, layout):
    x = sequence(rng(0), 2, 4, 9, layout)
    layer = check_layer(nn.Conv1d(4, 6, layout=layout, dtype=np.float64, rng=3, **kw), x)
    w = layer.params["weight"]
    assert w.shape == (
        (6, 4 // kw.get("groups", 1), layer.kernel_size[0])
        if layout == "NCL"
        else (layer.kernel_size[0], 4 // kw.get("groups", 1), 6)
    )


@pytest.mark.parametrize("layout", ["NCL", "NLC"])
@pytest.mark.parametrize(
    "kw",
    [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)],
    ids=["2", "3-s2-p1-ceil"],
)
def test_pool1d_gradients(kw, layout):
    x = sequence(rng(0), 2, 3, 9, layout)
    check_layer(nn.MaxPool1d(layout=layout, **kw), x)
    check_layer(nn.AvgPool1d(layout=layout, **kw), x)


def test_one_d_layers_compute_what_the_engine_computes():
    x = sequence(rng(1), 2, 3, 12, "NLC").astype(np.float32)
    conv = nn.Conv1d(3, 5, 3, stride=2, layout="NLC", rng=0)
    w, b = conv.params["weight"], conv.params["bias"]
    assert_same(conv.forward(x), fastconv.conv1d(x, w, b, stride=2, layout="NLC"))
    assert_same(
        nn.MaxPool1d(3, 2).forward(x.transpose(0, 2, 1)),
        fastconv.max_pool1d(x.transpose(0, 2, 1), 3, 2),
    )
    assert repr(conv).startswith("Conv1d(3, 5, kernel_size=(3,)")
    with raises(ValueError, "layout must be 'NCL' or 'NLC', got 'NCHW'"):
        nn.Conv1d(3, 5, 3, layout="NCHW")
    with raises(ValueError, "kernel_size must be an int or a 1-tuple, got (3, 3)"):
        nn.MaxPool1d((3, 3))
    with raises(ValueError, "padding must be at most half"):
        nn.AvgPool1d(2, padding=2)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("size", [1, (3, 2), (None, 4)], ids=["global", "uneven", "keep"])
def test_adaptive_avg_pool_gradients(size, layout):
    x = image(rng(0), 2, 3, 5, 6, layout)
    layer = check_layer(nn.AdaptiveAvgPool2d(size, layout=layout), x)
    naive_layer = nn.AdaptiveAvgPool2d(size, layout=layout, backend=fastconv.naive)
    np.testing.assert_allclose(layer.forward(x), naive_layer.forward(x))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=3),
        dict(kernel_size=4, stride=2, padding=1),
        dict(kernel_size=3, stride=2, padding=1, output_padding=1, groups=2, bias=False),
    ],
    ids=["plain", "dcgan", "output-padding-groups"],
)
def test_conv_transpose2d_gradients(kw, layout):
    x = image(rng(0), 2, 4, 3, 4, layout)
    layer = nn.ConvTranspose2d(4, 6, layout=layout, dtype=np.float64, rng=3, **kw)
    check_layer(layer, x)
    g = kw.get("groups", 1)
    k = kw["kernel_size"]
    shape = (4, 6 // g, k, k) if layout == "NCHW" else (k, k, 6 // g, 4)
    assert layer.params["weight"].shape == shape


def test_conv_transpose2d_layer_refuses_string_padding():
    with raises(ValueError, "padding must be an int or a pair for a transposed"):
        nn.ConvTranspose2d(2, 2, 3, padding="same")


@pytest.mark.parametrize("layout", ["NCDHW", "NDHWC"])
def test_three_d_layers_gradients(layout):
    shape = (1, 2, 3, 4, 4) if layout == "NCDHW" else (1, 3, 4, 4, 2)
    x = randn(rng(0), shape)
    check_layer(
        nn.Conv3d(2, 3, 2, padding=(1, 0, 1), layout=layout, dtype=np.float64, rng=3), x
    )
    check_layer(nn.MaxPool3d((2, 2, 2), stride=1, layout=layout), x)
    check_layer(nn.AvgPool3d(2, stride=(1, 2, 2), padding=1, layout=layout), x)
    with raises(ValueError, "kernel_size must be an int or a triple of ints, got (2, 2)"):
        nn.MaxPool3d((2, 2))
    with raises(ValueError, "padding must be at most half"):
        nn.AvgPool3d(2, padding=(0, 0, 2))


# --------------------------------------------------------------------------
# transposed convolution in 1-D and 3-D, adaptive pooling in 1-D to 3-D:
# numerical gradients (float64), then forward and backward against the
# oracle's functions called directly, on both backends, in both dtypes

#: channels-first and channels-last layouts, by the rank of the layer
RANK_LAYOUTS = {1: ("NCL", "NLC"), 2: LAYOUTS, 3: ("NCDHW", "NDHWC")}


def array_in(gen, N, C, sizes, layout, dtype=np.float64):
    """Random (N, C, *sizes) or (N, *sizes, C) array, as `layout` says."""
    shape = (N, C, *sizes) if layout[1] == "C" else (N, *sizes, C)
    return randn(gen, shape, dtype)


# (id, layer, kwargs, (N, C_in, F, sizes)): why it is here
TRANSPOSED_CASES = [
    ("1d-plain", nn.ConvTranspose1d, dict(kernel_size=3), (2, 4, 6, (5,))),
    (
        "1d-stride-output-padding-groups",
        nn.ConvTranspose1d,
        dict(kernel_size=(3,), stride=2, padding=1, output_padding=(1,), groups=2),
        (2, 4, 6, (5,)),
    ),
    (
        "1d-output-padding-below-dilation",  # stride 1: allowed by the dilation
        nn.ConvTranspose1d,
        dict(kernel_size=2, dilation=3, padding=(1,), output_padding=2, bias=False),
        (2, 3, 2, (4,)),
    ),
    (
        "3d-per-axis",
        nn.ConvTranspose3d,
        dict(
            kernel_size=(2, 3, 2),
            stride=(2, 1, 2),
            padding=(0, 1, 1),
            output_padding=(1, 0, 1),
            groups=2,
        ),
        (1, 4, 2, (2, 3, 2)),
    ),
    (
        "3d-dilated-no-bias",
        nn.ConvTranspose3d,
        dict(kernel_size=2, dilation=(1, 2, 1), padding=1, bias=False),
        (2, 2, 3, (2, 2, 3)),
    ),
]


def _rank(cls):
    return 1 if cls.__name__.endswith("1d") else 3 if cls.__name__.endswith("3d") else 2


@pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize("case", TRANSPOSED_CASES, ids=[c[0] for c in TRANSPOSED_CASES])
def test_conv_transpose_1d_3d_gradients(case, last):
    _, cls, kw, (N, C, F, sizes) = case
    layout = RANK_LAYOUTS[_rank(cls)][last]
    x = array_in(rng(0), N, C, sizes, layout)
    layer = cls(C, F, layout=layout, dtype=np.float64, rng=3, **kw)
    if "bias" in layer.params:
        layer.params["bias"][...] = randn(rng(2), (F,))
    check_layer(layer, x)
    g = kw.get("groups", 1)
    k = layer.kernel_size
    assert len(k) == len(sizes)
    want = (C, F // g) + k if not last else k + (F // g, C)
    assert layer.params["weight"].shape == want
    assert set(layer.params) == (
        {"weight"} if kw.get("bias") is False else {"weight", "bias"}
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", [fastconv, naive], ids=["fastconv", "naive"])
@pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize("case", TRANSPOSED_CASES, ids=[c[0] for c in TRANSPOSED_CASES])
def test_conv_transpose_1d_3d_match_the_oracle(case, last, backend, dtype):
    _, cls, kw, (N, C, F, sizes) = case
    rank = _rank(cls)
    layout = RANK_LAYOUTS[rank][last]
    layer = cls(C, F, layout=layout, dtype=dtype, rng=3, backend=backend, **kw)
    if "bias" in layer.params:
        layer.params["bias"][...] = randn(rng(2), (F,))
    x = array_in(rng(0), N, C, sizes, layout, dtype)
    for _ in range(2):  # the second step runs into the first one's kept results
        y = layer.forward(x)
        r = randn(rng(1), y.shape, dtype)
        gx = layer.backward(r)
    # the oracle, given the case's arguments as the layer was
    w, b = layer.params["weight"], layer.params.get("bias")
    opts = {k: v for k, v in kw.items() if k not in ("kernel_size", "bias")}
    forward = getattr(naive, f"conv_transpose{rank}d")
    backward = getattr(naive, f"conv_transpose{rank}d_backward")
    assert_close(y, forward(x, w, b, layout=layout, **opts), dtype)
    want_gx, want_gw, want_gb = backward(r, x, w, layout=layout, **opts)
    assert_close(gx, want_gx, dtype)
    assert_close(layer.grads["weight"], want_gw, dtype)
    if b is not None:
        assert_close(layer.grads["bias"], want_gb, dtype)


# (id, layer, output_size, (N, C, sizes)): why it is here
ADAPTIVE_CASES = [
    ("max1d-overlapping", nn.AdaptiveMaxPool1d, 3, (2, 3, (7,))),
    ("avg1d-one-tuple", nn.AdaptiveAvgPool1d, (3,), (2, 3, (7,))),
    ("max1d-larger-than-input", nn.AdaptiveMaxPool1d, 5, (2, 2, (3,))),
    ("max2d-keep-width", nn.AdaptiveMaxPool2d, (3, None), (2, 3, (5, 6))),
    ("max2d-global", nn.AdaptiveMaxPool2d, 1, (2, 3, (4, 5))),
    ("max3d-keep-height", nn.AdaptiveMaxPool3d, (2, None, 3), (1, 2, (3, 5, 4))),
    ("max3d-one-tuple", nn.AdaptiveMaxPool3d, (2,), (2, 2, (3, 4, 3))),
    ("avg3d-keep-height", nn.AdaptiveAvgPool3d, (2, None, 3), (1, 2, (3, 5, 4))),
    ("avg3d-global", nn.AdaptiveAvgPool3d, 1, (2, 3, (3, 2, 4))),
]


@pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=[c[0] for c in ADAPTIVE_CASES])
def test_adaptive_pool_1d_to_3d_gradients(case, last):
    _, cls, size, (N, C, sizes) = case
    layout = RANK_LAYOUTS[_rank(cls)][last]
    check_layer(cls(size, layout=layout), array_in(rng(0), N, C, sizes, layout))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", [fastconv, naive], ids=["fastconv", "naive"])
@pytest.mark.parametrize("last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=[c[0] for c in ADAPTIVE_CASES])
def test_adaptive_pool_1d_to_3d_match_the_oracle(case, last, backend, dtype):
    _, cls, size, (N, C, sizes) = case
    rank = _rank(cls)
    layout = RANK_LAYOUTS[rank][last]
    layer = cls(size, layout=layout, backend=backend)
    x = array_in(rng(0), N, C, sizes, layout, dtype)
    for _ in range(2):  # the second step runs into the first one's kept results
        y = layer.forward(x)
        r = randn(rng(1), y.shape, dtype)
        gx = layer.backward(r)
    kind = "max" if "Max" in cls.__name__ else "avg"
    forward = getattr(naive, f"adaptive_{kind}_pool{rank}d")
    backward = getattr(naive, f"adaptive_{kind}_pool{rank}d_backward")
    want = forward(x, size, layout=layout)
    # max pooling selects: its values are exact; its backward sums where windows
    # overlap (in float64 in the oracle), so it gets the tolerance
    (assert_same if kind == "max" else assert_close)(y, want)
    assert_close(gx, backward(r, x, layout=layout), dtype)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_adaptive_max_pool_backward_is_given_the_forward_indices(rank):
    """The layer hands its backward the very indices its forward returned."""
    seen = {}

    def spy(name):
        def call(*args, **kwargs):
            seen[name] = (args, kwargs, getattr(naive, name)(*args, **kwargs))
            return seen[name][2]

        return call

    names = [f"adaptive_max_pool{rank}d", f"adaptive_max_pool{rank}d_backward"]
    backend = types.SimpleNamespace(**{n: spy(n) for n in names})
    cls = {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d, 3: nn.AdaptiveMaxPool3d}
    layer = cls[rank](2, backend=backend)
    x = array_in(rng(0), 2, 3, (3,) * rank, RANK_LAYOUTS[rank][0])
    y = layer.forward(x)
    layer.backward(np.ones_like(y))
    _, kwargs, (_, indices) = seen[names[0]]
    assert kwargs["return_indices"] is True
    assert seen[names[1]][1]["indices"] is indices


def test_new_layers_defaults_and_initialisation():
    for cls, layout in [
        (nn.ConvTranspose1d, "NCL"),
        (nn.ConvTranspose2d, "NCHW"),
        (nn.ConvTranspose3d, "NCDHW"),
    ]:
        layer = cls(2, 4, 3, rng=0)
        assert layer.layout == layout and layer.backend is fastconv
        assert layer.output_padding == (0,) * _rank(cls)
    for cls, layout in [
        (nn.AdaptiveMaxPool1d, "NCL"),
        (nn.AdaptiveAvgPool1d, "NCL"),
        (nn.AdaptiveMaxPool2d, "NCHW"),
        (nn.AdaptiveMaxPool3d, "NCDHW"),
        (nn.AdaptiveAvgPool3d, "NCDHW"),
    ]:
        assert cls(2).layout == layout
    # He initialisation on the transposed fan-in: F/groups * KD * KH * KW
    w = nn.ConvTranspose3d(2, 64, 3, groups=2, dtype=np.float64, rng=5).params["weight"]
    assert w.shape == (2, 32, 3, 3, 3)
    assert w.std() == pytest.approx(np.sqrt(2 / (32 * 27)), rel=0.05)
    assert nn.AdaptiveAvgPool3d([2, None, np.int64(1)]).output_size == (2, None, 1)


def test_valid_baseline_of_the_new_layers_errors():
    nn.ConvTranspose1d(
        4, 6, (3,), stride=2, padding=(1,), output_padding=1, groups=2, layout="NLC"
    )
    nn.ConvTranspose3d(4, 6, 3, stride=(1, 2, 1), padding=1, groups=2, layout="NDHWC")
    nn.AdaptiveMaxPool1d((2,), layout="NLC", backend=naive)
    nn.AdaptiveAvgPool1d(2, layout="NCL")
    nn.AdaptiveMaxPool2d((None, 2), layout="NHWC")
    nn.AdaptiveMaxPool3d((2, None, 1), layout="NDHWC", backend=naive)
    nn.AdaptiveAvgPool3d(None)


@pytest.mark.parametrize(
    "cls, kwargs, exc, text",
    [
        (
            nn.ConvTranspose1d,
            dict(padding="same"),
            ValueError,
            "padding must be an int or a 1-tuple for a transposed convolution, "
            "got 'same'",
        ),
        (
            nn.ConvTranspose1d,
            dict(output_padding=(1, 1)),
            ValueError,
            "output_padding must be an int or a 1-tuple, got (1, 1)",
        ),
        (
            nn.ConvTranspose1d,
            dict(kernel_size=(3, 3)),
            ValueError,
            "kernel_size must be an int or a 1-tuple, got (3, 3)",
        ),
        (
            nn.ConvTranspose1d,
            dict(layout="NCHW"),
            ValueError,
            "layout must be 'NCL' or 'NLC', got 'NCHW'",
        ),
        (
            nn.ConvTranspose1d,
            dict(backend=naive.conv1d),
            TypeError,
            "backend must provide conv_transpose1d, conv_transpose1d_backward",
        ),
        (
            nn.ConvTranspose3d,
            dict(padding="valid"),
            ValueError,
            "padding must be an int or a triple for a transposed convolution, "
            "got 'valid'",
        ),
        (
            nn.ConvTranspose3d,
            dict(output_padding=-1),
            ValueError,
            "output_padding must be >= 0, got -1",
        ),
        (
            nn.ConvTranspose3d,
            dict(stride=(1, 2)),
            ValueError,
            "stride must be an int or a triple of ints, got (1, 2)",
        ),
        (
            nn.ConvTranspose3d,
            dict(groups=4),
            ValueError,
            "groups must divide in_channels and out_channels, got groups=4, "
            "in_channels=4, out_channels=6",
        ),
        (
            nn.ConvTranspose3d,
            dict(layout="NHWC"),
            ValueError,
            "layout must be 'NCDHW' or 'NDHWC', got 'NHWC'",
        ),
    ],
)
def test_conv_transpose_1d_3d_constructor_errors(cls, kwargs, exc, text):
    args = dict(in_channels=4, out_channels=6, kernel_size=3, groups=2)
    args.update(kwargs)
    with raises(exc, text):
        cls(**args)


@pytest.mark.parametrize(
    "cls, kwargs, exc, text",
    [
        (
            nn.AdaptiveAvgPool1d,
            dict(output_size=None),
            TypeError,
            "output_size must be an int or a 1-tuple, got None",  # as torch
        ),
        (
            nn.AdaptiveMaxPool1d,
            dict(output_size=(2, 2)),
            ValueError,
            "output_size must be an int or a 1-tuple, got (2, 2)",
        ),
        (
            nn.AdaptiveMaxPool1d,
            dict(output_size=0),
            ValueError,
            "output_size must be >= 1, got 0",
        ),
        (
            nn.AdaptiveMaxPool2d,
            dict(output_size=(2, 2, 2)),
            ValueError,
            "output_size must be an int, None or a pair of them (None keeps a size), "
            "got (2, 2, 2)",
        ),
        (
            nn.AdaptiveMaxPool2d,
            dict(output_size=(2, True)),
            TypeError,
            "output_size must be an int, None or a pair of them (None keeps a size), "
            "got (2, True)",
        ),
        (
            nn.AdaptiveAvgPool2d,
            dict(output_size=(None, -1)),
            ValueError,
            "output_size must be >= 1, got (None, -1)",
        ),
        (
            nn.AdaptiveMaxPool3d,
            dict(output_size=(2, 2)),
            ValueError,
            "output_size must be an int, None or a triple of them (None keeps a "
            "size), got (2, 2)",
        ),
        (
            nn.AdaptiveAvgPool3d,
            dict(output_size=2.0),
            TypeError,
            "output_size must be an int, None or a triple of them (None keeps a "
            "size), got 2.0",
        ),
        (
            nn.AdaptiveAvgPool3d,
            dict(output_size=2, layout="NCHW"),
            ValueError,
            "layout must be 'NCDHW' or 'NDHWC', got 'NCHW'",
        ),
        (
            nn.AdaptiveMaxPool1d,
            dict(output_size=2, backend=naive.max_pool1d),
            TypeError,
            "backend must provide adaptive_max_pool1d, adaptive_max_pool1d_backward",
        ),
    ],
)
def test_adaptive_pool_constructor_errors(cls, kwargs, exc, text):
    with raises(exc, text):
        cls(**kwargs)
