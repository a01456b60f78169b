"""GEMM from jitted code: numpy's own BLAS called by address, or a plain loop.

The kernels compute ``C = alpha * op(A) @ op(B) + beta * C`` on row-major
sub-matrices of flat buffers, each given as (array, element offset, leading
dimension), with no Python and no GIL in between. The engine passes the
address of numpy's ``cblas_?gemm`` (see :mod:`fastconv._engine.blas`) as an
integer argument, so the compiled kernels stay cacheable on disk; address 0
selects :func:`gemm_loops`, the slow but dependency-free fallback, used
where no CBLAS interface is found.

Row-major throughout; ``trans_a``/``trans_b`` are booleans.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["gemm", "gemm_loops", "cblas_gemm", "dot", "cblas_dot"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


@intrinsic
def cblas_gemm(
    typingctx,
    fn,
    ilp64,
    trans_a,
    trans_b,
    m,
    n,
    k,
    alpha,
    a,
    ao,
    lda,
    b,
    bo,
    ldb,
    beta,
    c,
    co,
    ldc,
):
    """Call the CBLAS ``?gemm`` at address `fn` (row-major) on array offsets.

    `ilp64` says whether the library takes 64-bit integers; enums are C ints.
    """
    if not all(isinstance(t, types.Array) for t in (a, b, c)):
        return None
    scalar = c.dtype
    sig = types.void(
        types.int64,
        types.boolean,
        types.boolean,
        types.boolean,
        types.int64,
        types.int64,
        types.int64,
        scalar,
        a,
        types.int64,
        types.int64,
        b,
        types.int64,
        types.int64,
        scalar,
        c,
        types.int64,
        types.int64,
    )

    def codegen(context, builder, signature, args):
        (
            fn_,
            ilp,
            ta,
            tb,
            m_,
            n_,
            k_,
            alpha_,
            a_,
            ao_,
            lda_,
            b_,
            bo_,
            ldb_,
            beta_,
            c_,
            co_,
            ldc_,
        ) = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        fty = context.get_value_type(scalar)
        ptr = fty.as_pointer()

        def data(aty, val, off):
            arr = context.make_array(aty)(context, builder, val)
            return builder.gep(arr.data, [off])

        pa = data(signature.args[8], a_, ao_)
        pb = data(signature.args[11], b_, bo_)
        pc = data(signature.args[15], c_, co_)

        def enum(flag):
            return builder.select(
                flag, ir.Constant(i32, _TRANS), ir.Constant(i32, _NO_TRANS)
            )

        order = ir.Constant(i32, _ROW_MAJOR)
        eta, etb = enum(ta), enum(tb)
        with builder.if_else(ilp) as (then, otherwise):
            with then:
                fnty = ir.FunctionType(
                    ir.VoidType(),
                    [
                        i32,
                        i32,
                        i32,
                        i64,
                        i64,
                        i64,
                        fty,
                        ptr,
                        i64,
                        ptr,
                        i64,
                        fty,
                        ptr,
                        i64,
                    ],
                )
                fp = builder.inttoptr(fn_, fnty.as_pointer())
                builder.call(
                    fp,
                    [
                        order,
                        eta,
                        etb,
                        m_,
                        n_,
                        k_,
                        alpha_,
                        pa,
                        lda_,
                        pb,
                        ldb_,
                        beta_,
                        pc,
                        ldc_,
                    ],
                )
            with otherwise:
                fnty = ir.FunctionType(
                    ir.VoidType(),
                    [
                        i32,
                        i32,
                        i32,
                        i32,
                        i32,
                        i32,
                        fty,
                        ptr,
                        i32,
                        ptr,
                        i32,
                        fty,
                        ptr,
                        i32,
                    ],
                )
                fp = builder.inttoptr(fn_, fnty.as_pointer())

                def t32(v):
                    return builder.trunc(v, i32)

                builder.call(
                    fp,
                    [
                        order,
                        eta,
                        etb,
                        t32(m_),
                        t32(n_),
                        t32(k_),
                        alpha_,
                        pa,
                        t32(lda_),
                        pb,
                        t32(ldb_),
                        beta_,
                        pc,
                        t32(ldc_),
                    ],
                )
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def gemm_loops(
    trans_a, trans_b, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc
):
    """Plain-loop GEMM on flat arrays, the fallback where no CBLAS is found.

    Each C entry sums over k in order; the (i, p, j) order keeps the inner
    loop contiguous along C's row when B is not transposed.
    """
    for i in range(m):
        crow = co + i * ldc
        for j in range(n):
            c[crow + j] = c[crow + j] * beta if beta != 0 else 0
        for p in range(k):
            av = a[ao + p * lda + i] if trans_a else a[ao + i * lda + p]
            av = av * alpha
            if trans_b:
                for j in range(n):
                    c[crow + j] += av * b[bo + j * ldb + p]
            else:
                brow = bo + p * ldb
                for j in range(n):
                    c[crow + j] += av * b[brow + j]


@njit(cache=True, nogil=True, inline="always")
def gemm(fn, ilp64, trans_a, trans_b, m, n, k, a, ao, lda, b, bo, ldb, beta, c, co, ldc):
    """``C[co: m x n, ldc] = op(A) @ op(B) + beta * C`` on flat C-contiguous arrays.

    `fn` is the address of numpy's ``cblas_?gemm`` for C's dtype, or 0 for
    :func:`gemm_loops`. Empty products are handled here (BLAS would reject a
    leading dimension of 0): with k = 0, C becomes beta * C.
    """
    if m <= 0 or n <= 0:
        return
    one = c.dtype.type(1.0)
    bt = c.dtype.type(beta)
    if k <= 0:
        for i in range(m):
            for j in range(n):
                c[co + i * ldc + j] = c[co + i * ldc + j] * bt if beta != 0 else 0
        return
    if fn != 0:
        cblas_gemm(
            fn,
            ilp64,
            trans_a,
            trans_b,
            m,
            n,
            k,
            one,
            a,
            ao,
            max(lda, 1),
            b,
            bo,
            max(ldb, 1),
            bt,
            c,
            co,
            max(ldc, 1),
        )
    else:
        gemm_loops(trans_a, trans_b, m, n, k, one, a, ao, lda, b, bo, ldb, bt, c, co, ldc)


# fmt: off
@intrinsic
def cblas_dot(typingctx, fn, ilp64, n, x, xo, incx, y, yo, incy):
    """Call the CBLAS ``?dot`` at address `fn` on array offsets; returns the sum."""
    if not all(isinstance(t, types.Array) for t in (x, y)):
        return None
    scalar = x.dtype
    sig = scalar(types.int64, types.boolean, types.int64, x, types.int64, types.int64, y,
                 types.int64, types.int64)

    def codegen(context, builder, signature, args):
        fn_, ilp, n_, x_, xo_, incx_, y_, yo_, incy_ = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        fty = context.get_value_type(scalar)
        ptr = fty.as_pointer()
        px = builder.gep(context.make_array(signature.args[3])(context, builder, x_).data,
                         [xo_])
        py = builder.gep(context.make_array(signature.args[6])(context, builder, y_).data,
                         [yo_])
        out = cgutils.alloca_once(builder, fty)
        with builder.if_else(ilp) as (then, otherwise):
            with then:
                fnty = ir.FunctionType(fty, [i64, ptr, i64, ptr, i64])
                fp = builder.inttoptr(fn_, fnty.as_pointer())
                builder.store(builder.call(fp, [n_, px, incx_, py, incy_]), out)
            with otherwise:
                fnty = ir.FunctionType(fty, [i32, ptr, i32, ptr, i32])
                fp = builder.inttoptr(fn_, fnty.as_pointer())
                t = [builder.trunc(v, i32) for v in (n_, incx_, incy_)]
                builder.store(builder.call(fp, [t[0], px, t[1], py, t[2]]), out)
        return builder.load(out)

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def dot(fn, ilp64, n, x, xo, incx, y, yo, incy):
    """Sum of ``x[xo + k*incx] * y[yo + k*incy]`` over k < n (flat arrays).

    `fn` is the address of numpy's ``cblas_?dot`` for x's dtype, or 0 for a
    plain loop (the reduction LLVM cannot vectorise without reassociation,
    which is why BLAS does it).
    """
    if n <= 0:
        return x.dtype.type(0)
    if fn != 0:
        return cblas_dot(fn, ilp64, n, x, xo, incx, y, yo, incy)
    s = x.dtype.type(0)
    for k in range(n):
        s += x[xo + k * incx] * y[yo + k * incy]
    return s
# fmt: on
