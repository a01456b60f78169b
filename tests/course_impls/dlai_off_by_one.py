"""pool_forward's window ends one row and column short (``+ f - 1``)."""

# ruff: noqa: E501  (the course's long slicing lines, kept as written)

import numpy as np

from .dlai_loops import *  # noqa: F401,F403


def pool_forward(A_prev, hparameters, mode="max"):
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    f = hparameters["f"]
    stride = hparameters["stride"]
    n_H = int(1 + (n_H_prev - f) / stride)
    n_W = int(1 + (n_W_prev - f) / stride)
    A = np.zeros((m, n_H, n_W, n_C_prev))
    for i in range(m):
        for h in range(n_H):
            vert_start = h * stride
            vert_end = vert_start + f - 1  # the bug: + f
            for w in range(n_W):
                horiz_start = w * stride
                horiz_end = horiz_start + f - 1  # the bug: + f
                for c in range(n_C_prev):
                    a_prev_slice = A_prev[
                        i, vert_start:vert_end, horiz_start:horiz_end, c
                    ]
                    if mode == "max":
                        A[i, h, w, c] = np.max(a_prev_slice)
                    elif mode == "average":
                        A[i, h, w, c] = np.mean(a_prev_slice)
    return A, (A_prev, hparameters)
