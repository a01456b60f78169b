"""The layers: convolution, pooling, ReLU, Flatten, Linear, Dropout, Sequential.

Convolution and pooling in 1-D, 2-D and 3-D; transposed convolution; max,
average and adaptive pooling.
"""

from __future__ import annotations

import numbers
from types import ModuleType
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from .._typing import ArrayLike, DTypeLike, OptSize, OutputSize, Padding, Seed, Size
from ._buffers import ResultBuffers
from ._checks import (
    _KEEP_ALL,
    _backend_name,
    _check_backend,
    _check_bool,
    _check_dtype,
    _check_int,
    _check_layout,
    _check_output_size,
    _check_padding,
    _check_padding_1d,
    _check_padding_3d,
    _check_padding_mode,
    _check_pair,
    _check_pool_padding,
    _check_rng,
    _check_single,
    _check_triple,
    _he_normal,
)


class Layer:
    """Base class: a layer with ``forward``, ``backward`` and its parameters.

    Subclasses fill ``params`` and ``grads`` (same keys, same shapes) and set
    ``self.grads[name][...]`` in ``backward``, so that the ``(param, grad)``
    pairs handed to an optimiser stay valid.

    The layers that call the engine keep the arrays they return and hand
    them back to it as ``out=`` on a later call with the same shapes, once
    nothing else refers to them (see :mod:`fastconv.nn._buffers`): a result
    the caller still holds is never overwritten, and a training loop stops
    allocating results after its first steps.
    """

    def __init__(self) -> None:
        self.params: Dict[str, np.ndarray] = {}
        self.grads: Dict[str, np.ndarray] = {}
        self.training = True
        # the engine's results, kept for the next step's calls (see _buffers)
        self._buffers = ResultBuffers()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Return ``self.forward(x)``."""
        return self.forward(x)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Output of the layer for input `x`; remembers what backward needs."""
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Gradient with respect to the last forward's input; sets ``grads``."""
        raise NotImplementedError

    def parameters(self) -> List[Tuple[np.ndarray, np.ndarray]]:
        """List of ``(param, grad)`` array pairs, for the optimisers."""
        return [(self.params[k], self.grads[k]) for k in self.params]

    def named_parameters(self) -> List[Tuple[str, np.ndarray, np.ndarray]]:
        """List of ``(name, param, grad)``."""
        return [(k, self.params[k], self.grads[k]) for k in self.params]

    def train(self, mode: bool = True) -> Layer:
        """Set training mode (Dropout drops only in training); return self."""
        self.training = _check_bool(mode, "mode")
        return self

    def eval(self) -> Layer:
        """Set evaluation mode; return self."""
        return self.train(False)

    def _saved(self, attr):
        value = getattr(self, attr, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return value


class Conv2d(Layer):
    """2-D convolution layer, He-initialised.

    Parameters
    ----------
    in_channels, out_channels : int
        C and F.
    kernel_size : int or (int, int)
    stride, dilation : int or (int, int)
        Per-axis pairs allowed.
    padding : int, (int, int), (top, bottom, left, right), "same" or "valid"
        Case-insensitive: "SAME" and "VALID" as in TensorFlow. "same" gives an
        output of ``ceil(H / stride)`` for any stride.
    groups : int
        Must divide both `in_channels` and `out_channels`.
    bias : bool
    layout : {"NCHW", "NHWC"}, optional
        Default: the channels-first one ("NCHW"; the 1-D and 3-D layers'
        "NCL" and "NCDHW").
    dtype : float dtype
        Of the parameters (default float32).
    rng : None, int or numpy.random.Generator
        Source of the initial weights, drawn from ``N(0, 2 / fan_in)`` with
        ``fan_in = in_channels / groups * KH * KW``; bias starts at zero.
    backend : module, optional
        ``fastconv`` (default) or ``fastconv.naive``.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        As ``torch.nn.Conv2d``'s.

    Attributes
    ----------
    params, grads : dict
        ``"weight"``: shape (F, C/groups, KH, KW) for NCHW, (KH, KW, C/groups, F)
        for NHWC; ``"bias"``: shape (F,), when `bias`.

    Notes
    -----
    ``forward`` keeps a reference to x for ``backward``: do not modify x in
    place in between.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> conv = nn.Conv2d(3, 8, 3, stride=(2, 1), padding="SAME", layout="NHWC", rng=0)
    >>> conv.params["weight"].shape
    (3, 3, 3, 8)
    >>> y = conv.forward(np.ones((2, 9, 9, 3), np.float32))    # (N, OH, OW, F)
    >>> y.shape, conv.backward(np.ones_like(y)).shape
    ((2, 5, 9, 8), (2, 9, 9, 3))
    """

    # what makes the layer 2-D: its functions, layouts and argument forms
    _functions = ("conv2d", "conv2d_backward")
    _layouts = ("NCHW", "NHWC")
    _sizes = staticmethod(_check_pair)
    _pad = staticmethod(_check_padding)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size,
        stride: Size = 1,
        padding: Padding = 0,
        dilation: Size = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        layout: Optional[str] = None,
        dtype: DTypeLike = np.float32,
        rng: Seed = None,
        backend: Optional[ModuleType] = None,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.padding_mode = _check_padding_mode(padding_mode)
        self.in_channels = _check_int(in_channels, "in_channels", 1)
        self.out_channels = _check_int(out_channels, "out_channels", 1)
        self.kernel_size = self._sizes(kernel_size, "kernel_size", 1)
        self.stride = self._sizes(stride, "stride", 1)
        self.padding = self._pad(padding)
        self.dilation = self._sizes(dilation, "dilation", 1)
        self.groups = _check_int(groups, "groups", 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"groups must divide in_channels and out_channels, got groups="
                f"{self.groups}, in_channels={self.in_channels}, "
                f"out_channels={self.out_channels}"
            )
        use_bias = _check_bool(bias, "bias")
        self.layout = _check_layout(_default_layout(layout, self._layouts), self._layouts)
        dtype = _check_dtype(dtype)
        rng = _check_rng(rng)
        self.backend = _check_backend(backend, self._functions)
        shape, fan_in = self._weight_shape()
        self.params["weight"] = _he_normal(rng, shape, fan_in, dtype)
        if use_bias:
            self.params["bias"] = np.zeros(self.out_channels, dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: Optional[np.ndarray] = None

    def _weight_shape(self):
        """(F, C/groups, *K), or (*K, C/groups, F) channels-last; and the fan-in."""
        k = self.kernel_size
        cg, f = self.in_channels // self.groups, self.out_channels
        first = self.layout == self._layouts[0]  # channels first
        return ((f, cg) + k if first else k + (cg, f)), cg * int(np.prod(k))

    def _options(self):
        opts = dict(
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            layout=self.layout,
        )
        if self.padding_mode != "zeros":  # the backends' default otherwise
            opts["padding_mode"] = self.padding_mode
        return opts

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Convolve x (N, C, H, W) or (N, H, W, C) to (N, F, OH, OW) or (N, OH, OW, F)."""
        self._x = x
        return self._buffers.call(
            self.backend,
            self._functions[0],
            x,
            self.params["weight"],
            self.params.get("bias"),
            **self._options(),
        )

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Set the weight and bias gradients; return the gradient for x."""
        x = self._saved("_x")
        gw_buf, gb_buf = self.grads["weight"], self.grads.get("bias")
        gx, gw, gb = self._buffers.call(
            self.backend,
            self._functions[1],
            grad_out,
            x,
            self.params["weight"],
            given=(None, gw_buf, gb_buf),
            **self._options(),
        )
        if gw is not gw_buf:  # computed into the gradient arrays, or copied here
            gw_buf[...] = gw
        if gb_buf is not None and gb is not gb_buf:
            gb_buf[...] = gb
        return gx

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size="
            f"{self.kernel_size}, stride={self.stride}, padding={self.padding!r}, "
            f"layout={self.layout!r}, backend={_backend_name(self.backend)})"
        )


class Conv1d(Conv2d):
    """1-D convolution layer, He-initialised (Conv2d's arguments, in 1-D).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or 1-tuple
    padding : int, 1-tuple, "same" or "valid"
    groups, bias, dtype, rng, backend
        As for :class:`Conv2d`.
    layout : {"NCL", "NLC"}, default "NCL"

    Attributes
    ----------
    params, grads : dict
        ``"weight"``: shape (F, C/groups, K) for NCL, (K, C/groups, F) for NLC;
        ``"bias"``: shape (F,), when `bias`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> conv = nn.Conv1d(2, 4, 3, padding="same", rng=0)
    >>> y = conv.forward(np.ones((5, 2, 16), np.float32))
    >>> y.shape, conv.backward(np.ones_like(y)).shape
    ((5, 4, 16), (5, 2, 16))
    """

    _functions = ("conv1d", "conv1d_backward")
    _layouts = ("NCL", "NLC")
    _sizes = staticmethod(_check_single)
    _pad = staticmethod(_check_padding_1d)


def _default_layout(layout, layouts):
    """`layout`, or the layer's channels-first layout (``layouts[0]``) for None."""
    return layouts[0] if layout is None else layout


def _transposed_padding(padding):
    """Check a transposed convolution's padding: an int or a pair (no strings)."""
    if isinstance(padding, str) or (
        isinstance(padding, (tuple, list)) and len(padding) == 4
    ):
        raise ValueError(
            f"padding must be an int or a pair for a transposed convolution, "
            f"got {padding!r}"
        )
    return _check_padding(padding)


class ConvTranspose2d(Conv2d):
    """2-D transposed convolution layer (Conv2d's arguments plus output_padding).

    Parameters
    ----------
    in_channels, out_channels : int
        C_in and F.
    kernel_size, stride, dilation : int or (int, int)
    padding : int or (int, int)
    output_padding : int or (int, int)
        Each below the stride or the dilation.
    groups, bias, layout, dtype, rng, backend
        As for :class:`Conv2d`; weights drawn from ``N(0, 2 / fan_in)`` with
        ``fan_in = out_channels / groups * KH * KW``.

    Attributes
    ----------
    params, grads : dict
        ``"weight"``: shape (C_in, F/groups, KH, KW) for NCHW, (KH, KW,
        F/groups, C_in) for NHWC; ``"bias"``: shape (F,), when `bias`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> up = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, rng=0)  # DCGAN's
    >>> y = up.forward(np.ones((2, 8, 16, 16), np.float32))
    >>> y.shape, up.backward(np.ones_like(y)).shape
    ((2, 4, 32, 32), (2, 8, 16, 16))
    """

    _functions = ("conv_transpose2d", "conv_transpose2d_backward")
    _pad = staticmethod(_transposed_padding)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size,
        stride: Size = 1,
        padding: Padding = 0,
        output_padding: Size = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Size = 1,
        *,
        layout: Optional[str] = None,
        dtype: DTypeLike = np.float32,
        rng: Seed = None,
        backend: Optional[ModuleType] = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            layout=layout,
            dtype=dtype,
            rng=rng,
            backend=backend,
        )
        self.output_padding = self._sizes(output_padding, "output_padding", 0)

    def _weight_shape(self):
        """(C_in, F/groups, *K), or (*K, F/groups, C_in) for NHWC; and the fan-in."""
        k = self.kernel_size
        fg, c = self.out_channels // self.groups, self.in_channels
        first = self.layout == self._layouts[0]
        return ((c, fg) + k if first else k + (fg, c)), fg * int(np.prod(k))

    def _options(self):
        return dict(super()._options(), output_padding=self.output_padding)


def _transposed_padding_1d(padding):
    """Check a 1-D transposed convolution's padding: an int or a 1-tuple (no strings)."""
    if isinstance(padding, str):
        raise ValueError(
            f"padding must be an int or a 1-tuple for a transposed convolution, "
            f"got {padding!r}"
        )
    return _check_single(padding, "padding", 0)[0]


class ConvTranspose1d(ConvTranspose2d):
    """1-D transposed convolution layer (ConvTranspose2d's arguments, in 1-D).

    Parameters
    ----------
    in_channels, out_channels : int
        C_in and F.
    kernel_size, stride, dilation : int or 1-tuple
    padding, output_padding : int or 1-tuple
        `output_padding` below the stride or the dilation.
    groups, bias, dtype, rng, backend
        As for :class:`ConvTranspose2d` (``fan_in = out_channels / groups * K``).
    layout : {"NCL", "NLC"}, default "NCL"

    Attributes
    ----------
    params, grads : dict
        ``"weight"``: shape (C_in, F/groups, K) for NCL, (K, F/groups, C_in) for
        NLC; ``"bias"``: shape (F,), when `bias`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> up = nn.ConvTranspose1d(4, 2, 4, stride=2, padding=1, rng=0)
    >>> y = up.forward(np.ones((3, 4, 8), np.float32))      # (N, F, 2*L)
    >>> y.shape, up.backward(np.ones_like(y)).shape
    ((3, 2, 16), (3, 4, 8))
    """

    _functions = ("conv_transpose1d", "conv_transpose1d_backward")
    _layouts = ("NCL", "NLC")
    _sizes = staticmethod(_check_single)
    _pad = staticmethod(_transposed_padding_1d)


class _Pool(Layer):
    """Shared set-up of the pooling layers."""

    _functions: Tuple[str, ...] = ()
    _options: Any  # the subclass's keyword arguments of its functions
    _layouts = ("NCHW", "NHWC")
    _sizes = staticmethod(_check_pair)
    _pad = staticmethod(_check_padding)

    def __init__(
        self,
        kernel_size: Size,
        stride: OptSize,
        padding: Padding,
        dilation: Size,
        ceil_mode: bool,
        layout: Optional[str],
        backend: Optional[ModuleType],
    ) -> None:
        super().__init__()
        self.kernel_size = self._sizes(kernel_size, "kernel_size", 1)
        self.stride = None if stride is None else self._sizes(stride, "stride", 1)
        self.padding = self._pad(padding)
        self.dilation = self._sizes(dilation, "dilation", 1)
        self.ceil_mode = _check_bool(ceil_mode, "ceil_mode")
        self.layout = _check_layout(_default_layout(layout, self._layouts), self._layouts)
        self.backend = _check_backend(backend, self._functions)
        if not isinstance(self.padding, str):  # the functions' rule, before any input
            _check_pool_padding(self.kernel_size, self.padding, self.dilation)
        self._x: Optional[np.ndarray] = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kernel_size={self.kernel_size}, stride="
            f"{self.stride}, padding={self.padding!r}, layout={self.layout!r}, "
            f"backend={_backend_name(self.backend)})"
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Pool each window of x (max or mean, by the subclass)."""
        self._x = x
        return self._buffers.call(
            self.backend, self._functions[0], x, self.kernel_size, **self._options()
        )

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Gradient for x of the pooling, from the saved forward input."""
        x = self._saved("_x")
        return self._buffers.call(
            self.backend,
            self._functions[1],
            grad_out,
            x,
            self.kernel_size,
            **self._options(),
        )


class MaxPool2d(_Pool):
    """2-D max pooling layer (no parameters).

    The forward pass keeps its argmaxes (``return_indices``) for the backward
    pass, which then skips the window search.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to `kernel_size`.
    padding : int, (int, int), (top, bottom, left, right), "same" or "valid"
        -inf padding, at most half the kernel per side.
    dilation : int or (int, int)
    ceil_mode : bool
    layout : {"NCHW", "NHWC"}
    backend : module, optional
        ``fastconv`` (default) or ``fastconv.naive``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.MaxPool2d(2)
    >>> pool.forward(np.array([[[[1., 3.], [3., 2.]]]]))
    array([[[[3.]]]])
    >>> pool.backward(np.array([[[[5.]]]]))
    array([[[[0., 5.],
             [0., 0.]]]])
    """

    _functions = ("max_pool2d", "max_pool2d_backward")

    def __init__(
        self,
        kernel_size: Size,
        stride: OptSize = None,
        padding: Padding = 0,
        dilation: Size = 1,
        ceil_mode: bool = False,
        *,
        layout: Optional[str] = None,
        backend: Optional[ModuleType] = None,
    ) -> None:
        super().__init__(
            kernel_size, stride, padding, dilation, ceil_mode, layout, backend
        )

    def _options(self):
        return dict(
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            ceil_mode=self.ceil_mode,
            layout=self.layout,
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Max of each window of x; the argmaxes are kept for the backward pass."""
        self._x = x
        out, self._indices = self._buffers.call(
            self.backend,
            self._functions[0],
            x,
            self.kernel_size,
            return_indices=True,
            **self._options(),
        )
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Gradient for x: grad_out sent to the forward pass's argmaxes."""
        x = self._saved("_x")
        return self._buffers.call(
            self.backend,
            self._functions[1],
            grad_out,
            x,
            self.kernel_size,
            indices=self._indices,
            **self._options(),
        )


class AvgPool2d(_Pool):
    """2-D average pooling layer (no parameters).

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to `kernel_size`.
    padding : int, (int, int), (top, bottom, left, right), "same" or "valid"
        Zero padding, at most half the kernel per side.
    ceil_mode : bool
    count_include_pad : bool
        Divide by the window area including padding (PyTorch's default);
        ``padding="same", count_include_pad=False`` is TensorFlow's "SAME".
    layout : {"NCHW", "NHWC"}
    backend : module, optional
        ``fastconv`` (default) or ``fastconv.naive``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.AvgPool2d(2, layout="NHWC")
    >>> pool.forward(np.arange(4.0).reshape(1, 2, 2, 1)).ravel()
    array([1.5])
    """

    _functions = ("avg_pool2d", "avg_pool2d_backward")

    def __init__(
        self,
        kernel_size: Size,
        stride: OptSize = None,
        padding: Padding = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        *,
        layout: Optional[str] = None,
        backend: Optional[ModuleType] = None,
    ) -> None:
        super().__init__(kernel_size, stride, padding, 1, ceil_mode, layout, backend)
        self.count_include_pad = _check_bool(count_include_pad, "count_include_pad")

    def _options(self):
        return dict(
            stride=self.stride,
            padding=self.padding,
            ceil_mode=self.ceil_mode,
            count_include_pad=self.count_include_pad,
            layout=self.layout,
        )


class MaxPool1d(MaxPool2d):
    """1-D max pooling layer (MaxPool2d's arguments, in 1-D; keeps its indices).

    Parameters
    ----------
    kernel_size, dilation : int or 1-tuple
    stride : int or 1-tuple, optional
        Defaults to `kernel_size`.
    padding : int, 1-tuple, "same" or "valid"
    ceil_mode, backend
        As for :class:`MaxPool2d`.
    layout : {"NCL", "NLC"}, default "NCL"

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.MaxPool1d(2)
    >>> pool.forward(np.array([[[1., 3., 2., 5.]]]))
    array([[[3., 5.]]])
    >>> pool.backward(np.array([[[1., 2.]]]))
    array([[[0., 1., 0., 2.]]])
    """

    _functions = ("max_pool1d", "max_pool1d_backward")
    _layouts = ("NCL", "NLC")
    _sizes = staticmethod(_check_single)
    _pad = staticmethod(_check_padding_1d)


class AvgPool1d(AvgPool2d):
    """1-D average pooling layer (AvgPool2d's arguments, in 1-D).

    Parameters
    ----------
    kernel_size : int or 1-tuple
    stride : int or 1-tuple, optional
        Defaults to `kernel_size`.
    padding : int, 1-tuple, "same" or "valid"
    ceil_mode, count_include_pad, backend
        As for :class:`AvgPool2d`.
    layout : {"NCL", "NLC"}, default "NCL"

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.AvgPool1d(2).forward(np.array([[[1., 3., 2., 6.]]]))
    array([[[2., 4.]]])
    """

    _functions = ("avg_pool1d", "avg_pool1d_backward")
    _layouts = ("NCL", "NLC")
    _sizes = staticmethod(_check_single)
    _pad = staticmethod(_check_padding_1d)


class _AdaptivePool(Layer):
    """Shared set-up of the adaptive pooling layers: output size, layout, backend."""

    _functions: Tuple[str, ...] = ()
    _layouts = ("NCHW", "NHWC")
    _rank = 2

    def __init__(
        self,
        output_size: OutputSize,
        *,
        layout: Optional[str] = None,
        backend: Optional[ModuleType] = None,
    ) -> None:
        super().__init__()
        self.output_size = _check_output_size(output_size, self._rank)
        self.layout = _check_layout(_default_layout(layout, self._layouts), self._layouts)
        self.backend = _check_backend(backend, self._functions)
        self._x: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Pool x down to the output size (mean or max, by the subclass)."""
        self._x = x
        return self._buffers.call(
            self.backend, self._functions[0], x, self.output_size, layout=self.layout
        )

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Gradient for x of the pooling, from the saved forward input."""
        x = self._saved("_x")
        return self._buffers.call(
            self.backend, self._functions[1], grad_out, x, layout=self.layout
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.output_size!r}, layout={self.layout!r}, "
            f"backend={_backend_name(self.backend)})"
        )


class AdaptiveAvgPool2d(_AdaptivePool):
    """2-D adaptive average pooling layer (no parameters): a fixed output size.

    Output o along an axis of size L averages ``[floor(o*L/O), ceil((o+1)*L/O))``.

    Parameters
    ----------
    output_size : int, None or (int or None, int or None)
        (OH, OW); None for either keeps the input's size. ``1`` is the global
        average pooling of ResNet-style heads.
    layout : {"NCHW", "NHWC"}, default "NCHW"
    backend : module, optional
        ``fastconv`` (default) or ``fastconv.naive``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.AdaptiveAvgPool2d(1)
    >>> pool.forward(np.arange(8.0).reshape(1, 2, 2, 2)).ravel()
    array([1.5, 5.5])
    """

    _functions = ("adaptive_avg_pool2d", "adaptive_avg_pool2d_backward")


class AdaptiveMaxPool2d(_AdaptivePool):
    """2-D adaptive max pooling layer (no parameters; keeps its indices).

    The forward pass keeps its argmaxes (``return_indices``) for the backward
    pass, which then skips the window search. Windows as for
    :class:`AdaptiveAvgPool2d`.

    Parameters
    ----------
    output_size : int, None or (int or None, int or None)
        (OH, OW); None for either keeps the input's size.
    layout : {"NCHW", "NHWC"}, default "NCHW"
    backend : module, optional
        ``fastconv`` (default) or ``fastconv.naive``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.AdaptiveMaxPool2d((1, None))
    >>> pool.forward(np.array([[[[1., 4.], [3., 2.]]]]))
    array([[[[3., 4.]]]])
    >>> pool.backward(np.array([[[[5., 6.]]]]))
    array([[[[0., 6.],
             [5., 0.]]]])
    """

    _functions = ("adaptive_max_pool2d", "adaptive_max_pool2d_backward")

    def __init__(
        self,
        output_size: OutputSize,
        *,
        layout: Optional[str] = None,
        backend: Optional[ModuleType] = None,
    ) -> None:
        super().__init__(output_size, layout=layout, backend=backend)
        self._indices: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Max of each window of x; the argmaxes are kept for the backward pass."""
        self._x = x
        out, self._indices = self._buffers.call(
            self.backend,
            self._functions[0],
            x,
            self.output_size,
            return_indices=True,
            layout=self.layout,
        )
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Gradient for x: grad_out sent to the forward pass's argmaxes."""
        x = self._saved("_x")
        return self._buffers.call(
            self.backend,
            self._functions[1],
            grad_out,
            x,
            layout=self.layout,
            indices=self._indices,
        )


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """1-D adaptive average pooling layer (AdaptiveAvgPool2d's arguments, in 1-D).

    Parameters
    ----------
    output_size : int or 1-tuple
        OL (no None, as in PyTorch).
    layout : {"NCL", "NLC"}, default "NCL"
    backend : module, optional
        ``fastconv`` (default) or ``fastconv.naive``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.AdaptiveAvgPool1d(2).forward(np.array([[[1., 2., 3., 4., 5.]]]))
    array([[[2., 4.]]])
    """

    _functions = ("adaptive_avg_pool1d", "adaptive_avg_pool1d_backward")
    _layouts = ("NCL", "NLC")
    _rank = 1


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """1-D adaptive max pooling layer (AdaptiveMaxPool2d's arguments, in 1-D).

    Parameters
    ----------
    output_size : int or 1-tuple
        OL (no None, as in PyTorch).
    layout : {"NCL", "NLC"}, default "NCL"
    backend : module, optional
        ``fastconv`` (default) or ``fastconv.naive``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.AdaptiveMaxPool1d(2)
    >>> pool.forward(np.array([[[1., 5., 3., 2., 4.]]]))
    array([[[5., 4.]]])
    >>> pool.backward(np.array([[[1., 2.]]]))
    array([[[0., 1., 0., 0., 2.]]])
    """

    _functions = ("adaptive_max_pool1d", "adaptive_max_pool1d_backward")
    _layouts = ("NCL", "NLC")
    _rank = 1


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """3-D adaptive average pooling layer (AdaptiveAvgPool2d's arguments, in 3-D).

    Parameters
    ----------
    output_size : int, None, 1-tuple or a triple of ints or None
        (OD, OH, OW); None for any keeps the input's size.
    layout : {"NCDHW", "NDHWC"}, default "NCDHW"
    backend : module, optional
        ``fastconv`` (default) or ``fastconv.naive``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.AdaptiveAvgPool3d((1, None, 1))
    >>> pool.forward(np.arange(8.0).reshape(1, 1, 2, 2, 2)).ravel()  # (OD, H, OW)
    array([2.5, 4.5])
    """

    _functions = ("adaptive_avg_pool3d", "adaptive_avg_pool3d_backward")
    _layouts = ("NCDHW", "NDHWC")
    _rank = 3


class AdaptiveMaxPool3d(AdaptiveMaxPool2d):
    """3-D adaptive max pooling layer (AdaptiveMaxPool2d's arguments, in 3-D).

    Its indices are flat ``d*H*W + h*W + w`` in each input volume.

    Parameters
    ----------
    output_size : int, None, 1-tuple or a triple of ints or None
        (OD, OH, OW); None for any keeps the input's size.
    layout : {"NCDHW", "NDHWC"}, default "NCDHW"
    backend : module, optional
        ``fastconv`` (default) or ``fastconv.naive``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.AdaptiveMaxPool3d(1)
    >>> pool.forward(np.arange(8.0).reshape(1, 1, 2, 2, 2)).ravel()
    array([7.])
    """

    _functions = ("adaptive_max_pool3d", "adaptive_max_pool3d_backward")
    _layouts = ("NCDHW", "NDHWC")
    _rank = 3


class Conv3d(Conv2d):
    """3-D convolution layer, He-initialised (Conv2d's arguments, in 3-D).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int, 1-tuple or (int, int, int)
    padding : int, 1-tuple, (int, int, int), "same" or "valid"
    groups, bias, dtype, rng, backend, padding_mode
        As for :class:`Conv2d` (``padding_mode`` as ``torch.nn.Conv3d``'s).
    layout : {"NCDHW", "NDHWC"}, default "NCDHW"

    Attributes
    ----------
    params, grads : dict
        ``"weight"``: shape (F, C/groups, KD, KH, KW) for NCDHW, (KD, KH, KW,
        C/groups, F) for NDHWC; ``"bias"``: shape (F,), when `bias`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> conv = nn.Conv3d(2, 4, 3, padding=1, rng=0)
    >>> y = conv.forward(np.ones((1, 2, 4, 5, 5), np.float32))
    >>> y.shape, conv.backward(np.ones_like(y)).shape
    ((1, 4, 4, 5, 5), (1, 2, 4, 5, 5))
    """

    _functions = ("conv3d", "conv3d_backward")
    _layouts = ("NCDHW", "NDHWC")
    _sizes = staticmethod(_check_triple)
    _pad = staticmethod(_check_padding_3d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size,
        stride: Size = 1,
        padding: Padding = 0,
        dilation: Size = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        layout: Optional[str] = "NCDHW",
        dtype: DTypeLike = np.float32,
        rng: Seed = None,
        backend: Optional[ModuleType] = None,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            layout=layout,
            dtype=dtype,
            rng=rng,
            backend=backend,
            padding_mode=padding_mode,
        )


def _check_padding_3d_ints(padding):
    """Check a 3-D pooling's padding: an int, a 1-tuple or a triple (no strings)."""
    return _check_triple(padding, "padding", 0)


def _transposed_padding_3d(padding):
    """Check a 3-D transposed convolution's padding: an int, 1-tuple or triple."""
    if isinstance(padding, str):
        raise ValueError(
            f"padding must be an int or a triple for a transposed convolution, "
            f"got {padding!r}"
        )
    return _check_padding_3d_ints(padding)


class ConvTranspose3d(ConvTranspose2d):
    """3-D transposed convolution layer (ConvTranspose2d's arguments, in 3-D).

    Parameters
    ----------
    in_channels, out_channels : int
        C_in and F.
    kernel_size, stride, dilation : int, 1-tuple or (int, int, int)
    padding, output_padding : int, 1-tuple or (int, int, int)
        `output_padding` below the stride or the dilation, per axis.
    groups, bias, dtype, rng, backend
        As for :class:`ConvTranspose2d` (``fan_in = out_channels / groups * KD *
        KH * KW``).
    layout : {"NCDHW", "NDHWC"}, default "NCDHW"

    Attributes
    ----------
    params, grads : dict
        ``"weight"``: shape (C_in, F/groups, KD, KH, KW) for NCDHW, (KD, KH, KW,
        F/groups, C_in) for NDHWC; ``"bias"``: shape (F,), when `bias`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> up = nn.ConvTranspose3d(4, 2, 2, stride=2, layout="NDHWC", rng=0)
    >>> up.params["weight"].shape                            # (KD, KH, KW, F, C_in)
    (2, 2, 2, 2, 4)
    >>> y = up.forward(np.ones((1, 2, 3, 3, 4), np.float32))  # (N, OD, OH, OW, F)
    >>> y.shape, up.backward(np.ones_like(y)).shape
    ((1, 4, 6, 6, 2), (1, 2, 3, 3, 4))
    """

    _functions = ("conv_transpose3d", "conv_transpose3d_backward")
    _layouts = ("NCDHW", "NDHWC")
    _sizes = staticmethod(_check_triple)
    _pad = staticmethod(_transposed_padding_3d)


class MaxPool3d(MaxPool2d):
    """3-D max pooling layer (MaxPool2d's arguments, in 3-D; keeps its indices).

    Parameters
    ----------
    kernel_size, dilation : int, 1-tuple or (int, int, int)
    stride : int, 1-tuple or (int, int, int), optional
        Defaults to `kernel_size`.
    padding : int, 1-tuple or (int, int, int)
    ceil_mode, backend
        As for :class:`MaxPool2d`.
    layout : {"NCDHW", "NDHWC"}, default "NCDHW"

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.MaxPool3d(2).forward(np.arange(8.0).reshape(1, 1, 2, 2, 2)).ravel()
    array([7.])
    """

    _functions = ("max_pool3d", "max_pool3d_backward")
    _layouts = ("NCDHW", "NDHWC")
    _sizes = staticmethod(_check_triple)
    _pad = staticmethod(_check_padding_3d_ints)


class AvgPool3d(AvgPool2d):
    """3-D average pooling layer (AvgPool2d's arguments, in 3-D).

    Parameters
    ----------
    kernel_size : int, 1-tuple or (int, int, int)
    stride : int, 1-tuple or (int, int, int), optional
        Defaults to `kernel_size`.
    padding : int, 1-tuple or (int, int, int)
    ceil_mode, count_include_pad, backend
        As for :class:`AvgPool2d`.
    layout : {"NCDHW", "NDHWC"}, default "NCDHW"

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.AvgPool3d(2).forward(np.arange(8.0).reshape(1, 1, 2, 2, 2)).ravel()
    array([3.5])
    """

    _functions = ("avg_pool3d", "avg_pool3d_backward")
    _layouts = ("NCDHW", "NDHWC")
    _sizes = staticmethod(_check_triple)
    _pad = staticmethod(_check_padding_3d_ints)


class ReLU(Layer):
    """``max(x, 0)``, elementwise; its gradient at 0 is 0 (as in PyTorch).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> relu = nn.ReLU()
    >>> relu.forward(np.array([-1.0, 0.0, 2.0])), relu.backward(np.ones(3))
    (array([0., 0., 2.]), array([0., 0., 1.]))
    """

    def __init__(self) -> None:
        super().__init__()
        self._mask: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``max(x, 0)``."""
        x = np.asarray(x)
        self._mask = x > 0
        return np.maximum(x, 0)  # NaN propagates, as in PyTorch

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out where x > 0, else 0."""
        return np.asarray(grad_out) * self._saved("_mask")

    def __repr__(self) -> str:
        return "ReLU()"


class Flatten(Layer):
    """Reshape (N, ...) to (N, features), in the memory order of the layout.

    An NCHW input flattens as ``(c, h, w)``, an NHWC input as ``(h, w, c)``
    (as Keras does), so a following Linear layer's weight columns are in that
    order.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> flat = nn.Flatten()
    >>> flat.forward(np.zeros((2, 3, 4, 5))).shape, flat.backward(np.zeros((2, 60))).shape
    ((2, 60), (2, 3, 4, 5))
    """

    def __init__(self) -> None:
        super().__init__()
        self._shape: Optional[Tuple[int, ...]] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return x reshaped to (N, prod(x.shape[1:]))."""
        x = np.asarray(x)
        if x.ndim < 1:
            raise ValueError(f"x must have a batch axis, got shape {x.shape}")
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)  # (N, features)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out reshaped back to the last input's shape."""
        return np.asarray(grad_out).reshape(self._saved("_shape"))

    def __repr__(self) -> str:
        return "Flatten()"


class Linear(Layer):
    """Fully connected layer ``y = x @ weight.T + bias``, He-initialised.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    dtype : float dtype
        Of the parameters (default float32).
    rng : None, int or numpy.random.Generator
        Source of the initial weights, ``N(0, 2 / in_features)``; bias zero.

    Attributes
    ----------
    params, grads : dict
        ``"weight"`` of shape (out_features, in_features) (PyTorch's order),
        ``"bias"`` of shape (out_features,), when `bias`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> fc = nn.Linear(3, 2, rng=0)
    >>> fc.forward(np.ones((4, 3), np.float32)).shape
    (4, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype: DTypeLike = np.float32,
        rng: Seed = None,
    ) -> None:
        super().__init__()
        self.in_features = _check_int(in_features, "in_features", 1)
        self.out_features = _check_int(out_features, "out_features", 1)
        use_bias = _check_bool(bias, "bias")
        dtype = _check_dtype(dtype)
        rng = _check_rng(rng)
        self.params["weight"] = _he_normal(
            rng, (self.out_features, self.in_features), self.in_features, dtype
        )
        if use_bias:
            self.params["bias"] = np.zeros(self.out_features, dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Map x (N, in_features) to (N, out_features)."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"x must have shape (N, in_features={self.in_features}), "
                f"got shape {x.shape}"
            )
        self._x = x
        y = x @ self.params["weight"].T  # (N, out_features)
        if "bias" in self.params:
            y += self.params["bias"]
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Set the weight and bias gradients; return the gradient for x."""
        x = self._saved("_x")
        grad_out = np.asarray(grad_out)
        self.grads["weight"][...] = grad_out.T @ x  # (out, N) @ (N, in)
        if "bias" in self.grads:
            self.grads["bias"][...] = grad_out.sum(axis=0)
        return grad_out @ self.params["weight"]  # (N, in_features)

    def __repr__(self) -> str:
        return (
            f"Linear({self.in_features}, {self.out_features}, "
            f"bias={'bias' in self.params})"
        )


class Dropout(Layer):
    """Inverted dropout; the identity in evaluation mode.

    In training, each entry is zeroed with probability p and the rest are
    scaled by ``1 / (1 - p)``, so the expected output is the input.

    Parameters
    ----------
    p : float in [0, 1)
    rng : None, int or numpy.random.Generator
        Source of the masks: the same seed gives the same masks.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> drop = nn.Dropout(0.5, rng=0)
    >>> y = drop.forward(np.ones((2, 1000)))
    >>> sorted(set(y.ravel().tolist()))
    [0.0, 2.0]
    >>> drop.eval().forward(np.ones(3))
    array([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, *, rng: Seed = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"p must be a float in [0, 1), got {p!r}")
        if not 0 <= p < 1:
            raise ValueError(f"p must be in [0, 1), got {p!r}")
        self.p: float = float(p)
        self.rng: np.random.Generator = _check_rng(rng)
        self._mask: Union[np.ndarray, str, None] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return x with dropped entries zeroed and the rest scaled (training only)."""
        x = np.asarray(x)
        if not self.training or self.p == 0:
            self._mask = _KEEP_ALL
            return x
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        keep = self.rng.random(x.shape) >= self.p
        self._mask = keep.astype(dtype) * dtype.type(1 / (1 - self.p))
        return x * self._mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out through the same mask and scale as the last forward."""
        mask = self._saved("_mask")
        if mask is _KEEP_ALL:
            return np.asarray(grad_out)
        return np.asarray(grad_out) * mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Sequential(Layer):
    """Layers run in order; backward runs their backward passes in reverse.

    Parameters
    ----------
    *layers : Layer
        Anything with ``forward``, ``backward`` and ``parameters``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> model = nn.Sequential(nn.Linear(4, 3, rng=0), nn.ReLU(), nn.Linear(3, 2, rng=1))
    >>> [name for name, _, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    >>> model.forward(np.ones((5, 4), np.float32)).shape
    (5, 2)
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            for method in ("forward", "backward", "parameters"):
                if not callable(getattr(layer, method, None)):
                    raise TypeError(
                        f"layers[{i}] must be a layer with forward, backward and "
                        f"parameters, got {layer!r}"
                    )
        self.layers = list(layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Run x through every layer."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Backward through every layer, last first; return the input gradient."""
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def parameters(self) -> List[Tuple[np.ndarray, np.ndarray]]:
        """Every layer's ``(param, grad)`` pairs, in layer order."""
        return [pair for layer in self.layers for pair in layer.parameters()]

    def named_parameters(self) -> List[Tuple[str, np.ndarray, np.ndarray]]:
        """``(f"{index}.{name}", param, grad)`` for every layer's parameters."""
        out = []
        for i, layer in enumerate(self.layers):
            if hasattr(layer, "named_parameters"):
                out += [(f"{i}.{n}", p, g) for n, p, g in layer.named_parameters()]
        return out

    def train(self, mode: bool = True) -> Layer:
        """Set training mode here and in every layer; return self."""
        super().train(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def state_dict(self) -> Dict[str, np.ndarray]:
        """``{name: copy of param}`` for every parameter."""
        return {n: p.copy() for n, p, _ in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> None:
        """Copy `state` (from :meth:`state_dict`) into the parameters, in place."""
        own = {n: p for n, p, _ in self.named_parameters()}
        if set(state) != set(own):
            raise ValueError(
                f"state must have the parameters {sorted(own)}, got {sorted(state)}"
            )
        for name, p in own.items():
            value = np.asarray(state[name])
            if value.shape != p.shape:
                raise ValueError(
                    f"state[{name!r}] must have shape {p.shape}, got {value.shape}"
                )
            p[...] = value

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"
