"""A weight prepared once for a plan's forward pass (XNNPACK's create/setup split).

What a forward algorithm makes of the weight alone (Winograd's transform,
a reordered weight) is the same on every call with that weight; a
:class:`PreparedWeight` keeps it for an inference loop with fixed weights.
"""

import numpy as np

__all__ = ["PreparedWeight", "PREPARE"]

#: only ConvPlan.prepare_weight makes PreparedWeights: a hand-made state
#: would reach the kernels unchecked
PREPARE = object()


class PreparedWeight:
    """A weight prepared by :meth:`ConvPlan.prepare_weight` for a plan's forward pass.

    Read-only (its arrays too), so it may be shared by threads calling
    ``forward`` at once. Any plan of the same shapes, dtype and forward
    algorithm takes it (a cached plan rebuilt after a setting changed).

    Attributes
    ----------
    key : tuple
        The plan's shapes, compute dtype and forward algorithm.
    weight : ndarray
        A copy of the weight, in the plan's compute dtype.
    state : ndarray or None
        What the plan's forward algorithm made of it (None if nothing).
    """

    __slots__ = ("_key", "_weight", "_state")

    def __init__(self, token, key, weight, state):
        if token is not PREPARE:
            raise TypeError("a PreparedWeight comes from ConvPlan.prepare_weight")
        for a in (weight, state):
            if isinstance(a, np.ndarray):
                a.flags.writeable = False
        self._key, self._weight, self._state = key, weight, state

    @property
    def key(self):
        """The plan's shapes, compute dtype and forward algorithm."""
        return self._key

    @property
    def weight(self):
        """The weight (a read-only copy, in the plan's compute dtype)."""
        return self._weight

    @property
    def state(self):
        """What the forward algorithm made of the weight (None if nothing)."""
        return self._state

    def __repr__(self):
        return (
            f"PreparedWeight({self._weight.shape}, {self._key[2]}, {self._weight.dtype})"
        )
