"""Drop-in fast replacements for the course convolution and pooling functions.

Two well-known assignments build convolution from numpy loops, and many
people have code written against their exact function names and signatures.
Each submodule here offers those functions, backed by fastconv's engine, so
that switching is a change of one import:

- :mod:`fastconv.compat.dlai`: the DeepLearning.AI "Convolutional Model:
  step by step" notebook (course 4, week 1): channels-last arrays
  ``(m, n_H, n_W, n_C)``, ``hparameters`` dicts, ``(Z, cache)`` returns.
- :mod:`fastconv.compat.cs231n`: Stanford cs231n assignment 2 (``layers.py``
  and ``fast_layers.py``): channels-first arrays ``(N, C, H, W)``,
  ``conv_param`` and ``pool_param`` dicts, ``(out, cache)`` returns. The
  ``*_naive`` functions run fastconv's plain-loop oracle, the ``*_fast`` ones
  the engine.

The adapters only check the course-style arguments, with errors that name
them, and translate them to :func:`fastconv.conv2d` and friends; they hold no
kernel code. ``python -m fastconv check`` grades a user's own loop version of
either API against the oracle.
"""

from . import cs231n, dlai

__all__ = ["dlai", "cs231n"]
