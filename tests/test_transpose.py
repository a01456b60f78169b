"""Transposed convolution against the oracle's scatter loops and PyTorch (if there)."""

import numpy as np
import pytest

import fastconv
from fastconv import naive
from tests.helpers import DTYPES, LAYOUTS, assert_close, randn, rng

# (id, (N, C_in, H, W), F, kernel, kwargs): why it is here
CASES = [
    ("plain", (2, 3, 5, 6), 4, 3, dict()),
    ("dcgan", (2, 8, 4, 4), 4, 4, dict(stride=2, padding=1)),  # 4x4 -> 8x8
    ("output-padding", (1, 3, 5, 5), 2, 3, dict(stride=2, padding=1, output_padding=1)),
    # output_padding >= stride, allowed by the dilation: the extra rows are zero
    ("op-past-stride", (1, 2, 4, 5), 3, 3, dict(dilation=2, output_padding=1)),
    ("grouped", (2, 4, 4, 4), 6, 3, dict(groups=2, stride=(2, 1), padding=(1, 0))),
    ("non-square", (1, 3, 3, 4), 2, (2, 3), dict(stride=(1, 2))),
    ("pointwise", (2, 5, 3, 3), 4, 1, dict()),
    ("stride3", (1, 2, 3, 3), 2, 2, dict(stride=3)),  # gaps in the output
    ("empty-batch", (0, 3, 4, 4), 2, 3, dict()),
]


def _arrays(case, layout, dtype):
    _, (N, C, H, W), F, k, kw = case
    kh, kw_ = (k, k) if isinstance(k, int) else k
    g = kw.get("groups", 1)
    gen = rng(1)
    x = randn(gen, (N, C, H, W), dtype)
    w = randn(gen, (C, F // g, kh, kw_), dtype)
    b = randn(gen, (F,), dtype)
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        w = np.ascontiguousarray(w.transpose(2, 3, 1, 0))  # (KH, KW, F/groups, C_in)
    return x, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv_transpose2d_and_its_gradients_match_the_oracle(case, layout, dtype):
    x, w, b = _arrays(case, layout, dtype)
    kw = dict(case[4], layout=layout)
    out = fastconv.conv_transpose2d(x, w, b, **kw)
    assert_close(out, naive.conv_transpose2d(x, w, b, **kw))
    gy = randn(rng(2), out.shape, dtype)
    got = fastconv.conv_transpose2d_backward(gy, x, w, **kw)
    want = naive.conv_transpose2d_backward(gy, x, w, **kw)
    for g, r in zip(got, want):
        assert_close(g, r)


# cases whose backward builds its columns once for grad_x and grad_weight:
# im2col in every pass, units of whole groups (batch >= the slots)
FUSED = [
    ("dcgan", (8, 8, 6, 6), 16, 4, dict(stride=2, padding=1)),
    ("grouped", (8, 8, 5, 5), 8, 3, dict(groups=2, padding=1)),
    ("few-filters", (8, 6, 5, 5), 2, 3, dict(stride=2)),  # NHWC: planar columns
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", FUSED, ids=[c[0] for c in FUSED])
def test_conv_transpose2d_backward_fused_pass_equals_the_passes_apart(
    case, layout, monkeypatch
):
    from fastconv._engine import conv_driver, im2col

    x, w, _ = _arrays(case, layout, np.float64)
    kw = dict(case[4], layout=layout, algorithm="im2col")
    gy = randn(rng(2), fastconv.conv_transpose2d(x, w, **kw).shape, np.float64)
    calls = []
    run = im2col.run_backward
    monkeypatch.setattr(
        im2col,
        "run_backward",
        lambda *a, **k: calls.append(k.get("want_y", False)) or run(*a, **k),
    )
    fused = fastconv.conv_transpose2d_backward(gy, x, w, **kw)
    assert calls == [True]  # one pass, its columns serving both GEMMs
    for g, r in zip(
        fused, naive.conv_transpose2d_backward(gy, x, w, **case[4], layout=layout)
    ):
        assert_close(g, r)
    # the same GEMMs on the same columns as the forward kernel's: bit for bit
    monkeypatch.setattr(
        conv_driver,
        "grad_weight_and_forward",
        lambda plan, go, xx, ww: (
            conv_driver.grad_weight(plan, go, xx, ww)[0],
            conv_driver.forward(plan, xx, ww, None),
        ),
    )
    apart = fastconv.conv_transpose2d_backward(gy, x, w, **kw)
    for a, b in zip(fused, apart):
        np.testing.assert_array_equal(a, b)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    # <conv2d(y, w), x> == <y, conv_transpose2d(x, w)> for the same arguments
    gen = rng(3)
    y = randn(gen, (2, 4, 9, 9))
    w = randn(gen, (3, 4, 3, 3))
    kw = dict(stride=2, padding=1)
    x = randn(gen, fastconv.conv2d(y, w, **kw).shape)
    lhs = np.vdot(fastconv.conv2d(y, w, **kw), x)
    rhs = np.vdot(y, fastconv.conv_transpose2d(x, w, **kw))
    assert np.isclose(lhs, rhs, rtol=1e-12)


def test_conv_transpose2d_arguments_are_checked_with_their_names():
    x, w = np.ones((1, 3, 4, 4)), np.ones((3, 2, 3, 3))
    with pytest.raises(ValueError, match="output_padding must be smaller than either"):
        fastconv.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding must be an int or a pair for a transp"):
        fastconv.conv_transpose2d(x, w, padding="same")
    with pytest.raises(ValueError, match=r"must have x's C_in=3 channels, got 2"):
        fastconv.conv_transpose2d(x, np.ones((2, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(F,\) = \(2,\)"):
        fastconv.conv_transpose2d(x, w, np.ones(3))
    with pytest.raises(ValueError, match="grad_out must have the output's shape"):
        fastconv.conv_transpose2d_backward(np.ones((1, 2, 5, 5)), x, w)
    with pytest.raises(ValueError, match="output would be"):
        fastconv.conv_transpose2d(np.ones((1, 3, 1, 1)), w, padding=2)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES[1:5], ids=[c[0] for c in CASES[1:5]])
def test_conv_transpose2d_matches_torch_and_autograd(case, layout):
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    x, w, b = _arrays(case, "NCHW", np.float64)
    kw = case[4]
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, **kw)
    gy = randn(rng(4), tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    refs = [ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()]
    if layout == "NHWC":
        t4 = (0, 2, 3, 1)
        x, gy = x.transpose(t4), gy.transpose(t4)
        w = w.transpose(2, 3, 1, 0)
        refs = [
            refs[0].transpose(t4),
            refs[1].transpose(t4),
            refs[2].transpose(2, 3, 1, 0),
            refs[3],
        ]
    refs = [np.ascontiguousarray(r) for r in refs]
    out = fastconv.conv_transpose2d(x, w, b, layout=layout, **kw)
    assert_close(out, refs[0])
    for g, r in zip(
        fastconv.conv_transpose2d_backward(gy, x, w, layout=layout, **kw), refs[1:]
    ):
        assert_close(g, r)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCL", "NLC"])
@pytest.mark.parametrize(
    "kw",
    [dict(), dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=(2,))],
    ids=["plain", "s2-op1", "grouped-dilated"],
)
def test_conv_transpose1d_matches_the_oracle(kw, layout, dtype):
    gen = rng(5)
    x = randn(gen, (2, 4, 9), dtype)
    w = randn(gen, (4, 6 // kw.get("groups", 1), 3), dtype)
    b = randn(gen, (6,), dtype)
    if layout == "NLC":
        x, w = np.ascontiguousarray(x.transpose(0, 2, 1)), np.ascontiguousarray(w.T)
    kw = dict(kw, layout=layout)
    out = fastconv.conv_transpose1d(x, w, b, **kw)
    assert_close(out, naive.conv_transpose1d(x, w, b, **kw))
    gy = randn(rng(6), out.shape, dtype)
    for g, r in zip(
        fastconv.conv_transpose1d_backward(gy, x, w, **kw),
        naive.conv_transpose1d_backward(gy, x, w, **kw),
    ):
        assert_close(g, r)


def test_conv_transpose1d_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    gen = rng(7)
    x, w = randn(gen, (2, 4, 11)), randn(gen, (4, 3, 5))
    ref = torch.nn.functional.conv_transpose1d(
        torch.tensor(x), torch.tensor(w), stride=3, padding=2, output_padding=1
    )
    got = fastconv.conv_transpose1d(x, w, stride=3, padding=2, output_padding=1)
    assert_close(got, ref.numpy())
