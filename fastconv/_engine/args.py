"""Argument checks and coercion shared by the public functions.

Everything the kernels assume of the arrays is established here (shapes and
the layout are checked by :mod:`fastconv._engine.geometry`): arrays are 4-D,
of a float dtype the kernels are compiled for, and C-contiguous. Each check
raises with the argument's name and its value.

dtype rule (one rule for every function):

- float32 and float64 are computed and returned in their own precision.
- When several arrays take part (x, weight, bias, grad_out) their dtypes are
  promoted as numpy does (float32 with float64 gives float64).
- float16 is computed in float32 and returned as float16; long double is
  computed in float64 and returned as long double.
- bool and integer inputs are computed and returned in float64, as
  ``np.mean`` does.
- complex, object, string and other non-real dtypes raise TypeError.
"""

import numbers
from typing import Any, Optional, Tuple

import numpy as np

from .prepared import PreparedWeight

__all__ = [
    "as_real_array",
    "as_pool_input",
    "check_pool_shape",
    "check_divisor_override",
    "check_indices",
    "dtype_rule",
    "dtypes",
    "prepare",
]


def as_real_array(value: Any, name: str, ndim: Optional[int] = 4) -> np.ndarray:
    """`value` as an ndarray of a real dtype with `ndim` dimensions (no copy)."""
    if isinstance(value, PreparedWeight):
        raise TypeError(
            f"{name} is a PreparedWeight: only ConvPlan.forward takes one (pass "
            "its .weight to the other calls)"
        )
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"{name} must have a real (bool, integer or float) dtype, "
            f"got dtype {arr.dtype}"
        )
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D, got an array of shape {arr.shape} ({arr.ndim}-D)"
        )
    return arr


def as_pool_input(value: Any, name: str = "x", ndim: int = 4) -> np.ndarray:
    """as_real_array for a pooling's input: only the batch axis may be empty.

    PyTorch refuses a pooling over no channels or an empty spatial axis
    ("Expected input's non-batch dimensions to have positive length"); an
    empty batch gives an empty result.
    """
    arr = as_real_array(value, name, ndim)
    check_pool_shape(arr.shape, name)
    return arr


def check_pool_shape(shape, name="x"):
    """Raise ValueError unless only the batch axis of a pooling input's `shape` is 0."""
    if 0 in tuple(shape)[1:]:
        raise ValueError(
            f"{name} must have non-empty non-batch axes (channels and spatial "
            f"sizes; only the batch may be empty), got shape {tuple(shape)}"
        )


def dtype_rule(dtype: Any, name: str = "dtype") -> Tuple[np.dtype, np.dtype]:
    """(compute dtype, result dtype) of `dtype` under the module's dtype rule."""
    try:
        result = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be a numpy dtype, got {dtype!r}") from None
    if result.kind not in "biuf":
        raise TypeError(
            f"{name} must be a real (bool, integer or float) dtype, got dtype {result}"
        )
    if result.kind in "biu":
        return np.dtype(np.float64), np.dtype(np.float64)
    if result.itemsize < 4:
        return np.dtype(np.float32), result
    if result.itemsize > 8:
        return np.dtype(np.float64), result
    return result, result


def dtypes(*arrays: np.ndarray) -> Tuple[np.dtype, np.dtype]:
    """(compute dtype, result dtype) for arrays under the module's dtype rule."""
    return dtype_rule(np.result_type(*arrays))


def prepare(arr: np.ndarray, dtype: Any) -> np.ndarray:
    """C-contiguous copy of `arr` in `dtype`, or `arr` itself when it already is."""
    return np.ascontiguousarray(arr, dtype=dtype)


def check_indices(indices: Any, out_shape: Tuple[int, ...]) -> np.ndarray:
    """Return max-pool indices as C-contiguous int64, checked against `out_shape`."""
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(
            "indices must be an integer array (what max_pool2d(..., "
            f"return_indices=True) returns), got dtype {indices.dtype}"
        )
    if indices.shape != out_shape:
        raise ValueError(
            f"indices must have the output's shape {out_shape}, got shape {indices.shape}"
        )
    return np.ascontiguousarray(indices, dtype=np.int64)


def check_divisor_override(divisor_override):
    """Return an average pooling's divisor_override as an int, 0 for None.

    A positive int: PyTorch also divides by a negative one, which this
    refuses (a ValueError) rather than silently meaning something else.
    """
    if divisor_override is None:
        return 0
    if isinstance(divisor_override, bool) or not isinstance(
        divisor_override, numbers.Integral
    ):
        raise TypeError(
            f"divisor_override must be an int or None, got {divisor_override!r}"
        )
    if not 1 <= divisor_override <= 2**62:
        raise ValueError(
            f"divisor_override must be >= 1 (and at most 2**62), got {divisor_override!r}"
        )
    return int(divisor_override)
