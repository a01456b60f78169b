"""Argument checks of the layers: each names the argument and shows its value."""

import numbers

import numpy as np

import fastconv

_LAYOUTS = ("NCHW", "NHWC")
_KEEP_ALL = "keep all"  # Dropout's mask after an identity forward pass


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _check_pair(value, name, minimum):
    """Return an int or a pair of ints, each >= minimum, as a pair."""
    if isinstance(value, (tuple, list)):
        if len(value) not in (1, 2):
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        items = tuple(value) * (3 - len(value))  # a 1-tuple stands for both
    else:
        items = (value, value)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(items) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return (int(items[0]), int(items[1]))


def _check_padding(padding):
    """Check a padding: "same"/"valid" (any case), an int, a pair or a 4-tuple."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in ("same", "valid"):
            raise ValueError(
                f"padding must be 'same', 'valid', an int, a pair or "
                f"(top, bottom, left, right), got {padding!r}"
            )
        return mode
    if isinstance(padding, (tuple, list)):
        if len(padding) not in (1, 2, 4):
            raise ValueError(
                f"padding must be an int, a pair or (top, bottom, left, right), "
                f"got {padding!r}"
            )
        items = tuple(padding)
    else:
        items = (padding,)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(
                f"padding must be 'same', 'valid', an int or a tuple of ints, "
                f"got {padding!r}"
            )
    if min(items) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return int(items[0]) if len(items) == 1 else tuple(int(v) for v in items)


def _check_pool_padding(kernel_size, padding, dilation):
    """Raise the pooling's own error unless each side pads at most half the kernel.

    `kernel_size` and `dilation` are the layer's checked tuples (1, 2 or 3
    ints, one per spatial axis), `padding` its explicit padding. Checked on
    a synthetic input whose every axis is the dilated kernel
    ``(k - 1)*d + 1``: the kernel fits it unpadded, and a window of a padding
    within the rule holds an input tap, so only the padding rule can fail.
    """
    k, p, d = kernel_size, padding, dilation
    if len(k) == 3:  # W, then (D, H): the order the 3-D layers report in
        _pool_padding_rule(k[2:] * 2, p[2], d[2:] * 2)
        k, p, d = k[:2], p[:2], d[:2]
    _pool_padding_rule(k, p, d)


def _pool_padding_rule(kernel_size, padding, dilation):
    size = tuple((k - 1) * d + 1 for k, d in zip(kernel_size, dilation))
    fastconv.pool_geometry((1, 1) + size, kernel_size, None, padding, dilation)


def _check_padding_mode(mode):
    """Return `mode` if it is one of fastconv's padding modes, else raise ValueError."""
    if not isinstance(mode, str) or mode not in fastconv.PADDING_MODES:
        modes = ", ".join(map(repr, fastconv.PADDING_MODES))
        raise ValueError(f"padding_mode must be one of {modes}, got {mode!r}")
    return mode


def _check_layout(layout, layouts=_LAYOUTS):
    if not isinstance(layout, str) or layout not in layouts:
        names = " or ".join(repr(v) for v in layouts)
        raise ValueError(f"layout must be {names}, got {layout!r}")
    return layout


def _check_single(value, name, minimum):
    """Return an int or a 1-tuple of one (>= minimum), as a 1-tuple (1-D layers)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) != 1:
        raise ValueError(f"{name} must be an int or a 1-tuple, got {value!r}")
    if isinstance(items[0], bool) or not isinstance(items[0], numbers.Integral):
        raise TypeError(f"{name} must be an int or a 1-tuple, got {value!r}")
    if items[0] < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return (int(items[0]),)


def _check_triple(value, name, minimum):
    """Return an int, a 1-tuple or a triple of ints (each >= minimum) as a triple."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) not in (1, 3):
        raise ValueError(f"{name} must be an int or a triple of ints, got {value!r}")
    for v in items:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int or a triple of ints, got {value!r}")
    if min(items) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in items * (3 // len(items)))


def _check_padding_3d(padding):
    """Check a 3-D padding: "same"/"valid" (any case), an int or a triple."""
    if isinstance(padding, str):
        return _check_padding(padding)
    return _check_triple(padding, "padding", 0)


def _check_padding_1d(padding):
    """Check a 1-D padding: "same"/"valid" (any case), an int or a 1-tuple."""
    if isinstance(padding, str):
        return _check_padding(padding)
    return _check_single(padding, "padding", 0)[0]


def _check_output_size(value, rank):
    """Check an adaptive pooling's output_size; return it (a list as a tuple).

    An int >= 1, a 1-tuple (for every axis) or `rank` of them. For rank 2
    and 3, None (alone or in the tuple) keeps the input's size along its
    axes; a 1-D output_size has no None, as in PyTorch.
    """
    forms = {
        1: "an int or a 1-tuple",
        2: "an int, None or a pair of them (None keeps a size)",
        3: "an int, None or a triple of them (None keeps a size)",
    }[rank]
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) not in (1, rank):
        raise ValueError(f"output_size must be {forms}, got {value!r}")
    for v in items:
        if v is None and rank > 1:
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"output_size must be {forms}, got {value!r}")
        if v < 1:
            raise ValueError(f"output_size must be >= 1, got {value!r}")
    items = tuple(None if v is None else int(v) for v in items)
    return items if isinstance(value, (tuple, list)) else items[0]


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a float dtype, got {dtype!r}") from None
    if dt.kind != "f":
        raise TypeError(f"dtype must be a float dtype, got {dtype!r}")
    return dt


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _check_rng(rng):
    """Return a Generator from None (fresh entropy), an int seed or a Generator."""
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {rng!r}")


def _check_backend(backend, names):
    """`backend` (default the fast engine) if it has the functions `names`."""
    if backend is None:
        return fastconv
    missing = [n for n in names if not callable(getattr(backend, n, None))]
    if missing:
        raise TypeError(
            f"backend must provide {', '.join(names)} (fastconv or fastconv.naive), "
            f"got {backend!r}, which lacks {', '.join(missing)}"
        )
    return backend


def _he_normal(rng, shape, fan_in, dtype):
    """He (Kaiming) normal initialisation: N(0, 2 / fan_in)."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def _backend_name(backend):
    return getattr(backend, "__name__", repr(backend))
