"""fastconv: fast 2-D convolution and pooling in numpy + numba.

Convolution and pooling, forward and backward, for NCHW and NHWC arrays,
with PyTorch's names and semantics. Convolutions run as numba-jitted
im2col/col2im plus GEMMs on numpy's BLAS; pooling runs as direct jitted
window loops. :mod:`fastconv.naive` holds plain-loop versions of every
function, an independent oracle that the tests hold the fast path to.

``import fastconv`` loads the engine only; :mod:`fastconv.naive`,
:mod:`fastconv.compat`, :mod:`fastconv.nn` and :func:`fastconv.check` load on
first use.
"""

import importlib

from ._engine.algorithms import NAMES as ALGORITHMS
from ._engine.autotune import autotune, get_autotune, set_autotune
from ._engine.cpu import fma_peak
from ._engine.padding import MODES as PADDING_MODES
from ._engine.threads import get_num_threads, set_num_threads
from ._engine.trace import recording as record_phases
from ._engine.workspace import (
    DEFAULT_WORKSPACE_LIMIT,
    get_workspace_limit,
    release_workspace,
    set_workspace_limit,
    workspace_limit,
)
from .adaptive import (
    adaptive_avg_pool2d,
    adaptive_avg_pool2d_backward,
    adaptive_max_pool2d,
    adaptive_max_pool2d_backward,
)
from .columns import col2im, fold, im2col, unfold
from .conv import (
    ConvPlan,
    PreparedWeight,
    conv2d,
    conv2d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
    plan_conv2d,
)
from .oned import (
    adaptive_avg_pool1d,
    adaptive_avg_pool1d_backward,
    adaptive_max_pool1d,
    adaptive_max_pool1d_backward,
    avg_pool1d,
    avg_pool1d_backward,
    conv1d,
    conv1d_backward,
    conv_transpose1d,
    conv_transpose1d_backward,
    max_pool1d,
    max_pool1d_backward,
)
from .pool import (
    PoolPlan,
    avg_pool2d,
    avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
    plan_pool2d,
)
from .shapes import (
    Axis,
    Geometry,
    adaptive_pool_output_shape,
    conv_geometry,
    conv_output_shape,
    conv_transpose_geometry,
    conv_transpose_output_shape,
    pool_geometry,
    pool_output_shape,
    result_type,
)
from .threed import (
    adaptive_avg_pool3d,
    adaptive_avg_pool3d_backward,
    adaptive_max_pool3d,
    adaptive_max_pool3d_backward,
    avg_pool3d,
    avg_pool3d_backward,
    conv3d,
    conv3d_backward,
    conv_transpose3d,
    conv_transpose3d_backward,
    max_pool3d,
    max_pool3d_backward,
)

__version__ = "0.1.0"

__all__ = [
    "conv2d",
    "conv2d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv3d",
    "conv3d_backward",
    "conv_transpose3d",
    "conv_transpose3d_backward",
    "max_pool3d",
    "max_pool3d_backward",
    "avg_pool3d",
    "avg_pool3d_backward",
    "adaptive_avg_pool3d",
    "adaptive_avg_pool3d_backward",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_backward",
    "plan_conv2d",
    "ConvPlan",
    "PreparedWeight",
    "plan_pool2d",
    "PoolPlan",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv1d",
    "conv1d_backward",
    "max_pool1d",
    "max_pool1d_backward",
    "avg_pool1d",
    "avg_pool1d_backward",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_backward",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_backward",
    "conv_output_shape",
    "conv_transpose_output_shape",
    "pool_output_shape",
    "adaptive_pool_output_shape",
    "conv_geometry",
    "conv_transpose_geometry",
    "pool_geometry",
    "Geometry",
    "Axis",
    "result_type",
    "im2col",
    "col2im",
    "unfold",
    "fold",
    "DEFAULT_WORKSPACE_LIMIT",
    "get_workspace_limit",
    "set_workspace_limit",
    "workspace_limit",
    "release_workspace",
    "get_num_threads",
    "fma_peak",
    "set_num_threads",
    "autotune",
    "get_autotune",
    "set_autotune",
    "ALGORITHMS",
    "PADDING_MODES",
    "record_phases",
    "naive",
    "compat",
    "nn",
    "check",
]

# attribute -> (module, attribute in it or None for the module itself)
_LAZY = {
    "naive": ("fastconv.naive", None),
    "compat": ("fastconv.compat", None),
    "nn": ("fastconv.nn", None),
    "check": ("fastconv.tools.check", "check"),
}


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'fastconv' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
