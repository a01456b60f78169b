"""Softmax and the softmax cross-entropy loss."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._typing import ArrayLike


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits (N, K), computed stably.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.softmax(np.array([[0.0, 0.0], [0.0, 1000.0]]))
    array([[0.5, 0.5],
           [0. , 1. ]])
    """
    z = np.asarray(logits)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer class labels.

    ``loss = mean_n (logsumexp(logits[n]) - logits[n, labels[n]])``, and
    ``backward()`` returns ``(softmax(logits) - onehot(labels)) / N``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> ce = nn.SoftmaxCrossEntropy()
    >>> round(ce.forward(np.zeros((2, 4)), np.array([0, 3])), 6)   # log(4)
    1.386294
    >>> ce.backward()
    array([[-0.375,  0.125,  0.125,  0.125],
           [ 0.125,  0.125,  0.125, -0.375]])
    """

    def __init__(self) -> None:
        self._probs: Optional[np.ndarray] = None
        self._labels: Optional[np.ndarray] = None

    def __call__(self, logits: np.ndarray, labels: ArrayLike) -> float:
        """Return ``self.forward(logits, labels)``."""
        return self.forward(logits, labels)

    def forward(self, logits: np.ndarray, labels: ArrayLike) -> float:
        """Mean loss over the batch, as a Python float.

        Parameters
        ----------
        logits : ndarray of shape (N, K)
        labels : array_like of ints of shape (N,), each in [0, K)
        """
        logits = np.asarray(logits)
        labels = np.asarray(labels)
        if logits.ndim != 2 or logits.shape[0] == 0:
            raise ValueError(
                f"logits must have shape (N, K) with N >= 1, got shape {logits.shape}"
            )
        if labels.dtype.kind not in "iu":
            raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
        if labels.shape != logits.shape[:1]:
            raise ValueError(
                f"labels must have shape ({logits.shape[0]},) to match "
                f"logits {logits.shape}, got shape {labels.shape}"
            )
        K = logits.shape[1]
        if labels.min() < 0 or labels.max() >= K:
            bad = labels[(labels < 0) | (labels >= K)]
            raise ValueError(f"labels must be in [0, {K}), got {bad[:5].tolist()}")
        z = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))  # (N,)
        self._probs = np.exp(z - log_norm[:, None])  # (N, K)
        self._labels = labels
        rows = np.arange(len(labels))
        return float(np.mean(log_norm - z[rows, labels]))

    def backward(self) -> np.ndarray:
        """Gradient of the mean loss with respect to the logits, shape (N, K)."""
        probs, labels = self._probs, self._labels
        if probs is None or labels is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        grad = probs.copy()
        grad[np.arange(len(labels)), labels] -= 1
        grad /= len(labels)
        return grad
