"""Result arrays: a caller's ``out=`` buffers, or new arrays.

The public functions that return large arrays take ``out=``, numpy's
convention: an array (or, for several results, a tuple of arrays and
``None``) that receives the result and is returned. :func:`takes_out`
checks the buffers at the door and offers them to the drivers for the
call's duration; a driver allocates each result with :func:`empty`, which
hands over the offered buffer of that result when it fits exactly (size and
compute dtype), so the kernels write straight into it. A result computed
elsewhere (another dtype, a path with no such site) is cast into its
buffer at the end under ``same_kind`` casting, as a ufunc's is.

Why: a fresh result of tens of MB is memory the process has not touched
(or has handed back to the system), and its first touch is the slowest
part of a memory-bound call: on the project's virtual machines, freed
memory is returned to the hypervisor within seconds and each page is
faulted in again, so a float64 pooling backward of 51 MB took 40-90 ms
instead of 5 ms whenever its result was new memory. A buffer that is kept
stays resident.
"""

import functools
import inspect
import math
import threading
from typing import Any, Callable, Dict, TypeVar, Union, cast

import numpy as np

__all__ = ["empty", "takes_out", "with_indices"]

#: a public function's type, which takes_out keeps
F = TypeVar("F", bound=Callable[..., Any])

_local = threading.local()


def empty(shape, dtype, slot=0):
    """Return an uninitialised array for result `slot` of the current call.

    The caller's ``out`` buffer of that result when one is offered with
    `shape`'s size and `dtype` (reshaped: it is C-contiguous, so this is a
    view), else a new array. Each buffer is handed over once.
    """
    offered = getattr(_local, "offered", None)
    if offered:
        buf = offered.get(slot)
        if buf is not None and buf.dtype == dtype and buf.size == math.prod(shape):
            del offered[slot]
            return buf.reshape(shape)
    return np.empty(shape, dtype)


def _check_buffer(buf, k, name):
    where = name if k is None else f"{name}[{k}]"
    if not isinstance(buf, np.ndarray):
        raise TypeError(
            f"{where} must be a numpy array or None, got {type(buf).__name__}"
        )
    if not buf.flags.c_contiguous:
        raise ValueError(f"{where} must be C-contiguous, got strides {buf.strides}")
    if not buf.flags.writeable:
        raise ValueError(f"{where} must be writeable")
    return buf


def _check_out(out, arrays, n_results):
    """Return `out` as a tuple of `n_results` buffers or None, checked."""
    if isinstance(out, tuple):
        if len(out) != n_results:
            raise ValueError(
                f"out must hold one buffer (or None) per result: {n_results}, "
                f"got a tuple of {len(out)}"
            )
        outs = tuple(
            None if b is None else _check_buffer(b, k, "out") for k, b in enumerate(out)
        )
    else:
        if n_results != 1:
            raise ValueError(
                f"out must be a tuple of {n_results} buffers (or None), one per "
                f"result, got {type(out).__name__}"
            )
        outs = (_check_buffer(out, None, "out"),)
    given = [b for b in outs if b is not None]
    for i, a in enumerate(given):
        for b in given[i + 1 :]:
            if np.may_share_memory(a, b):
                raise ValueError("out's buffers must not overlap one another")
        for name, value in arrays:
            if np.may_share_memory(a, value):
                raise ValueError(f"out must not overlap the input {name}")
    return outs


def _deliver(result, outs):
    """Put each result into its buffer (unless it is already there); return them."""
    results = result if isinstance(result, tuple) else (result,)
    final = []
    for k, (r, buf) in enumerate(zip(results, outs)):
        if buf is None:
            final.append(r)
            continue
        where = "out" if len(outs) == 1 else f"out[{k}]"
        r = np.asarray(r)
        if r.shape != buf.shape:
            raise ValueError(
                f"{where} must have the result's shape {r.shape}, got {buf.shape}"
            )
        same = (
            r.dtype == buf.dtype
            and r.__array_interface__["data"][0] == buf.__array_interface__["data"][0]
            and r.strides == buf.strides
        )
        if not same:
            if not np.can_cast(r.dtype, buf.dtype, casting="same_kind"):
                raise TypeError(
                    f"{where} must have a dtype the result's {r.dtype} casts to "
                    f"(same_kind), got dtype {buf.dtype}"
                )
            np.copyto(buf, r, casting="same_kind")
        final.append(buf)
    return tuple(final) if isinstance(result, tuple) else final[0]


def takes_out(
    n_results: Union[int, Callable[[Dict[str, Any]], int]] = 1,
) -> Callable[[F], F]:
    """Give a public function numpy's ``out=`` keyword; see the module docstring.

    The function declares ``out: Out = None`` as its last keyword-only
    parameter, so that its signature and its type say so; the wrapper takes
    the argument, and the function's own `out` is always None.
    `n_results`: how many arrays the function returns, or a function of its
    bound arguments (``inspect.BoundArguments.arguments``) that says.
    """

    def wrap(fn: F) -> F:
        sig = inspect.signature(fn)
        last = list(sig.parameters.values())[-1]
        if last.name != "out" or last.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"{fn.__name__} must declare out=None, keyword-only, last")

        @functools.wraps(fn)
        def call(*args, out=None, **kwargs):
            if out is None:
                return fn(*args, **kwargs)
            bound = sig.bind(*args, **kwargs)
            n = n_results(bound.arguments) if callable(n_results) else n_results
            arrays = [
                (name, v)
                for name, v in bound.arguments.items()
                if isinstance(v, np.ndarray)
            ]
            outs = _check_out(out, arrays, n)
            before = getattr(_local, "offered", None)
            _local.offered = {k: b for k, b in enumerate(outs) if b is not None}
            try:
                result = fn(*args, **kwargs)
            finally:
                _local.offered = before
            return _deliver(result, outs)

        call.__doc__ = _with_out_doc(fn.__doc__)
        call.takes_out = True  # type: ignore[attr-defined]
        return cast(F, call)

    return wrap


_OUT_DOC = """\
    out : ndarray, or tuple of ndarray and None, optional
        Buffers for the results, as numpy's ``out=``: C-contiguous,
        writeable, the result's shape, a dtype the result casts to
        (``same_kind``), overlapping no input; a tuple with one per result
        (``None`` for a new array) when there are several. Filled and
        returned in place of new arrays: reused across calls, they keep a
        loop from allocating (and faulting in) fresh memory.
"""


def _with_out_doc(doc):
    """`doc` with `out` listed last among its parameters (before Returns)."""
    if not doc:
        return doc
    mark = "\n    Returns\n    -------"
    if mark in doc:
        head, tail = doc.split(mark, 1)
        return head.rstrip("\n") + "\n" + _OUT_DOC + mark + tail
    if "\n    Parameters\n" in doc:
        return doc.rstrip() + "\n" + _OUT_DOC
    return doc.rstrip() + "\n\n    Parameters\n    ----------\n" + _OUT_DOC


def with_indices(arguments):
    """Results of a max pooling: 2 with ``return_indices``, else 1."""
    return 2 if arguments.get("return_indices") else 1
