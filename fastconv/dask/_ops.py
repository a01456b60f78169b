"""The Dask graphs: each block runs the single-machine fastconv call.

Arguments are checked once, on the whole array's shape, by the same geometry
the numpy functions use; the blocks then call :mod:`fastconv` on clean
pieces. Spatial chunks read their halo from the next chunk
(:func:`dask.array.overlap.overlap`, boundary "none": the padding is given to
the call, at the axis's ends only; see :mod:`fastconv.dask._halo`). Weights
and bias enter the graph as one key each, which every task references.
"""

import operator
import warnings

import dask
import dask.array as da
import numpy as np
from dask.highlevelgraph import HighLevelGraph

import fastconv

from .._engine.args import as_real_array, check_pool_shape, dtype_rule
from .._engine.geometry import check_layout, conv_shapes, pool_out_shape, pool_window
from .._engine.threads import set_num_threads
from ._halo import block_rows, split_axis

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
]


class RechunkWarning(UserWarning):
    """An input was rechunked to a chunking the operation can compute."""


def _axes(layout):
    """(channel axis, H axis, W axis) of `layout`."""
    return (1, 2, 3) if layout == "NCHW" else (3, 1, 2)


def _as_dask(x, name="x", pooled=False):
    """Check `x` as a Dask array of the API; `pooled`: a pooling's input."""
    if not isinstance(x, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must be 4-D, got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must have a real (bool, integer or float) dtype, got dtype {x.dtype}"
        )
    if any(np.isnan(c) for c in x.shape):
        raise ValueError(f"{name} must have known chunk sizes (call compute_chunk_sizes)")
    if pooled:
        check_pool_shape(x.shape, name)
    return x


def _rechunk(x, chunks, name, why):
    """`x` rechunked to `chunks` (a dict axis -> sizes), with a warning if it changes."""
    changed = {a: c for a, c in chunks.items() if tuple(c) != x.chunks[a]}
    if not changed:
        return x
    axes = ", ".join(f"axis {a}: {x.chunks[a]} -> {tuple(c)}" for a, c in changed.items())
    warnings.warn(f"{name} rechunked ({axes}): {why}", RechunkWarning, stacklevel=4)
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
        set_num_threads(1)


def _chunk_algorithm(algorithm, shapes, dtype, passes, spatial):
    """Return the algorithm each chunk forces, to compute as the whole array does.

    "auto" on a chunk's shape could choose another algorithm than on the
    whole array's, so chunks force the whole array's choice for `passes`
    (each sample's result is then the same bit for bit: measured, every
    algorithm). Where its passes differ, chunks run "im2col"; so they do
    for Winograd when the planes are split (`spatial`): its tiles would
    start elsewhere in a chunk, and its results differ by Winograd's own
    error (about 1e-5 of max|y| in float32), not by rounding.
    """
    if algorithm != "auto":
        return algorithm
    plan = fastconv.plan_conv2d(
        shapes.x_shape,
        shapes.weight_shape,
        dtype,
        (shapes.win.sh, shapes.win.sw),
        (shapes.win.top, shapes.win.bottom, shapes.win.left, shapes.win.right),
        (shapes.win.dh, shapes.win.dw),
        shapes.groups,
        layout=shapes.layout,
    )
    names = {plan.passes[p] for p in passes}
    name = names.pop()
    if names or (spatial and name.startswith("winograd")):
        return "im2col"
    return name


def _key(value, name):
    """`value` (an ndarray or None) as one graph key: embedded once, not per task."""
    if value is None:
        return None
    return dask.delayed(value, pure=True, name=f"{name}-{dask.base.tokenize(value)}")


def _spatial(x, win, layout, name):
    """Return x rechunked onto the stride grid of H and W, and the two splits."""
    _, ha, wa = _axes(layout)
    ekh, ekw = (win.KH - 1) * win.dh + 1, (win.KW - 1) * win.dw + 1
    sh = split_axis(x.chunks[ha], win.H, ekh, win.sh, win.top, win.bottom, win.OH)
    sw = split_axis(x.chunks[wa], win.W, ekw, win.sw, win.left, win.right, win.OW)
    x = _rechunk(
        x,
        {ha: sh.in_chunks, wa: sw.in_chunks},
        name,
        f"spatial chunk boundaries moved onto the stride grid (multiples of "
        f"{(sh.stride, sw.stride)}) and chunks kept at least the halo "
        f"({max(sh.before, sh.after)} rows, {max(sw.before, sw.after)} columns)",
    )
    return x, sh, sw


def _with_halo(x, sh, sw, layout):
    """Return x with each chunk extended by its split's halos from its neighbours."""
    _, ha, wa = _axes(layout)
    depth = {a: 0 for a in range(4)}
    # an axis of one chunk has no neighbours to read (and its halo may be
    # longer than the axis, which dask refuses)
    for a, split in ((ha, sh), (wa, sw)):
        if len(split.in_chunks) > 1:
            depth[a] = (split.before, split.after)
    if not any(depth.values()):
        return x
    return da.overlap.overlap(x, depth=depth, boundary="none")


def _piece(block, sh, sw, layout, loc):
    """Return the part of a halo'd block its outputs read, its padding and origin."""
    _, ha, wa = _axes(layout)
    i, j = loc[ha], loc[wa]
    r0, r1, top, bottom, row0 = block_rows(sh, i)
    c0, c1, left, right, col0 = block_rows(sw, j)
    index = [slice(None)] * 4
    index[ha], index[wa] = slice(r0, r1), slice(c0, c1)
    return block[tuple(index)], (top, bottom, left, right), (row0, col0)


def _out_chunks(x, sh, sw, layout, channels):
    ca, ha, wa = _axes(layout)
    chunks = list(x.chunks)
    chunks[ha], chunks[wa] = sh.out_chunks, sw.out_chunks
    if channels is not None:
        chunks[ca] = (channels,)
    return tuple(chunks)


# --------------------------------------------------------------------------
# forward passes


def conv2d(
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCHW",
    algorithm="auto",
):
    """:func:`fastconv.conv2d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C) for "NHWC"
        Any chunking along N, H and W; chunks along C are merged (every
        output needs all input channels), and spatial chunk boundaries are
        moved onto the stride grid, each with a :class:`RechunkWarning`.
    weight : array_like of shape (F, C/groups, KH, KW), or (KH, KW, C/groups, F)
    bias : array_like of shape (F,), optional
        numpy arrays, sent to the workers once per graph.
    stride, padding, dilation, groups, layout, algorithm
        As for :func:`fastconv.conv2d`.

    Returns
    -------
    out : dask.array.Array of shape (N, F, OH, OW), or (N, OH, OW, F)
        Chunked as x along N, the output rows and columns of x's spatial
        chunks, one chunk along F. Equal to :func:`fastconv.conv2d` of the
        whole array within rounding: a chunk's GEMMs may have another width.
    """
    layout = check_layout(layout)
    x = _as_dask(x)
    weight = as_real_array(weight, "weight")
    if bias is not None:
        bias = as_real_array(bias, "bias", ndim=1)
    shapes = conv_shapes(x.shape, weight.shape, stride, padding, dilation, groups, layout)
    ca, _, _ = _axes(layout)
    x = _rechunk(x, {ca: (shapes.C,)}, "x", "every output needs all input channels")
    x, sh, sw = _spatial(x, shapes.win, layout, "x")
    kinds = [x.dtype, weight.dtype] + ([bias.dtype] if bias is not None else [])
    dtype, out_dtype = dtype_rule(np.result_type(*kinds))
    spatial = len(sh.in_chunks) > 1 or len(sw.in_chunks) > 1
    algorithm = _chunk_algorithm(algorithm, shapes, dtype, ("forward",), spatial)

    def block(xb, w, b, block_info=None):
        _on_worker()
        piece, pad, _ = _piece(xb, sh, sw, layout, block_info[0]["chunk-location"])
        return fastconv.conv2d(
            piece,
            w,
            b,
            stride,
            pad,
            dilation,
            groups,
            layout=layout,
            algorithm=algorithm,
        )

    return da.map_blocks(
        block,
        _with_halo(x, sh, sw, layout),
        _key(weight, "weight"),
        _key(bias, "bias"),
        chunks=_out_chunks(x, sh, sw, layout, shapes.F),
        dtype=out_dtype,
        meta=np.empty((0,) * 4, out_dtype),
        token="fastconv-conv2d",
    )


def _pool_window(x, kernel_size, stride, padding, dilation, ceil_mode, layout):
    _, ha, wa = _axes(layout)
    return pool_window(
        (x.shape[ha], x.shape[wa]), kernel_size, stride, padding, dilation, ceil_mode
    )


def max_pool2d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    *,
    return_indices=False,
    layout="NCHW",
):
    """:func:`fastconv.max_pool2d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C) for "NHWC"
        Any chunking along N and C; spatial chunk boundaries are moved onto
        the stride grid (with a :class:`RechunkWarning`).
    kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout
        As for :func:`fastconv.max_pool2d`.

    Returns
    -------
    out : dask.array.Array of shape (N, C, OH, OW), or (N, OH, OW, C)
    indices : dask.array.Array of int64, out's shape and chunks
        With `return_indices`: each maximum's flat index ``h*W + w`` in its
        whole input plane, as the single-machine call gives it. Both equal
        the single-machine results bit for bit.
    """
    layout = check_layout(layout)
    x = _as_dask(x, pooled=True)
    win = _pool_window(x, kernel_size, stride, padding, dilation, ceil_mode, layout)
    x, sh, sw = _spatial(x, win, layout, "x")
    out_dtype = dtype_rule(x.dtype)[1]
    _, ha, wa = _axes(layout)

    def block(xb, block_info=None):
        _on_worker()
        piece, pad, (row0, col0) = _piece(
            xb, sh, sw, layout, block_info[0]["chunk-location"]
        )
        kw = dict(ceil_mode=ceil_mode, layout=layout, return_indices=return_indices)
        res = fastconv.max_pool2d(
            piece, (win.KH, win.KW), (win.sh, win.sw), pad, (win.dh, win.dw), **kw
        )
        if not return_indices:
            return res
        out, idx = res
        if (row0, col0) != (0, 0) or piece.shape[wa] != win.W:
            # the piece's flat indices, as indices of the whole plane
            h, w = np.divmod(idx, piece.shape[wa])
            idx = (h + row0) * win.W + (w + col0)
        return out, idx

    halo = _with_halo(x, sh, sw, layout)
    chunks = _out_chunks(x, sh, sw, layout, None)
    if not return_indices:
        return da.map_blocks(
            block,
            halo,
            chunks=chunks,
            dtype=out_dtype,
            meta=np.empty((0,) * 4, out_dtype),
            token="fastconv-max-pool2d",
        )
    pairs = da.map_blocks(
        block,
        halo,
        chunks=chunks,
        dtype=object,
        meta=np.empty((0,) * 4, object),
        token="fastconv-max-pool2d-indices",
    )
    return _item(pairs, 0, out_dtype), _item(pairs, 1, np.dtype(np.int64))


def avg_pool2d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    layout="NCHW",
):
    """:func:`fastconv.avg_pool2d` of a Dask array, lazily, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C) for "NHWC"
        Chunked as for :func:`max_pool2d`.
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, layout
        As for :func:`fastconv.avg_pool2d`.

    Returns
    -------
    out : dask.array.Array of shape (N, C, OH, OW), or (N, OH, OW, C)
        Equal to the single-machine call within rounding: a window at a
        chunk's edge may be summed by another of the kernel's paths, in
        another order (tested to 1e-6 x max(1, max|ref|) in float32).
    """
    layout = check_layout(layout)
    x = _as_dask(x, pooled=True)
    win = _pool_window(x, kernel_size, stride, padding, 1, ceil_mode, layout)
    x, sh, sw = _spatial(x, win, layout, "x")
    out_dtype = dtype_rule(x.dtype)[1]

    def block(xb, block_info=None):
        _on_worker()
        piece, pad, _ = _piece(xb, sh, sw, layout, block_info[0]["chunk-location"])
        return fastconv.avg_pool2d(
            piece,
            (win.KH, win.KW),
            (win.sh, win.sw),
            pad,
            ceil_mode,
            count_include_pad,
            divisor_override,
            layout=layout,
        )

    return da.map_blocks(
        block,
        _with_halo(x, sh, sw, layout),
        chunks=_out_chunks(x, sh, sw, layout, None),
        dtype=out_dtype,
        meta=np.empty((0,) * 4, out_dtype),
        token="fastconv-avg-pool2d",
    )


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


def _whole_planes(x, layout, name):
    """`x` with one chunk along H and W (the backward passes split the batch)."""
    _, ha, wa = _axes(layout)
    return _rechunk(
        x,
        {ha: (x.shape[ha],), wa: (x.shape[wa],)},
        name,
        "the backward passes split the batch (and, for pooling, the channels), "
        "not the planes",
    )


def _like(g, x, axes, name):
    """`g` (grad_out, indices) rechunked as `x` along `axes`."""
    return _rechunk(g, {a: x.chunks[a] for a in axes}, name, f"to match x along {axes}")


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


def conv2d_backward(
    grad_out,
    x,
    weight,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCHW",
    algorithm="auto",
):
    """:func:`fastconv.conv2d_backward` over Dask arrays: data-parallel gradients.

    Parameters
    ----------
    grad_out : dask.array.Array of shape (N, F, OH, OW), or (N, OH, OW, F)
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C)
        Any chunking along N (grad_out is rechunked to x's); chunks along C,
        H and W are merged, with a :class:`RechunkWarning`.
    weight : array_like, as for :func:`fastconv.conv2d`
    stride, padding, dilation, groups, layout, algorithm
        As given to :func:`conv2d`.

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks
    grad_weight : dask.array.Array, weight's shape
    grad_bias : dask.array.Array of shape (F,)
        Sums over the batch chunks of each chunk's partial gradient, reduced
        in a tree on the workers (dask's sum), not gathered to the client.
    """
    layout = check_layout(layout)
    x = _as_dask(x)
    grad_out = _as_dask(grad_out, "grad_out")
    weight = as_real_array(weight, "weight")
    shapes = conv_shapes(x.shape, weight.shape, stride, padding, dilation, groups, layout)
    if grad_out.shape != shapes.out_shape:
        raise ValueError(
            f"grad_out must have the output's shape {shapes.out_shape}, "
            f"got shape {grad_out.shape}"
        )
    ca, ha, wa = _axes(layout)
    x = _rechunk(x, {ca: (shapes.C,)}, "x", "every output needs all input channels")
    x = _whole_planes(x, layout, "x")
    grad_out = _like(grad_out, x, (0,), "grad_out")
    grad_out = _rechunk(
        grad_out,
        {ca: (shapes.F,), ha: (shapes.win.OH,), wa: (shapes.win.OW,)},
        "grad_out",
        "one chunk along the filters and the plane",
    )
    compute, dtype = dtype_rule(np.result_type(x.dtype, weight.dtype, grad_out.dtype))
    algorithm = _chunk_algorithm(
        algorithm, shapes, compute, ("grad_x", "grad_w"), spatial=False
    )

    def block(gb, xb, w):
        _on_worker()
        return fastconv.conv2d_backward(
            gb,
            xb,
            w,
            stride,
            padding,
            dilation,
            groups,
            layout=layout,
            algorithm=algorithm,
        )

    pairs = da.map_blocks(
        block,
        grad_out,
        x,
        _key(weight, "weight"),
        chunks=x.chunks,
        dtype=object,
        meta=np.empty((0,) * 4, object),
        token="fastconv-conv2d-backward",
    )
    grad_x = _item(pairs, 0, dtype)
    grad_w = _partial_sums(pairs, 1, weight.shape, dtype, "fastconv-grad-weight")
    grad_b = _partial_sums(pairs, 2, (shapes.F,), dtype, "fastconv-grad-bias")
    return grad_x, grad_w, grad_b


def _pool_backward(grad_out, x, out_shape, layout, fn, extra=None):
    """grad_x of a pooling, block by block along N and C; `fn(gb, xb, eb)`."""
    x = _whole_planes(x, layout, "x")
    if grad_out.shape != out_shape:
        raise ValueError(
            f"grad_out must have the output's shape {out_shape}, "
            f"got shape {grad_out.shape}"
        )
    ca, ha, wa = _axes(layout)
    chunks = {
        0: x.chunks[0],
        ca: x.chunks[ca],
        ha: (out_shape[ha],),
        wa: (out_shape[wa],),
    }
    grad_out = _rechunk(grad_out, chunks, "grad_out", "to match x's blocks")
    args = [grad_out, x]
    if extra is not None:
        args.append(_rechunk(extra, chunks, "indices", "to match x's blocks"))
    dtype = dtype_rule(np.result_type(x.dtype, grad_out.dtype))[1]

    def block(gb, xb, eb=None):
        _on_worker()
        return fn(gb, xb, eb)

    return da.map_blocks(
        block,
        *args,
        chunks=x.chunks,
        dtype=dtype,
        meta=np.empty((0,) * 4, dtype),
        token="fastconv-pool-backward",
    )


def max_pool2d_backward(
    grad_out,
    x,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    *,
    layout="NCHW",
    indices=None,
):
    """:func:`fastconv.max_pool2d_backward` over Dask arrays.

    Parameters
    ----------
    grad_out : dask.array.Array, the output's shape
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C)
        Any chunking along N and C; chunks along H and W are merged (with a
        :class:`RechunkWarning`).
    kernel_size, stride, padding, dilation, ceil_mode, layout
        As given to :func:`max_pool2d`.
    indices : dask.array.Array of ints, optional
        The indices :func:`max_pool2d` returned (``return_indices=True``).

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks; bit for bit the
        single-machine result.
    """
    layout = check_layout(layout)
    x = _as_dask(x, pooled=True)
    grad_out = _as_dask(grad_out, "grad_out")
    win = _pool_window(x, kernel_size, stride, padding, dilation, ceil_mode, layout)
    out_shape = pool_out_shape(x.shape, win, layout)
    if indices is not None:
        indices = _as_dask(indices, "indices")
        if indices.dtype.kind not in "iu":
            raise TypeError(
                "indices must be an integer array (what max_pool2d(..., "
                f"return_indices=True) returns), got dtype {indices.dtype}"
            )
        if indices.shape != out_shape:
            raise ValueError(
                f"indices must have the output's shape {out_shape}, "
                f"got shape {indices.shape}"
            )
    kw = dict(ceil_mode=ceil_mode, layout=layout)

    def fn(gb, xb, eb):
        return fastconv.max_pool2d_backward(
            gb, xb, kernel_size, stride, padding, dilation, indices=eb, **kw
        )

    return _pool_backward(grad_out, x, out_shape, layout, fn, indices)


def avg_pool2d_backward(
    grad_out,
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    layout="NCHW",
):
    """:func:`fastconv.avg_pool2d_backward` over Dask arrays.

    Parameters
    ----------
    grad_out : dask.array.Array, the output's shape
    x : dask.array.Array of shape (N, C, H, W), or (N, H, W, C)
        Chunked as for :func:`max_pool2d_backward`.
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, layout
        As given to :func:`avg_pool2d`.

    Returns
    -------
    grad_x : dask.array.Array, x's shape and chunks
    """
    layout = check_layout(layout)
    x = _as_dask(x, pooled=True)
    grad_out = _as_dask(grad_out, "grad_out")
    win = _pool_window(x, kernel_size, stride, padding, 1, ceil_mode, layout)
    out_shape = pool_out_shape(x.shape, win, layout)

    def fn(gb, xb, eb):
        return fastconv.avg_pool2d_backward(
            gb,
            xb,
            kernel_size,
            stride,
            padding,
            ceil_mode,
            count_include_pad,
            divisor_override,
            layout=layout,
        )

    return _pool_backward(grad_out, x, out_shape, layout, fn)
