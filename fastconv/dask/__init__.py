"""fastconv over Dask arrays: the same calls, chunk by chunk, on any Dask scheduler.

``pip install "fastconv[dask]"`` (dask[array] and distributed). Each
function takes a :class:`dask.array.Array` x (weights and bias as numpy
arrays) and returns lazy dask arrays; each block runs the single-machine
fastconv call of its rank:

- 1-D ("NCL", "NLC"): :func:`conv1d`, :func:`conv1d_backward`,
  :func:`max_pool1d`, :func:`max_pool1d_backward`, :func:`avg_pool1d`,
  :func:`avg_pool1d_backward`;
- 2-D ("NCHW", "NHWC"): :func:`conv2d`, :func:`conv2d_backward`,
  :func:`max_pool2d`, :func:`max_pool2d_backward`, :func:`avg_pool2d`,
  :func:`avg_pool2d_backward`;
- 3-D ("NCDHW", "NDHWC"): :func:`conv3d`, :func:`conv3d_backward`,
  :func:`max_pool3d`, :func:`max_pool3d_backward`, :func:`avg_pool3d`,
  :func:`avg_pool3d_backward`.

Chunks along N (a batch larger than memory, data-parallel training) and,
for the forward passes, along the spatial axes (L; H and W; D, H and W:
signals, images and volumes larger than memory, each chunk reading its halo
from its neighbours) are kept; the chunks an operation cannot use are
merged, with a :class:`RechunkWarning` that says so.

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

A volume in chunks along D, H and W, and a signal along L:

>>> v = da.random.default_rng(1).standard_normal((2, 1, 8, 8, 8), chunks=(1, 1, 4, 4, 4))
>>> fd.max_pool3d(fd.conv3d(v, np.ones((2, 1, 3, 3, 3)), padding=1), 2).chunks
((1, 1), (2,), (2, 2), (2, 2), (2, 2))
>>> s = da.ones((1, 2, 12), chunks=(1, 2, 4))
>>> fd.avg_pool1d(s, 3, 1, 1).compute()[0, 0]
array([0.66666667, 1.        , 1.        , 1.        , 1.        , 1.        ,
       1.        , 1.        , 1.        , 1.        , 1.        , 0.66666667])
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
    avg_pool1d,
    avg_pool1d_backward,
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool3d,
    avg_pool3d_backward,
    conv1d,
    conv1d_backward,
    conv2d,
    conv2d_backward,
    conv3d,
    conv3d_backward,
    max_pool1d,
    max_pool1d_backward,
    max_pool2d,
    max_pool2d_backward,
    max_pool3d,
    max_pool3d_backward,
)

__all__ = [
    "conv1d",
    "conv1d_backward",
    "max_pool1d",
    "max_pool1d_backward",
    "avg_pool1d",
    "avg_pool1d_backward",
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv3d",
    "conv3d_backward",
    "max_pool3d",
    "max_pool3d_backward",
    "avg_pool3d",
    "avg_pool3d_backward",
    "RechunkWarning",
]
