"""Shared test helpers: layouts, dtypes, tolerances and seeded generators (one place)."""

import numpy as np

#: The layouts and dtypes every fast path is tested in.
LAYOUTS = ("NCHW", "NHWC")
DTYPES = (np.float32, np.float64)

# Arithmetic tolerances per dtype. Data-movement kernels (im2col, col2im,
# padding, max-pool selection) are compared exactly, never with these.
TOLERANCES = {
    np.dtype(np.float32): dict(rtol=2e-4, atol=2e-5),
    np.dtype(np.float64): dict(rtol=1e-10, atol=1e-11),
}


#: Losses and gradients after a whole network: a little looser than one op.
NETWORK_TOLERANCES = {
    np.dtype(np.float32): dict(rtol=2e-4, atol=2e-5),
    np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12),
}


def tol(dtype):
    """Return ``dict(rtol=..., atol=...)`` for comparing results of `dtype`."""
    return TOLERANCES[np.dtype(dtype)]


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
    np.testing.assert_allclose(actual, expected, **tol(dtype))


def assert_same(actual, expected):
    """Assert exact equality, shape and dtype included (data movement)."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    np.testing.assert_array_equal(actual, expected)
