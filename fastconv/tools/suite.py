"""The canonical layer suite, read by the bench command, the profiler and benchmarks/.

Sizes are given channels-first; every layer also runs channels-last with the
same numbers. Output shapes come from fastconv's shape functions, which run
the calls' own checks, so a layer the suite lists is one fastconv accepts.
"""

import math
from typing import NamedTuple

import numpy as np

import fastconv

from . import peers

__all__ = [
    "Layer",
    "CONV_LAYERS",
    "POOL_LAYERS",
    "MORE_LAYERS",
    "LAYERS",
    "get_layer",
    "make_inputs",
]


#: The layouts of each number of spatial axes: (channels-first, channels-last).
#: The bench names a layout by its 2-D name, "NCHW" or "NHWC".
LAYOUT_NAMES = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}
#: Kinds measured in FLOP/s; the others (pooling) in bytes moved per second.
CONV_KINDS = ("conv", "conv_transpose")


class Layer(NamedTuple):
    """One benchmark layer; `F` is None for pooling.

    `size` holds the spatial sizes, (L,), (H, W) or (D, H, W); `kernel` and
    `padding` have one entry per spatial axis; for adaptive pooling
    (kind "adaptive_avg") `kernel` holds the output size.
    """

    name: str
    kind: str  # "conv", "conv_transpose", "max", "avg" or "adaptive_avg"
    N: int
    C: int
    size: tuple
    F: object
    kernel: tuple
    stride: int
    padding: tuple
    dilation: int = 1
    groups: int = 1

    @property
    def ndim(self):
        """Number of spatial axes."""
        return len(self.size)

    @property
    def group(self):
        """The bench table's group: "conv" and "pool" (2-D), "more" (the rest)."""
        if self.ndim != 2 or self.kind not in ("conv", "max", "avg"):
            return "more"
        return "conv" if self.kind == "conv" else "pool"

    def layout_name(self, layout):
        """Return the layout's name for this layer's dimension ("NCHW" -> "NCL", ...)."""
        return LAYOUT_NAMES[self.ndim][layout == "NHWC"]

    def kwargs(self):
        """Keyword arguments of the layer's fastconv calls (besides layout)."""
        if self.kind in CONV_KINDS:
            return dict(
                stride=self.stride,
                padding=self.padding,
                dilation=self.dilation,
                groups=self.groups,
            )
        if self.kind == "adaptive_avg":
            return dict(output_size=self.kernel)
        return dict(kernel_size=self.kernel, stride=self.stride, padding=self.padding)

    def x_shape(self, layout):
        """Shape of the input in `layout` ("NCHW": channels first)."""
        N, C, size = self.N, self.C, tuple(self.size)
        return (N, C) + size if layout == "NCHW" else (N,) + size + (C,)

    def weight_shape(self, layout):
        """Shape of the weight in `layout` (None for pooling).

        Convolution: (F, C/groups, *K), channels-last (*K, C/groups, F);
        transposed: (C, F/groups, *K), channels-last (*K, F/groups, C).
        """
        if self.kind not in CONV_KINDS:
            return None
        k = tuple(self.kernel)
        a, b = (self.F, self.C // self.groups)
        if self.kind == "conv_transpose":
            a, b = (self.C, self.F // self.groups)
        return (a, b) + k if layout == "NCHW" else k + (b, a)

    def out_shape(self, layout):
        """Shape of the output in `layout`, from fastconv's shape functions."""
        x, name, kw = self.x_shape(layout), self.layout_name(layout), self.kwargs()
        if self.kind == "conv":
            return fastconv.conv_output_shape(
                x, self.weight_shape(layout), layout=name, **kw
            )
        if self.kind == "conv_transpose":
            return fastconv.conv_transpose_output_shape(
                x, self.weight_shape(layout), layout=name, **kw
            )
        if self.kind == "adaptive_avg":
            return fastconv.adaptive_pool_output_shape(x, layout=name, **kw)
        return fastconv.pool_output_shape(x, layout=name, **kw)

    @property
    def out_size(self):
        """Output spatial sizes, one per axis."""
        return self.out_shape("NCHW")[2:]  # (N, C, *out)

    def flops(self, backward=False):
        """Multiply-adds x 2 of a convolution (backward: grad_x plus grad_weight).

        A convolution does ``C/groups * prod(K)`` multiply-adds per output
        element; a transposed one as many per input element (it is the
        convolution's grad_x pass, from its input to its output).
        """
        if self.kind not in CONV_KINDS:
            return 0
        k = math.prod(self.kernel)
        if self.kind == "conv":
            fwd = self.N * self.F * math.prod(self.out_size) * self.C // self.groups
        else:
            fwd = self.N * self.C * math.prod(self.size) * self.F // self.groups
        fwd *= 2 * k
        return 2 * fwd if backward else fwd

    def bytes_moved(self, itemsize, backward=False):
        """Bytes a pooling pass reads and writes at the least.

        Forward: x read, out written. Backward: grad_out read and grad_x
        written, and x read too where the windows need it (max and avg
        pooling take x).
        """
        x = self.N * self.C * math.prod(self.size) * itemsize
        out = self.N * self.C * math.prod(self.out_size) * itemsize
        if not backward:
            return x + out
        return x + out if self.kind == "adaptive_avg" else 2 * x + out

    def spec(self, layout, dtype, seed=0):
        """Return what a bench worker needs to build and run the layer (plain data).

        `layout` is "NCHW" (channels first) or "NHWC"; the spec holds the
        layer's own name for it ("NCL", "NCDHW", ...).
        """
        return dict(
            name=self.name,
            kind=self.kind,
            ndim=self.ndim,
            layout=self.layout_name(layout),
            dtype=np.dtype(dtype).name,
            seed=seed,
            x_shape=self.x_shape(layout),
            weight_shape=self.weight_shape(layout),
            F=self.F,
            out_shape=self.out_shape(layout),
            kwargs=self.kwargs(),
            N=self.N,
        )


def _conv(name, N, C, H, F, k, s, p, W=None, dilation=1, groups=1):
    kk = (k, k) if isinstance(k, int) else tuple(k)
    pp = (p, p) if isinstance(p, int) else tuple(p)
    size = (H, H if W is None else W)
    return Layer(name, "conv", N, C, size, F, kk, s, pp, dilation, groups)


def _pool(name, kind, N, C, H, k, s, p):
    return Layer(name, kind, N, C, (H, H), None, (k, k), s, (p, p))


def _nd(name, kind, N, C, size, F, k, s=1, p=0):
    # a layer of len(size) spatial axes, the same kernel and padding on each
    n = len(size)
    return Layer(name, kind, N, C, tuple(size), F, (k,) * n, s, (p,) * n)


CONV_LAYERS = [
    _conv("lenet-c1", 64, 1, 28, 6, 5, 1, 0),
    _conv("cifar-c1", 64, 3, 32, 32, 3, 1, 1),
    _conv("resnet-3x3", 8, 64, 56, 64, 3, 1, 1),
    _conv("resnet-s2", 8, 128, 28, 256, 3, 2, 1),
    _conv("resnet-1x1", 8, 256, 14, 1024, 1, 1, 0),
    _conv("alexnet-c1", 8, 3, 224, 64, 11, 4, 2),
    _conv("deep-3x3", 16, 256, 14, 256, 3, 1, 1),
    _conv("cs231n-speed", 100, 3, 31, 25, 3, 2, 1),
    # the kinds of layer users run every day that the classic suite lacks
    _conv("depthwise-3x3", 8, 128, 56, 128, 3, 1, 1, groups=128),
    _conv("grouped-3x3", 8, 128, 28, 128, 3, 1, 1, groups=32),
    _conv("dilated-3x3", 8, 64, 56, 64, 3, 1, 2, dilation=2),
    _conv("conv-1x7", 8, 128, 17, 128, (1, 7), 1, (0, 3)),
]

POOL_LAYERS = [
    _pool("max-2s2", "max", 8, 64, 112, 2, 2, 0),
    _pool("max-3s2", "max", 8, 64, 112, 3, 2, 1),
    _pool("avg-2s2", "avg", 8, 64, 112, 2, 2, 0),
    _pool("cs231n-pool", "max", 100, 3, 32, 2, 2, 0),
]

# 1-D, 3-D, transposed and adaptive: the rest of what PyTorch users reach for
MORE_LAYERS = [
    _nd("conv1d-k3", "conv", 32, 64, (1024,), 64, 3, 1, 1),
    _nd("conv3d-3x3x3", "conv", 2, 32, (16, 56, 56), 32, 3, 1, 1),
    _nd("max3d-2s2", "max", 2, 32, (16, 56, 56), None, 2, 2, 0),
    _nd("avg3d-3s2", "avg", 2, 32, (16, 56, 56), None, 3, 2, 1),
    _nd("dcgan-convT", "conv_transpose", 16, 128, (16, 16), 64, 4, 2, 1),
    _nd("unet3d-convT", "conv_transpose", 2, 64, (8, 28, 28), 32, 2, 2, 0),
    _nd("convT3d-3x3x3", "conv_transpose", 2, 32, (8, 28, 28), 32, 3, 1, 1),
    Layer("adaptive-avg", "adaptive_avg", 32, 512, (7, 7), None, (1, 1), 1, (0, 0)),
]

LAYERS = {layer.name: layer for layer in CONV_LAYERS + POOL_LAYERS + MORE_LAYERS}


def get_layer(name):
    """Return the layer called `name`; ValueError listing the names otherwise."""
    try:
        return LAYERS[name]
    except KeyError:
        raise ValueError(
            f"unknown layer {name!r}; choose from {', '.join(LAYERS)}"
        ) from None


def make_inputs(layer, dtype, layout="NCHW", seed=0):
    """Random x, weight, bias (None for pooling) and grad_out for `layer`.

    Returns
    -------
    x : ndarray (N, C, *size) or (N, *size, C)
    weight : ndarray, :meth:`Layer.weight_shape`, or None
    bias : ndarray (F,) or None
    grad_out : ndarray, the layer's output shape in `layout`
    """
    return peers.make_inputs(layer.spec(layout, dtype, seed))
