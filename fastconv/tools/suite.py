"""The canonical layer suite, read by both the bench command and benchmarks/.

Sizes are given NCHW; every layer also runs in NHWC with the same numbers.
"""

from typing import NamedTuple, Optional

__all__ = ["Layer", "CONV_LAYERS", "POOL_LAYERS", "LAYERS", "get_layer", "make_inputs"]


class Layer(NamedTuple):
    """One benchmark layer; `F` is None for pooling."""

    name: str
    kind: str  # "conv", "max" or "avg"
    N: int
    C: int
    H: int  # H = W
    F: Optional[int]
    kernel: int
    stride: int
    pad: int

    @property
    def out_hw(self):
        """Output height (= width) of the layer."""
        return (self.H + 2 * self.pad - self.kernel) // self.stride + 1

    def flops(self, backward=False):
        """Multiply-adds x 2 of a convolution (backward: grad_x plus grad_weight)."""
        if self.kind != "conv":
            return 0
        fwd = 2 * self.N * self.F * self.out_hw**2 * self.C * self.kernel**2
        return 2 * fwd if backward else fwd

    def im2col_bytes(self, itemsize):
        """Size of the full column matrix of a convolution, in bytes."""
        if self.kind != "conv":
            return 0
        return self.N * self.C * self.kernel**2 * self.out_hw**2 * itemsize


CONV_LAYERS = [
    Layer("lenet-c1", "conv", 64, 1, 28, 6, 5, 1, 0),
    Layer("cifar-c1", "conv", 64, 3, 32, 32, 3, 1, 1),
    Layer("resnet-3x3", "conv", 8, 64, 56, 64, 3, 1, 1),
    Layer("resnet-s2", "conv", 8, 128, 28, 256, 3, 2, 1),
    Layer("resnet-1x1", "conv", 8, 256, 14, 1024, 1, 1, 0),
    Layer("alexnet-c1", "conv", 8, 3, 224, 64, 11, 4, 2),
    Layer("deep-3x3", "conv", 16, 256, 14, 256, 3, 1, 1),
    Layer("cs231n-speed", "conv", 100, 3, 31, 25, 3, 2, 1),
]

POOL_LAYERS = [
    Layer("max-2s2", "max", 8, 64, 112, None, 2, 2, 0),
    Layer("max-3s2", "max", 8, 64, 112, None, 3, 2, 1),
    Layer("avg-2s2", "avg", 8, 64, 112, None, 2, 2, 0),
    Layer("cs231n-pool", "max", 100, 3, 32, None, 2, 2, 0),
]

LAYERS = {layer.name: layer for layer in CONV_LAYERS + POOL_LAYERS}


def get_layer(name):
    """The layer called `name`; ValueError listing the names otherwise."""
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
    weight : ndarray (F, C, K, K) or (K, K, C, F), or None
    bias : ndarray (F,) or None
    grad_out : ndarray, the layer's output shape in `layout`
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    L = layer
    O = L.out_hw
    nchw = layout == "NCHW"
    x = rng.standard_normal((L.N, L.C, L.H, L.H) if nchw else (L.N, L.H, L.H, L.C))
    if L.kind == "conv":
        w = rng.standard_normal(
            (L.F, L.C, L.kernel, L.kernel) if nchw else (L.kernel, L.kernel, L.C, L.F)
        )
        b = rng.standard_normal(L.F)
        out_c = L.F
    else:
        w = b = None
        out_c = L.C
    gy = rng.standard_normal((L.N, out_c, O, O) if nchw else (L.N, O, O, out_c))
    cast = lambda a: None if a is None else a.astype(dtype)
    return cast(x), cast(w), cast(b), cast(gy)
