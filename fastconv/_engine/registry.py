"""The registry of convolution algorithms: one entry per module.

Each entry implements :class:`~fastconv._engine.algorithm.Algorithm`; the
order here is the order of ``fastconv.ALGORITHMS`` (after "auto") and of
the candidates autotune times. The selector (:mod:`.algorithms`) decides
among them; nothing else looks an algorithm up by name.
"""

from . import brgemm, direct, im2col, pointwise, winograd
from .algorithm import Algorithm

__all__ = ["REGISTRY", "NAMES", "get"]

#: name -> algorithm
REGISTRY = {
    a.name: a
    for a in (
        im2col.ENTRY,
        pointwise.ENTRY,
        direct.ENTRY,
        winograd.F2,
        winograd.F4,
        brgemm.ENTRY,
    )
}

#: the names ``algorithm=`` takes
NAMES = ("auto",) + tuple(REGISTRY)

#: the algorithm whose tiling every plan has (ConvPlan._tile_im2col): its
#: kernels run any pass the selector gives them
TILING = im2col.ENTRY


def get(name: str) -> Algorithm:
    """Return the registered algorithm `name` (KeyError if there is none)."""
    return REGISTRY[name]
