"""conv_forward sizes its output with the stride but slides by 1 (ignores it)."""

# ruff: noqa: E501  (the course's long slicing lines, kept as written)

import numpy as np

from .dlai_loops import *  # noqa: F401,F403
from .dlai_loops import conv_single_step, zero_pad


def conv_forward(A_prev, W, b, hparameters):
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    (f, f, n_C_prev, n_C) = W.shape
    stride = hparameters["stride"]
    pad = hparameters["pad"]
    n_H = int((n_H_prev - f + 2 * pad) / stride) + 1
    n_W = int((n_W_prev - f + 2 * pad) / stride) + 1
    Z = np.zeros((m, n_H, n_W, n_C))
    A_prev_pad = zero_pad(A_prev, pad)
    for i in range(m):
        a_prev_pad = A_prev_pad[i]
        for h in range(n_H):
            vert_start = h  # the bug: h * stride
            vert_end = vert_start + f
            for w in range(n_W):
                horiz_start = w  # the bug: w * stride
                horiz_end = horiz_start + f
                for c in range(n_C):
                    a_slice_prev = a_prev_pad[
                        vert_start:vert_end, horiz_start:horiz_end, :
                    ]
                    Z[i, h, w, c] = conv_single_step(
                        a_slice_prev, W[:, :, :, c], b[:, :, :, c]
                    )
    return Z, (A_prev, W, b, hparameters)
