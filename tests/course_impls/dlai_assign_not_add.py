"""pool_backward writes ``=`` where overlapping windows need ``+=``.

Right whenever the windows do not overlap (stride >= f), wrong otherwise.
"""

import numpy as np

from .dlai_loops import *  # noqa: F401,F403
from .dlai_loops import create_mask_from_window, distribute_value


def pool_backward(dA, cache, mode="max"):
    (A_prev, hparameters) = cache
    stride = hparameters["stride"]
    f = hparameters["f"]
    m, n_H, n_W, n_C = dA.shape
    dA_prev = np.zeros(A_prev.shape)
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vs, hs = h * stride, w * stride
                    if mode == "max":
                        mask = create_mask_from_window(
                            A_prev[i, vs : vs + f, hs : hs + f, c]
                        )
                        # the bug: = instead of +=
                        dA_prev[i, vs : vs + f, hs : hs + f, c] = mask * dA[i, h, w, c]
                    elif mode == "average":
                        dA_prev[i, vs : vs + f, hs : hs + f, c] = distribute_value(
                            dA[i, h, w, c], (f, f)
                        )
    return dA_prev
