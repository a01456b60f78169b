"""fastconv: fast 2-D convolution and pooling in numpy + numba.

Convolution and pooling, forward and backward, for NCHW and NHWC arrays,
with PyTorch's names and semantics. Convolutions run as numba-jitted
im2col/col2im plus GEMMs on numpy's BLAS; pooling runs as direct jitted
window loops. :mod:`fastconv.naive` holds plain-loop versions of every
function, an independent oracle that the tests hold the fast path to.
"""

from ._config import (
    DEFAULT_WORKSPACE_LIMIT,
    get_workspace_limit,
    release_workspace,
    set_workspace_limit,
    workspace_limit,
)
from ._threads import get_num_threads, set_num_threads
from .conv import col2im, conv2d, conv2d_backward, im2col
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from . import naive  # noqa: E402  (the oracle: fastconv.naive after `import fastconv`)
from . import compat  # noqa: E402  (course-compatible functions)
from . import nn  # noqa: E402  (a small layer API on the engine)
from ._checker import check  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "im2col",
    "col2im",
    "DEFAULT_WORKSPACE_LIMIT",
    "get_workspace_limit",
    "set_workspace_limit",
    "workspace_limit",
    "release_workspace",
    "get_num_threads",
    "set_num_threads",
    "naive",
    "compat",
    "nn",
    "check",
]
