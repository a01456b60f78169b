"""Benchmark peers: plain-numpy ``as_strided`` layers and PyTorch's CPU kernels.

The numpy baseline is what a careful numpy user writes without numba: a
strided window view of the padded input contracted with ``np.tensordot``,
and a loop over the kernel taps for the input gradient. It supports what the
benchmark suite needs (groups = 1, dilation = 1, symmetric padding).

Each ``*_calls`` function returns ``(forward, backward)`` zero-argument
callables over prepared inputs, so that preparation stays outside timing.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import fastconv

__all__ = [
    "fastconv_calls",
    "numpy_calls",
    "torch_calls",
    "naive_calls",
    "torch_available",
]


def torch_available():
    """True when PyTorch imports."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _conv_args(layer):
    return dict(stride=layer.stride, padding=layer.pad)


def fastconv_calls(layer, x, w, b, gy, layout, module=fastconv):
    """Fastconv's (or, with module=fastconv.naive, the oracle's) forward and backward."""
    L = layer
    if L.kind == "conv":
        kw = dict(_conv_args(L), layout=layout)
        return (
            lambda: module.conv2d(x, w, b, **kw),
            lambda: module.conv2d_backward(gy, x, w, **kw),
        )
    kw = dict(kernel_size=L.kernel, stride=L.stride, padding=L.pad, layout=layout)
    if L.kind == "max":
        return (
            lambda: module.max_pool2d(x, **kw),
            lambda: module.max_pool2d_backward(gy, x, **kw),
        )
    return (
        lambda: module.avg_pool2d(x, **kw),
        lambda: module.avg_pool2d_backward(gy, x, **kw),
    )


def naive_calls(layer, x, w, b, gy, layout):
    """The oracle's forward and backward."""
    return fastconv_calls(layer, x, w, b, gy, layout, module=fastconv.naive)


# --------------------------------------------------------------------------
# numpy as_strided


def _windows(xp, k, s, layout):
    # NCHW: (N, C, OH, OW, K, K); NHWC: (N, OH, OW, C, K, K)
    axes = (2, 3) if layout == "NCHW" else (1, 2)
    v = sliding_window_view(xp, (k, k), axis=axes)
    return v[:, :, ::s, ::s] if layout == "NCHW" else v[:, ::s, ::s]


def _pad(x, p, layout, value=0.0):
    if p == 0:
        return x
    pads = (
        ((0, 0), (0, 0), (p, p), (p, p))
        if layout == "NCHW"
        else ((0, 0), (p, p), (p, p), (0, 0))
    )
    return np.pad(x, pads, constant_values=value)


def _unpad(xp, p, layout):
    if p == 0:
        return xp
    return xp[:, :, p:-p, p:-p] if layout == "NCHW" else xp[:, p:-p, p:-p, :]


def numpy_calls(layer, x, w, b, gy, layout):
    """Forward and backward in plain numpy (strided views + tensordot)."""
    L = layer
    k, s, p = L.kernel, L.stride, L.pad
    nchw = layout == "NCHW"
    OH = L.out_hw

    def tap(a, i, j):
        # the (i, j) tap of every window: a strided slice of the padded array
        sl = (slice(i, i + s * (OH - 1) + 1, s), slice(j, j + s * (OH - 1) + 1, s))
        return a[(slice(None), slice(None)) + sl] if nchw else a[(slice(None),) + sl]

    if L.kind == "conv":

        def forward():
            win = _windows(_pad(x, p, layout), k, s, layout)
            if nchw:  # (N, C, OH, OW, K, K) . (F, C, K, K) -> (N, OH, OW, F)
                out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))
                out = out.transpose(0, 3, 1, 2)
            else:  # (N, OH, OW, C, K, K) . (K, K, C, F) -> (N, OH, OW, F)
                out = np.tensordot(win, w, axes=([3, 4, 5], [2, 0, 1]))
            return np.ascontiguousarray(out + (b[:, None, None] if nchw else b))

        def backward():
            xp = _pad(x, p, layout)
            win = _windows(xp, k, s, layout)
            gxp = np.zeros_like(xp)
            if nchw:
                gw = np.tensordot(gy, win, axes=([0, 2, 3], [0, 2, 3]))  # (F, C, K, K)
                for i in range(k):
                    for j in range(k):
                        tap(gxp, i, j)[...] += np.einsum(
                            "nfhw,fc->nchw", gy, w[:, :, i, j]
                        )
                gb = gy.sum(axis=(0, 2, 3))
            else:
                gw = np.tensordot(win, gy, axes=([0, 1, 2], [0, 1, 2]))  # (C, K, K, F)
                gw = gw.transpose(1, 2, 0, 3)
                for i in range(k):
                    for j in range(k):
                        tap(gxp, i, j)[...] += gy @ w[i, j].T
                gb = gy.sum(axis=(0, 1, 2))
            return _unpad(gxp, p, layout), gw, gb

        return forward, backward

    if L.kind == "max":

        def forward():
            win = _windows(_pad(x, p, layout, -np.inf), k, s, layout)
            return win.max(axis=(-2, -1))

        def backward():
            xp = _pad(x, p, layout, -np.inf)
            win = _windows(xp, k, s, layout)
            first = win.reshape(win.shape[:4] + (k * k,)).argmax(axis=-1)
            gxp = np.zeros_like(xp)
            for i in range(k):
                for j in range(k):
                    tap(gxp, i, j)[...] += np.where(first == i * k + j, gy, 0)
            return _unpad(gxp, p, layout)

        return forward, backward

    def forward():  # avg, count_include_pad=True
        win = _windows(_pad(x, p, layout), k, s, layout)
        return win.mean(axis=(-2, -1))

    def backward():
        xp = np.zeros(_pad(x, p, layout).shape, x.dtype)
        share = gy / (k * k)
        for i in range(k):
            for j in range(k):
                tap(xp, i, j)[...] += share
        return _unpad(xp, p, layout)

    return forward, backward


# --------------------------------------------------------------------------
# PyTorch


def torch_calls(layer, x, w, b, gy, layout):
    """PyTorch CPU forward and backward kernels (no autograd bookkeeping).

    NHWC inputs become channels_last tensors, so torch runs its
    channels-last kernels on them. Max-pool backward gets the indices of a
    forward pass computed outside the timing (torch saves them in training).
    """
    import torch

    L = layer
    nchw = layout == "NCHW"

    def tensor(a, is_weight=False):
        t = torch.from_numpy(a)
        if nchw:
            return t
        # NHWC data -> NCHW-shaped tensor with channels_last strides
        t = t.permute(3, 2, 0, 1) if is_weight else t.permute(0, 3, 1, 2)
        return t.contiguous(memory_format=torch.channels_last)

    tx, tgy = tensor(x), tensor(gy)
    s, p, k = [L.stride] * 2, [L.pad] * 2, [L.kernel] * 2
    if L.kind == "conv":
        tw, tb = tensor(w, is_weight=True), torch.from_numpy(b)

        def forward():
            with torch.no_grad():
                return torch.nn.functional.conv2d(tx, tw, tb, s, p)

        def backward():
            return torch.ops.aten.convolution_backward(
                tgy, tx, tw, [L.F], s, p, [1, 1], False, [0, 0], 1, [True, True, True]
            )

        return forward, backward
    if L.kind == "max":
        _, idx = torch.nn.functional.max_pool2d(tx, k, s, p, return_indices=True)

        def forward():
            with torch.no_grad():
                return torch.nn.functional.max_pool2d(tx, k, s, p)

        def backward():
            return torch.ops.aten.max_pool2d_with_indices_backward(
                tgy, tx, k, s, p, [1, 1], False, idx
            )

        return forward, backward

    def forward():
        with torch.no_grad():
            return torch.nn.functional.avg_pool2d(tx, k, s, p)

    def backward():
        return torch.ops.aten.avg_pool2d_backward(tgy, tx, k, s, p, False, True, None)

    return forward, backward
