"""Type aliases of the public signatures (numpy.typing for arrays and dtypes)."""

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__all__ = [
    "ArrayLike",
    "Array",
    "DTypeLike",
    "Size",
    "OptSize",
    "Padding",
    "OutputSize",
    "Shape",
    "Out",
    "Grads",
    "Seed",
]

#: Inputs: anything numpy turns into a real array.
ArrayLike = npt.ArrayLike
#: Results: numpy arrays (float32, float64 or float16 by the dtype rule;
#: indices int64).
Array = npt.NDArray[Any]
DTypeLike = npt.DTypeLike
#: kernel_size, stride, dilation, output_padding: an int for every axis, or
#: one int per axis (a 1-tuple stands for all).
Size = Union[int, Sequence[int]]
#: A pooling's stride: None means the kernel size.
OptSize = Optional[Size]
#: An int, one per axis, (low, high) per axis in 2-D, or "valid"/"same".
Padding = Union[int, Sequence[int], str]
#: An adaptive pooling's output size: None keeps an axis's size.
OutputSize = Union[int, None, Sequence[Optional[int]]]
Shape = Sequence[int]
#: numpy's out=: a buffer, or one per result (None for a new array).
Out = Union[None, np.ndarray, Tuple[Optional[np.ndarray], ...]]
#: A convolution's backward: (grad_x, grad_weight, grad_bias).
Grads = Tuple[Array, Array, Array]
#: A layer's rng: a seed, a Generator, or None for a fresh one.
Seed = Union[None, int, np.random.Generator]
