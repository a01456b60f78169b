"""distribute_value left unfinished: it raises."""

from .dlai_loops import *  # noqa: F401,F403


def distribute_value(dz, shape):
    (n_H, n_W) = shape
    average = None
    return average * dz  # TypeError: None * float
