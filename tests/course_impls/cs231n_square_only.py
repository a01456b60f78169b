"""conv_forward_naive assumes square filters: it uses HH for the width too."""

# ruff: noqa: E501  (the course's long slicing lines, kept as written)

import numpy as np

from .cs231n_loops import *  # noqa: F401,F403


def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    F, _, HH, _ = w.shape
    WW = HH  # the bug: filters are not always square
    stride, pad = conv_param["stride"], conv_param["pad"]
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[
                        n, :, i * stride : i * stride + HH, j * stride : j * stride + WW
                    ]
                    out[n, f, i, j] = np.sum(window * w[f, :, :HH, :WW]) + b[f]
    return out, (x, w, b, conv_param)
