"""The protocol every convolution algorithm implements (one module each).

An algorithm is an object with a name, registered in :mod:`.registry`;
a plan holds the algorithm of each of its three passes (forward, grad_x,
grad_w) and the driver calls them. The selector (:mod:`.algorithms`) owns
"auto": which algorithms apply (:meth:`Algorithm.reason_not`), which
passes they implement, their cost features and the rules between them.
Adding an algorithm is one module with a subclass of :class:`Algorithm`,
one line in the registry, and its place in the selector's rules.

The methods take a plan (:class:`~fastconv._engine.plan.ConvPlan`) whose
arrays the driver has checked: C-contiguous, in the plan's compute dtype.
"""

from typing import Optional, Tuple

import numpy as np

__all__ = ["Algorithm", "PASSES"]

#: The three passes of a convolution, in the order plans list them.
PASSES = ("forward", "grad_x", "grad_w")


class Algorithm:
    """One convolution algorithm: applicability, cost, work split, and the run.

    Attributes
    ----------
    name : str
        Its name for ``algorithm=`` (and in plans' descriptions).
    fuses_backward : bool
        When a plan runs both grad_x and grad_w with it, one pass
        (:meth:`backward`) computes them together.
    all_or_none : bool
        Its passes share settings: forced, it runs every pass or none, and
        autotune takes "auto"'s choice without timing.
    cost_model : str or None
        Which coefficients of ``config.COST`` price its :meth:`features`
        ("im2col" or "winograd"); None: not in the cost model.
    split_exact : bool
        Each output is computed the same wherever the planes are cut into
        chunks (with halos): its sums do not depend on where a tile starts.
    """

    name = ""
    fuses_backward = False
    all_or_none = False
    cost_model: Optional[str] = None
    split_exact = True

    # ---------------------------------------------------------------- choice

    def reason_not(self, shapes) -> Optional[str]:
        """Why it cannot run the layer of `shapes` (a phrase), or None if it can."""
        return None

    def implements(self, shapes) -> Tuple[str, ...]:
        """Return the passes it implements for the layer of `shapes`."""
        return PASSES

    def features(self, shapes, dtype, pass_) -> Tuple[float, ...]:
        """Its cost features for one pass (dotted with its ``config.COST`` row)."""
        raise NotImplementedError(f"{self.name} is not in the cost model")

    # ------------------------------------------------------------ work split

    def tile(self, plan) -> None:
        """Set the plan's forward tiling, when this algorithm runs the forward pass.

        The plan has the im2col tiling already (tile_rows, items, slots,
        units, planar, cols_elems); an algorithm whose forward pass cuts its
        work otherwise overrides what it changes.
        """

    def items(self, plan, pass_) -> int:
        """Work items of one pass (what the threads share)."""
        raise NotImplementedError

    def describe(self, plan, pass_) -> str:
        """One line of the plan's description: the pass's algorithm and split."""
        raise NotImplementedError

    def workspace(self, plan, passes) -> Tuple[int, int, int]:
        """Scratch elements for `passes` (the plan's passes it runs).

        Returns (per thread, per slot of partial sums, shared by the call).
        """
        return 0, 0, 0

    # ------------------------------------------------------------------- run

    def prepare(self, plan, weight):
        """Return what the forward pass makes of the weight alone, or None.

        A transform or packing that depends only on the weight (Winograd's
        U, a reordered weight): :meth:`ConvPlan.prepare_weight` keeps it, so
        an inference loop with fixed weights pays it once.
        """
        return None

    def forward(self, plan, x, weight, bias, prepared=None) -> np.ndarray:
        """Return the convolution's output (compute dtype, ``plan.out_shape``).

        `prepared`: what :meth:`prepare` returned for this weight, or None
        (the forward pass then prepares it itself).
        """
        raise NotImplementedError

    def grad_x(self, plan, grad_out, weight, fill=None) -> np.ndarray:
        """Return grad_x; `fill` (C,), optional, is added to every pixel of a channel."""
        raise NotImplementedError

    @staticmethod
    def add_fill(plan, grad_x, fill):
        """Return grad_x with `fill` (C,) added to each channel's pixels (if not None)."""
        if fill is not None:
            grad_x += fill[:, None, None] if plan.layout == "NCHW" else fill
        return grad_x

    def grad_w(self, plan, grad_out, x, weight) -> Tuple[np.ndarray, np.ndarray]:
        """Return (grad_weight, grad_bias) (`weight` for the kernels that take it)."""
        raise NotImplementedError

    def backward(self, plan, grad_out, x, weight):
        """Return (grad_x, grad_weight, grad_bias): both passes, fused if it can."""
        return (self.grad_x(plan, grad_out, weight),) + tuple(
            self.grad_w(plan, grad_out, x, weight)
        )

    def grad_w_and_forward(self, plan, grad_out, x, weight):
        """Return (grad_weight, forward output of x): a transposed backward's pair."""
        gw = self.grad_w(plan, grad_out, x, weight)[0]
        return gw, plan.algos["forward"].forward(plan, x, weight, None)

    def __repr__(self):
        return f"<algorithm {self.name!r}>"
