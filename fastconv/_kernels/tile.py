"""Register-blocked GEMM tiles: ``C[MR, NR] (+)= A_panel @ B_panel`` in registers.

A *tile* multiplies an ``MR x k`` panel of A by a ``k x NR`` panel of B,
both packed (:mod:`fastconv._kernels.ugemm`): A's panel holds column p of
the tile's rows at ``a[ao + p*MR : ao + (p+1)*MR]``, B's holds row p of the
tile's columns at ``b[bo + p*NR : bo + (p+1)*NR]``. Step p loads NV
vectors of B, broadcasts MR scalars of A and makes ``MR*NV`` fused
multiply-adds into ``MR*NV`` vector accumulators that stay in registers
through the whole k loop (plain numba keeps such a tile in memory or in
scalars: 9-30 GFLOP/s). Then ``C[i, j] = (C[i, j] +) acc[i, j]``, C
row-major at ``c[co + i*ldc + j]``.

Each element of C is its own chain of FMAs over p in order, whatever the
tile's shape: every shape gives bitwise the same C.

Shapes, by vector width (``SHAPES``; the engine picks the host's in
:func:`fastconv._engine.cpu.vector_kind`):

- ``WIDE`` (AVX-512: 32 vector registers of 64 bytes): 8 rows x 2 vectors,
  16 accumulators, 2 loads and 8 broadcasts a step (float32 8 x 32,
  float64 8 x 16).
- ``NARROW`` (AVX2: 16 registers of 32 bytes): 6 rows x 2 vectors, 12
  accumulators (float32 6 x 16, float64 6 x 8), BLIS's Haswell shape.
- ``PORTABLE``: plain loops (4 x 8), for machines with neither and for
  the tests; LLVM vectorises them as it can.

The vector tiles are LLVM vector IR emitted by an ``@intrinsic``: one call
site holds both vector shapes behind a switch on `kind` (a run-time value,
so the kernels compile once and stay in numba's disk cache), and the
function that calls it is marked for 512-bit vectors, which LLVM would
otherwise split on CPUs it tunes for 256-bit code.
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
    """Emit one vector tile's loops and store at the builder's position."""
    segs, a_offs, b_offs, k, pa, rsa, csa, pb, ldb, pc, ldc, add = args
    i32, i64 = ir.IntType(32), ir.IntType(64)
    lanes = width // itemsize
    vty = ir.VectorType(fty, lanes)
    suffix = f"v{lanes}{'f32' if itemsize == 4 else 'f64'}"
    fma = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [vty] * 3), "llvm.fma." + suffix
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

    # a segment's panels: a + a_offs[s], b + b_offs[s]
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

    # store: C's rows at co + i*ldc, NV vectors each; added to C or not
    builder.position_at_end(store)
    with builder.if_else(add) as (then, otherwise):
        for adding in (then, otherwise):
            with adding:
                for i in range(mr):
                    row = builder.gep(pc, [builder.mul(ldc, const(i))])
                    for v in range(nv):
                        q = builder.gep(row, [const(v * lanes)])
                        q = builder.bitcast(q, vty.as_pointer())
                        value = seg_accs[i * nv + v]
                        if adding is then:
                            value = builder.fadd(builder.load(q, align=itemsize), value)
                        builder.store(value, q, align=itemsize)


@intrinsic
def tile(
    typingctx, kind, segs, a_offs, b_offs, k, a, ao, rsa, csa, b, bo, ldb, c, co, ldc, add
):
    """One vector tile (`kind` WIDE or NARROW): ``C (+)= sum_s A_s @ B_s``.

    A batch-reduce tile (oneDNN's brgemm): segment s multiplies the MR x k
    matrix A_s, element (i, p) at ``a[ao + a_offs[s] + i*rsa + p*csa]``, by
    the k x NR matrix B_s, row p at ``b[bo + b_offs[s] + p*ldb :][:NR]``;
    the accumulators stay in registers through every segment. C's row i is
    ``c[co + i*ldc :][:NR]``; `add` True adds to C, False overwrites it.
    A packed GEMM is one segment with ``rsa = 1, csa = MR, ldb = NR``.

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
        types.int64, u64, a_offs, b_offs, u64, a, u64, u64, u64, b, u64, u64, c,
        u64, u64, types.boolean,
    )  # fmt: skip

    def codegen(context, builder, signature, args):
        (kind_, segs_, ao_offs_, bo_offs_, k_, a_, ao_, rsa_, csa_, b_, bo_, ldb_,
         c_, co_, ldc_, add_) = args  # fmt: skip
        fty = context.get_value_type(signature.args[12].dtype)
        itemsize = context.get_abi_sizeof(fty)

        def data(index, val, off=None):
            arr = context.make_array(signature.args[index])(context, builder, val)
            return arr.data if off is None else builder.gep(arr.data, [off])

        pa, pb, pc = data(5, a_, ao_), data(9, b_, bo_), data(12, c_, co_)
        a_offs_, b_offs_ = data(2, ao_offs_), data(3, bo_offs_)
        _allow_wide_vectors(builder.function)
        done = builder.append_basic_block("tile.done")
        switch = builder.switch(kind_, done)
        for code in (WIDE, NARROW):
            width, mr, nv = SHAPES[code]
            block = builder.append_basic_block(f"tile.kind{code}")
            switch.add_case(ir.Constant(ir.IntType(64), code), block)
            builder.position_at_end(block)
            operands = (segs_, a_offs_, b_offs_, k_, pa, rsa_, csa_, pb, ldb_, pc)
            _vector_tile(builder, fty, itemsize, mr, nv, width, operands + (ldc_, add_))
            builder.branch(done)
        builder.position_at_end(done)
        return context.get_dummy_value()

    return sig, codegen


#: the PORTABLE tile's rows and columns
_PMR, _PNR = SHAPES[PORTABLE][1], SHAPES[PORTABLE][2]


@njit(cache=True, nogil=True)
def portable_tile(segs, a_offs, b_offs, k, a, ao, rsa, csa, b, bo, ldb, c, co, ldc, add):
    """Run the PORTABLE tile, in plain loops; arguments as :func:`tile`'s."""
    acc = np.zeros(_PMR * _PNR, c.dtype)
    for s in range(segs):
        a_seg = ao + np.uint64(a_offs[s])
        b_seg = bo + np.uint64(b_offs[s])
        for p in range(k):
            a_col = a_seg + p * csa
            b_row = b_seg + p * ldb
            for i in range(_PMR):
                ai = a[a_col + i * rsa]
                for j in range(_PNR):
                    acc[i * _PNR + j] += ai * b[b_row + j]
    for i in range(_PMR):
        row = co + i * ldc
        for j in range(_PNR):
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
            portable_tile(one, zero, zero, steps, a, o, one, mr, b, o, nr, c, o, nr, True)
        else:
            tile(kind, one, zero, zero, steps, a, o, one, mr, b, o, nr, c, o, nr, True)
