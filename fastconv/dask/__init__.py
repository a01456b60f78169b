"""fastconv over Dask arrays: the same calls, chunk by chunk, on any Dask scheduler.

``pip install "fastconv[dask]"`` (dask[array] and distributed). Each
function takes a :class:`dask.array.Array` x (weights and bias as numpy
arrays) and returns lazy dask arrays; each block runs the single-machine
fastconv call. Chunks along N (a batch larger than memory, data-parallel
training) and, for the forward passes, along H and W (images larger than
memory: each chunk reads its halo from the next) are kept; the chunks an
operation cannot use are merged, with a :class:`RechunkWarning` that says so.

Examples
--------
>>> import numpy as np, dask.array as da, fastconv, fastconv.dask as fd
>>> x = da.random.default_rng(0).standard_normal((4, 3, 8, 8), chunks=(2, 3, 4, 4))
>>> w = np.ones((5, 3, 3, 3))
>>> y = fd.conv2d(x, w, padding=1)  # lazy: nothing computed yet
>>> y.chunks
((2, 2), (5,), (4, 4), (4, 4))
>>> bool(np.allclose(y.compute(), fastconv.conv2d(x.compute(), w, padding=1)))
True
>>> fd.max_pool2d(y, 2).chunks
((2, 2), (5,), (2, 2), (2, 2))
"""

try:
    import dask.array  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "fastconv.dask needs Dask: pip install 'fastconv[dask]' "
        "(dask[array] and distributed)"
    ) from exc

from ._ops import (
    RechunkWarning,
    avg_pool2d,
    avg_pool2d_backward,
    conv2d,
    conv2d_backward,
    max_pool2d,
    max_pool2d_backward,
)

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "RechunkWarning",
]
