"""Optimisers: SGD with momentum and Adam (PyTorch's update rules)."""

from __future__ import annotations

import numbers
from typing import Iterable, Tuple

import numpy as np


def _param_pairs(params):
    """`params` (pairs, or a layer with .parameters()) as a checked list of pairs."""
    if callable(getattr(params, "parameters", None)):
        params = params.parameters()
    try:
        pairs = [tuple(pair) for pair in params]
    except TypeError:
        raise TypeError(
            f"params must be (param, grad) pairs or a layer, got {params!r}"
        ) from None
    for i, pair in enumerate(pairs):
        if len(pair) != 2:
            raise ValueError(
                f"params[{i}] must be a (param, grad) pair, got {len(pair)} items"
            )
        p, g = pair
        if not (isinstance(p, np.ndarray) and p.dtype.kind == "f"):
            raise TypeError(f"params[{i}] must hold a float ndarray param, got {p!r}")
        if not (isinstance(g, np.ndarray) and g.shape == p.shape):
            raise ValueError(
                f"params[{i}] grad must be an ndarray of the param's "
                f"shape {p.shape}, got {getattr(g, 'shape', g)!r}"
            )
    return pairs


def _check_real(value, name, low, high=None, low_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    if too_low or (high is not None and value >= high) or value != value:
        bounds = (f"({low}, " if low_open else f"[{low}, ") + (
            f"{high})" if high is not None else "inf)"
        )
        raise ValueError(f"{name} must be in {bounds}, got {value!r}")
    return value


class SGD:
    """Stochastic gradient descent with momentum and weight decay (PyTorch's rule).

    ``g = grad + weight_decay * p``; ``v = momentum * v + g`` (v starts at 0);
    ``p -= lr * v`` (``p -= lr * g`` without momentum).

    Parameters
    ----------
    params : list of (param, grad) pairs, or a layer
        Updated in place.
    lr : float > 0
    momentum : float >= 0
    weight_decay : float >= 0

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> p, g = np.array([1.0]), np.array([0.5])
    >>> opt = nn.SGD([(p, g)], lr=0.1, momentum=0.9)
    >>> opt.step(); p
    array([0.95])
    >>> opt.step(); p                          # v = 0.9 * 0.5 + 0.5 = 0.95
    array([0.855])
    """

    def __init__(
        self,
        params: Iterable[Tuple[np.ndarray, np.ndarray]],
        lr: float = 0.01,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        self.pairs = _param_pairs(params)
        self.lr = _check_real(lr, "lr", 0.0, low_open=True)
        self.momentum = _check_real(momentum, "momentum", 0.0)
        self.weight_decay = _check_real(weight_decay, "weight_decay", 0.0)
        self.velocity = [np.zeros_like(p) for p, _ in self.pairs]

    def step(self) -> None:
        """Update every parameter in place from its current gradient."""
        for (p, g), v in zip(self.pairs, self.velocity):
            if self.weight_decay:
                g = g + self.weight_decay * p
            if self.momentum:
                v *= self.momentum
                v += g
                g = v
            p -= self.lr * g


class Adam:
    """Adam (Kingma & Ba), with PyTorch's bias correction and weight decay.

    At step t: ``g = grad + weight_decay * p``; ``m = b1 m + (1 - b1) g``;
    ``v = b2 v + (1 - b2) g**2``;
    ``p -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)``.

    Parameters
    ----------
    params : list of (param, grad) pairs, or a layer
        Updated in place.
    lr : float > 0
    betas : (float, float), each in [0, 1)
    eps : float >= 0
    weight_decay : float >= 0

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> p, g = np.array([1.0, 1.0]), np.array([0.5, -2.0])
    >>> nn.Adam([(p, g)], lr=0.1).step(); p    # the first step moves lr * sign(g)
    array([0.9, 1.1])
    """

    def __init__(
        self,
        params: Iterable[Tuple[np.ndarray, np.ndarray]],
        lr: float = 1e-3,
        betas: Tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.pairs = _param_pairs(params)
        self.lr = _check_real(lr, "lr", 0.0, low_open=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair of floats, got {betas!r}")
        self.betas = (
            _check_real(betas[0], "betas[0]", 0.0, 1.0),
            _check_real(betas[1], "betas[1]", 0.0, 1.0),
        )
        self.eps = _check_real(eps, "eps", 0.0)
        self.weight_decay = _check_real(weight_decay, "weight_decay", 0.0)
        self.t = 0
        self.m = [np.zeros_like(p) for p, _ in self.pairs]
        self.v = [np.zeros_like(p) for p, _ in self.pairs]

    def step(self) -> None:
        """Update every parameter in place from its current gradient."""
        self.t += 1
        b1, b2 = self.betas
        step_size = self.lr / (1 - b1**self.t)
        root_bc2 = (1 - b2**self.t) ** 0.5
        for (p, g), m, v in zip(self.pairs, self.m, self.v):
            if self.weight_decay:
                g = g + self.weight_decay * p
            m += (1 - b1) * (g - m)
            v *= b2
            v += (1 - b2) * (g * g)
            p -= step_size * (m / (np.sqrt(v) / root_bc2 + self.eps))
