"""Register-blocked GEMM tiles: ``C[rows, cols] (+)= sum_s A_s @ B_s`` in registers.

A *tile* multiplies ``rows x k`` matrices A_s by ``k x cols`` matrices B_s
and sums them over segments s (oneDNN's batch-reduce GEMM). Step p of a
segment loads NV vectors of B_s's row p, broadcasts ``rows`` scalars of
A_s's column p and makes ``rows*NV`` fused multiply-adds into as many
vector accumulators, which stay in registers through every step of every
segment (plain numba keeps such a tile in memory or in scalars: 9-30
GFLOP/s). Then ``C[i, j] = (C[i, j] +) acc[i, j]``. A and B are read at
offsets and strides, so a convolution's window taps feed a tile straight
from the image and the packed weight, with no column matrix.

Each element of C is its own chain of FMAs over the segments and steps in
order, whatever the tile's shape: every shape gives bitwise the same C.

Shapes, by vector width (``SHAPES``; the engine picks the host's in
:func:`fastconv._engine.cpu.vector_kind`):

- ``WIDE`` (AVX-512: 32 vector registers of 64 bytes): up to 8 rows x 2
  vectors, 16 accumulators, 2 loads and 8 broadcasts a step (float32 8 x
  32, float64 8 x 16).
- ``NARROW`` (AVX2: 16 registers of 32 bytes): up to 6 rows x 2 vectors,
  12 accumulators (float32 6 x 16, float64 6 x 8), BLIS's Haswell shape.
- ``PORTABLE``: plain loops (up to 4 x 8), for machines with neither and
  for the tests; LLVM vectorises them as it can.

A tile of fewer rows is compiled for each row count (no wasted rows at an
image's right edge), and one of fewer columns stores its last vector
under a mask (AVX-512's masked stores, AVX2's vmaskmov): nothing outside
``rows x cols`` of C is read or written. The vector tiles are LLVM vector
IR emitted by an ``@intrinsic``: one call site holds every kind and shape
behind switches on run-time values (so the kernels compile once and stay
in numba's disk cache), and the function that calls it is marked for
512-bit vectors, which LLVM would otherwise split on CPUs it tunes for
256-bit code.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "WIDE",
    "NARROW",
    "PORTABLE",
    "SHAPES",
    "shape",
    "tile",
    "portable_tile",
    "spin",
]

WIDE, NARROW, PORTABLE = 0, 1, 2

#: by kind: (vector bytes, rows MR, vectors NV); PORTABLE (0, MR, NR)
SHAPES = ((64, 8, 2), (32, 6, 2), (0, 4, 8))


@njit(cache=True, inline="always")
def shape(kind, itemsize):
    """Return (MR, NR) of a tile of `kind` for elements of `itemsize` bytes."""
    width, mr, nv = SHAPES[kind]
    if width == 0:
        return mr, nv
    return mr, nv * (width // itemsize)


class _WideVectors(ir.values.FunctionAttributes):
    """A function's attributes with 512-bit vectors preferred.

    llvmlite names only LLVM's keyword attributes; these are strings.
    Without them LLVM splits each 512-bit operation in two on CPUs whose
    tuning prefers 256-bit code (Intel's AVX-512 server cores). The
    optimiser keeps "prefer-vector-width" (checked in the tests).
    """

    def __bool__(self):
        return True  # written out even when no keyword attribute is set

    def _to_list(self, ret_type):
        return super()._to_list(ret_type) + [
            '"min-legal-vector-width"="512"',
            '"prefer-vector-width"="512"',
        ]


def _allow_wide_vectors(function):
    attrs = function.attributes
    if not isinstance(attrs, _WideVectors):
        attrs.__class__ = _WideVectors


def _loop_head(builder, entry, initial):
    """Return a loop's counter and its carried values, as phis from `entry`."""
    counter = builder.phi(ir.IntType(64))
    counter.add_incoming(ir.Constant(ir.IntType(64), 0), entry)
    carried = []
    for value in initial:
        phi = builder.phi(value.type)
        phi.add_incoming(value, entry)
        carried.append(phi)
    return counter, carried


def _vector_tile(builder, fty, itemsize, mr, nv, width, args):
    """Emit one tile of `mr` rows and `nv` vectors: its loops, then its store.

    The last vector is stored (and, adding, loaded) under the mask of the
    lanes below ``cols - (nv - 1)*lanes``.
    """
    segs, a_offs, b_offs, k, pa, rsa, csa, pb, ldb, pc, ldc, add, cols = args
    i32, i64 = ir.IntType(32), ir.IntType(64)
    lanes = width // itemsize
    vty = ir.VectorType(fty, lanes)
    suffix = f"v{lanes}{'f32' if itemsize == 4 else 'f64'}"
    mty = ir.VectorType(ir.IntType(1), lanes)
    module = builder.module
    fma = cgutils.get_or_insert_function(
        module, ir.FunctionType(vty, [vty] * 3), "llvm.fma." + suffix
    )
    masked_load = cgutils.get_or_insert_function(
        module,
        ir.FunctionType(vty, [vty.as_pointer(), i32, mty, vty]),
        f"llvm.masked.load.{suffix}.p0",
    )
    masked_store = cgutils.get_or_insert_function(
        module,
        ir.FunctionType(ir.VoidType(), [vty, vty.as_pointer(), i32, mty]),
        f"llvm.masked.store.{suffix}.p0",
    )
    zero = ir.Constant(vty, [0.0] * lanes)
    undef = ir.Constant(vty, ir.Undefined)
    splat = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)

    def const(v):
        return ir.Constant(i64, v)

    row_offsets = [builder.mul(rsa, const(i)) for i in range(mr)]  # A's rows
    entry = builder.block
    outer = builder.append_basic_block("tile.segment")
    start = builder.append_basic_block("tile.start")
    inner = builder.append_basic_block("tile.step")
    body = builder.append_basic_block("tile.body")
    next_seg = builder.append_basic_block("tile.next")
    store = builder.append_basic_block("tile.store")
    builder.branch(outer)

    # segment loop: s, and the accumulators as each segment leaves them
    builder.position_at_end(outer)
    s, seg_accs = _loop_head(builder, entry, [zero] * (mr * nv))
    builder.cbranch(builder.icmp_unsigned("<", s, segs), start, store)

    # a segment's operands: a + a_offs[s], b + b_offs[s]
    builder.position_at_end(start)
    a_seg = builder.gep(pa, [builder.load(builder.gep(a_offs, [s]))])
    b_seg = builder.gep(pb, [builder.load(builder.gep(b_offs, [s]))])
    builder.branch(inner)

    # step loop: p and the accumulators, carried in phis (registers)
    builder.position_at_end(inner)
    p, accs = _loop_head(builder, start, seg_accs)
    builder.cbranch(builder.icmp_unsigned("<", p, k), body, next_seg)

    # body: NV vector loads of B's row p, MR broadcasts of A's column p
    builder.position_at_end(body)
    b_row = builder.gep(b_seg, [builder.mul(p, ldb)])
    bv = []
    for v in range(nv):
        q = builder.bitcast(builder.gep(b_row, [const(v * lanes)]), vty.as_pointer())
        bv.append(builder.load(q, align=itemsize))
    a_col = builder.gep(a_seg, [builder.mul(p, csa)])
    new = []
    for i in range(mr):
        scalar = builder.load(builder.gep(a_col, [row_offsets[i]]))
        one = builder.insert_element(undef, scalar, ir.Constant(i32, 0))
        sv = builder.shuffle_vector(one, undef, splat)
        for v in range(nv):
            new.append(builder.call(fma, [sv, bv[v], accs[i * nv + v]]))
    p.add_incoming(builder.add(p, const(1)), builder.block)
    for acc, value in zip(accs, new):
        acc.add_incoming(value, builder.block)
    builder.branch(inner)

    builder.position_at_end(next_seg)
    s.add_incoming(builder.add(s, const(1)), next_seg)
    for seg_acc, acc in zip(seg_accs, accs):
        seg_acc.add_incoming(acc, next_seg)
    builder.branch(outer)

    # store: C's rows at i*ldc, NV vectors each, the last under its mask;
    # added to C or not
    builder.position_at_end(store)
    i64v = ir.VectorType(i64, lanes)
    left = builder.sub(cols, const((nv - 1) * lanes))  # lanes of the last vector
    left = builder.insert_element(
        ir.Constant(i64v, ir.Undefined), left, ir.Constant(i32, 0)
    )
    left = builder.shuffle_vector(left, ir.Constant(i64v, ir.Undefined), splat)
    mask = builder.icmp_unsigned("<", ir.Constant(i64v, list(range(lanes))), left)
    align = ir.Constant(i32, itemsize)
    with builder.if_else(add) as (then, otherwise):
        for adding in (then, otherwise):
            with adding:
                for i in range(mr):
                    row = builder.gep(pc, [builder.mul(ldc, const(i))])
                    for v in range(nv):
                        q = builder.gep(row, [const(v * lanes)])
                        q = builder.bitcast(q, vty.as_pointer())
                        value = seg_accs[i * nv + v]
                        if v < nv - 1:
                            if adding is then:
                                old = builder.load(q, align=itemsize)
                                value = builder.fadd(old, value)
                            builder.store(value, q, align=itemsize)
                            continue
                        if adding is then:
                            old = builder.call(masked_load, [q, align, mask, zero])
                            value = builder.fadd(old, value)
                        builder.call(masked_store, [value, q, align, mask])


@intrinsic
def tile(
    typingctx, kind, rows, cols, segs, a_offs, b_offs, k, a, ao, rsa, csa, b, bo, ldb,
    c, co, ldc, add,
):  # fmt: skip
    """One vector tile (`kind` WIDE or NARROW): ``C (+)= sum_s A_s @ B_s``.

    Segment s multiplies the ``rows x k`` matrix A_s, element (i, p) at
    ``a[ao + a_offs[s] + i*rsa + p*csa]``, by the ``k x cols`` matrix B_s,
    row p at ``b[bo + b_offs[s] + p*ldb :]``; the accumulators stay in
    registers through every segment. C's row i is ``c[co + i*ldc :][:cols]``;
    `add` True adds to C, False overwrites it. ``1 <= rows <= MR`` and
    ``1 <= cols <= NR`` (:func:`shape`); B's rows are read whole vectors
    wide (``ceil(cols / lanes)`` of them), C only at its ``rows x cols``.

    `a`, `b`, `c` are 1-D arrays of one float dtype, `a_offs` and `b_offs`
    1-D int64 arrays (non-negative); every other argument unsigned. Nothing
    is checked: every address read or written must lie in its array. Any
    kind other than WIDE and NARROW does nothing (see :func:`portable_tile`).
    """
    floats = (a, b, c)
    if not all(isinstance(t, types.Array) for t in floats + (a_offs, b_offs)):
        return None
    if len({t.dtype for t in floats}) != 1 or c.dtype not in (
        types.float32,
        types.float64,
    ):
        return None
    if a_offs.dtype != types.int64 or b_offs.dtype != types.int64:
        return None
    u64 = types.uint64
    sig = types.void(
        types.int64, u64, u64, u64, a_offs, b_offs, u64, a, u64, u64, u64, b, u64,
        u64, c, u64, u64, types.boolean,
    )  # fmt: skip

    def codegen(context, builder, signature, args):
        (kind_, rows_, cols_, segs_, ao_offs_, bo_offs_, k_, a_, ao_, rsa_, csa_, b_,
         bo_, ldb_, c_, co_, ldc_, add_) = args  # fmt: skip
        fty = context.get_value_type(signature.args[14].dtype)
        itemsize = context.get_abi_sizeof(fty)
        i64 = ir.IntType(64)

        def data(index, val, off=None):
            arr = context.make_array(signature.args[index])(context, builder, val)
            return arr.data if off is None else builder.gep(arr.data, [off])

        pa, pb, pc = data(7, a_, ao_), data(11, b_, bo_), data(14, c_, co_)
        a_offs_, b_offs_ = data(4, ao_offs_), data(5, bo_offs_)
        operands = (segs_, a_offs_, b_offs_, k_, pa, rsa_, csa_, pb, ldb_, pc, ldc_)
        _allow_wide_vectors(builder.function)
        done = builder.append_basic_block("tile.done")
        by_kind = builder.switch(kind_, done)
        for code in (WIDE, NARROW):
            width, mr, nv = SHAPES[code]
            lanes = width // itemsize
            block = builder.append_basic_block(f"tile.kind{code}")
            by_kind.add_case(ir.Constant(i64, code), block)
            builder.position_at_end(block)
            # one shape per (rows, vectors): key rows*4 + vectors
            vectors = builder.add(
                builder.udiv(
                    builder.sub(cols_, ir.Constant(i64, 1)), ir.Constant(i64, lanes)
                ),
                ir.Constant(i64, 1),
            )
            key = builder.add(builder.mul(rows_, ir.Constant(i64, 4)), vectors)
            by_shape = builder.switch(key, done)
            for r in range(1, mr + 1):
                for n in range(1, nv + 1):
                    shaped = builder.append_basic_block(f"tile.kind{code}.{r}x{n}")
                    by_shape.add_case(ir.Constant(i64, r * 4 + n), shaped)
                    builder.position_at_end(shaped)
                    _vector_tile(
                        builder, fty, itemsize, r, n, width, operands + (add_, cols_)
                    )
                    builder.branch(done)
        builder.position_at_end(done)
        return context.get_dummy_value()

    return sig, codegen


#: the PORTABLE tile's rows and columns
_PMR, _PNR = SHAPES[PORTABLE][1], SHAPES[PORTABLE][2]


@njit(cache=True, nogil=True)
def portable_tile(
    rows, cols, segs, a_offs, b_offs, k, a, ao, rsa, csa, b, bo, ldb, c, co, ldc, add
):
    """Run the PORTABLE tile, in plain loops; arguments as :func:`tile`'s."""
    acc = np.zeros(_PMR * _PNR, c.dtype)
    for s in range(segs):
        a_seg = ao + np.uint64(a_offs[s])
        b_seg = bo + np.uint64(b_offs[s])
        for p in range(k):
            a_col = a_seg + p * csa
            b_row = b_seg + p * ldb
            for i in range(rows):
                ai = a[a_col + i * rsa]
                for j in range(cols):
                    acc[i * _PNR + j] += ai * b[b_row + j]
    for i in range(rows):
        row = co + i * ldc
        for j in range(cols):
            if add:
                c[row + j] += acc[i * _PNR + j]
            else:
                c[row + j] = acc[i * _PNR + j]


@njit(cache=True, nogil=True)
def spin(kind, k, a, b, c, reps):
    """Run one packed tile of depth `k` `reps` times on the same operands.

    The operands stay in L1, so this times the FMA units alone (the
    machine's peak). `a` holds k*MR values, `b` k*NR, `c` MR*NR; each run
    adds to C, which keeps the work from being optimised away.
    """
    mr, nr = shape(kind, c.itemsize)
    u = np.uint64
    zero = np.zeros(1, np.int64)
    one, steps, o = u(1), u(k), u(0)
    mr, nr = u(mr), u(nr)
    for _ in range(reps):
        if kind == PORTABLE:
            portable_tile(
                mr, nr, one, zero, zero, steps, a, o, one, mr, b, o, nr, c, o, nr, True
            )
        else:
            tile(
                kind, mr, nr, one, zero, zero, steps, a, o, one, mr, b, o, nr, c, o, nr,
                True,
            )  # fmt: skip
