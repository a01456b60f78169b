"""The Dask graphs of every rank: each block runs the single-machine fastconv call.

Rank-generic: a layout names its channel axis and its spatial axes (one for
"NCL"/"NLC", two for "NCHW"/"NHWC", three for "NCDHW"/"NDHWC"), and the
whole array's call is described by a :class:`fastconv.Geometry`: an
:class:`fastconv.Axis` (size, output size, kernel, stride, dilation,
padding) per spatial axis, each split on its own. The public functions
(:mod:`fastconv.dask._ops`) check their arguments with
:func:`fastconv.conv_geometry` or :func:`fastconv.pool_geometry` (the
single-machine functions' own checks) and hand the geometry to the builders
here, with the call each block makes.

Spatial chunks read their halo from their neighbours
(:func:`dask.array.overlap.overlap`, boundary "none"; see
:mod:`fastconv.dask._halo`). The 2-D calls, and the 1-D ones (which run
the 2-D function on the 1 x L view, as :func:`fastconv.conv1d` does),
take each end's padding on its own (``(top, bottom, left, right)``) and get
the axis's padding at its ends only. The 3-D calls pad both ends of an
axis alike: their convolutions get the common part of a chunk's padding
as the call's and the rest as explicit zeros (a convolution's padding is
zeros); their poolings keep the axis's padding at every chunk and drop
the outputs it adds (``keep_padding``: the -inf of max pooling, or the
count of an average's divisor, is no value a chunk could hold). Weights
and bias enter the graph as one key each, which every task references.
"""

import operator
import os
import sys
import warnings
from typing import NamedTuple

import dask
import dask.array as da
import numpy as np
from dask.highlevelgraph import HighLevelGraph

import fastconv

from ._halo import block_rows, split_axis

__all__ = [
    "RechunkWarning",
    "LAYOUT_AXES",
    "layout_axes",
    "as_dask",
    "rechunk",
    "check_indices",
    "conv_forward",
    "pool_forward",
    "conv_backward",
    "pool_backward",
]

#: layout -> (channel axis, spatial axes)
LAYOUT_AXES = {
    "NCL": (1, (2,)),
    "NLC": (2, (1,)),
    "NCHW": (1, (2, 3)),
    "NHWC": (3, (1, 2)),
    "NCDHW": (1, (2, 3, 4)),
    "NDHWC": (4, (1, 2, 3)),
}
#: number of spatial axes -> its two layouts
RANK_LAYOUTS = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}
#: what a halo is counted in, per spatial axis (for the RechunkWarning)
_HALO_UNITS = {
    1: ("positions",),
    2: ("rows", "columns"),
    3: ("planes", "rows", "columns"),
}
#: number of spatial axes -> whether its block calls take each end's padding
#: (1-D through its 2-D view) or one per axis (3-D)
TWO_SIDED = {1: True, 2: True, 3: False}
_HERE = os.path.dirname(os.path.abspath(__file__))


class RechunkWarning(UserWarning):
    """An input was rechunked to a chunking the operation can compute."""


def layout_axes(layout, rank):
    """Return (channel axis, spatial axes) of `layout`, one of `rank`'s two layouts."""
    names = RANK_LAYOUTS[rank]
    if not isinstance(layout, str) or layout not in names:
        raise ValueError(f"layout must be {names[0]!r} or {names[1]!r}, got {layout!r}")
    return LAYOUT_AXES[layout]


def as_dask(x, name="x", ndim=4, pooled=False):
    """Check `x` as a Dask array of the API; `pooled`: a pooling's input."""
    if not isinstance(x, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must have a real (bool, integer or float) dtype, got dtype {x.dtype}"
        )
    if any(np.isnan(c) for c in x.shape):
        raise ValueError(f"{name} must have known chunk sizes (call compute_chunk_sizes)")
    if pooled and 0 in x.shape[1:]:  # as the pooling functions refuse it
        raise ValueError(
            f"{name} must have non-empty non-batch axes (channels and spatial "
            f"sizes; only the batch may be empty), got shape {tuple(x.shape)}"
        )
    return x


def _user_stacklevel():
    """Return the stacklevel of the first frame outside this package: the user's call."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == _HERE:
        frame, level = frame.f_back, level + 1
    return level


def rechunk(x, chunks, name, why):
    """`x` rechunked to `chunks` (a dict axis -> sizes), with a warning if it changes."""
    changed = {a: c for a, c in chunks.items() if tuple(c) != x.chunks[a]}
    if not changed:
        return x
    axes = ", ".join(f"axis {a}: {x.chunks[a]} -> {tuple(c)}" for a, c in changed.items())
    warnings.warn(
        f"{name} rechunked ({axes}): {why}", RechunkWarning, stacklevel=_user_stacklevel()
    )
    return x.rechunk({a: tuple(c) for a, c in changed.items()})


def _on_worker():
    """In a Dask worker process, run fastconv on one thread (the cluster's parallelism).

    A worker runs as many tasks at once as it has threads; each fastconv
    call spreading over every core as well would oversubscribe them. Only
    in a worker process of its own (started by a nanny): the setting is
    process-wide, and a worker living in the user's process (a
    ``Client(processes=False)``) must not change it for the user's calls.
    """
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return
    if getattr(worker, "nanny", None):
        fastconv.set_num_threads(1)


def _chunk_algorithm(algorithm, shapes, dtype, passes, spatial):
    """Return the algorithm each chunk forces, to compute as the whole array does.

    "auto" on a chunk's shape could choose another algorithm than on the
    whole array's, so chunks force the whole array's choice for `passes`
    (each sample's result is then the same bit for bit: measured, every
    algorithm). Where its passes differ, chunks run "im2col"; so they do
    for Winograd when the planes are split (`spatial`): its tiles would
    start elsewhere in a chunk, and its results differ by Winograd's own
    error (about 1e-5 of max|y| in float32), not by rounding. `shapes` is
    the 2-D convolution the whole array runs (1-D and 3-D run one too).
    """
    if algorithm != "auto":
        return algorithm
    plan = fastconv.plan_conv2d(dtype=dtype, **shapes)
    names = {plan.passes[p] for p in passes}
    name = names.pop()
    if names or (spatial and not all(plan.exact_when_split(p) for p in passes)):
        return "im2col"
    return name


def _key(value, name):
    """`value` (an ndarray or None) as one graph key: embedded once, not per task."""
    if value is None:
        return None
    return dask.delayed(value, pure=True, name=f"{name}-{dask.base.tokenize(value)}")


# --------------------------------------------------------------------------
# spatial chunks: the stride grid, the halos, each block's piece


def _split(chunks, axis, keep_padding):
    """Return the :class:`~fastconv.dask._halo.AxisSplit` of a :class:`fastconv.Axis`."""
    ek = (axis.kernel - 1) * axis.dilation + 1  # the dilated kernel
    return split_axis(
        chunks, axis.size, ek, axis.stride, axis.lo, axis.hi, axis.out, keep_padding
    )


def _spatial(x, axes, geom, name, keep_padding=False):
    """Return x rechunked onto the stride grid of its spatial `axes`, and their splits."""
    splits = tuple(_split(x.chunks[a], g, keep_padding) for a, g in zip(axes, geom.axes))
    strides = tuple(s.stride for s in splits)
    halo = ", ".join(
        f"{max(s.before, s.after)} {unit}"
        for s, unit in zip(splits, _HALO_UNITS[len(axes)])
    )
    x = rechunk(
        x,
        {a: s.in_chunks for a, s in zip(axes, splits)},
        name,
        f"spatial chunk boundaries moved onto the stride grid (multiples of "
        f"{strides if len(strides) > 1 else strides[0]}) and chunks kept at "
        f"least the halo ({halo})",
    )
    return x, splits


def _with_halo(x, axes, splits):
    """Return x with each chunk extended by its split's halos from its neighbours."""
    depth = {a: 0 for a in range(x.ndim)}
    # an axis of one chunk has no neighbours to read (and its halo may be
    # longer than the axis, which dask refuses)
    for a, split in zip(axes, splits):
        if len(split.in_chunks) > 1:
            depth[a] = (split.before, split.after)
    if not any(depth.values()):
        return x
    return da.overlap.overlap(x, depth=depth, boundary="none")


class _Piece(NamedTuple):
    """What a halo'd block gives its call.

    `array` is the part of the block its outputs read; `pads` the padding
    (lo, hi) per spatial axis; `origin` the global index of its first
    entry along each; `keep` the slice of the call's outputs along each
    that are the chunk's.
    """

    array: np.ndarray
    pads: tuple
    origin: tuple
    keep: tuple


def _piece(block, axes, splits, loc):
    """Return the :class:`_Piece` of the block at chunk location `loc`."""
    index = [slice(None)] * block.ndim
    pads, origin, keep = [], [], []
    for a, split in zip(axes, splits):
        j = loc[a]
        r0, r1, lo, hi, row0 = block_rows(split, j)
        index[a] = slice(r0, r1)
        pads.append((lo, hi))
        origin.append(row0)
        skip = split.skip(j)
        keep.append(slice(skip, skip + split.out_chunks[j]))
    return _Piece(block[tuple(index)], tuple(pads), tuple(origin), tuple(keep))


def _crop(out, axes, keep):
    """Return the call's outputs `out` that are the chunk's (along `axes`: `keep`)."""
    if all(k.start == 0 and k.stop == out.shape[a] for a, k in zip(axes, keep)):
        return out
    index = [slice(None)] * out.ndim
    for a, k in zip(axes, keep):
        index[a] = k
    return out[tuple(index)]


def _out_chunks(x, axes, splits, ca, channels):
    chunks = list(x.chunks)
    for a, split in zip(axes, splits):
        chunks[a] = split.out_chunks
    if channels is not None:
        chunks[ca] = (channels,)
    return tuple(chunks)


def _symmetric(piece, axes, pads):
    """Return `piece` padded with zeros so that both ends of each axis pad alike.

    For the calls that take one padding per axis (3-D): each axis's common
    part ``min(lo, hi)`` stays the call's; the rest is explicit zeros, as
    the convolution's padding is. Returns the array and the call's padding,
    one int per spatial axis.
    """
    common = tuple(min(lo, hi) for lo, hi in pads)
    if all(lo == hi for lo, hi in pads):
        return piece, common
    width = [(0, 0)] * piece.ndim
    for a, (lo, hi), p in zip(axes, pads, common):
        width[a] = (lo - p, hi - p)
    return np.pad(piece, width), common


# --------------------------------------------------------------------------
# forward passes: chunks along N and the spatial axes


def conv_forward(x, weight, bias, geom, plan, call, padding, algorithm, token):
    """Build a convolution's graph, any rank: each block ``call(piece, w, b, pad, alg)``.

    `geom` is the :class:`fastconv.Geometry` of the whole array, `plan` the
    :func:`fastconv.plan_conv2d` arguments (a dict) of the 2-D convolution
    it runs ("auto" is planned on it). 1-D and 2-D calls get `pad` as a
    pair ``(lo, hi)`` per spatial axis; 3-D ones an int per axis (the rest
    of a chunk's padding explicit zeros in the piece), or the user's
    `padding` itself where no spatial axis is split.
    """
    ca, axes = LAYOUT_AXES[geom.layout]
    C, F = geom.x_shape[ca], geom.out_shape[ca]
    x = rechunk(x, {ca: (C,)}, "x", "every output needs all input channels")
    x, splits = _spatial(x, axes, geom, "x")
    kinds = [x.dtype, weight.dtype] + ([bias.dtype] if bias is not None else [])
    out_dtype = fastconv.result_type(*kinds)
    split = any(len(s.in_chunks) > 1 for s in splits)
    algorithm = _chunk_algorithm(algorithm, plan, out_dtype, ("forward",), split)
    two_sided = TWO_SIDED[len(axes)]

    def block(xb, w, b, block_info=None):
        _on_worker()
        p = _piece(xb, axes, splits, block_info[0]["chunk-location"])
        if two_sided:
            return call(p.array, w, b, p.pads, algorithm)
        if not split:
            return call(p.array, w, b, padding, algorithm)
        piece, pad = _symmetric(p.array, axes, p.pads)
        return call(piece, w, b, pad, algorithm)

    return da.map_blocks(
        block,
        _with_halo(x, axes, splits),
        _key(weight, "weight"),
        _key(bias, "bias"),
        chunks=_out_chunks(x, axes, splits, ca, F),
        dtype=out_dtype,
        meta=np.empty((0,) * x.ndim, out_dtype),
        token=token,
    )


def pool_forward(x, geom, call, token, return_indices=None):
    """Build a pooling's graph, any rank: each block ``call(piece, pad)``.

    1-D and 2-D calls get `pad` as a pair ``(lo, hi)`` per spatial axis,
    the axis's own at its ends only; 3-D calls keep the whole axis's
    padding (`pad` is None: the call passes the user's) and the outputs it
    adds are dropped. `return_indices` (max pooling; None for average): the
    call returns ``(out, indices)``, flat in its piece, made flat in x's
    whole spatial volume (row-major over the spatial axes) here.
    """
    ca, axes = LAYOUT_AXES[geom.layout]
    two_sided = TWO_SIDED[len(axes)]
    x, splits = _spatial(x, axes, geom, "x", keep_padding=not two_sided)
    out_dtype = fastconv.result_type(x.dtype)
    sizes = tuple(x.shape[a] for a in axes)

    def block(xb, block_info=None):
        _on_worker()
        p = _piece(xb, axes, splits, block_info[0]["chunk-location"])
        res = call(p.array, p.pads if two_sided else None)
        if not return_indices:
            return _crop(res, axes, p.keep)
        out, idx = (_crop(r, axes, p.keep) for r in res)
        shape = tuple(p.array.shape[a] for a in axes)
        if any(p.origin) or shape[1:] != sizes[1:]:
            # the piece's flat indices, as indices of the whole volume
            where = np.unravel_index(idx, shape)
            idx = np.ravel_multi_index(
                tuple(w + o for w, o in zip(where, p.origin)), sizes
            ).astype(np.int64, copy=False)
        return out, idx

    halo = _with_halo(x, axes, splits)
    chunks = _out_chunks(x, axes, splits, ca, None)
    if not return_indices:
        return da.map_blocks(
            block,
            halo,
            chunks=chunks,
            dtype=out_dtype,
            meta=np.empty((0,) * x.ndim, out_dtype),
            token=token,
        )
    pairs = da.map_blocks(
        block,
        halo,
        chunks=chunks,
        dtype=object,
        meta=np.empty((0,) * x.ndim, object),
        token=f"{token}-indices",
    )
    return _item(pairs, 0, out_dtype), _item(pairs, 1, np.dtype(np.int64))


# --------------------------------------------------------------------------
# backward passes: chunks along N (data parallelism); spatial chunks merged


def _item(pairs, k, dtype):
    """Item `k` of each block of an array of tuples, as an array of `dtype`."""
    return da.map_blocks(
        operator.itemgetter(k),
        pairs,
        dtype=dtype,
        meta=np.empty((0,) * pairs.ndim, dtype),
        token=f"fastconv-item{k}",
    )


def _whole_planes(x, axes, name):
    """`x` in one chunk along the spatial `axes` (the backward passes split the batch)."""
    return rechunk(
        x,
        {a: (x.shape[a],) for a in axes},
        name,
        "the backward passes split the batch (and, for pooling, the channels), "
        "not the planes",
    )


def _check_grad_out(grad_out, out_shape):
    if grad_out.shape != out_shape:
        raise ValueError(
            f"grad_out must have the output's shape {out_shape}, "
            f"got shape {grad_out.shape}"
        )


def _partial_sums(pairs, k, shape, dtype, name):
    """Sum over the blocks of item `k` of each block's tuple: a tree reduction.

    The blocks' partial sums become the blocks of a (n_blocks, *shape)
    array, which dask's sum reduces in a tree (``split_every``), on the
    workers.
    """
    n = pairs.npartitions
    tok = dask.base.tokenize(pairs, k)
    stacked = f"{name}-partials-{tok}"
    keys = list(dask.core.flatten(pairs.__dask_keys__()))
    zeros = (0,) * len(shape)
    dsk = {
        (stacked, i) + zeros: (_expand, (operator.itemgetter(k), key))
        for i, key in enumerate(keys)
    }
    graph = HighLevelGraph.from_collections(stacked, dsk, dependencies=[pairs])
    chunks = ((1,) * n,) + tuple((s,) for s in shape)
    parts = da.Array(
        graph, stacked, chunks, meta=np.empty((0,) * (1 + len(shape)), dtype)
    )
    return parts.sum(axis=0, dtype=dtype)


def _expand(a):
    return a[None]


def conv_backward(grad_out, x, weight, geom, plan, call, algorithm, token):
    """Build a convolution's gradients over batch chunks, any rank.

    Each block ``call(gb, xb, w, alg)`` returns the single-machine
    ``(grad_x, grad_weight, grad_bias)`` of its samples; grad_weight and
    grad_bias are summed over the blocks in a tree on the workers.
    """
    _check_grad_out(grad_out, geom.out_shape)
    ca, axes = LAYOUT_AXES[geom.layout]
    C, F = geom.x_shape[ca], geom.out_shape[ca]
    x = rechunk(x, {ca: (C,)}, "x", "every output needs all input channels")
    x = _whole_planes(x, axes, "x")
    grad_out = rechunk(grad_out, {0: x.chunks[0]}, "grad_out", "to match x along (0,)")
    grad_out = rechunk(
        grad_out,
        {ca: (F,), **{a: (geom.out_shape[a],) for a in axes}},
        "grad_out",
        "one chunk along the filters and the plane",
    )
    kinds = (x.dtype, weight.dtype, grad_out.dtype)
    dtype = fastconv.result_type(*kinds)  # plan_conv2d computes as the engine
    algorithm = _chunk_algorithm(
        algorithm, plan, dtype, ("grad_x", "grad_w"), spatial=False
    )

    def block(gb, xb, w):
        _on_worker()
        return call(gb, xb, w, algorithm)

    pairs = da.map_blocks(
        block,
        grad_out,
        x,
        _key(weight, "weight"),
        chunks=x.chunks,
        dtype=object,
        meta=np.empty((0,) * x.ndim, object),
        token=token,
    )
    grad_x = _item(pairs, 0, dtype)
    grad_w = _partial_sums(pairs, 1, weight.shape, dtype, "fastconv-grad-weight")
    grad_b = _partial_sums(pairs, 2, (F,), dtype, "fastconv-grad-bias")
    return grad_x, grad_w, grad_b


def check_indices(indices, out_shape, rank):
    """Check `indices` (a Dask array, or None) as max pooling's ``return_indices``."""
    if indices is None:
        return None
    indices = as_dask(indices, "indices", len(out_shape))
    if indices.dtype.kind not in "iu":
        raise TypeError(
            f"indices must be an integer array (what max_pool{rank}d(..., "
            f"return_indices=True) returns), got dtype {indices.dtype}"
        )
    if indices.shape != out_shape:
        raise ValueError(
            f"indices must have the output's shape {out_shape}, got shape {indices.shape}"
        )
    return indices


def pool_backward(grad_out, x, geom, call, extra=None):
    """grad_x of a pooling, block by block along N and C; ``call(gb, xb, eb)``."""
    ca, axes = LAYOUT_AXES[geom.layout]
    x = _whole_planes(x, axes, "x")
    _check_grad_out(grad_out, geom.out_shape)
    chunks = {0: x.chunks[0], ca: x.chunks[ca]}
    chunks.update({a: (geom.out_shape[a],) for a in axes})
    grad_out = rechunk(grad_out, chunks, "grad_out", "to match x's blocks")
    args = [grad_out, x]
    if extra is not None:
        args.append(rechunk(extra, chunks, "indices", "to match x's blocks"))
    dtype = fastconv.result_type(x.dtype, grad_out.dtype)

    def block(gb, xb, eb=None):
        _on_worker()
        return call(gb, xb, eb)

    return da.map_blocks(
        block,
        *args,
        chunks=x.chunks,
        dtype=dtype,
        meta=np.empty((0,) * x.ndim, dtype),
        token="fastconv-pool-backward",
    )
