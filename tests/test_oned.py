"""1-D convolution and pooling against the oracle, and against PyTorch if importable."""

import numpy as np
import pytest

import fastconv
from fastconv import naive
from tests.helpers import DTYPES, assert_close, assert_same, randn, rng

LAYOUTS_1D = ("NCL", "NLC")

# (id, N, C, L, F, K, kwargs): why it is here
CONV_CASES = [
    ("plain", 2, 3, 16, 4, 3, dict()),
    ("padded", 2, 3, 15, 5, 3, dict(padding=1)),
    ("one-tuples", 1, 2, 17, 3, (5,), dict(stride=(2,), padding=(2,), dilation=(1,))),
    ("same", 2, 4, 13, 4, 4, dict(padding="same")),
    ("same-s2", 2, 3, 13, 2, 3, dict(padding="same", stride=2)),
    ("valid", 1, 3, 9, 2, 9, dict(padding="valid")),  # kernel = length
    ("dilated", 2, 2, 20, 3, 3, dict(dilation=3, padding=2)),
    ("grouped", 2, 6, 12, 4, 3, dict(groups=2, stride=3)),
    ("depthwise", 1, 8, 32, 8, 5, dict(groups=8, padding=2)),
    ("pointwise", 3, 16, 10, 8, 1, dict()),
    ("empty-batch", 0, 3, 8, 2, 3, dict()),
]


def _x(shape_ncl, layout, dtype, seed):
    N, C, L = shape_ncl
    x = randn(rng(seed), (N, C, L), dtype)
    return x if layout == "NCL" else np.ascontiguousarray(x.transpose(0, 2, 1))


def _w(F, Cg, K, layout, dtype, seed):
    w = randn(rng(seed), (F, Cg, K), dtype)
    return w if layout == "NCL" else np.ascontiguousarray(w.transpose(2, 1, 0))


def _k(K):
    return K[0] if isinstance(K, tuple) else K


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS_1D)
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv1d_and_its_gradients_match_the_oracle(case, layout, dtype):
    _, N, C, L, F, K, kw = case
    x = _x((N, C, L), layout, dtype, 1)
    w = _w(F, C // kw.get("groups", 1), _k(K), layout, dtype, 2)
    b = randn(rng(3), (F,), dtype)
    kw = dict(kw, layout=layout)
    out = fastconv.conv1d(x, w, b, **kw)
    ref = naive.conv1d(x, w, b, **kw)
    assert out.ndim == 3
    assert_close(out, ref)
    gy = randn(rng(4), out.shape, dtype)
    for got, want in zip(
        fastconv.conv1d_backward(gy, x, w, **kw), naive.conv1d_backward(gy, x, w, **kw)
    ):
        assert_close(got, want)


# (id, N, C, L, kwargs)
POOL_CASES = [
    ("2s2", 2, 3, 16, dict(kernel_size=2)),
    ("3s2-pad", 2, 4, 17, dict(kernel_size=3, stride=2, padding=1)),
    ("one-tuples", 1, 2, 15, dict(kernel_size=(3,), stride=(1,), padding=(1,))),
    ("ceil", 2, 2, 14, dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("ceil-pad", 1, 3, 10, dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ("stride>kernel", 1, 2, 13, dict(kernel_size=2, stride=3)),
    ("many-channels", 2, 24, 12, dict(kernel_size=2)),  # NLC: channel kernels
    ("empty-batch", 0, 3, 8, dict(kernel_size=2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS_1D)
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool1d_and_its_gradients_match_the_oracle(case, layout, dtype):
    _, N, C, L, kw = case
    # a permutation: no ties, so argmax and gradients are unambiguous
    vals = rng(5).permutation(N * C * L).astype(dtype).reshape(N, C, L)
    x = vals if layout == "NCL" else np.ascontiguousarray(vals.transpose(0, 2, 1))
    kw = dict(kw, layout=layout)
    out, idx = fastconv.max_pool1d(x, return_indices=True, **kw)
    ref, ref_idx = naive.max_pool1d(x, return_indices=True, **kw)
    assert_same(out, ref)
    assert_same(idx, ref_idx)
    assert_same(fastconv.max_pool1d(x, **kw), ref)
    gy = randn(rng(6), out.shape, dtype)
    want = naive.max_pool1d_backward(gy, x, **kw)
    assert_close(fastconv.max_pool1d_backward(gy, x, **kw), want)
    assert_close(fastconv.max_pool1d_backward(gy, x, indices=idx, **kw), want)
    for include in (True, False):
        akw = dict(kw, count_include_pad=include)
        out = fastconv.avg_pool1d(x, **akw)
        assert_close(out, naive.avg_pool1d(x, **akw))
        assert_close(
            fastconv.avg_pool1d_backward(gy, x, **akw),
            naive.avg_pool1d_backward(gy, x, **akw),
        )


def test_the_views_cost_no_copy_of_contiguous_results():
    x = randn(rng(7), (2, 3, 10), np.float32)
    out = fastconv.conv1d(x, randn(rng(8), (4, 3, 3), np.float32))
    assert out.flags.c_contiguous and out.dtype == np.float32 and out.shape == (2, 4, 8)
    assert fastconv.max_pool1d(x, 2).base is not None  # a view of the 2-D result


def test_one_d_arguments_are_checked_with_their_names():
    x = np.ones((2, 3, 8))
    w = np.ones((4, 3, 3))
    with pytest.raises(
        ValueError, match=r"x must be 3-D, got an array of shape \(2, 3\)"
    ):
        fastconv.conv1d(np.ones((2, 3)), w)
    with pytest.raises(ValueError, match="weight must be 3-D"):
        fastconv.conv1d(x, np.ones((4, 3, 3, 3)))
    with pytest.raises(ValueError, match="layout must be 'NCL' or 'NLC', got 'NCHW'"):
        fastconv.conv1d(x, w, layout="NCHW")
    with pytest.raises(
        ValueError, match=r"padding must be an int or a 1-tuple, got \(1, 1\)"
    ):
        fastconv.conv1d(x, w, padding=(1, 1))
    with pytest.raises(TypeError, match="stride must be an int or a 1-tuple, got 1.5"):
        fastconv.max_pool1d(x, 2, stride=1.5)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        fastconv.avg_pool1d(x, 0)
    with pytest.raises(ValueError, match="indices must be 3-D"):
        fastconv.max_pool1d_backward(np.ones((2, 3, 4)), x, 2, indices=np.zeros((2, 3)))


@pytest.mark.parametrize("layout", LAYOUTS_1D)
def test_one_d_matches_torch(layout):
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    F = torch.nn.functional
    gen = rng(9)
    x = randn(gen, (3, 6, 40), np.float64)
    w = randn(gen, (8, 3, 5), np.float64)
    b = randn(gen, (8,), np.float64)
    kw = dict(stride=2, padding=2, dilation=1, groups=2)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ty = F.conv1d(tx, tw, tb, **kw)
    gy = randn(gen, tuple(ty.shape), np.float64)
    ty.backward(torch.tensor(gy))

    def nlc(a):
        return np.ascontiguousarray(a.transpose(0, 2, 1)) if layout == "NLC" else a

    wl = w if layout == "NCL" else np.ascontiguousarray(w.transpose(2, 1, 0))
    out = fastconv.conv1d(nlc(x), wl, b, layout=layout, **kw)
    assert_close(out, nlc(ty.detach().numpy()))
    gx, gw, gb = fastconv.conv1d_backward(nlc(gy), nlc(x), wl, layout=layout, **kw)
    assert_close(gx, nlc(tx.grad.numpy()))
    tgw = tw.grad.numpy()
    assert_close(
        gw, tgw if layout == "NCL" else np.ascontiguousarray(tgw.transpose(2, 1, 0))
    )
    assert_close(gb, tb.grad.numpy())
    pkw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    tv, ti = F.max_pool1d(torch.tensor(x), return_indices=True, **pkw)
    v, i = fastconv.max_pool1d(nlc(x), return_indices=True, layout=layout, **pkw)
    assert_same(v, nlc(tv.numpy()))
    assert_same(i, nlc(ti.numpy()))
    ta = F.avg_pool1d(torch.tensor(x), count_include_pad=False, **pkw)
    assert_close(
        fastconv.avg_pool1d(nlc(x), count_include_pad=False, layout=layout, **pkw),
        nlc(ta.numpy()),
    )
