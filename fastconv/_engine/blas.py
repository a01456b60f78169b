"""numpy's BLAS as the engine uses it: gemm addresses for the kernels, and its threads.

Two facts decide the engine's thread model (measured on the 2-core
development machines, see docs/design.md, "Threads"):

- numpy's bundled OpenBLAS runs a multi-threaded GEMM on worker threads that
  keep spinning for about 0.1 s after each call, holding the other cores;
  fastconv's own kernel threads gained nothing while they spun.
- Two single-threaded GEMMs on two threads run at the rate of one GEMM on
  two BLAS threads (within 5%), and the library is safe to call that way.

So while a fastconv call runs, :func:`hold` keeps the library at one thread
and the engine's own threads each run their GEMMs on their own piece of the
work; the user's setting is restored when the last concurrent call ends.
The kernels call ``cblas_?gemm`` by address (:func:`gemm`), the same copy of
the library that numpy uses, found through threadpoolctl.

Where no CBLAS interface is found (or :func:`use_fallback` asks for it),
the address is 0 and the kernels use their plain-loop GEMM instead.
"""

import contextlib
import ctypes
import os
import threading

import numpy as np

__all__ = ["Blas", "describe", "gemm", "hold", "use_fallback"]

# (symbol prefix, symbol suffix, 64-bit integers) of the CBLAS gemm, most
# specific first: numpy's wheels ship scipy-openblas with the ILP64 names.
_AFFIXES = (
    ("scipy_", "64_", True),
    ("scipy_", "", False),
    ("", "64_", True),
    ("", "_64", True),
    ("", "", False),
)


class Blas:
    """What the engine found of numpy's BLAS (see :func:`describe`)."""

    def __init__(self, name, path, sgemm, dgemm, ilp64, controller, sdot=0, ddot=0):
        self.name = name
        self.path = path
        self.sgemm = sgemm
        self.dgemm = dgemm
        self.sdot = sdot
        self.ddot = ddot
        self.ilp64 = ilp64
        self.controller = controller

    def __repr__(self):
        kind = "ILP64" if self.ilp64 else "LP64"
        gemm = (
            "cblas gemm by address" if self.sgemm else "plain-loop gemm (no CBLAS found)"
        )
        threads = (
            "threads held at 1 during calls"
            if self.controller
            else "threads not controlled"
        )
        return f"Blas({self.name}, {kind}, {gemm}, {threads})"


_lock = threading.Lock()
_found = None
_fallback = False
_holders = 0
_saved_threads = None


def _numpy_first(controllers):
    # numpy's copy of the library lives in numpy's own folders (numpy.libs,
    # numpy/.dylibs); another package (scipy) may have loaded a second copy.
    def own(c):
        parts = os.path.normpath(c.filepath or "").split(os.sep)
        return any(p.startswith("numpy") for p in parts[-3:-1])

    return sorted(controllers, key=lambda c: not own(c))


def _gemm_symbols(dynlib):
    for prefix, suffix, ilp64 in _AFFIXES:
        s = getattr(dynlib, f"{prefix}cblas_sgemm{suffix}", None)
        d = getattr(dynlib, f"{prefix}cblas_dgemm{suffix}", None)
        if s is not None and d is not None:
            dots = (
                getattr(dynlib, f"{prefix}cblas_sdot{suffix}", None),
                getattr(dynlib, f"{prefix}cblas_ddot{suffix}", None),
            )
            return s, d, ilp64, dots
    return None


def _dot_works(func, dtype, ilp64):
    """Return True if `func` computes a small strided dot product correctly."""
    integer = ctypes.c_int64 if ilp64 else ctypes.c_int32
    scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    func.restype = scalar
    func.argtypes = [integer, ctypes.c_void_p, integer, ctypes.c_void_p, integer]
    x = np.arange(1.0, 7.0, dtype=dtype)
    y = np.arange(2.0, 8.0, dtype=dtype)
    return func(3, x.ctypes.data, 2, y.ctypes.data, 1) == float(x[::2] @ y[:3])


def _works(func, dtype, ilp64):
    """Return True if `func` computes a small strided row-major product correctly."""
    integer = ctypes.c_int64 if ilp64 else ctypes.c_int32
    scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    func.restype = None
    func.argtypes = (
        [ctypes.c_int32] * 3
        + [integer] * 3
        + [
            scalar,
            ctypes.c_void_p,
            integer,
            ctypes.c_void_p,
            integer,
            scalar,
            ctypes.c_void_p,
            integer,
        ]
    )
    a = np.arange(1.0, 13.0, dtype=dtype).reshape(3, 4)  # use (3, 3) of lda 4
    b = np.arange(2.0, 8.0, dtype=dtype).reshape(3, 2)
    c = np.full((3, 3), 7.0, dtype)  # use (3, 2) of ldc 3
    func(
        101,
        111,
        111,
        3,
        2,
        3,
        1.0,
        a.ctypes.data,
        4,
        b.ctypes.data,
        2,
        1.0,
        c.ctypes.data,
        3,
    )
    want = a[:, :3] @ b + 7.0
    return np.array_equal(c[:, :2], want) and np.all(c[:, 2] == 7.0)


def _discover():
    controllers = []
    try:
        import threadpoolctl

        ctl = threadpoolctl.ThreadpoolController()
        controllers = [c for c in ctl.lib_controllers if c.user_api == "blas"]
    except Exception:  # threadpoolctl missing or unable to inspect: no control
        controllers = []
    candidates = [(c, c.dynlib) for c in _numpy_first(controllers)]
    try:
        candidates.append((None, ctypes.CDLL(None)))  # symbols already loaded
    except Exception:  # no such handle here
        pass
    for controller, dynlib in candidates:
        found = _gemm_symbols(dynlib)
        if found is None:
            continue
        s, d, ilp64, dots = found
        try:
            ok = _works(s, np.float32, ilp64) and _works(d, np.float64, ilp64)
        except Exception:
            ok = False
        if not ok:
            continue
        addr = [ctypes.cast(f, ctypes.c_void_p).value for f in (s, d)]
        try:
            dots_ok = (
                None not in dots
                and _dot_works(dots[0], np.float32, ilp64)
                and _dot_works(dots[1], np.float64, ilp64)
            )
        except Exception:
            dots_ok = False
        dot_addr = (
            [ctypes.cast(f, ctypes.c_void_p).value for f in dots] if dots_ok else [0, 0]
        )
        name = (
            f"{controller.internal_api} {controller.version}"
            if controller
            else "cblas in the process"
        )
        path = controller.filepath if controller else None
        return Blas(
            name,
            path,
            addr[0],
            addr[1],
            ilp64,
            controller
            if controller is not None
            else (controllers[0] if controllers else None),
            *dot_addr,
        )
    return Blas("none found", None, 0, 0, True, controllers[0] if controllers else None)


def describe():
    """Return the :class:`Blas` the engine uses (found on first call)."""
    global _found
    if _found is None:
        with _lock:
            if _found is None:
                _found = _discover()
    return _found


def gemm(dtype):
    """Return the kernels' ``blas`` argument for `dtype`: (gemm, ilp64, dot).

    The addresses of numpy's ``cblas_?gemm`` and ``cblas_?dot``; 0 makes the
    kernels use their plain loops instead.
    """
    info = describe()
    if _fallback:
        return 0, info.ilp64, 0
    single = np.dtype(dtype) == np.float32
    return (
        (info.sgemm if single else info.dgemm),
        info.ilp64,
        (info.sdot if single else info.ddot),
    )


@contextlib.contextmanager
def use_fallback(flag=True):
    """Make the kernels use their plain-loop GEMM inside the block (for tests)."""
    global _fallback
    previous, _fallback = _fallback, bool(flag)
    try:
        yield
    finally:
        _fallback = previous


def _enter():
    global _holders, _saved_threads
    controller = describe().controller
    if controller is None:
        return
    with _lock:
        if _holders == 0:
            _saved_threads = controller.get_num_threads()
            if _saved_threads != 1:
                controller.set_num_threads(1)
        _holders += 1


def _exit():
    global _holders
    controller = describe().controller
    if controller is None:
        return
    with _lock:
        _holders -= 1
        if _holders == 0 and _saved_threads != 1:
            controller.set_num_threads(_saved_threads)


@contextlib.contextmanager
def hold():
    """Keep numpy's BLAS at one thread inside the block (re-entrant, thread-safe).

    The first of any number of concurrent holders saves the library's thread
    count and sets 1; the last one out restores the saved count.
    """
    _enter()
    try:
        yield
    finally:
        _exit()
