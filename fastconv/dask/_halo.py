"""Chunk geometry for windows over a chunked axis: the stride grid and the halos.

Pure Python (no Dask): along one spatial axis of size `size`, output ``o``'s
window reads rows ``[o*s - lo, o*s - lo + ek)`` (``ek`` the dilated kernel,
``lo`` the leading padding). Output o belongs to the chunk that holds row
``o*s``, its place on the *stride grid* (with "same" padding, the pixel it is
centred on): with every chunk boundary a multiple of s, input chunk j
``[a_j, a_{j+1})`` gives the outputs ``[a_j / s, a_{j+1} / s)`` (the last
chunk, every output left), so that output chunks are the input's divided by
the stride. Each chunk then reads ``lo`` rows of the chunk before it and
``max(0, ek - lo - s)`` of the one after: its halo.

A call that can pad each end of an axis on its own (2-D: ``(top, bottom,
left, right)``) is given the axis's padding at the axis's ends only. The
3-D functions pad both ends alike; for their pooling the split *keeps the
padding* instead: every chunk's call pads as the whole axis does, and a
chunk after the first starts ``skip = ceil(lo / s)`` strides early (its
halo is ``skip*s`` rows, not ``lo``), so that its call's first ``skip``
outputs, which read the padding, come before the chunk's own and are
dropped, as are any its trailing padding adds.
"""

from typing import NamedTuple

__all__ = ["AxisSplit", "split_axis", "block_rows"]


class AxisSplit(NamedTuple):
    """One axis's chunks on the stride grid, and what each chunk computes.

    ``in_bounds`` are the input chunk boundaries ``[0, a_1, ..., size]``,
    ``out_bounds`` the output ones ``[0, O_1, ..., n_out]`` (chunk j of the
    input gives chunk j of the output), ``before`` and ``after`` the halo
    each chunk reads from its neighbours; ``keep_padding``: every chunk's
    call pads as the whole axis does (see the module's docstring).
    """

    size: int
    ek: int
    stride: int
    lo: int
    hi: int
    in_bounds: tuple
    out_bounds: tuple
    before: int
    after: int
    keep_padding: bool = False

    @property
    def in_chunks(self):
        """Input chunk sizes."""
        return tuple(b - a for a, b in zip(self.in_bounds, self.in_bounds[1:]))

    @property
    def out_chunks(self):
        """Output chunk sizes."""
        return tuple(b - a for a, b in zip(self.out_bounds, self.out_bounds[1:]))

    def skip(self, j):
        """Return how many outputs chunk j's call gives before the chunk's own."""
        if not self.keep_padding or j == 0:
            return 0
        return -(-self.lo // self.stride)  # ceil(lo / s)


def split_axis(chunks, size, ek, stride, lo, hi, n_out, keep_padding=False):
    """Move the chunk boundaries `chunks` (sizes) of one axis onto the stride grid.

    Each interior boundary goes to the nearest multiple of the stride that
    leaves both neighbours an output at least; boundaries that collide, or
    leave a chunk shorter than a halo, are dropped (the chunks merged).
    Returns an :class:`AxisSplit`; compare its ``in_chunks`` with `chunks`
    to know whether the axis must be rechunked. With `keep_padding` every
    chunk's call pads as the whole axis does, its halo before it then
    ``ceil(lo / stride) * stride`` rows.
    """
    before = -(-lo // stride) * stride if keep_padding else lo
    after = max(0, ek - lo - stride)
    least = max(before, after, 1)
    outs = [0]
    b = 0
    for c in chunks[:-1]:
        b += c
        o = (b + stride // 2) // stride  # the nearest multiple of the stride
        if 0 < o < n_out and o * stride < size and o > outs[-1]:
            outs.append(o)
    outs.append(n_out)
    bounds = [o * stride for o in outs[:-1]] + [size]
    keep = [0]
    for j in range(1, len(bounds) - 1):
        if bounds[j] - bounds[keep[-1]] >= least:
            keep.append(j)
    while len(keep) > 1 and (
        size - bounds[keep[-1]] < least or size - bounds[keep[-1]] + hi < ek
    ):
        # the last chunk too short for a halo, or (ceil_mode's partial last
        # window) for a window of its own: merge it into the one before
        keep.pop()
    keep.append(len(bounds) - 1)
    in_bounds = tuple(bounds[j] for j in keep)
    out_bounds = tuple(outs[j] for j in keep)
    return AxisSplit(
        size, ek, stride, lo, hi, in_bounds, out_bounds, before, after, keep_padding
    )


def block_rows(split, j):
    """Return what input chunk j of `split`, with its halo, passes to the call.

    The block holds the chunk and its halo: rows from ``a_j - before``
    (``a_0 = 0`` for the first chunk, which has none) to ``a_{j+1} + after``
    (the axis's end for the last). Returns ``(r0, r1, top, bottom,
    first_row)``: the block's rows ``[r0, r1)`` that the chunk's outputs
    read, the padding to give the call on each side (the axis's own at its
    ends, none inside) and the global index of row ``r0``. The call then
    yields exactly the outputs ``[O_j, O_{j+1})``; with ``keep_padding``,
    the padding is the axis's own at every chunk, and the call's outputs
    ``[skip, skip + O_{j+1} - O_j)`` (``split.skip(j)``) are the chunk's.
    """
    a = split.in_bounds[j]
    first, last = j == 0, j == len(split.in_bounds) - 2
    origin = a if first else a - split.before  # the block's first row
    need1 = (split.out_bounds[j + 1] - 1) * split.stride - split.lo + split.ek
    end = split.size if last else need1  # the last window's end
    if split.keep_padding:
        # the call's window m starts at origin - lo + m*s: window skip(j) is
        # the chunk's first, O_j*s - lo (origin = (O_j - skip)*s after the first)
        return 0, end - origin, split.lo, split.hi, origin
    need0 = split.out_bounds[j] * split.stride - split.lo  # first window's start
    start = max(need0, 0)  # the first chunk starts in the padding
    top = split.lo if first else 0
    bottom = split.hi if last else 0
    return start - origin, end - origin, top, bottom, start
