"""max_pool_backward_naive writes ``=`` where overlapping pools need ``+=``."""

# ruff: noqa: E501  (the course's long slicing lines, kept as written)

import numpy as np

from .cs231n_loops import *  # noqa: F401,F403


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[
                        n, c, i * stride : i * stride + ph, j * stride : j * stride + pw
                    ]
                    r, s = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + r, j * stride + s] = dout[n, c, i, j]  # the bug
    return dx
