"""1-D convolution and pooling, forward and backward: the 2-D engine on views.

x ``(N, C, L)`` ("NCL") is ``(N, C, 1, L)`` to the 2-D functions, ``(N, L,
C)`` ("NLC") is ``(N, 1, L, C)``; the window is ``(1, K)``. These views
cost nothing (no copy; the 2-D plans and kernels see one row), so the 1-D
functions are as fast as the 2-D ones on the same data. Arguments follow
``torch.nn.functional.conv1d``, ``max_pool1d`` and ``avg_pool1d``: ints or
one-element tuples, ``padding`` an int, a 1-tuple, "valid" or "same".

The functions are generated, not written: each is its 2-D function with
every argument passed through :class:`Row` (PyTorch's ``view1d_as_2d``),
by name, and the result taken back (:func:`_generate`). Their signatures
are the 2-D ones with the 1-D layouts, and so are their types: a type
checker sees each as its 2-D function (``avg_pool1d`` and its backward,
which lack ``divisor_override``, as the protocols below).
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any, Callable, Protocol, Tuple, TypeVar, cast

import numpy as np

from . import adaptive, conv, pool
from ._engine.args import as_pool_input, as_real_array
from ._engine.results import takes_out
from ._engine.results import with_indices as _with_indices
from ._typing import Array, ArrayLike, OptSize, Out, Padding, Size

__all__ = [
    "conv1d",
    "conv1d_backward",
    "max_pool1d",
    "max_pool1d_backward",
    "avg_pool1d",
    "avg_pool1d_backward",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_backward",
    "conv_transpose1d",
    "conv_transpose1d_backward",
]

#: 1-D layout -> the 2-D layout of its view
LAYOUTS = {"NCL": "NCHW", "NLC": "NHWC"}


class Row:
    """1-D arguments as the 2-D engine's: one row (PyTorch's ``view1d_as_2d``).

    Built from the call's `layout`; its methods turn each 1-D argument into
    the 2-D function's and the 2-D results back. Arrays become views
    (``(N, C, L)`` -> ``(N, C, 1, L)``, ``(N, L, C)`` -> ``(N, 1, L, C)``),
    sizes ``(1, value)``, paddings nothing along the row's height.
    """

    def __init__(self, layout: Any):
        if not isinstance(layout, str) or layout not in LAYOUTS:
            raise ValueError(f"layout must be 'NCL' or 'NLC', got {layout!r}")
        self.layout2 = LAYOUTS[layout]
        self.nchw = self.layout2 == "NCHW"

    # arrays -------------------------------------------------------------

    def x(self, a: Any, name: str = "x", pooled: bool = False) -> np.ndarray:
        """(N, C, L) -> (N, C, 1, L); (N, L, C) -> (N, 1, L, C).

        `pooled`: a pooling's input, whose channels and length must not be empty.
        """
        a = (as_pool_input if pooled else as_real_array)(a, name, ndim=3)
        return a[:, :, None, :] if self.nchw else a[:, None, :, :]

    def weight(self, w: Any) -> np.ndarray:
        """(F, C/groups, K) -> (F, C/groups, 1, K); NLC (K, C/g, F) -> (1, K, C/g, F).

        Transposed convolutions' weights, (C_in, F/groups, K) or (K, F/groups,
        C_in), take their one row at the same places.
        """
        w = as_real_array(w, "weight", ndim=3)
        return w[:, :, None, :] if self.nchw else w[None]

    def indices(self, indices: Any) -> Any:
        """Return a max pooling's 3-D indices as the view's (None stays None)."""
        if indices is None:
            return None
        indices = np.asarray(indices)
        if indices.ndim != 3:
            raise ValueError(f"indices must be 3-D, got shape {indices.shape}")
        return indices[:, :, None, :] if self.nchw else indices[:, None]

    def drop(self, a: np.ndarray) -> np.ndarray:
        """Return the view's result in 1-D: without its one row."""
        return a[:, :, 0, :] if self.nchw else a[:, 0, :, :]

    def drop_weight(self, g: np.ndarray) -> np.ndarray:
        return g[:, :, 0, :] if self.nchw else g[0]

    # the results of each kind of function

    def value(self, result: np.ndarray) -> np.ndarray:
        return self.drop(result)

    def grads(self, result: Tuple[np.ndarray, ...]) -> Tuple[np.ndarray, ...]:
        gx, gw, gb = result
        return self.drop(gx), self.drop_weight(gw), gb

    def with_indices(self, result: Any, return_indices: bool) -> Any:
        if return_indices:
            return self.drop(result[0]), self.drop(result[1])
        return self.drop(result)

    # arguments ----------------------------------------------------------

    @staticmethod
    def size(value: Any, name: str, optional: bool = False) -> Any:
        """Return an int or a one-element tuple as the view's pair ``(1, value)``."""
        if optional and value is None:
            return None
        v = value
        if isinstance(v, (tuple, list)):
            if len(v) != 1:
                raise ValueError(
                    f"{name} must be an int or a 1-tuple, got {tuple(value)!r}"
                )
            v = v[0]
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int or a 1-tuple, got {value!r}")
        return (1, int(v))

    @staticmethod
    def padding(padding: Any) -> Any:
        """1-D padding as the view's: (0, 0, p, p), or "valid"/"same" unchanged."""
        if isinstance(padding, str):
            return padding  # the view's one row pads nothing in H
        p = Row.size(padding, "padding")[1]
        return (0, 0, p, p)

    @staticmethod
    def pair(value: Any, name: str) -> Tuple[int, int]:
        """Return a transposed convolution's padding or output_padding as (0, value)."""
        return (0, Row.size(value, name)[1])

    @staticmethod
    def output_size(output_size: Any) -> Tuple[int, Any]:
        """Return a 1-D adaptive output size (int, 1-tuple, None) as the view's."""
        if isinstance(output_size, (tuple, list)):
            if len(output_size) != 1:
                raise ValueError(
                    f"output_size must be an int or a 1-tuple, got {tuple(output_size)!r}"
                )
            output_size = output_size[0]
        return (1, output_size)


#: how each 1-D argument becomes its 2-D function's, by name (source text,
#: `row` the call's Row); `pooled` and `transposed` pick among the variants
_CONVERT = {
    "x": "row.x(x, 'x', pooled={pooled})",
    "grad_out": "row.x(grad_out, 'grad_out')",
    "weight": "row.weight(weight)",
    "kernel_size": "row.size(kernel_size, 'kernel_size')",
    "stride": "row.size(stride, 'stride', optional={pooled})",
    "dilation": "row.size(dilation, 'dilation')",
    "padding": "{padding}",
    "output_padding": "row.pair(output_padding, 'output_padding')",
    "output_size": "row.output_size(output_size)",
    "indices": "row.indices(indices)",
    "layout": "row.layout2",
}

#: how each kind of 2-D result comes back
_RESULTS = {
    "value": "row.value(result)",
    "grads": "row.grads(result)",
    "indices": "row.with_indices(result, return_indices)",
}


F = TypeVar("F", bound=Callable[..., Any])


def _generate(name: str, fn2d: F, result: str, doc: str, n_out: Any = 1) -> F:
    """Return the 1-D function `name`: `fn2d` on :class:`Row` views.

    Its signature is `fn2d`'s with the layouts "NCL"/"NLC" (and without
    ``divisor_override``, which torch's 1-D pooling lacks); its source calls
    `fn2d` with every argument converted by name (:data:`_CONVERT`), so a
    call costs what the hand-written wrapper did. `result`: a key of
    :data:`_RESULTS`; `n_out`: the results ``out=`` takes (see takes_out).
    """
    sig = inspect.signature(fn2d)
    params = [
        p.replace(default="NCL") if p.name == "layout" else p
        for p in sig.parameters.values()
        if p.name != "divisor_override"
    ]
    kind = name.split("_")[0]
    pooled = kind in ("max", "avg", "adaptive")
    transposed = name.startswith("conv_transpose")
    padding = "row.pair(padding, 'padding')" if transposed else "row.padding(padding)"
    call = []
    for p in params:
        if p.name == "out":
            continue
        expr = _CONVERT.get(p.name, p.name).format(pooled=pooled, padding=padding)
        call.append(f"{p.name}={expr}")
    header = inspect.Signature(params, return_annotation=sig.return_annotation)
    # the 2-D function by its name in this module (conv.conv2d, ...), and the
    # function defined in this module's namespace, as a written one would be
    # (doctest finds its examples)
    called = f"{fn2d.__module__.rsplit('.', 1)[1]}.{fn2d.__name__}"
    source = (
        f"def {name}{header}:\n"
        f"    row = Row(layout)\n"
        f"    result = {called}({', '.join(call)})\n"
        f"    return {_RESULTS[result]}\n"
    )
    exec(compile(source, f"<fastconv.oned.{name}>", "exec", dont_inherit=True), globals())
    fn = globals()[name]
    fn.__doc__ = doc
    return cast(F, takes_out(n_out)(fn))


class _AvgPool1d(Protocol):
    """The type of :func:`avg_pool1d`: avg_pool2d's without divisor_override."""

    def __call__(
        self,
        x: ArrayLike,
        kernel_size: Size,
        stride: OptSize = None,
        padding: Padding = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        *,
        layout: str = "NCL",
        out: Out = None,
    ) -> Array: ...


class _AvgPool1dBackward(Protocol):
    """The type of :func:`avg_pool1d_backward`."""

    def __call__(
        self,
        grad_out: ArrayLike,
        x: ArrayLike,
        kernel_size: Size,
        stride: OptSize = None,
        padding: Padding = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        *,
        layout: str = "NCL",
        out: Out = None,
    ) -> Array: ...


# --------------------------------------------------------------------------
# the functions: (name, 2-D function, kind of result, results out= takes), doc

conv1d = _generate(
    "conv1d",
    conv.conv2d,
    "value",
    """1-D convolution (cross-correlation), as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : array_like of shape (N, C, L), or (N, L, C) for layout "NLC"
    weight : array_like of shape (F, C/groups, K), or (K, C/groups, F) for "NLC"
    bias : array_like of shape (F,), optional
    stride, dilation : int or 1-tuple
    padding : int, 1-tuple, "valid" or "same"
        Zero padding on both ends; "same" as for :func:`fastconv.conv2d`.
    groups : int
    layout : {"NCL", "NLC"}
    algorithm : str
        As for :func:`fastconv.conv2d` (the layer is a 1 x K 2-D one).
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        As for :func:`fastconv.conv2d` (``torch.nn.Conv1d``'s).

    Returns
    -------
    out : ndarray of shape (N, F, OL), or (N, OL, F) for "NLC"
        ``OL = floor((L + 2*padding - (K - 1)*dilation - 1) / stride) + 1``.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.conv1d(np.arange(5.0).reshape(1, 1, 5), np.ones((1, 1, 2)))
    array([[[1., 3., 5., 7.]]])
    """,
    1,
)

conv1d_backward = _generate(
    "conv1d_backward",
    conv.conv2d_backward,
    "grads",
    """Gradients of :func:`conv1d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : array_like of shape (N, F, OL), or (N, OL, F) for "NLC"
    x, weight, stride, padding, dilation, groups, layout, algorithm, padding_mode
        As given to :func:`conv1d`.

    Returns
    -------
    grad_x : ndarray, shape of x
    grad_weight : ndarray, shape of weight
    grad_bias : ndarray of shape (F,)
    """,
    3,
)

max_pool1d = _generate(
    "max_pool1d",
    pool.max_pool2d,
    "indices",
    """1-D max pooling, as ``torch.nn.functional.max_pool1d``.

    Parameters
    ----------
    x : array_like of shape (N, C, L), or (N, L, C) for layout "NLC"
    kernel_size, dilation : int or 1-tuple
    stride : int or 1-tuple, optional
        Defaults to `kernel_size`.
    padding : int or 1-tuple
        Implicit -inf padding, at most half the dilated kernel.
    ceil_mode, return_indices
        As for :func:`fastconv.max_pool2d`.
    layout : {"NCL", "NLC"}

    Returns
    -------
    out : ndarray of shape (N, C, OL), or (N, OL, C) for "NLC"
    indices : ndarray of int64, shape of out
        Only with `return_indices`: each maximum's position in L.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.max_pool1d(np.array([[[1., 3., 2., 5.]]]), 2, return_indices=True)
    (array([[[3., 5.]]]), array([[[1, 3]]]))
    """,
    _with_indices,
)

max_pool1d_backward = _generate(
    "max_pool1d_backward",
    pool.max_pool2d_backward,
    "value",
    """Gradient of :func:`max_pool1d` with respect to x.

    Parameters
    ----------
    grad_out : array_like, the output's shape
    x, kernel_size, stride, padding, dilation, ceil_mode, layout
        As given to :func:`max_pool1d`.
    indices : array_like of ints, optional
        What ``max_pool1d(..., return_indices=True)`` returned: no window
        search then.

    Returns
    -------
    grad_x : ndarray, shape of x
    """,
    1,
)

avg_pool1d: _AvgPool1d = _generate(
    "avg_pool1d",
    pool.avg_pool2d,
    "value",
    """1-D average pooling, as ``torch.nn.functional.avg_pool1d``.

    Parameters
    ----------
    x : array_like of shape (N, C, L), or (N, L, C) for layout "NLC"
    kernel_size : int or 1-tuple
    stride : int or 1-tuple, optional
        Defaults to `kernel_size`.
    padding : int or 1-tuple
    ceil_mode, count_include_pad
        As for :func:`fastconv.avg_pool2d` (torch's avg_pool1d has no
        divisor_override, nor has this).
    layout : {"NCL", "NLC"}

    Returns
    -------
    out : ndarray of shape (N, C, OL), or (N, OL, C) for "NLC"

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool1d(np.array([[[1., 3., 2., 6.]]]), 2)
    array([[[2., 4.]]])
    """,
    1,
)

avg_pool1d_backward: _AvgPool1dBackward = _generate(
    "avg_pool1d_backward",
    pool.avg_pool2d_backward,
    "value",
    """Gradient of :func:`avg_pool1d` with respect to x.

    Parameters
    ----------
    grad_out : array_like, the output's shape
    x, kernel_size, stride, padding, ceil_mode, count_include_pad, layout
        As given to :func:`avg_pool1d`.

    Returns
    -------
    grad_x : ndarray, shape of x
    """,
    1,
)

adaptive_avg_pool1d = _generate(
    "adaptive_avg_pool1d",
    adaptive.adaptive_avg_pool2d,
    "value",
    """1-D adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool1d``.

    Parameters
    ----------
    x : array_like of shape (N, C, L), or (N, L, C) for layout "NLC"
    output_size : int or 1-tuple
        OL; output o pools ``[floor(o*L/OL), ceil((o+1)*L/OL))``.
    layout : {"NCL", "NLC"}

    Returns
    -------
    out : ndarray of shape (N, C, OL), or (N, OL, C) for "NLC"

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.adaptive_avg_pool1d(np.array([[[1., 2., 3., 4., 5.]]]), 2)
    array([[[2., 4.]]])
    """,
    1,
)

adaptive_avg_pool1d_backward = _generate(
    "adaptive_avg_pool1d_backward",
    adaptive.adaptive_avg_pool2d_backward,
    "value",
    """Gradient of :func:`adaptive_avg_pool1d`; the output size is grad_out's.""",
    1,
)

adaptive_max_pool1d = _generate(
    "adaptive_max_pool1d",
    adaptive.adaptive_max_pool2d,
    "indices",
    """1-D adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool1d``.

    Parameters
    ----------
    x : array_like of shape (N, C, L), or (N, L, C) for layout "NLC"
    output_size : int or 1-tuple
    return_indices : bool
        Also return each window's argmax (its position in L).
    layout : {"NCL", "NLC"}

    Returns
    -------
    out : ndarray of shape (N, C, OL), or (N, OL, C) for "NLC"
    indices : ndarray of int64, shape of out (with `return_indices`)
    """,
    _with_indices,
)

adaptive_max_pool1d_backward = _generate(
    "adaptive_max_pool1d_backward",
    adaptive.adaptive_max_pool2d_backward,
    "value",
    """Gradient of :func:`adaptive_max_pool1d`; `indices` as it returned them.""",
    1,
)

conv_transpose1d = _generate(
    "conv_transpose1d",
    conv.conv_transpose2d,
    "value",
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``.

    Parameters
    ----------
    x : array_like of shape (N, C_in, L), or (N, L, C_in) for layout "NLC"
    weight : array_like of shape (C_in, F/groups, K), or (K, F/groups, C_in) for "NLC"
    bias : array_like of shape (F,), optional
    stride, padding, output_padding, dilation : int or 1-tuple
    groups, algorithm
        As for :func:`fastconv.conv_transpose2d`.
    layout : {"NCL", "NLC"}

    Returns
    -------
    out : ndarray of shape (N, F, OL), or (N, OL, F) for "NLC"
        ``OL = (L - 1)*stride - 2*padding + dilation*(K - 1) + output_padding + 1``.
    """,
    1,
)

conv_transpose1d_backward = _generate(
    "conv_transpose1d_backward",
    conv.conv_transpose2d_backward,
    "grads",
    """Gradients of :func:`conv_transpose1d`: (grad_x, grad_weight, grad_bias).""",
    3,
)
