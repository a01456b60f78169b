"""numba-jitted kernels. Private: they assume clean, checked input."""
