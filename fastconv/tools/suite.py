"""The canonical layer suite, read by the bench command, the profiler and benchmarks/.

Sizes are given channels-first; every layer also runs channels-last with the
same numbers. Output sizes and FLOPs come from the engine's geometry module.
"""

import math
from typing import NamedTuple

import numpy as np

from .._engine.geometry import conv_shapes, pool_out_shape, pool_window
from . import peers

__all__ = ["Layer", "CONV_LAYERS", "POOL_LAYERS", "LAYERS", "get_layer", "make_inputs"]


class Layer(NamedTuple):
    """One benchmark layer; `F` is None for pooling.

    `size` holds the spatial sizes, (H, W); `kernel` and `padding` have one
    entry per spatial axis.
    """

    name: str
    kind: str  # "conv", "max" or "avg"
    N: int
    C: int
    size: tuple
    F: object
    kernel: tuple
    stride: int
    padding: tuple
    dilation: int = 1
    groups: int = 1

    def kwargs(self):
        """Keyword arguments of the layer's fastconv calls (besides layout)."""
        if self.kind == "conv":
            return dict(
                stride=self.stride,
                padding=self.padding,
                dilation=self.dilation,
                groups=self.groups,
            )
        return dict(kernel_size=self.kernel, stride=self.stride, padding=self.padding)

    def window(self):
        """Return the layer's :class:`~fastconv._engine.geometry.Window`."""
        if self.kind == "conv":
            return self.conv_shapes("NCHW").win
        return pool_window(self.size, self.kernel, self.stride, self.padding, 1, False)

    def conv_shapes(self, layout):
        """Return the engine's checked shapes of a convolution layer."""
        return conv_shapes(
            self.x_shape(layout),
            self.weight_shape(layout),
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            layout,
        )

    def x_shape(self, layout):
        """Shape of the input in `layout`."""
        N, C, size = self.N, self.C, tuple(self.size)
        return (N, C) + size if layout == "NCHW" else (N,) + size + (C,)

    def weight_shape(self, layout):
        """Shape of the weight in `layout` (None for pooling)."""
        if self.kind != "conv":
            return None
        KH, KW = self.kernel
        cg = self.C // self.groups
        return (self.F, cg, KH, KW) if layout == "NCHW" else (KH, KW, cg, self.F)

    def out_shape(self, layout):
        """Shape of the output in `layout`."""
        if self.kind == "conv":
            return self.conv_shapes(layout).out_shape
        return pool_out_shape(self.x_shape(layout), self.window(), layout)

    @property
    def out_size(self):
        """Output spatial sizes, (OH, OW)."""
        w = self.window()
        return (w.OH, w.OW)

    def flops(self, backward=False):
        """Multiply-adds x 2 of a convolution (backward: grad_x plus grad_weight)."""
        if self.kind != "conv":
            return 0
        fwd = self.conv_shapes("NCHW").flops
        return 2 * fwd if backward else fwd

    def bytes_moved(self, itemsize, backward=False):
        """Bytes a pooling pass reads and writes at the least.

        Forward: x read, out written. Backward: grad_out and x read, grad_x
        written.
        """
        x = self.N * self.C * math.prod(self.size) * itemsize
        out = self.N * self.C * math.prod(self.out_size) * itemsize
        return (2 * x + out) if backward else (x + out)

    def spec(self, layout, dtype, seed=0):
        """Return what a bench worker needs to build and run the layer (plain data)."""
        return dict(
            name=self.name,
            kind=self.kind,
            layout=layout,
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

LAYERS = {layer.name: layer for layer in CONV_LAYERS + POOL_LAYERS}


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
    x : ndarray (N, C, H, W) or (N, H, W, C)
    weight : ndarray (F, C/groups, KH, KW) or (KH, KW, C/groups, F), or None
    bias : ndarray (F,) or None
    grad_out : ndarray, the layer's output shape in `layout`
    """
    return peers.make_inputs(layer.spec(layout, dtype, seed))
