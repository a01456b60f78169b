"""3-D convolution against the oracle's defining sum, and PyTorch if importable."""

import numpy as np
import pytest

import fastconv
from fastconv import naive
from tests.helpers import DTYPES, assert_close, assert_same, randn, rng

LAYOUTS_3D = ("NCDHW", "NDHWC")

# (id, (N, C, D, H, W), F, kernel (KD, KH, KW), kwargs)
CASES = [
    ("plain", (2, 3, 4, 5, 5), 4, (3, 3, 3), dict()),
    ("padded-s2", (1, 2, 6, 7, 6), 3, (3, 3, 3), dict(stride=2, padding=1)),
    ("same", (1, 2, 5, 6, 4), 2, (2, 3, 3), dict(padding="same")),
    (
        "dilated-grouped",
        (1, 4, 7, 6, 6),
        4,
        (2, 2, 3),
        dict(dilation=(2, 1, 2), groups=2),
    ),
    ("depth-only-padding", (2, 2, 3, 4, 4), 2, (3, 1, 1), dict(padding=(1, 0, 0))),
    ("one-tuples", (1, 2, 5, 5, 5), 2, (2, 2, 2), dict(stride=(2,), padding=(1,))),
    ("empty-batch", (0, 2, 3, 3, 3), 2, (2, 2, 2), dict()),
]


def _arrays(case, layout, dtype):
    _, (N, C, D, H, W), F, k, kw = case
    gen = rng(1)
    x = randn(gen, (N, C, D, H, W), dtype)
    w = randn(gen, (F, C // kw.get("groups", 1)) + k, dtype)
    b = randn(gen, (F,), dtype)
    if layout == "NDHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 4, 1))
        w = np.ascontiguousarray(w.transpose(2, 3, 4, 1, 0))
    return x, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS_3D)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv3d_and_its_gradients_match_the_oracle(case, layout, dtype):
    x, w, b = _arrays(case, layout, dtype)
    kw = dict(case[4], layout=layout)
    out = fastconv.conv3d(x, w, b, **kw)
    assert_close(out, naive.conv3d(x, w, b, **kw))
    gy = randn(rng(2), out.shape, dtype)
    for g, r in zip(
        fastconv.conv3d_backward(gy, x, w, **kw), naive.conv3d_backward(gy, x, w, **kw)
    ):
        assert_close(g, r)


def test_conv3d_arguments_are_checked_with_their_names():
    x, w = np.ones((1, 2, 4, 4, 4)), np.ones((3, 2, 3, 3, 3))
    with pytest.raises(ValueError, match="x must be 5-D"):
        fastconv.conv3d(np.ones((1, 2, 4, 4)), w)
    with pytest.raises(ValueError, match="layout must be 'NCDHW' or 'NDHWC'"):
        fastconv.conv3d(x, w, layout="NCHW")
    with pytest.raises(ValueError, match=r"stride must be an int or a triple of ints"):
        fastconv.conv3d(x, w, stride=(1, 1))
    with pytest.raises(ValueError, match="exceeds the padded input depth"):
        fastconv.conv3d(np.ones((1, 2, 2, 4, 4)), w)
    with pytest.raises(ValueError, match="grad_out's batch and depth"):
        fastconv.conv3d_backward(np.ones((1, 3, 5, 2, 2)), x, w)


@pytest.mark.parametrize("layout", LAYOUTS_3D)
def test_conv3d_matches_torch_and_autograd(layout):
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    case = CASES[3]
    x, w, b = _arrays(case, "NCDHW", np.float64)
    kw = case[4]
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv3d(tx, tw, tb, **kw)
    gy = randn(rng(3), tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    refs = [ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()]
    if layout == "NDHWC":
        t5 = (0, 2, 3, 4, 1)
        x, gy, w = x.transpose(t5), gy.transpose(t5), w.transpose(2, 3, 4, 1, 0)
        refs = [
            refs[0].transpose(t5),
            refs[1].transpose(t5),
            refs[2].transpose(2, 3, 4, 1, 0),
            refs[3],
        ]
    refs = [np.ascontiguousarray(r) for r in refs]
    x, gy, w = (np.ascontiguousarray(a) for a in (x, gy, w))
    assert_close(fastconv.conv3d(x, w, b, layout=layout, **kw), refs[0])
    got = fastconv.conv3d_backward(gy, x, w, layout=layout, **kw)
    for g, r in zip(got, refs[1:]):
        assert_close(g, r)


# (id, (N, C, D, H, W), kwargs)
POOL_CASES = [
    ("2s2", (2, 3, 4, 6, 6), dict(kernel_size=2)),
    ("3s2-pad", (1, 2, 5, 7, 6), dict(kernel_size=3, stride=2, padding=1)),
    ("ceil", (1, 2, 5, 5, 7), dict(kernel_size=2, stride=2, ceil_mode=True)),
    (
        "non-cube",
        (2, 2, 3, 6, 5),
        dict(kernel_size=(1, 3, 2), stride=(1, 2, 2), padding=(0, 1, 1)),
    ),
    ("one-tuple", (1, 3, 4, 4, 4), dict(kernel_size=(2,), stride=(1,))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS_3D)
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool3d_and_its_gradients_match_the_oracle(case, layout, dtype):
    _, shape, kw = case
    vals = rng(4).permutation(int(np.prod(shape))).astype(dtype).reshape(shape)
    x = vals if layout == "NCDHW" else np.ascontiguousarray(vals.transpose(0, 2, 3, 4, 1))
    kw = dict(kw, layout=layout)
    out, idx = fastconv.max_pool3d(x, return_indices=True, **kw)
    ref, ref_idx = naive.max_pool3d(x, return_indices=True, **kw)
    assert_same(out, ref)
    assert_same(idx, ref_idx)
    gy = randn(rng(5), out.shape, dtype)
    want = naive.max_pool3d_backward(gy, x, **kw)
    assert_close(fastconv.max_pool3d_backward(gy, x, **kw), want)
    assert_close(fastconv.max_pool3d_backward(gy, x, indices=idx, **kw), want)
    for extra in (dict(), dict(count_include_pad=False), dict(divisor_override=3)):
        akw = dict(kw, **extra)
        a = fastconv.avg_pool3d(x, **akw)
        assert_close(a, naive.avg_pool3d(x, **akw))
        assert_close(
            fastconv.avg_pool3d_backward(gy, x, **akw),
            naive.avg_pool3d_backward(gy, x, **akw),
        )


# windows that hold ties and NaNs: the separable passes (slices, then depth)
# must pick the oracle's argmax, the first maximum in (d, h, w) order, a NaN
# winning as the scan rule has it
TIE_CASES = [
    ("2s2", dict(kernel_size=2)),
    ("3s1-pad", dict(kernel_size=3, stride=1, padding=1)),
    ("dilated", dict(kernel_size=2, stride=1, dilation=(2, 1, 2))),
    ("ceil", dict(kernel_size=(3, 2, 2), stride=2, ceil_mode=True)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS_3D)
@pytest.mark.parametrize("case", TIE_CASES, ids=[c[0] for c in TIE_CASES])
def test_pool3d_ties_and_nans_take_the_oracle_s_argmax(case, layout, dtype):
    _, kw = case
    gen = rng(12)
    for nan_share in (0.0, 0.1):
        vals = gen.integers(0, 3, (2, 3, 5, 6, 5)).astype(dtype)  # many ties
        vals[gen.random(vals.shape) < nan_share] = np.nan
        x = (
            vals
            if layout == "NCDHW"
            else np.ascontiguousarray(vals.transpose(0, 2, 3, 4, 1))
        )
        out, idx = fastconv.max_pool3d(x, return_indices=True, layout=layout, **kw)
        ref, ref_idx = naive.max_pool3d(x, return_indices=True, layout=layout, **kw)
        assert_same(out, ref)
        assert_same(idx, ref_idx)
        for size in ((2, 3, 2), (3, 1, 4)):
            m, i = fastconv.adaptive_max_pool3d(x, size, True, layout=layout)
            rm, ri = naive.adaptive_max_pool3d(x, size, True, layout=layout)
            assert_same(m, rm)
            assert_same(i, ri)


def test_pool3d_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    F = torch.nn.functional
    x = randn(rng(6), (2, 3, 5, 7, 6))
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    tv, ti = F.max_pool3d(torch.tensor(x), return_indices=True, **kw)
    v, i = fastconv.max_pool3d(x, return_indices=True, **kw)
    assert_same(v, tv.numpy())
    assert_same(i, ti.numpy())
    for include in (True, False):
        ta = F.avg_pool3d(torch.tensor(x), count_include_pad=include, **kw)
        assert_close(fastconv.avg_pool3d(x, count_include_pad=include, **kw), ta.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS_3D)
@pytest.mark.parametrize(
    "size", [1, (2, 3, 2), (None, 2, 5)], ids=["global", "uneven", "keep-depth"]
)
def test_adaptive_pool3d_matches_the_oracle(size, layout, dtype):
    shape = (2, 3, 5, 6, 4)
    vals = rng(7).permutation(int(np.prod(shape))).astype(dtype).reshape(shape)
    x = vals if layout == "NCDHW" else np.ascontiguousarray(vals.transpose(0, 2, 3, 4, 1))
    kw = dict(layout=layout)
    a = fastconv.adaptive_avg_pool3d(x, size, **kw)
    assert_close(a, naive.adaptive_avg_pool3d(x, size, **kw))
    gy = randn(rng(8), a.shape, dtype)
    assert_close(
        fastconv.adaptive_avg_pool3d_backward(gy, x, **kw),
        naive.adaptive_avg_pool3d_backward(gy, x, **kw),
    )
    m, i = fastconv.adaptive_max_pool3d(x, size, True, **kw)
    ref, ref_i = naive.adaptive_max_pool3d(x, size, True, **kw)
    assert_same(m, ref)
    assert_same(i, ref_i)
    want = naive.adaptive_max_pool3d_backward(gy, x, **kw)
    assert_close(fastconv.adaptive_max_pool3d_backward(gy, x, **kw), want)
    assert_close(fastconv.adaptive_max_pool3d_backward(gy, x, indices=i, **kw), want)


def test_adaptive_pool3d_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    F = torch.nn.functional
    x = randn(rng(9), (2, 3, 5, 7, 6))
    assert_close(
        fastconv.adaptive_avg_pool3d(x, (2, 3, 4)),
        F.adaptive_avg_pool3d(torch.tensor(x), (2, 3, 4)).numpy(),
    )
    tv, ti = F.adaptive_max_pool3d(torch.tensor(x), (2, 3, 4), return_indices=True)
    v, i = fastconv.adaptive_max_pool3d(x, (2, 3, 4), True)
    assert_same(v, tv.numpy())
    assert_same(i, ti.numpy())


# (id, (N, C_in, D, H, W), F, kernel, kwargs)
TRANSPOSE_CASES = [
    ("plain", (2, 3, 3, 4, 3), 2, (2, 3, 2), dict()),
    (
        "s2-op1",
        (1, 2, 3, 3, 3),
        3,
        (3, 3, 3),
        dict(stride=2, padding=1, output_padding=1),
    ),
    (
        "grouped-dilated",
        (1, 4, 3, 3, 2),
        2,
        (2, 2, 2),
        dict(groups=2, dilation=(2, 1, 1)),
    ),
    ("stride3-gaps", (1, 2, 2, 2, 2), 2, (2, 2, 2), dict(stride=3)),
    # output_padding at the stride, below the dilation: the convolution this
    # one transposes has more output depths (and rows) than x has
    (
        "op-past-stride",
        (2, 2, 2, 3, 2),
        2,
        (2, 2, 1),
        dict(stride=1, dilation=(3, 2, 1), output_padding=(2, 1, 0)),
    ),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS_3D)
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=[c[0] for c in TRANSPOSE_CASES])
def test_conv_transpose3d_matches_the_oracle(case, layout, dtype):
    _, (N, C, D, H, W), F, k, kw = case
    gen = rng(10)
    x = randn(gen, (N, C, D, H, W), dtype)
    w = randn(gen, (C, F // kw.get("groups", 1)) + k, dtype)
    b = randn(gen, (F,), dtype)
    if layout == "NDHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 4, 1))
        w = np.ascontiguousarray(w.transpose(2, 3, 4, 1, 0))
    kw = dict(kw, layout=layout)
    out = fastconv.conv_transpose3d(x, w, b, **kw)
    assert_close(out, naive.conv_transpose3d(x, w, b, **kw))
    gy = randn(rng(11), out.shape, dtype)
    for g, r in zip(
        fastconv.conv_transpose3d_backward(gy, x, w, **kw),
        naive.conv_transpose3d_backward(gy, x, w, **kw),
    ):
        assert_close(g, r)


def test_conv_transpose3d_matches_torch_and_autograd():
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    gen = rng(12)
    x, w, b = randn(gen, (2, 4, 3, 4, 3)), randn(gen, (4, 3, 3, 2, 3)), randn(gen, (6,))
    kw = dict(stride=(2, 1, 2), padding=1, output_padding=(1, 0, 1), groups=2)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv_transpose3d(tx, tw, tb, **kw)
    gy = randn(gen, tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    assert_close(fastconv.conv_transpose3d(x, w, b, **kw), ty.detach().numpy())
    gx, gw, gb = fastconv.conv_transpose3d_backward(gy, x, w, **kw)
    assert_close(gx, tx.grad.numpy())
    assert_close(gw, tw.grad.numpy())
    assert_close(gb, tb.grad.numpy())


def test_avg_pool3d_refuses_a_divisor_override_below_one():
    # PyTorch divides by a negative divisor_override; fastconv refuses it, in
    # 2-D and 3-D alike, rather than mean something else
    x = np.ones((1, 1, 2, 2, 2))
    for bad in (0, -2):
        with pytest.raises(ValueError, match="divisor_override must be >= 1"):
            fastconv.avg_pool3d(x, 2, divisor_override=bad)
        with pytest.raises(ValueError, match="divisor_override must be >= 1"):
            fastconv.avg_pool2d(x[0], 2, divisor_override=bad)
    with pytest.raises(TypeError, match="divisor_override must be an int or None"):
        fastconv.avg_pool3d_backward(x[:, :, :1, :1, :1], x, 2, divisor_override=1.5)


def test_conv3d_checks_groups_against_both_shapes():
    x = np.ones((1, 4, 3, 3, 3))
    with pytest.raises(ValueError, match="groups must be >= 1 and divide"):
        fastconv.conv3d(x, np.ones((6, 2, 1, 1, 1)), groups=3)  # 4 channels
    with pytest.raises(ValueError, match="groups=2"):
        fastconv.conv3d(x, np.ones((6, 4, 1, 1, 1)), groups=2)  # weight's Cg 4, not 2
    with pytest.raises(TypeError, match="groups must be an int"):
        fastconv.conv3d(x, np.ones((6, 4, 1, 1, 1)), groups=1.0)


def test_conv3d_keeps_the_dtype_rule():
    x, w, b = _arrays(CASES[0], "NCDHW", np.float32)
    out = fastconv.conv3d(x.astype(np.float16), w.astype(np.float16))
    assert out.dtype == np.float16
    ref = naive.conv3d(x.astype(np.float16), w.astype(np.float16))
    np.testing.assert_allclose(out.astype(np.float32), ref.astype(np.float32), rtol=2e-2)
    xi, wi = np.arange(2 * 2 * 27).reshape(2, 2, 3, 3, 3), np.ones((1, 2, 2, 2, 2), int)
    assert_same(fastconv.conv3d(xi, wi), naive.conv3d(xi, wi))
    gy = np.ones(out.shape, np.float16)
    assert all(
        g.dtype == np.float16
        for g in fastconv.conv3d_backward(gy, x.astype(np.float16), w.astype(np.float16))
    )


def _stack_reference(x, g, groups):
    # the definition: channel (group, kd, c) of plane (n, od) is x at depth
    # od*sd + kd*dd - front, zero outside [0, D); x (N, D, H, W, C)
    a = g.axes[0]  # the depth axis
    sd, dd, front = a.stride, a.dilation, a.lo
    N, OD, KD, C, D = g.N, a.out, a.kernel, g.C, a.size
    Cg = C // groups
    out = np.zeros((N, OD) + x.shape[2:4] + (groups, KD, Cg), x.dtype)
    for od in range(OD):
        for kd in range(KD):
            j = od * sd + kd * dd - front
            if 0 <= j < D:
                out[:, od, :, :, :, kd] = x[:, j].reshape(
                    x.shape[:1] + x.shape[2:4] + (groups, Cg)
                )
    return out.reshape((N * OD,) + x.shape[2:4] + (C * KD,))


@pytest.mark.parametrize(
    "kw", [dict(stride=1, padding=1), dict(stride=2, padding=2, dilation=2)]
)
def test_depth_stack_is_the_definition_and_unstack_its_adjoint(kw):
    from fastconv._engine import depth
    from fastconv._engine.geometry import conv_params
    from fastconv._kernels import depth as kernels

    N, C, D, H, W, groups = 2, 6, 7, 3, 4, 2
    x = randn(rng(3), (N, D, H, W, C), np.float64)
    w = np.ones((3, 1, 1, C // groups, 4))
    g = conv_params(
        x.shape,
        w.shape,
        kw["stride"],
        kw["padding"],
        kw.get("dilation", 1),
        groups,
        "NHWC",
    )
    s = depth.stack(x, g).copy()  # a workspace view: copied to keep
    assert_same(s, _stack_reference(x, g, groups))
    # any split of the items among threads gives the same arrays
    a = g.axes[0]
    dims = (groups, C // groups, D, H * W, a.out, a.kernel)
    dep = (a.stride, a.dilation, a.lo)
    pieces = np.empty_like(s).reshape(-1)
    for lo, hi in ((0, 3), (3, N * a.out)):
        kernels.stack_nhwc((x.reshape(-1), dims, dep, pieces), lo, hi)
    assert_same(pieces.reshape(s.shape), s)
    gs = randn(rng(4), s.shape, np.float64)
    gx = depth.unstack(gs, x.shape, g)
    # the adjoint: <stack(x), gs> == <x, unstack(gs)>
    np.testing.assert_allclose(np.vdot(s, gs), np.vdot(x, gx), rtol=1e-12)
    parts = np.empty_like(gx).reshape(-1)
    for lo, hi in ((0, 5), (5, N * D)):
        kernels.unstack_nhwc((gs.reshape(-1), dims, dep, parts), lo, hi)
    assert_same(parts.reshape(gx.shape), gx)


@pytest.mark.parametrize(
    "shape", [(2, 3, 5, 7), (1, 33, 70), (3, 40, 2, 1, 33), (0, 4, 5)]
)
def test_layout_transposes_move_the_channel_axis(shape):
    from fastconv._engine import depth

    a = randn(rng(5), shape, np.float32)
    last = depth.channels_last(a)
    assert_same(last, np.ascontiguousarray(np.moveaxis(a, 1, -1)))
    assert_same(depth.channels_first(last), a)


@pytest.mark.parametrize("layout", ["NCDHW", "NDHWC"])
@pytest.mark.parametrize("N", [0, 2])
def test_depth_taps_all_in_the_padding_give_zeros_as_the_oracle(layout, N):
    # every depth tap of the dilated kernel falls in the padding: im2col's
    # columns are zeros and col2im's image zeros (im2col once refused the
    # window and col2im returned None), and the transposed convolution's
    # output is the bias alone (once refused); an empty batch too
    first = layout == "NCDHW"
    x = randn(rng(3), (N, 2, 1, 3, 3) if first else (N, 1, 3, 3, 2), np.float64)
    kw = dict(padding=1, dilation=(2, 1, 1), layout=layout)
    cols = fastconv.im2col(x, (2, 1, 1), **kw)
    assert_same(cols, naive.im2col(x, (2, 1, 1), **kw))
    back = fastconv.col2im(cols, x.shape, (2, 1, 1), **kw)
    assert_same(back, naive.col2im(cols, x.shape, (2, 1, 1), **kw))
    w = randn(rng(4), (2, 3, 2, 1, 1) if first else (2, 1, 1, 3, 2), np.float64)
    b = np.array([0.5, -1.0, 2.0])
    tkw = dict(padding=(1, 0, 0), dilation=(2, 1, 1), layout=layout)
    y = fastconv.conv_transpose3d(x, w, b, **tkw)
    assert_close(y, naive.conv_transpose3d(x, w, b, **tkw))


def test_oracle_max_pool3d_refuses_a_window_in_the_padding():
    # it raised IndexError; the engine and the 1-D and 2-D oracles say why
    with pytest.raises(
        ValueError, match=r"window \(0, 0, 0\) lies entirely in the padding"
    ):
        naive.max_pool3d(
            np.ones((1, 1, 1, 1, 1)), (2, 2, 2), padding=1, dilation=(1, 1, 2)
        )
