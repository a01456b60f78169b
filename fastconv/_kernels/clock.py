"""A clock for jitted code, so that the profiler can time phases inside a kernel.

The fused kernels run im2col, GEMM and col2im of a tile back to back inside
one compiled call, where Python's timers cannot reach. When the profiler is
recording, the engine passes the address of the C library's ``clock_gettime``
(and the platform's ``CLOCK_MONOTONIC``); the kernels then add each phase's
seconds to a per-piece trace array. Address 0 (not recording, or no such
function on this platform) makes :func:`now` return 0.0 at the cost of one
branch.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["now", "clock_gettime"]


@intrinsic
def clock_gettime(typingctx, fn, clock_id):
    """Seconds of ``clock_gettime(clock_id)`` through the function at address `fn`."""
    sig = types.float64(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        fn_, cid = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        spec = ir.LiteralStructType([i64, i64])  # struct timespec (LP64)
        buf = cgutils.alloca_once(builder, spec)
        fnty = ir.FunctionType(i32, [i32, spec.as_pointer()])
        fp = builder.inttoptr(fn_, fnty.as_pointer())
        builder.call(fp, [builder.trunc(cid, i32), buf])
        sec = builder.load(cgutils.gep_inbounds(builder, buf, 0, 0))
        nsec = builder.load(cgutils.gep_inbounds(builder, buf, 0, 1))
        dbl = ir.DoubleType()
        return builder.fadd(
            builder.sitofp(sec, dbl),
            builder.fmul(builder.sitofp(nsec, dbl), ir.Constant(dbl, 1e-9)),
        )

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def now(clock):
    """Seconds on the profiler's clock; `clock` is (address, clock id), or (0, 0)."""
    if clock[0] == 0:
        return 0.0
    return clock_gettime(clock[0], clock[1])
