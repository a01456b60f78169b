"""create_mask_from_window never returns (a while loop that cannot end)."""

import numpy as np

from .dlai_loops import *  # noqa: F401,F403


def create_mask_from_window(x):
    i = 0
    while i < x.size:  # the bug: i is never incremented
        pass
    return x == np.max(x)
