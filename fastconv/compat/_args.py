"""Argument checks shared by the course adapters, in the courses' own names."""

import numbers
from collections.abc import Mapping

import numpy as np

__all__ = ["array", "int_arg", "param", "check_grad", "cache"]


def array(value, name, ndim, shape_doc):
    """`value` as a real-valued ndarray with `ndim` dimensions (None: any)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real-valued array, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {shape_doc}, got shape {arr.shape}")
    return arr


def int_arg(value, name, minimum):
    """`value` as an int >= `minimum`."""
    # bool is an int subclass, but stride=True is a bug, not a 1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def param(params, dict_name, key, minimum, quote="'"):
    """``params[key]`` as an int >= `minimum`; `params` must be a dict with `key`."""
    if not isinstance(params, Mapping):
        raise TypeError(
            f"{dict_name} must be a dict, got {type(params).__name__} {params!r}"
        )
    if key not in params:
        raise ValueError(
            f"{dict_name} must have a {quote}{key}{quote} key, got keys {list(params)}"
        )
    return int_arg(params[key], f"{dict_name}[{quote}{key}{quote}]", minimum)


def check_grad(grad, name, expected, of):
    """Raise unless the gradient `grad` has the shape `expected` of `of`."""
    if grad.shape != expected:
        raise ValueError(
            f"{name} must have the shape of {of}, {expected}, got shape {grad.shape}"
        )


def cache(value, length, doc, producer):
    """`value` if it is the `length`-tuple cache that `producer` returns."""
    if not isinstance(value, tuple) or len(value) != length:
        described = (
            f"a {len(value)}-tuple" if isinstance(value, tuple) else type(value).__name__
        )
        raise ValueError(
            f"cache must be the {doc} tuple returned by {producer}, got {described}"
        )
    return value
