"""Benchmark peers: fastconv, the oracle, plain numpy, and PyTorch's CPU kernels.

Each ``*_calls`` function takes a layer *spec* (plain data, from
:meth:`fastconv.tools.suite.Layer.spec`) and prepared arrays, and returns
``(forward, backward)`` zero-argument callables, so that preparation stays
outside timing; ``None`` where a peer cannot run the layer.
:func:`result_arrays` turns what a pass returns (arrays, or torch's
channels-first-shaped tensors) into ndarrays in the spec's layout, so that
the bench can compare every peer's results with fastconv's element for
element.

This module uses only numpy and fastconv's public functions: the bench's
worker processes load it next to any fastconv source tree, an older one
included, to compare the two.

The numpy peer is what a careful numpy user writes without numba: a strided
window view of the padded input contracted with ``np.tensordot``, and a
loop over the kernel taps for the input gradient. It supports what the
classic layers need (groups = 1, dilation = 1, symmetric padding).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "make_inputs",
    "result_arrays",
    "result_names",
    "fastconv_calls",
    "naive_calls",
    "numpy_calls",
    "torch_calls",
    "torch_available",
]


def make_inputs(spec):
    """Random x, weight, bias (None for pooling) and grad_out of a spec, in its dtype."""
    rng = np.random.default_rng(spec["seed"])
    dtype = np.dtype(spec["dtype"])
    x = rng.standard_normal(spec["x_shape"])
    if spec["weight_shape"] is not None:
        w = rng.standard_normal(spec["weight_shape"])
        b = rng.standard_normal(spec["F"])
    else:
        w = b = None
    gy = rng.standard_normal(spec["out_shape"])
    return tuple(None if a is None else a.astype(dtype) for a in (x, w, b, gy))


def result_names(spec, which):
    """Return the names of the arrays a pass (``"fwd"`` or ``"bwd"``) returns.

    The forward returns the output; a convolution's backward grad_x,
    grad_weight and grad_bias; a pooling's backward grad_x.
    """
    if which == "fwd":
        return ("out",)
    if spec["kind"] in ("conv", "conv_transpose"):
        return ("grad_x", "grad_weight", "grad_bias")
    return ("grad_x",)


def result_arrays(spec, result):
    """Return the arrays of a pass's result as ndarrays in the spec's layout.

    `result` is what a peer's forward or backward returns: one array or a
    tuple (grad_x, grad_weight, grad_bias). fastconv and numpy return
    ndarrays in the layout already; torch returns tensors shaped channels
    first, which go back to the layout here: (N, C, *S) -> (N, *S, C), and a
    weight (A, B, *K) -> (*K, B, A), the inverse of :func:`torch_calls`'s
    conversion. The arrays may be views (of a tensor's memory too).
    """
    parts = result if isinstance(result, (tuple, list)) else (result,)
    n = spec["ndim"]
    last = spec["layout"] not in ("NCL", "NCHW", "NCDHW")
    arrays = []
    for i, a in enumerate(parts):
        if hasattr(a, "detach"):  # a torch tensor, channels-first shaped
            a = a.detach().numpy()
            if last and a.ndim == n + 2:
                weight = i == 1 and spec["kind"] in ("conv", "conv_transpose")
                spatial = tuple(range(2, n + 2))
                a = a.transpose(spatial + (1, 0) if weight else (0,) + spatial + (1,))
        arrays.append(np.asarray(a))
    return arrays


def torch_available():
    """Return True when PyTorch imports."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


#: The functions of each kind of layer: forward name, then "_backward" for the backward.
_FUNCTIONS = {
    "conv": "conv{n}d",
    "conv_transpose": "conv_transpose{n}d",
    "max": "max_pool{n}d",
    "avg": "avg_pool{n}d",
    "adaptive_avg": "adaptive_avg_pool{n}d",
}


def fastconv_calls(spec, x, w, b, gy, module=None):
    """Fastconv's (or, with module=fastconv.naive, the oracle's) forward and backward.

    A function the module lacks (an older fastconv tree) raises AttributeError.
    """
    if module is None:
        import fastconv as module
    kw = dict(spec["kwargs"], layout=spec["layout"])
    name = _FUNCTIONS[spec["kind"]].format(n=spec["ndim"])
    fwd, bwd = getattr(module, name), getattr(module, name + "_backward")
    if spec["kind"] in ("conv", "conv_transpose"):
        return (lambda: fwd(x, w, b, **kw), lambda: bwd(gy, x, w, **kw))
    if spec["kind"] == "max":
        # as a training step (and the torch peer) runs it: the backward pass
        # takes the indices of the forward pass, computed once here
        _, idx = fwd(x, return_indices=True, **kw)
        return (lambda: fwd(x, **kw), lambda: bwd(gy, x, indices=idx, **kw))
    if spec["kind"] == "adaptive_avg":  # the backward takes the output size from gy
        del kw["output_size"]
        return (
            lambda: fwd(x, spec["kwargs"]["output_size"], **kw),
            lambda: bwd(gy, x, **kw),
        )
    return (lambda: fwd(x, **kw), lambda: bwd(gy, x, **kw))


def naive_calls(spec, x, w, b, gy):
    """Return the oracle's forward and backward."""
    from fastconv import naive

    return fastconv_calls(spec, x, w, b, gy, module=naive)


# --------------------------------------------------------------------------
# numpy as_strided


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _windows(xp, kernel, stride, nchw):
    # NCHW: (N, C, OH, OW, KH, KW); NHWC: (N, OH, OW, C, KH, KW)
    axes = (2, 3) if nchw else (1, 2)
    v = sliding_window_view(xp, kernel, axis=axes)
    sh, sw = stride
    return v[:, :, ::sh, ::sw] if nchw else v[:, ::sh, ::sw]


def _pad(x, pad, nchw, value=0.0):
    ph, pw = pad
    if ph == pw == 0:
        return x
    hw = ((ph, ph), (pw, pw))
    pads = ((0, 0), (0, 0)) + hw if nchw else ((0, 0),) + hw + ((0, 0),)
    return np.pad(x, pads, constant_values=value)


def _unpad(xp, pad, nchw):
    ph, pw = pad
    H, W = (xp.shape[2], xp.shape[3]) if nchw else (xp.shape[1], xp.shape[2])
    sl = (slice(ph, H - ph), slice(pw, W - pw))
    return xp[(slice(None), slice(None)) + sl] if nchw else xp[(slice(None),) + sl]


def numpy_calls(spec, x, w, b, gy):
    """Forward and backward in plain numpy (strided views + tensordot), or None."""
    if spec["ndim"] != 2 or spec["kind"] not in ("conv", "max", "avg"):
        return None
    kw = spec["kwargs"]
    nchw = spec["layout"] == "NCHW"
    pad = kw["padding"]
    if (not isinstance(pad, (tuple, list)) and not isinstance(pad, int)) or (
        isinstance(pad, (tuple, list)) and len(pad) != 2
    ):
        return None
    pad = _pair(pad)
    s = _pair(kw["stride"])
    if spec["kind"] == "conv":
        if kw.get("groups", 1) != 1 or kw.get("dilation", 1) != 1:
            return None
        k = (w.shape[2], w.shape[3]) if nchw else (w.shape[0], w.shape[1])
    else:
        k = _pair(kw["kernel_size"])
    OH, OW = (gy.shape[2], gy.shape[3]) if nchw else (gy.shape[1], gy.shape[2])

    def tap(a, i, j):
        # the (i, j) tap of every window: a strided slice of the padded array
        sl = (
            slice(i, i + s[0] * (OH - 1) + 1, s[0]),
            slice(j, j + s[1] * (OW - 1) + 1, s[1]),
        )
        return a[(slice(None), slice(None)) + sl] if nchw else a[(slice(None),) + sl]

    if spec["kind"] == "conv":

        def forward():
            win = _windows(_pad(x, pad, nchw), k, s, nchw)
            if nchw:  # (N, C, OH, OW, KH, KW) . (F, C, KH, KW) -> (N, OH, OW, F)
                out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))
                out = out.transpose(0, 3, 1, 2)
            else:  # (N, OH, OW, C, KH, KW) . (KH, KW, C, F) -> (N, OH, OW, F)
                out = np.tensordot(win, w, axes=([3, 4, 5], [2, 0, 1]))
            return np.ascontiguousarray(out + (b[:, None, None] if nchw else b))

        def backward():
            xp = _pad(x, pad, nchw)
            win = _windows(xp, k, s, nchw)
            gxp = np.zeros_like(xp)
            if nchw:
                gw = np.tensordot(gy, win, axes=([0, 2, 3], [0, 2, 3]))  # (F, C, KH, KW)
                for i in range(k[0]):
                    for j in range(k[1]):
                        tap(gxp, i, j)[...] += np.einsum(
                            "nfhw,fc->nchw", gy, w[:, :, i, j]
                        )
                gb = gy.sum(axis=(0, 2, 3))
            else:
                gw = np.tensordot(win, gy, axes=([0, 1, 2], [0, 1, 2]))  # (C, KH, KW, F)
                gw = gw.transpose(1, 2, 0, 3)
                for i in range(k[0]):
                    for j in range(k[1]):
                        tap(gxp, i, j)[...] += gy @ w[i, j].T
                gb = gy.sum(axis=(0, 1, 2))
            return _unpad(gxp, pad, nchw), gw, gb

        return forward, backward

    if spec["kind"] == "max":

        def forward():
            win = _windows(_pad(x, pad, nchw, -np.inf), k, s, nchw)
            return win.max(axis=(-2, -1))

        def backward():
            xp = _pad(x, pad, nchw, -np.inf)
            win = _windows(xp, k, s, nchw)
            first = win.reshape(win.shape[:4] + (k[0] * k[1],)).argmax(axis=-1)
            gxp = np.zeros_like(xp)
            for i in range(k[0]):
                for j in range(k[1]):
                    tap(gxp, i, j)[...] += np.where(first == i * k[1] + j, gy, 0)
            return _unpad(gxp, pad, nchw)

        return forward, backward

    def forward():  # avg, count_include_pad=True
        win = _windows(_pad(x, pad, nchw), k, s, nchw)
        return win.mean(axis=(-2, -1))

    def backward():
        xp = np.zeros(_pad(x, pad, nchw).shape, x.dtype)
        share = gy / (k[0] * k[1])
        for i in range(k[0]):
            for j in range(k[1]):
                tap(xp, i, j)[...] += share
        return _unpad(xp, pad, nchw)

    return forward, backward


# --------------------------------------------------------------------------
# PyTorch


def torch_calls(spec, x, w, b, gy):
    """PyTorch CPU forward and backward kernels (no autograd bookkeeping), or None.

    Channels-last 2-D and 3-D inputs become channels_last(_3d) tensors, so
    torch runs its channels-last kernels on them; a channels-last 1-D input
    is a permuted view (torch has no channels-last 1-D format). Max-pool
    backward gets the indices of a forward pass computed outside the timing
    (torch saves them in training).
    """
    import torch

    F = torch.nn.functional
    n = spec["ndim"]
    kw = spec["kwargs"]
    first = spec["layout"] in ("NCL", "NCHW", "NCDHW")
    kind = spec["kind"]

    def tensor(a, is_weight=False):
        t = torch.from_numpy(a)
        if first:
            return t
        # channels-last data -> channels-first-shaped tensor, channels-last strides
        t = (
            t.permute(n + 1, n, *range(n))
            if is_weight
            else t.permute(0, n + 1, *range(1, n + 1))
        )
        fmt = {2: torch.channels_last, 3: torch.channels_last_3d}.get(n)
        return t if fmt is None else t.contiguous(memory_format=fmt)

    def ints(v):
        return list(v) if isinstance(v, (tuple, list)) else [v] * n

    tx, tgy = tensor(x), tensor(gy)
    if kind == "adaptive_avg":
        size = ints(kw["output_size"])
        fwd = getattr(F, f"adaptive_avg_pool{n}d")
        bwd = getattr(torch.ops.aten, f"_adaptive_avg_pool{n}d_backward")

        def forward():
            with torch.no_grad():
                return fwd(tx, size)

        return forward, lambda: bwd(tgy, tx)
    pad = kw["padding"]
    if isinstance(pad, str) or len(ints(pad)) != n:
        return None
    pad, s = ints(pad), ints(kw["stride"])
    if kind in ("conv", "conv_transpose"):
        tw, tb = tensor(w, is_weight=True), torch.from_numpy(b)
        d, g = ints(kw.get("dilation", 1)), kw.get("groups", 1)
        transposed = kind == "conv_transpose"
        zeros = [0] * n

        def forward():
            with torch.no_grad():
                if transposed:
                    return getattr(F, f"conv_transpose{n}d")(
                        tx, tw, tb, s, pad, zeros, g, d
                    )
                return getattr(F, f"conv{n}d")(tx, tw, tb, s, pad, d, g)

        def backward():
            return torch.ops.aten.convolution_backward(
                tgy, tx, tw, [spec["F"]], s, pad, d, transposed, zeros, g, [True] * 3
            )

        return forward, backward
    if n not in (2, 3):  # aten has no 1-D pooling backward of its own
        return None
    k = ints(kw["kernel_size"])
    if kind == "max":
        max_pool = getattr(F, f"max_pool{n}d")
        max_back = getattr(torch.ops.aten, f"max_pool{n}d_with_indices_backward")
        _, idx = max_pool(tx, k, s, pad, return_indices=True)

        def forward():
            with torch.no_grad():
                return max_pool(tx, k, s, pad)

        def backward():
            return max_back(tgy, tx, k, s, pad, [1] * n, False, idx)

        return forward, backward

    avg_pool = getattr(F, f"avg_pool{n}d")
    avg_back = getattr(torch.ops.aten, f"avg_pool{n}d_backward")

    def forward():
        with torch.no_grad():
            return avg_pool(tx, k, s, pad)

    def backward():
        return avg_back(tgy, tx, k, s, pad, False, True, None)

    return forward, backward
