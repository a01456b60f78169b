"""Shared test helpers: layouts, dtypes, tolerances and seeded generators (one place)."""

import contextlib
from unittest import mock

import numpy as np

from fastconv._engine import config

#: The layouts and dtypes every fast path is tested in.
LAYOUTS = ("NCHW", "NHWC")
DTYPES = (np.float32, np.float64)

# Arithmetic tolerances per dtype, the ones every fast path (every
# convolution algorithm included) is held to: rtol, and an atol scaled by
# the magnitude of the expected result (atol_scale * max(1, max|expected|)).
# Data-movement kernels (im2col, col2im, padding, max-pool selection) are
# compared exactly, never with these.
TOLERANCES = {
    np.dtype(np.float32): dict(rtol=2e-4, atol_scale=2e-5),
    np.dtype(np.float64): dict(rtol=1e-9, atol_scale=1e-10),
}


#: Losses and gradients after a whole network: a little looser than one op.
NETWORK_TOLERANCES = {
    np.dtype(np.float32): dict(rtol=2e-4, atol=2e-5),
    np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12),
}


def tol(dtype, expected=None):
    """Return ``dict(rtol=..., atol=...)`` for comparing results of `dtype`.

    The atol scales with the magnitude of `expected` (1 if not given).
    """
    t = TOLERANCES[np.dtype(dtype)]
    scale = 1.0
    if expected is not None and np.size(expected):
        scale = max(1.0, float(np.max(np.abs(expected))))
    return dict(rtol=t["rtol"], atol=t["atol_scale"] * scale)


def rng(seed=0):
    """A fresh, seeded generator; tests never touch numpy's global state."""
    return np.random.default_rng(seed)


def randn(gen, shape, dtype=np.float64):
    """Standard-normal array of `shape` in `dtype`."""
    return gen.standard_normal(shape).astype(dtype)


def assert_close(actual, expected, dtype=None):
    """Assert same shape and dtype, and values within the dtype's tolerance."""
    dtype = np.dtype(dtype if dtype is not None else expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == dtype, (actual.dtype, dtype)
    np.testing.assert_allclose(actual, expected, **tol(dtype, expected))


def assert_same(actual, expected):
    """Assert exact equality, shape and dtype included (data movement)."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    np.testing.assert_array_equal(actual, expected)


def algorithms_for(x_shape, weight_shape, kwargs):
    """The convolution algorithms that apply to a layer: "auto" and the concrete ones.

    The tests run every one of them (forced with ``algorithm=``).
    """
    from fastconv._engine import algorithms
    from fastconv._engine.geometry import conv_params

    shapes = conv_params(
        x_shape,
        weight_shape,
        kwargs.get("stride", 1),
        kwargs.get("padding", 0),
        kwargs.get("dilation", 1),
        kwargs.get("groups", 1),
        kwargs.get("layout", "NCHW"),
    )
    return [
        a
        for a in algorithms.NAMES
        if a == "auto" or algorithms.reason_not(a, shapes) is None
    ]


@contextlib.contextmanager
def every_path(on):
    """With `on`, the size thresholds that choose kernels and splits at their least.

    Small arrays then take the store-once backward and are cut into pieces
    among the threads, so every kernel and piece boundary meets the
    properties' geometries (ceil_mode's partial windows among them).
    """
    if not on:
        yield
        return
    with contextlib.ExitStack() as stack:
        for name in [
            "POOL_TILED_PLANE_BYTES",
            "POOL_SPLIT_BYTES",
            "SPLIT_MIN_BYTES",
            "GLOBAL_POOL_SPLIT_BYTES",
        ]:
            stack.enter_context(mock.patch.object(config, name, 1))
        yield
